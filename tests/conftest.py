"""Shared fixtures. Airflow reads its configuration at import time, so the environment is set here,
before anything imports airflow: a throwaway AIRFLOW_HOME, a dags folder holding the example DAGs
and the test scenario DAGs, no example DAGs, and loopback never going through a proxy."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_HOME = Path(tempfile.mkdtemp(prefix="gemini-batch-tests-"))
DAGS_FOLDER = _HOME / "dags"
shutil.copytree(ROOT / "example_dags", DAGS_FOLDER, ignore=shutil.ignore_patterns("__pycache__"))
for dag_file in (ROOT / "tests" / "dags").glob("*.py"):
    shutil.copy(dag_file, DAGS_FOLDER / dag_file.name)

sys.path.insert(0, str(DAGS_FOLDER))  # as Airflow does when it parses the dags folder
os.environ["AIRFLOW_HOME"] = str(_HOME / "airflow_home")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] = "True"  # the in-process API server test
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS_FOLDER)
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "AIRFLOW_CONN_GEMINI_DEFAULT",
             "AIRFLOW__GEMINI_BATCH__DEFAULT_DEFERRABLE", "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE"):
    os.environ.pop(name, None)

from airflow_provider_gemini_batch.emulator import EmulatorProcess  # noqa: E402

# The user-facing fixture `gemini_emulator` is opt-in; our suite opts in as a user would.
pytest_plugins = ["airflow_provider_gemini_batch.emulator.pytest_plugin"]

FAST = {"pending_seconds": 0.3, "running_seconds": 0.6}
SENTINEL_KEY = "sentinel-KEY-4f7c104b5f0b7309"


@pytest.fixture(scope="session")
def emulator(tmp_path_factory):
    """One emulator process for the session; tests get it reset through `emu`."""
    state = tmp_path_factory.mktemp("emulator")
    with EmulatorProcess(log_path=str(state / "emulator.log"), state_dir=str(state / "state"), **FAST) as proc:
        proc.log_file = state / "emulator.log"
        yield proc


@pytest.fixture
def emu(emulator):
    emulator.reset()
    emulator.configure(rate_429=0, rate_500=0, rate_503=0, rate_drop=0, latency_ms=0,
                       object_error_details=False, **FAST)
    return emulator


@pytest.fixture
def sdk(emu):
    from google import genai
    from google.genai import types

    return genai.Client(api_key=SENTINEL_KEY,
                        http_options=types.HttpOptions(base_url=emu.base_url, api_version="v1beta"))


@pytest.fixture
def gemini_conn(emu, monkeypatch):
    """The default connection, pointing at the emulator, with retries fast enough for tests."""
    monkeypatch.setenv("AIRFLOW_CONN_GEMINI_DEFAULT", json.dumps({
        "conn_type": "gemini", "host": emu.base_url, "password": SENTINEL_KEY,
        "extra": {"retry_max_wait_seconds": 0.2, "max_retries": 4, "timeout_seconds": 10}}))
    return emu


SDK_DONE_STATES = {"JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED"}


def wait_for_sdk_job(sdk, name: str, timeout: float = 20, interval: float = 0.1):
    """Poll a job through the real google-genai SDK until it is terminal; fail the test at `timeout`."""
    import time

    deadline = time.time() + timeout
    while time.time() < deadline:
        job = sdk.batches.get(name=name)
        if job.state.name in SDK_DONE_STATES:
            return job
        time.sleep(interval)
    raise AssertionError(f"{name} did not finish")


@contextmanager
def proxied_connection(emu, monkeypatch, max_retries: int = 3, retry_max_wait_seconds: float = 0.1):
    """The default connection goes through a fault proxy (tests/fault_proxy.py) in front of the emulator."""
    from tests.fault_proxy import FaultProxy

    with FaultProxy(emu.base_url) as proxy:
        monkeypatch.setenv("AIRFLOW_CONN_GEMINI_DEFAULT", json.dumps({
            "conn_type": "gemini", "host": proxy.base_url, "password": SENTINEL_KEY,
            "extra": {"retry_max_wait_seconds": retry_max_wait_seconds, "max_retries": max_retries,
                      "timeout_seconds": 10}}))
        yield proxy


@pytest.fixture(scope="session")
def airflow_db():
    """A migrated SQLite metadata DB for dag.test() runs."""
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True,
                   env=dict(os.environ))
    return os.environ["AIRFLOW_HOME"]


def pytest_collection_modifyitems(config, items):
    """Under xdist the e2e group (one worker, a few minutes of real scheduler runs) is the longest
    chain: hand it out first so the other workers fill in around it. A stable sort: nothing else moves."""
    items.sort(key=lambda item: item.get_closest_marker("xdist_group") is None)


class _LoadGroupGuard:
    """xdist groups a test by suffixing its nodeid with "@<group>" on the worker. pytest 9.2 made that
    suffix silently not take effect (pytest-dev/pytest-xdist#1386): the e2e modules were spread over
    workers and raced each other for PostgreSQL and Airflow's log-server ports, which failed CI once.
    The controller sees every worker's collected ids, so it stops the run before a test starts."""

    def pytest_xdist_node_collection_finished(self, node, ids):
        if node.config.getvalue("dist") != "loadgroup":
            return
        ungrouped = [nodeid for nodeid in ids if nodeid.startswith("tests/e2e/") and "@" not in nodeid]
        if ungrouped:
            raise pytest.UsageError(
                f"--dist loadgroup did not group the e2e tests (e.g. {ungrouped[0]}): this pytest and pytest-xdist "
                "drop the group suffix (pytest-dev/pytest-xdist#1386); install the versions in constraints.txt")


def pytest_configure(config):
    # The hook exists only where xdist is installed (not in the compatibility matrix's venvs).
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_LoadGroupGuard(), "gemini-batch-loadgroup-guard")
