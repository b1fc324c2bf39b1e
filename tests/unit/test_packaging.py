"""What the distribution pulls in: the base install stays lean; common-ai comes only with its extra."""

from importlib.metadata import entry_points, requires, version
from pathlib import Path

CONSTRAINTS = Path(__file__).resolve().parents[2] / "constraints.txt"


def test_base_install_does_not_pull_common_ai_or_pydantic_ai():
    base = [r for r in requires("airflow-provider-gemini-batch") if "extra ==" not in r]
    names = " ".join(base).lower()
    assert "common-ai" not in names and "pydantic-ai" not in names
    assert {"apache-airflow", "apache-airflow-providers-http", "google-genai", "tenacity"} <= {
        r.split(">")[0].split("<")[0].split("=")[0].strip() for r in base}


def test_common_ai_extra_and_its_adapter_entry_point():
    extra = [r for r in requires("airflow-provider-gemini-batch") if 'extra == "common-ai"' in r]
    assert any("apache-airflow-providers-common-ai" in r for r in extra)
    adapters = {ep.name: ep.value for ep in entry_points(group="airflow.providers.common.ai.batch_adapters")}
    assert adapters["google"] == "airflow_provider_gemini_batch.common_ai_adapter:GeminiBatchAdapter"


def test_the_extra_sits_next_to_the_pinned_airflow():
    pinned = [l for l in open(CONSTRAINTS) if l.startswith("apache-airflow==")][0].split("==")[1].strip()
    assert version("apache-airflow") == pinned
    from airflow.providers.common.ai.batch.dispatch import import_adapter_class

    assert import_adapter_class("google").__name__ == "GeminiBatchAdapter"
