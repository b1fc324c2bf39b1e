"""Everything that differs between the Airflow releases this provider supports (3.0.6 to 3.3), in one place.

Other modules import these names from here and never from a version-specific location, so a new
Airflow release that moves something means one edit here. Each fallback is tried newest first and
says which release needs it; docs/compatibility.md lists what the matrix (`make test-matrix`) ran.

Why not apache-airflow-providers-common-compat's `sdk` module: an Airflow 3.0 deployment built from
its own constraints file has common-compat 1.7.3, which has no `sdk` module, and the release that
has every name we need (SET_DURING_EXECUTION: 1.21) requires Python 3.11. The Task SDK locations
below exist on every supported release.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any, BinaryIO


def _safe_import(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def _first(name: str, *modules: str) -> Any:
    """`name` from the first of `modules` that has it."""
    for module in modules:
        found = getattr(_safe_import(module), name, None)
        if found is not None:
            return found
    raise ImportError(f"cannot import {name!r} from any of {', '.join(modules)}: this Airflow release is not "
                      "supported by airflow-provider-gemini-batch (see docs/compatibility.md)")


# airflow.sdk exports BaseHook from 3.1; on 3.0 it lives in core only.
BaseHook = _first("BaseHook", "airflow.sdk", "airflow.hooks.base")

# What a connection lookup raises when the connection does not exist: the Task SDK's class from 3.2,
# airflow.exceptions' before. Both are caught where both exist, because which one a lookup raises
# depends on whether it runs in a task, a trigger or a test process.
CONNECTION_NOT_FOUND: tuple[type[BaseException], ...] = tuple(dict.fromkeys(
    cls for cls in (getattr(_safe_import(m), "AirflowNotFoundException", None)
                    for m in ("airflow.sdk.exceptions", "airflow.exceptions"))
    if isinstance(cls, type)))


async def aget_connection(hook: Any, conn_id: str) -> Any:
    """The connection, looked up without blocking the event loop's other triggers.

    BaseHook.aget_connection exists from 3.1. On 3.0 the sync lookup runs through asgiref's
    sync_to_async, as Airflow's own providers do there: it talks to the supervisor over one channel,
    so the calls must stay on one thread (thread_sensitive), not spread over a pool."""
    aget = getattr(hook, "aget_connection", None)
    if aget is not None:
        return await aget(conn_id)
    from asgiref.sync import sync_to_async

    return await sync_to_async(hook.get_connection)(conn_id)


# The TaskFlow machinery behind @task.gemini_batch. SET_DURING_EXECUTION marks an operator argument
# the decorated function fills in at run time; it has lived in the Task SDK's internal types module
# since 3.0, and common-compat re-exports it from 1.21 (Python 3.11+ only).
SET_DURING_EXECUTION = _first("SET_DURING_EXECUTION", "airflow.sdk.definitions._internal.types",
                              "airflow.providers.common.compat.sdk")
DecoratedOperator = _first("DecoratedOperator", "airflow.sdk.bases.decorator")
TaskDecorator = _first("TaskDecorator", "airflow.sdk.bases.decorator")
task_decorator_factory = _first("task_decorator_factory", "airflow.sdk.bases.decorator")
# In the Task SDK from 3.2 (determine_kwargs) and 3.1 (context_merge); in core before.
determine_kwargs = _first("determine_kwargs", "airflow.sdk.bases.decorator", "airflow.utils.operator_helpers")
context_merge = _first("context_merge", "airflow.sdk.definitions.context", "airflow.utils.context")


def read_lines(handle: BinaryIO) -> Iterator[bytes]:
    """The lines of an open binary file, each with its newline, read one at a time.

    `for line in handle` is not enough: ObjectStoragePath handles on Airflow 3.0 are not iterable,
    while every handle (local file, fsspec file, 3.0's wrapper) has readline()."""
    return iter(handle.readline, b"")


# ---------------------------------------------------------------------------------- connection form
# Airflow 3.2+ builds the connection form from the provider info's `conn-fields` and
# `ui-field-behaviour` (get_provider_info.py) and skips the hook methods when those are present.
# 3.0 and 3.1 read only the hook's get_ui_field_behaviour() / get_connection_form_widgets(): these
# two derive the same form from the same provider info, so there is one definition of the form.


def _gemini_connection_info() -> dict:
    from .get_provider_info import get_provider_info

    return next(c for c in get_provider_info()["connection-types"] if c["connection-type"] == "gemini")


def ui_field_behaviour(cls: Any = None) -> dict:
    """The provider info's ui-field-behaviour in the hook-method spelling (underscores)."""
    return {k.replace("-", "_"): v for k, v in _gemini_connection_info()["ui-field-behaviour"].items()}


def connection_form_widgets(cls: Any = None) -> dict:
    """The provider info's conn-fields as WTForms fields, for Airflow 3.0 and 3.1.

    Imported when called: 3.1's API server substitutes stand-ins for wtforms / flask_appbuilder when
    they are not installed, and only while it asks for the widgets. Where neither they nor stand-ins
    exist (3.0 without flask-appbuilder) there are no widgets, and saying so with {} rather than an
    ImportError keeps Airflow reading get_ui_field_behaviour(), which it would otherwise skip."""
    try:
        from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
        from flask_babel import lazy_gettext
        from wtforms import IntegerField, StringField
        from wtforms.validators import Optional, any_of
    except ImportError:
        return {}

    widgets = {}
    for name, spec in _gemini_connection_info()["conn-fields"].items():
        schema = spec["schema"]
        kind = schema["type"][0] if isinstance(schema["type"], list) else schema["type"]
        validators = [Optional()]
        if "enum" in schema:
            validators.append(any_of([v for v in schema["enum"] if v is not None]))
        default = schema.get("default")
        field = IntegerField if kind == "integer" else StringField  # no float field in the allowed set
        widgets[name] = field(lazy_gettext(spec["label"]), widget=BS3TextFieldWidget(), validators=validators,
                              description=spec.get("description", ""),
                              default=default if kind in ("integer", "string") or default is None else str(default))
    return widgets


# ---------------------------------------------------------------------------------- configuration
# Airflow's configuration as task code should read it: the Task SDK's parser from 3.2 (what workers use
# once airflow-core is not installed beside the SDK), core's before. Both read the same environment
# variables and airflow.cfg; defaults.py reads the deferrable default through it.
conf = _first("conf", "airflow.sdk.configuration", "airflow.configuration")

# What a sensor's timeout and a skip raise: the Task SDK's classes from 3.2 (airflow.exceptions' names
# are deprecated aliases of them there), airflow.exceptions' before.
AirflowSensorTimeout = _first("AirflowSensorTimeout", "airflow.sdk.exceptions", "airflow.exceptions")
AirflowSkipException = _first("AirflowSkipException", "airflow.sdk.exceptions", "airflow.exceptions")


# ---------------------------------------------------------------------------------- literal values
# A value Airflow's templating hands back as is (`airflow.sdk.literal()` wraps one): in the Task SDK from
# 3.0, in core's airflow.template.templater on 2.10 (kept as a fallback for clarity of intent).
LiteralValue = _first("LiteralValue", "airflow.sdk.definitions._internal.templater", "airflow.template.templater")


def not_jinja(value: Any) -> Any:
    """`value` with every string in it wrapped in LiteralValue, so that rendering leaves it as written.

    For a field that must stay in template_fields (an XComArg given for it is then resolved, and makes
    the upstream task a dependency; the Rendered Template view shows it) but whose strings are data, not
    Jinja: prompts. Containers are rebuilt the way Airflow's renderer walks them; XComArgs and any other
    object are left for Airflow to resolve (a resolved value is never rendered again)."""
    if isinstance(value, str):
        return LiteralValue(value)
    if isinstance(value, dict):
        return {key: not_jinja(item) for key, item in value.items()}
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a namedtuple
        return type(value)(*(not_jinja(item) for item in value))
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [not_jinja(item) for item in value]
        return type(value)(items) if type(value) in (list, tuple, set, frozenset) else items
    return value
