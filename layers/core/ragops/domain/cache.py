"""The semantic cache's decisions: question keys, and whether a cached question asks the
same thing as a new one.

Plain cosine similarity between question embeddings cannot tell "How do I learn Python?"
from "How do I learn Java?" (measured on QQP in docs/evaluation.md: at 1% false hits it
finds only about a tenth of the duplicates). A candidate found by similarity therefore
goes through a verifier: gradient-boosted trees over cheap features of the pair (cosine,
word and number overlap, negation and name mismatches, ...), trained on QQP's training
pairs by ``ragops cache calibrate``. A false hit serves somebody else's answer, so the
threshold is set for false hits first.

Everything here is plain Python: the verifier runs in the API Lambda, which has no numpy.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any

from ragops.domain.stopwords import FUNCTION_WORDS

_SPACE = re.compile(r"\s+")
_TRAILING = re.compile(r"[\s?.!]+$")
_WORD = re.compile(r"\w+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_STRIP = "?.,!\"'()[]{}:;"

# pronouns and modals; negations stay: they change a question.
_STOP = FUNCTION_WORDS | frozenset(
    ["could", "i", "me", "my", "should", "we", "will", "would", "you", "your"]
)
_NEGATION = frozenset(["not", "no", "never", "without", "cannot", "nothing", "none", "nor"])
_LEADS = [
    "what",
    "how",
    "why",
    "which",
    "who",
    "when",
    "where",
    "is",
    "can",
    "do",
    "does",
    "should",
    "are",
    "will",
    "would",
    "could",
]

FEATURE_NAMES = (
    "cosine",
    "rank",
    "gap_to_best",
    "content_jaccard",
    "content_only_in_question",
    "content_only_in_candidate",
    "word_symmetric_difference",
    "numbers_differ",
    "numbers_symmetric_difference",
    "negation_differs",
    "names_symmetric_difference",
    "names_shared",
    "question_words",
    "candidate_words",
    "word_count_difference",
    "char_trigram_jaccard",
    "same_first_word",
    "question_lead",
    "candidate_lead",
    "idf_only_in_question",
    "idf_only_in_candidate",
    "max_idf_only_in_question",
    "max_idf_only_in_candidate",
    "idf_jaccard",
    "bigram_jaccard",
)


def normalise_question(text: str) -> str:
    """The exact-match form of a question: Unicode-normalised, case-folded, single-spaced,
    without trailing punctuation. "What is RAG?" and " what is  rag " are the same key."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return _TRAILING.sub("", _SPACE.sub(" ", text).strip())


def question_key(text: str) -> str:
    """A fixed-length key for a normalised question (questions may carry personal data
    before masking; keys never do)."""
    return hashlib.sha256(normalise_question(text).encode("utf-8")).hexdigest()[:32]


def _tokens(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text.replace("n't", " not"))]


def _names(text: str) -> set[str]:
    """Capitalised words after the first: a cheap stand-in for named entities."""
    words = text.split()[1:]
    return {w.strip(_STRIP).lower() for w in words if w[:1].isupper()}


def _trigrams(text: str) -> set[str]:
    text = text.lower()
    return {text[i : i + 3] for i in range(max(len(text) - 2, 1))}


def _lead(tokens: list[str]) -> int:
    return _LEADS.index(tokens[0]) if tokens and tokens[0] in _LEADS else -1


def pair_features(
    question: str,
    candidate: str,
    cosine: float,
    rank: int,
    gap_to_best: float,
    idf: Mapping[str, float] | None = None,
    default_idf: float = 10.0,
) -> list[float]:
    """Features of (new question, cached question), in ``FEATURE_NAMES`` order. ``rank``
    is the candidate's place among the nearest cached questions (0 = nearest) and
    ``gap_to_best`` how far its cosine is below the nearest one's. ``idf`` weighs words by
    rarity (a differing rare word, a name or a topic, matters more than a common one);
    words it lacks weigh ``default_idf``."""
    idf = idf or {}
    tq, tc = _tokens(question), _tokens(candidate)
    sq, sc = set(tq), set(tc)
    cq, cc = sq - _STOP, sc - _STOP
    nq, nc = set(_NUMBER.findall(question)), set(_NUMBER.findall(candidate))
    eq, ec = _names(question), _names(candidate)
    gq, gc = _trigrams(question), _trigrams(candidate)
    return [
        float(cosine),
        float(rank),
        float(gap_to_best),
        len(cq & cc) / (len(cq | cc) or 1),
        float(len(cq - cc)),
        float(len(cc - cq)),
        len(sq ^ sc) / (len(sq | sc) or 1),
        float(nq != nc),
        float(len(nq ^ nc)),
        float(bool(sq & _NEGATION) != bool(sc & _NEGATION)),
        float(len(eq ^ ec)),
        float(len(eq & ec)),
        float(len(tq)),
        float(len(tc)),
        float(abs(len(tq) - len(tc))),
        len(gq & gc) / (len(gq | gc) or 1),
        float(tq[:1] == tc[:1]),
        float(_lead(tq)),
        float(_lead(tc)),
        *_idf_features(cq, cc, idf, default_idf),
        _jaccard(set(itertools.pairwise(tq)), set(itertools.pairwise(tc))),
    ]


def _jaccard(a: set[Any], b: set[Any]) -> float:
    return len(a & b) / (len(a | b) or 1)


def _idf_features(
    cq: set[str], cc: set[str], idf: Mapping[str, float], default: float
) -> list[float]:
    def weight(words: set[str]) -> list[float]:
        return [idf.get(w, default) for w in words]

    only_q, only_c = weight(cq - cc), weight(cc - cq)
    union = sum(weight(cq | cc))
    return [
        sum(only_q),
        sum(only_c),
        max(only_q, default=0.0),
        max(only_c, default=0.0),
        sum(weight(cq & cc)) / union if union else 0.0,
    ]


def content_words(text: str) -> set[str]:
    """The words ``pair_features`` compares (lower-cased, without stop words)."""
    return set(_tokens(text)) - _STOP


@dataclass(frozen=True)
class _Tree:
    """One regression tree as flat arrays (node 0 is the root)."""

    feature: list[int]
    threshold: list[float]
    left: list[int]
    right: list[int]
    value: list[float]
    leaf: list[bool]
    missing_left: list[bool]

    def predict(self, row: Sequence[float]) -> float:
        node = 0
        while not self.leaf[node]:
            x = row[self.feature[node]]
            go_left = self.missing_left[node] if x != x else x <= self.threshold[node]  # NaN
            node = self.left[node] if go_left else self.right[node]
        return self.value[node]


@dataclass(frozen=True)
class DuplicateVerifier:
    """Scores whether a cached question asks the same as a new one (0..1).

    ``threshold`` is the score a candidate needs to be served; ``similarity_floor`` the
    cosine below which a candidate is not even scored; ``candidates`` how many nearest
    cached questions are scored. A verifier with no trees scores by cosine alone (plain
    thresholding), which is what the benchmark compares against.
    """

    trees: list[_Tree] = field(default_factory=list)
    baseline: float = 0.0
    threshold: float = 0.975
    similarity_floor: float = 0.8
    candidates: int = 5
    embedding_model: str | None = None
    trained_on: str | None = None
    idf: Mapping[str, float] = field(default_factory=dict)
    default_idf: float = 10.0
    features: tuple[str, ...] = FEATURE_NAMES

    @property
    def plain_cosine(self) -> bool:
        return not self.trees

    def score(self, features: Sequence[float]) -> float:
        if self.plain_cosine:
            return float(features[0])
        raw = self.baseline + sum(tree.predict(features) for tree in self.trees)
        return 1.0 / (1.0 + math.exp(-raw))

    def with_threshold(self, threshold: float) -> DuplicateVerifier:
        return replace(self, threshold=threshold)

    # -- persistence ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "ragops-duplicate-verifier/1",
            "features": list(self.features),
            "baseline": self.baseline,
            "threshold": self.threshold,
            "similarity_floor": self.similarity_floor,
            "candidates": self.candidates,
            "embedding_model": self.embedding_model,
            "trained_on": self.trained_on,
            "default_idf": self.default_idf,
            "idf": dict(self.idf),
            "trees": [tree.__dict__ for tree in self.trees],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DuplicateVerifier:
        if data.get("format") != "ragops-duplicate-verifier/1":
            raise ValueError("not a ragops duplicate-verifier file")
        if tuple(data["features"]) != FEATURE_NAMES:
            raise ValueError("the verifier was trained on other features than this version's")
        return cls(
            trees=[_Tree(**tree) for tree in data["trees"]],
            baseline=float(data["baseline"]),
            threshold=float(data["threshold"]),
            similarity_floor=float(data["similarity_floor"]),
            candidates=int(data["candidates"]),
            embedding_model=data.get("embedding_model"),
            trained_on=data.get("trained_on"),
            idf={str(k): float(v) for k, v in data.get("idf", {}).items()},
            default_idf=float(data.get("default_idf", 10.0)),
        )

    @classmethod
    def packaged(cls) -> DuplicateVerifier:
        """The verifier shipped with ragops, calibrated on QQP with all-MiniLM-L6-v2."""
        text = resources.files("ragops.data").joinpath("cache_verifier.json").read_text("utf-8")
        return cls.from_dict(json.loads(text))


@dataclass(frozen=True)
class Candidate:
    """A cached question near a new one: its entry, its text and cosine similarity.

    ``serve_at`` is set by an index that compares questions with the cache's own trained
    duplicate model (``DuplicateModelQuestionIndex``): ``similarity`` is then that model's
    cosine, and the candidate is a duplicate when it reaches ``serve_at`` (the model's
    threshold, set on held-out pairs). Without it the caller's verifier decides."""

    entry_id: str
    question: str
    similarity: float
    serve_at: float | None = None


@dataclass(frozen=True)
class Verified:
    candidate: Candidate
    score: float


def best_verified(
    verifier: DuplicateVerifier, question: str, candidates: Sequence[Candidate]
) -> Verified | None:
    """The candidate the verifier scores highest at or above its threshold, or None.
    ``candidates`` come nearest first. Candidates the index already judged with the trained
    duplicate model (``serve_at`` set) are decided by it: the nearest is served when its
    cosine reaches ``serve_at``, and the verifier is not asked."""
    if not candidates:
        return None
    if candidates[0].serve_at is not None:
        nearest = candidates[0]
        return (
            Verified(nearest, nearest.similarity)
            if nearest.similarity >= nearest.serve_at
            else None
        )
    best_similarity = candidates[0].similarity
    chosen: Verified | None = None
    for rank, candidate in enumerate(candidates[: verifier.candidates]):
        if candidate.similarity < verifier.similarity_floor:
            break
        features = pair_features(
            question,
            candidate.question,
            candidate.similarity,
            rank,
            best_similarity - candidate.similarity,
            verifier.idf,
            verifier.default_idf,
        )
        score = verifier.score(features)
        if score >= verifier.threshold and (chosen is None or score > chosen.score):
            chosen = Verified(candidate, score)
    return chosen
