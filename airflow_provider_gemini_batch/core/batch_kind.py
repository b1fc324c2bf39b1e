"""What kind of batch a job is: generate content or embeddings. Pure.

One value instead of an `embeddings: bool` threaded through every signature: the kind decides the create
method, the spelling of the file field, how a bare text becomes a request and which models fit.
"""

from __future__ import annotations

import enum


class BatchKind(str, enum.Enum):
    GENERATE = "generate"   # models/...:batchGenerateContent, GenerateContentRequest records
    EMBED = "embed"         # models/...:asyncBatchEmbedContent, EmbedContentRequest records

    @property
    def create_method(self) -> str:
        return "asyncBatchEmbedContent" if self is BatchKind.EMBED else "batchGenerateContent"

    @property
    def file_field(self) -> str:
        # The embeddings create takes snake_case here, the generate create camelCase (API guide, batch mode).
        return "file_name" if self is BatchKind.EMBED else "fileName"

    @classmethod
    def of(cls, kind: BatchKind | str | bool | None = None, embeddings: bool | None = None) -> BatchKind:
        """The kind from a BatchKind, its value, or the old `embeddings=` flag (still accepted from callers
        of the public hook and request functions)."""
        if kind is None or isinstance(kind, bool):
            flag = kind if isinstance(kind, bool) else bool(embeddings)
            return cls.EMBED if flag else cls.GENERATE
        return cls(kind)
