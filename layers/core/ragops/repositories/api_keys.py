"""API key records (``ApiKeyRecord``: tenant, name, salted hash, created and revoked
times) at ``auth/keys/{key_id}.json``. Keys are found by id, never by tenant: the id is in
the presented key, so a request reads one object. Nothing here sees a key's secret.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from ragops.domain import keys
from ragops.domain.auth import ApiKeyRecord
from ragops.errors import ObjectNotFound
from ragops.ports import ObjectStore

KEY_ID = re.compile(r"[A-Za-z0-9]+")
"""A key id that may name a record (``fullmatch``): issued ids are 16 hex digits."""


def is_key_id(key_id: str) -> bool:
    """Whether ``key_id`` may name a record (letters and digits only: no ``/``, no ``..``)."""
    return isinstance(key_id, str) and KEY_ID.fullmatch(key_id) is not None


class ApiKeyRepository:
    """Key records over an ``ObjectStore``. Failures of the store (``StoreUnavailable``)
    pass through."""

    def __init__(self, store: ObjectStore) -> None:
        self._store = store

    @staticmethod
    def _key(key_id: str) -> str:
        if not is_key_id(key_id):
            raise ValueError(f"{key_id!r} is not an API key id")
        return keys.api_key_key(key_id)

    def get(self, key_id: str) -> ApiKeyRecord:
        """The record of ``key_id``: ``ObjectNotFound`` where there is none, ``ValueError``
        for an id that cannot name one (``is_key_id``), before any read."""
        return ApiKeyRecord.from_dict(json.loads(self._store.get(self._key(key_id))))

    def save(self, record: ApiKeyRecord) -> None:
        """Store ``record`` (a new key, or an existing one revoked) under its id;
        ``ValueError`` for an id that cannot name one."""
        self._store.put(
            self._key(record.key_id), json.dumps(record.to_dict()).encode(), "application/json"
        )

    def delete(self, key_id: str) -> None:
        """Remove the record of ``key_id`` (a key whose creation could not be completed)."""
        self._store.delete(self._key(key_id))

    def records(self, tenant: str | None = None) -> Iterator[ApiKeyRecord]:
        """Every record, or ``tenant``'s only (by the record's tenant), in the store's
        listing order; a record removed while listing is skipped, as is a key outside the
        layout."""
        for key in self._store.list(keys.KEY_RECORDS):
            name = key[len(keys.KEY_RECORDS) :]
            if "/" in name or not name.endswith(".json"):
                continue
            try:
                record = ApiKeyRecord.from_dict(json.loads(self._store.get(key)))
            except ObjectNotFound:
                continue
            if tenant is None or record.tenant == tenant:
                yield record
