"""Every command and code block in the README is exercised here, so the README cannot drift."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```(\w+)\n(.*?)```", README, re.S)


def blocks(lang):
    return [body for kind, body in BLOCKS if kind == lang]


def test_first_screen_has_exactly_the_two_setup_commands():
    first = blocks("bash")[0]
    commands = [l.split("#")[0].strip() for l in first.splitlines() if l.strip()]
    assert commands == ["make demo", "make test"]
    makefile = (ROOT / "Makefile").read_text()
    assert "demo:\n\tbash scripts/demo.sh" in makefile and "test:\n\tbash scripts/test.sh" in makefile
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_every_make_target_named_in_the_readme_exists():
    targets = set(re.findall(r"^([a-z-]+):", (ROOT / "Makefile").read_text(), re.M))
    named = set(re.findall(r"`make ([a-z-]+)`", README)) | set(re.findall(r"^make ([a-z-]+)", README, re.M))
    assert named and named <= targets, named - targets


def test_python_blocks_compile_and_the_dag_parses(tmp_path):
    for body in blocks("python"):
        ast.parse(body)
    dag_block = blocks("python")[0]
    (tmp_path / "readme_dag.py").write_text(dag_block)
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(tmp_path))
    assert not bag.import_errors, bag.import_errors
    assert "nightly_summaries" in bag.dags
    task = bag.dags["nightly_summaries"].get_task("summarise")
    assert type(task).__name__ == "GeminiBatchSubmitOperator"


def test_install_command_names_our_distribution():
    install = next(b for b in blocks("bash") if "pip install" in b)
    assert "pip install airflow-provider-gemini-batch" in install
    assert 'name = "airflow-provider-gemini-batch"' in (ROOT / "pyproject.toml").read_text()


def test_connection_env_json_in_the_readme_resolves(monkeypatch):
    line = re.search(r"AIRFLOW_CONN_GEMINI_DEFAULT='(\{.*?\})'", README).group(1)
    monkeypatch.setenv("AIRFLOW_CONN_GEMINI_DEFAULT", line.replace("<your key>", "k-123456"))
    from airflow_provider_gemini_batch.hooks.gemini_batch import GeminiBatchHook

    settings = GeminiBatchHook().settings
    assert settings.api_key == "k-123456" and settings.base_url == "https://generativelanguage.googleapis.com"


@pytest.mark.usefixtures("airflow_db")
def test_connections_add_cli_from_the_readme(tmp_path):
    cmd = re.search(r"`(airflow connections add gemini_default [^`]+)`", README).group(1)
    args = cmd.replace('"<your key>"', "cli-key-123").split()[1:]
    env = dict(os.environ)
    done = subprocess.run([sys.executable, "-m", "airflow", *args], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    got = subprocess.run([sys.executable, "-m", "airflow", "connections", "get", "gemini_default", "-o", "json"],
                         env=env, capture_output=True, text=True)
    conn = json.loads(got.stdout[got.stdout.index("["):])[0]
    assert conn["conn_type"] == "gemini"
    subprocess.run([sys.executable, "-m", "airflow", "connections", "delete", "gemini_default"], env=env,
                   capture_output=True)


def test_emulator_command_from_the_readme_starts_and_prints_its_url():
    cmd = next(b for b in blocks("bash") if "airflow_provider_gemini_batch.emulator" in b).split("#")[0].split()
    assert cmd[:3] == ["python", "-m", "airflow_provider_gemini_batch.emulator"]
    proc = subprocess.Popen([sys.executable, *cmd[1:]], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert proc.stdout.readline().decode().startswith("http://127.0.0.1:")
    finally:
        proc.terminate()
        proc.wait(10)


def test_readme_links_point_at_files_that_exist():
    for link in re.findall(r"\]\(((?:docs|example_dags)/[^)#]+)\)", README):
        assert (ROOT / link).exists(), link
    for name in re.findall(r"`(gemini_batch_[a-z_]+)`", README):
        assert (ROOT / "example_dags" / f"{name}.py").exists(), name


def test_make_demo_runs_the_main_job_end_to_end(tmp_path):
    """The first README command, as a new user runs it (the venv make test made is reused)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AIRFLOW") and k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
    env["GEMINI_BATCH_RESULTS"] = str(tmp_path / "results.jsonl")
    if sys.prefix != sys.base_prefix:  # reuse the running venv (never a resolved system interpreter)
        env["GEMINI_BATCH_VENV"] = sys.prefix
    done = subprocess.run(["make", "demo"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "starting the bundled emulator" in done.stdout and "JOB_STATE_SUCCEEDED" in done.stdout
    records = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert len(records) == 10 and {r["status"] for r in records} == {"ok"}
