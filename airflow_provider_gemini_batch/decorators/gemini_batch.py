"""``@task.gemini_batch``: a TaskFlow function returns the requests; the task submits them as one batch.

The function returns prompts (strings), request dicts (SDK or REST spelling) or ``{"key", "request"}``
records. Everything else is GeminiBatchSubmitOperator: submitted once per task instance, waited for
deferred, results streamed to ``results_path``, structured output validated against ``response_schema``.
The function must return the same requests on every try: their fingerprint is how a retry tells
"reattach" from "the input changed" (``on_changed_input``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from ..compat import (
    SET_DURING_EXECUTION,
    DecoratedOperator,
    TaskDecorator,
    context_merge,
    determine_kwargs,
    task_decorator_factory,
)
from ..operators.batch import GeminiBatchSubmitOperator


class _GeminiBatchDecoratedOperator(DecoratedOperator, GeminiBatchSubmitOperator):
    # The returned requests are data, not templates: a stray "{{" in user text must not be rendered.
    template_fields: Sequence[str] = tuple(
        f for f in (*DecoratedOperator.template_fields, *GeminiBatchSubmitOperator.template_fields) if f != "requests")
    template_fields_renderers = dict(DecoratedOperator.template_fields_renderers)
    custom_operator_name = "@task.gemini_batch"

    def __init__(self, *, python_callable: Callable, op_args: Collection[Any] | None = None,
                 op_kwargs: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(python_callable=python_callable, op_args=op_args, op_kwargs=op_kwargs,
                         requests=SET_DURING_EXECUTION, **kwargs)

    def execute(self, context: Any) -> Any:
        context_merge(context, self.op_kwargs)
        kwargs = determine_kwargs(self.python_callable, self.op_args, context)
        self.requests = self.python_callable(*self.op_args, **kwargs)
        return GeminiBatchSubmitOperator.execute(self, context)


def gemini_batch_task(python_callable: Callable | None = None, **kwargs: Any) -> TaskDecorator:
    """
    Usage::

        @task.gemini_batch(model="gemini-2.5-flash", results_path="s3://bucket/{{ ds }}.jsonl",
                           response_schema=Verdict, system_instruction="You are a careful reviewer.")
        def reviews(rows: list[str]) -> list[str]:
            return [f"Classify this review: {row}" for row in rows]
    """
    if kwargs.pop("media", False):  # the function returns a media spec: see decorators/media.py
        from .media import _GeminiBatchMediaDecoratedOperator

        return task_decorator_factory(python_callable=python_callable,
                                      decorated_operator_class=_GeminiBatchMediaDecoratedOperator, **kwargs)
    return task_decorator_factory(python_callable=python_callable,
                                  decorated_operator_class=_GeminiBatchDecoratedOperator, **kwargs)
