"""The layers, checked: which part of the package may import which.

core/        pure decisions: no Airflow, no HTTP client, no emulator, no other layer of ours
             (the typed errors in `exceptions` are the one exception: they derive from AirflowException
             so that Airflow reports them as task failures)
hooks/       talk to the API: never an operator, sensor, trigger or decorator
triggers/    run in the triggerer: never an operator, sensor or decorator (nor the sync hook, which
             would load httpx and tenacity into the triggerer for nothing)
emulator/    the service's stand-in: nothing of the client side, and nothing of ours imports it
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "airflow_provider_gemini_batch"
NAME = PACKAGE.name
HTTP_AND_AIRFLOW = ("airflow", "httpx", "aiohttp", "requests", "urllib3", "tenacity", "google.genai", "fastapi",
                    "starlette", "uvicorn", "fsspec")
LAYERS = ("core", "hooks", "operators", "sensors", "triggers", "decorators", "integrations", "emulator")


def _imports(path: Path) -> list[str]:
    """Absolute dotted names of everything a module imports, at any depth (lazy imports count too)."""
    here = (NAME + "." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)).split(".")
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[:len(here) - node.level]
                module = ".".join(base + ([node.module] if node.module else []))
                found += [module] if node.module else [f"{module}.{alias.name}" for alias in node.names]
            else:
                found.append(node.module or "")
    return found


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == NAME else None


def _violations(layer: str, forbidden_layers: set[str], forbidden_external: tuple[str, ...] = (),
                allowed: set[str] = frozenset()) -> list[str]:
    bad = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        for module in _imports(path):
            ours = _layer(module)
            if module in allowed:
                continue
            if ours is not None and (ours in forbidden_layers or (ours not in LAYERS and "*" in forbidden_layers)):
                bad.append(f"{path.relative_to(PACKAGE)} imports {module}")
            elif ours is None and module.split(".")[0] != NAME and any(
                    module == ext or module.startswith(ext + ".") for ext in forbidden_external):
                bad.append(f"{path.relative_to(PACKAGE)} imports {module}")
    return bad


def test_core_knows_no_airflow_no_http_and_no_other_layer():
    # "*": our top-level modules too (storage, compat, ...), except the typed errors.
    assert _violations("core", set(LAYERS) - {"core"} | {"*"}, HTTP_AND_AIRFLOW,
                       allowed={f"{NAME}.exceptions"}) == []


def test_hooks_never_import_operators_sensors_triggers_or_decorators():
    assert _violations("hooks", {"operators", "sensors", "triggers", "decorators", "emulator"}) == []


def test_triggers_never_import_operators_sensors_decorators_or_the_sync_hook():
    assert _violations("triggers", {"operators", "sensors", "decorators", "emulator"}, ("httpx", "tenacity"),
                       ) == []
    sync_hook = f"{NAME}.hooks.gemini_batch"
    chain = [f"{NAME}.triggers.batch", f"{NAME}.hooks.gemini_batch_async"]
    for module in chain:
        path = PACKAGE.joinpath(*module.split(".")[1:]).with_suffix(".py")
        assert sync_hook not in _imports(path), f"{module} imports {sync_hook} (httpx and tenacity in the triggerer)"


def test_nothing_outside_the_emulator_imports_it():
    bad = [f"{path.relative_to(PACKAGE)} imports {module}"
           for path in sorted(PACKAGE.rglob("*.py")) if "emulator" not in path.relative_to(PACKAGE).parts
           for module in _imports(path) if _layer(module) == "emulator"]
    assert bad == []


def test_the_emulator_imports_nothing_of_the_client_side():
    assert _violations("emulator", set(LAYERS) - {"emulator"} | {"*"}, ("airflow", "google.genai", "httpx",
                                                                        "tenacity")) == []


@pytest.mark.parametrize("source, expected", [
    ("from ..hooks.gemini_batch import GeminiBatchHook\n", ["core/x.py imports airflow_provider_gemini_batch.hooks.gemini_batch"]),
    ("import httpx\n", ["core/x.py imports httpx"]),
    ("def f():\n    from airflow.sdk import BaseOperator\n", ["core/x.py imports airflow.sdk"]),
    ("from ..storage import open_path\n", ["core/x.py imports airflow_provider_gemini_batch.storage"]),
    ("from ..exceptions import GeminiRequestError\nfrom .states import parse_job\nimport json\n", []),
])
def test_the_contract_catches_what_it_forbids(tmp_path, monkeypatch, source, expected):
    """The checker itself can fail: a planted module in a copy of core/ is reported (or, for the allowed
    imports, not)."""
    fake = tmp_path / NAME
    (fake / "core").mkdir(parents=True)
    (fake / "core" / "x.py").write_text(source)
    monkeypatch.setitem(globals(), "PACKAGE", fake)
    assert _violations("core", set(LAYERS) - {"core"} | {"*"}, HTTP_AND_AIRFLOW,
                       allowed={f"{NAME}.exceptions"}) == expected
