"""Moving gigabytes: the hook's upload and download against raw HTTP and the SDK, same emulator, same run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from common import MB, PeakRss, emulator

KEY = "bench-key"
CHUNK = 8 * MB


def _make_jsonl(path: Path, size_mb: int) -> None:
    line = json.dumps({"key": "k", "request": {"contents": [{"parts": [{"text": "x" * 900}]}]}}).encode() + b"\n"
    block = line * (MB // len(line) + 1)
    with open(path, "wb") as fh:
        while fh.tell() < size_mb * MB:
            fh.write(block)


def _raw_upload(base_url: str, path: Path) -> str:
    """The baseline: the resumable protocol by hand, 8 MiB bytes chunks, one httpx client."""
    size = path.stat().st_size
    with httpx.Client(timeout=120) as client:
        start = client.post(f"{base_url}/upload/v1beta/files", headers={
            "x-goog-api-key": KEY, "X-Goog-Upload-Protocol": "resumable", "X-Goog-Upload-Command": "start",
            "X-Goog-Upload-Header-Content-Length": str(size), "X-Goog-Upload-Header-Content-Type": "application/jsonl"},
            json={"file": {}})
        url = start.headers["x-goog-upload-url"]
        offset = 0
        with open(path, "rb") as fh:
            while True:
                chunk = fh.read(CHUNK)
                last = offset + len(chunk) >= size
                reply = client.post(url, content=chunk, headers={
                    "X-Goog-Upload-Command": "upload, finalize" if last else "upload", "X-Goog-Upload-Offset": str(offset)})
                offset += len(chunk)
                if last:
                    return reply.json()["file"]["name"]


def _raw_download(base_url: str, name: str, dest: Path) -> int:
    with httpx.Client(timeout=120) as client, client.stream(
            "GET", f"{base_url}/v1beta/{name}:download", params={"alt": "media"}, headers={"x-goog-api-key": KEY}) as r:
        with open(dest, "wb") as out:
            for chunk in r.iter_bytes(MB):
                out.write(chunk)
    return dest.stat().st_size


def _measure(label: str, case: str, base_url: str, arg: str, work: Path, size: int) -> dict:
    """Each case in a fresh process, so that one case's retained memory cannot show up in the next,
    and peak RSS is that of a process doing only this (imports included)."""
    code = ("import sys, json; sys.path.insert(0, %r); import bench_files; "
            "print(json.dumps(bench_files._case(%r, %r, %r, %r)))"
            % (str(Path(__file__).parent), case, base_url, arg, str(work)))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ))
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    seconds = measured["seconds"]
    return {"case": label, "MB": round(size / MB), "seconds": seconds, "MB_per_s": size / MB / seconds,
            "peak_rss_mb": measured["peak_rss_mb"], "rss_growth_mb": measured["rss_growth_mb"],
            "rss_before_mb": measured["rss_before_mb"]}


def _case(case: str, base_url: str, arg: str, work_dir: str) -> dict:
    """arg: the local file for uploads, the files/... name for downloads."""
    from airflow_provider_gemini_batch.hooks.gemini_batch import GeminiBatchHook

    hook = GeminiBatchHook("bench")
    _ = hook.settings  # connection resolved before timing
    work = Path(work_dir)
    fns = {
        "raw_upload": lambda: _raw_upload(base_url, Path(arg)),
        "hook_upload": lambda: hook.upload_file(Path(arg)),
        "raw_download": lambda: _raw_download(base_url, arg, work / "raw.out"),
        "hook_download": lambda: hook.download_file(arg, work / "hook.out"),
        "hook_download_osp": lambda: hook.download_file(arg, _object_path(work / "osp.out")),
        "sdk_download": lambda: _sdk_download(base_url, arg),
    }
    with PeakRss() as rss:
        t0 = time.perf_counter()
        fns[case]()
        seconds = time.perf_counter() - t0
    return {"seconds": seconds, "peak_rss_mb": rss.peak_mb, "rss_growth_mb": rss.growth_mb,
            "rss_before_mb": rss.base / MB}


def _sdk_download(base_url: str, name: str) -> None:
    from google import genai
    from google.genai import types

    client = genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=base_url))
    assert client.files.download(file=name)


def run(upload_mb: int = 2000, download_mb: int = 1000) -> list[dict]:
    from airflow_provider_gemini_batch.hooks.gemini_batch import GeminiBatchHook

    rows = []
    work = Path(tempfile.mkdtemp(prefix="gemini-bench-"))
    with emulator(state_dir=str(work / "emulator")) as emu:
        os.environ["AIRFLOW_CONN_BENCH"] = json.dumps({"conn_type": "gemini", "host": emu.base_url, "password": KEY})
        up = work / "upload.jsonl"
        _make_jsonl(up, upload_mb)
        size = up.stat().st_size
        rows.append(_measure("upload: raw 8 MiB chunks (baseline)", "raw_upload", emu.base_url, str(up), work, size))
        rows.append(_measure("upload: hook.upload_file", "hook_upload", emu.base_url, str(up), work, size))
        up.unlink()

        down = work / "download-src.jsonl"
        _make_jsonl(down, download_mb)
        name = GeminiBatchHook("bench").upload_file(down)["name"]
        size = down.stat().st_size
        down.unlink()
        for label, case in (("download: raw streaming GET (baseline)", "raw_download"),
                            ("download: hook.download_file -> local path", "hook_download"),
                            ("download: hook.download_file -> file:// ObjectStoragePath", "hook_download_osp"),
                            ("download: SDK files.download (bytes in memory)", "sdk_download")):
            rows.append(_measure(label, case, emu.base_url, name, work, size))
            for f in work.rglob("*.out"):
                f.unlink()
    return rows


def _object_path(path: Path):
    from airflow.sdk import ObjectStoragePath

    return ObjectStoragePath(f"file://{path}")
