import pytest
from airflow.sdk import Connection

from airflow_provider_gemini_batch.core.settings import resolve_settings
from airflow_provider_gemini_batch.exceptions import GeminiConnectionError

KEY = "sentinel-KEY-settings-0001"


def test_connection_fields_and_extras():
    conn = Connection(conn_id="g", conn_type="gemini", host="http://127.0.0.1:9", password=KEY,
                      extra='{"api_version": "v1", "timeout_seconds": 5, "max_retries": 2}')
    s = resolve_settings(conn, "g", {})
    assert (s.base_url, s.api_version, s.timeout_seconds, s.max_retries) == ("http://127.0.0.1:9", "v1", 5.0, 2)
    assert KEY not in repr(s) and KEY not in str(s)


def test_defaults_and_host_without_scheme():
    s = resolve_settings(Connection(conn_id="g", conn_type="gemini", password=KEY), "g", {})
    assert s.base_url == "https://generativelanguage.googleapis.com" and s.api_version == "v1beta"
    s = resolve_settings(Connection(conn_id="g", conn_type="gemini", host="proxy.local", port=8443, password=KEY), "g", {})
    assert s.base_url == "https://proxy.local:8443"


def test_env_key_only_when_connection_absent():
    s = resolve_settings(None, "gemini_default", {"GEMINI_API_KEY": KEY})
    assert s.api_key == KEY and s.key_source == "environment variable GEMINI_API_KEY"
    with pytest.raises(GeminiConnectionError, match="'g' has no API key"):
        resolve_settings(Connection(conn_id="g", conn_type="gemini", password=""), "g", {"GEMINI_API_KEY": KEY})


def test_missing_connection_and_no_env_names_the_connection():
    with pytest.raises(GeminiConnectionError, match="'my_gemini' is not defined"):
        resolve_settings(None, "my_gemini", {})
