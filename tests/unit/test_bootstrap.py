"""The composition root: what it builds once, and what it builds from which setting."""

from __future__ import annotations

import boto3
from botocore.stub import Stubber

from ragops.bootstrap import build_container
from ragops.settings import Settings

TIER_TOKEN = "tier-token-for-tests-0123"
ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:ragops-tier-token-AbCdEf"


def test_the_tier_token_is_read_from_secrets_manager_once(tmp_path):
    client = boto3.client(
        "secretsmanager", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    container = build_container(
        Settings(
            data_dir=tmp_path,
            tier_url="http://tier.internal:8080",
            tier_secret_arn=ARN,
            cache="tier",
        ),
        aws_clients={"secretsmanager": client},
    )
    with Stubber(client) as stub:
        # One answer queued: a second read would fail the stub.
        answer = {"ARN": ARN, "Name": "ragops-tier-token"}
        answer["SecretString"] = TIER_TOKEN + "\n"
        stub.add_response("get_secret_value", answer, {"SecretId": ARN})
        assert container.tier_token_source() == TIER_TOKEN
        container.tier_cache  # noqa: B018 (built with the token)
        container.raw_index()
        assert container.tier_token_source() == TIER_TOKEN
        stub.assert_no_pending_responses()


def test_any_member_can_be_injected_by_name_and_a_wrong_name_is_refused(tmp_path):
    import pytest

    from tests.fakes import RecordingMetrics

    metrics = RecordingMetrics()
    container = build_container(Settings(data_dir=tmp_path), metrics=metrics, reranker=None)
    assert container.metrics is metrics and container.reranker is None
    assert container.query_context().metrics is metrics
    with pytest.raises(TypeError, match="unknown injections: \\['metrix'\\]"):
        build_container(Settings(data_dir=tmp_path), metrix=metrics)


def test_settings_that_can_never_work_are_refused_when_read(tmp_path, monkeypatch):
    import pytest
    from pydantic import ValidationError
    from typer.testing import CliRunner

    from ragops.entrypoints.cli import app

    for fields, message in (
        ({"object_store": "s3"}, "RAGOPS_OBJECT_STORE=s3 needs RAGOPS_S3_BUCKET"),
        ({"cache": "redis"}, "RAGOPS_CACHE=redis needs RAGOPS_CACHE_REDIS_URL"),
        ({"auth": "jwt"}, "RAGOPS_AUTH=jwt needs RAGOPS_JWT_ISSUER"),
    ):
        with pytest.raises(ValidationError, match=message):
            Settings(data_dir=tmp_path, **fields)
    settings = Settings(data_dir=tmp_path)
    with pytest.raises(ValidationError, match="frozen"):
        settings.top_k = 3
    assert settings.replaced(top_k=3).top_k == 3
    with pytest.raises(ValidationError):
        settings.replaced(top_k=0)
    # The CLI names the problem instead of a traceback.
    monkeypatch.setenv("RAGOPS_CACHE", "redis")
    result = CliRunner().invoke(app, ["documents", "list", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "invalid configuration" in result.output and "RAGOPS_CACHE_REDIS_URL" in result.output
