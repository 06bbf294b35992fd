"""The API function's SnapStart hooks: before the snapshot they build the app and every AWS
client the cloud configuration uses without sending a request; after a restore they reseed
what restored environments would share and drop the container when the champion changed."""

from __future__ import annotations

import random
import socket

import pytest
import snapshot_restore_py

from ragops.domain.pipeline import PipelineVersion
from ragops.entrypoints import lambdas, snapstart
from ragops.errors import TierUnavailable

TOKEN_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:tier"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends


@pytest.fixture
def cloud_environment(tmp_path, monkeypatch):
    """The API function's configuration (template.yaml), every AWS endpoint and the tier
    on a closed port: any request sent before the snapshot would fail."""
    dead = f"http://127.0.0.1:{closed_port()}"
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": dead,
        "RAGOPS_DATA_DIR": str(tmp_path),
        "RAGOPS_OBJECT_STORE": "s3",
        "RAGOPS_S3_BUCKET": "ragops-documents",
        "RAGOPS_EMBEDDER": "bedrock",
        "RAGOPS_LLM": "bedrock",
        "RAGOPS_RERANKER": "bedrock",
        "RAGOPS_TIER_STATE_SOURCE": "ssm",
        "RAGOPS_TIER_STATE_PARAMETER": "/ragops/test/tier/state",
        "RAGOPS_TIER_URL": dead,
        "RAGOPS_TIER_SECRET_ARN": TOKEN_ARN,
        "RAGOPS_INGEST_MODE": "async",
    }.items():
        monkeypatch.setenv(name, value)
    lambdas.use_container(None)
    yield
    lambdas.use_container(None)


def test_the_hooks_are_registered_with_the_runtime_library(monkeypatch):
    monkeypatch.setattr(snapshot_restore_py, "_before_snapshot_registry", [])
    monkeypatch.setattr(snapshot_restore_py, "_after_restore_registry", [])
    assert snapstart.register_api_hooks()
    assert [hook for hook, *_ in snapshot_restore_py.get_before_snapshot()] == [
        snapstart.prepare_snapshot
    ]
    assert [hook for hook, *_ in snapshot_restore_py.get_after_restore()] == [
        snapstart.after_restore
    ]


def test_the_snapshot_holds_the_app_and_the_clients_but_no_request(cloud_environment):
    snapstart.prepare_snapshot()
    c = lambdas.container()
    assert lambdas._asgi is not None  # FastAPI imported and the routes built
    assert c.store._client is not None
    assert c.tier_state._provider is not None
    assert c.embedder._client is not None and c.chat_model._client is not None
    assert c.reranker._client is not None
    assert "secretsmanager" in c.aws_clients
    # The champion could not be read (the tier is down): the settings are served, and the
    # container says so rather than failing the snapshot.
    assert c.served_pipeline.source == "settings" and c.served_pipeline.degraded


def test_a_restore_reseeds_random_and_keeps_the_container_when_nothing_changed(
    cloud_environment, monkeypatch
):
    snapstart.prepare_snapshot()
    built = lambdas.container()
    random.seed(42)
    snapshot_state = random.getstate()
    snapstart.after_restore()
    assert random.getstate() != snapshot_state
    assert lambdas.container() is built  # the registry is unreadable: the snapshot's kept


def test_a_champion_promoted_since_the_snapshot_drops_the_container(cloud_environment, monkeypatch):
    snapstart.prepare_snapshot()
    built = lambdas.container()
    assert built.served_pipeline.source == "settings"

    promoted = PipelineVersion(version=7, config={"top_k": 3}, aliases=("champion",))
    monkeypatch.setattr(snapstart, "champion_reader", lambda settings: lambda: promoted)
    snapstart.after_restore()
    assert lambdas._asgi is None
    rebuilt = lambdas.container()
    assert rebuilt is not built

    def unreadable():
        raise TierUnavailable("the tier is paused")

    monkeypatch.setattr(snapstart, "champion_reader", lambda settings: unreadable)
    snapstart.after_restore()
    assert lambdas.container() is rebuilt
