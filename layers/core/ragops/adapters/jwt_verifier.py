"""Bearer JWTs verified with PyJWT: signature, expiry, issuer and audience, against a PEM
public key or the issuer's JWKS (a Cognito user pool's ``/.well-known/jwks.json``,
fetched and cached by PyJWT)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ragops.domain.auth import Principal, principal_from_claims
from ragops.errors import ConfigurationError, Unauthenticated


@dataclass(frozen=True)
class JwtVerifier:
    """A ``TokenVerifier``: the principal of a valid token, ``Unauthenticated`` for any
    other (the tenant from ``tenant_claim``)."""

    issuer: str
    audience: str | None
    tenant_claim: str = "custom:tenant"
    public_key: str | None = None
    jwks_url: str | None = None
    algorithms: tuple[str, ...] = ("RS256",)

    def verify(self, token: str) -> Principal:
        try:
            import jwt
        except ImportError as exc:
            raise ConfigurationError(
                "RAGOPS_AUTH=jwt needs PyJWT: pip install 'pyjwt[crypto]'"
            ) from exc

        try:
            if self.public_key:
                key: Any = self.public_key
            elif self.jwks_url:
                key = _jwks_client(self.jwks_url).get_signing_key_from_jwt(token).key
            else:
                raise Unauthenticated("JWT authentication has no key configured")
            claims = jwt.decode(
                token,
                key,
                algorithms=list(self.algorithms),
                issuer=self.issuer,
                audience=self.audience,
                options={"require": ["exp", "iss"], "verify_aud": self.audience is not None},
            )
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"invalid token: {exc}") from exc
        return principal_from_claims(claims, self.tenant_claim)


_JWKS: dict[str, Any] = {}


def _jwks_client(url: str) -> Any:
    import jwt

    if url not in _JWKS:
        _JWKS[url] = jwt.PyJWKClient(url, cache_keys=True, lifespan=3600)
    return _JWKS[url]
