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
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_env(cls, **overrides) -> "EmulatorConfig":
        values = {f.name: _env(f.name, f.default) for f in fields(cls) if f.name != "extra"}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def public(self) -> dict:
        data = asdict(self)
        data["api_key"] = "<set>" if self.api_key else ""
        return data

    @classmethod
    def parse_args(cls, argv=None) -> "EmulatorConfig":
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
            else:
                shown = "<hidden>" if f.name == "api_key" else repr(default)
                parser.add_argument(flag, type=type(default), default=default,
                                    help=f"(env GEMINI_EMULATOR_{f.name.upper()}, default {shown})")
        ns = parser.parse_args(argv)
        return cls(**vars(ns))
