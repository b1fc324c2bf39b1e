"""Keys never depend on order (issue 14, section 2), shown on the realistic profile with a real DAG run:
thousands of keyed requests through the submit operator, every record under its own key, and each
answer the answer to that key's prompt (the fake model echoes a digest of its prompt)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import time

import pytest

from tests.conftest import DAGS_FOLDER

pytestmark = pytest.mark.usefixtures("airflow_db")


def _digest(prompt: str) -> str:
    return hashlib.sha256(f"models/gemini-2.5-flash\x1f\x1f{prompt}".encode()).hexdigest()[:12]


def run_keyed(realistic_conn, monkeypatch, tmp_path, count: int, from_file: bool = False) -> float:
    monkeypatch.setenv("GB_TEST_RESULTS_DIR", str(tmp_path))
    monkeypatch.setenv("GB_REALISTIC_KEYED", str(count))
    spec = importlib.util.spec_from_file_location("gemini_test_realistic", DAGS_FOLDER / "gemini_test_realistic.py")
    module = importlib.util.module_from_spec(spec)
    if from_file:
        source = tmp_path / "keyed.jsonl"
        with open(source, "w") as fh:
            for i in range(count):
                fh.write(json.dumps({"key": f"row-{i:05d}", "request": {"contents": [{"role": "user", "parts": [
                    {"text": f"Realistic keyed question {i}: name a prime above {i * 7}."}]}]}}) + "\n")
        monkeypatch.setenv("GB_REALISTIC_INPUT_FILE", str(source))
        monkeypatch.setenv("GB_REALISTIC_KEYED", "1")  # the requests= DAG in the same file stays small
    spec.loader.exec_module(module)
    dag, dag_id = (module.keyed_file, "gb_realistic_keyed_file") if from_file else (module.keyed, "gb_realistic_keyed")
    started = time.monotonic()
    dr = dag.test()
    elapsed = time.monotonic() - started
    assert dr.state == "success"
    files = list((tmp_path / dag_id).glob("*.jsonl"))
    assert len(files) == 1, files
    records = [json.loads(line) for line in files[0].read_text().splitlines()]
    keys = [r["key"] for r in records]
    assert len(records) == count and sorted(keys) == [f"row-{i:05d}" for i in range(count)]
    wrong = [r["key"] for r in records
             if not r.get("text", "").startswith(f"Emulated answer {_digest(module.keyed_prompt(int(r['key'][4:])))}")]
    assert wrong == [], f"{len(wrong)} answers under the wrong key, e.g. {wrong[:3]}"
    assert all(r["status"] == "ok" for r in records)
    stats = realistic_conn.stats()
    assert stats["jobs_created"] == 1 and list(stats["jobs_created_by_display_name"].values()) == [1]
    print(f"\nrealistic keyed ({'input_file' if from_file else 'requests'}): {count} requests in {elapsed:.1f} s")
    return elapsed


def test_2000_keyed_requests_each_under_its_own_key(realistic_conn, monkeypatch, tmp_path):
    """requests=[...] with keys: the operator sends them as a JSONL file by itself (input_mode="auto")."""
    run_keyed(realistic_conn, monkeypatch, tmp_path, 2000)


def test_20000_keyed_requests_from_a_file_each_under_its_own_key(realistic_conn, monkeypatch, tmp_path):
    run_keyed(realistic_conn, monkeypatch, tmp_path, 20000, from_file=True)


@pytest.mark.slow
def test_20000_keyed_requests_each_under_its_own_key(realistic_conn, monkeypatch, tmp_path):
    run_keyed(realistic_conn, monkeypatch, tmp_path, 20000)
