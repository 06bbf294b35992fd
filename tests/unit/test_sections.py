"""Section-aware chunks: heading paths from Markdown, HTML and DOCX, chunks that never cross
a section, the path in what is indexed and in every place chunks travel (artifact, Chroma,
the tier's wire), and re-chunking of unchanged documents under a new chunking version."""

from __future__ import annotations

import dataclasses
import io
import json

import numpy as np
import pytest
from fastapi.testclient import TestClient

from ragops.adapters.chroma import ChromaVectorIndex
from ragops.adapters.http_tier import HttpVectorTier
from ragops.adapters.hybrid_index import HybridIndex
from ragops.domain import chunking
from ragops.domain.artifacts import (
    ChunkArtifact,
    artifact_prefix,
    decode_artifact,
    decode_record,
    encode_artifact,
    manifest_key,
)
from ragops.domain.chunking import CHUNKING_VERSION, SECTION_SEPARATOR, Chunker
from ragops.domain.models import (
    Chunk,
    Citation,
    DocumentRecord,
    ParsedDocument,
    SearchMode,
    Section,
    document_id_for,
)
from ragops.domain.parsing import parse_document
from ragops.domain.tier_wire import decode_chunks, decode_hits, encode_chunks
from ragops.entrypoints.tier_service import create_tier_app
from ragops.services.data_sync import SourceFile, SyncAction, sync_documents
from ragops.services.ingestion import IngestOutcome, ingest_document

LIMIT = 1_000_000
TENANT = "docs"

OPERATIONS = b"""# Operations

How to run ragops.

## Pause and resume

### Maintenance mode

While the tier is paused, queries get 503 with Retry-After.

```sh
# not a heading: a comment in a code block
ragops tier pause
```

### Resume

Terraform recreates the tier.

## Costs

The tier costs nothing while paused.
"""


def sections(name: str, data: bytes) -> list[tuple[str | None, str]]:
    parsed = parse_document(name, data, max_bytes=LIMIT)
    return [(s.section, s.text) for s in parsed.sections]


def paths(name: str, data: bytes) -> list[str | None]:
    return [path for path, _ in sections(name, data)]


def words(text: str) -> int:
    return len(text.split())


# -- parsing -----------------------------------------------------------------------------------


def test_markdown_nested_headings_give_paths_without_the_title():
    parsed = sections("operations.md", OPERATIONS)
    assert [path for path, _ in parsed] == [
        None,  # the title's own section: the title is the single top-level heading
        "Pause and resume > Maintenance mode",
        "Pause and resume > Resume",
        "Costs",
    ]
    # "## Pause and resume" has only headings under it: no section of its own.
    texts = [text for _, text in parsed]
    assert texts[0] == "# Operations\n\nHow to run ragops."
    assert texts[1].startswith("### Maintenance mode\n")  # the heading stays in the text
    assert "# not a heading: a comment in a code block" in texts[1]
    assert "ragops tier pause\n```" in texts[1]
    assert texts[3] == "## Costs\n\nThe tier costs nothing while paused."


def test_markdown_heading_in_a_code_fence_is_not_counted():
    data = (
        b"# Guide\n\n## Setup\n\n~~~\n## inside tildes\n~~~\n\n"
        b"````md\n```\n# still code\n```\n````\n\nafter\n"
    )
    parsed = sections("guide.md", data)
    assert [path for path, _ in parsed] == ["Setup"]
    assert "# still code" in parsed[0][1] and parsed[0][1].endswith("after")


def test_markdown_setext_headings_and_front_matter():
    data = (
        b"---\ntitle: Handbook\nauthor: me\n---\n\nIntro.\n\n"
        b"Install\n=======\n\nRun make.\n\nDetails\n-------\n\nMore.\n\n---\n\nA rule above.\n"
    )
    parsed = parse_document("handbook.md", data, max_bytes=LIMIT)
    assert parsed.title == "Handbook"
    assert [(s.section, s.text.splitlines()[0]) for s in parsed.sections] == [
        (None, "---"),  # front matter is text, never a heading ("author: me" over "---")
        ("Install", "Install"),
        ("Install > Details", "Details"),
    ]
    assert "A rule above." in parsed.sections[-1].text  # "---" after a blank line: a rule


def test_markdown_without_headings_is_one_section_as_before():
    data = b"Just a note.\n\nWith two paragraphs.\n"
    assert sections("note.md", data) == [(None, data.decode())]


def test_markdown_several_top_level_headings_are_all_kept():
    data = b"# One\n\nfirst\n\n## Sub\n\nsub text\n\n# Two\n\nsecond\n"
    assert paths("two.md", data) == ["One", "One > Sub", "Two"]


def test_a_heading_with_nothing_under_it_is_kept_unless_a_deeper_one_follows():
    assert sections("empty.md", b"# Title\n\n## Part\n") == [("Part", "## Part")]
    data = b"# T\n\nintro\n\n## A\n### B\n## C\n\ntext\n## D\n"
    assert sections("t.md", data) == [
        (None, "# T\n\nintro"),
        ("A > B", "### B"),  # "## A" lives on in the path of "### B"
        ("C", "## C\n\ntext"),
        ("D", "## D"),  # nothing follows: kept, so its words stay searchable
    ]


def test_html_h2_and_h3_in_document_order():
    html = (
        b"<html><head><title>Runbook</title></head><body>"
        b"<h1>Runbook</h1><p>Intro text.</p>"
        b"<h2>Pause</h2><p>Pausing stops the tier.</p>"
        b"<h3>Maintenance <em>mode</em></h3><p>Queries get 503.</p>"
        b"<h2>Resume</h2><div><p>Rehydrate from artifacts.</p></div>"
        b"</body></html>"
    )
    parsed = sections("runbook.html", html)
    assert parsed == [
        (None, "Runbook\nIntro text."),
        ("Pause", "Pause\nPausing stops the tier."),
        ("Pause > Maintenance mode", "Maintenance\nmode\nQueries get 503."),
        ("Resume", "Resume\nRehydrate from artifacts."),
    ]


def test_html_title_differing_from_the_h1_keeps_the_h1_in_paths():
    html = b"<title>Site</title><h1>Guide</h1><p>a</p><h2>Part</h2><p>b</p>"
    assert paths("guide.html", html) == ["Guide", "Guide > Part"]


def test_html_without_headings_keeps_the_text_as_before():
    html = b"<html><body><p>The moon pulls the oceans.</p>\n\n\n\n<p>Tides.</p></body></html>"
    assert sections("tides.html", html) == [(None, "The moon pulls the oceans.\n\nTides.")]


def test_deeply_nested_html_headings_parse_in_linear_time():
    import time

    data = b"<h2>" * 5_000 + b"deep" + b"</h2>" * 5_000 + b"<div>" * 20_000 + b"x"
    started = time.perf_counter()
    parsed = sections("nested.html", data)
    assert time.perf_counter() - started < 10
    assert parsed[0][0] == "deep"


def make_docx_with_headings() -> bytes:
    import docx

    document = docx.Document()
    document.add_paragraph("Field manual", style="Title")
    document.add_paragraph("Read this first.")
    document.add_heading("Glaciers", level=1)
    document.add_paragraph("Glaciers are rivers of ice.")
    document.add_heading("Alpine glaciers", level=2)
    document.add_paragraph("The Aletsch is the longest in the Alps.")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "Aletsch"
    table.rows[0].cells[1].text = "23 km"
    document.add_heading("Volcanoes", level=1)
    document.add_paragraph("Etna is on Sicily.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_docx_heading_styles_give_paths_and_tables_stay_in_their_section():
    parsed = parse_document("manual.docx", make_docx_with_headings(), max_bytes=LIMIT)
    assert parsed.title == "Field manual"
    assert [(s.section, s.text) for s in parsed.sections] == [
        (None, "Field manual\nRead this first."),
        ("Glaciers", "Glaciers\nGlaciers are rivers of ice."),
        (
            "Glaciers > Alpine glaciers",
            "Alpine glaciers\nThe Aletsch is the longest in the Alps.\nAletsch | 23 km",
        ),
        ("Volcanoes", "Volcanoes\nEtna is on Sicily."),
    ]


def test_pdf_keeps_pages_and_has_no_section_path():
    from tests.samples import make_pdf

    parsed = parse_document("p.pdf", make_pdf(["# Not a heading", "Two"]), max_bytes=LIMIT)
    assert [(s.page, s.section) for s in parsed.sections] == [(1, None), (2, None)]


# -- chunking ----------------------------------------------------------------------------------


def split(parsed: ParsedDocument, chunk_tokens: int = 12) -> list[Chunk]:
    chunker = Chunker(words, chunk_tokens=chunk_tokens, overlap_tokens=3)
    return chunker.split(
        parsed, doc_id="d1", tenant="t", title="Ops", source="ops.md", version="0123456789abcdef"
    )


def test_chunks_never_span_sections_and_carry_their_path():
    parsed = parse_document("operations.md", OPERATIONS, max_bytes=LIMIT)
    chunks = split(parsed)
    full = SECTION_SEPARATOR.join(s.text for s in parsed.sections)
    bounds = []
    base = 0
    for section in parsed.sections:
        bounds.append((base, base + len(section.text), section.section))
        base += len(section.text) + len(SECTION_SEPARATOR)
    assert len(chunks) > len(parsed.sections)
    for chunk in chunks:
        assert full[chunk.start : chunk.end] == chunk.text
        inside = [path for start, end, path in bounds if start <= chunk.start and chunk.end <= end]
        assert inside == [chunk.section], chunk
    assert {c.section for c in chunks} == {s.section for s in parsed.sections}


def test_small_sections_make_a_chunk_each_and_are_not_merged():
    parsed = ParsedDocument(
        "T", [Section("# A\nx", section="A"), Section("# B\ny", section="B")], "text/markdown"
    )
    chunks = split(parsed, chunk_tokens=50)
    assert [(c.text, c.section) for c in chunks] == [("# A\nx", "A"), ("# B\ny", "B")]


def test_chunk_ids_name_the_chunking_version():
    (chunk,) = split(ParsedDocument(None, [Section("text")], "text/plain"))
    assert chunk.chunk_id == f"d1-01234567-c{CHUNKING_VERSION}-00000"


def test_indexed_text_is_title_then_path_then_text():
    chunk = Chunk("c", "d", "t", 0, "body", "Title", "s.md", None, 0, 4, "Ops > Maintenance mode")
    assert chunk.indexed_text() == "Title\nOps > Maintenance mode\nbody"
    assert dataclasses.replace(chunk, section=None).indexed_text() == "Title\nbody"
    assert dataclasses.replace(chunk, title="").indexed_text() == "Ops > Maintenance mode\nbody"
    assert dataclasses.replace(chunk, title="", section=None).indexed_text() == "body"


# -- where chunks travel -----------------------------------------------------------------------


def sectioned_chunks(tenant: str = "acme") -> list[Chunk]:
    return [
        Chunk(f"{tenant}-d1-c0", "d1", tenant, 0, "Queries get 503 while paused.", "Ops",
              "ops.md", None, 0, 29, "Pause > Maintenance mode"),
        Chunk(f"{tenant}-d1-c1", "d1", tenant, 1, "Glaciers carve valleys.", "Ops", "ops.md",
              2, 31, 54),
    ]  # fmt: skip


def test_old_chunk_json_and_artifacts_without_a_section_still_load():
    old = {
        "chunk_id": "c", "doc_id": "d", "tenant": "t", "ordinal": 0, "text": "x",
        "title": "T", "source": "s.txt", "page": None, "start": 0, "end": 1,
    }  # fmt: skip
    assert Chunk.from_dict(old).section is None
    assert Chunk.from_dict({**old, "section": "A > B", "later": 1}).section == "A > B"
    with pytest.raises(KeyError):
        Chunk.from_dict({k: v for k, v in old.items() if k != "text"})
    assert decode_chunks([old])[0].section is None

    record = DocumentRecord("d", "t", "T", "s.txt", "text/plain", "ab" * 32, 1, 1, None, "m")
    payload = json.loads(encode_artifact(ChunkArtifact(record, [Chunk.from_dict(old)],
                                                        np.ones((1, 3), np.float32))))  # fmt: skip
    del payload["chunks"][0]["section"]
    del payload["document"]["chunking_version"]
    artifact = decode_artifact(json.dumps(payload).encode())
    assert artifact.chunks[0].section is None
    assert artifact.record.chunking_version is None
    assert Citation(1, "d", "c", "T", "s.txt", None, "x", 0.5).section is None


def test_artifact_round_trip_keeps_the_section():
    record = DocumentRecord("d1", "acme", "Ops", "ops.md", "text/markdown", "ab" * 32, 1, 2,
                            None, "m", chunking_version=CHUNKING_VERSION)  # fmt: skip
    chunks = sectioned_chunks()
    artifact = decode_artifact(encode_artifact(ChunkArtifact(record, chunks, np.ones((2, 3)))))
    assert artifact.chunks == chunks
    assert artifact.record.chunking_version == CHUNKING_VERSION
    assert decode_record(json.dumps(record.to_dict()).encode()).chunking_version == 2


def test_chroma_round_trip_keeps_the_section_and_omits_none(chroma_client, embedder):
    chunks = sectioned_chunks()
    vectors = ChromaVectorIndex(chroma_client, embedding_model=embedder.model_id)
    vectors.upsert("acme", chunks, embedder.embed_array([c.indexed_text() for c in chunks]))
    assert sorted(vectors.all_chunks("acme"), key=lambda c: c.ordinal) == chunks
    stored = vectors._collection("acme", create=False).get(include=["metadatas"])
    by_id = dict(zip(stored["ids"], stored["metadatas"], strict=True))
    assert by_id["acme-d1-c0"]["section"] == "Pause > Maintenance mode"
    assert "section" not in by_id["acme-d1-c1"]  # Chroma takes no None


def test_hybrid_index_searches_the_section_path(chroma_client, embedder):
    index = HybridIndex(ChromaVectorIndex(chroma_client, embedding_model=embedder.model_id))
    chunks = sectioned_chunks()
    index.upsert("acme", chunks, embedder.embed_array([c.indexed_text() for c in chunks]))
    hits = index.search("acme", "maintenance mode", None, 2, mode=SearchMode.BM25)
    assert [h.chunk.chunk_id for h in hits] == ["acme-d1-c0"]  # the words are in its path only
    assert hits[0].chunk.section == "Pause > Maintenance mode"


def test_tier_wire_and_service_round_trip_keeps_the_section(chroma_client, embedder):
    chunks = sectioned_chunks()
    assert decode_chunks(encode_chunks(chunks)) == chunks
    token = "unit-test-token-0123456789"
    index = HybridIndex(ChromaVectorIndex(chroma_client, embedding_model=embedder.model_id))
    client = TestClient(create_tier_app(index, token=token, ready=lambda: None))
    tier = HttpVectorTier("http://testserver", token=token, client=client)
    tier.upsert("acme", chunks, embedder.embed_array([c.indexed_text() for c in chunks]))
    hits = tier.search("acme", "maintenance", None, 5, mode=SearchMode.BM25)
    assert hits and hits[0].chunk == chunks[0]
    # An older tier service answers without the field: the client still reads its hits.
    old = {k: v for k, v in chunks[0].to_dict().items() if k != "section"}
    (hit,) = decode_hits([{"chunk": old, "score": 1.0}])
    assert hit.chunk.section is None


# -- re-chunking -------------------------------------------------------------------------------


def folder_files(folder) -> list[SourceFile]:
    return [
        SourceFile(p.relative_to(folder).as_posix(), p.read_bytes)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    ]


def make_old(container, doc_id: str, *, version: int | None) -> None:
    """Make the manifest look written by an older ragops (``version`` None: no field)."""
    key = manifest_key(TENANT, doc_id)
    data = json.loads(container.store.get(key))
    data.pop("chunking_version", None)
    if version is not None:
        data["chunking_version"] = version
    container.store.put(key, json.dumps(data).encode(), "application/json")


def test_sync_rechunks_a_document_with_an_older_chunking_version_then_skips_it(
    container, tmp_path, monkeypatch
):
    folder = tmp_path / "documents"
    folder.mkdir()
    (folder / "operations.md").write_bytes(OPERATIONS)
    (folder / "notes.txt").write_text("Etna is the most active volcano in Europe.\n")
    ops_id = document_id_for("operations.md")

    def sync():
        return sync_documents(
            container.ingest_context(),
            tenant=TENANT,
            files=folder_files(folder),
            tier_status=container.tier_status,
        )

    # The first ingestion as an older ragops did it: chunk ids without the version tag.
    monkeypatch.setattr(chunking, "_ID_TAG", "")
    first = sync()
    assert first.counts()["created"] == 2
    old_ids = set(container.index.document_chunk_ids(TENANT, ops_id))
    make_old(container, ops_id, version=None)
    make_old(container, document_id_for("notes.txt"), version=1)
    monkeypatch.undo()

    calls = container.embedder.calls
    second = sync()
    actions = {d.name: d for d in second.documents}
    assert {name: str(d.action) for name, d in actions.items()} == {
        "notes.txt": "updated",
        "operations.md": "updated",
    }
    assert actions["operations.md"].rechunked
    assert actions["operations.md"].reason == (
        f"unchanged file, chunked again (chunking version 1 -> {CHUNKING_VERSION})"
    )
    assert second.rechunked() == 2 and second.to_dict()["rechunked"] == 2
    assert container.embedder.calls > calls, "chunked and embedded again"

    record = decode_record(container.store.get(manifest_key(TENANT, ops_id)))
    assert record.chunking_version == CHUNKING_VERSION
    new_ids = set(container.index.document_chunk_ids(TENANT, ops_id))
    assert len(new_ids) == record.chunk_count and not new_ids & old_ids, "old chunks removed"
    assert len(list(container.store.list(artifact_prefix(TENANT, ops_id)))) == 1
    hits = container.index.search(TENANT, "retry after paused", None, 3, mode=SearchMode.BM25)
    assert hits[0].chunk.section == "Pause and resume > Maintenance mode"

    calls = container.embedder.calls
    third = sync()
    assert third.counts()["unchanged"] == 2 and third.rechunked() == 0
    assert container.embedder.calls == calls, "nothing embedded"


def test_async_sync_stores_an_outdated_document_for_the_ingest_function(container, tmp_path):
    from ragops.domain.artifacts import raw_key
    from ragops.services.object_events import handle_object_event

    folder = tmp_path / "documents"
    folder.mkdir()
    (folder / "operations.md").write_bytes(OPERATIONS)
    doc_id = document_id_for("operations.md")
    ctx = container.ingest_context()

    def sync():
        return sync_documents(
            ctx,
            tenant=TENANT,
            files=folder_files(folder),
            tier_status=container.tier_status,
            index_now=False,
        )

    sync()
    assert handle_object_event(ctx, key=raw_key(TENANT, doc_id), removed=False, tier_usable=True)
    make_old(container, doc_id, version=None)
    calls = container.embedder.calls
    (stored,) = sync().documents
    assert (str(stored.action), stored.status, stored.rechunked) == ("updated", "pending", True)
    assert stored.reason == (
        f"unchanged file, stored to be chunked again (chunking version 1 -> {CHUNKING_VERSION})"
    )
    assert container.embedder.calls == calls, "nothing embedded by the sync itself"
    outcome = handle_object_event(ctx, key=raw_key(TENANT, doc_id), removed=False, tier_usable=True)
    assert outcome in {"created", "updated"}  # as for a changed file: it was pending
    record = decode_record(container.store.get(manifest_key(TENANT, doc_id)))
    assert (str(record.status), record.chunking_version) == ("indexed", CHUNKING_VERSION)
    assert str(sync().documents[0].action) == "unchanged"


def test_ingest_of_an_unchanged_file_with_an_old_chunking_version_rechunks_it(container):
    ctx = container.ingest_context()
    first = ingest_document(ctx, tenant=TENANT, filename="operations.md", data=OPERATIONS)
    assert first.record.chunking_version == CHUNKING_VERSION
    again = ingest_document(ctx, tenant=TENANT, filename="operations.md", data=OPERATIONS)
    assert again.outcome is IngestOutcome.UNCHANGED
    make_old(container, first.record.doc_id, version=1)
    rechunked = ingest_document(ctx, tenant=TENANT, filename="operations.md", data=OPERATIONS)
    assert rechunked.outcome is IngestOutcome.UPDATED
    assert rechunked.record.chunking_version == CHUNKING_VERSION


def test_a_failed_rechunk_leaves_the_live_chunks_and_artifact(container, monkeypatch):
    ctx = container.ingest_context()
    monkeypatch.setattr(chunking, "_ID_TAG", "")
    first = ingest_document(ctx, tenant=TENANT, filename="operations.md", data=OPERATIONS)
    monkeypatch.undo()
    doc_id = first.record.doc_id
    make_old(container, doc_id, version=1)
    artifacts = {
        k: container.store.get(k) for k in container.store.list(artifact_prefix(TENANT, doc_id))
    }
    live = set(container.index.document_chunk_ids(TENANT, doc_id))

    def broken(*args, **kwargs):
        raise RuntimeError("index write failed")

    monkeypatch.setattr(container.index, "upsert", broken)
    with pytest.raises(RuntimeError):
        ingest_document(ctx, tenant=TENANT, filename="operations.md", data=OPERATIONS)
    monkeypatch.undo()
    assert set(container.index.document_chunk_ids(TENANT, doc_id)) == live
    after = {
        k: container.store.get(k) for k in container.store.list(artifact_prefix(TENANT, doc_id))
    }
    assert after == artifacts
    assert decode_record(container.store.get(manifest_key(TENANT, doc_id))).chunking_version == 1


def test_sync_report_counts_stay_as_they_were():
    assert [str(a) for a in SyncAction] == [
        "created", "updated", "unchanged", "deleted", "rejected", "deferred",
    ]  # fmt: skip


# -- citations ---------------------------------------------------------------------------------


def test_citations_show_the_section_in_the_cli_and_its_json(container, monkeypatch):
    from typer.testing import CliRunner

    from ragops.entrypoints import cli

    ctx = container.ingest_context()
    ingest_document(ctx, tenant=TENANT, filename="docs/operations.md", data=OPERATIONS)
    monkeypatch.setattr(cli, "_container", lambda data_dir, serving=False: container)
    question = "What do queries get while the tier is paused, Retry-After?"
    args = ["ask", question, "--tenant", TENANT, "--mode", "bm25"]
    answer = json.loads(CliRunner().invoke(cli.app, [*args, "--json"]).stdout)
    first = answer["citations"][0]
    assert first["section"] == "Pause and resume > Maintenance mode"
    shown = CliRunner().invoke(cli.app, args)
    assert shown.exit_code == 0, shown.output
    assert (
        "[1] Operations (docs/operations.md) > Pause and resume > Maintenance mode" in shown.stdout
    )
