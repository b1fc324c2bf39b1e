"""Extract invoice fields from PDFs into a pydantic model: one structured answer per invoice.

Every PDF under ``source`` becomes one request keyed by its path, asking for JSON that fits
``Invoice``; the provider sends the model's JSON schema, validates every answer on the way to
``results_path`` (an answer that does not fit gets status ``invalid_output``) and a downstream task
loads each one back into the model. The example makes its own sample invoices.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from _media_samples import write_invoices
from _settings import GENERATE_MODEL, OUTPUT_DIR, POLL_SECONDS
from airflow.sdk import dag, task
from pydantic import BaseModel

from airflow_provider_gemini_batch.operators.media import GeminiBatchMediaOperator

INVOICES = f"{OUTPUT_DIR}/invoices/{{{{ run_id }}}}/pdf"


class Invoice(BaseModel):
    invoice_number: str
    customer: str
    total_eur: float


@dag(schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["gemini", "example", "media"])
def gemini_batch_invoices():
    @task
    def make_sample_invoices(folder: str) -> int:
        return len(write_invoices(Path(folder), 5))

    extract = GeminiBatchMediaOperator(
        task_id="extract",
        model=GENERATE_MODEL,
        source=f"{INVOICES}/*.pdf",
        prompt="Extract the invoice number, the customer and the total in EUR from this invoice.",
        response_schema=Invoice,
        results_path=f"{OUTPUT_DIR}/invoices/{{{{ run_id }}}}/fields.jsonl",
        poll_interval=POLL_SECONDS,
    )

    @task
    def load(summary: dict) -> dict:
        invoices = {}
        with open(summary["results"]["path"]) as fh:
            for line in fh:
                record = json.loads(line)
                if record["status"] == "ok":
                    invoices[Path(record["key"]).name] = Invoice.model_validate_json(record["text"])
        for name, invoice in sorted(invoices.items()):
            print(f"{name}: {invoice}")
        return {"invoices": sorted(invoices), "total_eur": round(sum(i.total_eur for i in invoices.values()), 2)}

    make_sample_invoices(INVOICES) >> extract
    load(extract.output)


gemini_batch_invoices()
