"""The HTTP API (FastAPI). The same app runs under uvicorn locally and behind API Gateway:
``create_app`` wires the error handlers, the body limit, the routers and the web UI."""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

from ragops import __version__
from ragops.bootstrap import Container, build_container
from ragops.entrypoints.api.errors import error_response, install_error_handlers
from ragops.entrypoints.api.routers import (
    conversations,
    documents,
    operations,
    query,
    uploads,
)
from ragops.entrypoints.api.routers.uploads import request_body_limit, too_large_message

WEB = Path(__file__).resolve().parent.parent.parent / "web"
# pdf.js ships as ES modules (.mjs), which a browser runs only with a JavaScript type;
# Python's table has no .mjs before 3.12.
mimetypes.add_type("text/javascript", ".mjs")


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
        # Refuse an over-size body before reading it (``request_body_limit``): every file
        # at the size limit plus the multipart framing; on Lambda, what fits an invocation.
        container = app.state.container
        size = _body_size(request)
        if size is not None and size > request_body_limit(container):
            return error_response(413, "payload_too_large", too_large_message(container, size))
        return await call_next(request)

    for module in (operations, documents, uploads, query, conversations):
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


def _body_size(request: Request) -> int | None:
    """The body's size as declared (``Content-Length``), else, on Lambda, as it came in
    the event (a base64 body is 3 bytes for every 4 characters); None if unknown."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit():
        return int(declared)
    event = request.scope.get("aws.event")
    body = event.get("body") if isinstance(event, dict) else None
    if not isinstance(body, str):
        return None
    if event.get("isBase64Encoded"):
        return len(body) // 4 * 3
    return len(body.encode("utf-8"))
