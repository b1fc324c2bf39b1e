"""A large input split into shards, one batch job per shard (dynamic task mapping), results merged.

Real inputs split by size under the 2 GB file limit; this example splits 60 requests into shards
of 25 so that the mapping shows. Keys are checked across all shards before anything is submitted.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime
from pathlib import Path

from airflow.sdk import dag, task

sys.path.append(os.path.dirname(os.path.abspath(__file__)))  # Airflow 3.0 parses without the dags folder on sys.path
from _settings import GENERATE_MODEL, OUTPUT_DIR, POLL_SECONDS  # noqa: E402

from airflow_provider_gemini_batch.jsonl_shards import merge_jsonl
from airflow_provider_gemini_batch.operators.batch import GeminiBatchSubmitOperator
from airflow_provider_gemini_batch.operators.sharding import GeminiBatchSplitJsonlOperator


@dag(schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["gemini", "example"])
def gemini_batch_sharded():
    @task
    def make_input() -> str:
        path = Path(OUTPUT_DIR, "sharded", "input.jsonl")
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w") as fh:
            for i in range(60):
                fh.write(json.dumps({"key": f"row-{i:04d}", "request": {
                    "contents": [{"role": "user", "parts": [{"text": f"Give a one-line fact about the number {i}."}]}]}})
                         + "\n")
        return str(path)

    shards = GeminiBatchSplitJsonlOperator(
        task_id="split", source=make_input(), output_dir=f"{OUTPUT_DIR}/sharded/{{{{ run_id }}}}/shards",
        max_requests=25)

    answers = GeminiBatchSubmitOperator.partial(
        task_id="submit",
        model=GENERATE_MODEL,
        results_path=f"{OUTPUT_DIR}/sharded/{{{{ run_id }}}}/results-{{{{ ti.map_index }}}}.jsonl",
        poll_interval=POLL_SECONDS,
    ).expand(input_file=shards.output)

    @task
    def merge(summaries: list[dict]) -> dict:
        paths = [s["results"]["path"] for s in summaries]
        merged = Path(paths[0]).parent / "results.jsonl"
        records = merge_jsonl(sorted(paths), merged)
        print(f"{len(paths)} shards, {records} results merged into {merged}")
        return {"path": str(merged), "records": records, "shards": len(paths)}

    merge(answers.output)


gemini_batch_sharded()
