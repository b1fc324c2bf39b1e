"""The operator extra link on the task page: "Gemini batch results", to where the results were written.

Airflow 3 calls get_link when the task ends and keeps the link in XCom; the API server never imports
this module. The results location is the one stable target there is: the Gemini API has no public
page per batch job. Pure URL building (results_url) is kept apart from the Airflow class.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from airflow.sdk import BaseOperatorLink


def results_url(results_path: Any) -> str:
    """A browser URL for a results location: the cloud console for gs:// and s3://, file:// for a local
    path, the URL itself for http(s); empty (no link) when there is none or the scheme has no viewer."""
    if not results_path:
        return ""
    text = str(results_path)
    scheme, sep, rest = text.partition("://")
    if not sep:
        return "file://" + quote(text if text.startswith("/") else "/" + text)
    bucket, _, key = rest.partition("/")
    if scheme in ("gs", "gcs"):
        return f"https://console.cloud.google.com/storage/browser/_details/{quote(bucket)}/{quote(key)}"
    if scheme in ("s3", "s3a"):
        return f"https://s3.console.aws.amazon.com/s3/object/{quote(bucket)}?prefix={quote(key)}"
    if scheme in ("http", "https", "file"):
        return text
    return ""


class GeminiBatchResultsLink(BaseOperatorLink):
    """Where the submit operator streamed its per-request results (``results_path``, rendered)."""

    name = "Gemini batch results"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        return results_url(getattr(operator, "results_path", None))
