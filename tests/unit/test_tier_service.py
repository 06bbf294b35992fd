"""The tier service and its client, in process: ``HttpVectorTier`` talks to the real app
through FastAPI's TestClient (an ``httpx.Client``), over a hybrid index on embedded Chroma."""

from __future__ import annotations

import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

from ragops.adapters.chroma import ChromaVectorIndex
from ragops.adapters.http_tier import HttpVectorTier
from ragops.adapters.hybrid_index import HybridIndex
from ragops.domain.models import Chunk, SearchMode
from ragops.domain.tier_tokens import tenant_token
from ragops.domain.tier_wire import decode_matrix, encode_matrix
from ragops.entrypoints.tier_service import create_tier_app
from ragops.errors import ConfigurationError, TierUnavailable

TOKEN = "unit-test-token-0123456789"


def chunk(tenant: str, n: int, text: str) -> Chunk:
    return Chunk(f"{tenant}-d{n}-c0", f"d{n}", tenant, 0, text, f"T{n}", f"{n}.txt", 1, 0, 9)


@pytest.fixture
def index(chroma_client):
    return HybridIndex(ChromaVectorIndex(chroma_client, embedding_model="fake/hashing-256"))


@pytest.fixture
def http(index):
    return TestClient(create_tier_app(index, token=TOKEN, ready=lambda: None))


@pytest.fixture
def tier(http):
    return HttpVectorTier("http://testserver", token=TOKEN, client=http)


def test_matrix_round_trip_keeps_float32_values():
    rows = np.random.default_rng(1).normal(size=(3, 5)).astype(np.float32)
    np.testing.assert_array_equal(decode_matrix(encode_matrix(rows)), rows)
    as_lists = encode_matrix(rows.tolist())  # the API function has no numpy
    np.testing.assert_array_equal(decode_matrix(as_lists), rows)
    broken = {**encode_matrix(rows), "rows": 4}
    with pytest.raises(ValueError, match="not 4 x 5"):
        decode_matrix(broken)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-token-0123456789"}, {"Authorization": f"Basic {TOKEN}"}],
)
def test_every_index_route_needs_the_bearer_token(http, headers):
    calls = [
        ("GET", "/v1/stats", None),
        ("GET", "/v1/tenants/acme/stats", None),
        ("POST", "/v1/tenants/acme/search", {"query": "q", "top_k": 1, "mode": "bm25"}),
        ("POST", "/v1/tenants/acme/chunks/delete", {"ids": ["x"]}),
        ("DELETE", "/v1/tenants/acme/documents/d1", None),
        ("GET", "/v1/tenants/acme/documents/d1/chunk-ids", None),
        ("DELETE", "/v1/tenants/acme", None),
    ]
    for method, path, body in calls:
        response = http.request(method, path, json=body, headers=headers)
        assert response.status_code == 401, (method, path)
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert TOKEN not in response.text
    for path in ("/healthz", "/readyz", "/metrics"):
        assert http.get(path).status_code == 200


def test_client_and_index_agree_and_metrics_count_requests(tier, index, embedder, http):
    tier.ping()
    chunks = [chunk("acme", 0, "volcanoes release ash"), chunk("acme", 1, "tides and moon")]
    tier.upsert("acme", chunks, embedder.embed_array([c.indexed_text() for c in chunks]))
    assert index.count("acme") == 2 and tier.count("acme") == 2
    query = embedder.embed_array(["ash"])[0]
    assert tier.search("acme", "ash", query, 2) == index.search("acme", "ash", query, 2)
    stats = http.get("/v1/stats", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert stats == {"tenants": {"acme": {"chunks": 2, "documents": 2}}}

    metrics = http.get("/metrics").text
    assert 'ragops_tier_requests_total{operation="upsert",status="200"} 1.0' in metrics
    assert 'ragops_tier_requests_total{operation="search",status="200"} 1.0' in metrics
    assert 'ragops_tier_request_seconds_count{operation="search"} 1.0' in metrics
    assert "ragops_tier_chunks 2.0" in metrics


def scoped(tenant: str) -> dict[str, str]:
    """The header the functions send for ``tenant``'s routes: a token for it alone."""
    return {"Authorization": f"Bearer {tenant_token(TOKEN, tenant, now=time.time())}"}


def test_bad_requests_are_4xx_with_a_reason(tier, http, embedder):
    auth = scoped("acme")
    response = http.post("/v1/tenants/acme/search", json={"query": "q", "top_k": 0}, headers=auth)
    assert response.status_code == 422
    response = http.post(
        "/v1/tenants/acme/chunks",
        json={"chunks": [chunk("acme", 0, "x").to_dict()], "embeddings": {"rows": 1}},
        headers=auth,
    )
    assert response.status_code == 422
    bad_matrix = {"rows": 2, "dimensions": 3, "float32_b64": "AAAA"}
    response = http.post(
        "/v1/tenants/acme/chunks",
        json={"chunks": [chunk("acme", 0, "x").to_dict()], "embeddings": bad_matrix},
        headers=auth,
    )
    assert response.status_code == 400 and "float32" in response.json()["detail"]
    with pytest.raises(ValueError, match="invalid tenant"):
        tier.count("not a tenant!")
    with pytest.raises(ValueError, match="embedding"):
        tier.search("acme", "q", None, 1, SearchMode.VECTOR)


def test_an_index_built_with_another_embedder_is_a_configuration_error(chroma_client, embedder):
    first = HybridIndex(ChromaVectorIndex(chroma_client, embedding_model="model-a"))
    first.upsert("acme", [chunk("acme", 0, "x")], embedder.embed_array(["x"]))
    other = HybridIndex(ChromaVectorIndex(chroma_client, embedding_model="model-b"))
    client = TestClient(create_tier_app(other, token=TOKEN))
    tier = HttpVectorTier("http://testserver", token=TOKEN, client=client)
    with pytest.raises(ConfigurationError, match="model-a"):
        tier.count("acme")


class FailingIndex:
    """A backend that has lost Chroma: every call is ``TierUnavailable``."""

    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise TierUnavailable("Chroma could not read: connection refused")

        return fail


def test_a_lost_backend_is_503_and_the_client_says_unavailable():
    def not_ready():
        raise ConnectionError("chroma:8000 refused")

    client = TestClient(create_tier_app(FailingIndex(), token=TOKEN, ready=not_ready))
    assert client.get("/readyz").status_code == 503
    assert client.get("/healthz").status_code == 200
    tier = HttpVectorTier("http://testserver", token=TOKEN, client=client)
    with pytest.raises(TierUnavailable, match="503"):
        tier.search("acme", "q", None, 1, SearchMode.BM25)
    with pytest.raises(TierUnavailable, match="refused"):
        tier.ping()


def test_wrong_token_and_no_server_are_tier_unavailable(http):
    with pytest.raises(TierUnavailable, match="refused the credentials"):
        HttpVectorTier("http://testserver", token="another-token-0123456", client=http).count("a")
    # Nothing listens on port 9 of this host.
    with pytest.raises(TierUnavailable, match="did not answer"):
        HttpVectorTier("http://127.0.0.1:9", token=TOKEN, timeout=2).count("a")


def test_the_service_refuses_a_short_token_and_the_client_a_bad_url(index):
    with pytest.raises(ConfigurationError, match="16 characters"):
        create_tier_app(index, token="short")
    with pytest.raises(ConfigurationError, match="not an http"):
        HttpVectorTier("tier.example.com", token=TOKEN)


def test_the_container_reaches_the_tier_with_the_token_from_secrets_manager(http):
    import boto3
    from moto import mock_aws

    from ragops.bootstrap import build_container
    from ragops.settings import Settings

    with mock_aws():
        secrets = boto3.client("secretsmanager", region_name="us-east-1")
        arn = secrets.create_secret(Name="ragops/dev/tier-token", SecretString=TOKEN)["ARN"]
        settings = Settings(tier_url="http://testserver", tier_secret_arn=arn)
        container = build_container(settings, aws_clients={"secretsmanager": secrets})
        assert container.tier_token_source() == TOKEN
        remote = container.raw_index()
        assert isinstance(remote, HttpVectorTier)
        remote._client = http  # the same requests, served by the app in this process
        assert remote.count("acme") == 0

        missing = Settings(tier_url="http://testserver", tier_secret_arn=f"{arn}-gone")
        with pytest.raises(ConfigurationError, match="ResourceNotFoundException"):
            build_container(missing, aws_clients={"secretsmanager": secrets}).tier_token_source()
    with pytest.raises(ConfigurationError, match="RAGOPS_TIER_TOKEN"):
        build_container(Settings(tier_url="http://testserver")).raw_index()


def test_tenant_routes_take_only_a_fresh_token_of_their_own_tenant(http, tier):
    """One tenant's token opens that tenant's routes only, for minutes; the tier's secret
    itself no longer opens any tenant's routes (only the routes of no tenant)."""
    now = time.time()
    own = tenant_token(TOKEN, "acme", now=now)
    cases = {
        own: 200,
        tenant_token(TOKEN, "globex", now=now): 401,  # another tenant's
        TOKEN: 401,  # the secret itself
        tenant_token("another-secret-0123456789", "acme", now=now): 401,  # forged
        tenant_token(TOKEN, "acme", now=now - 400): 401,  # expired
        tenant_token(TOKEN, "acme", now=now + 3600): 401,  # from a clock far ahead
        own.replace(".acme.", ".globex."): 401,  # re-labelled
        "rgt1.acme.notanumber.x": 401,
    }
    for token, status in cases.items():
        response = http.get("/v1/tenants/acme/stats", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == status, token
    assert http.get("/v1/stats", headers={"Authorization": f"Bearer {own}"}).status_code == 401
    assert http.get("/v1/stats", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    with pytest.raises(ValueError, match="tenant"):
        tenant_token(TOKEN, "acme.globex", now=now)
    assert tier.count("acme") == 0  # the client mints the right token by itself


def test_the_tier_accepts_the_secret_before_a_rotation_for_its_grace_only(index):
    """After a rotation the tier accepts the old secret's tokens for a grace period, so
    functions still holding it (their max age) are not refused; then only the new one."""
    from ragops.domain.tier_tokens import AcceptedSecrets

    clock, current = [0.0], ["first-secret-0123456789"]
    accepted = AcceptedSecrets(lambda: current[0], grace=600, clock=lambda: clock[0])
    http = TestClient(create_tier_app(index, token=accepted, ready=lambda: None))
    old = HttpVectorTier("http://testserver", token="first-secret-0123456789", client=http)
    new = HttpVectorTier("http://testserver", token="second-secret-0123456789", client=http)
    assert old.count("acme") == 0
    with pytest.raises(TierUnavailable, match="refused the credentials"):
        new.count("acme")

    current[0] = "second-secret-0123456789"
    assert new.count("acme") == 0 and old.count("acme") == 0  # both, during the grace
    assert accepted.secrets() == ("second-secret-0123456789", "first-secret-0123456789")
    clock[0] = 601.0
    assert new.count("acme") == 0
    with pytest.raises(TierUnavailable, match="refused the credentials"):
        old.count("acme")
    secret = {"Authorization": "Bearer first-secret-0123456789"}
    assert http.get("/v1/stats", headers=secret).status_code == 401


def test_a_rotated_tier_secret_takes_effect_without_a_new_container(index):
    """The functions keep the token for its max age; once the tier serves the rotated
    secret, the first refused request re-reads the secret and is sent again."""
    import boto3
    from moto import mock_aws

    from ragops.bootstrap import build_container
    from ragops.settings import Settings

    rotated = "rotated-token-9876543210"
    with mock_aws():
        secrets = boto3.client("secretsmanager", region_name="us-east-1")
        arn = secrets.create_secret(Name="ragops/dev/tier-token", SecretString=TOKEN)["ARN"]
        settings = Settings(
            tier_url="http://testserver", tier_secret_arn=arn, tier_token_max_age_seconds=3600
        )
        remote = build_container(settings, aws_clients={"secretsmanager": secrets}).raw_index()
        remote._client = TestClient(create_tier_app(index, token=TOKEN, ready=lambda: None))
        assert remote.count("acme") == 0

        secrets.put_secret_value(SecretId=arn, SecretString=rotated)
        assert remote.count("acme") == 0  # the old token, from the cache, still works
        remote._client = TestClient(create_tier_app(index, token=rotated, ready=lambda: None))
        assert remote.count("acme") == 0  # refused once, re-read, sent again

        remote._client = TestClient(create_tier_app(index, token="a-third-token-000000"))
        with pytest.raises(TierUnavailable, match="refused the credentials"):
            remote.count("acme")  # the secret has not changed: no retry helps


def test_a_tier_without_a_cache_answers_404_and_the_client_skips_it(index):
    from ragops.adapters.http_cache import HttpTierCache
    from ragops.errors import CacheUnavailable

    client = TestClient(create_tier_app(index, token=TOKEN))
    auth = scoped("acme")
    assert client.get("/v1/tenants/acme/cache/generation", headers=auth).status_code == 404
    assert client.get("/v1/tenants/acme/cache/generation").status_code == 401
    cache = HttpTierCache("http://testserver", token=TOKEN, client=client)
    with pytest.raises(CacheUnavailable):
        cache.generation("acme")


def test_the_functions_get_the_champion_through_the_tier(index):
    from ragops.domain.pipeline import PipelineEvaluation, PipelineVersion
    from ragops.errors import TrackingUnavailable

    champion = PipelineVersion(
        3,
        {"top_k": 4, "prompt_version": "answer-v2-quote"},
        ("champion",),
        "quotes",
        "2026-11-26T10:00:00Z",
        PipelineEvaluation("run-3", "sample", {"ndcg_at_10": 0.7}),
    )
    answers: list = [champion]

    def read():
        if isinstance(answers[0], Exception):
            raise answers[0]
        return answers[0]

    http = TestClient(create_tier_app(index, token=TOKEN, ready=lambda: None, champion=read))
    tier = HttpVectorTier("http://testserver", token=TOKEN, client=http)
    assert http.get("/v1/pipeline/champion").status_code == 401  # the token guards it
    assert tier.champion_pipeline() == champion
    answers[0] = None
    assert tier.champion_pipeline() is None
    answers[0] = TrackingUnavailable("MLflow at http://mlflow:5000: connection refused")
    with pytest.raises(TierUnavailable, match="could not resolve the champion"):
        tier.champion_pipeline()
    # A tier without a registry has no champion to give.
    bare = TestClient(create_tier_app(index, token=TOKEN, ready=lambda: None))
    assert HttpVectorTier("http://testserver", token=TOKEN, client=bare).champion_pipeline() is None


def test_a_function_with_a_tier_reads_the_champion_there(tmp_path):
    from ragops.bootstrap import champion_reader
    from ragops.services.pipeline import served_settings
    from ragops.settings import Settings

    # Nothing listens on port 9: the cold start goes on with its settings, quickly.
    settings = Settings(data_dir=tmp_path, tier_url="http://127.0.0.1:9", tier_token=TOKEN)
    effective, served = served_settings(settings, champion_reader(settings))
    assert effective == settings and served.degraded and "did not answer" in served.note


def test_metrics_on_a_port_of_their_own_are_off_the_api_port(index):
    """As on EKS (RAGOPS_TIER_METRICS_PORT): the load balancer forwards the API port only,
    and an NLB cannot filter by path, so /metrics must not be served there."""
    from urllib.request import urlopen

    from fastapi.testclient import TestClient

    from ragops.entrypoints.tier_service import create_tier_app
    from tests.servers import free_port

    port = free_port()
    app = create_tier_app(index, token=TOKEN, metrics_port=port)
    with TestClient(app) as client:  # the lifespan starts the metrics server
        assert client.get("/metrics").status_code == 404
        auth = scoped("acme")
        assert client.get("/v1/tenants/acme/stats", headers=auth).status_code == 200
        with urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            served = response.read().decode()
        assert 'ragops_tier_requests_total{operation="tenant_stats",status="200"} 1.0' in served
    with pytest.raises(OSError):  # stopped with the app
        urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)
