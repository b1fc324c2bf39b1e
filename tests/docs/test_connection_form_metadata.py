"""What the Airflow UI's connection form shows for our type, read from the API server's own endpoint."""

import pytest

from tests.versions import AIRFLOW_FORM_IN_API_SERVER


def gemini_hook_meta():
    from airflow.api_fastapi.app import create_app
    from airflow.providers_manager import ProvidersManager
    from fastapi.testclient import TestClient

    # As in a fresh API server process: earlier tests here initialised the ProvidersManager singleton
    # without the API server's wtforms stand-ins, and Airflow 3.1 reuses it as it is (3.0 resets it).
    ProvidersManager()._cleanup()
    with TestClient(create_app("core")) as client:
        reply = client.get("/ui/connections/hook_meta")
        if reply.status_code == 401:  # Airflow 3.1 wants a token even when everyone is admin: ask for one
            token = client.get("/auth/token").json()["access_token"]
            reply = client.get("/ui/connections/hook_meta", headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 200
    return next(h for h in reply.json() if h["connection_type"] == "gemini")


@AIRFLOW_FORM_IN_API_SERVER
@pytest.mark.usefixtures("airflow_db")
def test_api_server_lists_gemini_with_key_and_optional_base_url():
    gemini = gemini_hook_meta()
    assert gemini["hook_name"] == "Gemini Batch"
    assert gemini["hook_class_name"] == "airflow_provider_gemini_batch.hooks.gemini_batch.GeminiBatchHook"
    fields = gemini["standard_fields"]
    assert fields["password"]["title"] == "API key" and not fields["password"]["hidden"]
    assert fields["host"]["title"] == "Base URL (optional)" and not fields["host"]["hidden"]
    assert fields["login"]["hidden"] and fields["port"]["hidden"]


@AIRFLOW_FORM_IN_API_SERVER
@pytest.mark.usefixtures("airflow_db")
def test_api_server_shows_the_extra_fields():
    extras = gemini_hook_meta()["extra_fields"]
    assert extras["api_version"]["value"] == "v1beta" and extras["max_retries"]["value"] == 5
