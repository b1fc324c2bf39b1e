"""Describe each product photo: a folder of images in, one keyed answer per photo out.

GeminiBatchMediaOperator turns every file under ``source`` (a local folder here; any
ObjectStoragePath such as ``s3://shop/photos/*.jpg`` works the same) into one request keyed by its
path. Small photos travel inline; larger ones are uploaded once each (identical photos share one
upload) and deleted after the results are written. The example makes its own sample photos.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from _media_samples import write_photos
from _settings import GENERATE_MODEL, OUTPUT_DIR, POLL_SECONDS
from airflow.sdk import dag, task

from airflow_provider_gemini_batch.operators.media import GeminiBatchMediaOperator

PHOTOS = f"{OUTPUT_DIR}/product_photos/{{{{ run_id }}}}/photos"


@dag(schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["gemini", "example", "media"])
def gemini_batch_product_photos():
    @task
    def make_sample_photos(folder: str) -> int:
        return len(write_photos(Path(folder), 12))  # in real life: the photos are already in a bucket

    describe = GeminiBatchMediaOperator(
        task_id="describe",
        model=GENERATE_MODEL,
        source=PHOTOS,
        prompt="Write a one-sentence catalogue description of the product in this photo ({name}).",
        system_instruction="You write concise, factual e-commerce copy.",
        results_path=f"{OUTPUT_DIR}/product_photos/{{{{ run_id }}}}/descriptions.jsonl",
        inline_max_bytes=512,  # tiny sample photos: upload them, as full-size photos would be
        poll_interval=POLL_SECONDS,
    )

    @task
    def catalogue(summary: dict) -> dict:
        descriptions = {}
        with open(summary["results"]["path"]) as fh:
            for line in fh:
                record = json.loads(line)
                if record["status"] == "ok":
                    descriptions[Path(record["key"]).name] = record["text"]
        print(json.dumps(descriptions, indent=1)[:2000])
        return {"described": len(descriptions), "uploaded": summary["media"]["uploaded"],
                "deleted": summary["media"]["deleted"]}

    make_sample_photos(PHOTOS) >> describe
    catalogue(describe.output)


gemini_batch_product_photos()
