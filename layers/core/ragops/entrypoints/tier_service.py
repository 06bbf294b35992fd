"""The vector tier service: the hybrid index over HTTP, as it runs on EKS.

Routes (all under ``/v1`` need ``Authorization: Bearer <token>``; anything else is 401):

- ``POST /v1/tenants/{tenant}/chunks``: upsert ``{"chunks": [...], "embeddings": matrix}``
- ``POST /v1/tenants/{tenant}/chunks/delete``: ``{"ids": [...]}``
- ``DELETE /v1/tenants/{tenant}/documents/{doc_id}``: ``{"deleted": n}``
- ``GET /v1/tenants/{tenant}/documents/{doc_id}/chunk-ids``
- ``GET /v1/tenants/{tenant}/stats``: ``{"chunks": n, "documents": n}``
- ``POST /v1/tenants/{tenant}/search``: ``{"query", "query_embedding", "top_k", "mode",
  "candidates"}`` -> ``{"hits": [...]}``
- ``DELETE /v1/tenants/{tenant}``: drop the tenant's index
- ``GET /v1/stats``: chunks and documents per tenant
- ``/v1/tenants/{tenant}/cache/...``: the answer cache (``HttpTierCache``), when the
  service runs with ``RAGOPS_CACHE=redis``: generation, exact keys, entries, and the
  nearest cached questions. Every index write moves the tenant's generation on.

Open: ``GET /healthz`` (the process answers), ``GET /readyz`` (Chroma answers too),
``GET /metrics`` (Prometheus; on ``RAGOPS_TIER_METRICS_PORT`` alone when set, as on
EKS, so the load balancer cannot reach it). Run it with ``ragops tier serve`` or
``uvicorn ragops.entrypoints.tier_service:app_from_settings --factory``.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ragops.domain.tenants import validate_tenant
from ragops.domain.tier_tokens import AcceptedSecrets, token_tenant
from ragops.domain.tier_wire import API_PREFIX, decode_chunks, decode_matrix, encode_hits
from ragops.entrypoints.tier_metrics import TierMetrics
from ragops.entrypoints.tier_schemas import (
    CacheEntryRequest,
    CacheNearestRequest,
    CacheQuestionRequest,
    DeleteChunksRequest,
    SearchRequest,
    UpsertRequest,
)
from ragops.errors import CacheUnavailable, ConfigurationError, RagopsError, TierUnavailable
from ragops.ports import (
    CacheStore,
    CountsLoadedChunks,
    ForgetsTenants,
    ListsTenants,
    QuestionIndex,
    VectorTier,
)
from ragops.services.pipeline import ChampionReader
from ragops.settings import Settings

logger = logging.getLogger(__name__)

# Module level: route signatures are resolved from module globals (postponed annotations).
_bearer = HTTPBearer(auto_error=False)
MAX_BODY_BYTES = 64 * 1024 * 1024


def create_tier_app(
    index: VectorTier,
    *,
    token: str | AcceptedSecrets,
    ready: Callable[[], None] | None = None,
    cache_store: CacheStore | None = None,
    cache_questions: QuestionIndex | None = None,
    champion: ChampionReader | None = None,
    metrics_port: int | None = None,
) -> FastAPI:
    """The service over ``index``. ``token`` is the tier's secret: the routes of no tenant
    take it as the bearer token, a tenant's routes a token minted from it for that tenant
    (``domain/tier_tokens``); as ``AcceptedSecrets`` it follows a rotation of the secret;
    ``ready`` raises when the backing store cannot serve (readiness probe). With
    ``cache_store`` (and ``cache_questions`` for the semantic layer) it serves the answer
    cache too; ``index`` should then move generations on (``CacheInvalidatingTier``).
    ``champion`` reads the pipeline registry's champion, which the functions ask for.
    With ``metrics_port``, ``/metrics`` is served on that port alone while the app runs (its
    lifespan), and not on the API's: the load balancer, which forwards only the API port,
    cannot reach it (an NLB cannot filter by path)."""
    accepted = token if isinstance(token, AcceptedSecrets) else AcceptedSecrets(token, grace=0)
    if any(len(secret) < 16 for secret in accepted.secrets()):
        raise ConfigurationError("the tier token must be at least 16 characters")

    def authorised(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> None:
        # A tenant's routes take only a token minted for that tenant (domain/tier_tokens);
        # the routes of no tenant take the secret itself.
        presented = credentials.credentials if credentials else ""
        tenant = request.path_params.get("tenant")
        now = time.time()
        if tenant is None:
            allowed = any(
                hmac.compare_digest(presented.encode(), secret.encode())
                for secret in accepted.secrets()
            )
        else:
            allowed = any(
                token_tenant(secret, presented, now=now) == tenant for secret in accepted.secrets()
            )
        if not allowed:
            raise _UnauthorisedError

    def chunks_held() -> float:
        return float(index.loaded_chunk_count()) if isinstance(index, CountsLoadedChunks) else 0.0

    metrics = TierMetrics(chunks_held)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        with metrics.served_on(metrics_port):
            yield

    app = FastAPI(
        title="ragops vector tier", version="1", docs_url=None, redoc_url=None, lifespan=lifespan
    )
    app.state.metrics = metrics
    guarded = [Depends(authorised)]

    @app.middleware("http")
    async def measure(request: Request, call_next):
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_BODY_BYTES:
            return JSONResponse(
                {"detail": f"request body over {MAX_BODY_BYTES} bytes"}, status_code=413
            )
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        operation = getattr(route, "name", None) or "unmatched"
        if operation not in ("metrics", "healthz", "readyz"):
            metrics.latency.labels(operation).observe(time.perf_counter() - started)
            metrics.requests.labels(operation, str(response.status_code)).inc()
        return response

    @app.exception_handler(_UnauthorisedError)
    async def unauthorised(_: Request, __: Exception) -> JSONResponse:
        return JSONResponse(
            {"detail": "a valid bearer token is required"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )

    @app.exception_handler(TierUnavailable)
    async def unavailable(_: Request, exc: TierUnavailable) -> JSONResponse:
        logger.warning("tier backend unavailable: %s", exc)
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(CacheUnavailable)
    async def cache_unavailable(_: Request, exc: CacheUnavailable) -> JSONResponse:
        logger.warning("answer cache unavailable: %s", exc)
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(ConfigurationError)
    async def conflict(_: Request, exc: ConfigurationError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.exception_handler(ValueError)
    async def bad_value(_: Request, exc: ValueError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(RagopsError)
    async def refused(_: Request, exc: RagopsError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.get("/healthz", name="healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", name="readyz")
    def readyz() -> JSONResponse:
        try:
            if ready is not None:
                ready()
        except Exception as exc:
            return JSONResponse({"status": "unavailable", "detail": str(exc)}, status_code=503)
        return JSONResponse({"status": "ready"})

    if metrics_port is None:

        @app.get("/metrics", name="metrics")
        def prometheus() -> Response:
            body, content_type = metrics.render()
            return Response(body, media_type=content_type)

    tenant_routes = f"{API_PREFIX}/tenants/{{tenant}}"

    @app.post(f"{tenant_routes}/chunks", name="upsert", dependencies=guarded)
    def upsert(tenant: str, body: UpsertRequest) -> dict[str, int]:
        chunks = decode_chunks(body.chunks)
        embeddings = decode_matrix(body.embeddings.model_dump())
        index.upsert(validate_tenant(tenant), chunks, embeddings)
        return {"upserted": len(chunks)}

    @app.post(f"{tenant_routes}/chunks/delete", name="delete_chunks", dependencies=guarded)
    def delete_chunks(tenant: str, body: DeleteChunksRequest) -> dict[str, int]:
        index.delete_chunks(validate_tenant(tenant), body.ids)
        return {"deleted": len(body.ids)}

    @app.delete(
        f"{tenant_routes}/documents/{{doc_id}}", name="delete_document", dependencies=guarded
    )
    def delete_document(tenant: str, doc_id: str) -> dict[str, int]:
        return {"deleted": index.delete_document(validate_tenant(tenant), doc_id)}

    @app.get(
        f"{tenant_routes}/documents/{{doc_id}}/chunk-ids", name="chunk_ids", dependencies=guarded
    )
    def chunk_ids(tenant: str, doc_id: str) -> dict[str, list[str]]:
        return {"chunk_ids": index.document_chunk_ids(validate_tenant(tenant), doc_id)}

    @app.get(f"{tenant_routes}/stats", name="tenant_stats", dependencies=guarded)
    def tenant_stats(tenant: str) -> dict[str, int]:
        validate_tenant(tenant)
        return {"chunks": index.count(tenant), "documents": index.document_count(tenant)}

    @app.post(f"{tenant_routes}/search", name="search", dependencies=guarded)
    def search(tenant: str, body: SearchRequest) -> dict[str, Any]:
        hits = index.search(
            validate_tenant(tenant),
            body.query,
            body.query_embedding,
            body.top_k,
            body.mode,
            body.candidates,
        )
        return {"hits": encode_hits(hits)}

    @app.delete(tenant_routes, name="drop", dependencies=guarded)
    def drop(tenant: str) -> dict[str, str]:
        index.drop_tenant(validate_tenant(tenant))
        # The tenant's cached questions go with its index (the generation already moved on,
        # so none would be served; this removes their text).
        if isinstance(cache_questions, ForgetsTenants):
            cache_questions.drop_tenant(tenant)
        return {"dropped": tenant}

    def store() -> CacheStore:
        if cache_store is None:
            raise _NoCacheError
        return cache_store

    def questions() -> QuestionIndex:
        if cache_questions is None:
            raise _NoCacheError
        return cache_questions

    @app.exception_handler(_NoCacheError)
    async def no_cache(_: Request, __: Exception) -> JSONResponse:
        return JSONResponse({"detail": "this tier serves no answer cache"}, status_code=404)

    cache_routes = f"{tenant_routes}/cache"

    @app.get(f"{cache_routes}/generation", name="cache_generation", dependencies=guarded)
    def cache_generation(tenant: str) -> dict[str, int]:
        return {"generation": store().generation(validate_tenant(tenant))}

    @app.post(f"{cache_routes}/generation", name="cache_bump", dependencies=guarded)
    def cache_bump(tenant: str) -> dict[str, int]:
        return {"generation": store().bump_generation(validate_tenant(tenant))}

    @app.get(f"{cache_routes}/exact", name="cache_exact", dependencies=guarded)
    def cache_exact(tenant: str, partition: str, key: str) -> dict[str, str | None]:
        return {"entry_id": store().get_exact(validate_tenant(tenant), partition, key)}

    @app.get(f"{cache_routes}/entries/{{entry_id}}", name="cache_entry", dependencies=guarded)
    def cache_entry(tenant: str, entry_id: str) -> dict[str, Any]:
        return {"entry": store().get_entry(validate_tenant(tenant), entry_id)}

    @app.put(f"{cache_routes}/entries/{{entry_id}}", name="cache_put", dependencies=guarded)
    def cache_put(tenant: str, entry_id: str, body: CacheEntryRequest) -> dict[str, str]:
        store().put(
            validate_tenant(tenant),
            body.partition,
            body.key,
            entry_id,
            body.entry,
            body.ttl_seconds,
        )
        return {"entry_id": entry_id}

    @app.post(f"{cache_routes}/questions", name="cache_add_question", dependencies=guarded)
    def cache_add_question(tenant: str, body: CacheQuestionRequest) -> dict[str, str]:
        questions().add(
            validate_tenant(tenant), body.partition, body.entry_id, body.question, body.embedding
        )
        return {"entry_id": body.entry_id}

    @app.post(f"{cache_routes}/questions/nearest", name="cache_nearest", dependencies=guarded)
    def cache_nearest(tenant: str, body: CacheNearestRequest) -> dict[str, Any]:
        found = questions().nearest(
            validate_tenant(tenant), body.partition, body.embedding, body.k, body.question
        )
        return {
            "candidates": [
                {
                    "entry_id": c.entry_id,
                    "question": c.question,
                    "similarity": c.similarity,
                    **({"serve_at": c.serve_at} if c.serve_at is not None else {}),
                }
                for c in found
            ]
        }

    @app.get(f"{API_PREFIX}/pipeline/champion", name="pipeline_champion", dependencies=guarded)
    def pipeline_champion() -> JSONResponse:
        if champion is None:
            detail = "this tier reads no pipeline registry (set MLFLOW_TRACKING_URI)"
            return JSONResponse({"detail": detail}, status_code=404)
        try:
            found = champion()
        except RagopsError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=503)
        if found is None:
            return JSONResponse({"detail": "no champion is registered"}, status_code=404)
        return JSONResponse(found.to_dict())

    @app.get(f"{API_PREFIX}/stats", name="stats", dependencies=guarded)
    def stats() -> dict[str, Any]:
        names = index.tenants() if isinstance(index, ListsTenants) else []
        return {
            "tenants": {
                name: {"chunks": index.count(name), "documents": index.document_count(name)}
                for name in names
            }
        }

    return app


class _UnauthorisedError(Exception):
    """Raised by the bearer check; answered 401 without detail on which part was wrong."""


class _NoCacheError(Exception):
    """A cache route on a tier started without a cache (404)."""


def app_from_settings(settings: Settings | None = None) -> FastAPI:
    """The service as deployed: a ``HybridIndex`` over the Chroma server at
    ``RAGOPS_CHROMA_URL``, guarded by ``RAGOPS_TIER_TOKEN`` (or the Secrets Manager secret
    at ``RAGOPS_TIER_SECRET_ARN``). Connects to nothing until the first request."""
    from ragops.bootstrap import build_container, champion_reader

    settings = settings or Settings()
    if not settings.chroma_url:
        raise ConfigurationError("the tier service needs RAGOPS_CHROMA_URL (the Chroma server)")
    if not settings.index_embedding_model:
        raise ConfigurationError(
            "the tier service needs RAGOPS_INDEX_EMBEDDING_MODEL: the embedding model id the "
            "functions use, recorded on every collection"
        )
    container = build_container(settings)
    index = container.raw_index()
    # The tier's own settings name no tier_url, so this reads MLflow (or nothing).
    champion = champion_reader(settings)
    if settings.cache != "redis":
        # A per-replica cache would miss the other replicas' writes: serve none.
        return create_tier_app(
            index,
            token=container.tier_accepted_secrets,
            ready=index.ping,
            champion=champion,
            metrics_port=settings.tier_metrics_port,
        )
    from ragops.services.answer_cache import CacheInvalidatingTier

    store = container.cache_store
    assert store is not None
    return create_tier_app(
        CacheInvalidatingTier(index, store),
        token=container.tier_accepted_secrets,
        ready=index.ping,
        cache_store=store,
        cache_questions=container.chroma_question_index(),
        champion=champion,
        metrics_port=settings.tier_metrics_port,
    )
