"""Who is calling, and for which tenant: API keys kept in the object store (here), and
JWTs (a Cognito user pool in the cloud; verified by ``adapters/jwt_verifier.py``). The
tenant always comes from the credential.

Keys live at ``auth/keys/{key_id}.json`` (``ApiKeyRecord``: tenant, name, salted hash,
created and revoked times). Every request reads its key's record, so a revoked key stops
working at once, on every function instance. Nothing here logs a key or a token.
"""

from __future__ import annotations

import logging

from ragops.domain.auth import (
    ApiKeyRecord,
    Principal,
    issue_key,
    parse_key,
    principal_from_claims,
    secret_matches,
)
from ragops.domain.models import utc_now
from ragops.domain.tenants import validate_tenant
from ragops.errors import InvalidInput, ObjectNotFound, Unauthenticated
from ragops.ports import GatewayKeys, ObjectStore
from ragops.repositories.api_keys import ApiKeyRepository, is_key_id

logger = logging.getLogger(__name__)


def _load(repository: ApiKeyRepository, key_id: str) -> ApiKeyRecord | None:
    """The record of ``key_id``, or None for an id that names none (or cannot)."""
    if not is_key_id(key_id):
        return None
    try:
        return repository.get(key_id)
    except ObjectNotFound:
        return None


def create_api_key(
    store: ObjectStore, tenant: str, name: str = "", *, gateway: GatewayKeys | None = None
) -> tuple[ApiKeyRecord, str]:
    """A new key for ``tenant``: its record and the key, which is not stored anywhere.
    With ``gateway`` (AWS: the keyed API's usage plan) the key is admitted there too; when
    that fails, the record is removed again and the error raised: no key works in one place
    and not the other."""
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
    repository = ApiKeyRepository(store)
    repository.save(record)
    if gateway is not None:
        try:
            gateway.register(record.key_id, tenant, issued.key)
        except Exception:
            repository.delete(record.key_id)
            raise
    logger.info("api key created", extra={"key_id": record.key_id, "tenant": tenant})
    return record, issued.key


def list_api_keys(store: ObjectStore, tenant: str | None = None) -> list[ApiKeyRecord]:
    """Every key (of ``tenant``), oldest first."""
    records = ApiKeyRepository(store).records(tenant)
    return sorted(records, key=lambda r: (r.created_at, r.key_id))


def revoke_api_key(
    store: ObjectStore, key_id: str, *, gateway: GatewayKeys | None = None
) -> ApiKeyRecord:
    """Revoke a key from its next request on; revoking twice keeps the first time. With
    ``gateway``, the front door stops admitting it too (again on a second revoke, so a
    removal that failed the first time can be retried)."""
    repository = ApiKeyRepository(store)
    record = _load(repository, key_id)
    if record is None:
        raise InvalidInput(f"no API key {key_id!r}: see `ragops keys list`")
    if record.revoked_at is None:
        record.revoked_at = utc_now()
        repository.save(record)
        logger.info("api key revoked", extra={"key_id": key_id, "tenant": record.tenant})
    if gateway is not None:
        gateway.remove(key_id)
    return record


def authenticate_api_key(store: ObjectStore, presented: str) -> Principal:
    """The principal of a valid, unrevoked key; ``Unauthenticated`` otherwise (the same
    answer for a malformed, unknown, wrong or revoked key: nothing to probe)."""
    parsed = parse_key(presented)
    if parsed is None:
        raise Unauthenticated("invalid API key")
    key_id, secret = parsed
    record = _load(ApiKeyRepository(store), key_id)
    if record is None or not record.active:
        raise Unauthenticated("invalid API key")
    if not secret_matches(secret, record.salt, record.secret_hash):
        raise Unauthenticated("invalid API key")
    return Principal(record.tenant, f"key:{key_id}", "api-key")


__all__ = [
    "Principal",
    "authenticate_api_key",
    "create_api_key",
    "list_api_keys",
    "principal_from_claims",
    "revoke_api_key",
]
