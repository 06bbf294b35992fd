"""Per-tenant request rate limiting: a token bucket per tenant.

Each tenant's bucket holds up to ``burst`` tokens and refills at ``per_minute / 60`` a
second; a request takes one token or is refused with the seconds until one is back. The
buckets live in the process: exact for ``ragops serve``, per instance on Lambda (where API
Gateway's usage plan throttles the whole stage as well).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable


class TokenBucketLimiter:
    """Thread-safe. ``max_tenants`` bounds memory: the least recently seen tenant's bucket
    is dropped (it comes back full, which only errs towards letting a request through)."""

    def __init__(
        self,
        per_minute: int,
        burst: int | None = None,
        *,
        max_tenants: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.rate = per_minute / 60.0
        self.burst = float(burst if burst is not None else per_minute)
        self.max_tenants = max_tenants
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def acquire(self, tenant: str) -> int | None:
        """Take a token for ``tenant``: None when allowed, else the whole seconds to wait
        (``Retry-After``)."""
        now = self._clock()
        with self._lock:
            tokens, seen = self._buckets.pop(tenant, (self.burst, now))
            tokens = min(self.burst, tokens + (now - seen) * self.rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[tenant] = (tokens, now)
            while len(self._buckets) > self.max_tenants:
                self._buckets.popitem(last=False)
        if allowed:
            return None
        return max(1, math.ceil((1.0 - tokens) / self.rate))
