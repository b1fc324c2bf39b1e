"""Moved to `airflow_provider_gemini_batch.integrations.common_ai`; the old import path stays an alias of it.

The alias is the module itself (not a copy of its names), so private names and monkeypatching behave the
same through either path."""

import sys

from .integrations import common_ai as _moved

sys.modules[__name__] = _moved
