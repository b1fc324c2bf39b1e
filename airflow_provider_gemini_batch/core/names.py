"""Resource names of the API (batches/<id>, files/<id>, models/<id>): checked before any call."""

from __future__ import annotations

from ..exceptions import GeminiRequestError


def check_job_name(name: str) -> str:
    if not isinstance(name, str) or not name.startswith("batches/") or len(name) <= len("batches/") or "/" in name[8:]:
        raise GeminiRequestError(f"{name!r} is not a batch job name: expected 'batches/<id>'", location="job_name")
    return name


def check_file_name(name: str) -> str:
    if not isinstance(name, str) or not name.startswith("files/") or len(name) <= len("files/"):
        raise GeminiRequestError(f"{name!r} is not a file name: expected 'files/<id>'", location="file_name")
    return name


def is_embedding_model(model: str) -> bool:
    return "embedding" in model


def model_path(model: str) -> str:
    model = model.strip()
    return model if model.startswith(("models/", "tunedModels/")) else f"models/{model}"
