"""`make test-matrix`: every supported (Airflow minor, Python) row, each in its own fresh venv.

For each row of scripts/compat_rows.py, in sequence:
  1. install: a venv with that Python, the project and its [test] extra installed with
     `-c constraints/<row>.txt` (reproducible; cached under .matrix/ by the hash of the constraints file
     and pyproject.toml, as scripts/bootstrap.sh does for .venv);
  2. example DAGs: `airflow dags test` of the main example DAGs against the bundled emulator, as a
     user runs them (a fresh AIRFLOW_HOME, the dags folder not on sys.path by anyone but Airflow);
  3. tests: the fast subset below (or the whole fast suite with --full).
Then the table of every row that has a result is written into docs/compatibility.md.

    python scripts/test_matrix.py                      # all rows
    python scripts/test_matrix.py airflow-3.0-py3.10   # some rows; the others keep their last result
    python scripts/test_matrix.py --smoke              # make test's floor check (FLOOR_ROW), no table
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compat_rows import FLOOR_ROW, ROOT, find_python, rows  # noqa: E402

MATRIX_DIR = ROOT / ".matrix"  # results and logs of this checkout
VENV_CACHE = Path(os.environ.get("GEMINI_BATCH_MATRIX_VENVS",
                                 Path.home() / ".cache" / "airflow-provider-gemini-batch" / "matrix-venvs"))
RESULTS_DIR = MATRIX_DIR / "results"
DOC = ROOT / "docs" / "compatibility.md"
TABLE_BEGIN, TABLE_END = "<!-- matrix-table:begin -->", "<!-- matrix-table:end -->"

# The main example DAGs: the nightly file job, @task.gemini_batch, structured output.
EXAMPLE_DAGS = ("gemini_batch_nightly", "gemini_batch_taskflow", "gemini_batch_structured")
# What every row runs: the pure core, the hook and SDK against the emulator, the trigger, the operator
# outcomes in real dag.test() runs, provider discovery and the connection form. The example DAGs run
# above through the CLI, so their in-process copies are left to `make test`, and so is the 200-trigger
# loop-lag test: it measures timing on a shared machine, not anything that differs by version.
FAST_TESTS = ("tests/unit", "tests/integration/test_hook.py", "tests/integration/test_trigger.py",
              "tests/integration/test_emulator_sdk.py", "tests/airflow/test_dag_outcomes.py",
              "tests/airflow/test_example_dags_and_provider.py::test_provider_is_discovered_with_its_connection_type",
              "tests/airflow/test_example_dags_and_provider.py::test_provider_connection_form_relabels_and_has_the_extra_fields",
              "tests/airflow/test_example_dags_and_provider.py::test_airflow_providers_list_shows_the_package",
              "tests/docs/test_connection_form_metadata.py")
DESELECT = ("tests/integration/test_trigger.py::test_two_hundred_triggers_share_one_loop_without_stalling",)
# make test's floor smoke, a few minutes: the trigger, and the operator through its main outcomes
# (deferred success, failed and expired jobs, the sensor), which is what broke on 3.0 before; the
# example DAGs above cover @task.gemini_batch and structured output.
SMOKE_TESTS = ("tests/integration/test_trigger.py",
               "tests/airflow/test_dag_outcomes.py::test_success_deferred_writes_results_and_a_small_summary",
               "tests/airflow/test_dag_outcomes.py::test_failed_and_expired_jobs_fail_the_task",
               "tests/airflow/test_dag_outcomes.py::test_sensor_waits_for_a_job_made_elsewhere")


def log(msg: str) -> None:
    print(f"[matrix {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def clean_env(extra: dict | None = None) -> dict:
    """The caller's environment without another venv or Airflow home leaking into the row."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AIRFLOW", "VIRTUAL_ENV", "PYTHONPATH", "GEMINI_", "GOOGLE_API_KEY"))}
    env["NO_PROXY"] = env["no_proxy"] = ",".join(filter(None, [env.get("NO_PROXY"), "127.0.0.1", "localhost"]))
    env.update(extra or {})
    return env


def tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def first_cause(text: str) -> str:
    """The most telling line of a failure: the last exception-looking line, else the last line."""
    lines = [l.strip() for l in text.strip().splitlines() if l.strip()]
    for line in reversed(lines):
        if ("Error" in line or "Exception" in line) and not line.startswith(("File ", "^", "raise ")):
            return line[:240]
    return lines[-1][:240] if lines else "(no output)"


# ---------------------------------------------------------------------------------------------- install
def install(row: dict) -> tuple[Path, str | None]:
    """The row's venv, installed from its constraints file; (venv, None) or (venv, cause).

    Venvs live outside the checkout (VENV_CACHE), keyed by the row and the hash of its constraints file
    and pyproject.toml, so a fresh clone (CI) reuses them; the project itself is (re)installed editable
    from this checkout on every run, which takes seconds. The caller holds the row's lock."""
    constraints = row["constraints"]
    if not constraints.exists():
        return MATRIX_DIR, f"no {constraints.relative_to(ROOT)}: run scripts/gen_constraints.py {row['id']}"
    python = find_python(row["python"])
    if not python:
        return MATRIX_DIR, f"no python{row['python']} on this machine (pyenv or PATH)"
    digest = hashlib.sha256(constraints.read_bytes() + (ROOT / "pyproject.toml").read_bytes()).hexdigest()[:16]
    venv = VENV_CACHE / f"{row['id']}-{digest}"
    vpy = str(venv / "bin" / "python")
    if (venv / ".complete").exists():
        log(f"{row['id']}: cached venv {venv}; installing this checkout into it")
        steps = [[vpy, "-m", "pip", "install", "--quiet", "--no-deps", "-e", str(ROOT)]]
    else:
        for old in VENV_CACHE.glob(f"{row['id']}-*"):  # other constraints: not needed any more
            shutil.rmtree(old, ignore_errors=True)
        log(f"{row['id']}: installing apache-airflow=={row['airflow']} on {python} into {venv}")
        steps = [[python, "-m", "venv", str(venv)],
                 [vpy, "-m", "pip", "install", "--quiet", "-c", str(constraints), "-e", f"{ROOT}[test]"],
                 [vpy, "-m", "pip", "check"]]
    for cmd in steps:
        done = subprocess.run(cmd, capture_output=True, text=True, env=clean_env())
        if done.returncode:
            return venv, first_cause(done.stdout + done.stderr)
    got = subprocess.run([vpy, "-c", "from importlib.metadata import version; print(version('apache-airflow'))"],
                         capture_output=True, text=True).stdout.strip()
    if got != row["airflow"]:
        return venv, f"installed apache-airflow {got or '?'}, expected {row['airflow']}"
    (venv / ".complete").touch()
    return venv, None


@contextmanager
def row_lock(row: dict):
    """One run per row venv at a time: the editable install points it at one checkout."""
    VENV_CACHE.mkdir(parents=True, exist_ok=True)
    with open(VENV_CACHE / f"{row['id']}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# ------------------------------------------------------------------------------------------ example DAGs
def run_example_dags(row: dict, venv: Path) -> tuple[str, str | None]:
    """`airflow dags test` of each main example DAG against the emulator; ("3/3", None) or (.., cause)."""
    bindir = venv / "bin"
    with tempfile.TemporaryDirectory(prefix=f"matrix-{row['id']}-") as tmp:
        work = Path(tmp)
        emulator_out = work / "emulator.out"
        with open(emulator_out, "w") as out, open(work / "emulator.log", "w") as err:
            emulator = subprocess.Popen(
                [str(bindir / "python"), "-m", "airflow_provider_gemini_batch.emulator", "--port", "0",
                 "--pending-seconds", "0.5", "--running-seconds", "1", "--state-dir", str(work / "emulator")],
                stdout=out, stderr=err, env=clean_env(), cwd=work)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not emulator_out.read_text().strip():
                if emulator.poll() is not None:
                    return "0/3", "emulator did not start: " + first_cause((work / "emulator.log").read_text())
                time.sleep(0.2)
            base_url = emulator_out.read_text().strip().splitlines()[0]
            env = clean_env({
                "PATH": f"{bindir}:{os.environ['PATH']}", "VIRTUAL_ENV": str(venv),
                "AIRFLOW_HOME": str(work / "airflow_home"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "example_dags"),
                "AIRFLOW_CONN_GEMINI_DEFAULT": json.dumps({"conn_type": "gemini", "host": base_url,
                                                          "password": "matrix-emulator-key"}),
                "GEMINI_BATCH_POLL_SECONDS": "0.5", "GEMINI_BATCH_OUTPUT_DIR": str(work / "out"),
                "GEMINI_BATCH_RESULTS": str(work / "out" / "nightly.jsonl"),
            })
            done = subprocess.run([str(bindir / "airflow"), "db", "migrate"], capture_output=True, text=True,
                                  env=env, cwd=work, timeout=600)
            if done.returncode:
                return "0/3", "airflow db migrate: " + first_cause(done.stdout + done.stderr)
            passed = 0
            for dag_id in EXAMPLE_DAGS:
                done = subprocess.run([str(bindir / "airflow"), "dags", "test", dag_id], capture_output=True,
                                      text=True, env=env, cwd=work, timeout=600)
                output = done.stdout + done.stderr
                (MATRIX_DIR / "logs").mkdir(parents=True, exist_ok=True)
                (MATRIX_DIR / "logs" / f"{row['id']}-{dag_id}.log").write_text(output)
                ok = done.returncode == 0 and "state=success" in output.replace("state=<DagRunState.SUCCESS", "state=success")
                if not ok:
                    return f"{passed}/{len(EXAMPLE_DAGS)}", f"{dag_id}: {first_cause(output)}"
                passed += 1
            return f"{passed}/{len(EXAMPLE_DAGS)}", None
        finally:
            emulator.terminate()
            try:
                emulator.wait(timeout=10)
            except subprocess.TimeoutExpired:
                emulator.kill()


# ------------------------------------------------------------------------------------------------- tests
def run_tests(row: dict, venv: Path, paths: tuple[str, ...] | None) -> tuple[dict, str | None]:
    """pytest in the row's venv; ({passed, failed, skipped, skip_reasons}, first failure or None)."""
    junit = MATRIX_DIR / "logs" / f"{row['id']}-junit.xml"
    junit.parent.mkdir(parents=True, exist_ok=True)
    cmd = [str(venv / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:randomly", "-m", "not slow and not e2e",
           f"--junitxml={junit}", "-rs", *(f"--deselect={t}" for t in DESELECT), *(paths or ("tests",))]
    pytest_log = MATRIX_DIR / "logs" / f"{row['id']}-pytest.log"
    with open(pytest_log, "w") as out:  # streamed, so a slow row can be watched
        done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, text=True, cwd=ROOT, timeout=3600,
                              env=clean_env({"PATH": f"{venv / 'bin'}:{os.environ['PATH']}"}))
    output = pytest_log.read_text()
    summary = [l for l in output.splitlines() if l.strip()][-1:] or ["(no output)"]
    log(f"{row['id']}: pytest: {summary[0].strip('= ')}")
    counts = {"passed": 0, "failed": 0, "skipped": 0, "skip_reasons": {}}
    failure = None
    if junit.exists():
        for case in ET.parse(junit).getroot().iter("testcase"):
            bad = case.find("failure") if case.find("failure") is not None else case.find("error")
            skip = case.find("skipped")
            if bad is not None:
                counts["failed"] += 1
                failure = failure or f"{case.get('name')}: {(bad.get('message') or '').splitlines()[0][:200] if bad.get('message') else first_cause(bad.text or '')}"
            elif skip is not None:
                counts["skipped"] += 1
                reason = (skip.get("message") or "").removeprefix("Skipped: ")[:200]
                counts["skip_reasons"][reason] = counts["skip_reasons"].get(reason, 0) + 1
            else:
                counts["passed"] += 1
    if done.returncode not in (0,) and failure is None:
        failure = f"pytest exited {done.returncode}: {first_cause(output)}"
    return counts, failure


# ------------------------------------------------------------------------------------------------- table
def write_table() -> None:
    results = {r["id"]: json.loads((RESULTS_DIR / f"{r['id']}.json").read_text())
               for r in rows() if (RESULTS_DIR / f"{r['id']}.json").exists()}
    lines = ["| Airflow | Python | install | example DAGs | tests (passed / failed / skipped) | result | first cause | run |",
             "|---|---|---|---|---|---|---|---|"]
    for row in rows():
        res = results.get(row["id"])
        if res is None:
            lines.append(f"| {row['airflow']} | {row['python']} | not run | | | | | |")
            continue
        t = res.get("tests")
        tests = f"{t['passed']} / {t['failed']} / {t['skipped']}" if t else "not run"
        cause = (res.get("cause") or "").replace("|", "\\|")
        lines.append(f"| {row['airflow']} | {res['python_full']} | {res['install']} | {res.get('examples') or 'not run'} | "
                     f"{tests} | {'**green**' if res['green'] else '**red**'} | {cause} | {res['finished'][:10]}, {res['minutes']} min |")
    skips: dict[str, set[str]] = {}
    for rid, res in results.items():
        for reason in (res.get("tests") or {}).get("skip_reasons", {}):
            skips.setdefault(reason, set()).add(rid)
    if skips:
        lines += ["", "Skipped tests, with the reason each test gives (rows where it applies):", ""]
        lines += [f"- {reason or '(no reason given)'} ({', '.join(sorted(ids))})" for reason, ids in sorted(skips.items())]
    text = DOC.read_text()
    begin, end = text.index(TABLE_BEGIN) + len(TABLE_BEGIN), text.index(TABLE_END)
    DOC.write_text(text[:begin] + "\n" + "\n".join(lines) + "\n" + text[end:])
    log(f"table written to {DOC.relative_to(ROOT)}")


def run_row(row: dict, tests: tuple[str, ...] | None, smoke: bool) -> dict:
    started = time.monotonic()
    log(f"==== {row['id']} (apache-airflow=={row['airflow']}, Python {row['python']})")
    with row_lock(row):
        return _run_row(row, tests, smoke, started)


def _run_row(row: dict, tests: tuple[str, ...] | None, smoke: bool, started: float) -> dict:
    venv, cause = install(row)
    result = {"id": row["id"], "airflow": row["airflow"], "python": row["python"], "install": "ok" if not cause else "fail",
              "examples": None, "tests": None, "cause": cause}
    pyver = subprocess.run([str(venv / "bin" / "python"), "-c", "import platform; print(platform.python_version())"],
                           capture_output=True, text=True).stdout.strip() if not cause else row["python"]
    result["python_full"] = pyver or row["python"]
    if not cause:
        log(f"{row['id']}: example DAGs {', '.join(EXAMPLE_DAGS)}")
        result["examples"], cause = run_example_dags(row, venv)
        result["cause"] = cause
        log(f"{row['id']}: tests ({'whole fast suite' if tests is None else ' '.join(tests)})")
        result["tests"], test_cause = run_tests(row, venv, tests)
        result["cause"] = result["cause"] or test_cause
    result["green"] = result["cause"] is None
    result["minutes"] = round((time.monotonic() - started) / 60, 1)
    result["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    if not smoke:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        (RESULTS_DIR / f"{row['id']}.json").write_text(json.dumps(result, indent=1))
        write_table()  # after every row, so an interrupted run still shows what it finished
    t = result["tests"]
    log(f"{row['id']}: {'GREEN' if result['green'] else 'RED'} in {result['minutes']} min; install {result['install']}, "
        f"examples {result['examples']}, tests {t and (t['passed'], t['failed'], t['skipped'])}"
        + (f"; cause: {result['cause']}" if result["cause"] else ""))
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("rows", nargs="*", help="row ids (default: all)")
    parser.add_argument("--full", action="store_true", help="the whole fast suite instead of the subset")
    parser.add_argument("--smoke", action="store_true", help="make test's floor check: trigger and operator tests")
    parser.add_argument("--table", action="store_true", help="only rewrite the table from the last results")
    args = parser.parse_args(argv)
    if args.table:
        write_table()
        return 0
    known = {r["id"]: r for r in rows()}
    unknown = [r for r in args.rows if r not in known]
    if unknown:
        parser.error(f"unknown rows {unknown}; rows: {list(known)}")
    wanted = [known[r] for r in args.rows] if args.rows else list(known.values())
    if args.smoke and not args.rows:
        wanted = [known[FLOOR_ROW]]
    tests = SMOKE_TESTS if args.smoke else (None if args.full else FAST_TESTS)
    if not args.smoke:
        write_table()  # every row is on the page (as "not run" until it has a result) while rows run
    results = [run_row(row, tests, args.smoke) for row in wanted]  # in sequence: the machine has 2 cores
    if not args.smoke:
        write_table()
    red = [r["id"] for r in results if not r["green"]]
    log(f"{len(results) - len(red)} of {len(results)} rows green" + (f"; red: {', '.join(red)}" if red else ""))
    return 1 if red else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
