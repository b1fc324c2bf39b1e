"""The version shims in compat.py, run against whichever Airflow the venv has (every matrix row runs these)."""

from __future__ import annotations

import io
import json
import sys

import pytest

from airflow_provider_gemini_batch import compat
from airflow_provider_gemini_batch.get_provider_info import get_provider_info


class ReadlineOnly:
    """What Airflow 3.0's object-storage handles offer: readline(), no iteration."""

    def __init__(self, data: bytes):
        self._buf = io.BytesIO(data)

    def readline(self) -> bytes:
        return self._buf.readline()


def test_read_lines_needs_only_readline_and_keeps_every_line():
    handle = ReadlineOnly(b'{"a": 1}\n\n{"b": 2}\nlast-without-newline')
    with pytest.raises(TypeError):
        iter(handle)  # the premise: such a handle cannot be iterated
    assert list(compat.read_lines(handle)) == [b'{"a": 1}\n', b"\n", b'{"b": 2}\n', b"last-without-newline"]
    assert list(compat.read_lines(ReadlineOnly(b""))) == []


def test_a_missing_connection_raises_what_we_catch(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_GEMINI_NOT_THERE", raising=False)
    with pytest.raises(compat.CONNECTION_NOT_FOUND) as caught:
        compat.BaseHook.get_connection("gemini_not_there")
    assert "gemini_not_there" in str(caught.value)


async def test_async_lookup_finds_and_misses_like_the_sync_one(monkeypatch):
    """On 3.0 (no aget_connection) this goes through sync_to_async; from 3.1 through aget_connection."""
    monkeypatch.setenv("AIRFLOW_CONN_GEMINI_COMPAT", json.dumps({"conn_type": "gemini", "host": "http://127.0.0.1:9",
                                                                 "password": "k-123"}))
    conn = await compat.aget_connection(compat.BaseHook, "gemini_compat")
    assert (conn.conn_type, conn.host, conn.password) == ("gemini", "http://127.0.0.1:9", "k-123")
    with pytest.raises(compat.CONNECTION_NOT_FOUND):
        await compat.aget_connection(compat.BaseHook, "gemini_compat_missing")


def test_the_hook_form_methods_say_what_the_provider_info_says(monkeypatch):
    from unittest.mock import MagicMock

    from airflow_provider_gemini_batch.hooks.gemini_batch import GeminiBatchHook

    # Airflow's API server leaves MagicMock stand-ins for missing form libraries in sys.modules
    # (3.1+); this test is about the real ones or none.
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] in ("wtforms", "flask_appbuilder", "flask_babel") and isinstance(module, MagicMock):
            monkeypatch.delitem(sys.modules, name)

    info = next(c for c in get_provider_info()["connection-types"] if c["connection-type"] == "gemini")
    behaviour = GeminiBatchHook.get_ui_field_behaviour()
    assert behaviour["hidden_fields"] == info["ui-field-behaviour"]["hidden-fields"]
    assert behaviour["relabeling"] == {"host": "Base URL (optional)", "password": "API key"}
    widgets = GeminiBatchHook.get_connection_form_widgets()
    try:
        import flask_appbuilder  # noqa: F401
        import wtforms  # noqa: F401
    except ImportError:
        assert widgets == {}  # nothing to build them with: Airflow still reads the behaviour
    else:
        assert set(widgets) == set(info["conn-fields"])
        assert widgets["max_retries"].kwargs["default"] == 5


def test_decorator_machinery_resolves_on_this_airflow():
    assert compat.SET_DURING_EXECUTION is not None
    assert callable(compat.task_decorator_factory) and callable(compat.determine_kwargs)
    assert callable(compat.context_merge) and isinstance(compat.DecoratedOperator, type)
    # and an unknown name fails with the supported-range hint, not a bare AttributeError
    with pytest.raises(ImportError, match="not supported by airflow-provider-gemini-batch"):
        compat._first("NoSuchThing", "airflow.sdk")
