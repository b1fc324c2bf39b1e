"""Media DAGs for the dag.test() suite: sources and results come from the environment the test sets
before loading this file. Copied into the test dags folder by conftest."""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_gemini_batch.operators.media import GeminiBatchMediaOperator

MEDIA = os.environ.get("GB_MEDIA_DIR", "/tmp/gemini-batch-test-media")
RESULTS = os.environ.get("GB_TEST_RESULTS_DIR", "/tmp/gemini-batch-test-results")


def media_dag(dag_id: str, source: str, **kwargs) -> DAG:
    with DAG(dag_id, schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["test"]) as dag:
        GeminiBatchMediaOperator(task_id="media", model=kwargs.pop("model", "gemini-2.5-flash"), source=source,
                                 poll_interval=0.2, results_path=f"{RESULTS}/{dag_id}/{{{{ run_id }}}}.jsonl",
                                 **kwargs)
    return dag


# 500 images and 20 PDFs under a file:// ObjectStoragePath; small images inline, the rest uploaded.
photos_and_invoices = media_dag(
    "gb_media_mixed", f"file://{MEDIA}/mixed/", prompt="Describe {name} ({mime_type}).", inline_max_bytes=1000,
    upload_concurrency=4)
# Media over a small storage quota: split into shards, each uploaded, run and cleaned before the next.
over_quota = media_dag(
    "gb_media_quota", f"{MEDIA}/quota/*.pdf", prompt="Extract the invoice number of {stem}.", inline_max_bytes=0,
    storage_quota_bytes=40_000, cleanup=("input_file", "result_file"))
# An image-generation model: the answers' PNGs are written beside the results.
images_out = media_dag(
    "gb_media_images_out", f"{MEDIA}/sketches", prompt="Redraw {name} as a watercolour.",
    model="gemini-2.5-flash-image")


# @task.gemini_batch(media=True): the function returns the media spec.
from airflow.sdk import dag, task  # noqa: E402


@dag(dag_id="gb_media_decorated", schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["test"])
def media_decorated():
    @task.gemini_batch(media=True, model="gemini-2.5-flash", poll_interval=0.2, inline_max_bytes=0,
                       results_path=f"{RESULTS}/gb_media_decorated/{{{{ run_id }}}}.jsonl")
    def sketches(folder: str) -> dict:
        return {"media": f"{folder}/*.png", "prompt": "Name the colours of {name}."}

    sketches(f"{MEDIA}/sketches")


media_decorated = media_decorated()
