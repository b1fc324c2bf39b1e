"""GET /{ver}/models/{model}: the models a batch can be created on, and the methods each supports."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from .. import media
from ..deps import require_key, require_version
from ..errors import not_found

GENERATE_MODELS = {
    "gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.5-flash-lite", "gemini-2.0-flash",
    "gemini-2.0-flash-lite", "gemini-3-pro-preview", "gemini-3-flash-preview",
    "gemini-flash-latest", "gemini-flash-lite-latest", "gemini-pro-latest",
} | media.IMAGE_MODELS
EMBED_MODELS = {"gemini-embedding-001", "text-embedding-004"}

router = APIRouter(dependencies=[Depends(require_key)])


@router.get("/{ver}/models/{model}")
async def get_model(ver: str, model: str):
    require_version(ver)
    if model in EMBED_MODELS:
        methods = ["embedContent", "batchEmbedContents", "asyncBatchEmbedContent"]
    elif model in GENERATE_MODELS:
        methods = ["generateContent", "countTokens", "createCachedContent", "batchGenerateContent"]
    else:
        raise not_found(f"models/{model} is not found for API version {ver}.")
    return {"name": f"models/{model}", "baseModelId": model, "displayName": model,
            "supportedGenerationMethods": methods}
