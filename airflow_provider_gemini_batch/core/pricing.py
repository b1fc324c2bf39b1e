"""Approximate batch prices, for the cost estimate in the task summary. Pure.

USD per million tokens at batch rates (50% of the interactive list price), for prompts up to
200k tokens, as published on ai.google.dev/pricing in 2025. Prices change: treat the estimate as
a guide, not a bill. Thinking tokens are billed as output; cached tokens are not discounted here.

Unknown is None, never 0.0 or {} (which read as "free" and "nothing used"): a model not in the table,
or results that report no token counts. Embedding batches are priced from the usageMetadata their
results carry (input tokens only: embeddings have no output tokens); the Gemini API's batch
embedding results have not been seen to carry any, so their tokens and cost are usually None.
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


def estimate_cost_usd(model: str | None, tokens: dict | None) -> float | None:
    """None when the model's price is not in the table or no token counts were reported."""
    if not model or not tokens:
        return None
    price = BATCH_USD_PER_MILLION.get(model.removeprefix("models/"))
    if price is None:
        return None
    # An embedding result may report only totalTokenCount: for embeddings that is all input.
    prompt = tokens.get("promptTokenCount", tokens.get("totalTokenCount", 0) if price[1] == 0 else 0)
    output = tokens.get("candidatesTokenCount", 0) + tokens.get("thoughtsTokenCount", 0)
    return round((prompt * price[0] + output * price[1]) / 1_000_000, 6)


def usage_summary(model: str | None, tokens: dict | None) -> dict:
    """The summary's "tokens" and "estimated_cost_usd": both None when nothing was reported."""
    return {"tokens": dict(tokens) if tokens else None, "estimated_cost_usd": estimate_cost_usd(model, tokens)}
