"""The README's production notes: the pool recipe runs as written and makes a pool that counts deferred tasks."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.usefixtures("airflow_db")


def test_the_pool_recipe_creates_a_pool_whose_slots_count_deferred_tasks():
    readme = (ROOT / "README.md").read_text()
    notes = readme[readme.index("## Production notes"):readme.index("## Troubleshooting")]
    command = re.search(r"^\s*(airflow pools set .+)$", notes, re.M).group(1)
    assert "--include-deferred" in command and 'pool="gemini_batch"' in notes
    env = dict(os.environ)
    done = subprocess.run([sys.executable, "-m", *shlex.split(command)], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    got = subprocess.run([sys.executable, "-m", "airflow", "pools", "get", "gemini_batch", "-o", "json"], env=env,
                         capture_output=True, text=True, timeout=120)
    pool = json.loads(got.stdout[got.stdout.index("["):])[0]
    assert pool["pool"] == "gemini_batch" and int(pool["slots"]) == 100
    assert str(pool["include_deferred"]).lower() == "true"
    subprocess.run([sys.executable, "-m", "airflow", "pools", "delete", "gemini_batch"], env=env,
                   capture_output=True, timeout=120)
