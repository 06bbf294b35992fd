"""Fusion tuning: every fusion variant over the same candidates, on each corpus given.

A corpus is a BEIR folder (``../shared/data/scifact``, with ``--split``), or one built here
from a data set that is not in BEIR form (built in memory, never copied):

- ``squad:PATH``: SQuAD 2.0 paragraphs as documents (titled by their article), each
  answerable question judged to its own paragraph;
- ``qqp:PATH``: QQP's duplicate-question retrieval on the ``tune`` split of
  ``ragops cache calibrate``: every second question is a document, each duplicate pair's
  first question a query judged to its second.

Each corpus is indexed in a tenant of its own (reused when already there, as
``ragops eval retrieval`` does). For each judged query the vector and BM25 candidate lists
are fetched once, then every variant is scored: reciprocal rank fusion over k and weight,
z-score and min-max normalised convex combinations over weight. Documents are scored by
their best chunk, as in the eval.

    python bench/fusion_sweep.py [--dataset ../shared/data/scifact [--dataset squad:...]]
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
from ragops.services.cache_evaluation import TUNE, load_pairs, split_of
from ragops.services.evaluation import EVAL_CANDIDATES, BeirDataset, index_corpus, load_beir
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


def confidence_zscore_fusion(vector, keyword, *, power=1.0, top=1):
    """Z-score fusion whose weights follow each list's own confidence for this query: the
    mean z-score of its ``top`` best candidates (a list whose best stands far above the rest
    is sure; a flat list is not), raised to ``power``."""
    from ragops.domain.fusion import _standardise

    vec, vec_floor = _standardise(vector)
    kw, kw_floor = _standardise(keyword)

    def sureness(z):
        best = sorted(z.values(), reverse=True)[:top]
        return max(sum(best) / len(best), 1e-6) ** power if best else 0.0

    a, b = sureness(vec), sureness(kw)
    w = a / (a + b) if a + b > 0 else 0.5
    fused = {
        k: w * vec.get(k, vec_floor) + (1 - w) * kw.get(k, kw_floor) for k in vec.keys() | kw.keys()
    }
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def squad_paragraphs(path: Path) -> BeirDataset:
    """SQuAD 2.0 paragraphs as a retrieval corpus; answerable questions as judged queries."""
    corpus, queries, qrels = {}, {}, {}
    for a, article in enumerate(json.loads(path.read_text(encoding="utf-8"))["data"]):
        for p, paragraph in enumerate(article["paragraphs"]):
            doc_id = f"a{a}-p{p}"
            corpus[doc_id] = {
                "title": article["title"].replace("_", " "),
                "text": paragraph["context"],
            }
            for qa in paragraph["qas"]:
                if not qa.get("is_impossible"):
                    queries[qa["id"]] = qa["question"]
                    qrels[qa["id"]] = {doc_id: 1}
    return BeirDataset("squad-" + path.stem[:18], path, corpus, queries, qrels, sample="paragraphs")


def qqp_duplicates(path: Path) -> BeirDataset:
    """QQP tune split as duplicate-question retrieval (BEIR's Quora task, built from pairs)."""
    corpus: dict[str, dict[str, str]] = {}
    ids: dict[str, str] = {}
    queries, qrels = {}, {}
    for pair in (p for p in load_pairs(path) if split_of(p) == TUNE):
        doc_id = ids.setdefault(pair.question2, f"q{len(ids)}")
        corpus[doc_id] = {"title": "", "text": pair.question2}
        if pair.label == 1 and pair.question1 != pair.question2:
            queries[pair.pair_id] = pair.question1
            qrels[pair.pair_id] = {doc_id: 1}
    return BeirDataset("qqp-tune", path, corpus, queries, qrels, sample="duplicates")


def load_corpus(spec: str, split: str) -> BeirDataset:
    kind, _, path = spec.partition(":")
    if kind == "squad" and path:
        return squad_paragraphs(Path(path))
    if kind == "qqp" and path:
        return qqp_duplicates(Path(path))
    folder = Path(spec)
    if not (folder / "qrels" / f"{split}.tsv").exists():
        # A corpus with one judged split (business_reports has only test).
        judged = sorted((folder / "qrels").glob("*.tsv"))
        if len(judged) == 1:
            split = judged[0].stem
    return load_beir(folder, split)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", action="append", help="repeatable; default SciFact")
    parser.add_argument("--split", default="train")
    parser.add_argument(
        "--data-dir", type=Path, default=Path(os.environ.get("RAGOPS_DATA_DIR", ".ragops"))
    )
    args = parser.parse_args()

    container = build_container(Settings(data_dir=args.data_dir))
    summary = {}
    for spec in args.dataset or ["../shared/data/scifact"]:
        summary[spec] = sweep(container, load_corpus(spec, args.split))
    print(json.dumps(summary, indent=2))


def sweep(container, dataset: BeirDataset) -> dict[str, object]:
    """Prints every variant's table for one corpus; returns the single retrievers, the
    default fusion and the best variant."""
    ctx = container.ingest_context()
    tenant, _ = index_corpus(ctx, dataset)
    index = container.index
    while not hasattr(index, "_state"):  # the HybridIndex behind the breaker and the cache
        index = index.inner
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
    for power in (1.0, 2.0, 4.0):
        for top in (1, 3):
            rows.append(
                (
                    f"conf-z p={power:g} t={top}",
                    evaluate(
                        lambda v, kw, p=power, t=top: confidence_zscore_fusion(
                            v, kw, power=p, top=t
                        )
                    ),
                )
            )
    print(f"{dataset.name}: {len(query_ids)} queries, {len(state.chunks)} chunks")
    print(f"{'variant':<18} nDCG@10  R@10    R@100   MRR@10")
    for name, report in rows:
        print(
            f"{name:<18} {report['ndcg@10']:.4f}   {report['recall@10']:.4f}  "
            f"{report['recall@100']:.4f}  {report['mrr@10']:.4f}"
        )
    best = max(rows[2:], key=lambda row: row[1]["ndcg@10"])
    named = dict(rows)
    return {
        "vector": round(named["vector only"]["ndcg@10"], 4),
        "bm25": round(named["bm25 only"]["ndcg@10"], 4),
        "default (zscore w=0.5)": round(named["zscore w=0.5"]["ndcg@10"], 4),
        "best": best[0],
        "best_ndcg@10": round(best[1]["ndcg@10"], 4),
    }


if __name__ == "__main__":
    main()
