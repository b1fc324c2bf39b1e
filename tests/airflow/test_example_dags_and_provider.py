"""The example DAGs run end to end on the emulator, and Airflow discovers the provider."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time

import pytest

from tests.conftest import DAGS_FOLDER, SENTINEL_KEY
from tests.versions import AIRFLOW_FORM_IN_PROVIDERS_MANAGER


def load_dag(file_name: str, dag_id: str):
    sys.modules.pop("_settings", None)  # the examples read their settings from the environment at import
    spec = importlib.util.spec_from_file_location(file_name.removesuffix(".py"), DAGS_FOLDER / file_name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, dag_id)() if callable(getattr(module, dag_id)) else getattr(module, dag_id)


@pytest.mark.usefixtures("airflow_db")
def test_nightly_example_dag(gemini_conn, tmp_path, monkeypatch, caplog):
    out = tmp_path / "out" / "results.jsonl"
    monkeypatch.setenv("GEMINI_BATCH_RESULTS", str(out))
    monkeypatch.setenv("GEMINI_BATCH_POLL_SECONDS", "0.2")
    dag = load_dag("gemini_batch_nightly.py", "gemini_batch_nightly")
    dr = dag.test()
    assert dr.state == "success"
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 10 and {r["status"] for r in records} == {"ok"}
    assert sorted(r["key"] for r in records) == [f"topic-{i:03d}" for i in range(10)]
    stats = gemini_conn.stats()
    assert stats["jobs_created"] == 1 and stats["calls"]["files.upload"] == 1
    report = dr.get_task_instance("report").xcom_pull(task_ids="report")
    assert report["results"] == str(out)
    assert SENTINEL_KEY not in caplog.text


@pytest.fixture
def example_env(gemini_conn, tmp_path, monkeypatch):
    monkeypatch.setenv("GEMINI_BATCH_POLL_SECONDS", "0.2")
    monkeypatch.setenv("GEMINI_BATCH_OUTPUT_DIR", str(tmp_path))
    return tmp_path


def read_jsonl(path):
    with open(path) as fh:
        return [json.loads(line) for line in fh]


@pytest.mark.usefixtures("airflow_db")
def test_structured_output_example(example_env, gemini_conn):
    dr = load_dag("gemini_batch_structured.py", "gemini_batch_structured").test()
    assert dr.state == "success"
    parsed = dr.get_task_instance("parse").xcom_pull(task_ids="parse")
    assert parsed["dishes"] == ["bread", "cookies", "soup"] and parsed["recipes"] >= 6
    # keyed requests go as a file (issue 14): its result lines echo each key, whatever the order
    assert gemini_conn.stats()["calls"].get("files.upload", 0) == 1


@pytest.mark.usefixtures("airflow_db")
def test_embeddings_example(example_env, gemini_conn):
    dr = load_dag("gemini_batch_embeddings.py", "gemini_batch_embeddings").test()
    assert dr.state == "success"
    assert dr.get_task_instance("index").xcom_pull(task_ids="index") == {"vectors": 6, "dimensions": [256]}


@pytest.mark.usefixtures("airflow_db")
def test_sharded_example(example_env, gemini_conn):
    dr = load_dag("gemini_batch_sharded.py", "gemini_batch_sharded").test()
    assert dr.state == "success"
    merged = dr.get_task_instance("merge").xcom_pull(task_ids="merge")
    assert merged["shards"] == 3 and merged["records"] == 60
    keys = sorted(r["key"] for r in read_jsonl(merged["path"]))
    assert keys == [f"row-{i:04d}" for i in range(60)]
    assert gemini_conn.stats()["jobs_created"] == 3


@pytest.mark.usefixtures("airflow_db")
def test_sensor_and_cleanup_example(example_env, gemini_conn):
    dr = load_dag("gemini_batch_sensor_cleanup.py", "gemini_batch_sensor_cleanup").test()
    assert dr.state == "success"
    summary = dr.get_task_instance("results").xcom_pull(task_ids="results")
    assert summary["records"] == 3 and summary["ok"] == 3
    stats = gemini_conn.stats()
    assert stats["jobs_created"] == 1 and stats["jobs"] == []  # the job was deleted after its results were written
    assert stats["files"] == 0  # and so was its result file


@pytest.mark.usefixtures("airflow_db")
def test_maintenance_example_cancels_stale_and_deletes_old(example_env, gemini_conn, monkeypatch):
    from airflow_provider_gemini_batch.hooks.gemini_batch import GeminiBatchHook

    hook = GeminiBatchHook()
    req = [{"request": {"contents": [{"parts": [{"text": "x"}]}]}, "metadata": {"key": "k"}}]
    stuck = hook.create_batch("gemini-2.5-flash", requests=req, display_name="airflow-old EMULATOR:STUCK_PENDING")["name"]
    done = hook.create_batch("gemini-2.5-flash", requests=req, display_name="airflow-finished")["name"]
    other = hook.create_batch("gemini-2.5-flash", requests=req, display_name="not-ours EMULATOR:STUCK_PENDING")["name"]
    deadline = time.time() + 20
    while not hook.get_snapshot(done).is_terminal and time.time() < deadline:
        time.sleep(0.1)
    monkeypatch.setenv("GEMINI_BATCH_STALE_HOURS", "0")
    monkeypatch.setenv("GEMINI_BATCH_KEEP_DAYS", "0")
    dr = load_dag("gemini_batch_maintenance.py", "gemini_batch_maintenance").test()
    assert dr.state == "success"
    assert hook.get_snapshot(stuck).state == "JOB_STATE_CANCELLED"
    assert hook.get_snapshot(other).state == "JOB_STATE_PENDING"  # not ours: untouched
    names = {j.name for j in hook.find_jobs()}
    assert done not in names


@pytest.mark.usefixtures("airflow_db")
def test_taskflow_example_counts_an_invalid_output(example_env, gemini_conn):
    dr = load_dag("gemini_batch_taskflow.py", "gemini_batch_taskflow").test()
    assert dr.state == "success"
    assert dr.get_task_instance("report").xcom_pull(task_ids="report") == {"ok": 2, "invalid_output": 1, "error": 0}
    summary = dr.get_task_instance("classify").xcom_pull(task_ids="classify")
    assert summary["results"]["invalid_output"] == 1 and summary["state"] == "JOB_STATE_SUCCEEDED"


def test_provider_is_discovered_with_its_connection_type():
    from airflow.providers_manager import ProvidersManager

    pm = ProvidersManager()
    assert "airflow-provider-gemini-batch" in pm.providers
    hook = pm.hooks["gemini"]
    assert hook.hook_class_name.endswith("GeminiBatchHook") and hook.connection_type == "gemini"
    assert "gemini_batch" in pm.taskflow_decorators  # @task.gemini_batch


@AIRFLOW_FORM_IN_PROVIDERS_MANAGER
def test_provider_connection_form_relabels_and_has_the_extra_fields():
    from airflow.providers_manager import ProvidersManager

    pm = ProvidersManager()
    behaviour = pm.field_behaviours["gemini"]
    assert behaviour["relabeling"]["host"] == "Base URL (optional)"
    assert behaviour["relabeling"]["password"] == "API key"
    widgets = pm.connection_form_widgets
    assert "extra__gemini__api_version" in widgets and "extra__gemini__max_retries" in widgets


def test_airflow_providers_list_shows_the_package():
    out = subprocess.run([sys.executable, "-m", "airflow", "providers", "list", "-o", "json"], capture_output=True,
                         text=True, env=dict(os.environ), check=True).stdout
    providers = {p["package_name"]: p for p in json.loads(out[out.index("["):])}
    from airflow_provider_gemini_batch import __version__
    assert providers["airflow-provider-gemini-batch"]["version"] == __version__


@pytest.mark.usefixtures("airflow_db")
def test_common_ai_llm_batch_runs_on_gemini_through_our_adapter(example_env, gemini_conn):
    pytest.importorskip("airflow.providers.common.ai")
    dr = load_dag("gemini_batch_common_ai.py", "gemini_batch_common_ai").test()
    assert dr.state == "success"
    manifest = dr.get_task_instance("prompts").xcom_pull(task_ids="prompts")
    text = json.dumps(manifest)
    assert "invalid_output" in text
    rows = [json.loads(line) for path in example_env.rglob("*.jsonl") for line in path.read_text().splitlines()]
    statuses = sorted(r["status"] for r in rows)
    assert statuses.count("invalid_output") == 1 and len(rows) == 3
    assert gemini_conn.stats()["jobs_created"] == 1


@pytest.mark.usefixtures("airflow_db")
def test_product_photos_example(example_env, gemini_conn):
    dr = load_dag("gemini_batch_product_photos.py", "gemini_batch_product_photos").test()
    assert dr.state == "success"
    report = dr.get_task_instance("catalogue").xcom_pull(task_ids="catalogue")
    assert report == {"described": 12, "uploaded": 12, "deleted": 12}
    ledger = gemini_conn.admin("GET", "media")
    assert ledger["distinct"] == 13 and all(n == 1 for n in ledger["by_sha256"].values())  # 12 photos + requests


@pytest.mark.usefixtures("airflow_db")
def test_invoices_example(example_env, gemini_conn):
    dr = load_dag("gemini_batch_invoices.py", "gemini_batch_invoices").test()
    assert dr.state == "success"
    loaded = dr.get_task_instance("load").xcom_pull(task_ids="load")
    assert loaded["invoices"] == [f"invoice-{i:03d}.pdf" for i in range(5)]
    assert isinstance(loaded["total_eur"], float)
    assert gemini_conn.stats()["calls"].get("files.upload", 0) == 1  # small PDFs went inline in one JSONL
