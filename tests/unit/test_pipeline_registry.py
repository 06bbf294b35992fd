"""The pipeline registry: promotion behind the evaluation gate, rollback, what is served
when the registry is unreachable or its champion no longer validates (over the
registry's in-memory fake; MLflow itself in the integration contract suite)."""

from __future__ import annotations

import pytest

from ragops.adapters.mlflow_registry import MlflowRestChampion
from ragops.bootstrap import champion_reader
from ragops.domain.pipeline import (
    CHALLENGER,
    CHAMPION,
    PipelineEvaluation,
    PromotionMargins,
    compare,
    parse_assignments,
)
from ragops.errors import InvalidInput, ObjectNotFound, PromotionRefused
from ragops.services.pipeline import (
    apply_config,
    pipeline_config,
    promote_pipeline,
    register_pipeline,
    rollback_pipeline,
    served_settings,
)
from ragops.settings import Settings
from tests.fakes import InMemoryPipelineRegistry

MARGINS = PromotionMargins(ndcg_at_10=0.01, groundedness_share=0.02, cost_per_query_usd=0.10)
GOOD = {"ndcg_at_10": 0.70, "groundedness_share": 0.80, "cost_per_query_usd": 0.0010}


def test_compare_flags_only_regressions_beyond_the_margins():
    assert compare({**GOOD, "ndcg_at_10": 0.695}, GOOD, MARGINS).passed  # within 0.01
    worse = compare({**GOOD, "ndcg_at_10": 0.68}, GOOD, MARGINS)
    assert [r.metric for r in worse.regressions] == ["ndcg_at_10"]
    assert "below the champion's 0.7000" in worse.regressions[0].reason()
    assert compare({**GOOD, "cost_per_query_usd": 0.00109}, GOOD, MARGINS).passed
    dearer = compare({**GOOD, "cost_per_query_usd": 0.0012}, GOOD, MARGINS)
    assert [r.metric for r in dearer.regressions] == ["cost_per_query_usd"]
    # A free pipeline that starts to cost is a regression however small the price.
    free = {**GOOD, "cost_per_query_usd": 0.0}
    assert not compare({**GOOD, "cost_per_query_usd": 1e-7}, free, MARGINS).passed
    # A measure missing on either side is not compared.
    partial = compare({"ndcg_at_10": 0.1}, {"groundedness_share": 0.9}, MARGINS)
    assert partial.passed and partial.compared == []
    assert compare({**GOOD, "ndcg_at_10": 0.9, "groundedness_share": 0.9}, GOOD, MARGINS).passed


def test_assignments_are_typed_and_unknown_settings_named():
    assert parse_assignments(["top_k=8", "fusion_method=rrf", "cache_semantic=false"]) == {
        "top_k": 8,
        "fusion_method": "rrf",
        "cache_semantic": False,
    }
    with pytest.raises(InvalidInput, match="s3_bucket"):
        parse_assignments(["s3_bucket=x"])
    with pytest.raises(InvalidInput, match="NAME=VALUE"):
        parse_assignments(["top_k"])
    with pytest.raises(InvalidInput, match="top_k"):
        apply_config(Settings(), {"top_k": 500})


@pytest.fixture
def registry():
    """The registry's fake, held to MLflow's behaviour by
    ``tests/integration/test_tracking_contracts.py`` (where the API serving the champion
    from a real store is tested too)."""
    return InMemoryPipelineRegistry()


def evaluated(registry, version, sample="s1", **metrics):
    registry.record_evaluation(
        version, PipelineEvaluation(f"run-{version}", sample, {**GOOD, **metrics})
    )


def test_register_promote_refuse_and_roll_back(registry, tmp_path):
    settings = Settings(data_dir=tmp_path)
    first = register_pipeline(registry, settings, {}, "baseline")
    assert first.version == 1 and first.aliases == (CHALLENGER,)
    assert first.config == pipeline_config(settings) and first.description == "baseline"

    with pytest.raises(PromotionRefused, match="no evaluation"):
        promote_pipeline(registry, 1, MARGINS)
    evaluated(registry, 1)
    promoted = promote_pipeline(registry, 1, MARGINS)
    assert promoted.previous is None and registry.by_alias(CHAMPION).version == 1
    assert registry.by_alias(CHALLENGER) is None  # the challenger won

    second = register_pipeline(registry, settings, {"top_k": 3}, "fewer passages")
    assert second.config["top_k"] == 3 and second.aliases == (CHALLENGER,)
    evaluated(registry, 2, ndcg_at_10=0.65)
    with pytest.raises(PromotionRefused, match=r"regresses the champion \(version 1\).*ndcg_at_10"):
        promote_pipeline(registry, 2, MARGINS)
    assert registry.by_alias(CHAMPION).version == 1  # nothing moved

    evaluated(registry, 2, sample="s2", ndcg_at_10=0.9)
    with pytest.raises(PromotionRefused, match="another sample"):
        promote_pipeline(registry, 2, MARGINS)
    evaluated(registry, 2, ndcg_at_10=0.72)
    promoted = promote_pipeline(registry, 2, MARGINS)
    assert promoted.previous == 1 and promoted.comparison.passed
    assert [v.aliases for v in registry.versions()] == [(), (CHAMPION,)]

    assert rollback_pipeline(registry) == (2, 1)
    assert registry.by_alias(CHAMPION).version == 1
    with pytest.raises(InvalidInput, match="no earlier champion"):
        rollback_pipeline(registry)
    with pytest.raises(ObjectNotFound, match="no pipeline version 9"):
        registry.get(9)
    with pytest.raises(InvalidInput, match="unknown prompt templates"):
        register_pipeline(registry, settings, {"prompt_version": "answer-v9"})


def test_force_promotes_without_the_gate_and_is_remembered(registry, tmp_path):
    settings = Settings(data_dir=tmp_path)
    register_pipeline(registry, settings, {})
    register_pipeline(registry, settings, {"fusion_method": "rrf"})
    assert promote_pipeline(registry, 1, MARGINS, force=True).forced
    promote_pipeline(registry, 2, MARGINS, force=True)
    assert registry.champion_history() == [1, 2]
    with pytest.raises(InvalidInput, match="champion already"):
        promote_pipeline(registry, 2, MARGINS, force=True)
    assert rollback_pipeline(registry) == (2, 1)


def test_an_unreachable_registry_leaves_the_settings_in_force(tmp_path):
    settings = Settings(data_dir=tmp_path, mlflow_tracking_uri="http://127.0.0.1:9")
    effective, served = served_settings(settings, champion_reader(settings))
    assert effective == settings
    assert served.source == "settings" and served.degraded
    assert "127.0.0.1:9" in served.note
    with pytest.raises(Exception, match="MLflow at"):
        MlflowRestChampion("http://127.0.0.1:9", timeout=1).by_alias(CHAMPION)


def test_a_champion_that_no_longer_validates_is_not_served(tmp_path):
    from ragops.domain.pipeline import PipelineVersion

    broken = PipelineVersion(4, {"top_k": 0})
    effective, served = served_settings(Settings(data_dir=tmp_path), lambda: broken)
    assert effective.top_k == 5 and served.degraded and "version 4" in served.note


def test_abstention_rates_are_gated_too():
    baseline = {**GOOD, "answerable_declined_rate": 0.05, "unanswerable_answered_rate": 0.9}
    declining = {**baseline, "answerable_declined_rate": 1.0, "unanswerable_answered_rate": 0.0}
    assert [r.metric for r in compare(declining, baseline, MARGINS).regressions] == [
        "answerable_declined_rate"
    ]
    assert compare({**baseline, "answerable_declined_rate": 0.09}, baseline, MARGINS).passed
