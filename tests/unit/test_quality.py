"""Document quality checks at ingestion: the measures themselves, and their findings on the
documents (stored with the manifest, listed by the API), with real Chroma and fake models."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from ragops.domain.quality import (
    DuplicateIndex,
    detect_language,
    garbage_ratio,
    minhash,
    similarity,
    text_findings,
)
from ragops.entrypoints.api import create_app
from ragops.errors import NoTextExtracted
from ragops.services.documents import delete_document, list_documents
from ragops.services.ingestion import UploadedFile, ingest_files
from tests.samples import make_pdf

LIGHTHOUSES = (
    "Lighthouses guided ships along dangerous coasts for centuries. Keepers trimmed the "
    "wicks, wound the clockwork that turned the lens, and logged the weather every night. "
    "Fresnel lenses concentrated the light into beams visible thirty miles away, and fog "
    "signals warned sailors when the beam could not be seen. Automation in the twentieth "
    "century replaced most keepers, and many towers are now museums run by volunteers."
)
EDITED = LIGHTHOUSES.replace("volunteers", "local trusts")
TIDES = (
    "Tides rise and fall twice a day because the Moon's gravity pulls the oceans into two "
    "bulges. Spring tides, the largest, come at full and new moon when Sun and Moon align; "
    "neap tides come at the quarters. Harbours publish tide tables so that ships with deep "
    "keels can plan when to enter, and tidal power stations turn the flow into electricity."
)


def test_garbage_and_near_empty_text_are_measured():
    assert garbage_ratio(LIGHTHOUSES) == 0.0
    garbled = LIGHTHOUSES[:100] + "\ufffd\ue000\ue001" * 10 + " ~~~~ ##### "
    assert garbage_ratio(garbled) > 0.2
    checks = {f.check for f in text_findings(garbled, None)}
    assert checks == {"near_empty_text", "extraction_garbage"}
    assert [f.check for f in text_findings(LIGHTHOUSES, "en")] == ["language"]
    near_empty = text_findings("Page 1", None)[0]
    assert near_empty.severity == "warning" and near_empty.value == 5.0


def test_language_is_told_for_enough_text():
    assert detect_language(LIGHTHOUSES) == "en"
    french = "Les phares guidaient les navires le long des côtes dangereuses depuis des siècles."
    assert detect_language(french) == "fr"
    assert detect_language("Page 1") is None


def test_minhash_estimates_how_much_text_two_documents_share():
    assert similarity(minhash(LIGHTHOUSES), minhash(LIGHTHOUSES)) == 1.0
    assert similarity(minhash(LIGHTHOUSES), minhash(EDITED)) >= 0.8
    assert similarity(minhash(LIGHTHOUSES), minhash(TIDES)) < 0.1
    # Signatures are stable across processes (no salted hash()).
    assert minhash("one two three four five six")[:2] == minhash("one two three four five six")[:2]


def test_the_duplicate_index_finds_exact_then_near_duplicates_and_round_trips():
    index = DuplicateIndex()
    index.add("a", "hash-a", minhash(LIGHTHOUSES))
    index.add("t", "hash-t", minhash(TIDES))
    exact = index.findings("b", "hash-a", minhash(LIGHTHOUSES))
    assert [(f.check, f.related_doc_id) for f in exact] == [("exact_duplicate", "a")]
    near = DuplicateIndex.from_dict(index.to_dict()).findings("c", "hash-c", minhash(EDITED))
    assert [(f.check, f.related_doc_id) for f in near] == [("near_duplicate", "a")]
    assert near[0].value >= 0.8
    assert index.findings("a", "hash-a", minhash(LIGHTHOUSES)) == []  # itself
    index.remove("a")
    assert "a" not in index and index.findings("c", "hash-c", minhash(EDITED)) == []


def findings_of(container, tenant, source):
    record = next(r for r in list_documents(container.store, tenant) if r.source == source)
    return record, {f["check"]: f for f in record.quality}


def test_ingestion_stores_findings_with_each_document(container):
    ctx = container.ingest_context()
    files = [
        UploadedFile("lighthouses.txt", LIGHTHOUSES.encode()),
        UploadedFile("copy-of-lighthouses.txt", LIGHTHOUSES.encode()),
        UploadedFile("tides.md", TIDES.encode()),
    ]
    ingest_files(ctx, tenant="acme", files=files)
    original, checks = findings_of(container, "acme", "lighthouses.txt")
    assert set(checks) == {"language"} and original.language == "en"
    _, checks = findings_of(container, "acme", "copy-of-lighthouses.txt")
    assert checks["exact_duplicate"]["related_doc_id"] == original.doc_id

    # A later upload is compared with what the tenant already has.
    ingest_files(ctx, tenant="acme", files=[UploadedFile("edited.txt", EDITED.encode())])
    _, checks = findings_of(container, "acme", "edited.txt")
    assert checks["near_duplicate"]["related_doc_id"] == original.doc_id
    assert "about" in checks["near_duplicate"]["message"]

    # Another tenant's documents are never compared.
    ingest_files(ctx, tenant="other", files=[UploadedFile("mine.txt", LIGHTHOUSES.encode())])
    _, checks = findings_of(container, "other", "mine.txt")
    assert set(checks) == {"language"}

    # A deleted document is no longer anyone's original.
    delete_document(container.store, container.index, "acme", original.doc_id)
    ingest_files(ctx, tenant="acme", files=[UploadedFile("again.txt", LIGHTHOUSES.encode())])
    _, checks = findings_of(container, "acme", "again.txt")
    assert checks["exact_duplicate"]["related_doc_id"] != original.doc_id


def test_a_pdf_without_text_is_kept_as_failed_with_the_finding(container):
    ctx = container.ingest_context()
    scan = make_pdf(["", ""], title="Scanned contract")
    (result,) = ingest_files(ctx, tenant="acme", files=[UploadedFile("scan.pdf", scan)])
    assert isinstance(result, NoTextExtracted) and "OCR" in result.reason
    record, checks = findings_of(container, "acme", "scan.pdf")
    assert str(record.status) == "failed" and record.chunk_count == 0
    assert checks["empty_text"]["severity"] == "error"
    assert container.store.get(f"raw/acme/{record.doc_id}") == scan  # nothing lost
    assert container.index.count("acme") == 0


def test_the_api_lists_the_findings(container):
    client = TestClient(create_app(container))
    headers = {"X-Tenant-Id": "acme"}
    files = [
        ("file", ("a.txt", LIGHTHOUSES.encode(), "text/plain")),
        ("file", ("b.txt", LIGHTHOUSES.encode(), "text/plain")),
        ("file", ("scan.pdf", make_pdf([""]), "application/pdf")),
    ]
    response = client.post("/v1/documents", files=files, headers=headers)
    assert response.status_code == 207
    rejected = [item for item in response.json()["results"] if item.get("error")]
    assert len(rejected) == 1 and "OCR" in str(rejected[0]["error"])
    listed = {
        d["source"]: d for d in client.get("/v1/documents", headers=headers).json()["documents"]
    }
    assert [f["check"] for f in listed["b.txt"]["quality"]] == ["language", "exact_duplicate"]
    assert listed["b.txt"]["quality"][1]["related_doc_id"] == listed["a.txt"]["doc_id"]
    assert listed["scan.pdf"]["status"] == "failed"
    assert listed["scan.pdf"]["quality"][0]["check"] == "empty_text"
    assert listed["a.txt"]["language"] == "en"


@pytest.mark.parametrize("text", ["", "   "])
def test_blank_text_has_no_signature_collisions(text):
    assert similarity(minhash(text), minhash("something else entirely here")) == 0.0


@settings(max_examples=200, deadline=None)
@given(st.sets(st.integers(min_value=0, max_value=(1 << 32) - 1), min_size=1, max_size=300))
def test_numpy_minhash_is_the_python_definition_value_for_value(hashed):
    from ragops.domain.quality import _minhash_numpy, minhash_of

    assert _minhash_numpy(hashed) == minhash_of(hashed)


def test_minhash_without_numpy_gives_the_same_signature(monkeypatch):
    import builtins

    from ragops.domain.quality import minhash

    text = "the quick brown fox jumps over the lazy dog " * 20 + "and then some more words"
    with_numpy = minhash(text)
    real_import = builtins.__import__

    def no_numpy(name, *args, **kwargs):
        if name == "numpy":
            raise ImportError("no numpy here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_numpy)
    assert minhash(text) == with_numpy
