"""``@task.gemini_batch(media=True, ...)``: the function returns a media spec, the task is
GeminiBatchMediaOperator.

The function returns ``{"media": <location(s)>, "prompt": <template or callable>}`` (a bare location
is taken with the ``prompt=`` given to the decorator). Like ``@task.gemini_batch``, it must return the
same spec on every try; it is run again when the task resumes after a deferral, because later shards
need the files' locations and the prompt.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from ..compat import (
    SET_DURING_EXECUTION,
    DecoratedOperator,
    context_merge,
    determine_kwargs,
)
from ..exceptions import GeminiMediaError
from ..operators.media import GeminiBatchMediaOperator


class _GeminiBatchMediaDecoratedOperator(DecoratedOperator, GeminiBatchMediaOperator):
    template_fields: Sequence[str] = tuple(
        f for f in (*DecoratedOperator.template_fields, *GeminiBatchMediaOperator.template_fields)
        if f not in ("source", "prompt", "requests"))
    template_fields_renderers = dict(DecoratedOperator.template_fields_renderers)
    custom_operator_name = "@task.gemini_batch"

    def __init__(self, *, python_callable: Callable, op_args: Collection[Any] | None = None,
                 op_kwargs: Mapping[str, Any] | None = None, prompt: Any = None, **kwargs: Any) -> None:
        super().__init__(python_callable=python_callable, op_args=op_args, op_kwargs=op_kwargs,
                         source=SET_DURING_EXECUTION, prompt=SET_DURING_EXECUTION if prompt is None else prompt,
                         **kwargs)
        self._default_prompt = prompt

    def _apply_spec(self, context: Any) -> None:
        context_merge(context, self.op_kwargs)
        spec = self.python_callable(*self.op_args, **determine_kwargs(self.python_callable, self.op_args, context))
        if isinstance(spec, Mapping):
            if "media" not in spec:
                raise GeminiMediaError("the function returned a dict without 'media': return "
                                       "{'media': <path, glob, URI or list>, 'prompt': ...}", path="media")
            self.source, self.prompt = spec["media"], spec.get("prompt", self._default_prompt)
        else:
            self.source, self.prompt = spec, self._default_prompt
        if self.prompt is None:
            raise GeminiMediaError("no prompt: return {'media': ..., 'prompt': ...} or give prompt= to the decorator",
                                   path="prompt")

    def execute(self, context: Any) -> Any:
        self._apply_spec(context)
        return GeminiBatchMediaOperator.execute(self, context)

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None, media_shard: int | None = None
                         ) -> Any:
        if self.source is SET_DURING_EXECUTION:
            self._apply_spec(context)
        return GeminiBatchMediaOperator.execute_complete(self, context, event, media_shard)
