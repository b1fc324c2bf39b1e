"""One APIRouter per resource, included by ``app.create_app`` (FastAPI's "bigger applications" layout)."""
