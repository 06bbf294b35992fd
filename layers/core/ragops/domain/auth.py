"""API keys: how they look, how they are checked, and what is kept of them.

A key is ``rgk{key_id}{secret}``: ``key_id`` (16 hex) names the stored record, so a key
is checked with one read and never by scanning; ``secret`` is 43 random letters and
digits (256 bits). Letters and digits only, because on AWS the same value is the tenant's
API Gateway key (``x-api-key``, whose values API Gateway takes only alphanumeric), so one
value both names the tenant here and meters it in the usage plan. Keys issued before in
the form ``rgk_{key_id}_{secret}`` (URL-safe base64) are still accepted.

Only a salted SHA-256 of the secret is stored: the secret has 256 bits of entropy, so a
slow password hash would add latency to every request without making a stolen record any
easier to reverse. Comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from dataclasses import asdict, dataclass
from typing import Any, Literal

from ragops.domain.tenants import validate_tenant
from ragops.errors import Unauthenticated

KEY_PREFIX = "rgk"
_SECRET_ALPHABET = string.ascii_letters + string.digits
_KEY = re.compile(r"^rgk([0-9a-f]{16})([A-Za-z0-9]{43})$")
_KEY_BEFORE = re.compile(r"^rgk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")
KEY_PATTERN = re.compile(r"rgk_?[0-9a-f]{16}_?[A-Za-z0-9_-]{43}")
"""Finds keys (of either form) in text (log masking)."""


@dataclass(frozen=True)
class IssuedKey:
    """A new key: ``key`` is shown once and never stored."""

    key_id: str
    key: str
    salt: str
    secret_hash: str


def issue_key() -> IssuedKey:
    key_id = secrets.token_hex(8)
    secret = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(43))
    salt = secrets.token_hex(16)
    return IssuedKey(key_id, f"{KEY_PREFIX}{key_id}{secret}", salt, hash_secret(secret, salt))


def parse_key(presented: str) -> tuple[str, str] | None:
    """``(key_id, secret)`` of a well-formed key (either form), else None."""
    text = presented.strip()
    found = _KEY.match(text) or _KEY_BEFORE.match(text)
    return (found.group(1), found.group(2)) if found else None


def is_api_key(presented: str) -> bool:
    """Whether ``presented`` looks like a ragops key rather than a JWT."""
    return presented.startswith(KEY_PREFIX)


def hash_secret(secret: str, salt: str) -> str:
    return hashlib.sha256(f"{salt}:{secret}".encode()).hexdigest()


def secret_matches(secret: str, salt: str, expected_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret, salt), expected_hash)


@dataclass
class ApiKeyRecord:
    """What is stored of a key: never the key itself."""

    key_id: str
    tenant: str
    name: str
    salt: str
    secret_hash: str
    created_at: str
    revoked_at: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def public(self) -> dict[str, Any]:
        """Safe to show and log: no salt, no hash."""
        return {
            "id": self.key_id,
            "tenant": self.tenant,
            "name": self.name,
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ApiKeyRecord:
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: the tenant its credential belongs to, and who."""

    tenant: str
    subject: str
    method: Literal["api-key", "jwt", "none"]


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
