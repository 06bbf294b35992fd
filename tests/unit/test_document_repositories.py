"""The document repositories over the in-memory object store: manifests, originals, chunk
artifacts, quality signatures, and the undoable store a failed ingestion rolls back."""

from __future__ import annotations

import numpy as np
import pytest

from ragops.domain.artifacts import ChunkArtifact
from ragops.domain.models import Chunk, DocumentRecord, DocumentStatus
from ragops.domain.quality import DuplicateIndex, minhash
from ragops.errors import DocumentNotFound, ObjectNotFound
from ragops.repositories.documents import (
    ChunkArtifacts,
    DocumentCatalogue,
    OriginalFiles,
    QualitySignatures,
    UndoableStore,
)
from tests.fakes import MemoryObjectStore


def record(tenant: str, doc_id: str, *, content_hash: str = "h1") -> DocumentRecord:
    return DocumentRecord(
        doc_id=doc_id,
        tenant=tenant,
        title=doc_id,
        source=f"{doc_id}.md",
        content_type="text/markdown",
        content_hash=content_hash,
        size_bytes=10,
        chunk_count=1,
        pages=None,
        embedding_model="m",
        status=DocumentStatus.INDEXED,
        created_at="2026-12-06T00:00:00+00:00",
        updated_at="2026-12-06T00:00:00+00:00",
    )


def test_the_catalogue_keeps_each_tenants_manifests_apart() -> None:
    catalogue = DocumentCatalogue(MemoryObjectStore())
    catalogue.save(record("t1", "a"))
    catalogue.save(record("t10", "b"))  # a tenant whose id starts with another's
    assert catalogue.get("t1", "a").doc_id == "a"
    assert catalogue.find("t1", "b") is None
    with pytest.raises(DocumentNotFound):
        catalogue.get("t1", "b")
    assert [r.doc_id for r in catalogue.records("t1")] == ["a"]
    assert sorted(r.doc_id for r in catalogue.records()) == ["a", "b"]
    catalogue.remove("t1", "a")
    catalogue.remove("t1", "a")  # removing twice is not an error
    assert list(catalogue.records("t1")) == []


def test_originals_and_artifacts_round_trip_and_old_versions_retire() -> None:
    store = MemoryObjectStore()
    originals, artifacts = OriginalFiles(store), ChunkArtifacts(store)
    originals.put("t1", "a", b"bytes", "text/plain")
    assert originals.get("t1", "a") == b"bytes" and originals.exists("t1", "a")
    assert originals.find("t2", "a") is None
    first, second = record("t1", "a"), record("t1", "a", content_hash="h2")
    assert first.version != second.version
    chunk = Chunk(
        chunk_id="a:0",
        doc_id="a",
        tenant="t1",
        text="hello",
        ordinal=0,
        title="a",
        source="a.md",
        page=None,
        start=0,
        end=5,
    )
    for version in (first, second):
        artifacts.put(ChunkArtifact(version, [chunk], np.ones((1, 3), np.float32)))
    assert len(artifacts.stored_keys("t1", "a")) == 2
    read = artifacts.get("t1", "a", second.version)
    assert read.record.content_hash == "h2" and read.embeddings.shape == (1, 3)
    artifacts.retire("t1", "a", keep=second.version)
    assert artifacts.stored_keys("t1", "a") == [artifacts.key("t1", "a", second.version)]
    with pytest.raises(ObjectNotFound):
        artifacts.get("t1", "a", first.version)
    artifacts.retire("t1", "a")
    assert artifacts.stored_keys("t1", "a") == []


def test_quality_signatures_load_empty_save_and_forget() -> None:
    signatures = QualitySignatures(MemoryObjectStore())
    assert "a" not in signatures.load("t1")  # a new tenant: an empty index, no error
    index = DuplicateIndex()
    index.add("a", "h1", minhash("some words of a document"))
    signatures.save("t1", index)
    assert "a" in signatures.load("t1") and "a" not in signatures.load("t2")
    signatures.forget("t1", "a")
    assert "a" not in signatures.load("t1")


def test_the_undoable_store_deletes_what_it_created_and_puts_back_what_it_replaced() -> None:
    store = MemoryObjectStore()
    store.put("documents/t1/a.json", b"old manifest")
    store.put("raw/t1/untouched", b"x")
    writes = UndoableStore(store)
    writes.may_replace("documents/t1/a.json")
    writes.may_replace("raw/t1/new")  # declared, but nothing there: created, then deleted
    writes.put("documents/t1/a.json", b"new manifest")
    writes.put("raw/t1/new", b"new")
    writes.put("chunks/t1/a/v.json", b"artifact")
    assert store.get("documents/t1/a.json") == b"new manifest"
    assert writes.undo() == []
    assert store.objects == {"documents/t1/a.json": b"old manifest", "raw/t1/untouched": b"x"}
