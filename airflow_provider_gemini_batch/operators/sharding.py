"""Split a big JSONL for a mapped submit (``.expand(input_file=...)``), and merge the results back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator

from ..jsonl_shards import DEFAULT_SHARD_BYTES, merge_jsonl, split_jsonl


class GeminiBatchSplitJsonlOperator(BaseOperator):
    """Validate ``source`` and write it as shards into ``output_dir``; returns the shard paths (XCom list)."""

    template_fields: Sequence[str] = ("source", "output_dir")

    def __init__(self, *, source: str, output_dir: str, max_bytes: int = DEFAULT_SHARD_BYTES,
                 max_requests: int | None = None, embeddings: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.output_dir = output_dir
        self.max_bytes = max_bytes
        self.max_requests = max_requests
        self.embeddings = embeddings

    def execute(self, context: Any) -> list[str]:
        shards = split_jsonl(self.source, self.output_dir, max_bytes=self.max_bytes,
                             max_requests=self.max_requests, embeddings=self.embeddings)
        self.log.info("Split %s into %d shards in %s.", self.source, len(shards), self.output_dir)
        return shards


class GeminiBatchMergeResultsOperator(BaseOperator):
    """Concatenate per-shard result files into one at ``destination``; returns ``{path, records}``."""

    template_fields: Sequence[str] = ("results_paths", "destination")

    def __init__(self, *, results_paths: Any, destination: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.results_paths = results_paths
        self.destination = destination

    def execute(self, context: Any) -> dict[str, Any]:
        records = merge_jsonl(self.results_paths, self.destination)
        self.log.info("Merged %d result records into %s.", records, self.destination)
        return {"path": str(self.destination), "records": records}
