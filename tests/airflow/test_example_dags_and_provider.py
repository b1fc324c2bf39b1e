"""The example DAGs run end to end on the emulator, and Airflow discovers the provider."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import DAGS_FOLDER, SENTINEL_KEY


def load_dag(file_name: str, dag_id: str):
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


def test_provider_is_discovered_with_its_connection_type():
    from airflow.providers_manager import ProvidersManager

    pm = ProvidersManager()
    assert "airflow-provider-gemini-batch" in pm.providers
    hook = pm.hooks["gemini"]
    assert hook.hook_class_name.endswith("GeminiBatchHook") and hook.connection_type == "gemini"
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
