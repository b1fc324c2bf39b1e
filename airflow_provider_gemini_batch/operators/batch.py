"""The operators' old home, kept so every existing import keeps working.

The submit operators live in `operators.submit` (their input preparation in `operators.submit_input`),
the housekeeping ones in `operators.housekeeping`, what both use in `operators.common`, and the
submission ledger (display names, the state-store record, reattach / resubmit decisions) in
`core.submission_ledger`.
"""

from __future__ import annotations

from ..core.submission_ledger import (  # noqa: F401
    DISPLAY_NAME_LIMIT,
    STORE_KEY,
    base_display_name,
    display_name_for,
    parse_display_name,
)
from .common import CLEANUP_CHOICES, _cleanup_set, _seconds, poll_until_done  # noqa: F401
from .housekeeping import (  # noqa: F401
    GeminiBatchCancelOperator,
    GeminiBatchDeleteOperator,
    GeminiBatchGetResultsOperator,
    GeminiBatchListJobsOperator,
)
from .submit import (  # noqa: F401
    DEFAULT_SUBMIT_TIMEOUT,
    DEFAULT_TIMEOUT,
    INPUT_MODES,
    QUOTA_RETRY_INITIAL,
    QUOTA_RETRY_MAX,
    GeminiBatchEmbedOperator,
    GeminiBatchSubmitOperator,
    _default_deferrable,
    _QuotaRefused,
    _run_started,
    _store_get,
    _store_set,
)
from .submit_input import _PreparedInput  # noqa: F401

__all__ = [
    "GeminiBatchSubmitOperator", "GeminiBatchEmbedOperator", "GeminiBatchGetResultsOperator",
    "GeminiBatchCancelOperator", "GeminiBatchDeleteOperator", "GeminiBatchListJobsOperator",
]
