"""What a user sees (issue 18), through real DAG runs (dag.test()) against the emulator: failures that
name the failed requests, the summary left in XCom by a failed task, honest tokens and cost, the
rendered JSON schema and the results link."""

from __future__ import annotations

import importlib.util
import json
import os
import re
from urllib.parse import quote

import pytest

from airflow_provider_gemini_batch.exceptions import GeminiJobFailedError, GeminiPartialFailureError
from tests.conftest import DAGS_FOLDER

pytestmark = pytest.mark.usefixtures("airflow_db")


@pytest.fixture(scope="module")
def ux(tmp_path_factory):
    os.environ["GB_TEST_RESULTS_DIR"] = str(tmp_path_factory.mktemp("ux-results"))
    spec = importlib.util.spec_from_file_location("gemini_test_ux", DAGS_FOLDER / "gemini_test_ux.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(dag):
    dr = dag.test()
    return dr, {ti.task_id: ti for ti in dr.get_task_instances()}


def xcom(ti, key="return_value"):
    return ti.xcom_pull(task_ids=ti.task_id, key=key)


def test_partial_failure_names_the_first_failed_keys_their_errors_and_where_the_rest_are(gemini_conn, ux, task_errors):
    dr, tis = run(ux.ux_partial_many)
    assert tis["submit"].state == "failed"  # (the run is green: its leaf is an all_done task)
    summary = xcom(tis["submit"])  # left in XCom before raising
    error = summary["error"]
    assert error.startswith("GeminiPartialFailureError: ")
    assert "8 of 10 requests failed" in error
    # the XCom copy is the exception the task raised, word for word
    assert error == f"GeminiPartialFailureError: {task_errors.expect('submit', GeminiPartialFailureError)}"
    path = summary["results"]["path"]
    # Result files come in no promised order: the sample is the first five failures in the file.
    sample = summary["failed_requests"]
    named = [e["key"] for e in sample]
    assert len(set(named)) == 5 and set(named) <= {f"q{i}" for i in range(8)}
    assert f"the first 5 of 8 failed requests: '{named[0]}' (400 INVALID_ARGUMENT: " in error
    assert all(f"'{key}' (400 INVALID_ARGUMENT" in error for key in named)
    assert not any(f"'q{i}'" in error for i in range(8) if f"q{i}" not in named)
    assert "'q8'" not in error and "'q9'" not in error  # the two that succeeded
    assert error.count("INVALID_ARGUMENT") == 5  # each failure named once, not twice
    assert error.endswith(f"All of them in {path}")
    assert all(e["code"] == 400 and e["status"] == "INVALID_ARGUMENT" and e["message"] for e in sample)
    # the message in the sample is the one in the results file
    records = {json.loads(line)["key"]: json.loads(line) for line in open(path)}
    assert sample[0]["message"] == records[named[0]]["error"]["message"][:160]
    # the rest of the summary: state, counts, tokens and cost of what did succeed
    assert summary["state"] == "JOB_STATE_SUCCEEDED" and summary["counts"]["failed"] == 8
    assert summary["results"]["tokens"]["totalTokenCount"] > 0 and summary["results"]["estimated_cost_usd"] > 0
    # and a downstream all_done task reads it
    assert tis["after"].state == "success"
    assert xcom(tis["after"]) == {"seen_state": "JOB_STATE_SUCCEEDED", "seen_failed": sample}


def test_partial_failure_without_results_path_reads_the_failed_key_from_the_job(gemini_conn, ux, task_errors):
    dr, tis = run(ux.ux_partial_no_path)
    assert tis["submit"].state == "failed"
    error = xcom(tis["submit"])["error"]
    assert error == f"GeminiPartialFailureError: {task_errors.expect('submit', GeminiPartialFailureError)}"
    assert re.search(r"1 of 3 requests failed.*; the failed request: 'q0' \(400 INVALID_ARGUMENT: .+\)\. "
                     r"Set results_path to keep every result with its error$", error), error
    assert "failed requests:" not in error  # one, said in the singular


def test_a_failed_job_leaves_its_summary_in_xcom(gemini_conn, ux, task_errors):
    dr, tis = run(ux.ux_job_failed)
    assert tis["submit"].state == "failed"
    summary = xcom(tis["submit"])
    raised = task_errors.expect("submit", GeminiJobFailedError, summary["job_name"], "ended JOB_STATE_FAILED")
    assert summary["error"] == f"GeminiJobFailedError: {raised}" and raised.job_name == summary["job_name"]
    assert summary["state"] == "JOB_STATE_FAILED" and summary["job_name"].startswith("batches/")
    assert summary["error"].startswith("GeminiJobFailedError: ") and summary["job_name"] in summary["error"]
    assert "results" not in summary and "failed_requests" not in summary
    assert xcom(tis["after"])["seen_state"] == "JOB_STATE_FAILED"


def test_embeddings_without_reported_usage_have_unknown_tokens_and_cost(gemini_conn, ux):
    dr, tis = run(ux.ux_embed)
    assert dr.state == "success"
    results = xcom(tis["submit"])["results"]
    assert results["ok"] == 3
    assert results["tokens"] is None and results["estimated_cost_usd"] is None  # not {} and 0.0 (free)


def test_rendered_requests_show_the_json_schema_sent_and_the_results_link(gemini_conn, ux):
    from airflow.models.renderedtifields import RenderedTaskInstanceFields

    dr, tis = run(ux.ux_rendered_schema)
    assert dr.state == "success"
    rendered = RenderedTaskInstanceFields.get_templated_fields(tis["submit"])
    config = rendered["requests"][0]["request"]["config"]
    assert "response_schema" not in config and "<callable" not in json.dumps(rendered)
    schema = config["response_json_schema"]
    assert schema["type"] == "array" and schema["items"] == {"$ref": "#/$defs/Recipe"}
    assert set(schema["$defs"]["Recipe"]["properties"]) == {"recipe_name", "ingredients"}
    summary = xcom(tis["submit"])
    link = xcom(tis["submit"], key="_link_GeminiBatchResultsLink")
    assert link == "file://" + quote(summary["results"]["path"])  # on the task page, "Gemini batch results"
