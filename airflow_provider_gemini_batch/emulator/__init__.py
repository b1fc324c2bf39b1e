"""A faithful local Gemini Batch + Files API, for tests and offline DAG runs. See docs/emulator.md.

Production code never imports this package.
"""

from .config import EmulatorConfig
from .server import EmulatorProcess

__all__ = ["EmulatorConfig", "EmulatorProcess"]
