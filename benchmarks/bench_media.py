"""Media uploads at scale: 2 GB of media files checked, hashed and uploaded (bounded parallelism)
by the media operator's own steps, with the process's memory sampled throughout. The baseline is one
file uploaded by hook.upload_file alone: media handling should add next to nothing to its footprint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import MB, PeakRss, emulator

KEY = "bench-key"


def _make_media(folder: Path, total_mb: int, files: int) -> None:
    """MP4-looking files (an ftyp box, then non-repeating bytes): distinct contents, no compression."""
    folder.mkdir(parents=True, exist_ok=True)
    each = total_mb * MB // files
    block = os.urandom(MB)
    for i in range(files):
        with open(folder / f"clip-{i:03d}.mp4", "wb") as fh:
            fh.write(b"\x00\x00\x00\x18ftypmp42" + i.to_bytes(8, "big"))
            written = 16
            n = 0
            while written < each:
                piece = n.to_bytes(8, "big") + block[8:min(MB, each - written)]
                fh.write(piece)
                written += len(piece)
                n += 1


def _case(case: str, folder: str, concurrency: int) -> dict:
    from airflow_provider_gemini_batch.hooks.gemini_batch import GeminiBatchHook
    from airflow_provider_gemini_batch.media_sources import expand_locations, inspect_all
    from airflow_provider_gemini_batch.media_uploads import delete_files, survey, upload_distinct

    if case == "media_osp":
        from airflow.sdk import ObjectStoragePath  # noqa: F401 - its import cost is not the upload's

        list(ObjectStoragePath(f"file://{folder}").glob("*.mp4"))
    hook = GeminiBatchHook("bench")
    _ = hook.settings  # connection resolved before timing
    with PeakRss() as rss:
        t0 = time.perf_counter()
        if case == "single":
            first = sorted(Path(folder).glob("*.mp4"))[0]
            names = [hook.upload_file(first, mime_type="video/mp4")["name"]]
        else:
            paths = expand_locations(f"file://{folder}/*.mp4" if case == "media_osp" else folder)
            items = inspect_all(paths, None)
            survey(hook, 0.0)
            uploaded: dict = {}
            upload_distinct(hook, [(i.sha256, i, p) for i, p in zip(items, paths)], concurrency, into=uploaded)
            names = [m["name"] for m in uploaded.values()]
        seconds = time.perf_counter() - t0
    delete_files(hook, names)
    size = sum(p.stat().st_size for p in Path(folder).glob("*.mp4")) if case != "single" else \
        sorted(Path(folder).glob("*.mp4"))[0].stat().st_size
    return {"seconds": seconds, "MB": size / MB, "files": len(names), "peak_rss_mb": rss.peak_mb,
            "rss_growth_mb": rss.growth_mb}


def _measure(label: str, case: str, folder: Path, concurrency: int) -> dict:
    """Each case in a fresh process, so the peak is that of a process doing only this."""
    code = ("import sys, json; sys.path.insert(0, %r); import bench_media; "
            "print(json.dumps(bench_media._case(%r, %r, %d)))" % (str(Path(__file__).parent), case, str(folder),
                                                                  concurrency))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ))
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    m = json.loads(done.stdout.strip().splitlines()[-1])
    return {"case": label, "files": m["files"], "MB": round(m["MB"]), "seconds": m["seconds"],
            "MB_per_s": m["MB"] / m["seconds"], "peak_rss_mb": m["peak_rss_mb"], "rss_growth_mb": m["rss_growth_mb"]}


def run(total_mb: int = 2048, files: int = 16, concurrency: int = 4) -> list[dict]:
    work = Path(tempfile.mkdtemp(prefix="gemini-bench-media-"))
    rows = []
    with emulator(state_dir=str(work / "emulator")) as emu:
        os.environ["AIRFLOW_CONN_BENCH"] = json.dumps({"conn_type": "gemini", "host": emu.base_url, "password": KEY})
        folder = work / "media"
        _make_media(folder, total_mb, files)
        rows.append(_measure("one file, hook.upload_file (baseline)", "single", folder, 1))
        rows.append(_measure(f"media: check + sha256 + upload, {concurrency} in flight (local path)", "media",
                             folder, concurrency))
        rows.append(_measure("media: same from a file:// ObjectStoragePath glob", "media_osp", folder, concurrency))
    for p in folder.glob("*"):
        p.unlink()
    return rows
