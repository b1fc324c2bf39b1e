"""What the distribution declares and pulls in, and that the supported range stated in the README, the
floors in pyproject.toml, the committed constraints files and docs/compatibility.md say the same thing."""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
from importlib.metadata import entry_points, requires, version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "airflow_provider_gemini_batch"
CONSTRAINTS = ROOT / "constraints.txt"


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ ;\[]", requirement, maxsplit=1)[0].strip().lower()


def _base_requirements() -> list[str]:
    return [r for r in requires("airflow-provider-gemini-batch") if "extra ==" not in r]


def _rows():
    spec = importlib.util.spec_from_file_location("compat_rows", ROOT / "scripts" / "compat_rows.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.rows()


def _pins(path: Path) -> dict[str, str]:
    return dict(line.strip().split("==", 1) for line in path.read_text().splitlines()
                if "==" in line and not line.startswith("#"))


def test_base_install_does_not_pull_common_ai_or_pydantic_ai():
    names = {_name(r) for r in _base_requirements()}
    assert not {n for n in names if "common-ai" in n or "pydantic-ai" in n}
    assert {"apache-airflow", "google-genai", "tenacity", "httpx", "aiohttp"} <= names


# Imported only where something else provides it: the API server substitutes stand-ins for the form
# libraries when they are absent, pytest loads the emulator plugin, common-ai is the [common-ai] extra.
_PROVIDED_BY_THE_CALLER = {"wtforms", "flask_appbuilder", "flask_babel", "pytest", "airflow"}
_DISTRIBUTION = {"google": "google-genai", "yaml": "pyyaml"}


def test_every_third_party_module_the_package_imports_is_a_declared_dependency():
    """common-compat was imported but arrived only through providers-http; nothing may do that again."""
    imported: dict[str, str] = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else [])
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in _PROVIDED_BY_THE_CALLER \
                        and top != "airflow_provider_gemini_batch":
                    imported.setdefault(top, str(path.relative_to(ROOT)))
    declared = {_name(r) for r in _base_requirements()}
    missing = {top: where for top, where in imported.items()
               if _DISTRIBUTION.get(top, top).replace("_", "-").lower() not in declared}
    assert not missing, f"imported but not declared in pyproject.toml [project] dependencies: {missing}"
    assert imported  # the scan found the imports at all


def test_no_module_imports_airflow_from_version_specific_places_but_compat():
    """The version shims live in compat.py; elsewhere only locations every supported release has."""
    moving = ("airflow.providers.common.compat", "airflow.hooks.base", "airflow.sdk.exceptions",
              "airflow.utils.operator_helpers", "airflow.utils.context", "airflow.sdk.bases.decorator")
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "compat.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(moving):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.module}")
            if isinstance(node, ast.ImportFrom) and node.module == "airflow.sdk" and \
                    any(a.name == "BaseHook" for a in node.names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} airflow.sdk.BaseHook (3.1+)")
    assert not offenders, f"import these through airflow_provider_gemini_batch.compat: {offenders}"


def test_common_ai_extra_and_its_adapter_entry_point():
    extra = [r for r in requires("airflow-provider-gemini-batch") if 'extra == "common-ai"' in r]
    assert any("apache-airflow-providers-common-ai" in r for r in extra)
    adapters = {ep.name: ep.value for ep in entry_points(group="airflow.providers.common.ai.batch_adapters")}
    assert adapters["google"] == "airflow_provider_gemini_batch.integrations.common_ai:GeminiBatchAdapter"


@pytest.mark.skipif(importlib.util.find_spec("airflow.providers.common.ai") is None,
                    reason="needs apache-airflow-providers-common-ai (the [common-ai] extra; the matrix rows "
                           "install only [test])")
def test_the_extra_sits_next_to_the_pinned_airflow():
    pinned = _pins(CONSTRAINTS)["apache-airflow"]
    assert version("apache-airflow") == pinned
    from airflow.providers.common.ai.batch.dispatch import import_adapter_class

    assert import_adapter_class("google").__name__ == "GeminiBatchAdapter"


def test_declared_floors_are_what_the_matrix_installs():
    """pyproject's Airflow floor is the oldest release a matrix row installs, and no row's constraints
    file pins anything below a declared floor (the floor would then be untested)."""
    from packaging.requirements import Requirement

    reqs = {_name(r): Requirement(r) for r in _base_requirements()}
    rows = _rows()
    oldest = min((r["airflow"] for r in rows), key=lambda v: tuple(map(int, v.split("."))))
    assert str(reqs["apache-airflow"].specifier).replace(" ", "").count(f">={oldest}") == 1, reqs["apache-airflow"]
    for row in rows:
        pins = _pins(row["constraints"])
        assert pins["apache-airflow"] == row["airflow"], row["id"]
        for name, req in reqs.items():
            if name in pins:
                assert req.specifier.contains(pins[name], prereleases=True), (
                    f"{row['constraints'].name} pins {name}=={pins[name]}, outside {req}: regenerate it "
                    "(python scripts/gen_constraints.py) or fix the floor")


def test_constraints_files_were_generated_from_the_current_dependencies():
    spec = importlib.util.spec_from_file_location("gen_constraints", ROOT / "scripts" / "gen_constraints.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    for row in _rows():
        header = row["constraints"].read_text().splitlines()[1]
        assert f"requirements-sha256: {gen.requirements_hash(row['airflow'])}" in header, (
            f"{row['constraints'].name} predates a change of pyproject.toml's dependencies: "
            f"python scripts/gen_constraints.py {row['id']}")


def test_readme_and_compatibility_page_state_exactly_the_matrix():
    rows = _rows()
    releases = sorted({r["airflow"] for r in rows}, key=lambda v: tuple(map(int, v.split("."))))
    pythons = sorted({r["python"] for r in rows}, key=lambda v: tuple(map(int, v.split("."))))
    readme = (ROOT / "README.md").read_text()
    supported = " ".join(readme[readme.index("\nSupported:"):].split("\n\n", 1)[0].split())  # the paragraph
    assert f"Apache Airflow {releases[0].rsplit('.', 1)[0]} to {releases[-1].rsplit('.', 1)[0]}" in supported
    assert ", ".join(releases) in supported
    assert f"Python {pythons[0]} to {pythons[-1]}" in supported
    page = (ROOT / "docs" / "compatibility.md").read_text()
    for row in rows:
        assert re.search(rf"^\| {re.escape(row['airflow'])} \| {re.escape(row['python'])}[.\d]* \|", page, re.M), (
            f"docs/compatibility.md has no row for Airflow {row['airflow']} / Python {row['python']}: make test-matrix")
