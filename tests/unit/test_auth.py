"""Authentication and limits: API keys and JWTs give the tenant; without a credential 401;
another tenant's documents are never seen, listed, answered from or deleted (404); a
revoked key stops at once; no key or token reaches the logs; rate limits, quotas and the
body-size limit answer 429, 403 and 413 with a message."""

from __future__ import annotations

import datetime
import logging
import random

import pytest
from fastapi.testclient import TestClient

from ragops.adapters.jwt_verifier import JwtVerifier
from ragops.bootstrap import build_container
from ragops.domain.auth import parse_key
from ragops.domain.limits import TokenBucketLimiter
from ragops.entrypoints.api import create_app
from ragops.errors import Unauthenticated
from ragops.log_masking import install as install_masking
from ragops.services.auth import (
    authenticate_api_key,
    create_api_key,
    list_api_keys,
    revoke_api_key,
)
from ragops.settings import Settings
from tests.fakes import ScriptedChatModel

WORDS = ["glacier", "volcano", "lighthouse", "desert", "coral", "comet", "harbour", "forest"]


def app_with(tmp_path, embedder, chroma_client, **settings):
    container = build_container(
        Settings(data_dir=tmp_path / "data", min_relevance=0.05, cache="off", **settings),
        embedder=embedder,
        chroma_client=chroma_client,
        chat_model=ScriptedChatModel(["It is about that [1]."]),
    )
    return container, TestClient(create_app(container))


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_a_key_is_shown_once_and_only_its_salted_hash_is_kept(container):
    record, key = create_api_key(container.store, "acme", "ci")
    secret = key[len("rgk") + 16 :]
    # Letters and digits only: on AWS the key is also the tenant's API Gateway key.
    assert key.isalnum() and len(key) == 62 and key.startswith(f"rgk{record.key_id}")
    assert parse_key(key) == (record.key_id, secret)
    stored = container.store.get(f"auth/keys/{record.key_id}.json").decode()
    assert secret not in stored and key not in stored
    assert authenticate_api_key(container.store, key).tenant == "acme"
    other, _ = create_api_key(container.store, "beta")
    assert [r.key_id for r in list_api_keys(container.store, "acme")] == [record.key_id]
    assert {r.key_id for r in list_api_keys(container.store)} == {record.key_id, other.key_id}
    revoked = revoke_api_key(container.store, record.key_id)
    assert revoked.revoked_at is not None
    assert revoke_api_key(container.store, record.key_id).revoked_at == revoked.revoked_at
    for bad in (key, key[:-1] + ("A" if key[-1] != "A" else "B"), "rgk_nope", ""):
        with pytest.raises(Unauthenticated, match="invalid API key"):
            authenticate_api_key(container.store, bad)


def test_no_credential_is_401_and_tenants_never_meet(tmp_path, embedder, chroma_client, caplog):
    container, client = app_with(tmp_path, embedder, chroma_client, auth="api-key")
    _, key_a = create_api_key(container.store, "tenant-a")
    _, key_b = create_api_key(container.store, "tenant-b")
    install_masking(logging.getLogger())
    caplog.set_level(logging.DEBUG)

    for method, path in (("GET", "/v1/documents"), ("POST", "/v1/query"), ("GET", "/v1/pipeline")):
        response = client.request(method, path, json={"question": "x"})
        assert response.status_code == 401, path
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert response.json()["error"]["type"] == "unauthenticated"
    assert client.get("/v1/documents", headers=bearer("rgk_" + "0" * 16 + "_x")).status_code == 401
    # X-Tenant-Id counts for nothing once authentication is on.
    spoof = client.get("/v1/documents", headers={**bearer(key_b), "X-Tenant-Id": "tenant-a"})
    assert spoof.status_code == 200 and spoof.json()["documents"] == []

    rng = random.Random(7)
    owned: dict[str, list[str]] = {"tenant-a": [], "tenant-b": []}
    keys = {"tenant-a": key_a, "tenant-b": key_b}
    for n in range(12):
        owner = rng.choice(sorted(owned))
        word = rng.choice(WORDS)
        text = (
            f"Document {n} of {owner}: the {word} {n} holds secret number {rng.randint(0, 9999)}."
        )
        files = [("file", (f"{owner}-{n}.txt", text.encode(), "text/plain"))]
        response = client.post("/v1/documents", files=files, headers=bearer(keys[owner]))
        assert response.status_code == 201, response.text
        owned[owner].append(response.json()["results"][0]["document"]["doc_id"])
    for owner, other in (("tenant-a", "tenant-b"), ("tenant-b", "tenant-a")):
        listed = client.get("/v1/documents", headers=bearer(keys[owner])).json()["documents"]
        assert sorted(d["doc_id"] for d in listed) == sorted(owned[owner])
        for doc_id in owned[other]:
            assert (
                client.get(f"/v1/documents/{doc_id}", headers=bearer(keys[owner])).status_code
                == 404
            )
            assert (
                client.delete(f"/v1/documents/{doc_id}", headers=bearer(keys[owner])).status_code
                == 404
            )
        for _ in range(6):
            question = f"What does the {rng.choice(WORDS)} hold?"
            answer = client.post(
                "/v1/query", json={"question": question}, headers=bearer(keys[owner])
            ).json()
            cited = {c["doc_id"] for c in answer["citations"]}
            assert cited <= set(owned[owner]), (owner, cited)

    # Revoked: the very next request fails.
    key_id = parse_key(key_a)[0]
    revoke_api_key(container.store, key_id)
    assert client.get("/v1/documents", headers=bearer(key_a)).status_code == 401
    assert client.get("/v1/documents", headers=bearer(key_b)).status_code == 200
    # The same key as x-api-key (API Gateway's header, which meters the tenant on AWS).
    assert client.get("/v1/documents", headers={"x-api-key": key_b}).status_code == 200
    assert client.get("/v1/documents", headers={"x-api-key": key_a}).status_code == 401
    assert client.get("/v1/documents", headers={"x-api-key": "not-a-key"}).status_code == 401

    logged = "\n".join(r.getMessage() + str(vars(r)) for r in caplog.records)
    for secret in (key_a, key_b, key_a[len("rgk") + 16 :]):
        assert secret not in logged


@pytest.fixture(scope="module")
def signing_key():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public.decode()


def token(private, **claims):
    import jwt

    now = datetime.datetime.now(datetime.UTC)
    payload = {
        "iss": "https://issuer.example",
        "aud": "client-1",
        "sub": "user-1",
        "exp": now + datetime.timedelta(minutes=5),
        "custom:tenant": "acme",
        **claims,
    }
    return jwt.encode(payload, private, algorithm="RS256")


def test_jwts_give_the_tenant_from_their_claim(tmp_path, embedder, chroma_client, signing_key):
    private, public = signing_key
    verifier = JwtVerifier("https://issuer.example", "client-1", public_key=public)
    assert verifier.verify(token(private)).tenant == "acme"
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1)
    for bad, reason in (
        (token(private, exp=past), "(?i)expired"),
        (token(private, iss="https://elsewhere"), "(?i)issuer"),
        (token(private, aud="other"), "(?i)audience"),
        (token(private, **{"custom:tenant": None}), "custom:tenant"),
        (token(private, **{"custom:tenant": "../etc"}), "not a tenant id"),
        ("not.a.jwt", "invalid token"),
    ):
        with pytest.raises(Unauthenticated, match=reason):
            verifier.verify(bad)

    _, client = app_with(
        tmp_path,
        embedder,
        chroma_client,
        auth="jwt",
        jwt_issuer="https://issuer.example",
        jwt_audience="client-1",
        jwt_public_key=public,
    )
    files = [("file", ("a.txt", b"The acme handbook covers lighthouses.", "text/plain"))]
    assert (
        client.post("/v1/documents", files=files, headers=bearer(token(private))).status_code == 201
    )
    other = token(private, **{"custom:tenant": "beta"})
    assert client.get("/v1/documents", headers=bearer(other)).json()["documents"] == []
    assert client.get("/v1/documents", headers=bearer(token(private, exp=past))).status_code == 401


def test_behind_api_gateway_the_authorizer_claims_give_the_tenant(
    tmp_path, embedder, chroma_client
):
    from mangum import Mangum

    container, _ = app_with(tmp_path, embedder, chroma_client, auth="jwt", jwt_issuer="https://i")
    handler = Mangum(create_app(container), lifespan="off")

    def event(claims):
        return {
            "resource": "/{proxy+}",
            "path": "/v1/documents",
            "httpMethod": "GET",
            "headers": {"X-Tenant-Id": "spoofed"},
            "multiValueHeaders": {},
            "queryStringParameters": None,
            "multiValueQueryStringParameters": None,
            "pathParameters": {"proxy": "v1/documents"},
            "requestContext": {
                "resourcePath": "/{proxy+}",
                "httpMethod": "GET",
                "path": "/prod/v1/documents",
                "stage": "prod",
                "identity": {"sourceIp": "203.0.113.9"},
                **({"authorizer": {"claims": claims}} if claims is not None else {}),
            },
            "body": None,
            "isBase64Encoded": False,
        }

    class Context:
        function_name = "api"
        aws_request_id = "req-1"

    ok = handler(event({"sub": "u1", "custom:tenant": "acme"}), Context())
    assert ok["statusCode"] == 200
    assert handler(event(None), Context())["statusCode"] == 401
    assert handler(event({"sub": "u1"}), Context())["statusCode"] == 401


def test_the_token_bucket_refills_and_says_how_long_to_wait():
    now = [0.0]
    limiter = TokenBucketLimiter(60, burst=2, clock=lambda: now[0])
    assert limiter.acquire("a") is None and limiter.acquire("a") is None
    assert limiter.acquire("a") == 1
    assert limiter.acquire("b") is None  # per tenant
    now[0] = 1.0
    assert limiter.acquire("a") is None


def test_rate_limits_quotas_and_body_size_answer_in_words(tmp_path, embedder, chroma_client):
    container, client = app_with(
        tmp_path,
        embedder,
        chroma_client,
        rate_limit_per_minute=3,
        rate_limit_burst=2,
        max_documents_per_tenant=2,
        max_upload_bytes=1000,
    )
    headers = {"X-Tenant-Id": "acme"}

    def upload(name, text):
        return client.post(
            "/v1/documents", files=[("file", (name, text.encode(), "text/plain"))], headers=headers
        )

    assert upload("a.txt", "Alpha document about comets.").status_code == 201
    assert upload("b.txt", "Beta document about glaciers.").status_code == 201
    over = upload("c.txt", "Gamma document about deserts.")
    assert over.status_code == 429 and int(over.headers["Retry-After"]) >= 1
    assert over.json()["error"]["type"] == "rate_limited"
    container.rate_limiter.burst = 100.0  # the quota next, without waiting for tokens
    container.rate_limiter._buckets.clear()
    refused = upload("c.txt", "Gamma document about deserts.")
    assert (
        refused.status_code == 403 and "may hold 2 documents" in refused.json()["error"]["message"]
    )
    assert upload("a.txt", "Alpha document, second version.").status_code == 201  # a replacement
    big = client.post(
        "/v1/documents",
        content=b"x" * (1000 * 20 + 1_048_577),
        headers={**headers, "Content-Type": "application/octet-stream"},
    )
    assert big.status_code == 413 and "over" in big.json()["error"]["message"]
    assert sorted(
        d["source"] for d in client.get("/v1/documents", headers=headers).json()["documents"]
    ) == [
        "a.txt",
        "b.txt",
    ]


def test_serve_refuses_the_network_without_authentication(tmp_path):
    from typer.testing import CliRunner

    from ragops.entrypoints.cli import app

    result = CliRunner().invoke(
        app, ["serve", "--host", "0.0.0.0", "--data-dir", str(tmp_path)], catch_exceptions=False
    )
    assert result.exit_code == 1
    assert "without authentication" in result.output or "without authentication" in str(
        result.stderr_bytes or b""
    )
