"""Browser tests of the Airflow UI: run by `make test-ui` (scripts/test-ui.sh), never by `make test`.

Starts the emulator and `airflow standalone` (API server, scheduler, triggerer, DAG processor) in a
throwaway AIRFLOW_HOME, each in its own process group, and stops them by process group at the end.
Chromium is Debian's /usr/bin/chromium driven by Playwright; screenshots go to GEMINI_BATCH_UI_ARTEFACTS.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

if not os.environ.get("GEMINI_BATCH_UI_TESTS"):
    # Browsers and a whole Airflow are too much for `make test`; `make test-ui` sets this.
    collect_ignore_glob = ["test_*.py"]

HERE = Path(__file__).resolve().parent
CHROMIUM = os.environ.get("GEMINI_BATCH_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]
UI_KEY = "ui-test-key-not-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_group(proc: subprocess.Popen, grace: float = 20.0) -> None:
    """SIGTERM to the whole process group (standalone's children too), SIGKILL what outlives the grace."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def artefacts() -> Path:
    path = Path(os.environ.get("GEMINI_BATCH_UI_ARTEFACTS", HERE.parent.parent / "ui-artefacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def ui_emulator(tmp_path_factory):
    """Jobs stay PENDING until a test moves them on (force_state), so a task stays deferred."""
    from airflow_provider_gemini_batch.emulator import EmulatorProcess

    state = tmp_path_factory.mktemp("ui-emulator")
    with EmulatorProcess(log_path=str(state / "emulator.log"), state_dir=str(state / "state"),
                         pending_seconds=3600, running_seconds=1) as proc:
        yield proc


@pytest.fixture(scope="session")
def airflow_ui(tmp_path_factory, ui_emulator, artefacts):
    import httpx

    home = tmp_path_factory.mktemp("ui-airflow-home")
    dags = home / "dags"
    shutil.copytree(HERE / "dags", dags, ignore=shutil.ignore_patterns("__pycache__"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "5",
        "AIRFLOW_CONN_GEMINI_DEFAULT": json.dumps({"conn_type": "gemini", "host": ui_emulator.base_url,
                                                   "password": UI_KEY}),
        "GB_UI_RESULTS_DIR": str(home / "results"),
        # standalone starts its components as `airflow ...`: the venv's airflow must come first
        "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
        "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
    })
    log = open(artefacts / "airflow-standalone.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "airflow", "standalone"], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True, cwd=home)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 300  # a cold start on a busy 2-core machine takes a while
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"airflow standalone exited ({proc.returncode}); see {log.name}")
            try:
                if httpx.get(f"{base}/api/v2/dags/gb_ui_deferred", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline:
                raise RuntimeError(f"airflow standalone did not serve the test DAG within 300 s; see {log.name}")
            time.sleep(2)
        yield {"base": base, "home": home, "emulator": ui_emulator}
    finally:
        stop_group(proc)
        log.close()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        yield page
    finally:
        context.close()
