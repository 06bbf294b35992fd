"""Errors as JSON ``{"error": {"type": ..., "message": ...}}``, with a 4xx status for
anything the caller can fix: project errors map to statuses here only."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ragops.entrypoints.api.schemas import ErrorResponse
from ragops.errors import (
    AnswerNotFound,
    CacheUnavailable,
    ConfigurationError,
    ConversationNotFound,
    DocumentNotFound,
    DocumentRejected,
    InvalidInput,
    ModelUnavailable,
    QuotaExceeded,
    RagopsError,
    RateLimited,
    ServicePaused,
    StoreUnavailable,
    TierUnavailable,
    Unauthenticated,
)
from ragops.services.uploads import DirectUploadsUnavailable

logger = logging.getLogger("ragops.entrypoints.api")

_STATUS: dict[type[RagopsError], int] = {
    Unauthenticated: status.HTTP_401_UNAUTHORIZED,
    QuotaExceeded: status.HTTP_403_FORBIDDEN,
    DocumentNotFound: status.HTTP_404_NOT_FOUND,
    AnswerNotFound: status.HTTP_404_NOT_FOUND,
    ConversationNotFound: status.HTTP_404_NOT_FOUND,
    InvalidInput: status.HTTP_400_BAD_REQUEST,
    StoreUnavailable: status.HTTP_503_SERVICE_UNAVAILABLE,
    TierUnavailable: status.HTTP_503_SERVICE_UNAVAILABLE,
    ModelUnavailable: status.HTTP_503_SERVICE_UNAVAILABLE,
    CacheUnavailable: status.HTTP_503_SERVICE_UNAVAILABLE,  # a write that cannot end cached answers
    ConfigurationError: status.HTTP_500_INTERNAL_SERVER_ERROR,
    # The deployment's store cannot presign (the local folder), and the caller has another
    # way (POST /v1/documents, no platform limit there): a 4xx it can act on, not a 5xx.
    DirectUploadsUnavailable: status.HTTP_409_CONFLICT,
}

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Invalid input"},
    401: {"model": ErrorResponse, "description": "No valid credential"},
    404: {"model": ErrorResponse, "description": "Not found"},
    422: {"model": ErrorResponse, "description": "Rejected input"},
    503: {"model": ErrorResponse, "description": "A backend is unavailable"},
}


def error_response(
    status_code: int, kind: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        status_code=status_code,
        content={"error": {"type": kind, "message": message}},
        headers=headers,
    )


def install_error_handlers(app: FastAPI) -> None:
    """Every error the app can raise, as JSON with its status."""

    @app.exception_handler(DocumentRejected)
    async def _rejected(_: Request, exc: DocumentRejected) -> JSONResponse:
        return error_response(exc.status, "document_rejected", str(exc))

    @app.exception_handler(ServicePaused)
    async def _paused(_: Request, exc: ServicePaused) -> JSONResponse:
        return JSONResponse(
            status_code=503,
            content={
                "error": {"type": "service_paused", "message": str(exc)},
                "tier_state": exc.state,
            },
            headers={"Retry-After": str(exc.retry_after)},
        )

    @app.exception_handler(Unauthenticated)
    async def _unauthenticated(_: Request, exc: Unauthenticated) -> JSONResponse:
        return error_response(401, "unauthenticated", str(exc), {"WWW-Authenticate": "Bearer"})

    @app.exception_handler(RateLimited)
    async def _rate_limited(_: Request, exc: RateLimited) -> JSONResponse:
        return error_response(429, "rate_limited", str(exc), {"Retry-After": str(exc.retry_after)})

    @app.exception_handler(RagopsError)
    async def _project_error(_: Request, exc: RagopsError) -> JSONResponse:
        code = next(
            (c for t, c in _STATUS.items() if isinstance(exc, t)),
            status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
        if code >= 500:
            logger.error("request failed: %s", exc)
        headers = {"Retry-After": "30"} if code == 503 else None
        return error_response(code, type(exc).__name__, str(exc), headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body') or 'body'}: {e.get('msg')}"
            for e in exc.errors()
        )
        return error_response(422, "invalid_request", problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(
            exc.status_code, "http_error", str(exc.detail), getattr(exc, "headers", None)
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        logger.exception("unexpected error")
        return error_response(500, "internal_error", "internal error; see the server log")
