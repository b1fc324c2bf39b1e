"""Raw REST: the JSON shapes the guide's curl examples read, and every error path."""

import json
import time

import httpx
import pydantic
import pytest

from airflow_provider_gemini_batch.emulator import EmulatorProcess

KEY = {"x-goog-api-key": "k"}
REQ = {"contents": [{"parts": [{"text": "Describe photosynthesis."}]}]}


def post(emu, path, body, headers=KEY, **kw):
    return httpx.post(f"{emu.base_url}{path}", json=body, headers=headers, timeout=10, **kw)


def get(emu, path, headers=KEY, **kw):
    return httpx.get(f"{emu.base_url}{path}", headers=headers, timeout=10, **kw)


def create_inline(emu, n=2, ver="v1beta", fail=0):
    reqs = [{"request": {"contents": [{"parts": [{"text": f"q{i}" + (" EMULATOR:FAIL_REQUEST" if i < fail else "")}]}]},
             "metadata": {"key": f"request-{i}"}} for i in range(n)]
    # The guide's REST body is snake_case; the SDK's is camelCase. Both must work.
    body = {"batch": {"display_name": "my-batch-requests", "input_config": {"requests": {"requests": reqs}}}}
    r = post(emu, f"/{ver}/models/gemini-2.5-flash:batchGenerateContent", body)
    assert r.status_code == 200, r.text
    return r.json()


def until_done(emu, name, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        body = get(emu, f"/v1beta/{name}").json()
        if body.get("done"):
            return body
        time.sleep(0.05)
    raise AssertionError("not done")


def test_operation_shape_while_running_and_when_done(emu):
    op = create_inline(emu, n=4, fail=1)
    meta = op["metadata"]
    assert meta["state"] == "BATCH_STATE_PENDING" and "done" not in op
    assert meta["batchStats"] == {"requestCount": "4", "pendingRequestCount": "4"}  # strings, zeros left out
    assert meta["@type"].endswith("GenerateContentBatch") and meta["model"] == "models/gemini-2.5-flash"
    assert meta["createTime"].endswith("Z")
    done = until_done(emu, op["name"])
    meta = done["metadata"]
    assert meta["state"] == "BATCH_STATE_SUCCEEDED" and done["done"] is True and meta["endTime"].endswith("Z")
    assert meta["batchStats"] == {"requestCount": "4", "successfulRequestCount": "3", "failedRequestCount": "1"}
    inline = meta["output"]["inlinedResponses"]["inlinedResponses"]
    assert done["response"]["inlinedResponses"]["inlinedResponses"] == inline  # the REST guide reads `response`
    assert [r["metadata"]["key"] for r in inline] == ["request-0", "request-1", "request-2", "request-3"]
    assert inline[0]["error"]["code"] == 400 and "response" in inline[1]


def test_guide_curl_single_quoted_body_and_file_flow(emu, tmp_path):
    data = b"".join(json.dumps({"key": f"k{i}", "request": REQ}).encode() + b"\n" for i in range(130))
    start = httpx.post(f"{emu.base_url}/upload/v1beta/files", headers={
        **KEY, "X-Goog-Upload-Protocol": "resumable", "X-Goog-Upload-Command": "start",
        "X-Goog-Upload-Header-Content-Length": str(len(data)), "X-Goog-Upload-Header-Content-Type": "application/jsonl",
        "Content-Type": "application/jsonl"}, content=b"{'file': {'display_name': 'BatchInput'}}")
    assert start.status_code == 200 and start.headers["x-goog-upload-status"] == "active"
    url = start.headers["x-goog-upload-url"]
    assert url.startswith("http://")  # absolute
    # chunks carry no key and say application/json although they are raw bytes
    part1 = httpx.post(url, content=data[:1000], headers={"X-Goog-Upload-Command": "upload", "X-Goog-Upload-Offset": "0",
                                                          "Content-Type": "application/json"})
    assert part1.headers["x-goog-upload-status"] == "active"
    final = httpx.post(url, content=data[1000:], headers={"X-Goog-Upload-Command": "upload, finalize",
                                                          "X-Goog-Upload-Offset": "1000"})
    assert final.headers["x-goog-upload-status"] == "final"
    file_name = final.json()["file"]["name"]
    body = "{'batch': {'display_name': 'my-batch-requests', 'input_config': {'file_name': '%s'}}}" % file_name
    op = httpx.post(f"{emu.base_url}/v1beta/models/gemini-2.5-flash:batchGenerateContent", headers=KEY,
                    content=body.encode()).json()
    done = until_done(emu, op["name"])
    responses_file = done["response"]["responsesFile"]
    assert responses_file == done["metadata"]["output"]["responsesFile"]
    for path in (f"/v1beta/{responses_file}:download", f"/download/v1beta/{responses_file}:download"):
        lines = get(emu, path, params={"alt": "media"}).content.splitlines()
        keys = [json.loads(l)["key"] for l in lines]
        assert sorted(keys) == sorted(f"k{i}" for i in range(130))
        assert keys != [f"k{i}" for i in range(130)]  # order is not guaranteed, and clients must not rely on it


@pytest.mark.parametrize("headers,code,status", [({}, 403, "PERMISSION_DENIED")])
def test_missing_key(emu, headers, code, status):
    r = get(emu, "/v1beta/batches", headers=headers)
    assert r.status_code == code and r.json()["error"]["status"] == status


def test_wrong_key_rejected_like_the_real_api(tmp_path):
    with EmulatorProcess(api_key="the-right-key", state_dir=str(tmp_path / "s")) as strict:
        ok = get(strict, "/v1beta/batches", headers={"x-goog-api-key": "the-right-key"})
        assert ok.status_code == 200
        ok_query = get(strict, "/v1beta/batches", headers={}, params={"key": "the-right-key"})
        assert ok_query.status_code == 200
        bad = get(strict, "/v1beta/batches", headers={"x-goog-api-key": "wrong"}).json()["error"]
        assert bad["code"] == 400 and "API key not valid" in bad["message"]
        assert bad["details"][0]["reason"] == "API_KEY_INVALID"


@pytest.mark.parametrize("body,needle", [
    ({"batch": {"input_config": {"requests": {"requests": [{"request": {**REQ, "system_instructions": {}}}]}}}},
     'Unknown name "system_instructions"'),
    ({"batch": {"input_config": {"requests": {"requests": [{"request": {**REQ, "tools": [{"google_search ": {}}]}}]}}}},
     'Unknown name "google_search "'),
    ({"batch": {"input_config": {"requests": {"requests": [{"request": {"contents": [{"parts": [{"text": "x"}], "role": "system"}]}}]}}}},
     "valid role"),
    ({"batch": {"input_config": {"requests": {"requests": [{"request": REQ, "metadata": {"key": 1}}]}}}}, "strings"),
    ({"batch": {"bogus": 1}}, 'Unknown name "bogus"'),
    ({"batch": {"input_config": {}}}, "either requests or file_name"),
])
def test_invalid_argument(emu, body, needle):
    r = post(emu, "/v1beta/models/gemini-2.5-flash:batchGenerateContent", body)
    err = r.json()["error"]
    assert r.status_code == 400 and err["status"] == "INVALID_ARGUMENT" and needle in err["message"]
    assert emu.stats()["jobs_created"] == 0


def test_not_found_paths(emu):
    body = {"batch": {"input_config": {"requests": {"requests": [{"request": REQ}]}}}}
    assert post(emu, "/v1beta/models/gemini-9-ultra:batchGenerateContent", body).status_code == 404
    assert post(emu, "/v1beta/models/gemini-embedding-001:batchGenerateContent", body).status_code == 404
    assert post(emu, "/v1beta/models/gemini-2.5-flash:asyncBatchEmbedContent", body).status_code == 404
    assert get(emu, "/v1beta/batches/nope").status_code == 404
    assert get(emu, "/v1beta/files/nope").status_code == 404
    file_body = {"batch": {"input_config": {"file_name": "files/nope"}}}
    assert post(emu, "/v1beta/models/gemini-2.5-flash:batchGenerateContent", file_body).status_code == 404
    assert emu.stats()["jobs_created"] == 0


def test_oversize_inline_and_file(emu):
    big = {"batch": {"input_config": {"requests": {"requests": [{"request": {"contents": [{"parts": [{"text": "x" * (21 * 1024 * 1024)}]}]}}]}}}}
    r = post(emu, "/v1beta/models/gemini-2.5-flash:batchGenerateContent", big)
    assert r.status_code == 400 and "exceeds the limit" in r.json()["error"]["message"]
    start = httpx.post(f"{emu.base_url}/upload/v1beta/files", headers={
        **KEY, "X-Goog-Upload-Protocol": "resumable", "X-Goog-Upload-Command": "start",
        "X-Goog-Upload-Header-Content-Length": str(3 * 1024 ** 3)}, json={"file": {}})
    assert start.status_code == 400 and "2 GB" in start.json()["error"]["message"]


def test_cancel_finished_and_delete_twice(emu):
    op = create_inline(emu, n=1)
    until_done(emu, op["name"])
    r = post(emu, f"/v1beta/{op['name']}:cancel", {})
    assert r.status_code == 400 and r.json()["error"]["status"] == "FAILED_PRECONDITION"
    assert httpx.delete(f"{emu.base_url}/v1beta/{op['name']}", headers=KEY).status_code == 200
    assert httpx.delete(f"{emu.base_url}/v1beta/{op['name']}", headers=KEY).status_code == 404


def test_cancel_while_running(emu):
    op = create_inline(emu, n=1)
    assert post(emu, f"/v1beta/{op['name']}:cancel", {}).json() == {}
    done = get(emu, f"/v1beta/{op['name']}").json()
    assert done["metadata"]["state"] == "BATCH_STATE_CANCELLED" and done["done"] is True


@pytest.mark.parametrize("marker,state", [("EMULATOR:FAIL_JOB", "BATCH_STATE_FAILED"),
                                          ("EMULATOR:EXPIRE_JOB", "BATCH_STATE_EXPIRED")])
def test_job_level_markers(emu, marker, state):
    body = {"batch": {"displayName": f"job {marker}", "inputConfig": {"requests": {"requests": [{"request": REQ}]}}}}
    op = post(emu, "/v1beta/models/gemini-2.5-flash:batchGenerateContent", body).json()
    done = until_done(emu, op["name"])
    assert done["metadata"]["state"] == state and "output" not in done["metadata"]
    if state == "BATCH_STATE_FAILED":
        assert done["error"]["message"]


def test_stuck_pending_and_admin_force(emu):
    body = {"batch": {"displayName": "EMULATOR:STUCK_PENDING", "inputConfig": {"requests": {"requests": [{"request": REQ}]}}}}
    op = post(emu, "/v1beta/models/gemini-2.5-flash:batchGenerateContent", body).json()
    time.sleep(1.2)
    assert get(emu, f"/v1beta/{op['name']}").json()["metadata"]["state"] == "BATCH_STATE_PENDING"
    emu.force_state(op["name"], "JOB_STATE_EXPIRED")
    assert get(emu, f"/v1beta/{op['name']}").json()["metadata"]["state"] == "BATCH_STATE_EXPIRED"


def test_list_paging_and_counts(emu):
    names = {create_inline(emu, n=1)["name"] for _ in range(5)}
    first = get(emu, "/v1beta/batches", params={"pageSize": 2}).json()
    assert len(first["operations"]) == 2 and first["nextPageToken"]
    seen = {o["name"] for o in first["operations"]}
    token = first["nextPageToken"]
    while token:
        page = get(emu, "/v1beta/batches", params={"pageSize": 2, "pageToken": token}).json()
        seen |= {o["name"] for o in page["operations"]}
        token = page.get("nextPageToken")
    assert seen == names
    stats = emu.stats()
    assert stats["jobs_created"] == 5 and stats["calls"]["batches.list"] == 3


@pytest.mark.parametrize("fault,code", [("429", 429), ("500", 500), ("503", 503)])
def test_scripted_status_faults(emu, fault, code):
    emu.script_faults("batches.list", fault)
    r = get(emu, "/v1beta/batches")
    assert r.status_code == code and r.json()["error"]["code"] == code
    assert get(emu, "/v1beta/batches").status_code == 200


def test_drop_after_takes_effect_but_cuts_the_reply(emu):
    emu.script_faults("batches.create", "drop_after")
    with pytest.raises(httpx.RemoteProtocolError):
        create_inline(emu, n=1)
    assert emu.stats()["jobs_created"] == 1


def test_object_details_mode_breaks_the_sdk_but_not_the_raw_resource(emu, sdk):
    emu.configure(object_error_details=True)
    op = create_inline(emu, n=2, fail=1)
    raw = until_done(emu, op["name"])
    details = raw["metadata"]["output"]["inlinedResponses"]["inlinedResponses"][0]["error"]["details"]
    assert isinstance(details[0], dict)
    with pytest.raises(pydantic.ValidationError, match=r"1 validation error for BatchJob") as info:
        sdk.batches.get(name=op["name"])
    assert "details" in str(info.value)  # python-genai: JobError.details is list[str]
