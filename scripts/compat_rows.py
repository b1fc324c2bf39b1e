"""The supported range, one row per (Airflow minor, Python): the single source for the constraints
generator, the matrix runner and the packaging test, so the README, docs/compatibility.md and what is
tested cannot drift apart.

Each Airflow minor is tested at its last patch release, with the lowest and the highest Python that
release supports and that this machine kind has (pyenv: 3.10-3.13; Airflow 3.0 stops at 3.12).
`resolved_at` is the moment just after that Airflow release reached PyPI: its dependencies are
resolved as they were then (pip's --uploaded-prior-to), like Airflow's own constraints file of that
release, because today's versions of its dependencies may break it (3.2.2 with a newer fastapi does).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# airflow minor -> (release tested, its PyPI upload time + 1 h, pythons tested)
AIRFLOW_MINORS = {
    "3.0": ("3.0.6", "2025-08-29T17:00:00Z", ("3.10", "3.12")),
    "3.1": ("3.1.8", "2026-03-11T20:30:00Z", ("3.10", "3.13")),
    "3.2": ("3.2.2", "2026-05-29T06:30:00Z", ("3.10", "3.13")),
    "3.3": ("3.3.2", "2026-09-17T09:40:00Z", ("3.10", "3.13")),
}

# The oldest row: what `make test` runs as its floor smoke.
FLOOR_ROW = "airflow-3.0-py3.10"


def rows() -> list[dict]:
    out = []
    for minor, (release, resolved_at, pythons) in AIRFLOW_MINORS.items():
        for py in pythons:
            out.append({"id": f"airflow-{minor}-py{py}", "minor": minor, "airflow": release, "python": py,
                        "resolved_at": resolved_at,
                        "constraints": ROOT / "constraints" / f"airflow-{minor}-py{py}.txt"})
    return out


def find_python(version: str) -> str | None:
    """The interpreter for `version` (e.g. "3.10"): pyenv's newest patch first, then PATH."""
    root = os.environ.get("PYENV_ROOT")
    if not root and shutil.which("pyenv"):
        root = subprocess.run(["pyenv", "root"], capture_output=True, text=True).stdout.strip()
    if root and (Path(root) / "versions").is_dir():
        found = sorted((p for p in (Path(root) / "versions").glob(f"{version}.*")
                        if p.name.split(".")[2].isdigit() and (p / "bin" / f"python{version}").exists()),
                       key=lambda p: int(p.name.split(".")[2]))
        if found:
            return str(found[-1] / "bin" / f"python{version}")
    return shutil.which(f"python{version}")


if __name__ == "__main__":
    for row in rows():
        print(row["id"], row["airflow"], row["python"], find_python(row["python"]))
