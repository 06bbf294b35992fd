"""The answer cache on the tier service, over HTTP: ``CacheStore`` and ``QuestionIndex``
in one client, for the functions (Lambda has neither Redis nor numpy at hand).

The tier keeps entries in Redis and cached questions in Chroma, and moves a tenant's
generation on whenever its index is written, so invalidation happens where the writes
land. Any failure (no answer, a timeout, a 5xx, a tier without a cache) is
``CacheUnavailable``: the cache is skipped, the question still answered.
"""

from __future__ import annotations

from typing import Any

import httpx

from ragops.adapters.tier_auth import TierBearerAuth, TokenSource
from ragops.domain.cache import Candidate
from ragops.domain.tier_wire import path_tenant, tenant_path, tier_base_url
from ragops.errors import CacheUnavailable


class HttpTierCache:
    def __init__(
        self,
        base_url: str,
        *,
        token: str | TokenSource,
        timeout: float = 2.0,
        client: httpx.Client | None = None,
    ) -> None:
        self.base_url, _ = tier_base_url(base_url)
        self._auth = TierBearerAuth(token)
        self._client = client or httpx.Client(timeout=timeout)

    def _path(self, tenant: str, *rest: str) -> str:
        return tenant_path(tenant, "cache", *rest)

    def _call(self, method: str, path: str, body: Any = None, params: Any = None) -> Any:
        try:
            response = self._auth.send(
                lambda headers: self._client.request(
                    method, self.base_url + path, json=body, params=params, headers=headers
                ),
                tenant=path_tenant(path),
            )
        except httpx.HTTPError as exc:
            raise CacheUnavailable(f"the tier's cache did not answer: {exc}") from exc
        if not response.is_success:
            raise CacheUnavailable(f"the tier's cache failed ({response.status_code})")
        return response.json()

    # -- CacheStore ------------------------------------------------------------------------
    def generation(self, tenant: str) -> int:
        return int(self._call("GET", self._path(tenant, "generation"))["generation"])

    def bump_generation(self, tenant: str) -> int:
        return int(self._call("POST", self._path(tenant, "generation"))["generation"])

    def get_exact(self, tenant: str, partition: str, key: str) -> str | None:
        params = {"partition": partition, "key": key}
        return self._call("GET", self._path(tenant, "exact"), params=params)["entry_id"]

    def get_entry(self, tenant: str, entry_id: str) -> dict[str, Any] | None:
        return self._call("GET", self._path(tenant, "entries", entry_id))["entry"]

    def put(
        self,
        tenant: str,
        partition: str,
        key: str,
        entry_id: str,
        entry: dict[str, Any],
        ttl_seconds: int,
    ) -> None:
        body = {"partition": partition, "key": key, "entry": entry, "ttl_seconds": ttl_seconds}
        self._call("PUT", self._path(tenant, "entries", entry_id), body)

    def ping(self) -> None:
        self._call("GET", "/readyz")

    # -- QuestionIndex -----------------------------------------------------------------------
    def add(
        self, tenant: str, partition: str, entry_id: str, question: str, embedding: Any
    ) -> None:
        body = {
            "partition": partition,
            "entry_id": entry_id,
            "question": question,
            "embedding": [float(x) for x in embedding],
        }
        self._call("POST", self._path(tenant, "questions"), body)

    def nearest(
        self, tenant: str, partition: str, embedding: Any, k: int, question: str | None = None
    ) -> list[Candidate]:
        """The tier's nearest cached questions. With ``question`` the tier may compare by the
        cache's trained duplicate model; its candidates then carry ``serve_at``."""
        body: dict[str, Any] = {
            "partition": partition,
            "embedding": [float(x) for x in embedding],
            "k": k,
        }
        if question is not None:
            body["question"] = question
        found = self._call("POST", self._path(tenant, "questions", "nearest"), body)
        return [
            Candidate(
                c["entry_id"],
                c["question"],
                float(c["similarity"]),
                float(c["serve_at"]) if c.get("serve_at") is not None else None,
            )
            for c in found["candidates"]
        ]
