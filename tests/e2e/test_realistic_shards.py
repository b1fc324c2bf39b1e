"""Quota-aware submission end to end (issue 14, section 3), on the realistic emulator profile with a real
scheduler, dag-processor, api-server and triggerer on PostgreSQL.

150 mapped shards against a concurrent-job limit of 40 and a small enqueued-token budget (and, in the
fast suite, the same at 16 shards against a limit of 6): creates beyond the limits answer the real 429 (no Retry-After). Proved: every shard completes with exactly one job, never
more jobs than the limit are live at once (the emulator's admin endpoint reports the peak), the 429s really
happened, and a task waiting for quota waits deferred on a time trigger, not in a worker slot.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from airflow_provider_gemini_batch.emulator import EmulatorProcess
from tests.conftest import SENTINEL_KEY

from .cluster import AirflowCluster, ensure_postgres

# One PostgreSQL cluster and Airflow's fixed log-server ports: e2e modules run one after another,
# on one xdist worker, while the rest of the suite spreads over the others.
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]
HERE = Path(__file__).parent
DAG_ID = "e2e_realistic_shards"
JOB_TRIGGER = "airflow_provider_gemini_batch.triggers.batch."


@dataclass(frozen=True)
class Scale:
    shards: int
    limit: int          # the project's concurrent-job limit
    token_budget: int   # enqueued tokens for the model
    pending: float      # seconds each job stays PENDING, then RUNNING: long enough that, with four
    running: float      # worker slots submitting, more jobs than `limit` would be live without the limit
    retry_max: float    # the operator's quota backoff: 20 s doubling to this
    min_waiting: int    # tasks seen waiting for quota at one time, at least


# About 16 tokens a request and 1 to 3 requests a shard (dags_e2e_shards.py), about 32 tokens a shard on
# average: each budget is near `limit` average shards, so sometimes the budget and sometimes the job
# limit refuses the next create.
SCALES = [
    pytest.param(Scale(shards=16, limit=6, token_budget=180, pending=3, running=12, retry_max=20, min_waiting=5),
                 id="16-shards-limit-6"),
    # As the issue asks; about 8 minutes here (Airflow starts about one task every two seconds on two
    # busy cores), so it runs with `make test-slow`.
    pytest.param(Scale(shards=150, limit=40, token_budget=1300, pending=20, running=70, retry_max=40,
                       min_waiting=10), id="150-shards-limit-40", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("scale", SCALES)
def test_shards_against_a_job_limit_one_job_each_and_no_slot_held(tmp_path_factory, scale):
    ensure_postgres()
    root = tmp_path_factory.mktemp("e2e-shards")
    dags = root / "dags"
    dags.mkdir()
    shutil.copy(HERE / "dags_e2e_shards.py", dags / "dags_e2e_shards.py")
    emulator = EmulatorProcess(
        log_path=str(root / "emulator.log"), state_dir=str(root / "emulator"), profile="realistic",
        max_concurrent_jobs=scale.limit, enqueued_token_budget=scale.token_budget,
        pending_seconds=scale.pending, running_seconds=scale.running,
        quiet=True).start()
    conn = {"conn_type": "gemini", "host": emulator.base_url, "password": SENTINEL_KEY,
            "extra": {"retry_max_wait_seconds": 0.5, "max_retries": 2}}
    cluster = AirflowCluster(root / "airflow_home", dags, {
        "AIRFLOW_CONN_GEMINI_DEFAULT": json.dumps(conn), "GB_E2E_SHARDS": str(scale.shards),
        "GB_E2E_QUOTA_RETRY_MAX": str(scale.retry_max),
        "GB_E2E_SHARD_RESULTS": str(root / "results")})
    try:
        cluster.airflow("db", "migrate")
        cluster.start()
        cluster.wait_for("the DAG to be parsed", lambda: cluster.query(
            "SELECT dag_id FROM dag WHERE dag_id = %s", DAG_ID), timeout=180)
        started = time.monotonic()
        cluster.airflow("dags", "trigger", DAG_ID)
        quota_waits = max_running = 0
        wait_triggers: set[str] = set()
        refusals_seen_while_waiting = 0
        deadline = time.monotonic() + 900
        while cluster.dag_run_state(DAG_ID) not in ("success", "failed"):
            assert time.monotonic() < deadline, f"the run did not finish; logs in {cluster.logs}"
            rows = cluster.query(
                "SELECT ti.state, t.classpath FROM task_instance ti LEFT JOIN trigger t ON ti.trigger_id = t.id "
                "WHERE ti.dag_id = %s", DAG_ID)
            waiting = [c for s, c in rows if s == "deferred" and c and not c.startswith(JOB_TRIGGER)]
            running = sum(s == "running" for s, _ in rows)
            # A task that meets a 429 must never be seen failed or waiting for a retry.
            assert not [s for s, _ in rows if s in ("failed", "up_for_retry", "upstream_failed")], rows
            wait_triggers.update(waiting)
            if waiting:
                quota_waits = max(quota_waits, len(waiting))
                refusals_seen_while_waiting = sum(emulator.stats()["quota_refusals"].values())
            max_running = max(max_running, running)
            time.sleep(1)
        elapsed = time.monotonic() - started

        assert cluster.dag_run_state(DAG_ID) == "success"
        tis = cluster.query("SELECT state, try_number FROM task_instance WHERE dag_id = %s", DAG_ID)
        assert len(tis) == scale.shards and {s for s, _ in tis} == {"success"} and {t for _, t in tis} == {1}
        stats = emulator.stats()
        per_name = stats["jobs_created_by_display_name"]
        assert stats["jobs_created"] == scale.shards and len(per_name) == scale.shards and set(per_name.values()) == {1}
        assert all(j["state"] == "SUCCEEDED" for j in stats["jobs"])
        assert stats["peak_live_jobs"] <= scale.limit
        refused = stats["quota_refusals"]
        assert sum(refused.values()) > 0 and refusals_seen_while_waiting > 0, refused
        # Waiting for quota happened deferred, on a time trigger, many tasks at once: more tasks waited
        # than the executor has worker slots (AIRFLOW__CORE__PARALLELISM=4 in cluster.py).
        assert quota_waits >= scale.min_waiting and quota_waits > 4 and max_running <= 4, (quota_waits, max_running)
        assert wait_triggers == {"airflow.providers.standard.triggers.temporal.DateTimeTrigger"}, wait_triggers
        for s in range(scale.shards):
            keys = sorted(json.loads(line)["key"] for line in (root / "results" / f"{s}.jsonl").read_text().splitlines())
            assert keys == [f"s{s:03d}-r{r}" for r in range(1 + s % 3)]
        print(f"\nrealistic shards: {scale.shards} shards in {elapsed:.0f} s, peak live {stats['peak_live_jobs']}, "
              f"429s {refused}, most tasks waiting for quota at once {quota_waits}")
    finally:
        cluster.close()
        emulator.stop()

