"""Bearer tokens of the tier service, scoped to one tenant.

The tier holds every tenant's index and cache. The functions do not send it the tier's
secret: every request for a tenant carries a token minted from the secret for that tenant
alone, valid for a few minutes:

    rgt1.{tenant}.{expires}.{signature}

where the signature is HMAC-SHA256 of "rgt1.{tenant}.{expires}" under the secret.

The tier accepts it only on that tenant's routes (``/v1/tenants/{tenant}/...``) and only
until ``expires`` (Unix seconds); its tenant-less routes (the pipeline champion, stats)
take the secret itself. A token seen on the way (a proxy's log, a trace, a captured
request) opens one tenant for at most ``MAX_TTL_SECONDS``, not the whole tier.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from collections.abc import Callable

from ragops.domain.tenants import validate_tenant

PREFIX = "rgt1"
DEFAULT_TTL_SECONDS = 300
MAX_TTL_SECONDS = 900
"""The longest validity the tier accepts, from its own clock (bounds a token minted with a
clock far ahead, or a long ttl)."""


def _signature(secret: str, tenant: str, expires: int) -> str:
    message = f"{PREFIX}.{tenant}.{expires}".encode()
    mac = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def tenant_token(secret: str, tenant: str, *, now: float, ttl: int = DEFAULT_TTL_SECONDS) -> str:
    """A token for ``tenant``'s routes, valid ``ttl`` seconds from ``now``."""
    validate_tenant(tenant)  # no "." in a tenant id: the token splits on it
    if not 0 < ttl <= MAX_TTL_SECONDS:
        raise ValueError(f"a tier token lives 1 to {MAX_TTL_SECONDS} seconds")
    expires = int(now) + ttl
    return f"{PREFIX}.{tenant}.{expires}.{_signature(secret, tenant, expires)}"


def token_tenant(secret: str, token: str, *, now: float) -> str | None:
    """The tenant ``token`` is scoped to when it was minted from ``secret`` and has not
    expired at ``now``; None for anything else (expired, forged, malformed, the secret
    itself)."""
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != PREFIX or not parts[2].isdigit():
        return None
    _, tenant, expires_text, signature = parts
    expires = int(expires_text)
    if not now <= expires <= now + MAX_TTL_SECONDS:
        return None
    if not hmac.compare_digest(signature.encode(), _signature(secret, tenant, expires).encode()):
        return None
    return tenant


class AcceptedSecrets:
    """The tier's side of a rotation: the secrets it accepts now. ``source`` gives the
    current one (a ``RotatingSecret`` re-reads it after its max age); once it changes, the
    value before is accepted too for ``grace`` seconds, so functions that still hold it
    (up to their own max age) are not refused meanwhile. A tier started after the rotation
    never saw the old value and accepts only the new one: a refused function re-reads it.

    ``secrets()`` returns the current secret first. Thread-safe."""

    def __init__(
        self,
        source: Callable[[], str] | str,
        *,
        grace: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source: Callable[[], str] = (lambda: source) if isinstance(source, str) else source
        self._grace = grace
        self._clock = clock
        self._lock = threading.Lock()
        self._current: str | None = None
        self._previous: str | None = None
        self._previous_until = 0.0

    def secrets(self) -> tuple[str, ...]:
        current = self._source()
        with self._lock:
            now = self._clock()
            if current != self._current:
                if self._current is not None:
                    self._previous, self._previous_until = self._current, now + self._grace
                self._current = current
            if self._previous is not None and now < self._previous_until:
                return (current, self._previous)
            return (current,)
