"""Keep the API key out of every text we log, raise or store."""

from __future__ import annotations

from typing import Any


def redact(text: Any, secret: str | None) -> str:
    text = str(text)
    if secret and len(secret) >= 4:
        text = text.replace(secret, "***")
    return text
