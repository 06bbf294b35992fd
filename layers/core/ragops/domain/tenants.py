"""Tenant ids: every document and query belongs to one, and ids become part of object keys
and index names, so they are restricted."""

from __future__ import annotations

import re

TENANT_PATTERN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,62}[A-Za-z0-9])?$")

DEFAULT_TENANT = "default"


def validate_tenant(tenant: str) -> str:
    """Return ``tenant`` if it is a valid tenant id, else raise ``ValueError``.

    Tenant ids become part of object keys and index names, so they are restricted to
    1-64 letters, digits, ``-`` and ``_``, starting and ending with a letter or digit.
    """
    if not isinstance(tenant, str) or not TENANT_PATTERN.match(tenant):
        raise ValueError(
            f"invalid tenant id {tenant!r}: use 1-64 letters, digits, '-' or '_', "
            "starting and ending with a letter or digit"
        )
    return tenant
