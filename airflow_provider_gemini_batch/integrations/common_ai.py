"""A Gemini adapter for apache-airflow-providers-common-ai's ``@task.llm_batch`` / ``LLMBatchOperator``.

Installed with ``airflow-provider-gemini-batch[common-ai]`` and found by common-ai through the entry-point
group ``airflow.providers.common.ai.batch_adapters`` under the ``google`` prefix (pydantic-ai's name for
the Gemini Developer API), so ``model_id="google:gemini-2.5-flash"`` works. Built on our hook: the same
create that is never retried blindly, the same streamed results. Accepts common-ai's ``pydanticai``
connections and our ``gemini`` ones; it gets only the connection's password (key) and host (base URL).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Literal

from airflow.providers.common.ai.batch.base import (
    BatchAdapter,
    BatchState,
    ExtractedOutput,
    RawResultItem,
    SubmitResult,
)
from airflow.providers.common.ai.exceptions import LLMBatchInputError, LLMBatchLimitExceededError

from ..core.batch_kind import BatchKind
from ..core.requests import FILE_LIMIT_BYTES, KeyedRequest, fits_inline, normalize_generate_request, prompt_request
from ..core.results import to_record
from ..core.states import Outcome, parse_job
from ..exceptions import GeminiRequestError
from ..hooks.gemini_batch import GeminiBatchHook
from ..storage import iter_lines

_STATUS: dict[Outcome, Literal["in_progress", "completed", "failed", "expired", "cancelled"]] = {
           Outcome.WAITING: "in_progress", Outcome.SUCCEEDED: "completed", Outcome.PARTIAL: "completed",
           Outcome.FAILED: "failed", Outcome.EXPIRED: "expired", Outcome.CANCELLED: "cancelled"}


def _display_name(idempotency_key: str, input_fingerprint: str) -> str:
    return f"airflow-llm-batch-{idempotency_key}-{input_fingerprint[:12]}"


class GeminiBatchAdapter(BatchAdapter):
    name = "google"
    conn_types = frozenset({"pydanticai", "gemini"})
    max_requests = 10_000_000
    max_payload_bytes = FILE_LIMIT_BYTES
    allows_per_request_model = False

    def __init__(self, *, api_key: str | None = None, base_url: str | None = None, client: Any | None = None):
        self._client = client if client is not None else GeminiBatchHook.from_key(api_key or "", base_url,
                                                                               conn_id="llm_conn_id")

    @property
    def hook(self) -> GeminiBatchHook:
        return self._client

    # ------------------------------------------------------------------ requests
    def build_output_directive(self, spec: Any) -> dict[str, Any]:
        if not spec.is_structured:
            return {}
        return {"generationConfig": {"responseMimeType": "application/json", "responseJsonSchema": spec.json_schema}}

    def _records(self, requests: list, *, model: str, idempotency_key: str, output_spec: Any,
                 system_prompt: str = "", max_tokens: int | None = None, request_params: dict | None = None,
                 **_: Any) -> Iterator[KeyedRequest]:
        directive = self.build_output_directive(output_spec)
        for index, item in enumerate(requests):
            self.resolve_request_model(item.get("model"), default_bare_model=model, request_index=index)
            generation = {**(request_params or {}), **(item.get("params") or {}),
                          **directive.get("generationConfig", {})}
            tokens = item.get("max_tokens") or max_tokens
            if tokens:
                generation["maxOutputTokens"] = tokens
            request: dict[str, Any] = prompt_request(item["prompt"])
            system = item.get("system_prompt") or system_prompt
            if system:
                request["systemInstruction"] = {"parts": [{"text": system}]}
            if generation:
                request["generationConfig"] = generation
            try:
                request = normalize_generate_request(request, f"requests[{index}]")
            except GeminiRequestError as exc:
                raise LLMBatchInputError(str(exc)) from None
            yield KeyedRequest(f"{idempotency_key}-{index}", request)

    def validate_requests(self, requests: list, *, model: str, output_spec: Any, idempotency_key: str,
                          **kwargs: Any) -> None:
        self.check_custom_id_length(idempotency_key, len(requests))
        if len(requests) > self.max_requests:
            raise LLMBatchLimitExceededError(f"Gemini batch: {len(requests)} requests is over {self.max_requests}; "
                                             "split the input with .expand().")
        size = 0
        for record in self._records(requests, model=model, idempotency_key=idempotency_key,
                                    output_spec=output_spec, **kwargs):
            size += len(record.jsonl())
            if size > self.max_payload_bytes:
                raise LLMBatchLimitExceededError(f"Gemini batch: the input passes the 2 GB file limit at "
                                                 f"{record.key}; split the input with .expand().")

    def submit(self, requests: list, *, model: str, idempotency_key: str, input_fingerprint: str,
               output_spec: Any, **kwargs: Any) -> SubmitResult:
        self.hook.check_model(model, BatchKind.GENERATE)
        records = list(self._records(requests, model=model, idempotency_key=idempotency_key,
                                     output_spec=output_spec, **kwargs))
        lines = [r.jsonl() for r in records]
        display_name = _display_name(idempotency_key, input_fingerprint)
        uploaded = None
        if fits_inline(lines):
            operation = self.hook.create_batch(model, requests=[r.inline() for r in records], display_name=display_name)
        else:
            uploaded = self.hook.upload_file(lines, display_name=f"{display_name}-input",
                                             mime_type="application/jsonl")["name"]
            operation = self.hook.create_batch(model, file_name=uploaded, display_name=display_name)
        return SubmitResult(batch_id=operation["name"], provider_input_ref=uploaded)

    # ------------------------------------------------------------------ jobs
    def get_batch(self, batch_id: str) -> BatchState:
        snap = self.hook.get_snapshot(batch_id)
        return BatchState(status=_STATUS[snap.outcome],
                          counts={"succeeded": snap.succeeded_count, "errored": snap.failed_count},
                          error_message=snap.error_message() or None)

    def cancel_batch(self, batch_id: str) -> None:
        self.hook.cancel_job(batch_id)

    def find_orphaned_batch(self, idempotency_key: str, input_fingerprint: str, not_before: str) -> str | None:
        """The job whose display name carries this key and fingerprint, created at or after not_before."""
        wanted = _display_name(idempotency_key, input_fingerprint)
        found = [j for j in self.hook.find_jobs(display_name=wanted) if (j.create_time or "") >= not_before[:19]]
        return found[0].name if found else None

    # ------------------------------------------------------------------ results
    def iter_results(self, batch_id: str) -> Iterator[RawResultItem]:
        raw = self.hook.get_job_raw(batch_id)  # called now, so a bad batch id fails here, not mid-iteration
        return self._iter_results(raw)

    def _iter_results(self, raw: dict) -> Iterator[RawResultItem]:
        snap = parse_job(raw)
        if snap.responses_file:
            with self.hook.stream_file(snap.responses_file) as chunks:
                for line in iter_lines(chunks):
                    if line.strip():
                        item = json.loads(line)
                        yield self._item(item.get("key"), item)
            return
        output = (raw.get("metadata") or {}).get("output") or raw.get("response") or {}
        for item in (output.get("inlinedResponses") or {}).get("inlinedResponses") or []:
            yield self._item((item.get("metadata") or {}).get("key"), item)

    @staticmethod
    def _item(custom_id: str | None, item: dict) -> RawResultItem:
        custom_id = custom_id or "unknown--1"
        index = int(custom_id.rsplit("-", 1)[1])
        record = to_record(custom_id, item)
        response = item.get("response") or {}
        candidate = (response.get("candidates") or [{}])[0]
        return RawResultItem(
            custom_id=custom_id, index=index,
            provider_status="success" if record["status"] == "ok" else "errored",
            model=response.get("modelVersion"), usage=record.get("usage"),
            finish_reason=candidate.get("finishReason"),
            error=record.get("error"), raw={"text": record.get("text"), "response": response})

    def extract_output(self, raw: RawResultItem, spec: Any) -> ExtractedOutput:
        text = (raw.raw or {}).get("text")
        if text is None:
            return ExtractedOutput(kind="absent")
        return ExtractedOutput(kind="json_text" if spec.is_structured else "text", text=text)
