"""The pipeline registry on an MLflow tracking server, as in the cloud: versions written
through the MLflow client, the champion read back over REST with the standard library
(what the tier does for the functions, which carry no MLflow)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ragops.adapters.http_tier import HttpVectorTier
from ragops.adapters.mlflow_registry import MlflowPipelineRegistry, MlflowRestChampion
from ragops.adapters.mlflow_tracker import MlflowTracker
from ragops.bootstrap import champion_reader
from ragops.domain.pipeline import CHAMPION, PipelineEvaluation, PromotionMargins
from ragops.entrypoints.tier_service import create_tier_app
from ragops.services.pipeline import promote_pipeline, register_pipeline, rollback_pipeline
from ragops.settings import Settings
from tests.servers import MlflowServer

pytestmark = pytest.mark.slow

TOKEN = "integration-token-0123456789"


def test_the_champion_is_read_over_rest_and_served_through_the_tier(tmp_path, chroma_client):
    from ragops.adapters.chroma import ChromaVectorIndex
    from ragops.adapters.hybrid_index import HybridIndex

    with MlflowServer(tmp_path / "mlflow") as server:
        registry = MlflowPipelineRegistry(MlflowTracker(server.url))
        settings = Settings(data_dir=tmp_path / "data")
        rest = MlflowRestChampion(server.url)
        assert rest.by_alias(CHAMPION) is None  # no registered model yet

        register_pipeline(registry, settings, {}, "baseline")
        register_pipeline(registry, settings, {"top_k": 3}, "fewer passages")
        for version, ndcg in ((1, 0.70), (2, 0.71)):
            registry.record_evaluation(
                version, PipelineEvaluation(f"run-{version}", "s", {"ndcg_at_10": ndcg})
            )
        promote_pipeline(registry, 1, PromotionMargins())
        promote_pipeline(registry, 2, PromotionMargins())

        champion = rest.by_alias(CHAMPION)
        assert champion == registry.get(2)
        assert champion.config["top_k"] == 3 and champion.aliases == (CHAMPION,)
        assert champion.evaluation.metrics == {"ndcg_at_10": 0.71}

        # The tier resolves it for the functions (with the tier's settings).
        reader = champion_reader(
            Settings(data_dir=tmp_path / "tier", mlflow_tracking_uri=server.url)
        )
        index = HybridIndex(ChromaVectorIndex(chroma_client, embedding_model="fake/hashing-256"))
        http = TestClient(create_tier_app(index, token=TOKEN, ready=lambda: None, champion=reader))
        tier = HttpVectorTier("http://testserver", token=TOKEN, client=http)
        assert tier.champion_pipeline().version == 2

        rollback_pipeline(registry)
        assert tier.champion_pipeline().version == 1  # read at each call: a cold start's
