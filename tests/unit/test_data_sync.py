"""The data sync (``ragops sync FOLDER``, ``services/data_sync.py``) against S3 under moto and
the real embedded Chroma: what the data-sync workflow runs.

The embedder counts what it embeds, and the S3 client counts the objects written, so
"unchanged" is checked as "nothing embedded, nothing written", not only as a label.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from ragops.bootstrap import build_container
from ragops.domain.artifacts import manifest_key, raw_key
from ragops.domain.models import SearchMode, document_id_for
from ragops.entrypoints import cli
from ragops.errors import InvalidInput
from ragops.services.data_sync import SourceFile, SyncAction, sync_documents
from ragops.services.documents import list_documents
from ragops.services.object_events import handle_object_event
from ragops.services.tier import pause_tier, resume_tier
from ragops.settings import Settings
from tests.fakes import HashingEmbedder

BUCKET = "ragops-documents"
TENANT = "docs"
FILES = {
    "glaciers.md": "# Glaciers\n\nThe Aletsch Glacier is the longest glacier in the Alps.\n",
    "notes/volcanoes.txt": "Etna is the most active volcano in Europe, on Sicily.\n",
    "notes/tides.html": "<html><body><p>The moon pulls the oceans and makes tides.</p></body>",
}


class RecordingEmbedder(HashingEmbedder):
    """Remembers every text it was asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def embed_array(self, texts):
        self.texts.extend(texts)
        return super().embed_array(texts)


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.puts = Counter()  # key -> PutObject calls

        def count_put(params, **_):
            client.puts[params["Key"]] += 1

        client.meta.events.register("provide-client-params.s3.PutObject", count_put)
        yield client


@pytest.fixture
def embedder():
    return RecordingEmbedder()


def make_container(tmp_path, s3, embedder, chroma_client, *, ingest_mode="sync"):
    settings = Settings(
        data_dir=tmp_path / "data",
        object_store="s3",
        s3_bucket=BUCKET,
        ingest_mode=ingest_mode,
    )
    return build_container(
        settings, embedder=embedder, chroma_client=chroma_client, aws_clients={"s3": s3}
    )


@pytest.fixture
def container(tmp_path, s3, embedder, chroma_client):
    return make_container(tmp_path, s3, embedder, chroma_client)


@pytest.fixture
def folder(tmp_path) -> Path:
    root = tmp_path / "documents"
    for name, text in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (root / "logo.gif").write_bytes(b"GIF89a not a document")  # not a supported type
    return root


def sources(folder: Path) -> list[SourceFile]:
    return [
        SourceFile(path.relative_to(folder).as_posix(), path.read_bytes)
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.suffix in {".md", ".txt", ".html", ".pdf"}
    ]


def sync(container, folder, **options):
    return sync_documents(
        container.ingest_context(),
        tenant=TENANT,
        files=sources(folder),
        tier_status=container.tier_status,
        index_now=container.settings.ingest_mode == "sync",
        **options,
    )


def actions(report) -> dict[str, str]:
    return {d.name: str(d.action) for d in report.documents}


def keys(s3, prefix: str) -> set[str]:
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return {o["Key"] for o in listed}


def search_sources(container, query: str) -> list[str]:
    hits = container.index.search(TENANT, query, None, 5, mode=SearchMode.BM25)
    return [hit.chunk.source for hit in hits]


def test_a_second_sync_of_an_unchanged_folder_embeds_and_writes_nothing(
    container, folder, s3, embedder, caplog
):
    caplog.set_level("INFO", logger="ragops.services.data_sync")
    first = sync(container, folder)
    assert caplog.records[-1].counts["created"] == 3
    assert actions(first) == {name: "created" for name in FILES}
    assert first.counts() == {
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "deleted": 0,
        "rejected": 0,
        "deferred": 0,
    }
    assert {d.status for d in first.documents} == {"indexed"}
    assert embedder.texts, "the first sync embeds the chunks"
    for name in FILES:
        doc_id = document_id_for(name)
        assert raw_key(TENANT, doc_id) in keys(s3, "raw/")
        assert manifest_key(TENANT, doc_id) in keys(s3, "documents/")
    assert search_sources(container, "Aletsch glacier") == ["glaciers.md"]

    embedded, calls, puts = len(embedder.texts), embedder.calls, sum(s3.puts.values())
    second = sync(container, folder)
    assert second.counts()["unchanged"] == 3 and len(second.documents) == 3
    assert (len(embedder.texts), embedder.calls) == (embedded, calls), "nothing embedded"
    assert sum(s3.puts.values()) == puts, "nothing written"


def test_a_changed_file_is_reingested_alone_and_replaces_its_old_chunks(
    container, folder, embedder
):
    sync(container, folder)
    embedder.texts.clear()
    (folder / "notes/volcanoes.txt").write_text("Stromboli erupts every few minutes.\n")

    report = sync(container, folder)

    assert actions(report) == {
        "glaciers.md": "unchanged",
        "notes/volcanoes.txt": "updated",
        "notes/tides.html": "unchanged",
    }
    assert embedder.texts and all("Stromboli" in text for text in embedder.texts)
    assert search_sources(container, "Stromboli erupts") == ["notes/volcanoes.txt"]
    assert search_sources(container, "Etna Sicily") == [], "the old version's chunks are gone"
    records = {r.source: r for r in list_documents(container.store, TENANT)}
    assert records["notes/volcanoes.txt"].status == "indexed"


def test_a_removed_file_is_deleted_from_the_index_and_the_store_only_with_prune(
    container, folder, s3
):
    sync(container, folder)
    doc_id = document_id_for("notes/tides.html")
    (folder / "notes/tides.html").unlink()

    kept = sync(container, folder)
    assert "notes/tides.html" not in actions(kept), "without --prune nothing is deleted"
    assert container.index.document_chunk_ids(TENANT, doc_id)

    pruned = sync(container, folder, prune=True)

    assert actions(pruned) == {
        "glaciers.md": "unchanged",
        "notes/volcanoes.txt": "unchanged",
        "notes/tides.html": "deleted",
    }
    assert container.index.document_chunk_ids(TENANT, doc_id) == []
    assert search_sources(container, "moon tides oceans") == []
    assert not {k for k in keys(s3, "") if doc_id in k}, "raw, manifest and chunks deleted"
    assert sorted(r.source for r in list_documents(container.store, TENANT)) == [
        "glaciers.md",
        "notes/volcanoes.txt",
    ]


def test_prune_touches_only_the_synced_tenant(container, folder):
    context = container.ingest_context()
    sync_documents(
        context,
        tenant="other",
        files=[SourceFile("elsewhere.md", lambda: b"# Elsewhere\n\nAnother tenant.\n")],
        tier_status=container.tier_status,
    )
    sync(container, folder, prune=True)
    assert [r.source for r in list_documents(container.store, "other")] == ["elsewhere.md"]


def test_a_bad_file_is_rejected_with_its_reason_and_the_others_go_on(container, folder):
    (folder / "broken.pdf").write_bytes(b"not a pdf")

    report = sync(container, folder)

    rejected = [d for d in report.documents if d.action is SyncAction.REJECTED]
    assert [d.name for d in rejected] == ["broken.pdf"]
    assert "corrupt PDF" in rejected[0].reason
    assert report.counts()["created"] == 3
    assert "broken.pdf" not in {r.source for r in list_documents(container.store, TENANT)}


def test_a_file_over_the_upload_limit_is_refused_unread(container, folder):
    limit = container.ingest_context().max_bytes

    def unreadable() -> bytes:
        raise AssertionError("a file over the limit must not be read")

    report = sync_documents(
        container.ingest_context(),
        tenant=TENANT,
        files=[
            SourceFile("disk.img", unreadable, limit + 1),
            SourceFile("small.md", lambda: b"# Small\n\nA small note about tides.\n", 40),
        ],
        tier_status=container.tier_status,
    )
    refused, kept = report.documents
    assert refused.action is SyncAction.REJECTED and "over the limit" in refused.reason
    assert kept.action is SyncAction.CREATED
    assert [r.source for r in list_documents(container.store, TENANT)] == ["small.md"]


def test_prune_with_no_files_is_refused(container, folder):
    sync(container, folder)
    with pytest.raises(InvalidInput, match="refusing to prune"):
        sync_documents(
            container.ingest_context(),
            tenant=TENANT,
            files=[],
            tier_status=container.tier_status,
            prune=True,
        )
    assert len(list_documents(container.store, TENANT)) == 3


def test_while_the_tier_is_paused_files_wait_as_pending_and_deletions_are_deferred(
    container, folder, embedder
):
    sync(container, folder)
    pause_tier(container.tier_state)
    (folder / "glaciers.md").unlink()
    (folder / "deltas.md").write_text("# Deltas\n\nRivers deposit sediment at the delta.\n")
    embedder.texts.clear()

    paused = sync(container, folder, prune=True)

    assert actions(paused) == {
        "deltas.md": "created",
        "notes/tides.html": "unchanged",
        "notes/volcanoes.txt": "unchanged",
        "glaciers.md": "deferred",
    }
    created = next(d for d in paused.documents if d.name == "deltas.md")
    assert created.status == "pending" and embedder.texts == []
    deferred = next(d for d in paused.documents if d.name == "glaciers.md")
    assert "paused" in deferred.reason

    resume_tier(container.tier_state, container.ingest_context())  # indexes the pending file
    resumed = sync(container, folder, prune=True)
    assert resumed.counts()["deleted"] == 1 and resumed.counts()["unchanged"] == 3
    assert search_sources(container, "Aletsch glacier") == []
    assert search_sources(container, "sediment delta") == ["deltas.md"]


def test_async_mode_stores_for_the_ingest_function_and_never_embeds(
    tmp_path, s3, embedder, chroma_client, folder
):
    """The cloud (RAGOPS_INGEST_MODE=async): the sync only stores; the ingest function
    indexes on the bucket's events, simulated here by calling its service per object."""
    runner = make_container(tmp_path, s3, embedder, chroma_client, ingest_mode="async")
    function = make_container(tmp_path, s3, embedder, chroma_client)

    def deliver(key: str, *, removed: bool = False) -> str:
        return handle_object_event(
            function.ingest_context(), key=key, removed=removed, tier_usable=True
        )

    first = sync(runner, folder)
    assert first.to_dict()["ingestion"] == "stored"
    assert actions(first) == {name: "created" for name in FILES}
    assert {d.status for d in first.documents} == {"pending"}
    assert embedder.texts == [], "the runner embeds nothing"
    for name in FILES:
        assert deliver(raw_key(TENANT, document_id_for(name))) == "created"
    assert search_sources(function, "Aletsch glacier") == ["glaciers.md"]

    puts = sum(s3.puts.values())
    embedded = len(embedder.texts)
    again = sync(runner, folder)
    assert again.counts()["unchanged"] == 3
    assert sum(s3.puts.values()) == puts, "no object written, so no event and no embedding"

    (folder / "glaciers.md").write_text("# Glaciers\n\nGlaciers retreat as summers warm.\n")
    (folder / "notes/tides.html").unlink()
    s3.puts.clear()
    changed = sync(runner, folder, prune=True)
    assert actions(changed) == {
        "glaciers.md": "updated",
        "notes/volcanoes.txt": "unchanged",
        "notes/tides.html": "deleted",
    }
    glaciers, tides = document_id_for("glaciers.md"), document_id_for("notes/tides.html")
    assert set(s3.puts) == {manifest_key(TENANT, glaciers), raw_key(TENANT, glaciers)}
    assert raw_key(TENANT, tides) not in keys(s3, "raw/")
    assert len(embedder.texts) == embedded, "still nothing embedded by the runner"

    assert deliver(raw_key(TENANT, glaciers)) in {"created", "updated"}
    assert deliver(raw_key(TENANT, tides), removed=True) == "deleted"
    assert search_sources(function, "glaciers retreat summers") == ["glaciers.md"]
    assert search_sources(function, "moon tides oceans") == []
    assert function.index.document_chunk_ids(TENANT, tides) == []


def test_the_cli_reports_counts_as_json_and_fails_on_a_rejected_file(
    container, folder, monkeypatch
):
    monkeypatch.setattr(cli, "_container", lambda data_dir, serving=False: container)
    runner = CliRunner()

    result = runner.invoke(cli.app, ["sync", str(folder), "--tenant", TENANT, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["counts"]["created"] == 3 and report["ingestion"] == "indexed"
    assert {d["name"] for d in report["documents"]} == set(FILES), "logo.gif is not a document"

    (folder / "glaciers.md").unlink()
    (folder / "broken.pdf").write_bytes(b"not a pdf")
    result = runner.invoke(cli.app, ["sync", str(folder), "--tenant", TENANT, "--prune"])
    assert result.exit_code == 1, result.output
    assert "deleted  glaciers.md" in result.stdout
    assert "rejected  broken.pdf" in result.stderr
    assert "2 unchanged, 1 deleted, 1 rejected" in result.stdout


def test_the_quota_holds_and_counts_what_a_prune_removes(container, folder):
    from ragops.errors import QuotaExceeded
    from ragops.services.quotas import TenantQuota

    sync(container, folder)  # three documents
    (folder / "glaciers.md").unlink()
    (folder / "deserts.md").write_text("# Deserts\n\nThe Atacama is the driest desert.\n")
    quota = TenantQuota(max_documents=3, max_bytes=None)
    # Without pruning the tenant would hold four: refused before anything is written.
    with pytest.raises(QuotaExceeded, match="may hold 3 documents"):
        sync(container, folder, quota=quota)
    assert len(list_documents(container.store, TENANT)) == 3
    # With pruning, glaciers.md leaves as deserts.md arrives: three, within the quota.
    report = sync(container, folder, quota=quota, prune=True)
    assert actions(report)["deserts.md"] == "created"
    assert {d.source for d in list_documents(container.store, TENANT)} == {
        "deserts.md",
        "notes/volcanoes.txt",
        "notes/tides.html",
    }
