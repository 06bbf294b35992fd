"""Rank fusion of the vector and keyword result lists.

Both functions take ``{id: score}`` maps (higher is better) and return ``[(id, score)]``
sorted best first, equal scores by id: the order never depends on the order chunks were
written in, so an index and its rehydrated copy rank alike. An id missing from one list
simply gets nothing from that list.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from enum import StrEnum


def best_first(scores: Mapping[str, float]) -> list[tuple[str, float]]:
    """``(id, score)`` by descending score, ties by id."""
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


class FusionMethod(StrEnum):
    RRF = "rrf"
    ZSCORE = "zscore"


def reciprocal_rank_fusion(
    vector: Mapping[str, float],
    keyword: Mapping[str, float],
    *,
    vector_weight: float = 0.5,
    k: int = 60,
) -> list[tuple[str, float]]:
    """Weighted RRF: ``w / (k + rank)`` summed over the lists (Cormack et al., 2009)."""
    fused: dict[str, float] = {}
    for scores, weight in ((vector, vector_weight), (keyword, 1.0 - vector_weight)):
        ranked = best_first(scores)
        for rank, (key, _) in enumerate(ranked, start=1):
            fused[key] = fused.get(key, 0.0) + weight / (k + rank)
    return best_first(fused)


def _standardise(scores: Mapping[str, float]) -> tuple[dict[str, float], float]:
    """z-scores of the candidates, and the z-score a non-candidate is given: the smallest
    candidate's (a chunk outside the top list scored at most that)."""
    if not scores:
        return {}, 0.0
    # By hand: statistics.pstdev computes exactly with fractions, 20x slower on this path.
    values = list(scores.values())
    mean = math.fsum(values) / len(values)
    spread = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / len(values))
    if spread == 0.0:
        return dict.fromkeys(scores, 0.0), 0.0
    standardised = {key: (value - mean) / spread for key, value in scores.items()}
    return standardised, (min(values) - mean) / spread


def zscore_fusion(
    vector: Mapping[str, float],
    keyword: Mapping[str, float],
    *,
    vector_weight: float = 0.5,
) -> list[tuple[str, float]]:
    """Convex combination of z-score-normalised scores.

    Scores keep their margins (RRF throws them away): a passage far ahead on one retriever
    stays ahead. Each list is standardised over its own candidates; a chunk absent from a
    list gets that list's lowest candidate score.
    """
    vec, vec_floor = _standardise(vector)
    kw, kw_floor = _standardise(keyword)
    fused = {
        key: vector_weight * vec.get(key, vec_floor) + (1.0 - vector_weight) * kw.get(key, kw_floor)
        for key in vec.keys() | kw.keys()
    }
    return best_first(fused)
