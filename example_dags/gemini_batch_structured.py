"""Inline structured output: per-request system instructions and a JSON schema from a pydantic model;
a downstream task parses every answer back into the model.

Small batches (under 20 MB) go inline; the provider turns the pydantic model into a JSON schema.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime

from airflow.sdk import dag, task
from pydantic import BaseModel

sys.path.append(os.path.dirname(os.path.abspath(__file__)))  # Airflow 3.0 parses without the dags folder on sys.path
from _settings import GENERATE_MODEL, OUTPUT_DIR, POLL_SECONDS  # noqa: E402

from airflow_provider_gemini_batch.operators.batch import GeminiBatchSubmitOperator


class Recipe(BaseModel):
    recipe_name: str
    ingredients: list[str]


DISHES = {"cookies": "You are a pastry chef.", "bread": "You are a baker.", "soup": "You are a home cook."}


@dag(schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["gemini", "example"])
def gemini_batch_structured():
    recipes = GeminiBatchSubmitOperator(
        task_id="recipes",
        model=GENERATE_MODEL,
        requests=[
            {"key": dish, "request": {
                "contents": [{"role": "user", "parts": [{"text": f"Give two popular {dish} recipes."}]}],
                "config": {"system_instruction": persona, "response_mime_type": "application/json",
                           "response_schema": list[Recipe]},
            }}
            for dish, persona in DISHES.items()
        ],
        results_path=f"{OUTPUT_DIR}/structured/{{{{ run_id }}}}.jsonl",
        poll_interval=POLL_SECONDS,
    )

    @task
    def parse(summary: dict) -> dict:
        parsed = {}
        with open(summary["results"]["path"]) as fh:
            for line in fh:
                record = json.loads(line)
                if record["status"] == "ok":
                    parsed[record["key"]] = [Recipe(**r).recipe_name for r in json.loads(record["text"])]
        print(f"Parsed recipes: {parsed}")
        return {"dishes": sorted(parsed), "recipes": sum(len(v) for v in parsed.values())}

    parse(recipes.output)


gemini_batch_structured()
