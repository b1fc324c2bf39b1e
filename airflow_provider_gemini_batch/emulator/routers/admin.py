"""Test controls under /_emulator (no API key): health, stats, reset, run-time config, scripted faults,
forced job states, the media ledger and file expiry. See docs/emulator.md, "Test controls"."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request

from ..deps import ConfigDep, FaultsDep, StoreDep, job_or_404
from ..errors import invalid, not_found
from ..store import NotFound

router = APIRouter(prefix="/_emulator")


@router.get("/health")
async def health():
    return {"ok": True}


@router.get("/stats")
async def stats(store: StoreDep, config: ConfigDep, faults: FaultsDep):
    now = time.time()
    with store.lock:  # one consistent picture: no job moves while it is being described
        jobs = [store.advance(j, now) for j in store.iter_jobs_newest_first()]
        listed = [{"name": f"batches/{j.id}", "displayName": j.display_name, "model": j.model,
                   "state": j.state, "requestCount": j.request_count} for j in jobs]
        files = len(store.files)
    return {
        "jobs_created": store.jobs_created,
        "jobs": listed,
        "files": files,
        "calls": dict(faults.calls) if faults else {},
        "faults_served": dict(faults.faults_served) if faults else {},
        "config": config.public(),
        **store.admin_stats(now),
    }


@router.post("/reset")
async def reset(store: StoreDep, faults: FaultsDep):
    store.reset()
    if faults:
        faults.calls.clear()
        faults.faults_served.clear()
        faults.scripted.clear()
    return {}


@router.post("/config")
async def set_config(request: Request, store: StoreDep, config: ConfigDep):
    changes = await request.json()
    for key, value in changes.items():
        if key in ("api_key", "host", "port", "state_dir") or not hasattr(config, key):
            raise invalid(f"{key} cannot be changed at run time.")
        setattr(config, key, type(getattr(config, key))(value))
    store.object_error_details = config.object_error_details
    return config.public()


@router.post("/faults")
async def script_faults(request: Request, faults: FaultsDep):
    body = await request.json()
    if faults is None:  # an app from create_app() alone, without create_asgi()'s injector in front
        raise invalid("Fault injection is off: serve the app from create_asgi().")
    try:
        faults.script(body["route"], list(body["faults"]))
    except (KeyError, ValueError) as exc:
        raise invalid(str(exc)) from None
    return {"scripted": {k: list(v) for k, v in faults.scripted.items()}}


@router.post("/jobs/{job_id}/state")
async def force_job_state(job_id: str, request: Request, store: StoreDep):
    state = (await request.json())["state"].removeprefix("JOB_STATE_").removeprefix("BATCH_STATE_")
    if state not in ("PENDING", "RUNNING", "SUCCEEDED", "FAILED", "EXPIRED", "CANCELLED"):
        raise invalid(f"Unknown state {state}.")
    job_or_404(store, job_id)
    store.force_state(job_id, state)
    return store.job_resource(job_id, time.time())


@router.get("/media")
async def media_ledger(store: StoreDep):
    return store.media_ledger.report()


@router.post("/files/{file_id}/expire")
async def expire_file(file_id: str, store: StoreDep):
    """Make a file look expired (its expirationTime in the past) without waiting 48 h."""
    try:
        return store.expire_file(file_id)
    except NotFound as exc:
        raise not_found(str(exc)) from None
