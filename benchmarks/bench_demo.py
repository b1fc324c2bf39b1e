"""The main job's wall time after install: `make demo` on the emulator, venv already there."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(repeats: int = 2) -> list[dict]:
    env = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
    rows = []
    for i in range(repeats):
        t0 = time.perf_counter()
        done = subprocess.run(["bash", str(ROOT / "scripts" / "demo.sh")], env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        if done.returncode != 0:
            raise RuntimeError(f"make demo failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        rows.append({"case": f"make demo (run {i + 1}, installed)", "seconds": seconds})
    return rows
