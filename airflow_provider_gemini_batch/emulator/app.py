"""The Gemini Batch + Files REST API, as the real service answers it (both v1beta and v1).

The app factory: one store per app (``app.state.store``, reached by the routers through
``Depends(get_store)``), Google's error envelope for every failure, and one router per resource.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import FastAPI

from .config import EmulatorConfig
from .errors import ApiError, install_handlers
from .faults import FaultInjector
from .routers import admin, batches, files, models, upload
from .store import Store

__all__ = ["ApiError", "create_app", "create_asgi"]


def create_app(config: EmulatorConfig | None = None) -> FastAPI:
    config = config or EmulatorConfig.from_env()
    state_dir = Path(config.state_dir or tempfile.mkdtemp(prefix="gemini-emulator-"))

    app = FastAPI(title="Gemini Batch API emulator", docs_url="/_emulator/docs", openapi_url="/_emulator/openapi.json")
    app.state.config = config
    app.state.store = Store(state_dir, object_error_details=config.object_error_details, config=config)
    app.state.state_dir = state_dir
    app.state.faults = None  # create_asgi puts the fault injector here
    install_handlers(app)
    # Order kept from the single-module app: the first route whose path matches answers.
    for router in (models.router, batches.router, files.router, upload.router, admin.router):
        app.include_router(router)
    return app


def create_asgi(config: EmulatorConfig | None = None):
    """The API behind its fault injector, ready for uvicorn."""
    config = config or EmulatorConfig.from_env()
    app = create_app(config)
    injector = FaultInjector(app, config)
    app.state.faults = injector
    return injector, app
