"""The vector tier's availability: its declared state and a circuit breaker on its errors."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class TierState(StrEnum):
    """What operations declared: the tier runs, is destroyed to save cost, or is coming back."""

    ACTIVE = "active"
    PAUSED = "paused"
    RESUMING = "resuming"


# How long a client should wait before retrying, by state.
RETRY_AFTER_SECONDS = {TierState.PAUSED: 300, TierState.RESUMING: 60, TierState.ACTIVE: 30}


class CircuitBreaker:
    """Opens after ``failure_threshold`` consecutive failures and stays open for
    ``reset_seconds``; then lets one call through (half-open) and closes on its success.

    Thread-safe. ``clock`` is injectable so tests need not sleep.
    """

    def __init__(
        self,
        failure_threshold: int = 3,
        reset_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.reset_seconds = reset_seconds
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._lock = threading.Lock()

    @property
    def is_open(self) -> bool:
        with self._lock:
            if self._opened_at is None:
                return False
            return self._clock() - self._opened_at < self.reset_seconds

    def seconds_until_retry(self) -> int:
        with self._lock:
            if self._opened_at is None:
                return 0
            return max(0, round(self.reset_seconds - (self._clock() - self._opened_at)))

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._failures >= self.failure_threshold:
                self._opened_at = self._clock()


@dataclass(frozen=True)
class TierStatus:
    """Whether queries can be served now, and when to come back if not."""

    state: TierState
    breaker_open: bool
    retry_after: int

    @property
    def usable(self) -> bool:
        return self.state is TierState.ACTIVE and not self.breaker_open

    @property
    def reason(self) -> str:
        if self.state is TierState.PAUSED:
            return "the search tier is paused; uploads are accepted and will be indexed on resume"
        if self.state is TierState.RESUMING:
            return "the search tier is resuming; uploads are accepted and will be indexed shortly"
        if self.breaker_open:
            return "the search tier is not responding; uploads are accepted and indexed later"
        return "the search tier is active"


@dataclass(frozen=True)
class NodeGroup:
    """The tier's node group: where it is, and the sizes a resume restores."""

    cluster: str
    name: str
    desired: int
    maximum: int
