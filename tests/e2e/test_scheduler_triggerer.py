"""End to end with a real scheduler, dag-processor, api-server and triggerer on PostgreSQL.

Proves what dag.test() cannot: the task really sits in `deferred` (no worker slot) while the job
runs, a triggerer restart neither loses the wait nor moves its deadline, and a worker SIGKILLed
right after the create call is followed by a retry that reattaches: the emulator sees one job.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from airflow_provider_gemini_batch.emulator import EmulatorProcess
from tests.conftest import SENTINEL_KEY

from .cluster import AirflowCluster, ensure_postgres

# One PostgreSQL cluster and Airflow's fixed log-server ports: e2e modules run one after another,
# on one xdist worker, while the rest of the suite spreads over the others.
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]
HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    ensure_postgres()
    root = tmp_path_factory.mktemp("e2e")
    dags = root / "dags"
    shutil.copytree(HERE.parent.parent / "example_dags", dags, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(HERE / "dags_e2e.py", dags / "dags_e2e.py")
    emulator = EmulatorProcess(log_path=str(root / "emulator.log"), state_dir=str(root / "emulator"),
                               pending_seconds=2, running_seconds=12).start()
    conn = {"conn_type": "gemini", "host": emulator.base_url, "password": SENTINEL_KEY,
            "extra": {"retry_max_wait_seconds": 1}}
    cluster = AirflowCluster(root / "airflow_home", dags, {
        "AIRFLOW_CONN_GEMINI_DEFAULT": json.dumps(conn), "GEMINI_BATCH_POLL_SECONDS": "1",
        "GEMINI_BATCH_RESULTS": str(root / "nightly" / "results.jsonl")})
    cluster.root = root
    try:
        cluster.airflow("db", "migrate")
        cluster.start()
        cluster.wait_for("the DAGs to be parsed", lambda: len(cluster.query(
            "SELECT dag_id FROM dag WHERE dag_id LIKE 'e2e_%%' OR dag_id = 'gemini_batch_nightly'")) == 5,
            timeout=180)
        yield cluster, emulator
        # Whatever happened above, the key must not have reached any log or the emulator's access log.
        assert SENTINEL_KEY not in cluster.log_text()
        assert SENTINEL_KEY not in Path(root / "emulator.log").read_text()
    finally:
        cluster.close()
        emulator.stop()


def jobs_of(emulator, dag_id):
    return [j for j in emulator.stats()["jobs"] if j["displayName"].startswith(f"airflow-{dag_id}.")]


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


FAULTS = {"rate_429": 0.06, "rate_500": 0.05, "rate_503": 0.05, "rate_drop": 0.05, "latency_ms": 20}
NO_FAULTS = {k: 0 for k in FAULTS}


def _faults_for(dag_id, emulator):
    """The *_faults twin of each DAG runs with ~21% of emulator calls failing."""
    emulator.configure(**(FAULTS if dag_id.endswith("_faults") else NO_FAULTS))
    return dag_id


@pytest.fixture(params=["e2e_deferred", "e2e_deferred_faults"])
def deferred_dag(request, deployment):
    yield _faults_for(request.param, deployment[1])
    deployment[1].configure(**NO_FAULTS)


@pytest.fixture(params=["e2e_crash", "e2e_crash_faults"])
def crash_dag(request, deployment):
    yield _faults_for(request.param, deployment[1])
    deployment[1].configure(**NO_FAULTS)


def test_deferred_without_a_worker_slot_and_survives_a_triggerer_restart(deployment, deferred_dag):
    cluster, emulator = deployment
    dag_id = deferred_dag
    cluster.airflow("dags", "trigger", dag_id)
    cluster.wait_for("the task to defer", lambda: (cluster.ti(dag_id, "submit") or [None])[0] == "deferred")
    before = deadline_of(cluster.wait_for("its trigger", lambda: cluster.trigger_kwargs(dag_id, "submit")))
    # No worker slot held: no task process is left under the scheduler's executor while the job runs.
    cluster.wait_for("the worker slot to be released", lambda: not _task_processes(cluster), timeout=30)
    assert cluster.ti(dag_id, "submit")[0] == "deferred"

    cluster.stop("triggerer")
    time.sleep(2)
    assert cluster.ti(dag_id, "submit")[0] == "deferred"
    cluster.start("triggerer")
    after = deadline_of(cluster.trigger_kwargs(dag_id, "submit"))
    assert after == before

    cluster.wait_for("the run to succeed", lambda: cluster.dag_run_state(dag_id) in ("success", "failed"),
                     timeout=180)
    assert cluster.dag_run_state(dag_id) == "success"
    assert len(jobs_of(emulator, dag_id)) == 1
    xcom = cluster.query("SELECT value FROM xcom WHERE dag_id=%s AND task_id='submit' "
                         "AND key='return_value'", dag_id)[0][0]
    text = json.dumps(xcom)
    assert "JOB_STATE_SUCCEEDED" in text and SENTINEL_KEY not in text and len(text) < 4000


def _task_processes(cluster):
    scheduler = psutil.Process(cluster.procs["scheduler"].pid)
    # scheduler -> LocalExecutor workers -> task supervisor -> task: the last two are "the worker" running it
    return [p for worker in scheduler.children() for p in worker.children(recursive=True)]


def test_worker_killed_right_after_create_is_reattached_not_resubmitted(deployment, crash_dag):
    dag_id = crash_dag
    cluster, emulator = deployment
    emulator.configure(stall_seconds=30)
    emulator.script_faults("batches.create", "stall_after")  # created at once, reply held back 30 s
    cluster.airflow("dags", "trigger", dag_id)
    cluster.wait_for("the job to be created", lambda: jobs_of(emulator, dag_id))
    victims = cluster.wait_for("the task's processes", lambda: _task_processes(cluster))
    for proc in victims:
        proc.send_signal(signal.SIGKILL)

    cluster.wait_for("the retry to finish", lambda: cluster.dag_run_state(dag_id) in ("success", "failed"),
                     timeout=240)
    state, try_number, _ = cluster.ti(dag_id, "submit")
    assert cluster.dag_run_state(dag_id) == "success" and state == "success"
    assert try_number >= 2
    assert len(jobs_of(emulator, dag_id)) == 1
    assert "Reattaching to" in cluster.task_log_text(dag_id)


def test_the_key_appears_nowhere_after_the_example_dag(deployment):
    """The nightly example DAG end to end; then the whole metadata DB (XCom, rendered fields, serialized
    DAGs, trigger kwargs, task instances) is dumped and searched, with every log and the emulator's."""
    cluster, emulator = deployment
    cluster.airflow("dags", "unpause", "gemini_batch_nightly")  # it ships paused (is_paused_upon_creation)
    cluster.airflow("dags", "trigger", "gemini_batch_nightly")
    cluster.wait_for("the example to finish",
                     lambda: cluster.dag_run_state("gemini_batch_nightly") in ("success", "failed"), timeout=180)
    assert cluster.dag_run_state("gemini_batch_nightly") == "success"
    assert len((cluster.root / "nightly" / "results.jsonl").read_text().splitlines()) == 10
    dump = subprocess.run(["su", "postgres", "-c", f"pg_dump {cluster.db}"], capture_output=True, text=True,
                          check=True, cwd="/").stdout
    assert "gemini_batch_nightly" in dump and "rendered_task_instance_fields" in dump  # the dump is real
    assert SENTINEL_KEY not in dump
    assert SENTINEL_KEY not in cluster.log_text()
