"""``CacheStore`` on any Redis or Valkey server (no modules needed).

Keys, all under ``{prefix}{tenant}:``:

- ``gen``: the tenant's corpus generation (``INCR``; never expires).
- ``entry:{id}``: one cached answer as JSON, with the entry's TTL (``SET ... EX``).
- ``exact:{partition}:{key}``: the entry id for a normalised question, same TTL.

The memory limit is the server's: run it with ``maxmemory`` and
``maxmemory-policy allkeys-lru`` (``k8s/base/redis.yaml`` does), so the least recently used
answers go first. Generation keys are tiny and rewritten on every change.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from ragops.errors import CacheUnavailable

T = TypeVar("T")


@contextmanager
def _redis_errors(action: str) -> Iterator[None]:
    from redis.exceptions import RedisError

    try:
        yield
    except RedisError as exc:
        raise CacheUnavailable(f"the cache could not {action}: {type(exc).__name__}") from exc


class RedisCacheStore:
    """Takes a ``redis.Redis`` client (injected), or builds one from ``url`` on first use
    with short timeouts: a slow cache must not hold up an answer."""

    def __init__(
        self,
        url: str | None = None,
        *,
        client: Any | None = None,
        prefix: str = "ragops:cache:",
        timeout_seconds: float = 0.5,
    ) -> None:
        if client is None and not url:
            raise ValueError("pass a Redis url or client")
        self.url = url
        self.prefix = prefix
        self.timeout_seconds = timeout_seconds
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import redis

            self._client = redis.Redis.from_url(
                self.url,
                socket_timeout=self.timeout_seconds,
                socket_connect_timeout=self.timeout_seconds,
                health_check_interval=30,
            )
        return self._client

    def _key(self, tenant: str, *parts: str) -> str:
        return self.prefix + ":".join((tenant, *parts))

    def _run(self, action: str, fn: Callable[[], T]) -> T:
        with _redis_errors(action):
            return fn()

    def generation(self, tenant: str) -> int:
        value = self._run("read a generation", lambda: self.client.get(self._key(tenant, "gen")))
        return int(value or 0)

    def bump_generation(self, tenant: str) -> int:
        return int(
            self._run("move a generation on", lambda: self.client.incr(self._key(tenant, "gen")))
        )

    def get_exact(self, tenant: str, partition: str, key: str) -> str | None:
        value = self._run(
            "look up a question",
            lambda: self.client.get(self._key(tenant, "exact", partition, key)),
        )
        return value.decode() if isinstance(value, bytes) else value

    def get_entry(self, tenant: str, entry_id: str) -> dict[str, Any] | None:
        value = self._run(
            "read an entry", lambda: self.client.get(self._key(tenant, "entry", entry_id))
        )
        return None if value is None else json.loads(value)

    def put(
        self,
        tenant: str,
        partition: str,
        key: str,
        entry_id: str,
        entry: dict[str, Any],
        ttl_seconds: int,
    ) -> None:
        def write() -> None:
            pipe = self.client.pipeline(transaction=False)
            pipe.set(self._key(tenant, "entry", entry_id), json.dumps(entry), ex=ttl_seconds)
            pipe.set(self._key(tenant, "exact", partition, key), entry_id, ex=ttl_seconds)
            pipe.execute()

        self._run("store an entry", write)

    def ping(self) -> None:
        self._run("answer a ping", self.client.ping)
