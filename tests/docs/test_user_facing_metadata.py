"""What Airflow's UI shows of us (issue 18), read from the API server's own endpoints: the connection
form, the Providers page's documentation link, and example DAGs that do not run before they are set up."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def api(airflow_db):
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    with TestClient(create_app("core")) as client:
        yield client


def test_connection_form_has_no_null_choice_a_whole_placeholder_and_the_retry_cap(api):
    gemini = next(h for h in api.get("/ui/connections/hook_meta").json() if h["connection_type"] == "gemini")
    extras = gemini["extra_fields"]
    version = extras["api_version"]["schema"]
    assert version["enum"] == ["v1beta", "v1"] and None not in version["enum"] and "null" not in str(version["type"])
    assert extras["api_version"]["value"] == "v1beta"
    assert extras["retry_max_wait_seconds"]["value"] == 60
    assert extras["retry_max_wait_seconds"]["schema"]["title"] == "Longest wait between retries (seconds)"
    placeholder = gemini["standard_fields"]["host"]["placeholder"]
    assert len(placeholder) <= 45 and "http://127.0.0.1:8000" in placeholder  # fits the input box (see make test-ui)


def test_providers_page_links_to_documentation_that_is_in_the_package_metadata(api):
    from airflow_provider_gemini_batch.get_provider_info import DOCUMENTATION_URL

    providers = api.get("/api/v2/providers", params={"limit": 1000})
    assert providers.status_code == 200, providers.text
    ours = next(p for p in providers.json()["providers"] if p["package_name"] == "airflow-provider-gemini-batch")
    assert ours["documentation_url"] == DOCUMENTATION_URL
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert f'Documentation = "{DOCUMENTATION_URL}"' in pyproject
    assert re.search(r'^Changelog = "https://github\.com/REPLACE-WITH-OWNER/.+/CHANGELOG\.md"$', pyproject, re.M)
    readme = (ROOT / "README.md").read_text()
    assert "REPLACE-WITH-OWNER" in readme  # the placeholder is explained where people read


@pytest.mark.parametrize("file_name,dag_id", [("gemini_batch_nightly.py", "gemini_batch_nightly"),
                                              ("gemini_batch_maintenance.py", "gemini_batch_maintenance")])
def test_scheduled_examples_ship_paused(file_name, dag_id):
    from tests.airflow.test_example_dags_and_provider import load_dag

    dag = load_dag(file_name, dag_id)
    assert dag.is_paused_upon_creation is True and dag.schedule is not None


def test_readme_warns_of_the_test_button_bug_and_names_the_cli():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## The connection"):readme.index("## What there is")]
    assert "`port: 0`" in section and '"Bad Request"' in section
    assert "airflow connections test <conn_id>" in section
