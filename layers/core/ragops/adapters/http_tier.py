"""``VectorTier`` over HTTP: the functions' client of the tier service on EKS.

Every call carries the bearer token. Failures map onto the port's errors so the services
and the circuit breaker treat a remote tier like the in-process one: no answer, a timeout
or a 5xx is ``TierUnavailable`` (maintenance mode after repeated failures); a refused
request is ``ValueError``; an index built with another embedder is ``ConfigurationError``.
Embeddings are sent as float32 matrices (``ragops.domain.tier_wire``), never re-embedded.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import httpx

from ragops.adapters.tier_auth import TierBearerAuth, TokenSource
from ragops.domain.models import Chunk, SearchHit, SearchMode
from ragops.domain.pipeline import PipelineVersion
from ragops.domain.tier_wire import (
    API_PREFIX,
    decode_hits,
    encode_chunks,
    encode_matrix,
    path_tenant,
    tenant_path,
    tier_base_url,
)
from ragops.errors import ConfigurationError, TierUnavailable

logger = logging.getLogger(__name__)

# Chunks per upsert request: about 2-3 MB with 384-dimension embeddings.
DEFAULT_UPSERT_BATCH = 1024


class HttpVectorTier:
    """The tier service at ``base_url`` (``https://tier.example.com``), authenticated with
    ``token``. ``client`` may be injected (tests, custom TLS); it must not carry another
    token. Thread-safe: one ``httpx.Client`` with a connection pool."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | TokenSource,
        timeout: float = 10.0,
        upsert_batch: int = DEFAULT_UPSERT_BATCH,
        client: httpx.Client | None = None,
    ) -> None:
        self.base_url, self._where = tier_base_url(base_url)
        self.upsert_batch = upsert_batch
        self._auth = TierBearerAuth(token)
        self._client = client or httpx.Client(timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def champion_pipeline(self) -> PipelineVersion | None:
        """The pipeline registry's champion, as the tier resolves it from the MLflow server
        beside it (which the functions cannot reach); None when there is none."""
        try:
            url = self.base_url + f"{API_PREFIX}/pipeline/champion"
            response = self._auth.send(lambda headers: self._client.get(url, headers=headers))
        except httpx.HTTPError as exc:
            raise TierUnavailable(f"the tier at {self._where} did not answer: {exc}") from exc
        if response.status_code == 404:
            return None
        if not response.is_success:
            raise TierUnavailable(
                f"the tier at {self._where} could not resolve the champion "
                f"({response.status_code}): {_detail(response)}"
            )
        try:
            return PipelineVersion.from_dict(response.json())
        except (ValueError, KeyError, TypeError) as exc:
            raise TierUnavailable(f"the tier sent an unreadable pipeline version: {exc}") from exc

    # -- transport -------------------------------------------------------------------------
    def _call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            response = self._auth.send(
                lambda headers: self._client.request(
                    method, self.base_url + path, json=body, headers=headers
                ),
                tenant=path_tenant(path),
            )
        except httpx.HTTPError as exc:
            raise TierUnavailable(f"the tier at {self._where} did not answer: {exc}") from exc
        if response.is_success:
            return response.json() if response.content else None
        detail = _detail(response)
        status = response.status_code
        if status in (401, 403):
            # A token the tier does not accept is a deployment fault: nothing can be served
            # until it is fixed, so it counts against the breaker like an outage.
            logger.error("the tier at %s refused the bearer token (%s)", self._where, status)
            raise TierUnavailable(f"the tier at {self._where} refused the credentials")
        if status == 409:
            raise ConfigurationError(detail)
        if 400 <= status < 500:
            raise ValueError(f"the tier refused the request ({status}): {detail}")
        raise TierUnavailable(f"the tier at {self._where} failed ({status}): {detail}")

    # -- VectorTier ------------------------------------------------------------------------
    def upsert(self, tenant: str, chunks: Sequence[Chunk], embeddings: Any) -> None:
        if len(chunks) != len(embeddings):
            raise ValueError("one embedding per chunk is required")
        if any(chunk.tenant != tenant for chunk in chunks):
            raise ValueError("every chunk must belong to the tenant it is written for")
        path = tenant_path(tenant, "chunks")
        for start in range(0, len(chunks), self.upsert_batch):
            stop = start + self.upsert_batch
            self._call(
                "POST",
                path,
                {
                    "chunks": encode_chunks(chunks[start:stop]),
                    "embeddings": encode_matrix(embeddings[start:stop]),
                },
            )

    def delete_chunks(self, tenant: str, chunk_ids: Sequence[str]) -> None:
        if chunk_ids:
            self._call("POST", tenant_path(tenant, "chunks", "delete"), {"ids": [*chunk_ids]})

    def delete_document(self, tenant: str, doc_id: str) -> int:
        return int(self._call("DELETE", tenant_path(tenant, "documents", doc_id))["deleted"])

    def document_chunk_ids(self, tenant: str, doc_id: str) -> list[str]:
        path = tenant_path(tenant, "documents", doc_id, "chunk-ids")
        return list(self._call("GET", path)["chunk_ids"])

    def document_count(self, tenant: str) -> int:
        return int(self._call("GET", tenant_path(tenant, "stats"))["documents"])

    def count(self, tenant: str) -> int:
        return int(self._call("GET", tenant_path(tenant, "stats"))["chunks"])

    def drop_tenant(self, tenant: str) -> None:
        self._call("DELETE", tenant_path(tenant))

    def ping(self) -> None:
        self._call("GET", "/readyz")

    def search(
        self,
        tenant: str,
        query: str,
        query_embedding: Sequence[float] | Any | None,
        top_k: int,
        mode: SearchMode = SearchMode.HYBRID,
        candidates: int | None = None,
    ) -> list[SearchHit]:
        body = {
            "query": query,
            "query_embedding": None
            if query_embedding is None
            else [float(x) for x in query_embedding],
            "top_k": top_k,
            "mode": SearchMode(mode).value,
            "candidates": candidates,
        }
        return decode_hits(self._call("POST", tenant_path(tenant, "search"), body)["hits"])


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = None
    return str(detail) if detail else response.reason_phrase or "no detail"
