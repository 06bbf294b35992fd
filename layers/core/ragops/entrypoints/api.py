"""The HTTP API (FastAPI). The same app runs under uvicorn locally and behind API Gateway.

Errors are JSON ``{"error": {"type": ..., "message": ...}}`` with a 4xx status for
anything the caller can fix; project errors map to statuses in ``_STATUS`` only here.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, File, Header, Request, UploadFile, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from ragops import __version__
from ragops.bootstrap import Container, build_container
from ragops.domain.models import Answer, DocumentRecord, SearchMode
from ragops.errors import (
    AnswerNotFound,
    CacheUnavailable,
    ConfigurationError,
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
from ragops.services import uploads
from ragops.services.answering import (
    MAX_QUESTION_CHARS,
    AnswerDelta,
)
from ragops.services.auth import Principal, authenticate_api_key, principal_from_claims
from ragops.services.documents import (
    IngestOutcome,
    IngestResult,
    UploadedFile,
    get_document,
    list_documents,
)
from ragops.services.feedback import MAX_COMMENT_CHARS, record_feedback
from ragops.services.observability import report_feedback
from ragops.services.ops_summary import ops_summary
from ragops.services.queries import ask, ask_streaming
from ragops.settings import DEFAULT_TENANT, validate_tenant

logger = logging.getLogger(__name__)

_STATUS: dict[type[RagopsError], int] = {
    Unauthenticated: status.HTTP_401_UNAUTHORIZED,
    QuotaExceeded: status.HTTP_403_FORBIDDEN,
    DocumentNotFound: status.HTTP_404_NOT_FOUND,
    AnswerNotFound: status.HTTP_404_NOT_FOUND,
    InvalidInput: status.HTTP_400_BAD_REQUEST,
    StoreUnavailable: status.HTTP_503_SERVICE_UNAVAILABLE,
    TierUnavailable: status.HTTP_503_SERVICE_UNAVAILABLE,
    ModelUnavailable: status.HTTP_503_SERVICE_UNAVAILABLE,
    CacheUnavailable: status.HTTP_503_SERVICE_UNAVAILABLE,  # a write that cannot end cached answers
    ConfigurationError: status.HTTP_500_INTERNAL_SERVER_ERROR,
}

MAX_FILES_PER_UPLOAD = 20


# -- schemas ---------------------------------------------------------------------------
class QueryRequest(BaseModel):
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    top_k: int | None = Field(default=None, ge=1, le=50)
    mode: SearchMode = SearchMode.HYBRID


class FeedbackRequest(BaseModel):
    answer_id: str = Field(min_length=1, max_length=64, description="The answer's answer_id.")
    rating: Literal["up", "down"]
    comment: str | None = Field(default=None, max_length=MAX_COMMENT_CHARS)


class FeedbackOut(BaseModel):
    answer_id: str
    rating: str
    prompt_version: str | None
    experiment: str | None


class QualityFindingOut(BaseModel):
    check: str = Field(
        description="near_empty_text, extraction_garbage, language, exact_duplicate, "
        "near_duplicate or empty_text"
    )
    severity: Literal["info", "warning", "error"]
    message: str
    related_doc_id: str | None = Field(default=None, description="The other document.")
    value: float | None = Field(default=None, description="Characters, ratio or similarity.")


class DocumentOut(BaseModel):
    doc_id: str
    tenant: str
    title: str
    source: str
    content_type: str
    content_hash: str
    version: str
    size_bytes: int
    chunk_count: int
    pages: int | None
    embedding_model: str
    status: str = Field(description="indexed, pending (waits for the search tier) or failed")
    status_reason: str | None = None
    created_at: str
    updated_at: str
    language: str | None = Field(default=None, description="ISO 639-1 code of the text.")
    quality: list[QualityFindingOut] = Field(
        default_factory=list, description="What the quality checks found at ingestion."
    )


class DocumentList(BaseModel):
    documents: list[DocumentOut]


class UploadItem(BaseModel):
    filename: str
    outcome: str | None = None
    document: DocumentOut | None = None
    error: str | None = None
    status: int


class UploadResponse(BaseModel):
    results: list[UploadItem]


class TierHealth(BaseModel):
    state: str = Field(description="active, paused or resuming")
    usable: bool
    retry_after: int | None = None
    message: str


class PipelineOut(BaseModel):
    source: Literal["champion", "settings"] = Field(
        description="champion: a registered version; settings: the deployment's own."
    )
    version: int | None = Field(description="The champion's version number.")
    config: dict[str, Any] = Field(description="Embedder, chunking, fusion, prompts, models...")
    note: str = Field(default="", description="Why the settings serve, when they do.")
    degraded: bool = Field(
        default=False, description="A champion was expected but could not be served."
    )


class Health(BaseModel):
    status: str
    version: str
    tier: TierHealth


class ErrorBody(BaseModel):
    type: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody


def _event(kind: str, data: Any) -> str:
    """One server-sent event (JSON data on one line)."""
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _document_out(record: DocumentRecord) -> DocumentOut:
    return DocumentOut(**record.to_dict())


def _error(
    status_code: int, kind: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        status_code=status_code,
        content={"error": {"type": kind, "message": message}},
        headers=headers,
    )


# -- dependencies ----------------------------------------------------------------------
def get_container(request: Request) -> Container:
    return request.app.state.container


_bearer = HTTPBearer(
    auto_error=False,
    description="An API key from `ragops keys create` (`rgk_...`) or, with RAGOPS_AUTH=jwt, "
    "a JWT from the user pool. Not needed in local development (RAGOPS_AUTH=off).",
)


def get_principal(
    request: Request,
    container: Annotated[Container, Depends(get_container)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    x_tenant_id: Annotated[
        str | None,
        Header(description="Tenant, honoured only in local development (RAGOPS_AUTH=off)"),
    ] = None,
) -> Principal:
    """Who calls, for which tenant: from the credential (``RAGOPS_AUTH=api-key`` or
    ``jwt``; behind API Gateway's Cognito authorizer, from the claims it verified), or,
    in local development only, from ``X-Tenant-Id``. Then the tenant's rate limit."""
    mode = container.settings.auth
    if mode == "off":
        try:
            principal = Principal(
                validate_tenant(x_tenant_id or DEFAULT_TENANT), "anonymous", "none"
            )
        except ValueError as exc:
            raise InvalidInput(str(exc)) from exc
    else:
        claims = _authorizer_claims(request) if "jwt" in mode else None
        presented = credentials.credentials if credentials is not None else ""
        if claims is not None:
            principal = principal_from_claims(claims, container.settings.jwt_tenant_claim)
        elif credentials is None or credentials.scheme.lower() != "bearer":
            raise Unauthenticated("send `Authorization: Bearer <key or token>`")
        elif mode == "api-key" or (mode == "jwt+api-key" and presented.startswith("rgk_")):
            principal = authenticate_api_key(container.store, presented)
        elif mode == "jwt+api-key" and not container.settings.jwt_issuer:
            # The cloud: tokens are verified by the user pool's API, not here.
            raise Unauthenticated("not an API key; signed-in users call the user-pool API")
        else:
            principal = container.jwt_verifier.verify(presented)
    limiter = container.rate_limiter
    if limiter is not None:
        wait = limiter.acquire(principal.tenant)
        if wait is not None:
            raise RateLimited(f"tenant {principal.tenant} is over its request rate", wait)
    return principal


def _authorizer_claims(request: Request) -> dict[str, Any] | None:
    """The claims API Gateway's Cognito authorizer verified (Lambda, through Mangum)."""
    event = request.scope.get("aws.event") or {}
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    claims = authorizer.get("claims")
    return claims if isinstance(claims, dict) else None


def get_tenant(principal: Annotated[Principal, Depends(get_principal)]) -> str:
    return principal.tenant


def get_user(
    x_user_id: Annotated[
        str | None,
        Header(
            max_length=128,
            pattern=r"^[A-Za-z0-9._@:-]+$",
            description="The caller's user id: keeps them in one prompt-experiment variant.",
        ),
    ] = None,
) -> str | None:
    return x_user_id


ContainerDep = Annotated[Container, Depends(get_container)]
UserDep = Annotated[str | None, Depends(get_user)]
TenantDep = Annotated[str, Depends(get_tenant)]

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Invalid input"},
    401: {"model": ErrorResponse, "description": "No valid credential"},
    404: {"model": ErrorResponse, "description": "Not found"},
    422: {"model": ErrorResponse, "description": "Rejected input"},
    503: {"model": ErrorResponse, "description": "A backend is unavailable"},
}


def create_app(container: Container | None = None) -> FastAPI:
    """Build the API around ``container`` (a default local one if none is given)."""
    app = FastAPI(
        title="ragops",
        version=__version__,
        description="Document question answering with hybrid search and cited answers.",
    )
    app.state.container = container or build_container(resolve_champion=True)

    @app.exception_handler(DocumentRejected)
    async def _rejected(_: Request, exc: DocumentRejected) -> JSONResponse:
        return _error(exc.status, "document_rejected", str(exc))

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
        return _error(401, "unauthenticated", str(exc), {"WWW-Authenticate": "Bearer"})

    @app.exception_handler(RateLimited)
    async def _rate_limited(_: Request, exc: RateLimited) -> JSONResponse:
        return _error(429, "rate_limited", str(exc), {"Retry-After": str(exc.retry_after)})

    @app.middleware("http")
    async def _body_limit(request: Request, call_next: Any) -> Response:
        # Refuse an over-size body before reading it: the largest upload is every file at
        # the size limit, plus room for the multipart framing.
        limit = app.state.container.settings.max_upload_bytes * MAX_FILES_PER_UPLOAD + 1_048_576
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return _error(413, "payload_too_large", f"the request body is over {limit:,} bytes")
        return await call_next(request)

    @app.exception_handler(RagopsError)
    async def _project_error(_: Request, exc: RagopsError) -> JSONResponse:
        code = next(
            (c for t, c in _STATUS.items() if isinstance(exc, t)),
            status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
        if code >= 500:
            logger.error("request failed: %s", exc)
        headers = {"Retry-After": "30"} if code == 503 else None
        return _error(code, type(exc).__name__, str(exc), headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body') or 'body'}: {e.get('msg')}"
            for e in exc.errors()
        )
        return _error(422, "invalid_request", problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, "http_error", str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        logger.exception("unexpected error")
        return _error(500, "internal_error", "internal error; see the server log")

    @app.get("/healthz", tags=["operations"], response_model=Health)
    def healthz(container: ContainerDep) -> Health:
        """Liveness, with the search tier's state: ``ok`` when queries can be served,
        ``maintenance`` while the tier is paused, resuming or failing."""
        tier = container.tier_status()
        return Health(
            status="ok" if tier.usable else "maintenance",
            version=__version__,
            tier=TierHealth(
                state=str(tier.state),
                usable=tier.usable,
                retry_after=None if tier.usable else tier.retry_after,
                message=tier.reason,
            ),
        )

    @app.post(
        "/v1/documents",
        tags=["documents"],
        status_code=status.HTTP_201_CREATED,
        response_model=UploadResponse,
        responses={
            **_ERRORS,
            202: {"model": UploadResponse, "description": "Stored; indexed on resume"},
            207: {"model": UploadResponse},
            413: _ERRORS[422],
            415: _ERRORS[422],
        },
    )
    def upload_documents(
        container: ContainerDep,
        tenant: TenantDep,
        file: Annotated[list[UploadFile], File(description="One or more documents")],
    ) -> Response:
        """Upload and index documents (PDF, DOCX, HTML, Markdown, text).

        201 when every file was indexed (or was already indexed unchanged); 202 when files
        were stored as pending because the search tier is paused or busy (they are indexed
        on resume); a rejected single file answers with its own 4xx; a mix of accepted and
        rejected files answers 207 with a result per file.
        """
        if len(file) > MAX_FILES_PER_UPLOAD:
            raise InvalidInput(f"at most {MAX_FILES_PER_UPLOAD} files per upload")
        limit = container.settings.max_upload_bytes
        items: list[UploadedFile | DocumentRejected] = []
        for upload in file:
            name = upload.filename or "(unnamed)"
            data = upload.file.read(limit + 1)
            if len(data) > limit:
                items.append(
                    DocumentRejected(
                        name, f"the file is over the limit of {limit:,} bytes", status=413
                    )
                )
            else:
                items.append(UploadedFile(filename=name, data=data))
        accepted = [i for i in items if isinstance(i, UploadedFile)]
        outcomes = iter(
            uploads.upload_documents(container.upload_context(), tenant=tenant, files=accepted)
        )
        results: list[UploadItem] = []
        for item in items:
            outcome = item if isinstance(item, DocumentRejected) else next(outcomes)
            if isinstance(outcome, IngestResult):
                results.append(
                    UploadItem(
                        filename=outcome.record.source,
                        outcome=str(outcome.outcome),
                        document=_document_out(outcome.record),
                        status=202 if outcome.outcome is IngestOutcome.ACCEPTED else 201,
                    )
                )
            else:
                results.append(
                    UploadItem(filename=outcome.filename, error=str(outcome), status=outcome.status)
                )
        failed = [r for r in results if r.error]
        if len(results) == 1 and failed:
            return _error(failed[0].status, "document_rejected", failed[0].error or "")
        if failed:
            code = 207
        elif any(r.status == 202 for r in results):
            code = status.HTTP_202_ACCEPTED
        else:
            code = status.HTTP_201_CREATED
        return JSONResponse(status_code=code, content=UploadResponse(results=results).model_dump())

    @app.get("/v1/documents", tags=["documents"], response_model=DocumentList, responses=_ERRORS)
    def get_documents(container: ContainerDep, tenant: TenantDep) -> DocumentList:
        return DocumentList(
            documents=[_document_out(r) for r in list_documents(container.store, tenant)]
        )

    @app.get(
        "/v1/documents/{doc_id}", tags=["documents"], response_model=DocumentOut, responses=_ERRORS
    )
    def get_one_document(doc_id: str, container: ContainerDep, tenant: TenantDep) -> DocumentOut:
        return _document_out(get_document(container.store, tenant, doc_id))

    @app.delete(
        "/v1/documents/{doc_id}",
        tags=["documents"],
        status_code=status.HTTP_204_NO_CONTENT,
        responses=_ERRORS,
    )
    def remove_document(doc_id: str, container: ContainerDep, tenant: TenantDep) -> Response:
        uploads.remove_document(container.upload_context(), tenant=tenant, doc_id=doc_id)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @app.post("/v1/query", tags=["query"], response_model=Answer, responses=_ERRORS)
    def query(
        body: QueryRequest, container: ContainerDep, tenant: TenantDep, user: UserDep
    ) -> Answer:
        """Answer a question from the tenant's documents, citing passages as [n].
        503 with ``Retry-After`` while the search tier is paused. ``answer_id`` names the
        answer for ``POST /v1/feedback``; ``prompt`` says which template answered."""
        return ask(
            container.query_context(),
            tenant=tenant,
            question=body.question,
            top_k=body.top_k,
            mode=body.mode,
            user=user,
        )

    @app.post(
        "/v1/query/stream",
        tags=["query"],
        responses={
            **_ERRORS,
            200: {
                "content": {"text/event-stream": {}},
                "description": "Server-sent events: `delta` ({text}) as sentences are "
                "generated, then `answer` (the whole answer, as /v1/query returns it), or "
                "`error` ({error: {type, message}}) if it fails midway.",
            },
        },
    )
    def query_stream(
        body: QueryRequest, container: ContainerDep, tenant: TenantDep, user: UserDep
    ) -> StreamingResponse:
        """``/v1/query`` as a stream: each sentence appears once written and checked against
        its passages; the final ``answer`` event replaces them. Refused questions and a
        paused tier answer with the usual JSON errors before any event."""
        events = ask_streaming(
            container.query_context(),
            tenant=tenant,
            question=body.question,
            top_k=body.top_k,
            mode=body.mode,
            user=user,
        )

        def sse() -> Iterator[str]:
            try:
                for item in events:
                    if isinstance(item, AnswerDelta):
                        yield _event("delta", {"text": item.text})
                    else:
                        yield _event("answer", jsonable_encoder(item))
                        return
            except RagopsError as exc:
                logger.warning("streamed answer failed: %s", exc)
                yield _event("error", {"error": {"type": type(exc).__name__, "message": str(exc)}})

        return StreamingResponse(
            sse(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
        )

    @app.post(
        "/v1/feedback",
        tags=["query"],
        status_code=status.HTTP_201_CREATED,
        response_model=FeedbackOut,
        responses=_ERRORS,
    )
    def feedback(body: FeedbackRequest, container: ContainerDep, tenant: TenantDep) -> FeedbackOut:
        """Thumbs up or down on an answer this tenant was given (404 for any other id). A
        later vote on the same answer replaces the earlier one."""
        recorded = record_feedback(
            container.store, tenant, body.answer_id, body.rating, body.comment
        )
        report_feedback(container.metrics, recorded)
        return FeedbackOut(**recorded.__dict__)

    @app.get("/v1/pipeline", tags=["operations"], response_model=PipelineOut, responses=_ERRORS)
    def served_pipeline(container: ContainerDep, _: TenantDep) -> PipelineOut:
        """The pipeline configuration answers are made with: the registry's champion
        version (resolved when the API started), or the deployment's settings."""
        return PipelineOut(**container.served_pipeline.to_dict())

    @app.get("/v1/ops/summary", tags=["operations"], responses=_ERRORS)
    def operations_summary(container: ContainerDep, tenant: TenantDep) -> dict[str, Any]:
        """The operations page's figures for the caller's tenant: tier state, documents by
        status and passages, and the last 7 days of queries, cache hits and cost."""
        tier = container.tier_status()
        return {
            **ops_summary(container.store, tenant).to_dict(),
            "tier": {
                "state": str(tier.state),
                "usable": tier.usable,
                "message": tier.reason,
            },
        }

    web = Path(__file__).resolve().parent.parent / "web"
    app.mount("/ui", StaticFiles(directory=web), name="ui")

    @app.get("/", include_in_schema=False)
    def web_ui() -> FileResponse:
        """The web UI: static files shipped in the package (no build step, no CDN)."""
        return FileResponse(web / "index.html", media_type="text/html")

    @app.get("/ops", include_in_schema=False)
    def web_ops() -> FileResponse:
        return FileResponse(web / "ops.html", media_type="text/html")

    @app.get("/metrics", tags=["operations"], include_in_schema=False)
    def prometheus_metrics(container: ContainerDep) -> Response:
        """Prometheus metrics of this process (404 unless RAGOPS_METRICS=prometheus)."""
        render = getattr(container.metrics, "render", None)
        if render is None:
            return _error(404, "not_found", "metrics are not served by this deployment")
        body, content_type = render()
        return Response(body, media_type=content_type)

    return app
