"""TaskFlow: ``@task.gemini_batch`` turns a function that returns prompts into a batch job, with a pydantic
schema for structured output. Every answer is validated on the way to the results file; one that does
not fit comes back as ``invalid_output`` and is counted (on the emulator, the third prompt is made to
answer with something that is not JSON, to show it)."""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime

from airflow.sdk import dag, task
from pydantic import BaseModel

sys.path.append(os.path.dirname(os.path.abspath(__file__)))  # Airflow 3.0 parses without the dags folder on sys.path
from _settings import GENERATE_MODEL, OUTPUT_DIR, POLL_SECONDS  # noqa: E402

ON_EMULATOR = not os.environ.get("GEMINI_API_KEY")


class Review(BaseModel):
    sentiment: str
    score: float


@dag(schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["gemini", "example"])
def gemini_batch_taskflow():
    @task.gemini_batch(model=GENERATE_MODEL, response_schema=Review, poll_interval=POLL_SECONDS,
                       system_instruction="Classify the review; score from 0 (hate) to 1 (love).",
                       results_path=f"{OUTPUT_DIR}/taskflow/{{{{ run_id }}}}.jsonl", max_failed_requests=1)
    def classify(reviews: list[str]) -> list[dict]:
        return [{"key": f"review-{i}", "request": {"contents": [{"role": "user", "parts": [{"text": text}]}]}}
                for i, text in enumerate(reviews)]

    @task
    def report(summary: dict) -> dict:
        counts = {"ok": 0, "invalid_output": 0, "error": 0}
        with open(summary["results"]["path"]) as fh:
            for line in fh:
                counts[json.loads(line)["status"]] += 1
        print(f"structured answers: {counts}")
        return counts

    reviews = ["Loved it, would buy again.", "It broke after a day.",
               "Fine, I guess." + (" EMULATOR:INVALID_JSON" if ON_EMULATOR else "")]
    report(classify(reviews))


gemini_batch_taskflow()
