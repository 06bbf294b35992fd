"""The HTTP API (FastAPI). The same app runs under uvicorn locally and behind API Gateway:
``create_app`` wires the error handlers, the body limit, the routers and the web UI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

from ragops import __version__
from ragops.bootstrap import Container, build_container
from ragops.entrypoints.api.errors import error_response, install_error_handlers
from ragops.entrypoints.api.routers import documents, operations, query
from ragops.entrypoints.api.routers.documents import MAX_FILES_PER_UPLOAD

WEB = Path(__file__).resolve().parent.parent.parent / "web"


def create_app(container: Container | None = None) -> FastAPI:
    """Build the API around ``container`` (a default local one if none is given)."""
    app = FastAPI(
        title="ragops",
        version=__version__,
        description="Document question answering with hybrid search and cited answers.",
    )
    app.state.container = container or build_container(resolve_champion=True)
    install_error_handlers(app)

    @app.middleware("http")
    async def _body_limit(request: Request, call_next: Any) -> Response:
        # Refuse an over-size body before reading it: the largest upload is every file at
        # the size limit, plus room for the multipart framing.
        limit = app.state.container.settings.max_upload_bytes * MAX_FILES_PER_UPLOAD + 1_048_576
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return error_response(
                413, "payload_too_large", f"the request body is over {limit:,} bytes"
            )
        return await call_next(request)

    for module in (operations, documents, query):
        app.include_router(module.router)
    app.mount("/ui", StaticFiles(directory=WEB), name="ui")

    @app.get("/", include_in_schema=False)
    def web_ui() -> FileResponse:
        """The web UI: static files shipped in the package (no build step, no CDN)."""
        return FileResponse(WEB / "index.html", media_type="text/html")

    @app.get("/ops", include_in_schema=False)
    def web_ops() -> FileResponse:
        return FileResponse(WEB / "ops.html", media_type="text/html")

    return app
