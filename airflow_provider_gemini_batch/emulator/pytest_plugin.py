"""pytest fixture `gemini_emulator`: a fresh emulator on a free port for each test session.

Opt-in, so it never loads into a user's pytest uninvited: add to your conftest.py
``pytest_plugins = ["airflow_provider_gemini_batch.emulator.pytest_plugin"]``.
"""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def gemini_emulator(tmp_path_factory):
    from .server import EmulatorProcess

    state = tmp_path_factory.mktemp("gemini-emulator")
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    with EmulatorProcess(log_path=str(state / "emulator.log"), state_dir=str(state / "state"),
                         pending_seconds=0.2, running_seconds=0.5) as emulator:
        yield emulator
