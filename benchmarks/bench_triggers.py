"""Triggerer scale: N concurrent waits in one event loop, as the triggerer runs them.

Variants, all against the same emulator in the same run:
  ours           GeminiBatchJobTrigger.run()
  sync_blocking  the sync SDK's batches.get called inside the coroutine (a blocking trigger)
  sync_thread    the sync SDK in asyncio.to_thread (the pattern other providers use)
  bare_aiohttp   one shared aiohttp session, GET + json.loads of the raw resource (the lower bound)
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import aiohttp
from common import PeakRss, emulator, pct

KEY = "bench-key"
TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED")


def _create_jobs(emu, n: int, pending: float, running: float) -> dict[str, float]:
    """n one-request jobs; returns name -> wall-clock time it falls due."""
    from airflow_provider_gemini_batch.hooks.gemini_batch import GeminiBatchHook

    hook = GeminiBatchHook("bench")
    body = [{"request": {"contents": [{"parts": [{"text": "bench"}]}]}, "metadata": {"key": "k"}}]

    def one(i: int) -> tuple[str, float]:
        op = hook.create_batch("gemini-2.5-flash", requests=body, display_name=f"bench-{i}")
        created = datetime.fromisoformat(op["metadata"]["createTime"].replace("Z", "+00:00")).timestamp()
        return op["name"], created + pending + running

    with ThreadPoolExecutor(8) as pool:
        return dict(pool.map(one, range(n)))


async def _wait_ours(name: str, poll: float) -> float:
    from airflow_provider_gemini_batch.triggers.batch import GeminiBatchJobTrigger

    async for _ in GeminiBatchJobTrigger(name, "bench", poll_interval=poll).run():
        return time.time()
    raise AssertionError("no event")


async def _wait_sync_blocking(client, name: str, poll: float) -> float:
    while True:
        job = client.batches.get(name=name)
        if job.state.name.removeprefix("JOB_STATE_") in TERMINAL:
            return time.time()
        await asyncio.sleep(poll)


async def _wait_sync_thread(client, name: str, poll: float) -> float:
    while True:
        job = await asyncio.to_thread(client.batches.get, name=name)
        if job.state.name.removeprefix("JOB_STATE_") in TERMINAL:
            return time.time()
        await asyncio.sleep(poll)


async def _wait_bare(session, url: str, name: str, poll: float) -> float:
    while True:
        async with session.get(f"{url}/v1beta/{name}", headers={"x-goog-api-key": KEY}) as reply:
            body = json.loads(await reply.read())
        if body["metadata"]["state"].removeprefix("BATCH_STATE_") in TERMINAL:
            return time.time()
        await asyncio.sleep(poll)


async def _run(variant: str, emu, due: dict[str, float], poll: float) -> dict:
    lags: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            t0 = time.perf_counter()
            await asyncio.sleep(0.01)
            lags.append((time.perf_counter() - t0 - 0.01) * 1000)

    sessions = {"n": 0}
    original_init = aiohttp.ClientSession.__init__

    def counting_init(self, *a, **k):
        sessions["n"] += 1
        original_init(self, *a, **k)

    aiohttp.ClientSession.__init__ = counting_init
    client = session = None
    if variant.startswith("sync"):
        from google import genai
        from google.genai import types
        client = genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=emu.base_url, api_version="v1beta"))
    if variant == "bare_aiohttp":
        session = aiohttp.ClientSession()
    names = list(due)
    gc.collect()
    gets_before = emu.stats()["calls"].get("batches.get", 0)
    start = time.time()
    tick = asyncio.create_task(ticker())
    with PeakRss() as rss:
        if variant == "ours":
            waits = [_wait_ours(n, poll) for n in names]
        elif variant == "sync_blocking":
            waits = [_wait_sync_blocking(client, n, poll) for n in names]
        elif variant == "sync_thread":
            waits = [_wait_sync_thread(client, n, poll) for n in names]
        else:
            waits = [_wait_bare(session, emu.base_url, n, poll) for n in names]
        ends = await asyncio.gather(*waits)
    stop.set()
    await tick
    aiohttp.ClientSession.__init__ = original_init
    if session is not None:
        await session.close()
    gets = emu.stats()["calls"].get("batches.get", 0) - gets_before
    measured = [(end - due[n]) for n, end in zip(names, ends) if due[n] >= start + poll]
    polls_expected = sum((end - start) / poll + 1 for end in ends)
    return {
        "variant": variant, "N": len(names),
        "lag_p50_ms": pct(lags, 0.5), "lag_p99_ms": pct(lags, 0.99), "lag_max_ms": max(lags) if lags else None,
        "detect_p50_s": pct(measured, 0.5), "detect_p99_s": pct(measured, 0.99), "detect_samples": len(measured),
        "rss_per_wait_kib": rss.growth_mb * 1024 / len(names),
        "gets_per_poll": gets / polls_expected if polls_expected else None,
        "sessions_built": sessions["n"],
    }


def run(sizes: list[int], poll: float = 2.0, duration: float = 20.0) -> list[dict]:
    rows = []
    with emulator(pending_seconds=2, running_seconds=duration - 2) as emu:
        os.environ["AIRFLOW_CONN_BENCH"] = json.dumps({"conn_type": "gemini", "host": emu.base_url, "password": KEY})
        for n in sizes:
            for variant in ("bare_aiohttp", "ours", "sync_thread", "sync_blocking"):
                emu.reset()
                # Jobs fall due `duration` seconds after creation; creating thousands takes a while,
                # so only jobs falling due after the wait started count towards detection time.
                due = _create_jobs(emu, n, 2, duration - 2)
                row = asyncio.run(_run(variant, emu, due, poll))
                print(json.dumps(row), flush=True)
                rows.append(row)
    return rows
