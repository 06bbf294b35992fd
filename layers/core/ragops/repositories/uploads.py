"""Upload intents, ``uploads/{tenant}/{doc_id}.json``: what ``POST /v1/uploads`` promised
a client before its file goes straight to the bucket (a presigned POST).

The bytes arrive at ``raw/{tenant}/{doc_id}`` without the API running, so the bucket's
event is the first the system hears of them; the intent tells that event the file's name,
title and type, which a raw object does not carry. The ingest function removes it once the
document has a manifest.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from ragops.domain import keys
from ragops.errors import ObjectNotFound
from ragops.ports import ObjectStore

JSON = "application/json"


@dataclass(frozen=True)
class UploadIntent:
    """One direct upload a tenant was allowed to make."""

    tenant: str
    doc_id: str
    filename: str
    """The name the document is known by (its ``source``); its id derives from it."""
    content_type: str
    size_bytes: int
    """The size the client declared: the presigned POST takes no more."""
    created_at: str
    expires_at: str
    """When the presigned POST stops being accepted (S3 enforces it)."""
    title: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UploadIntent:
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**fields)


class UploadIntents:
    """Upload intents by tenant and document id. Every key is built from the tenant, so one
    tenant's intent cannot be read or removed for another."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def key(self, tenant: str, doc_id: str) -> str:
        return keys.upload_intent_key(tenant, doc_id)

    def save(self, intent: UploadIntent) -> None:
        """Write ``intent`` (replacing an earlier one for the same document)."""
        body = json.dumps(intent.to_dict(), sort_keys=True).encode("utf-8")
        self.store.put(self.key(intent.tenant, intent.doc_id), body, JSON)

    def find(self, tenant: str, doc_id: str) -> UploadIntent | None:
        """The intent, or ``None`` when there is none."""
        return self._read(self.key(tenant, doc_id))

    def outstanding(self, tenant: str, now: datetime) -> list[UploadIntent]:
        """The tenant's intents whose file may still arrive: not past ``expires_at`` (the
        presigned POST is refused after it). One removed while listing is skipped."""
        found = (self._read(key) for key in self.store.list(keys.upload_intents_prefix(tenant)))
        return [i for i in found if i and datetime.fromisoformat(i.expires_at) > now]

    def _read(self, key: str) -> UploadIntent | None:
        try:
            return UploadIntent.from_dict(json.loads(self.store.get(key)))
        except ObjectNotFound:
            return None

    def remove(self, tenant: str, doc_id: str) -> None:
        """Remove the intent; a missing one is not an error."""
        self.store.delete(self.key(tenant, doc_id))
