"""What a test needs of the installed libraries. On a matrix row that lacks it the test is skipped,
and the skip names the feature, the version that has it and the version installed (docs/compatibility.md
lists the skips per row). Versions found by reading each google-genai release's source."""

from __future__ import annotations

import re
from importlib.metadata import version

import pytest


def _parse(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def needs(distribution: str, minimum: str, feature: str) -> pytest.MarkDecorator:
    installed = version(distribution)
    return pytest.mark.skipif(_parse(installed) < _parse(minimum),
                              reason=f"needs {distribution} >= {minimum} ({feature}); {installed} is installed")


GENAI_EMBEDDINGS = needs("google-genai", "1.34", "batches.create_embeddings")
GENAI_RUNNING_STATE = needs("google-genai", "1.39", "maps the API's RUNNING and EXPIRED batch states")
GENAI_INLINE_METADATA = needs("google-genai", "1.43", "metadata on inlined requests and responses")
GENAI_DOWNLOAD_TO_FILE = needs("google-genai", "2.21", "files.download(destination=...)")



def _fab_installed() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("wtforms", "flask_appbuilder"))


_AIRFLOW = version("apache-airflow")
# Airflow 3.2+ builds the connection form from the provider info. Before, its ProvidersManager asks the
# hook only after importing wtforms (no wtforms: no form customisation for any provider); 3.1's API
# server substitutes stand-ins for the missing modules, 3.0's does not.
AIRFLOW_FORM_IN_PROVIDERS_MANAGER = pytest.mark.skipif(
    _parse(_AIRFLOW) < (3, 2) and not _fab_installed(),
    reason=f"needs apache-airflow >= 3.2, or wtforms and flask-appbuilder installed (connection-form metadata "
           f"in ProvidersManager); {_AIRFLOW} without them is installed")
AIRFLOW_FORM_IN_API_SERVER = pytest.mark.skipif(
    _parse(_AIRFLOW) < (3, 1) and not _fab_installed(),
    reason=f"needs apache-airflow >= 3.1, or wtforms and flask-appbuilder installed (3.0's API server builds the "
           f"connection form only with them); {_AIRFLOW} without them is installed")
