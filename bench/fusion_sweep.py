"""Fusion tuning on a BEIR train split: every fusion variant over the same candidates.

Uses the corpus that ``ragops eval retrieval`` indexed (run it first). For each judged
query it fetches the vector and BM25 candidate lists once, then scores every variant:
reciprocal rank fusion over k and weight, z-score and min-max normalised convex
combinations over weight. Documents are scored by their best chunk, as in the eval.

    python bench/fusion_sweep.py [--dataset ../shared/data/scifact] [--split train]
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from ragops.bootstrap import build_container
from ragops.domain.fusion import reciprocal_rank_fusion, zscore_fusion
from ragops.domain.metrics import retrieval_report
from ragops.services.evaluation import EVAL_CANDIDATES, index_corpus, load_beir
from ragops.services.ingestion import embed_in_batches
from ragops.settings import Settings

Fusion = Callable[[Mapping[str, float], Mapping[str, float]], list[tuple[str, float]]]


def minmax_fusion(vector, keyword, *, vector_weight):
    def scale(scores):
        if not scores:
            return {}
        values = np.fromiter(scores.values(), float)
        low, high = values.min(), values.max()
        return {k: (v - low) / (high - low) if high > low else 0.0 for k, v in scores.items()}

    a, b = scale(vector), scale(keyword)
    fused = {
        k: vector_weight * a.get(k, 0.0) + (1 - vector_weight) * b.get(k, 0.0)
        for k in a.keys() | b.keys()
    }
    return sorted(fused.items(), key=lambda item: item[1], reverse=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=Path("../shared/data/scifact"))
    parser.add_argument("--split", default="train")
    parser.add_argument(
        "--data-dir", type=Path, default=Path(os.environ.get("RAGOPS_DATA_DIR", ".ragops"))
    )
    args = parser.parse_args()

    container = build_container(Settings(data_dir=args.data_dir))
    ctx = container.ingest_context()
    dataset = load_beir(args.dataset, args.split)
    tenant, _ = index_corpus(ctx, dataset)
    index = container.index.inner  # the HybridIndex behind the circuit breaker
    state = index._state(tenant)  # the bench reads the tier's own candidate lists
    keyword_index = index._keyword_index(state)
    query_ids = sorted(dataset.qrels)
    texts = [dataset.queries[q] for q in query_ids]
    vectors = embed_in_batches(ctx.embedder, texts, ctx.embed_call_size)
    candidates = []
    for text, vector in zip(texts, vectors, strict=True):
        vec = dict(index.vectors.query(tenant, vector, EVAL_CANDIDATES))
        kw = {state.bm25_ids[p]: s for p, s in keyword_index.search(text, EVAL_CANDIDATES)}
        candidates.append((vec, kw))

    def evaluate(fuse: Fusion) -> dict[str, float]:
        run = {}
        for query_id, (vec, kw) in zip(query_ids, candidates, strict=True):
            scores: dict[str, float] = {}
            for chunk_id, score in fuse(vec, kw):
                doc = state.chunks[chunk_id].doc_id
                if doc not in scores:
                    scores[doc] = score
                    if len(scores) == 100:
                        break
            run[query_id] = scores
        return retrieval_report(run, {q: dataset.qrels[q] for q in query_ids})

    rows = []
    rows.append(("vector only", evaluate(lambda v, k: sorted(v.items(), key=lambda i: -i[1]))))
    rows.append(("bm25 only", evaluate(lambda v, k: sorted(k.items(), key=lambda i: -i[1]))))
    for k in (10, 30, 60):
        for w in (0.4, 0.5, 0.6):
            rows.append(
                (
                    f"rrf k={k} w={w}",
                    evaluate(
                        lambda v, kw, k=k, w=w: reciprocal_rank_fusion(v, kw, vector_weight=w, k=k)
                    ),
                )
            )
    for w in (0.3, 0.4, 0.5, 0.6, 0.7):
        rows.append(
            (f"zscore w={w}", evaluate(lambda v, kw, w=w: zscore_fusion(v, kw, vector_weight=w)))
        )
        rows.append(
            (f"minmax w={w}", evaluate(lambda v, kw, w=w: minmax_fusion(v, kw, vector_weight=w)))
        )
    print(f"{len(query_ids)} queries, split {args.split}, {len(state.chunks)} chunks")
    print(f"{'variant':<18} nDCG@10  R@10    R@100   MRR@10")
    for name, report in rows:
        print(
            f"{name:<18} {report['ndcg@10']:.4f}   {report['recall@10']:.4f}  "
            f"{report['recall@100']:.4f}  {report['mrr@10']:.4f}"
        )
    best = max(rows[2:], key=lambda row: row[1]["ndcg@10"])
    print(json.dumps({"best": best[0], **best[1]}))


if __name__ == "__main__":
    main()
