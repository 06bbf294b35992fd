"""Information-retrieval metrics, computed as pytrec_eval / BEIR compute them.

``run`` maps a query id to ``{doc_id: score}``; ``qrels`` maps a query id to
``{doc_id: relevance}`` (relevance > 0 counts as relevant). Queries without judgments are
skipped; a query with judgments but no results scores 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

Run = Mapping[str, Mapping[str, float]]
Qrels = Mapping[str, Mapping[str, int]]


def _ranked(scores: Mapping[str, float], k: int) -> list[str]:
    # Ties broken by doc id, descending, as trec_eval does.
    return [doc for doc, _ in sorted(scores.items(), key=lambda i: (i[1], i[0]), reverse=True)[:k]]


def ndcg_at_k(run: Run, qrels: Qrels, k: int) -> float:
    """Mean nDCG@k with linear gains (the relevance value itself)."""
    values = []
    for qid, judged in qrels.items():
        relevant = {doc: rel for doc, rel in judged.items() if rel > 0}
        if not relevant:
            continue
        ranked = _ranked(run.get(qid, {}), k)
        dcg = sum(relevant.get(doc, 0) / math.log2(i + 2) for i, doc in enumerate(ranked))
        ideal = sorted(relevant.values(), reverse=True)[:k]
        idcg = sum(rel / math.log2(i + 2) for i, rel in enumerate(ideal))
        values.append(dcg / idcg)
    return sum(values) / len(values) if values else 0.0


def recall_at_k(run: Run, qrels: Qrels, k: int) -> float:
    """Mean share of a query's relevant documents found in its top k."""
    values = []
    for qid, judged in qrels.items():
        relevant = {doc for doc, rel in judged.items() if rel > 0}
        if not relevant:
            continue
        ranked = set(_ranked(run.get(qid, {}), k))
        values.append(len(relevant & ranked) / len(relevant))
    return sum(values) / len(values) if values else 0.0


def mrr_at_k(run: Run, qrels: Qrels, k: int) -> float:
    """Mean reciprocal rank of the first relevant document within the top k (0 if none)."""
    values = []
    for qid, judged in qrels.items():
        relevant = {doc for doc, rel in judged.items() if rel > 0}
        if not relevant:
            continue
        ranked = _ranked(run.get(qid, {}), k)
        values.append(next((1.0 / (i + 1) for i, doc in enumerate(ranked) if doc in relevant), 0.0))
    return sum(values) / len(values) if values else 0.0


def retrieval_report(run: Run, qrels: Qrels) -> dict[str, float]:
    return {
        "ndcg@10": ndcg_at_k(run, qrels, 10),
        "recall@10": recall_at_k(run, qrels, 10),
        "recall@100": recall_at_k(run, qrels, 100),
        "mrr@10": mrr_at_k(run, qrels, 10),
    }


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q`` quantile (0..1) of ``values``; 0.0 for none."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]
