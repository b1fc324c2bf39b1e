"""Embeddings batch over a text file (one text per line): results as key -> vector.

The key of each text is its line number, so vectors join back to the source rows.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime
from pathlib import Path

from airflow.sdk import dag, task

sys.path.append(os.path.dirname(os.path.abspath(__file__)))  # Airflow 3.0 parses without the dags folder on sys.path
from _settings import EMBED_MODEL, OUTPUT_DIR, POLL_SECONDS  # noqa: E402

from airflow_provider_gemini_batch.operators.batch import GeminiBatchEmbedOperator

TEXTS = os.environ.get("GEMINI_BATCH_TEXTS", str(Path(__file__).parent / "data" / "texts.txt"))


@dag(schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["gemini", "example"])
def gemini_batch_embeddings():
    @task
    def build_requests(path: str) -> str:
        """Texts -> a JSONL of embed requests; returns its path (XCom stays small even for millions)."""
        out = Path(OUTPUT_DIR, "embeddings", "requests.jsonl")
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(path) as src, out.open("w") as dst:
            for lineno, text in enumerate(src, start=1):
                if text.strip():
                    dst.write(json.dumps({"key": f"line-{lineno}", "request": {
                        "content": {"parts": [{"text": text.strip()}]},
                        "task_type": "RETRIEVAL_DOCUMENT", "output_dimensionality": 256}}) + "\n")
        return str(out)

    vectors = GeminiBatchEmbedOperator(
        task_id="embed",
        model=EMBED_MODEL,
        input_file=build_requests(TEXTS),
        results_path=f"{OUTPUT_DIR}/embeddings/{{{{ run_id }}}}.jsonl",
        poll_interval=POLL_SECONDS,
    )

    @task
    def index(summary: dict) -> dict:
        dims = set()
        keys = []
        with open(summary["results"]["path"]) as fh:
            for line in fh:
                record = json.loads(line)
                keys.append(record["key"])
                dims.add(len(record["embedding"]))
        print(f"{len(keys)} vectors of dimension {dims}")
        return {"vectors": len(keys), "dimensions": sorted(dims)}

    index(vectors.output)


gemini_batch_embeddings()
