"""What a user sees in Airflow 3's web UI (a real Chromium, a real `airflow standalone`, the emulator):
the "Gemini Batch" connection form and the page of a task waiting deferred. Screenshots are kept in
the artefacts folder for a person to look at."""

from __future__ import annotations

import json
import re
import time

import httpx

from tests.ui.conftest import UI_KEY

PLACEHOLDER_FITS = """el => {
  const style = getComputedStyle(el);
  const ctx = document.createElement('canvas').getContext('2d');
  ctx.font = style.font;
  return {text: ctx.measureText(el.placeholder).width,
          room: el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight)};
}"""


def open_gemini_form(page, base: str, conn_id: str) -> None:
    page.goto(f"{base}/connections")
    page.get_by_role("button", name="Add Connection").click()
    page.get_by_label("Connection ID").fill(conn_id)
    page.get_by_role("combobox", name="Connection Type").fill("Gemini Batch")
    page.keyboard.press("Enter")
    page.get_by_label("API key").wait_for()


def test_connection_form(page, airflow_ui, artefacts):
    base = airflow_ui["base"]
    open_gemini_form(page, base, "ui_gemini")
    host = page.get_by_label("Base URL (optional)")
    assert host.get_attribute("placeholder") == "empty = Google, or http://127.0.0.1:8000"
    fit = host.evaluate(PLACEHOLDER_FITS)
    assert fit["text"] <= fit["room"], fit  # the whole placeholder is visible, not cut off
    assert page.get_by_label("API key").get_attribute("type") == "password"
    for hidden in ("Login", "Port", "Schema"):
        assert page.get_by_label(hidden, exact=True).count() == 0
    page.screenshot(path=str(artefacts / "connection-form-standard.png"), full_page=True)
    host.fill(airflow_ui["emulator"].base_url)  # before the extras: opening them folds the standard fields
    page.get_by_label("API key").fill(UI_KEY)

    page.get_by_text("Extra Fields", exact=True).click()
    retry = page.get_by_label("Longest wait between retries (seconds)")
    assert retry.input_value() == "60"
    page.get_by_role("combobox", name="API version").click()
    options = [o.inner_text() for o in page.get_by_role("option").all()]
    assert options == ["v1beta", "v1"]  # no literal "null" choice
    page.screenshot(path=str(artefacts / "connection-form-api-version.png"), full_page=True)
    page.get_by_role("option", name="v1beta").click()

    retry.fill("7")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("ui_gemini", exact=True).wait_for()
    page.screenshot(path=str(artefacts / "connection-saved.png"), full_page=True)

    saved = httpx.get(f"{base}/api/v2/connections/ui_gemini", timeout=10).json()
    assert saved["conn_type"] == "gemini" and saved["host"] == airflow_ui["emulator"].base_url
    assert saved["password"] == "***" and saved["port"] is None
    assert json.loads(saved["extra"]) == {"api_version": "v1beta", "timeout_seconds": 60, "max_retries": 5,
                                          "retry_max_wait_seconds": 7}


def wait_for_state(base: str, run_id: str, states: set[str], seconds: float = 240) -> str:
    url = f"{base}/api/v2/dags/gb_ui_deferred/dagRuns/{run_id}/taskInstances/submit"
    deadline = time.time() + seconds
    state = None
    while time.time() < deadline:
        state = httpx.get(url, timeout=10).json().get("state")
        if state in states:
            return state
        time.sleep(2)
    raise AssertionError(f"task stayed {state!r}, wanted one of {sorted(states)}")


def test_deferred_task_page(page, airflow_ui, artefacts):
    base, emulator = airflow_ui["base"], airflow_ui["emulator"]
    assert httpx.patch(f"{base}/api/v2/dags/gb_ui_deferred", json={"is_paused": False}, timeout=10).status_code == 200
    run = httpx.post(f"{base}/api/v2/dags/gb_ui_deferred/dagRuns", json={"logical_date": None, "dag_run_id": "ui_run"},
                     timeout=10)
    assert run.status_code == 200, run.text
    wait_for_state(base, "ui_run", {"deferred"})
    job = emulator.stats()["jobs"][0]["name"]

    page.goto(f"{base}/dags/gb_ui_deferred/runs/ui_run/tasks/submit")
    page.get_by_text("Deferred", exact=True).first.wait_for()
    waiting = page.get_by_text(re.compile(rf"Waiting for {job}: PENDING: 0 succeeded, 0 failed, 3 pending of 3 requests"))
    waiting.wait_for(timeout=60_000)  # the trigger's first line reaches the log view
    assert page.get_by_text(re.compile(rf"Submitted {job} as '.+' \(PENDING\)")).count() == 1
    page.screenshot(path=str(artefacts / "task-deferred-log.png"), full_page=True)
    time.sleep(6)  # several more polls of an unchanged job: still one progress line
    page.reload()
    waiting.wait_for(timeout=60_000)
    assert page.get_by_text(re.compile(r"pending of 3 requests")).count() == 1

    page.get_by_role("link", name="Storage").click()
    page.get_by_text("deadline_utc").first.wait_for()
    shown = page.locator("body").inner_text()
    assert re.search(r'"deadline_utc"\s*:\s*"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"', shown), shown[-1500:]
    assert re.search(rf'"job_name"\s*:\s*"{job}"', shown)
    page.screenshot(path=str(artefacts / "task-deferred-state-store.png"), full_page=True)

    emulator.force_state(job, "SUCCEEDED")
    assert wait_for_state(base, "ui_run", {"success", "failed"}) == "success"
    page.goto(f"{base}/dags/gb_ui_deferred/runs/ui_run/tasks/submit")
    page.get_by_text(re.compile(r"SUCCEEDED: 3 succeeded, 0 failed, 0 pending of 3 requests \(after ")).wait_for()
    page.screenshot(path=str(artefacts / "task-succeeded-log.png"), full_page=True)
    links = httpx.get(f"{base}/api/v2/dags/gb_ui_deferred/dagRuns/ui_run/taskInstances/submit/links", timeout=10).json()
    assert links["extra_links"]["Gemini batch results"] == f"file://{airflow_ui['home']}/results/ui_run.jsonl"
