"""End to end with a real scheduler, dag-processor, api-server and triggerer on PostgreSQL.

Proves what dag.test() cannot: the task really sits in `deferred` (no worker slot) while the job
runs, a triggerer restart neither loses the wait nor moves its deadline, and a worker SIGKILLed
right after the create call is followed by a retry that reattaches: the emulator sees one job.
"""

from __future__ import annotations

import json
import shutil
import signal
import time
from pathlib import Path

import psutil
import pytest

from airflow_provider_gemini_batch.emulator import EmulatorProcess
from tests.conftest import SENTINEL_KEY

from .cluster import AirflowCluster, ensure_postgres

pytestmark = pytest.mark.e2e
HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    ensure_postgres()
    root = tmp_path_factory.mktemp("e2e")
    dags = root / "dags"
    dags.mkdir()
    shutil.copy(HERE / "dags_e2e.py", dags / "dags_e2e.py")
    emulator = EmulatorProcess(log_path=str(root / "emulator.log"), state_dir=str(root / "emulator"),
                               pending_seconds=2, running_seconds=12).start()
    conn = {"conn_type": "gemini", "host": emulator.base_url, "password": SENTINEL_KEY,
            "extra": {"retry_max_wait_seconds": 1}}
    cluster = AirflowCluster(root / "airflow_home", dags, {"AIRFLOW_CONN_GEMINI_DEFAULT": json.dumps(conn)})
    try:
        cluster.airflow("db", "migrate")
        cluster.start()
        cluster.wait_for("the DAGs to be parsed", lambda: len(cluster.query(
            "SELECT dag_id FROM dag WHERE dag_id IN ('e2e_deferred', 'e2e_crash')")) == 2, timeout=180)
        yield cluster, emulator
        # Whatever happened above, the key must not have reached any log or the emulator's access log.
        assert SENTINEL_KEY not in cluster.log_text()
        assert SENTINEL_KEY not in Path(root / "emulator.log").read_text()
    finally:
        cluster.close()
        emulator.stop()


def jobs_of(emulator, dag_id):
    return [j for j in emulator.stats()["jobs"] if dag_id in j["displayName"]]


def deadline_of(kwargs_text: str) -> float:
    kwargs = json.loads(kwargs_text) if isinstance(kwargs_text, str) else kwargs_text
    found = json.dumps(kwargs)
    assert SENTINEL_KEY not in found
    # kwargs are serialised by Airflow's serde: find the deadline value wherever it sits
    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "deadline" and isinstance(v, (int, float)):
                    return v
                if (r := walk(v)) is not None:
                    return r
        if isinstance(node, list):
            for v in node:
                if (r := walk(v)) is not None:
                    return r
        return None
    value = walk(kwargs)
    assert value is not None, found
    return value


def test_deferred_without_a_worker_slot_and_survives_a_triggerer_restart(deployment):
    cluster, emulator = deployment
    cluster.airflow("dags", "trigger", "e2e_deferred")
    cluster.wait_for("the task to defer", lambda: (cluster.ti("e2e_deferred", "submit") or [None])[0] == "deferred")
    before = deadline_of(cluster.wait_for("its trigger", lambda: cluster.trigger_kwargs("e2e_deferred", "submit")))
    # No worker slot held: no task process is left under the scheduler's executor while the job runs.
    cluster.wait_for("the worker slot to be released", lambda: not _task_processes(cluster), timeout=30)
    assert cluster.ti("e2e_deferred", "submit")[0] == "deferred"

    cluster.stop("triggerer")
    time.sleep(2)
    assert cluster.ti("e2e_deferred", "submit")[0] == "deferred"
    cluster.start("triggerer")
    after = deadline_of(cluster.trigger_kwargs("e2e_deferred", "submit"))
    assert after == before

    cluster.wait_for("the run to succeed", lambda: cluster.dag_run_state("e2e_deferred") in ("success", "failed"),
                     timeout=180)
    assert cluster.dag_run_state("e2e_deferred") == "success"
    assert len(jobs_of(emulator, "e2e_deferred")) == 1
    xcom = cluster.query("SELECT value FROM xcom WHERE dag_id='e2e_deferred' AND task_id='submit' "
                         "AND key='return_value'")[0][0]
    text = json.dumps(xcom)
    assert "JOB_STATE_SUCCEEDED" in text and SENTINEL_KEY not in text and len(text) < 4000


def _task_processes(cluster):
    scheduler = psutil.Process(cluster.procs["scheduler"].pid)
    # scheduler -> LocalExecutor workers -> task supervisor -> task: the last two are "the worker" running it
    return [p for worker in scheduler.children() for p in worker.children(recursive=True)]


def test_worker_killed_right_after_create_is_reattached_not_resubmitted(deployment):
    cluster, emulator = deployment
    emulator.configure(stall_seconds=30)
    emulator.script_faults("batches.create", "stall_after")  # created at once, reply held back 30 s
    cluster.airflow("dags", "trigger", "e2e_crash")
    cluster.wait_for("the job to be created", lambda: jobs_of(emulator, "e2e_crash"))
    victims = cluster.wait_for("the task's processes", lambda: _task_processes(cluster))
    for proc in victims:
        proc.send_signal(signal.SIGKILL)

    cluster.wait_for("the retry to finish", lambda: cluster.dag_run_state("e2e_crash") in ("success", "failed"),
                     timeout=240)
    state, try_number, _ = cluster.ti("e2e_crash", "submit")
    assert cluster.dag_run_state("e2e_crash") == "success" and state == "success"
    assert try_number >= 2
    assert len(jobs_of(emulator, "e2e_crash")) == 1
    assert "Reattaching to" in cluster.log_text()
