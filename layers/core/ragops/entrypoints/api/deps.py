"""The routes' dependencies: the container, and who calls for which tenant (the one
place every route gets its tenant from)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ragops.bootstrap import Container
from ragops.domain.auth import is_api_key
from ragops.domain.tenants import DEFAULT_TENANT, validate_tenant
from ragops.errors import InvalidInput, RateLimited, Unauthenticated
from ragops.services.auth import Principal, authenticate_api_key, principal_from_claims


def get_container(request: Request) -> Container:
    return request.app.state.container


_bearer = HTTPBearer(
    auto_error=False,
    description="An API key from `ragops keys create` (`rgk...`) or, with RAGOPS_AUTH=jwt, "
    "a JWT from the user pool. Not needed in local development (RAGOPS_AUTH=off).",
)


def get_principal(
    request: Request,
    container: Annotated[Container, Depends(get_container)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    x_tenant_id: Annotated[
        str | None,
        Header(description="Tenant, honoured only in local development (RAGOPS_AUTH=off)"),
    ] = None,
    x_api_key: Annotated[
        str | None,
        Header(
            description="An API key from `ragops keys create`, instead of the Authorization "
            "header. On AWS it is also the tenant's API Gateway key (its usage plan's quota)."
        ),
    ] = None,
) -> Principal:
    """Who calls, for which tenant: from the credential (``RAGOPS_AUTH=api-key`` or
    ``jwt``; behind API Gateway's Cognito authorizer, from the claims it verified), or,
    in local development only, from ``X-Tenant-Id``. Then the tenant's rate limit. An
    API key may come as ``Authorization: Bearer`` or as ``x-api-key``, the header API
    Gateway meters per tenant."""
    mode = container.settings.auth
    if mode == "off":
        try:
            principal = Principal(
                validate_tenant(x_tenant_id or DEFAULT_TENANT), "anonymous", "none"
            )
        except ValueError as exc:
            raise InvalidInput(str(exc)) from exc
    else:
        claims = _authorizer_claims(request) if "jwt" in mode else None
        presented = credentials.credentials if credentials is not None else ""
        if credentials is None and x_api_key and mode != "jwt":
            credentials = HTTPAuthorizationCredentials(scheme="Bearer", credentials=x_api_key)
            presented = x_api_key
        if claims is not None:
            principal = principal_from_claims(claims, container.settings.jwt_tenant_claim)
        elif credentials is None or credentials.scheme.lower() != "bearer":
            raise Unauthenticated("send `Authorization: Bearer <key or token>`")
        elif mode == "api-key" or (mode == "jwt+api-key" and is_api_key(presented)):
            principal = authenticate_api_key(container.store, presented)
        elif mode == "jwt+api-key" and not container.settings.jwt_issuer:
            # The cloud: tokens are verified by the user pool's API, not here.
            raise Unauthenticated("not an API key; signed-in users call the user-pool API")
        else:
            principal = container.jwt_verifier.verify(presented)
    limiter = container.rate_limiter
    if limiter is not None:
        wait = limiter.acquire(principal.tenant)
        if wait is not None:
            raise RateLimited(f"tenant {principal.tenant} is over its request rate", wait)
    return principal


def _authorizer_claims(request: Request) -> dict[str, Any] | None:
    """The claims API Gateway's Cognito authorizer verified (Lambda, through Mangum)."""
    event = request.scope.get("aws.event") or {}
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    claims = authorizer.get("claims")
    return claims if isinstance(claims, dict) else None


def get_tenant(principal: Annotated[Principal, Depends(get_principal)]) -> str:
    return principal.tenant


def get_user(
    x_user_id: Annotated[
        str | None,
        Header(
            max_length=128,
            pattern=r"^[A-Za-z0-9._@:-]+$",
            description="The caller's user id: keeps them in one prompt-experiment variant.",
        ),
    ] = None,
) -> str | None:
    return x_user_id


ContainerDep = Annotated[Container, Depends(get_container)]
UserDep = Annotated[str | None, Depends(get_user)]
TenantDep = Annotated[str, Depends(get_tenant)]
