"""Shared by the benchmarks: an RSS sampler, percentiles, the emulator, and the table printer."""

from __future__ import annotations

import json
import os
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psutil

MB = 1024 * 1024


class PeakRss:
    """Samples a process's RSS every 10 ms; peak and growth over the starting value."""

    def __init__(self, pid: int | None = None):
        self.proc = psutil.Process(pid or os.getpid())
        self.base = self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.01)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float:
        return self.peak / MB

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.base) / MB


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


@contextmanager
def emulator(**settings: Any) -> Iterator[Any]:
    from airflow_provider_gemini_batch.emulator import EmulatorProcess

    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    with EmulatorProcess(quiet=True, **settings) as emu:
        yield emu


def print_table(title: str, rows: list[dict], columns: list[str]) -> None:
    print(f"\n## {title}\n")
    print("| " + " | ".join(columns) + " |")
    print("|" + "|".join("---" for _ in columns) + "|")
    for row in rows:
        print("| " + " | ".join(_fmt(row.get(c)) for c in columns) + " |")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return "" if value is None else str(value)


def machine() -> dict:
    return {"cpus": os.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 1024 ** 3, 1),
            "python": ".".join(map(str, __import__("sys").version_info[:3])),
            "load_avg_at_start": [round(x, 2) for x in os.getloadavg()]}


def save(path: str, data: dict) -> None:
    with open(path, "w") as fh:
        json.dump(data, fh, indent=2, default=str)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
