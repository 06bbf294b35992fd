"""Model routing: answer a question extractively, or send it to the lite or the pro model
by how demanding it looks.

The score is a logistic function of cheap features of the question alone (no model call,
microseconds): its length, how many clauses it strings together, cue words that ask for
reasoning ("why", "how does", "compare", "explain", "mechanism") against cue words that ask
for a fact ("what is", "who", "when", "which"), the share of long words, and numbers. The
weights are set by hand, not learned: there are no labels of which questions needed the
stronger model. ``threshold`` trades cost against quality; ``RAGOPS_ROUTER=lite|pro`` forces
one model. Every decision carries its features and score, so the response shows why.

The extractive tier costs only embeddings: it is taken in ``RAGOPS_ANSWER_MODE=auto`` when
answerability says the best sentence answers the question and the question asks for a fact
(its score is below the threshold and it has no reasoning cue: "why", "how does", "compare").
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from enum import StrEnum

_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*|\d+(?:[.,]\d+)?")
_REASONING = re.compile(
    r"\b(?:why|how (?:does|do|did|can|could|would|is|are)|explain|compare|comparison|"
    r"difference|differ|versus|vs\.?|relationship|mechanisms?|implications?|evaluate|"
    r"analy[sz]e|cause|effects? of|impact of|trade-?offs?|pros and cons|summari[sz]e)\b",
    re.IGNORECASE,
)
_FACT = re.compile(
    r"^\s*(?:what (?:is|was|are|were)|who|when|where|which|how (?:many|much|long|old)|"
    r"name|list|define|is|are|does|did|in what|what year)\b",
    re.IGNORECASE,
)
_CLAUSE = re.compile(r"[,;:]|\b(?:and|or|but|while|whereas|because|although|if)\b", re.IGNORECASE)

# logit = BIAS + sum(weight * feature); hand-set (see the module docstring).
BIAS = -2.2
WEIGHTS = {
    "words": 0.07,
    "clauses": 0.45,
    "reasoning_cues": 1.3,
    "fact_opening": -0.9,
    "long_word_share": 2.0,
    "numbers": 0.15,
}


class ModelTier(StrEnum):
    EXTRACTIVE = "extractive"
    """No model writes the answer: the passages' sentences that answer it are served."""
    LITE = "lite"
    PRO = "pro"


EXTRACTIVE_MODEL = "extractive"
"""The ``model`` of an answer no chat model wrote."""


def question_features(question: str) -> dict[str, float]:
    words = _WORD.findall(question)
    alpha = [w for w in words if w[0].isalpha()]
    return {
        "words": float(len(words)),
        "clauses": float(len(_CLAUSE.findall(question))),
        "reasoning_cues": float(len(_REASONING.findall(question))),
        "fact_opening": 1.0 if _FACT.match(question) else 0.0,
        "long_word_share": round(sum(len(w) >= 9 for w in alpha) / len(alpha), 4) if alpha else 0.0,
        "numbers": float(sum(not w[0].isalpha() for w in words)),
    }


def complexity_score(features: dict[str, float]) -> float:
    logit = BIAS + sum(WEIGHTS[name] * value for name, value in features.items())
    return round(1.0 / (1.0 + math.exp(-logit)), 4)


@dataclass(frozen=True, slots=True)
class RouteDecision:
    tier: ModelTier
    model: str
    score: float
    threshold: float
    forced: bool = False
    features: dict[str, float] = field(default_factory=dict)


class QueryRouter:
    """Chooses ``lite_model`` or ``pro_model`` for a question. ``force`` is ``auto``,
    ``lite`` or ``pro``."""

    def __init__(
        self, lite_model: str, pro_model: str, *, threshold: float = 0.5, force: str = "auto"
    ) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError("the router threshold is a score between 0 and 1")
        if force not in ("auto", ModelTier.LITE, ModelTier.PRO):
            raise ValueError(f"router force must be auto, lite or pro, not {force!r}")
        self.models = {ModelTier.LITE: lite_model, ModelTier.PRO: pro_model}
        self.threshold = threshold
        self.force = force

    def route(self, question: str, *, extractive: bool = False) -> RouteDecision:
        """The tier for ``question``. With ``extractive`` (answerability found a sentence
        that answers it), a factual question (below the threshold, no reasoning cue) is
        answered extractively; ``force`` never picks the extractive tier."""
        features = question_features(question)
        score = complexity_score(features)
        if self.force != "auto":
            tier, forced = ModelTier(self.force), True
        elif extractive and score < self.threshold and not features["reasoning_cues"]:
            return RouteDecision(
                ModelTier.EXTRACTIVE, EXTRACTIVE_MODEL, score, self.threshold, False, features
            )
        else:
            tier, forced = (ModelTier.PRO if score >= self.threshold else ModelTier.LITE), False
        return RouteDecision(tier, self.models[tier], score, self.threshold, forced, features)
