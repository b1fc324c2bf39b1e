"""Approximate batch prices, for the cost estimate in the task summary. Pure.

USD per million tokens at batch rates (50% of the interactive list price), for prompts up to
200k tokens, as published on ai.google.dev/pricing in 2025. Prices change: treat the estimate as
a guide, not a bill. Thinking tokens are billed as output; cached tokens are not discounted here.
"""

from __future__ import annotations

BATCH_USD_PER_MILLION = {
    # model: (input, output)
    "gemini-2.5-pro": (0.625, 5.00),
    "gemini-2.5-flash": (0.15, 1.25),
    "gemini-2.5-flash-lite": (0.05, 0.20),
    "gemini-2.0-flash": (0.05, 0.20),
    "gemini-2.0-flash-lite": (0.0375, 0.15),
    "gemini-embedding-001": (0.075, 0.0),
}


def estimate_cost_usd(model: str | None, tokens: dict) -> float | None:
    """None when the model's price is not in the table."""
    if not model:
        return None
    price = BATCH_USD_PER_MILLION.get(model.removeprefix("models/"))
    if price is None:
        return None
    prompt = tokens.get("promptTokenCount", 0)
    output = tokens.get("candidatesTokenCount", 0) + tokens.get("thoughtsTokenCount", 0)
    return round((prompt * price[0] + output * price[1]) / 1_000_000, 6)
