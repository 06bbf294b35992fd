"""Rehydrate vs re-ingest: rebuilding a lost tier from the chunk artifacts in the object
store, against re-ingesting the same chunks with the local embedder, in the same run.

The tier is the one the cloud runs, locally: ``ragops tier serve`` (its own process) over
a ``chroma run`` server, reached through ``HttpVectorTier`` with a bearer token.

1. Re-ingest (measured): SciFact abstracts go through ``ingest_files`` as the API runs it
   (parse, chunk, embed with all-MiniLM-L6-v2 on the CPU, write artifacts and manifests,
   upsert into the tier), into tenant ``bench-0``. The top 10 of a fixed query set (SciFact
   train queries, hybrid mode) are recorded.
2. Setup (not measured): the store gets copies of those documents for more tenants
   (``bench-1``...), artifacts included, until it holds ``--chunks`` chunks. Re-ingesting a
   copy is the same work as the measured ingest, so re-ingesting everything costs
   ``copies x`` the measured time; the script prints that figure as projected, and the
   per-chunk throughput it comes from.
3. The tier is lost: the tier service and Chroma stop; a new, empty Chroma and a new tier
   service start.
4. Rehydrate (measured): ``rehydrate_tier`` over every tenant, through the tier service,
   no embedder anywhere in the process.
5. The same queries on ``bench-0`` must return the same top 10 as in step 1.

Target: rehydrating >= 50k chunks at least 20x faster than re-ingesting them.

    python bench/rehydrate.py [--chunks 50000] [--docs 1500] [--queries 50] [--json]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.servers: the same server harness the tests use

from ragops.adapters.http_tier import HttpVectorTier  # noqa: E402
from ragops.bootstrap import build_container  # noqa: E402
from ragops.domain.artifacts import (  # noqa: E402
    ChunkArtifact,
    artifact_key,
    decode_artifact,
    encode_artifact,
    encode_record,
    manifest_key,
)
from ragops.repositories.documents import DocumentCatalogue  # noqa: E402
from ragops.services.ingestion import UploadedFile, ingest_files  # noqa: E402
from ragops.services.rehydrate import rehydrate_tier  # noqa: E402
from ragops.settings import Settings  # noqa: E402
from tests.servers import ChromaServer, TierServiceProcess  # noqa: E402

TOKEN = "bench-tier-token-0123456789abcdef"
SOURCE_TENANT = "bench-0"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load_documents(dataset: Path, count: int) -> list[UploadedFile]:
    files = []
    with (dataset / "corpus.jsonl").open() as corpus:
        for line in corpus:
            row = json.loads(line)
            title = row["title"] or None
            files.append(UploadedFile(f"{row['_id']}.txt", row["text"].encode(), title=title))
            if len(files) == count:
                break
    return files


def load_queries(dataset: Path, count: int) -> list[str]:
    with (dataset / "qrels" / "train.tsv").open() as qrels:
        rows = csv.reader(qrels, delimiter="\t")
        next(rows)
        wanted = list(dict.fromkeys(row[0] for row in rows))[:count]
    texts = {}
    with (dataset / "queries.jsonl").open() as queries:
        for line in queries:
            row = json.loads(line)
            texts[row["_id"]] = row["text"]
    return [texts[qid] for qid in wanted]


def top10(index, queries: list[str], vectors) -> list[list[tuple[str, float]]]:
    return [
        [(h.chunk.chunk_id, h.score) for h in index.search(SOURCE_TENANT, q, v, 10)]
        for q, v in zip(queries, vectors, strict=True)
    ]


def copy_tenant(store, source: str, target: str) -> int:
    """Copy ``source``'s manifests and live artifacts to ``target`` (no embedding)."""
    chunks = 0
    for record in DocumentCatalogue(store).records(source):
        key = artifact_key(source, record.doc_id, record.version)
        artifact = decode_artifact(store.get(key))
        moved = replace(record, tenant=target)
        copied = ChunkArtifact(
            record=moved,
            chunks=[replace(c, tenant=target) for c in artifact.chunks],
            embeddings=artifact.embeddings,
        )
        store.put(artifact_key(target, record.doc_id, record.version), encode_artifact(copied))
        store.put(manifest_key(target, record.doc_id), encode_record(moved))
        chunks += len(artifact.chunks)
    return chunks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=ROOT.parent / "shared/data/scifact")
    parser.add_argument("--chunks", type=int, default=50_000, help="Chunks to rehydrate.")
    parser.add_argument("--docs", type=int, default=1500, help="Documents re-ingested.")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="ragops-rehydrate-bench-"))
    log(f"work folder: {workdir}")
    files = load_documents(args.dataset, args.docs)
    queries = load_queries(args.dataset, args.queries)

    first_chroma = ChromaServer(workdir / "chroma-before").start()
    local = build_container(Settings(data_dir=workdir / "data"))
    embedder = local.embedder
    embedder.embed_array(["warm up the model before the clock starts"])
    tier_log = workdir / "tier.log"
    try:
        with TierServiceProcess(first_chroma.url, TOKEN, embedder.model_id, tier_log) as tier:
            settings = Settings(data_dir=workdir / "data", tier_url=tier.url, tier_token=TOKEN)
            container = build_container(settings, embedder=embedder)
            ctx = container.ingest_context()
            log(f"re-ingesting {len(files)} documents with {embedder.model_id}...")
            started = time.perf_counter()
            for start in range(0, len(files), 100):
                ingest_files(ctx, tenant=SOURCE_TENANT, files=files[start : start + 100])
                log(f"  {min(start + 100, len(files))}/{len(files)} documents")
            ingest_s = time.perf_counter() - started
            ingested_chunks = container.index.count(SOURCE_TENANT)
            query_vectors = embedder.embed_array(queries)
            before = top10(container.index, queries, query_vectors)
    finally:
        first_chroma.stop()

    copies = math.ceil(args.chunks / ingested_chunks)
    store = container.store
    total_chunks = ingested_chunks
    for n in range(1, copies):
        total_chunks += copy_tenant(store, SOURCE_TENANT, f"bench-{n}")
    log(f"store holds {total_chunks} chunks in {copies} tenants; the tier is lost")

    second_chroma = ChromaServer(workdir / "chroma-after").start()
    try:
        with TierServiceProcess(second_chroma.url, TOKEN, embedder.model_id, tier_log) as tier:
            index = HttpVectorTier(tier.url, token=TOKEN, timeout=300)
            started = time.perf_counter()
            report = rehydrate_tier(
                store, index, progress=lambda done, total: log(f"  rehydrated {done}/{total}")
            )
            rehydrate_s = time.perf_counter() - started
            after = top10(index, queries, query_vectors)
            held = sum(index.count(f"bench-{n}") for n in range(copies))
    finally:
        second_chroma.stop()

    same = sum(
        [cid for cid, _ in a] == [cid for cid, _ in b] for a, b in zip(before, after, strict=True)
    )
    pairs = [
        (sa, sb)
        for a, b in zip(before, after, strict=True)
        for (_, sa), (_, sb) in zip(a, b, strict=False)
    ]
    max_score_gap = max((abs(sa - sb) for sa, sb in pairs), default=0.0)
    per_chunk_ingest = ingest_s / ingested_chunks
    projected_ingest_s = per_chunk_ingest * total_chunks
    result = {
        "embedder": embedder.model_id,
        "documents_ingested": len(files),
        "chunks_ingested": ingested_chunks,
        "ingest_s": round(ingest_s, 2),
        "ingest_chunks_per_s": round(ingested_chunks / ingest_s, 2),
        "chunks_rehydrated": report.chunks,
        "chunks_in_tier_after": held,
        "tenants": copies,
        "rehydrate_s": round(rehydrate_s, 2),
        "rehydrate_chunks_per_s": round(report.chunks / rehydrate_s, 1),
        "reingest_all_projected_s": round(projected_ingest_s, 1),
        "speedup": round(projected_ingest_s / rehydrate_s, 1),
        "target_speedup": 20,
        "queries": len(queries),
        "same_top10": same,
        "max_score_gap": max_score_gap,
        "missing_artifacts": len(report.missing),
    }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:28} {value}")
    ok = (
        result["speedup"] >= 20
        and same == len(queries)
        and report.chunks == total_chunks == held
        and total_chunks >= args.chunks
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
