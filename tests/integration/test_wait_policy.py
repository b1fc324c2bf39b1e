"""Issue 13, rules 5 and 6, against faults we did not plan for: a scriptable proxy (tests/fault_proxy.py)
sits between our clients (sync hook, in-worker wait, trigger) and the emulator and garbles, throttles,
redirects. Every test asserts what the wait ended with, the jobs the emulator holds, and the error text."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest

from airflow_provider_gemini_batch.exceptions import GeminiApiError, GeminiMalformedReplyError, GeminiRedirectError
from airflow_provider_gemini_batch.hooks.gemini_batch import GeminiBatchHook
from airflow_provider_gemini_batch.operators.batch import poll_until_done
from airflow_provider_gemini_batch.triggers.batch import GeminiBatchJobTrigger
from tests.conftest import SENTINEL_KEY, proxied_connection
from tests.fault_proxy import HTML_PAGE, JSON_LIST, TRUNCATED_JSON, EditJson, Redirect, Replace, Status

JOB_GET = r"^/v1beta/batches/[^/:?]+$"
CREATE = r":batchGenerateContent$"


class Log:
    def __init__(self):
        self.lines = []

    def info(self, msg, *args):
        self.lines.append(msg % args)

    warning = info


@pytest.fixture
def proxy(gemini_conn, monkeypatch):
    """The default connection now points at the fault proxy in front of the emulator."""
    with proxied_connection(gemini_conn, monkeypatch, max_retries=4, retry_max_wait_seconds=0.2) as p:
        yield p


def create(text="hello", display_name="wait-policy"):
    req = {"contents": [{"parts": [{"text": text}]}]}
    return GeminiBatchHook().create_batch("gemini-2.5-flash", requests=[{"request": req, "metadata": {"key": "k"}}],
                                          display_name=display_name)["name"]


def in_worker(name, deadline=None, poll=0.1, sleeps=None, **kw):
    def sleep(seconds):
        if sleeps is not None:
            sleeps.append(seconds)
        time.sleep(seconds)
    return poll_until_done(GeminiBatchHook(), name, poll, deadline, True, Log(), sleep=sleep, **kw)


def in_trigger(name, **kw):
    async def run():
        return [e.payload async for e in GeminiBatchJobTrigger(name, **{"poll_interval": 0.1, **kw}).run()]
    events = asyncio.run(run())
    assert len(events) == 1
    return events[0]


def keyed_requests(sink):
    return [r for r in sink.requests if "x-goog-api-key" in r["headers"]]


# ---------------------------------------------------------------------- rule 6: credentials stay home
def test_hook_does_not_follow_a_cross_origin_redirect_with_the_key(proxy):
    name = create()
    proxy.script("GET", JOB_GET, Redirect(), times=None)
    with pytest.raises(GeminiRedirectError) as err:
        GeminiBatchHook().get_snapshot(name)
    text = str(err.value)
    assert "HTTP 302 redirecting to another origin" in text and proxy.sink.base_url in text
    assert "not following it" in text and SENTINEL_KEY not in text
    assert proxy.sink.requests == [] and keyed_requests(proxy.sink) == []


def test_download_does_not_follow_a_cross_origin_redirect_with_the_key(proxy, tmp_path):
    hook = GeminiBatchHook()
    meta = hook.upload_file([b'{"key": "a"}\n'], display_name="redirected", mime_type="application/jsonl")
    proxy.script("GET", r"/files/[^/]+:download", Redirect(status=307), times=None)
    with pytest.raises(GeminiRedirectError, match="HTTP 307 redirecting to another origin"):
        hook.download_file(meta["name"], tmp_path / "out.jsonl")
    assert keyed_requests(proxy.sink) == [] and proxy.sink.requests == []


def test_trigger_does_not_follow_a_cross_origin_redirect_with_the_key(proxy):
    name = create()
    proxy.script("GET", JOB_GET, Redirect(status=301), times=None)
    ev = in_trigger(name, deadline=time.time() + 30)
    assert ev["status"] == "error" and "HTTP 301 redirecting to another origin" in ev["reason"]
    assert SENTINEL_KEY not in ev["reason"] and keyed_requests(proxy.sink) == []


def test_sdk_client_of_the_hook_does_not_follow_either(proxy):
    name = create()
    proxy.script("GET", JOB_GET, Redirect(), times=None)
    # One of ours (not the SDK's or httpx's); the exact class is pinned by the test below.
    with pytest.raises(GeminiApiError, match=f"Getting {name} failed: .* answered HTTP 302") as err:
        GeminiBatchHook().get_job(name)
    assert keyed_requests(proxy.sink) == [] and SENTINEL_KEY not in str(err.value)


def test_sdk_client_of_the_hook_names_the_redirect_like_the_raw_path(proxy):
    name = create()
    proxy.script("GET", JOB_GET, Redirect(), times=None)
    with pytest.raises(GeminiRedirectError) as err:
        GeminiBatchHook().get_job(name)
    assert type(err.value) is GeminiRedirectError
    assert "redirecting to another origin" in str(err.value) and "not following it" in str(err.value)


def test_a_same_origin_redirect_is_followed(proxy):
    name = create()
    proxy.script("GET", JOB_GET, Redirect(location=f"{proxy.base_url}/v1beta/{name}"), times=1)
    assert GeminiBatchHook().get_snapshot(name).name == name
    assert proxy.sink.requests == []


# ---------------------------------------------------------------------- rule 5: waits that end right
@pytest.mark.parametrize("garbage", [HTML_PAGE, JSON_LIST, TRUNCATED_JSON,
                                     Replace(body=b'{"sink": true}', content_type="application/json")],
                         ids=["html", "json-list", "truncated-json", "other-object"])
def test_a_malformed_200_while_polling_is_transient_and_names_job_and_url(proxy, garbage):
    name = create()
    proxy.script("GET", JOB_GET, garbage, times=1)
    with pytest.raises(GeminiMalformedReplyError) as err:
        GeminiBatchHook().get_snapshot(name, attempts=0)
    assert name in str(err.value) and f"{proxy.base_url}/v1beta/{name}" in str(err.value)
    proxy.script("GET", JOB_GET, garbage, times=2)
    assert in_worker(name, deadline=time.time() + 30)["state"] == "JOB_STATE_SUCCEEDED"
    proxy.script("GET", JOB_GET, garbage, times=2)
    assert in_trigger(name, deadline=time.time() + 30)["state"] == "JOB_STATE_SUCCEEDED"
    assert proxy.fired() == 0  # every scripted garbling was served


def test_a_garbled_200_to_a_create_that_took_effect_finds_the_job(proxy, gemini_conn):
    proxy.script("POST", CREATE, Replace(body=b'{"name": "batches/x", "meta', content_type="application/json"))
    name = create(display_name="garbled-create")
    stats = gemini_conn.stats()
    assert stats["jobs_created"] == 1 and stats["jobs"][0]["name"] == name
    assert stats["jobs"][0]["displayName"] == "garbled-create"


def _unknown_done(data):
    data["metadata"]["state"] = "BATCH_STATE_ARCHIVED"
    data["done"] = True
    return data


def test_an_unknown_state_with_done_ends_the_wait_quoting_it(proxy, gemini_conn):
    gemini_conn.configure(pending_seconds=60)
    name = create()
    proxy.script("GET", JOB_GET, EditJson(_unknown_done), times=None)
    started = time.monotonic()
    ev = in_worker(name, deadline=time.time() + 60)
    assert ev["status"] == "error" and "'JOB_STATE_ARCHIVED'" in ev["reason"] and "done: true" in ev["reason"]
    ev = in_trigger(name, deadline=time.time() + 60)
    assert ev["status"] == "error" and "'JOB_STATE_ARCHIVED'" in ev["reason"]
    assert time.monotonic() - started < 10  # not the deadline (60 s)


@pytest.mark.parametrize("hint", [Status(429, retry_after="1"), Status(429, retry_delay="1s")],
                         ids=["retry-after", "retry-info"])
def test_the_server_s_retry_hint_is_obeyed_by_both_drivers(proxy, hint):
    name = create()
    proxy.script("GET", JOB_GET, hint, times=2)
    sleeps = []
    ev = in_worker(name, deadline=time.time() + 30, sleeps=sleeps)  # retry_max_wait is 0.2 s on this connection
    assert ev["state"] == "JOB_STATE_SUCCEEDED" and sleeps[:2] == [1.0, 1.0]
    proxy.script("GET", JOB_GET, hint, times=2)
    started = time.monotonic()
    assert in_trigger(name, deadline=time.time() + 30, retry_max_wait_seconds=0.2)["state"] == "JOB_STATE_SUCCEEDED"
    assert time.monotonic() - started >= 2.0


def test_six_503s_in_a_row_are_survived_by_both_drivers_alike(proxy):
    name = create()
    proxy.script("GET", JOB_GET, Status(503), times=6)
    assert in_worker(name, deadline=time.time() + 30)["state"] == "JOB_STATE_SUCCEEDED"
    proxy.script("GET", JOB_GET, Status(503), times=6)
    assert in_trigger(name, deadline=time.time() + 30, retry_max_wait_seconds=0.2)["state"] == "JOB_STATE_SUCCEEDED"


@pytest.mark.parametrize("driver", ["worker", "trigger"])
def test_a_sustained_429_does_not_end_a_long_wait(proxy, driver):
    """Scaled: 3 s of nothing but 429 (dozens of polls) inside a 60 s deadline; the old trigger gave up
    after 10 errors in a row (about 5 minutes at full scale)."""
    name = create()
    proxy.script("GET", JOB_GET, Status(429), times=None)
    stop = threading.Timer(3.0, proxy.clear)
    stop.start()
    try:
        ev = (in_worker(name, deadline=time.time() + 60, poll=0.05) if driver == "worker"
              else in_trigger(name, deadline=time.time() + 60, retry_max_wait_seconds=0.1))
    finally:
        stop.cancel()
    throttled = sum(1 for s in proxy.seen if s[2] == "Status")
    assert ev["status"] == "terminal" and ev["state"] == "JOB_STATE_SUCCEEDED" and throttled > 10


@pytest.mark.parametrize("driver", ["worker", "trigger"])
def test_a_job_finishing_just_before_the_deadline_is_not_a_timeout(proxy, gemini_conn, driver):
    # Polls are 5 s apart, the deadline is 2 s away, the job finishes after ~0.9 s: the old loops slept
    # to the deadline and declared a timeout without looking again.
    name = create()
    kwargs = {"deadline": time.time() + 2.0, "poll": 5.0} if driver == "worker" else \
        {"deadline": time.time() + 2.0, "poll_interval": 5.0}
    ev = in_worker(name, **kwargs) if driver == "worker" else in_trigger(name, **kwargs)
    assert ev["status"] == "terminal" and ev["state"] == "JOB_STATE_SUCCEEDED"
    assert gemini_conn.stats()["jobs"][0]["state"] == "SUCCEEDED"  # not cancelled


def test_the_hook_s_short_retries_obey_retry_after_and_leave_longer_pauses_to_the_caller(proxy, gemini_conn,
                                                                                          monkeypatch):
    from airflow_provider_gemini_batch.exceptions import GeminiTransientError

    monkeypatch.setenv("AIRFLOW_CONN_GEMINI_DEFAULT", json.dumps({
        "conn_type": "gemini", "host": proxy.base_url, "password": SENTINEL_KEY,
        "extra": {"retry_max_wait_seconds": 2, "max_retries": 3}}))
    proxy.script("POST", CREATE, Status(429, retry_after="1"), times=1)
    started = time.monotonic()
    create(display_name="hinted")
    assert time.monotonic() - started >= 1.0 and gemini_conn.stats()["jobs_created"] == 1
    # Asked to wait longer than this connection's retry_max_wait_seconds: not waited for in the call, the
    # error goes up carrying the hint for the caller's long wait (quota deferral, poll policy).
    proxy.script("POST", CREATE, Status(429, retry_delay="30s"), times=1)
    started = time.monotonic()
    with pytest.raises(GeminiTransientError, match="429 RESOURCE_EXHAUSTED") as err:
        create(display_name="hinted-long")
    assert type(err.value) is GeminiTransientError  # a refusal, not a malformed reply
    assert err.value.retry_after == 30.0 and err.value.status == "RESOURCE_EXHAUSTED"
    assert time.monotonic() - started < 5 and gemini_conn.stats()["jobs_created"] == 1
