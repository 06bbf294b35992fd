"""The bearer token on every request to the tier service, as an ``httpx.Auth``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import httpx

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
    """Sends requests with ``Authorization: Bearer <token>`` from ``source``. When the tier
    refuses the token (401 or 403), the source is asked once more, bypassing its cache, and
    the request is sent again only if the token changed: a secret rotated since the
    function cached it costs one retried request, not a cold start or an outage.

    Not an ``httpx.Auth``: the clients injected in tests (Starlette's TestClient) may be
    another HTTPX flavour, and a header works with all of them."""

    def __init__(self, source: TokenSource | str) -> None:
        if isinstance(source, str):
            if not source:
                raise ConfigurationError("the tier service needs a bearer token")
            source = fixed_token(source)
        self._source = source

    def send(self, request: Callable[[dict[str, str]], httpx.Response]) -> httpx.Response:
        """``request(headers)`` with the token, and once more with a rotated one."""
        token = self._source()
        response = request({"Authorization": f"Bearer {token}"})
        if response.status_code in (401, 403):
            fresh = self._source(refresh=True)
            if fresh != token:
                response = request({"Authorization": f"Bearer {fresh}"})
        return response
