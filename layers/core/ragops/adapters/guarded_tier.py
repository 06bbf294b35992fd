"""A ``VectorTier`` wrapper that feeds a circuit breaker: after repeated tier errors it
fails fast (``TierUnavailable``) instead of waiting on a dead tier for every request."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ragops.domain.tier import CircuitBreaker
from ragops.errors import TierUnavailable
from ragops.ports import DelegatingTier, VectorTier

if TYPE_CHECKING:
    pass

T = TypeVar("T")


class BreakerGuardedTier(DelegatingTier):
    """Forwards every call to ``inner`` through the breaker: a ``TierUnavailable`` counts
    as a failure, any answer as a success, and while the breaker is open calls fail at
    once."""

    def __init__(
        self,
        inner: VectorTier | None,
        breaker: CircuitBreaker,
        *,
        build: Callable[[], VectorTier] | None = None,
    ) -> None:
        """``inner`` is the tier; or pass ``build`` to construct it on first use, so that a
        request that never touches the index (health, listing, an asynchronous upload)
        never loads the index's libraries."""
        if (inner is None) == (build is None):
            raise ValueError("pass exactly one of inner and build")
        self._inner = inner
        self._build = build
        self.breaker = breaker

    @property
    def inner(self) -> VectorTier:
        if self._inner is None:
            assert self._build is not None
            try:
                self._inner = self._build()
            except ImportError as exc:
                # A deployment without the index's libraries (a Lambda package) and without
                # a remote tier: no search is possible, and the caller should hear why.
                raise TierUnavailable(
                    f"no vector tier in this deployment: {exc.name or exc} is not installed"
                ) from exc
        return self._inner

    def _forward(self, method: Callable[..., T], *args: Any) -> T:
        if self.breaker.is_open:
            wait = self.breaker.seconds_until_retry()
            raise TierUnavailable(f"the search tier failed repeatedly; retrying in {wait} s")
        try:
            result = method(*args)
        except TierUnavailable:
            self.breaker.record_failure()
            raise
        self.breaker.record_success()
        return result
