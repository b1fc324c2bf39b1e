"""Large files through the emulator and the hook, with peak RSS of both processes measured.

Run with `make test-slow` (not part of `make test`). Figures are printed; the bounds are loose
(these machines are shared) and only catch "the whole file was held in memory".
"""

from __future__ import annotations

import json
import os
import threading
import time

import psutil
import pytest

from airflow_provider_gemini_batch.hooks.gemini_batch import GeminiBatchHook

pytestmark = pytest.mark.slow
MB = 1024 * 1024
SIZE_MB = int(os.environ.get("GEMINI_BATCH_LARGE_MB", "300"))


class PeakRss:
    def __init__(self, pid: int):
        self.proc = psutil.Process(pid)
        self.peak = self.proc.memory_info().rss
        self.base = self.peak
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.02)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.base) / MB


def write_jsonl(path, size_mb):
    filler = "x" * 400
    with open(path, "w") as fh:
        i = 0
        while fh.tell() < size_mb * MB:
            fh.write(json.dumps({"key": f"k{i}", "request": {"contents": [{"parts": [{"text": f"{i} {filler}"}]}]}}) + "\n")
            i += 1
    return i


def test_large_upload_job_and_download_in_flat_memory(gemini_conn, tmp_path, capsys):
    src = tmp_path / "big.jsonl"
    lines = write_jsonl(src, SIZE_MB)
    hook = GeminiBatchHook()
    emulator_pid = gemini_conn.proc.pid
    gemini_conn.configure(pending_seconds=0, running_seconds=0)
    with PeakRss(os.getpid()) as client, PeakRss(emulator_pid) as server:
        t0 = time.perf_counter()
        meta = hook.upload_file(src)
        upload_s = time.perf_counter() - t0
    assert int(meta["sizeBytes"]) == src.stat().st_size
    upload = (client.growth_mb, server.growth_mb, upload_s)

    name = hook.create_batch("gemini-2.5-flash", file_name=meta["name"], display_name="large")["name"]
    with PeakRss(emulator_pid) as processing:
        deadline = time.time() + 900
        while not (snap := hook.get_snapshot(name)).is_terminal and time.time() < deadline:
            time.sleep(1)
    assert snap.state == "JOB_STATE_SUCCEEDED" and snap.request_count == lines

    out = tmp_path / "results.jsonl"
    result_size = int(hook.get_file(snap.responses_file)["sizeBytes"])
    with PeakRss(os.getpid()) as client, PeakRss(emulator_pid) as server:
        t0 = time.perf_counter()
        written = hook.download_file(snap.responses_file, out)
        download_s = time.perf_counter() - t0
    assert written == result_size == out.stat().st_size

    # The same file through write_results (parsed records) and through the SDK (bytes in memory).
    from airflow_provider_gemini_batch.results_writer import write_results
    with PeakRss(os.getpid()) as ours:
        t0 = time.perf_counter()
        summary = write_results(hook, name, tmp_path / "records.jsonl")
        records_s = time.perf_counter() - t0
    assert summary["records"] == lines and summary["missing"] == 0
    from google import genai
    from google.genai import types
    sdk = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=gemini_conn.base_url))
    with PeakRss(os.getpid()) as theirs:
        t0 = time.perf_counter()
        data = sdk.files.download(file=snap.responses_file)
        sdk_s = time.perf_counter() - t0
    assert len(data) == result_size
    del data
    with capsys.disabled():
        print(f"\nwrite_results {result_size / MB:.0f} MB -> {lines} records: {records_s:.1f}s, RSS growth "
              f"{ours.growth_mb:.1f} MB; SDK files.download: {result_size / MB / sdk_s:.0f} MB/s, RSS growth "
              f"{theirs.growth_mb:.1f} MB")
    assert ours.growth_mb < 100
    with capsys.disabled():
        print(f"\nupload {SIZE_MB} MB: {SIZE_MB / upload[2]:.0f} MB/s, RSS growth client {upload[0]:.1f} MB, "
              f"emulator {upload[1]:.1f} MB")
        print(f"job over {lines} lines: emulator RSS growth {processing.growth_mb:.1f} MB")
        print(f"download {result_size / MB:.0f} MB: {result_size / MB / download_s:.0f} MB/s, RSS growth client "
              f"{client.growth_mb:.1f} MB, emulator {server.growth_mb:.1f} MB")
    for growth in (upload[0], upload[1], processing.growth_mb, client.growth_mb, server.growth_mb):
        assert growth < 100, growth  # the file is hundreds of MB: holding it would show
