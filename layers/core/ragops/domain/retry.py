"""Retrying a call to a remote service: exponential backoff with full jitter, within a time
budget.

The Bedrock adapters retry throttling, timeouts and 5xx with this rather than with
botocore's own retries, which they turn off: botocore's standard mode backs off for up to
20 s and knows nothing of the time the Lambda function has left, and a stubbed client
(botocore's ``Stubber`` answers before the retry handler runs) would never show it retry.

A call's deadline is the lesser of its own budget and the time its request has left
(``time_budget``, which the API function sets from Lambda's remaining time). Each attempt
is bounded by the client's connect and read timeouts (``attempt_seconds``); a retry starts
only if it can end before the deadline, so the call, retries included, ends within it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

_seconds_left: ContextVar[Callable[[], float] | None] = ContextVar(
    "ragops_seconds_left", default=None
)


@contextmanager
def time_budget(seconds_left: Callable[[], float]) -> Iterator[None]:
    """Within the block, ``seconds_left()`` is the time the current request has left: no
    retry starts that could end after it. Context-local, so it follows the request into
    FastAPI's worker threads and does not leak into other requests."""
    token = _seconds_left.set(seconds_left)
    try:
        yield
    finally:
        _seconds_left.reset(token)


def request_seconds_left() -> float | None:
    """The current request's time left (``time_budget``), or None outside one."""
    left = _seconds_left.get()
    return None if left is None else left()


class RetriesExhausted(Exception):
    """Every attempt the policy allowed failed with a transient error; ``last`` is the
    final one (also the ``__cause__``)."""

    def __init__(self, last: BaseException, attempts: int, elapsed: float, why: str) -> None:
        super().__init__(f"{attempts} attempt(s) in {elapsed:.1f} s, {why}: {last}")
        self.last = last
        self.attempts = attempts
        self.elapsed = elapsed
        self.why = why


@dataclass(frozen=True)
class RetryPolicy:
    """Up to ``max_attempts`` attempts; before retry ``n`` (1, 2, ...) it sleeps a uniform
    random time in ``[0, min(max_delay, base_delay * 2 ** (n - 1)))`` ("full jitter": many
    clients throttled at once do not come back in step)."""

    max_attempts: int = 4
    base_delay: float = 0.2
    max_delay: float = 2.0
    budget_seconds: float = 20.0
    """The longest the call may take, retries included."""
    attempt_seconds: float = 0.0
    """The longest one attempt can take (the client's connect plus read timeouts)."""
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    jitter: Callable[[], float] = random.random
    """A number in [0, 1); injected by tests."""

    def backoff(self, retry: int) -> float:
        """The pause before retry number ``retry`` (1 for the second attempt)."""
        return self.jitter() * min(self.max_delay, self.base_delay * 2 ** (retry - 1))

    def run(self, fn: Callable[[], T], transient: Callable[[Exception], bool]) -> T:
        """``fn()``, retried while it raises an error ``transient`` accepts and the policy
        allows. Other errors propagate at once; when the policy gives up it raises
        ``RetriesExhausted`` (also when the request has no time left for a first try)."""
        start = self.clock()
        budget = self.budget_seconds
        left = request_seconds_left()
        if left is not None:
            budget = min(budget, left)
            if budget <= 0:
                raise RetriesExhausted(
                    TimeoutError("no time left"), 0, 0.0, "the request's time is up"
                )
        deadline = start + budget
        attempt = 0
        while True:
            attempt += 1
            try:
                return fn()
            except Exception as exc:
                if not transient(exc):
                    raise
                elapsed = self.clock() - start
                if attempt >= self.max_attempts:
                    raise RetriesExhausted(exc, attempt, elapsed, "giving up") from exc
                pause = self.backoff(attempt)
                if self.clock() + pause + self.attempt_seconds > deadline:
                    why = f"no time for another within {budget:.1f} s"
                    raise RetriesExhausted(exc, attempt, elapsed, why) from exc
                self.sleep(pause)
