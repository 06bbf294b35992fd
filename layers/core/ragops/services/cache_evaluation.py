"""Replaying question pairs through the answer cache, and calibrating its verifier.

A pairs file has one JSON object per line: ``{"id", "question1", "question2", "label"}``
(QQP's format; label 1 = the two ask the same thing). The replay caches an answer for
every ``question1`` (one tenant, one corpus generation) and looks up every ``question2``
through the same ``SemanticCache`` the query path uses:

- ``hit_rate``: label-1 lookups served that pair's own ``question1`` entry;
- ``wrong_hit_rate``: label-1 lookups served any other entry;
- ``false_hit_rate``: label-0 lookups served anything (somebody else's answer).

QQP repeats questions across pairs: the ``question2`` of a label-0 pair is often, word for
word, the ``question1`` of another pair (4.9% of the label-0 lookups over the whole train
file). The exact layer serves those, as it must (it is the same question), and the
definition above counts them as false hits. The replay therefore also reports
``false_hit_rate_distinct``: false hits among the label-0 lookups whose question is not
identical (after normalisation) to a cached one, which is the error the verifier exists to
prevent: serving the answer to a *different* question.

Calibration trains the duplicate verifier (gradient-boosted trees, scikit-learn) on one
part of the pairs, chooses its threshold on another for a target false-hit rate, and
leaves a third part (``split_of``) for the benchmark to measure on.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragops.domain.cache import (
    DuplicateVerifier,
    _Tree,
    content_words,
    normalise_question,
    pair_features,
)
from ragops.domain.metrics import percentile
from ragops.domain.models import Answer, Usage
from ragops.errors import InvalidInput
from ragops.ports import CacheStore, QuestionIndex
from ragops.services.jsonl import read_json_lines

EmbedFn = Callable[[list[str]], Any]

FIT, TUNE, HOLDOUT = "fit", "tune", "holdout"


@dataclass(frozen=True)
class QuestionPair:
    pair_id: str
    question1: str
    question2: str
    label: int


def load_pairs(path: Path) -> list[QuestionPair]:
    """The pairs of a JSON-lines file; ``InvalidInput`` names the first bad line."""
    pairs: list[QuestionPair] = []
    for number, row in read_json_lines(path):
        try:
            pair = QuestionPair(
                str(row.get("id", number)),
                row["question1"],
                row["question2"],
                int(row["label"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidInput(
                f"{path}, line {number}: expected an object with question1, question2 and "
                f"label ({type(exc).__name__})"
            ) from exc
        if not isinstance(pair.question1, str) or not isinstance(pair.question2, str):
            raise InvalidInput(f"{path}, line {number}: question1 and question2 must be text")
        if pair.label not in (0, 1):
            raise InvalidInput(f"{path}, line {number}: label must be 0 or 1")
        pairs.append(pair)
    if not pairs:
        raise InvalidInput(f"{path}: no pairs")
    return pairs


def split_of(pair: QuestionPair) -> str:
    """A stable three-way split by pair id: 60% fit, 20% tune, 20% holdout."""
    bucket = int(hashlib.sha256(pair.pair_id.encode()).hexdigest(), 16) % 5
    return HOLDOUT if bucket == 0 else TUNE if bucket == 1 else FIT


# -- replay through the real cache ------------------------------------------------------
@dataclass(frozen=True)
class CacheReplay:
    pairs: int
    duplicates: int
    hit_rate: float
    wrong_hit_rate: float
    false_hit_rate: float
    false_hit_rate_distinct: float
    identical_negative_lookups: int
    exact_hits: int
    threshold: float
    similarity_floor: float
    plain_cosine: bool
    lookup_ms_p50: float
    lookup_ms_p95: float
    cached_entries: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def replay_pairs(
    pairs: Sequence[QuestionPair],
    embeddings: dict[str, Any],
    verifier: DuplicateVerifier,
    stores: tuple[CacheStore, QuestionIndex],
    *,
    extra_entries: Iterable[tuple[str, Any]] = (),
) -> CacheReplay:
    """Cache every ``question1`` (plus ``extra_entries``, (question, embedding) filler that
    no pair refers to), then look up every ``question2``, each through ``SemanticCache``
    over ``stores`` (empty ones, large enough for every entry: the bootstrap's
    ``replay_cache_stores``). ``embeddings`` maps each question to its unit vector."""
    from ragops.services.answer_cache import SemanticCache

    tenant, scope = "replay", "replay"
    cache = SemanticCache(stores[0], stores[1], verifier)
    partition = cache.partition(tenant, scope)
    entry_of: dict[str, str] = {}
    for question, embedding in _entries(pairs, embeddings, extra_entries):
        key = normalise_question(question)
        if key in entry_of:
            continue
        cache.remember(tenant, partition, question, embedding, _answer_for(question))
        entry_of[key] = question
    duplicates = sum(p.label for p in pairs)
    correct = wrong = false = false_distinct = identical = exact = 0
    timings: list[float] = []
    for pair in pairs:
        started = time.perf_counter()
        _, hit = cache.lookup_exact(tenant, scope, pair.question2)
        if hit is None:
            hit = cache.lookup_semantic(
                tenant, partition, pair.question2, embeddings[pair.question2]
            )
        timings.append((time.perf_counter() - started) * 1000.0)
        same_text = pair.label == 0 and normalise_question(pair.question2) in entry_of
        identical += same_text
        if hit is None:
            continue
        exact += hit.info.hit == "exact"
        served = hit.answer  # the cached answer names its question (see _answer_for)
        if pair.label == 1:
            if served == _answer_text(pair.question1):
                correct += 1
            else:
                wrong += 1
        else:
            false += 1
            false_distinct += not same_text
    negatives = len(pairs) - duplicates
    distinct = negatives - identical
    return CacheReplay(
        pairs=len(pairs),
        duplicates=duplicates,
        hit_rate=correct / duplicates if duplicates else 0.0,
        wrong_hit_rate=wrong / duplicates if duplicates else 0.0,
        false_hit_rate=false / negatives if negatives else 0.0,
        false_hit_rate_distinct=false_distinct / distinct if distinct else 0.0,
        identical_negative_lookups=identical,
        exact_hits=exact,
        threshold=verifier.threshold,
        similarity_floor=verifier.similarity_floor,
        plain_cosine=verifier.plain_cosine,
        lookup_ms_p50=round(percentile(timings, 0.5), 3),
        lookup_ms_p95=round(percentile(timings, 0.95), 3),
        cached_entries=len(entry_of),
    )


def _entries(
    pairs: Sequence[QuestionPair],
    embeddings: dict[str, Any],
    extra: Iterable[tuple[str, Any]],
) -> Iterable[tuple[str, Any]]:
    for pair in pairs:
        yield pair.question1, embeddings[pair.question1]
    yield from extra


def _answer_text(question: str) -> str:
    return "answer to: " + normalise_question(question)


def _answer_for(question: str) -> Answer:
    return Answer(
        answer=_answer_text(question), citations=[], model="replay", usage=Usage(), latency_ms=0.0
    )


def embed_questions(
    pairs: Sequence[QuestionPair], embed: EmbedFn, batch: int = 512
) -> dict[str, Any]:
    """Each distinct question of ``pairs`` with its embedding."""
    questions = sorted({q for p in pairs for q in (p.question1, p.question2)})
    vectors: dict[str, Any] = {}
    for start in range(0, len(questions), batch):
        chunk = questions[start : start + batch]
        for question, vector in zip(chunk, embed(chunk), strict=True):
            vectors[question] = vector
    return vectors


# -- calibration -------------------------------------------------------------------------
def candidate_rows(
    pairs: Sequence[QuestionPair],
    embeddings: dict[str, Any],
    candidates: int,
    similarity_floor: float,
    idf: dict[str, float] | None = None,
    default_idf: float = 10.0,
) -> tuple[Any, Any, list[int]]:
    """Verifier training rows: for each pair's ``question2``, its ``candidates`` nearest
    cached ``question1`` entries (above ``similarity_floor``), labelled 1 only for its own
    duplicate. Returns (features, labels, lookup index of each row)."""
    import numpy as np

    cached = sorted({normalise_question(p.question1): p.question1 for p in pairs}.values())
    matrix = np.stack([np.asarray(embeddings[q], dtype=np.float32) for q in cached])
    features: list[list[float]] = []
    labels: list[int] = []
    lookups: list[int] = []
    for start in range(0, len(pairs), 2048):
        block = pairs[start : start + 2048]
        queries = np.stack([np.asarray(embeddings[p.question2], dtype=np.float32) for p in block])
        scores = queries @ matrix.T
        k = min(candidates, scores.shape[1])
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        for offset, (pair, row, idx) in enumerate(zip(block, scores, top, strict=True)):
            idx = idx[np.argsort(-row[idx], kind="stable")]
            best = float(row[idx[0]])
            own = normalise_question(pair.question1)
            asked = normalise_question(pair.question2)
            if any(normalise_question(cached[j]) == asked for j in idx):
                continue  # the exact layer answers it; the verifier never sees it
            for rank, j in enumerate(idx):
                similarity = float(row[j])
                if similarity < similarity_floor:
                    break
                features.append(
                    pair_features(
                        pair.question2,
                        cached[j],
                        similarity,
                        rank,
                        best - similarity,
                        idf,
                        default_idf,
                    )
                )
                labels.append(int(pair.label == 1 and normalise_question(cached[j]) == own))
                lookups.append(start + offset)
    return np.asarray(features, dtype=np.float64), np.asarray(labels), lookups


def fit_verifier(
    pairs: Sequence[QuestionPair],
    embeddings: dict[str, Any],
    *,
    candidates: int = 5,
    similarity_floor: float = 0.7,
    max_false_hit_rate: float = 0.008,
    embedding_model: str | None = None,
    trained_on: str | None = None,
    seed: int = 0,
) -> DuplicateVerifier:
    """Train on the ``fit`` split, then pick the lowest threshold whose replay on the
    ``tune`` split stays at or below ``max_false_hit_rate``."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    fit = [p for p in pairs if split_of(p) == FIT]
    tune = [p for p in pairs if split_of(p) == TUNE]
    if not fit or not tune:
        raise InvalidInput("too few pairs to calibrate: need pairs in both fit and tune splits")
    idf, default_idf = word_idf([q for p in fit for q in (p.question1, p.question2)])
    x, y, _ = candidate_rows(fit, embeddings, candidates, similarity_floor, idf, default_idf)
    model = HistGradientBoostingClassifier(
        max_iter=300,
        learning_rate=0.08,
        max_leaf_nodes=31,
        l2_regularization=1.0,
        random_state=seed,
    ).fit(x, y)
    verifier = DuplicateVerifier(
        trees=export_trees(model),
        baseline=float(model._baseline_prediction.ravel()[0]),
        threshold=0.5,
        similarity_floor=similarity_floor,
        candidates=candidates,
        embedding_model=embedding_model,
        trained_on=trained_on,
        idf=idf,
        default_idf=default_idf,
    )
    threshold = tune_threshold(verifier, tune, embeddings, max_false_hit_rate)
    return verifier.with_threshold(threshold)


def tune_threshold(
    verifier: DuplicateVerifier,
    pairs: Sequence[QuestionPair],
    embeddings: dict[str, Any],
    max_false_hit_rate: float,
) -> float:
    """The lowest score threshold (on a 0.005 grid) at which a replay of ``pairs`` serves
    at most ``max_false_hit_rate`` of its non-duplicate lookups."""
    import numpy as np

    x, _, lookups = candidate_rows(
        pairs, embeddings, verifier.candidates, verifier.similarity_floor
    )
    scores = np.array([verifier.score(row) for row in x])
    best_per_lookup: dict[int, float] = {}
    for lookup, score in zip(lookups, scores, strict=True):
        best_per_lookup[lookup] = max(score, best_per_lookup.get(lookup, 0.0))
    best_negative = np.array([best_per_lookup.get(i, 0.0) for i in _distinct_negatives(pairs)])
    for threshold in np.arange(0.5, 1.0, 0.005):
        if (best_negative >= threshold).mean() <= max_false_hit_rate:
            return round(float(threshold), 3)
    return 0.999


def word_idf(questions: Sequence[str], min_count: int = 2) -> tuple[dict[str, float], float]:
    """Inverse document frequency of each content word seen in at least ``min_count``
    distinct questions, and the weight of any other word (as if seen once)."""
    import math
    from collections import Counter

    distinct = {normalise_question(q): q for q in questions}.values()
    counts: Counter[str] = Counter()
    for question in distinct:
        counts.update(content_words(question))
    total = len(distinct)
    idf = {w: round(math.log(total / n), 3) for w, n in counts.items() if n >= min_count}
    return idf, round(math.log(total), 3)


def _distinct_negatives(pairs: Sequence[QuestionPair]) -> list[int]:
    """Label-0 lookups whose question is not word for word a cached one."""
    cached = {normalise_question(p.question1) for p in pairs}
    return [
        i
        for i, p in enumerate(pairs)
        if p.label == 0 and normalise_question(p.question2) not in cached
    ]


def export_trees(model: Any) -> list[_Tree]:
    """scikit-learn's fitted ``HistGradientBoostingClassifier`` trees as plain lists."""
    trees = []
    for (predictor,) in model._predictors:
        nodes = predictor.nodes
        trees.append(
            _Tree(
                feature=[int(v) for v in nodes["feature_idx"]],
                threshold=[float(v) for v in nodes["num_threshold"]],
                left=[int(v) for v in nodes["left"]],
                right=[int(v) for v in nodes["right"]],
                value=[float(v) for v in nodes["value"]],
                leaf=[bool(v) for v in nodes["is_leaf"]],
                missing_left=[bool(v) for v in nodes["missing_go_to_left"]],
            )
        )
    return trees


def plain_cosine_for(
    pairs: Sequence[QuestionPair],
    embeddings: dict[str, Any],
    target_false_hit_rate: float,
    grid: Sequence[float] = tuple(x / 1000 for x in range(900, 1000)),
) -> float:
    """The lowest cosine threshold whose nearest-neighbour replay of ``pairs`` stays at or
    below ``target_false_hit_rate``: plain thresholding tuned to a false-hit rate."""
    import numpy as np

    x, _, lookups = candidate_rows(pairs, embeddings, 1, -1.0)
    nearest = {lookup: row[0] for lookup, row in zip(lookups, x, strict=True)}
    negatives = np.array([nearest.get(i, -1.0) for i in _distinct_negatives(pairs)])
    for threshold in grid:
        if (negatives >= threshold).mean() <= target_false_hit_rate:
            return float(threshold)
    return 0.999
