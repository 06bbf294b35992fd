"""Retrieval evaluation on BEIR-format datasets.

The corpus is ingested through the normal pipeline into a tenant of its own, named after
the dataset and a fingerprint of the corpus, the embedder and the chunking; a later run
with the same fingerprint reuses it, and an interrupted indexing run resumes where it
stopped (ingestion skips documents already indexed unchanged).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ragops.domain import keys
from ragops.domain.metrics import retrieval_report
from ragops.domain.models import SearchMode
from ragops.errors import InvalidInput, ObjectNotFound
from ragops.services.ingestion import (
    IngestContext,
    IngestResult,
    UploadedFile,
    embed_in_batches,
    ingest_files,
)

StageProgress = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)``."""

INGEST_GROUP_DOCUMENTS = 256
# Chunks fetched per query: enough that the best chunks of 100 distinct documents survive.
EVAL_CANDIDATES = 300
EVAL_DOCUMENTS = 100


@dataclass(frozen=True)
class BeirDataset:
    name: str
    corpus_path: Path
    corpus: dict[str, dict[str, str]]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    sample: str = ""
    """Empty for the whole corpus; else what ``sample_corpus`` kept (part of the tenant)."""


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise InvalidInput(f"{path}: line {number} is not JSON ({exc.msg})") from exc
    return rows


def load_beir(directory: Path, split: str) -> BeirDataset:
    """Read ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/{split}.tsv`` from ``directory``."""
    directory = Path(directory)
    corpus_path = directory / "corpus.jsonl"
    queries_path = directory / "queries.jsonl"
    qrels_path = directory / "qrels" / f"{split}.tsv"
    for path in (corpus_path, queries_path, qrels_path):
        if not path.is_file():
            raise InvalidInput(f"{path}: missing (a BEIR dataset folder needs it)")
    corpus = {
        str(row["_id"]): {"title": row.get("title") or "", "text": row.get("text") or ""}
        for row in _read_jsonl(corpus_path)
    }
    queries = {str(row["_id"]): row["text"] for row in _read_jsonl(queries_path)}
    qrels: dict[str, dict[str, int]] = {}
    with qrels_path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            parts = line.rstrip("\n").split("\t")
            if number == 1 and parts[0] == "query-id":
                continue
            if len(parts) < 3:
                if line.strip():
                    raise InvalidInput(f"{qrels_path}: line {number} needs 3 tab-separated fields")
                continue
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    qrels = {q: judged for q, judged in qrels.items() if q in queries}
    if not qrels:
        raise InvalidInput(f"{qrels_path}: no judged query is in {queries_path}")
    name = re.sub(r"[^a-z0-9]+", "-", directory.resolve().name.lower()).strip("-")[:24] or "dataset"
    return BeirDataset(name, corpus_path, corpus, queries, qrels)


def _corpus_tenant(dataset: BeirDataset, ctx: IngestContext) -> str:
    digest = hashlib.sha256()
    with dataset.corpus_path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    chunking = f"{ctx.chunker.chunk_tokens}/{ctx.chunker.overlap_tokens}"
    digest.update(f"|{ctx.embedder.model_id}|{chunking}|{dataset.sample}".encode())
    return f"eval-{dataset.name}-{digest.hexdigest()[:12]}"


def _marker_key(tenant: str) -> str:
    return keys.eval_marker_key(tenant)


def index_corpus(
    ctx: IngestContext, dataset: BeirDataset, progress: StageProgress | None = None
) -> tuple[str, bool]:
    """Ingest the corpus into its own tenant unless a complete index is there already.
    Returns ``(tenant, reused)``."""
    tenant = _corpus_tenant(dataset, ctx)
    try:
        marker = json.loads(ctx.store.get(_marker_key(tenant)))
        if marker.get("documents") == len(dataset.corpus) and ctx.index.count(tenant) > 0:
            return tenant, True
    except ObjectNotFound:
        pass
    items = list(dataset.corpus.items())
    for start in range(0, len(items), INGEST_GROUP_DOCUMENTS):
        group = items[start : start + INGEST_GROUP_DOCUMENTS]
        files = [
            UploadedFile(
                filename=f"{doc_id}.txt",
                data=(doc["text"] or doc["title"]).encode("utf-8"),
                doc_id=doc_id,
                title=doc["title"] or None,
            )
            for doc_id, doc in group
        ]
        results = ingest_files(ctx, tenant=tenant, files=files)
        skipped = [r for r in results if not isinstance(r, IngestResult)]
        if len(skipped) == len(results) and results:
            raise InvalidInput(f"corpus documents were rejected, first: {skipped[0]}")
        if progress:
            progress("indexing corpus", start + len(group), len(items))
    ctx.store.put(
        _marker_key(tenant),
        json.dumps({"documents": len(dataset.corpus), "dataset": dataset.name}).encode(),
        "application/json",
    )
    return tenant, False


def sample_corpus(dataset: BeirDataset, query_ids: list[str], distractors: int) -> BeirDataset:
    """The corpus cut to the documents judged for ``query_ids`` plus ``distractors`` others,
    the same ones on every run (ordered by a hash of their id, so they spread over the
    corpus). Scores on a sample are comparable only with scores on the same sample."""
    judged = {doc for q in query_ids for doc in dataset.qrels[q]}
    others = sorted(
        (doc for doc in dataset.corpus if doc not in judged),
        key=lambda doc: hashlib.sha256(doc.encode()).hexdigest(),
    )[:distractors]
    kept = sorted(judged & dataset.corpus.keys()) + others
    return BeirDataset(
        dataset.name,
        dataset.corpus_path,
        {doc: dataset.corpus[doc] for doc in kept},
        dataset.queries,
        {q: dataset.qrels[q] for q in query_ids},
        sample=f"{len(query_ids)}q+{len(others)}d",
    )


def run_retrieval_eval(
    ctx: IngestContext,
    dataset_dir: Path,
    *,
    split: str = "test",
    mode: SearchMode = SearchMode.HYBRID,
    max_queries: int | None = None,
    distractors: int | None = None,
    progress: StageProgress | None = None,
) -> dict[str, Any]:
    """Index the corpus (once), run every judged query of ``split`` in ``mode`` (the first
    ``max_queries``), and score documents by their best chunk. With ``distractors`` the
    corpus is cut to a fixed sample (``sample_corpus``). Returns the metrics with run
    details."""
    dataset = load_beir(Path(dataset_dir), split)
    query_ids = sorted(dataset.qrels)
    if max_queries is not None:
        query_ids = query_ids[:max_queries]
    if distractors is not None:
        dataset = sample_corpus(dataset, query_ids, distractors)
    started = time.perf_counter()
    tenant, reused = index_corpus(ctx, dataset, progress)
    index_seconds = time.perf_counter() - started

    texts = [dataset.queries[q] for q in query_ids]
    embeddings = (
        None
        if mode is SearchMode.BM25
        else embed_in_batches(ctx.embedder, texts, ctx.embed_call_size)
    )
    run: dict[str, dict[str, float]] = {}
    latencies = []
    for position, query_id in enumerate(query_ids):
        began = time.perf_counter()
        hits = ctx.index.search(
            tenant,
            texts[position],
            None if embeddings is None else np.asarray(embeddings[position]),
            EVAL_CANDIDATES,
            mode,
            candidates=EVAL_CANDIDATES,
        )
        latencies.append((time.perf_counter() - began) * 1000.0)
        scores: dict[str, float] = {}
        for hit in hits:  # best first: the first hit of a document is its best chunk
            if hit.chunk.doc_id not in scores:
                scores[hit.chunk.doc_id] = hit.score
                if len(scores) == EVAL_DOCUMENTS:
                    break
        run[query_id] = scores
        if progress and (position + 1) % 50 == 0:
            progress("searching", position + 1, len(query_ids))
    report = retrieval_report(run, {q: dataset.qrels[q] for q in query_ids})
    return {
        **{key: round(value, 4) for key, value in report.items()},
        "mode": str(mode),
        "queries": len(query_ids),
        "split": split,
        "dataset": dataset.name,
        "corpus_documents": len(dataset.corpus),
        "tenant": tenant,
        "index_reused": reused,
        "index_seconds": round(index_seconds, 1),
        "search_ms_p50": round(float(np.percentile(latencies, 50)), 3) if latencies else None,
    }
