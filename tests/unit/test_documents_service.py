from __future__ import annotations

import pytest

from ragops.domain.artifacts import decode_artifact
from ragops.errors import DocumentNotFound, DocumentRejected, StoreUnavailable
from ragops.services.documents import delete_document, list_documents
from ragops.services.ingestion import IngestOutcome, UploadedFile, ingest_document, ingest_files
from tests.samples import make_pdf

GUIDE = (
    b"# Operations guide\n\nPausing the tier destroys the EKS cluster. "
    b"While paused, queries get HTTP 503 with Retry-After.\n\n"
    b"Resuming reloads every chunk artifact from the object store.\n"
)


def snapshot(container, tenant="default"):
    """Everything a failed ingestion must not change: keys in the store, chunks in the index."""
    return sorted(container.store.list("")), container.index.count(tenant)


def test_ingest_writes_artifact_manifest_raw_and_index(container):
    result = ingest_document(
        container.ingest_context(), tenant="default", filename="ops.md", data=GUIDE
    )
    assert result.outcome is IngestOutcome.CREATED
    record = result.record
    assert record.title == "Operations guide"
    keys, indexed = snapshot(container)
    assert f"raw/default/{record.doc_id}" in keys
    assert f"documents/default/{record.doc_id}.json" in keys
    artifact_key = f"chunks/default/{record.doc_id}/{record.version}.json"
    assert artifact_key in keys
    artifact = decode_artifact(container.store.get(artifact_key))
    assert len(artifact.chunks) == record.chunk_count == indexed
    assert artifact.embeddings.shape == (record.chunk_count, 256)
    assert [r.doc_id for r in list_documents(container.store, "default")] == [record.doc_id]


def test_reingesting_identical_content_changes_nothing(container, embedder):
    ctx = container.ingest_context()
    first = ingest_document(ctx, tenant="default", filename="ops.md", data=GUIDE)
    before = snapshot(container)
    embedded = embedder.texts_embedded
    again = ingest_document(ctx, tenant="default", filename="ops.md", data=GUIDE)
    assert again.outcome is IngestOutcome.UNCHANGED
    assert again.record.to_dict() == first.record.to_dict()
    assert snapshot(container) == before
    assert embedder.texts_embedded == embedded  # not even re-embedded


def test_changed_content_replaces_the_old_chunks(container):
    ctx = container.ingest_context()
    first = ingest_document(ctx, tenant="default", filename="ops.md", data=GUIDE)
    old_ids = set(container.index.document_chunk_ids("default", first.record.doc_id))
    second = ingest_document(
        ctx, tenant="default", filename="ops.md", data=b"# Ops\n\nEverything about caching now.\n"
    )
    assert second.outcome is IngestOutcome.UPDATED
    assert second.record.doc_id == first.record.doc_id
    new_ids = set(container.index.document_chunk_ids("default", first.record.doc_id))
    assert new_ids and not (new_ids & old_ids)
    assert container.index.count("default") == second.record.chunk_count
    artifacts = list(container.store.list(f"chunks/default/{first.record.doc_id}/"))
    assert artifacts == [f"chunks/default/{first.record.doc_id}/{second.record.version}.json"]
    assert second.record.created_at == first.record.created_at


def test_delete_removes_document_from_store_and_index(container):
    ctx = container.ingest_context()
    kept = ingest_document(ctx, tenant="default", filename="keep.txt", data=b"keep this text")
    gone = ingest_document(ctx, tenant="default", filename="ops.md", data=GUIDE)
    removed = delete_document(container.store, container.index, "default", gone.record.doc_id)
    assert removed == gone.record.chunk_count
    keys, indexed = snapshot(container)
    assert not [k for k in keys if gone.record.doc_id in k]
    assert indexed == kept.record.chunk_count
    with pytest.raises(DocumentNotFound):
        delete_document(container.store, container.index, "default", gone.record.doc_id)


def test_another_tenant_cannot_delete_or_see_a_document(container):
    doc = ingest_document(container.ingest_context(), tenant="acme", filename="ops.md", data=GUIDE)
    with pytest.raises(DocumentNotFound):
        delete_document(container.store, container.index, "globex", doc.record.doc_id)
    assert list_documents(container.store, "globex") == []
    assert container.index.count("acme") == doc.record.chunk_count


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("broken.pdf", b"%PDF-1.7 garbage"),
        ("empty.txt", b""),
        ("binary.txt", bytes(range(256)) * 8),
        ("huge.txt", b"a " * 600),
    ],
)
def test_bad_files_leave_store_and_index_unchanged(container, name, data):
    ctx = container.ingest_context()
    ingest_document(ctx, tenant="default", filename="ops.md", data=GUIDE)
    before = snapshot(container)
    small_limit = type(ctx)(**{**ctx.__dict__, "max_bytes": 1000})
    with pytest.raises(DocumentRejected) as caught:
        ingest_document(small_limit, tenant="default", filename=name, data=data)
    assert caught.value.filename == name
    assert snapshot(container) == before


def test_a_rejected_file_does_not_stop_the_others(container):
    results = ingest_files(
        container.ingest_context(),
        tenant="default",
        files=[
            UploadedFile("a.pdf", make_pdf(["Page one text.", "Page two text."], title="Paper")),
            UploadedFile("bad.pdf", b"not a pdf"),
            UploadedFile("c.txt", b"plain text here"),
        ],
    )
    assert [type(r).__name__ for r in results] == [
        "IngestResult",
        "DocumentRejected",
        "IngestResult",
    ]
    assert results[0].record.pages == 2
    assert results[0].record.title == "Paper"


class FailingIndex:
    """Wraps the real index and fails on upsert, as an unreachable tier would."""

    def __init__(self, inner):
        self.inner = inner

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def upsert(self, *args, **kwargs):
        raise StoreUnavailable("tier down")


def test_failed_indexing_is_undone(container):
    ctx = container.ingest_context()
    ingest_document(ctx, tenant="default", filename="keep.txt", data=b"keep this text")
    before = snapshot(container)
    broken = type(ctx)(**{**ctx.__dict__, "index": FailingIndex(ctx.index)})
    with pytest.raises(StoreUnavailable):
        ingest_document(broken, tenant="default", filename="ops.md", data=GUIDE)
    assert snapshot(container) == before


def test_the_same_file_twice_in_one_batch_is_refused_once(container):
    results = ingest_files(
        container.ingest_context(),
        tenant="default",
        files=[UploadedFile("a.txt", b"first words"), UploadedFile("a.txt", b"second words")],
    )
    assert type(results[0]).__name__ == "IngestResult"
    assert isinstance(results[1], DocumentRejected) and "twice" in results[1].reason
    assert container.index.count("default") == results[0].record.chunk_count
