"""Who is calling, and for which tenant: API keys kept in the object store, and JWTs (a
Cognito user pool in the cloud). The tenant always comes from the credential.

Keys live at ``auth/keys/{key_id}.json`` (``ApiKeyRecord``: tenant, name, salted hash,
created and revoked times). Every request reads its key's record, so a revoked key stops
working at once, on every function instance. Nothing here logs a key or a token.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Literal

from ragops.domain import keys
from ragops.domain.auth import ApiKeyRecord, issue_key, parse_key, secret_matches
from ragops.domain.models import utc_now
from ragops.errors import ConfigurationError, InvalidInput, ObjectNotFound, Unauthenticated
from ragops.ports import ObjectStore
from ragops.settings import validate_tenant

logger = logging.getLogger(__name__)

KEYS_PREFIX = keys.API_KEYS


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: the tenant its credential belongs to, and who."""

    tenant: str
    subject: str
    method: Literal["api-key", "jwt", "none"]


def _key_object(key_id: str) -> str:
    return keys.api_key_key(key_id)


def _load(store: ObjectStore, key_id: str) -> ApiKeyRecord | None:
    try:
        return ApiKeyRecord.from_dict(json.loads(store.get(_key_object(key_id))))
    except ObjectNotFound:
        return None


def _save(store: ObjectStore, record: ApiKeyRecord) -> None:
    store.put(_key_object(record.key_id), json.dumps(record.to_dict()).encode(), "application/json")


def create_api_key(store: ObjectStore, tenant: str, name: str = "") -> tuple[ApiKeyRecord, str]:
    """A new key for ``tenant``: its record and the key, which is not stored anywhere."""
    validate_tenant(tenant)
    if len(name) > 100:
        raise InvalidInput("a key name is at most 100 characters")
    issued = issue_key()
    record = ApiKeyRecord(
        key_id=issued.key_id,
        tenant=tenant,
        name=name,
        salt=issued.salt,
        secret_hash=issued.secret_hash,
        created_at=utc_now(),
    )
    _save(store, record)
    logger.info("api key created", extra={"key_id": record.key_id, "tenant": tenant})
    return record, issued.key


def list_api_keys(store: ObjectStore, tenant: str | None = None) -> list[ApiKeyRecord]:
    """Every key (of ``tenant``), oldest first."""
    records = []
    for key in store.list(KEYS_PREFIX):
        try:
            record = ApiKeyRecord.from_dict(json.loads(store.get(key)))
        except ObjectNotFound:
            continue
        if tenant is None or record.tenant == tenant:
            records.append(record)
    return sorted(records, key=lambda r: (r.created_at, r.key_id))


def revoke_api_key(store: ObjectStore, key_id: str) -> ApiKeyRecord:
    """Revoke a key from its next request on; revoking twice keeps the first time."""
    record = _load(store, key_id) if key_id.isalnum() else None
    if record is None:
        raise InvalidInput(f"no API key {key_id!r}: see `ragops keys list`")
    if record.revoked_at is None:
        record.revoked_at = utc_now()
        _save(store, record)
        logger.info("api key revoked", extra={"key_id": key_id, "tenant": record.tenant})
    return record


def authenticate_api_key(store: ObjectStore, presented: str) -> Principal:
    """The principal of a valid, unrevoked key; ``Unauthenticated`` otherwise (the same
    answer for a malformed, unknown, wrong or revoked key: nothing to probe)."""
    parsed = parse_key(presented)
    if parsed is None:
        raise Unauthenticated("invalid API key")
    key_id, secret = parsed
    record = _load(store, key_id)
    if record is None or not record.active:
        raise Unauthenticated("invalid API key")
    if not secret_matches(secret, record.salt, record.secret_hash):
        raise Unauthenticated("invalid API key")
    return Principal(record.tenant, f"key:{key_id}", "api-key")


def principal_from_claims(claims: dict[str, Any], tenant_claim: str) -> Principal:
    """The principal of a verified JWT's claims: the tenant from ``tenant_claim``."""
    tenant = claims.get(tenant_claim)
    if not isinstance(tenant, str):
        raise Unauthenticated(f"the token carries no {tenant_claim} claim")
    try:
        validate_tenant(tenant)
    except ValueError as exc:
        raise Unauthenticated(f"the token's {tenant_claim} is not a tenant id") from exc
    return Principal(tenant, f"user:{claims.get('sub', '?')}", "jwt")


@dataclass(frozen=True)
class JwtVerifier:
    """Checks a bearer JWT's signature, expiry, issuer and audience (PyJWT): against a
    public key (PEM) or the issuer's JWKS (a Cognito user pool's
    ``/.well-known/jwks.json``, fetched and cached by PyJWT)."""

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
