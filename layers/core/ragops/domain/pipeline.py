"""The pipeline configuration: the deployable unit of the RAG pipeline, versioned and
promoted like a model (embedder, chunking, fusion, prompts, models, thresholds).

A configuration is a mapping of ``Settings`` field names to values, restricted to
``PIPELINE_FIELDS``; everything else (where state lives, credentials, limits) belongs to
the deployment, not to the pipeline. Promotion compares the evaluations of two versions
with ``regressions``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ragops.errors import InvalidInput

PIPELINE_FIELDS: tuple[str, ...] = (
    "embedder",
    "bedrock_embedding_model_id",
    "bedrock_embedding_dimensions",
    "chunk_tokens",
    "chunk_overlap_tokens",
    "fusion_method",
    "fusion_vector_weight",
    "fusion_rrf_k",
    "candidate_pool",
    "bm25_k1",
    "bm25_b",
    "hnsw_ef_search",
    "min_relevance",
    "top_k",
    "answer_mode",
    "answerability_threshold",
    "reranker",
    "bedrock_rerank_model_id",
    "rerank_candidates",
    "prompt_version",
    "prompt_experiment",
    "prompt_variants",
    "llm",
    "bedrock_chat_model_id",
    "bedrock_pro_model_id",
    "max_answer_tokens",
    "temperature",
    "router",
    "router_threshold",
    "cache_semantic",
    "cache_threshold",
    "groundedness_check",
    "groundedness_min_similarity",
)

CHAMPION = "champion"
CHALLENGER = "challenger"


@dataclass(frozen=True)
class GatedMeasure:
    higher_is_better: bool
    margin: str
    """The ``PromotionMargins`` field that bounds it."""
    relative: bool = False


# The measures promotion and the evaluation gate compare.
GATED: dict[str, GatedMeasure] = {
    "ndcg_at_10": GatedMeasure(True, "ndcg_at_10"),
    "groundedness_share": GatedMeasure(True, "groundedness_share"),
    "cost_per_query_usd": GatedMeasure(False, "cost_per_query_usd", relative=True),
    "answerable_declined_rate": GatedMeasure(False, "abstention_rate"),
    "unanswerable_answered_rate": GatedMeasure(False, "abstention_rate"),
    "answer_contains_gold": GatedMeasure(True, "answer_quality"),
    "first_citation_gold": GatedMeasure(True, "answer_quality"),
}


@dataclass(frozen=True)
class PipelineEvaluation:
    """The last ``ragops eval suite`` run of a version: its MLflow run, the sample it ran
    on (runs are comparable only on the same sample) and its gated measures."""

    run_id: str
    sample: str
    metrics: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "sample": self.sample, "metrics": self.metrics}


@dataclass(frozen=True)
class PipelineVersion:
    """One registered version of the pipeline configuration."""

    version: int
    config: dict[str, Any]
    aliases: tuple[str, ...] = ()
    description: str = ""
    created_at: str = ""
    evaluation: PipelineEvaluation | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PipelineVersion:
        """The inverse of ``to_dict`` (the tier service's wire format)."""
        evaluation = data.get("evaluation")
        return cls(
            version=int(data["version"]),
            config=dict(data["config"]),
            aliases=tuple(data.get("aliases", ())),
            description=str(data.get("description", "")),
            created_at=str(data.get("created_at", "")),
            evaluation=PipelineEvaluation(
                evaluation["run_id"], evaluation["sample"], dict(evaluation["metrics"])
            )
            if evaluation
            else None,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "aliases": list(self.aliases),
            "description": self.description,
            "created_at": self.created_at,
            "config": self.config,
            "evaluation": self.evaluation.to_dict() if self.evaluation else None,
        }


@dataclass(frozen=True)
class PromotionMargins:
    """How much worse than the champion a candidate may be: absolute points of nDCG@10,
    of grounded-answer share, of each abstention rate (answerable questions declined,
    unanswerable ones answered) and of each answer-quality share (answers holding a gold
    answer, first citations of the gold passage), and a relative increase of cost per
    query."""

    ndcg_at_10: float = 0.01
    groundedness_share: float = 0.02
    cost_per_query_usd: float = 0.10
    abstention_rate: float = 0.05
    answer_quality: float = 0.03


@dataclass(frozen=True)
class Regression:
    metric: str
    candidate: float
    baseline: float
    allowed: float

    def reason(self) -> str:
        gated = GATED[self.metric]
        if gated.higher_is_better:
            return (
                f"{self.metric} {self.candidate:.4f} is {self.baseline - self.candidate:.4f} "
                f"below the champion's {self.baseline:.4f} (allowed drop {self.allowed:.4f})"
            )
        if gated.relative:
            return (
                f"{self.metric} {self.candidate:.6g} is above the champion's "
                f"{self.baseline:.6g} by more than {self.allowed:.0%}"
            )
        return (
            f"{self.metric} {self.candidate:.4f} is {self.candidate - self.baseline:.4f} "
            f"above the champion's {self.baseline:.4f} (allowed rise {self.allowed:.4f})"
        )


@dataclass(frozen=True)
class Comparison:
    """A candidate's gated measures against a baseline's."""

    regressions: list[Regression] = field(default_factory=list)
    compared: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.regressions

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "compared": self.compared,
            "regressions": [r.reason() for r in self.regressions],
        }


def compare(
    candidate: Mapping[str, float], baseline: Mapping[str, float], margins: PromotionMargins
) -> Comparison:
    """Which gated measures the candidate regresses by more than ``margins``. A measure
    missing on either side is not compared (a configuration without the groundedness
    check has no groundedness share)."""
    found: list[Regression] = []
    compared: list[str] = []
    for metric, gated in GATED.items():
        if candidate.get(metric) is None or baseline.get(metric) is None:
            continue
        compared.append(metric)
        new, old = float(candidate[metric]), float(baseline[metric])
        allowed = float(getattr(margins, gated.margin))
        if gated.higher_is_better:
            worse = old - new > allowed + 1e-12
        elif gated.relative:
            # A free local model (cost 0) may not become a paid one unnoticed.
            worse = new > old * (1.0 + allowed) + 1e-12
        else:
            worse = new - old > allowed + 1e-12
        if worse:
            found.append(Regression(metric, new, old, allowed))
    return Comparison(found, compared)


def check_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` restricted to known fields; an unknown field is ``InvalidInput``."""
    unknown = sorted(set(config) - set(PIPELINE_FIELDS))
    if unknown:
        raise InvalidInput(
            f"not pipeline settings: {', '.join(unknown)} (known: {', '.join(PIPELINE_FIELDS)})"
        )
    return dict(config)


def parse_assignments(assignments: Iterable[str]) -> dict[str, Any]:
    """``["top_k=8", "fusion_method=rrf"]`` -> ``{"top_k": 8, "fusion_method": "rrf"}``.
    Values are read as JSON when they parse (numbers, booleans, objects), else as text."""
    parsed: dict[str, Any] = {}
    for item in assignments:
        name, sep, raw = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise InvalidInput(f"{item!r}: write NAME=VALUE, for example top_k=8")
        try:
            parsed[name] = json.loads(raw)
        except json.JSONDecodeError:
            parsed[name] = raw
    return check_config(parsed)


def config_differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """Fields whose value differs, as ``{field: [old, new]}``."""
    return {
        name: [old.get(name), new.get(name)]
        for name in PIPELINE_FIELDS
        if old.get(name) != new.get(name) and (name in old or name in new)
    }
