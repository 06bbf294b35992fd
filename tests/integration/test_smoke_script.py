"""``scripts/smoke.py``, the deploy workflow's smoke test, run as the workflow runs it (a
subprocess with the runner's python) against the FastAPI app under uvicorn on 127.0.0.1,
with fake models: it passes on a healthy API, accepts maintenance unless told not to, and
fails on an API that does not answer or is open without a key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ragops.entrypoints.api import create_app
from ragops.services.ingestion import ingest_document
from ragops.services.tier import pause_tier
from tests.servers import UvicornThread, free_port

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "smoke.py"


@pytest.fixture
def api(container):
    ingest_document(
        container.ingest_context(),
        tenant="docs",
        filename="tenants.md",
        data=b"# Tenants\n\nEvery store and index is partitioned by tenant.\n",
    )
    with UvicornThread(create_app(container)) as running:
        yield running


def smoke(
    url: str, *args: str, key: str | None = "a-key", token: str | None = None
) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("RAGOPS_API_KEY", "RAGOPS_SMOKE_TOKEN")}
    if key is not None:
        env["RAGOPS_API_KEY"] = key
    if token is not None:
        env["RAGOPS_SMOKE_TOKEN"] = token
    return subprocess.run(
        [sys.executable, str(SCRIPT), url, "--tenant", "docs", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_a_healthy_api_passes(api):
    result = smoke(api.url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok   healthz: ok (tier active)" in result.stdout
    assert "ok   query (tenant docs): 200 from fake-chat, 1 citations" in result.stdout
    assert "a-key" not in result.stdout + result.stderr, "the key is never printed"


def test_the_keys_come_from_the_environment_and_go_in_headers(container):
    seen: list[dict[str, str]] = []
    app = create_app(container)

    async def recording(scope, receive, send):
        if scope["type"] == "http" and scope["path"] == "/v1/query":
            seen.append({k.decode(): v.decode() for k, v in scope["headers"]})
        await app(scope, receive, send)

    with UvicornThread(recording) as running:
        result = smoke(running.url, key="gateway-key", token="rgk_secret")
    assert result.returncode == 0, result.stdout
    (headers,) = seen
    assert headers["x-api-key"] == "gateway-key"
    assert headers["authorization"] == "Bearer rgk_secret"
    assert headers["x-tenant-id"] == "docs"
    assert "gateway-key" not in result.stdout and "rgk_secret" not in result.stdout


def test_maintenance_is_accepted_unless_an_answer_is_required(api, container):
    pause_tier(container.tier_state)

    result = smoke(api.url)
    assert result.returncode == 0, result.stdout
    assert "healthz: maintenance (tier paused)" in result.stdout
    assert "503 service_paused" in result.stdout

    strict = smoke(api.url, "--require-answer")
    assert strict.returncode == 1, strict.stdout
    assert "FAIL query: 503 service_paused (--require-answer)" in strict.stdout


def test_an_api_open_without_a_key_fails_when_a_key_is_expected(api):
    # The local app takes no API key; a deployed stage must refuse a query without one.
    result = smoke(api.url, "--expect-key-required")
    assert result.returncode == 1, result.stdout
    assert "FAIL query without an API key: expected 403, got HTTP 200" in result.stdout


def test_no_answer_fails_after_the_attempts():
    url = f"http://127.0.0.1:{free_port()}"
    result = smoke(url, "--attempts", "2", "--wait", "0.1", "--timeout", "2")
    assert result.returncode == 1
    assert "FAIL healthz: no answer" in result.stdout and "after 2 attempts" in result.stdout
