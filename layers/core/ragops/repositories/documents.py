"""What the store holds of documents: the catalogue of manifests, the original files, the
chunk artifacts, and each tenant's quality signatures (the duplicate index).

Keys come from ``ragops.domain.keys``; codecs from ``ragops.domain.artifacts``. Every
method takes the tenant, and every key is built from it: a repository cannot read one
tenant's object for another.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

from ragops.domain import keys
from ragops.domain.artifacts import (
    ChunkArtifact,
    decode_artifact,
    decode_record,
    encode_artifact,
    encode_record,
)
from ragops.domain.models import DocumentRecord
from ragops.domain.quality import DuplicateIndex
from ragops.errors import DocumentNotFound, ObjectNotFound
from ragops.ports import ObjectStore

JSON = "application/json"


class DocumentCatalogue:
    """Manifests, ``documents/{tenant}/{doc_id}.json``: a document is listed once its
    manifest is written, whatever its status."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def find(self, tenant: str, doc_id: str) -> DocumentRecord | None:
        """The manifest, or ``None`` when the tenant has no such document."""
        try:
            return decode_record(self.store.get(keys.manifest_key(tenant, doc_id)))
        except ObjectNotFound:
            return None

    def get(self, tenant: str, doc_id: str) -> DocumentRecord:
        """The manifest; ``DocumentNotFound`` when the tenant has no such document."""
        record = self.find(tenant, doc_id)
        if record is None:
            raise DocumentNotFound(doc_id)
        return record

    def save(self, record: DocumentRecord) -> None:
        """Write ``record`` under its own tenant and id (replacing any earlier one)."""
        self.store.put(keys.manifest_key(record.tenant, record.doc_id), encode_record(record), JSON)

    def remove(self, tenant: str, doc_id: str) -> None:
        """Remove the manifest; a missing one is not an error."""
        self.store.delete(keys.manifest_key(tenant, doc_id))

    def records(self, tenant: str | None = None) -> Iterator[DocumentRecord]:
        """Every manifest of ``tenant``, or of every tenant, in store order."""
        prefix = keys.manifest_prefix(tenant) if tenant else keys.DOCUMENTS
        for key in self.store.list(prefix):
            if key.endswith(".json"):
                try:
                    yield decode_record(self.store.get(key))
                except ObjectNotFound:
                    continue  # deleted while we listed


class OriginalFiles:
    """The uploaded bytes, ``raw/{tenant}/{doc_id}``: what indexing reads, and what S3's
    bucket events are about."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def key(self, tenant: str, doc_id: str) -> str:
        return keys.raw_key(tenant, doc_id)

    def put(self, tenant: str, doc_id: str, data: bytes, content_type: str) -> None:
        self.store.put(self.key(tenant, doc_id), data, content_type)

    def get(self, tenant: str, doc_id: str) -> bytes:
        """The bytes; ``ObjectNotFound`` when there are none."""
        return self.store.get(self.key(tenant, doc_id))

    def find(self, tenant: str, doc_id: str) -> bytes | None:
        try:
            return self.get(tenant, doc_id)
        except ObjectNotFound:
            return None

    def exists(self, tenant: str, doc_id: str) -> bool:
        return self.store.exists(self.key(tenant, doc_id))

    def delete(self, tenant: str, doc_id: str) -> None:
        self.store.delete(self.key(tenant, doc_id))


class ChunkArtifacts:
    """A document's chunks and embeddings, ``chunks/{tenant}/{doc_id}/{version}.json``:
    the system of record the index is rebuilt from. One version is live (the manifest's);
    others are left only between a new version's indexing and the old one's retirement."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def key(self, tenant: str, doc_id: str, version: str) -> str:
        return keys.artifact_key(tenant, doc_id, version)

    def put(self, artifact: ChunkArtifact) -> None:
        record = artifact.record
        self.store.put(
            self.key(record.tenant, record.doc_id, record.version), encode_artifact(artifact), JSON
        )

    def get(self, tenant: str, doc_id: str, version: str) -> ChunkArtifact:
        """The artifact; ``ObjectNotFound`` when that version is not stored."""
        return decode_artifact(self.store.get(self.key(tenant, doc_id, version)))

    def stored_keys(self, tenant: str, doc_id: str) -> list[str]:
        """The keys of every stored version, sorted."""
        return sorted(self.store.list(keys.artifact_prefix(tenant, doc_id)))

    def get_key(self, key: str) -> ChunkArtifact:
        """The artifact under ``key`` (one of ``stored_keys``)."""
        return decode_artifact(self.store.get(key))

    def retire(self, tenant: str, doc_id: str, *, keep: str | None = None) -> None:
        """Delete every version of the document's artifact but ``keep`` (a version)."""
        live = self.key(tenant, doc_id, keep) if keep is not None else None
        for key in self.stored_keys(tenant, doc_id):
            if key != live:
                self.store.delete(key)


class QualitySignatures:
    """Each tenant's duplicate index (content hashes and MinHash signatures),
    ``quality/{tenant}/duplicates.json``."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def load(self, tenant: str) -> DuplicateIndex:
        """The tenant's index, empty for a tenant without one."""
        try:
            return DuplicateIndex.from_dict(
                json.loads(self.store.get(keys.duplicate_index_key(tenant)))
            )
        except ObjectNotFound:
            return DuplicateIndex()

    def save(self, tenant: str, index: DuplicateIndex) -> None:
        # Read, changed and written whole: two ingestions of one tenant at the same moment
        # may lose one's entries, which only means a later duplicate of them goes unflagged.
        payload = json.dumps(index.to_dict(), separators=(",", ":")).encode()
        self.store.put(keys.duplicate_index_key(tenant), payload, JSON)

    def forget(self, tenant: str, doc_id: str) -> None:
        """Remove a deleted document's signatures (no write when it has none)."""
        index = self.load(tenant)
        if doc_id in index:
            index.remove(doc_id)
            self.save(tenant, index)


class UndoableStore:
    """An ``ObjectStore`` that remembers the writes made through it, so that a failed
    ingestion can put the store back: objects it created are deleted, objects it replaced
    are written back. Only keys declared with ``may_replace`` are read before they are
    written (one GET each), so a new document's writes cost no extra reads; deletes go
    through unrecorded."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self._replaceable: set[str] = set()
        self._created: list[str] = []
        self._replaced: dict[str, tuple[bytes, str | None]] = {}

    def may_replace(self, key: str, content_type: str | None = None) -> None:
        """Declare that ``key`` may hold an object (of ``content_type``) to put back."""
        if key in self._replaceable or key in self._created:
            return
        self._replaceable.add(key)
        with contextlib.suppress(ObjectNotFound):
            self._replaced[key] = (self.store.get(key), content_type)

    def put(self, key: str, data: bytes, content_type: str | None = None) -> None:
        self.store.put(key, data, content_type)
        if key not in self._replaced and key not in self._created:
            self._created.append(key)

    def get(self, key: str) -> bytes:
        return self.store.get(key)

    def exists(self, key: str) -> bool:
        return self.store.exists(key)

    def delete(self, key: str) -> None:
        self.store.delete(key)

    def list(self, prefix: str) -> Iterator[str]:
        return self.store.list(prefix)

    def undo(self) -> list[tuple[str, Exception]]:
        """Best effort: every step is tried; returns the keys whose clean-up failed."""
        failed: list[tuple[str, Exception]] = []
        for key in self._created:
            try:
                self.store.delete(key)
            except Exception as exc:
                failed.append((key, exc))
        for key, (data, content_type) in self._replaced.items():
            try:
                self.store.put(key, data, content_type or JSON)
            except Exception as exc:
                failed.append((key, exc))
        return failed
