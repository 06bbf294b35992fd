"""The bearer token on every request to the tier service: the secret, or a token minted
from it for the tenant of the route."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

import httpx

from ragops.domain.tier_tokens import tenant_token
from ragops.errors import ConfigurationError


class TokenSource(Protocol):
    """The current token; ``refresh=True`` asks the source again (a rotated secret)."""

    def __call__(self, *, refresh: bool = False) -> str: ...


def fixed_token(token: str) -> TokenSource:
    """A token that never changes (``RAGOPS_TIER_TOKEN``, tests)."""

    def source(*, refresh: bool = False) -> str:
        return token

    return source


class TierBearerAuth:
    """Sends requests with ``Authorization: Bearer <token>``: for a tenant's route, a token
    minted for that tenant alone from the secret ``source`` gives
    (``ragops.domain.tier_tokens``); for the tier's other routes, the secret itself. When
    the tier refuses it (401 or 403), the source is asked once more, bypassing its cache,
    and the request is sent again only if the secret changed: a secret rotated since the
    function cached it costs one retried request, not a cold start or an outage.

    Not an ``httpx.Auth``: the clients injected in tests (Starlette's TestClient) may be
    another HTTPX flavour, and a header works with all of them."""

    def __init__(self, source: TokenSource | str) -> None:
        if isinstance(source, str):
            if not source:
                raise ConfigurationError("the tier service needs a bearer token")
            source = fixed_token(source)
        self._source = source

    def send(
        self, request: Callable[[dict[str, str]], httpx.Response], *, tenant: str | None = None
    ) -> httpx.Response:
        """``request(headers)`` with the token (``tenant``'s, for a tenant's route), and
        once more with a rotated secret."""
        secret = self._source()
        response = request(self._headers(secret, tenant))
        if response.status_code in (401, 403):
            fresh = self._source(refresh=True)
            if fresh != secret:
                response = request(self._headers(fresh, tenant))
        return response

    @staticmethod
    def _headers(secret: str, tenant: str | None) -> dict[str, str]:
        token = secret if tenant is None else tenant_token(secret, tenant, now=time.time())
        return {"Authorization": f"Bearer {token}"}
