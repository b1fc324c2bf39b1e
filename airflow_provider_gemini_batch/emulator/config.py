"""Emulator settings: command-line flags with matching GEMINI_EMULATOR_* environment variables."""

from __future__ import annotations

import argparse
import os
from dataclasses import asdict, dataclass, field, fields


def _env(name: str, default):
    raw = os.environ.get(f"GEMINI_EMULATOR_{name.upper()}")
    if raw is None or raw == "":
        return default
    if isinstance(default, bool):
        return raw.lower() in ("1", "true", "yes", "on")
    if isinstance(default, float):
        return float(raw)
    if isinstance(default, int):
        return int(raw)
    return raw


PROFILES = ("default", "realistic")


@dataclass
class EmulatorConfig:
    """Everything a test or a user can tune. Timings are seconds; rates are fractions of calls."""

    host: str = "127.0.0.1"
    port: int = 8000
    # Empty: any non-empty key is accepted. Set: every other key is rejected like a bad real key.
    api_key: str = ""
    pending_seconds: float = 1.0
    running_seconds: float = 2.0
    state_dir: str = ""
    # Fault injection, applied to every API call except the /_emulator admin routes.
    rate_429: float = 0.0
    rate_500: float = 0.0
    rate_503: float = 0.0
    # A dropped connection: the request is processed, then the connection is cut mid-reply,
    # so the client cannot tell whether it took effect (the worst case for a create call).
    rate_drop: float = 0.0
    latency_ms: float = 0.0
    # How long a scripted "stall_after" fault holds a reply that has already taken effect.
    stall_seconds: float = 10.0
    seed: int = 0
    page_size_default: int = 50
    page_size_max: int = 1000
    # Per-request errors carry google.rpc detail objects, which the SDK's JobError cannot parse.
    object_error_details: bool = False
    quiet: bool = False
    # ---- profile "realistic": the service as users report it, not as the guide describes it
    # (docs/emulator.md cites where each behaviour was reported). "default" keeps the guide's behaviour.
    profile: str = "default"
    # Emulated seconds per real second for the realistic profile's long durations (file expiry, job
    # expiry): 3600 makes an hour pass in a second. Job pending/running times stay in real seconds.
    time_scale: float = 1.0
    # Live (PENDING or RUNNING) jobs per project; one more create is refused with 429.
    max_concurrent_jobs: int = 100
    # Enqueued tokens per model (estimated from request text, chars_per_token characters a token);
    # a create that would exceed it is refused with 429 until live jobs of that model finish.
    # Per-model overrides: "gemini-2.5-pro=5000000,gemini-2.5-flash=3000000".
    enqueued_token_budget: int = 3_000_000
    enqueued_token_budgets: str = ""
    chars_per_token: float = 4.0
    # File API storage per project, and the lifetime of every file (emulated hours).
    file_storage_bytes: int = 20 * 1024 ** 3
    file_ttl_hours: float = 48.0
    # Share of new jobs that stay PENDING until they EXPIRE, job_expiry_hours (emulated) after creation.
    stuck_pending_share: float = 0.0
    job_expiry_hours: float = 48.0
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ValueError(f"Unknown emulator profile {self.profile!r}; use one of {', '.join(PROFILES)}.")

    @property
    def realistic(self) -> bool:
        return self.profile == "realistic"

    def token_budget(self, model: str) -> int:
        """The enqueued-token budget of one model ("models/x" or "x")."""
        short = model.removeprefix("models/")
        for item in filter(None, (p.strip() for p in self.enqueued_token_budgets.split(","))):
            name, _, value = item.partition("=")
            if name.strip().removeprefix("models/") == short:
                return int(value)
        return self.enqueued_token_budget

    def emulated_to_real(self, hours: float) -> float:
        """Real seconds for a duration given in emulated hours."""
        return hours * 3600.0 / max(self.time_scale, 1e-9)

    @classmethod
    def from_env(cls, **overrides) -> EmulatorConfig:
        values = {f.name: _env(f.name, f.default) for f in fields(cls) if f.name != "extra"}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def public(self) -> dict:
        data = asdict(self)
        data["api_key"] = "<set>" if self.api_key else ""
        return data

    @classmethod
    def parse_args(cls, argv=None) -> EmulatorConfig:
        base = cls.from_env()
        parser = argparse.ArgumentParser(
            prog="python -m airflow_provider_gemini_batch.emulator",
            description="A local Gemini Batch + Files API for tests and offline DAG runs.",
        )
        for f in fields(cls):
            if f.name == "extra":
                continue
            flag = "--" + f.name.replace("_", "-")
            default = getattr(base, f.name)
            if isinstance(default, bool):
                parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default)
            elif f.name == "profile":
                parser.add_argument(flag, choices=PROFILES, default=default,
                                    help="(env GEMINI_EMULATOR_PROFILE) default: as the guide describes the API; "
                                         "realistic: as users of the real service report it (docs/emulator.md)")
            else:
                shown = "<hidden>" if f.name == "api_key" else repr(default)
                parser.add_argument(flag, type=type(default), default=default,
                                    help=f"(env GEMINI_EMULATOR_{f.name.upper()}, default {shown})")
        ns = parser.parse_args(argv)
        return cls(**vars(ns))
