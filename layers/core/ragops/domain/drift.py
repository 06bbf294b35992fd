"""Query drift: has what people ask moved away from a reference set of questions?

Two windows of questions (the reference and the current one) are compared on

1. **their embeddings**: the kernel maximum mean discrepancy (MMD², the unbiased estimate
   of Gretton et al., 2012) with a Gaussian kernel ``exp(-|x - y|² / h)`` whose bandwidth
   ``h`` is the median squared distance between reference questions (the median
   heuristic, fixed by the reference, so scores of successive windows compare);
2. **their best passage similarity**, when given: for each question, the highest cosine
   similarity among the passages retrieved for it (what ``RAGOPS_MIN_RELEVANCE`` is
   compared with), the two windows compared by the two-sample Kolmogorov-Smirnov
   statistic. It falls when questions leave what the documents cover.

Each part flags drift when its statistic exceeds its threshold, the larger of

- an **effect floor**, calibrated on same-domain splits of the shared data sets with a
  margin (``bench/drift.py``; the table is in ``docs/evaluation.md``): two samples of the
  same kind of question differ a little, and that is not drift;
- the statistic's **critical value** at level ``alpha`` when both windows come from one
  distribution (a permutation null for MMD², Smirnov's asymptotic bound for KS), so a
  small window's noise is not taken for drift either.

The score is the largest ratio statistic / threshold over the parts used (a negative
MMD² estimate counts as 0), so the threshold is 1.0 whatever the parts: above it, the
current window has drifted.

Windows need at least ``MIN_WINDOW`` questions each: below that, same-domain noise comes
close to the floor (measured: MMD² up to 0.007 between two windows of 50 SciFact
questions, against a floor of 0.01). The floors hold for all-MiniLM-L6-v2; calibrate
anew (``bench/drift.py``) for another embedder.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ragops.errors import InvalidInput

MIN_WINDOW = 100
"""Fewest questions a window may have."""
MAX_SAMPLE = 2000
"""Larger windows are subsampled (seeded) to this many questions for the embedding test:
its kernel matrix grows with the square of the size."""
EMBEDDING_FLOOR = 0.01
"""MMD² up to which embeddings are not called drifted (all-MiniLM-L6-v2): twice the
largest same-domain value measured (0.0047, two windows of 100 SciFact questions), a
fifth of the smallest SciFact-against-QQP one (0.054)."""
SIMILARITY_FLOOR = 0.3
"""KS statistic up to which best passage similarities are not called drifted: same-domain
windows reached 0.24 (at 100 questions), SciFact against QQP no less than 0.86."""
ALPHA = 0.01
PERMUTATIONS = 200


@dataclass(frozen=True)
class DriftReport:
    """The verdict on one pair of windows. ``details`` holds each part's statistic,
    threshold and p-value, or why a part was not used."""

    drift: bool
    score: float
    threshold: float
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "drift": self.drift,
            "score": self.score,
            "threshold": self.threshold,
            "details": self.details,
        }


def _matrix(rows: Any, which: str) -> np.ndarray:
    matrix = np.asarray(rows, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[1] == 0:
        raise InvalidInput(f"the {which} window's embeddings must be one row per question")
    return matrix


def _sample(matrix: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    if len(matrix) <= limit:
        return matrix
    return matrix[np.sort(rng.choice(len(matrix), limit, replace=False))]


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.maximum((a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T), 0.0)


def median_bandwidth(reference: np.ndarray) -> float:
    """The median squared distance between distinct reference rows (1.0 if all coincide)."""
    distances = _squared_distances(reference, reference)
    median = float(np.median(distances[np.triu_indices(len(reference), 1)]))
    return median if median > 0 else 1.0


def embedding_drift(
    reference: Any,
    current: Any,
    *,
    floor: float = EMBEDDING_FLOOR,
    alpha: float = ALPHA,
    permutations: int = PERMUTATIONS,
    seed: int = 0,
) -> dict[str, Any]:
    """MMD² between the two windows' embeddings, its permutation p-value and threshold."""
    rng = np.random.default_rng(seed)
    full_x, full_y = _matrix(reference, "reference"), _matrix(current, "current")
    x, y = _sample(full_x, MAX_SAMPLE, rng), _sample(full_y, MAX_SAMPLE, rng)
    if x.shape[1] != y.shape[1]:
        raise InvalidInput(
            f"the windows' embeddings differ in size ({x.shape[1]} and {y.shape[1]}): "
            "embed both with the same model"
        )
    n, m = len(x), len(y)
    bandwidth = median_bandwidth(x)
    z = np.vstack([x, y])
    kernel = np.exp(-_squared_distances(z, z) / bandwidth)
    # Column 0 is the observed split, the others random relabellings of the pooled rows;
    # each statistic comes from the kernel sums within and across the two groups.
    members = np.zeros((n + m, permutations + 1))
    members[:n, 0] = 1.0
    for column in range(1, permutations + 1):
        members[rng.permutation(n + m)[:n], column] = 1.0
    within_x = (members * (kernel @ members)).sum(0)
    across = members.T @ kernel.sum(1) - within_x
    within_y = kernel.sum() - within_x - 2.0 * across
    diagonal = float(np.trace(kernel)) / (n + m)  # 1.0 for this kernel
    statistics = (
        (within_x - n * diagonal) / (n * (n - 1))
        + (within_y - m * diagonal) / (m * (m - 1))
        - 2.0 * across / (n * m)
    )
    observed, null = float(statistics[0]), statistics[1:]
    critical = float(np.quantile(null, 1.0 - alpha)) if permutations else 0.0
    threshold = max(floor, critical)
    return {
        "used": True,
        "statistic": "mmd2",
        "value": round(observed, 6),
        "threshold": round(threshold, 6),
        "floor": floor,
        "critical_value": round(critical, 6),
        "p_value": round((1 + int((null >= observed).sum())) / (permutations + 1), 4),
        "alpha": alpha,
        "bandwidth": round(bandwidth, 6),
        "drift": observed > threshold,
        "ratio": round(max(observed, 0.0) / threshold, 3),
        "sampled": (n, m) != (len(full_x), len(full_y)),
    }


def ks_statistic(a: Sequence[float], b: Sequence[float]) -> float:
    """The largest gap between the two samples' empirical distribution functions."""
    a_sorted, b_sorted = np.sort(np.asarray(a, float)), np.sort(np.asarray(b, float))
    points = np.concatenate([a_sorted, b_sorted])
    cdf_a = np.searchsorted(a_sorted, points, side="right") / len(a_sorted)
    cdf_b = np.searchsorted(b_sorted, points, side="right") / len(b_sorted)
    return float(np.max(np.abs(cdf_a - cdf_b)))


def _ks_p_value(statistic: float, n: int, m: int) -> float:
    """Asymptotic two-sided p-value (Kolmogorov's distribution, Stephens' correction)."""
    effective = math.sqrt(n * m / (n + m))
    lam = (effective + 0.12 + 0.11 / effective) * statistic
    if lam < 0.3:
        return 1.0
    total = sum((-1) ** (k - 1) * math.exp(-2.0 * k * k * lam * lam) for k in range(1, 101))
    return min(1.0, max(0.0, 2.0 * total))


def similarity_drift(
    reference: Sequence[float],
    current: Sequence[float],
    *,
    floor: float = SIMILARITY_FLOOR,
    alpha: float = ALPHA,
) -> dict[str, Any]:
    """KS between the windows' best passage similarities, its p-value and threshold."""
    n, m = len(reference), len(current)
    statistic = ks_statistic(reference, current)
    critical = math.sqrt(-math.log(alpha / 2.0) / 2.0) * math.sqrt((n + m) / (n * m))
    threshold = max(floor, critical)
    return {
        "used": True,
        "statistic": "ks",
        "value": round(statistic, 6),
        "threshold": round(threshold, 6),
        "floor": floor,
        "critical_value": round(critical, 6),
        "p_value": round(_ks_p_value(statistic, n, m), 6),
        "alpha": alpha,
        "reference_median": round(float(np.median(reference)), 4),
        "current_median": round(float(np.median(current)), 4),
        "drift": statistic > threshold,
        "ratio": round(statistic / threshold, 3),
    }


def check_window_sizes(reference: int, current: int, min_window: int = MIN_WINDOW) -> None:
    """``InvalidInput`` unless both windows hold at least ``min_window`` questions."""
    for which, size in (("reference", reference), ("current", current)):
        if size < min_window:
            raise InvalidInput(
                f"the {which} window has {size} questions; drift needs at least "
                f"{min_window} in each (smaller windows are too noisy to judge)"
            )


def compare_windows(
    reference: Any,
    current: Any,
    reference_similarities: Sequence[float | None] | None = None,
    current_similarities: Sequence[float | None] | None = None,
    *,
    similarity_note: str = "no retrieval similarities were given",
    min_window: int = MIN_WINDOW,
    seed: int = 0,
) -> DriftReport:
    """Compare the current window of question embeddings with the reference (and their
    best passage similarities when both are given: questions without one are left out of
    that part). ``InvalidInput`` if a window is smaller than ``min_window``."""
    check_window_sizes(len(reference), len(current), min_window)
    parts: dict[str, dict[str, Any]] = {"embedding": embedding_drift(reference, current, seed=seed)}
    if reference_similarities is None or current_similarities is None:
        parts["top1_similarity"] = {"used": False, "reason": similarity_note}
    else:
        ref = [float(s) for s in reference_similarities if s is not None]
        cur = [float(s) for s in current_similarities if s is not None]
        if min(len(ref), len(cur)) < min_window:
            parts["top1_similarity"] = {
                "used": False,
                "reason": f"fewer than {min_window} questions found a passage in a window "
                f"(reference {len(ref)}, current {len(cur)})",
            }
        else:
            parts["top1_similarity"] = similarity_drift(ref, cur)
    used = [p for p in parts.values() if p["used"]]
    score = max(p["ratio"] for p in used)
    details: dict[str, Any] = {
        "reference_size": len(reference),
        "current_size": len(current),
        "min_window": min_window,
        **parts,
    }
    drift = any(p["drift"] for p in used)
    return DriftReport(drift=drift, score=score, threshold=1.0, details=details)
