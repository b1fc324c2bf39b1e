"""Moved to `airflow_provider_gemini_batch.core.requests`; the old import path stays an alias of it.

The alias is the module itself (not a copy of its names), so private names and monkeypatching behave the
same through either path."""

import sys

from .core import requests as _moved

sys.modules[__name__] = _moved
