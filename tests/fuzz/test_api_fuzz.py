"""API fuzzing: Schemathesis over the OpenAPI schema against the live app on 127.0.0.1.

Every operation of the schema, authenticated with an API key (``RAGOPS_AUTH=api-key``), with
every check Schemathesis has (no 5xx; status codes, content types, headers and bodies that
conform to the schema; invalid input rejected; auth not ignored...; the exceptions, each
justified, are in tests/fuzz/schemathesis.toml) over its phases (coverage, fuzzing,
stateful). The server's own tally of 5xx answers must be zero too.

The app is the real one with embedded Chroma and the fake models; three documents and an
answer are seeded first, and half the generated ``doc_id`` and ``answer_id`` values are
theirs, so that the ``{doc_id}`` routes and feedback also reach their success paths.

Bounded and reproducible: ``FUZZ_EXAMPLES`` cases per operation and phase, a fixed seed.
``RAGOPS_API_FUZZ_EXAMPLES`` / ``RAGOPS_API_FUZZ_SEED`` change them for a longer local run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from xml.etree import ElementTree

import httpx
import pytest

from ragops.bootstrap import build_container
from ragops.entrypoints.api import create_app
from ragops.services.auth import create_api_key
from ragops.settings import Settings
from tests.fakes import HashingEmbedder, ScriptedChatModel
from tests.samples import make_docx, make_pdf
from tests.servers import UvicornThread

pytestmark = pytest.mark.slow

FUZZ_EXAMPLES = int(os.environ.get("RAGOPS_API_FUZZ_EXAMPLES", "50"))
FUZZ_SEED = int(os.environ.get("RAGOPS_API_FUZZ_SEED", "20261126"))
CONFIG = Path(__file__).with_name("schemathesis.toml")

SEED_FILES = [
    ("glaciers.md", b"# Glaciers\n\nGlaciers carve U-shaped valleys as they slide downhill.\n"),
    ("bread.pdf", make_pdf(["Sourdough bread needs a starter of flour and water."], "Bread")),
    ("tides.docx", make_docx(["The Moon's gravity raises ocean tides."], title="Tides")),
]


class StatusCounter:
    """ASGI wrapper that counts the statuses the app answered: the server's own tally of
    the run, beside what Schemathesis reports."""

    def __init__(self, app) -> None:
        self.app = app
        self.statuses: Counter[int] = Counter()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def counting_send(message) -> None:
            if message["type"] == "http.response.start":
                self.statuses[message["status"]] += 1
            await send(message)

        await self.app(scope, receive, counting_send)


@pytest.fixture(scope="module")
def live_api(tmp_path_factory):
    """The app on 127.0.0.1 with API-key auth, no rate limit (its 429s would stop the run),
    the in-memory answer cache, embedded Chroma under a temporary data directory."""
    data_dir = tmp_path_factory.mktemp("fuzz-data")
    settings = Settings(
        data_dir=data_dir,
        auth="api-key",
        rate_limit_per_minute=0,
        cache="memory",
        min_relevance=0.1,
        max_upload_bytes=200_000,
    )
    container = build_container(
        settings,
        embedder=HashingEmbedder(),
        chat_model=ScriptedChatModel(responses=["Glaciers carve U-shaped valleys [1]."]),
    )
    _, key = create_api_key(container.store, "fuzz", name="schemathesis")
    counter = StatusCounter(create_app(container))
    with UvicornThread(counter) as server:
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=60) as http:
            uploaded = http.post("/v1/documents", files=[("file", f) for f in SEED_FILES])
            assert uploaded.status_code == 201, uploaded.text
            doc_ids = [r["document"]["doc_id"] for r in uploaded.json()["results"]]
            answer = http.post("/v1/query", json={"question": "What do glaciers carve?"})
            assert answer.status_code == 200, answer.text
        server.key = key
        server.doc_ids = doc_ids
        server.answer_id = answer.json()["answer_id"]
        server.statuses = counter.statuses
        yield server


def _config(path: Path, doc_ids: list[str], answer_id: str) -> Path:
    """tests/fuzz/schemathesis.toml and the seeded ids: half of the generated ``doc_id``
    and ``answer_id`` values are real ones."""
    seeded = (
        "\n[dictionaries.doc_ids]\n"
        f"values = {json.dumps(doc_ids)}\n"
        "\n[dictionaries.answer_ids]\n"
        f"values = {json.dumps([answer_id])}\n"
        "\n[parameters]\n"
        '"path.doc_id" = { dictionary = "doc_ids", probability = 0.5 }\n'
        '"body.answer_id" = { dictionary = "answer_ids", probability = 0.5 }\n'
    )
    path.write_text(CONFIG.read_text() + seeded)
    return path


def test_schemathesis_finds_no_server_error_and_no_schema_violation(live_api, tmp_path):
    command = [
        str(Path(sys.executable).with_name("st")),
        "--config-file",
        str(_config(tmp_path / "schemathesis.toml", live_api.doc_ids, live_api.answer_id)),
        "run",
        f"{live_api.url}/openapi.json",
        "--max-examples",
        str(FUZZ_EXAMPLES),
        "--seed",
        str(FUZZ_SEED),
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--header",
        f"Authorization: Bearer {live_api.key}",
        "--no-color",
        "--report",
        "junit",
        "--report-junit-path",
        str(tmp_path / "junit.xml"),
    ]
    # Run from the temporary folder: Schemathesis writes nothing into the repository.
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    statuses = live_api.statuses
    server_errors = sum(n for status, n in statuses.items() if status >= 500)
    found = [i for i in (output.rfind("= WARNINGS ="), output.rfind("= SUMMARY =")) if i >= 0]
    summary = output[min(found) :] if found else output[-3000:]
    # Shown with `pytest -s`, and with the output on a failure.
    sys.stdout.write(f"{summary}\nstatuses answered: {dict(sorted(statuses.items()))}\n")
    assert server_errors == 0, f"{server_errors} responses were 5xx\n{output[-20000:]}"
    assert result.returncode == 0, output[-20000:]
    # The verdict from the JUnit report (one test case per operation), not the console.
    cases = list(ElementTree.parse(tmp_path / "junit.xml").getroot().iter("testcase"))
    schema = httpx.get(f"{live_api.url}/openapi.json", timeout=30).json()
    operations = {
        f"{method.upper()} {path}"
        for path, methods in schema["paths"].items()
        for method in methods
    }
    tested = {case.get("name") for case in cases}
    assert operations <= tested, f"not tested: {sorted(operations - tested)}"
    assert "Stateful tests" in tested  # the links phase ran too
    problems = [
        f"{case.get('name')}: {child.tag}"
        for case in cases
        for child in case
        if child.tag in ("failure", "error", "skipped")
    ]
    assert problems == [], summary


@pytest.mark.parametrize("doc_id", ["a%5Cb", "a%00b", "%2E%2E", "x" * 300])
def test_document_ids_no_file_can_have_are_not_found(live_api, doc_id):
    """Found by the run above: a backslash or a NUL byte in ``{doc_id}`` made the local
    store refuse the key with a ValueError, answered 500."""
    headers = {"Authorization": f"Bearer {live_api.key}"}
    for method in ("GET", "DELETE"):
        response = httpx.request(
            method, f"{live_api.url}/v1/documents/{doc_id}", headers=headers, timeout=30
        )
        assert response.status_code == 404, (method, response.text)
        assert response.json()["error"]["type"] == "DocumentNotFound"
