"""A real Airflow deployment for end-to-end tests: PostgreSQL, api-server, scheduler (LocalExecutor),
dag-processor and triggerer, each its own process group so that a test can kill or restart one."""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psycopg2

PG_USER = "gemini_batch_e2e"
PG_PASSWORD = "e2e-" + "local-only"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_ready() -> bool:
    try:
        psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres", connect_timeout=2).close()
        return True
    except psycopg2.OperationalError as exc:
        # A password prompt means the server is up; we only wanted to know that.
        return "password" in str(exc)


def ensure_postgres(timeout: float = 90) -> None:
    """Start the machine's PostgreSQL 15 cluster if it is down (CI starts nothing for us).

    Readiness is the verdict, not pg_ctlcluster's exit code: on a machine restored from a snapshot the data
    directory holds the postmaster.pid of a server that was killed, and a start that races another starter
    (a second test process, another checkout's suite) exits 1 with "lock file already exists" while the
    server it lost to comes up and serves. CI failed that way once, with the server accepting connections.
    """
    if shutil.which("pg_ctlcluster") is None:
        raise RuntimeError("PostgreSQL is not installed (pg_ctlcluster not found)")
    if _pg_ready():
        return
    # One starter at a time on this machine; the others wait here and then find it ready.
    with open("/tmp/airflow-provider-gemini-batch-postgres.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        attempts = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if _pg_ready():
                return
            status = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True).stdout
            if " online" not in status:
                started = subprocess.run(["pg_ctlcluster", "15", "main", "start"], capture_output=True, text=True)
                attempts.append(f"exit {started.returncode}: {(started.stdout + started.stderr).strip()[-1500:]}")
            for _ in range(50):
                if _pg_ready():
                    return
                time.sleep(0.2)
        raise RuntimeError(f"PostgreSQL did not accept connections within {timeout:.0f} s; start attempts:\n"
                           + "\n".join(attempts))


def _psql(sql: str, db: str = "postgres") -> None:
    subprocess.run(["su", "postgres", "-c", f"psql -q -d {db} -v ON_ERROR_STOP=1 -c \"{sql}\""], check=True,
                   capture_output=True, cwd="/")


def create_database() -> str:
    name = f"airflow_e2e_{secrets.token_hex(4)}"
    _psql(f"DO \\$\\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{PG_USER}') THEN "
          f"CREATE ROLE {PG_USER} LOGIN PASSWORD '{PG_PASSWORD}'; END IF; END \\$\\$;")
    _psql(f"CREATE DATABASE {name} OWNER {PG_USER}")
    return name


def drop_database(name: str) -> None:
    _psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


class AirflowCluster:
    COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")

    def __init__(self, home: Path, dags_folder: Path, extra_env: dict[str, str]):
        self.home = home
        self.db = create_database()
        self.api_port = _free_port()
        self.env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN":
                f"postgresql+psycopg2://{PG_USER}:{PG_PASSWORD}@127.0.0.1:5432/{self.db}",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{self.api_port}",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.api_port}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(16),
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "2",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            **extra_env,
        }
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs = home / "component-logs"
        self.logs.mkdir(parents=True, exist_ok=True)

    def airflow(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "airflow", *args], env=self.env, capture_output=True,
                              text=True, timeout=300)
        if check and done.returncode != 0:
            raise AssertionError(f"airflow {' '.join(args)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n"
                                 f"{done.stderr[-3000:]}")
        return done

    def start(self, *components: str) -> None:
        for name in components or self.COMPONENTS:
            log = open(self.logs / f"{name}.log", "ab")
            self.procs[name] = subprocess.Popen([sys.executable, "-m", "airflow", name], env=self.env,
                                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)

    def log_text(self) -> str:
        parts = [p.read_text(errors="replace") for p in self.logs.glob("*.log")]
        parts += [p.read_text(errors="replace") for p in (self.home / "logs").rglob("*") if p.is_file()]
        return "\n".join(parts)

    def task_log_text(self, dag_id: str) -> str:
        return "\n".join(p.read_text(errors="replace") for p in (self.home / "logs").rglob("*")
                         if p.is_file() and f"dag_id={dag_id}" in str(p))

    # ---- the metadata DB, read directly
    def query(self, sql: str, *params):
        conn = psycopg2.connect(host="127.0.0.1", port=5432, user=PG_USER, password=PG_PASSWORD, dbname=self.db)
        try:
            with conn, conn.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall()
        finally:
            conn.close()

    def wait_for(self, what: str, predicate, timeout: float = 120, interval: float = 0.5):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            last = predicate()
            if last:
                return last
            time.sleep(interval)
        raise AssertionError(f"timed out waiting for {what} (last: {last!r}); logs in {self.logs}")

    def ti(self, dag_id: str, task_id: str):
        rows = self.query("SELECT state, try_number, id FROM task_instance WHERE dag_id=%s AND task_id=%s",
                          dag_id, task_id)
        return rows[0] if rows else None

    def dag_run_state(self, dag_id: str):
        rows = self.query("SELECT state FROM dag_run WHERE dag_id=%s", dag_id)
        return rows[0][0] if rows else None

    def trigger_kwargs(self, dag_id: str, task_id: str) -> str | None:
        rows = self.query("SELECT t.kwargs FROM trigger t JOIN task_instance ti ON ti.trigger_id = t.id "
                          "WHERE ti.dag_id=%s AND ti.task_id=%s", dag_id, task_id)
        return rows[0][0] if rows else None

    def close(self) -> None:
        self.stop_all()
        drop_database(self.db)
