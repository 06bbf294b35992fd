"""Recording evaluation runs: the pipeline configuration they ran with, their metrics and
report, in the experiment tracker (MLflow). Every ``ragops eval`` command calls
``track_eval`` unless told ``--no-track``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ragops.bootstrap import Container

EXPERIMENT = "ragops-eval"


def pipeline_params(container: Container) -> dict[str, Any]:
    """The settings that make up the pipeline configuration (what a change would move)."""
    s = container.settings
    return {
        "embedder": s.embedder,
        "embedding_model": s.bedrock_embedding_model_id if s.embedder == "bedrock" else "local",
        "chunk_tokens": s.chunk_tokens,
        "chunk_overlap_tokens": s.chunk_overlap_tokens,
        "fusion_method": s.fusion_method,
        "fusion_vector_weight": s.fusion_vector_weight,
        "fusion_rrf_k": s.fusion_rrf_k,
        "candidate_pool": s.candidate_pool,
        "bm25_k1": s.bm25_k1,
        "bm25_b": s.bm25_b,
        "hnsw_ef_search": s.hnsw_ef_search,
        "min_relevance": s.min_relevance,
        "top_k": s.top_k,
        "prompt_version": s.prompt_version,
        "prompt_variants": dict(s.prompt_variants) or None,
        "llm": s.llm,
        "lite_model": s.bedrock_chat_model_id if s.llm == "bedrock" else "local",
        "pro_model": s.bedrock_pro_model_id if s.llm == "bedrock" else "local",
        "router": s.router,
        "router_threshold": s.router_threshold,
        "cache": s.cache,
        "cache_threshold": s.cache_threshold,
        "groundedness_min_similarity": s.groundedness_min_similarity,
    }


def numeric(report: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """The report's numbers, nested keys joined with dots."""
    found: dict[str, float] = {}
    for key, value in report.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            found.update(numeric(value, f"{name}."))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            found[name] = float(value)
    return found


def track_eval(
    container: Container, kind: str, params: dict[str, Any], report: dict[str, Any]
) -> dict[str, str]:
    """Log one evaluation; returns ``{"mlflow_run_id", "tracking_uri"}``, or {} when
    tracking is off. Raises ``TrackingUnavailable`` if the store fails."""
    tracker = container.tracker
    if tracker is None:
        return {}
    run_id = tracker.log_run(
        EXPERIMENT,
        kind,
        {**pipeline_params(container), **params, "eval": kind},
        numeric(report),
        report,
    )
    return {"mlflow_run_id": run_id, "tracking_uri": tracker.tracking_uri}
