"""Run the emulator: in this process (the CLI) or as a child process (tests, demo, users' fixtures)."""

from __future__ import annotations

import copy
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from typing import Any

from .config import EmulatorConfig
from .faults import DroppedConnection


class _HideDroppedConnections(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, DroppedConnection)


def serve(config: EmulatorConfig) -> None:
    """Bind first (so --port 0 can report the real port), print the base URL, then serve forever."""
    import uvicorn

    from .app import create_asgi

    asgi, app = create_asgi(config)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((config.host, config.port))
    port = sock.getsockname()[1]
    print(f"http://{config.host}:{port}", flush=True)
    print(f"state directory: {app.state.state_dir}", flush=True)
    # stdout carries only the two lines above; every log line goes to stderr, so a parent that reads
    # just the base URL never has to drain a pipe that would otherwise fill up and freeze the server.
    log_config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    for handler in log_config["handlers"].values():
        handler["stream"] = "ext://sys.stderr"
    server = uvicorn.Server(uvicorn.Config(
        asgi, log_level="warning" if config.quiet else "info", access_log=not config.quiet, timeout_keep_alive=30,
        backlog=4096, limit_concurrency=None, log_config=log_config,
    ))
    logging.getLogger("uvicorn.error").addFilter(_HideDroppedConnections())
    server.run(sockets=[sock])


class EmulatorProcess:
    """A child-process emulator with helpers for the admin API. Use as a context manager.

    Settings are the CLI flags as keywords, e.g. ``EmulatorProcess(profile="realistic", max_concurrent_jobs=40)``
    for the service as users report it (docs/emulator.md)."""

    def __init__(self, log_path: str | None = None, **settings: Any):
        self.settings = settings
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self.base_url = ""
        self._log: Any = None

    def start(self, timeout: float = 30.0) -> EmulatorProcess:
        args = [sys.executable, "-m", "airflow_provider_gemini_batch.emulator",
                "--port", str(self.settings.pop("port", 0))]
        for key, value in self.settings.items():
            flag = "--" + key.replace("_", "-")
            if isinstance(value, bool):
                args.append(flag if value else "--no-" + key.replace("_", "-"))
            else:
                args += [flag, str(value)]
        env = dict(os.environ)
        env.pop("GEMINI_EMULATOR_API_KEY", None)  # only what the caller passes in settings counts
        self._log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self._log, env=env)
        deadline = time.monotonic() + timeout
        stdout = self.proc.stdout
        assert stdout is not None  # stdout=PIPE
        line = stdout.readline().decode().strip()
        if not line.startswith("http"):
            self.stop()
            raise RuntimeError(f"emulator did not start (first line {line!r}); see {self.log_path}")
        self.base_url = line
        # Keep draining stdout so that nothing the server prints can ever block it.
        threading.Thread(target=stdout.read, daemon=True).start()
        while time.monotonic() < deadline:
            try:
                self.admin("GET", "health")
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("emulator did not become healthy in time")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()
        if self._log not in (None, subprocess.DEVNULL):
            self._log.close()

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- admin helpers
    def admin(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.base_url}/_emulator/{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"{}")

    def stats(self) -> dict:
        return self.admin("GET", "stats")

    def reset(self) -> None:
        self.admin("POST", "reset", {})

    def configure(self, **changes: Any) -> dict:
        return self.admin("POST", "config", changes)

    def script_faults(self, route: str, *faults: str) -> None:
        self.admin("POST", "faults", {"route": route, "faults": list(faults)})

    def force_state(self, job_name: str, state: str) -> dict:
        return self.admin("POST", f"jobs/{job_name.removeprefix('batches/')}/state", {"state": state})
