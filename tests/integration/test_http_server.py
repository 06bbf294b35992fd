"""The API on a real uvicorn server on 127.0.0.1, with embedded Chroma and the real local
models: upload, list, ask with citations, bad files, delete."""

from __future__ import annotations

import httpx
import pytest

from ragops.bootstrap import build_container
from ragops.entrypoints.api import create_app
from ragops.settings import Settings
from tests.samples import make_pdf
from tests.servers import UvicornThread

pytestmark = pytest.mark.slow

GLACIERS = (
    b"# Glacier field notes\n\nGlaciers carve U-shaped valleys as they slide downhill. "
    b"The Aletsch Glacier is the largest glacier in the Alps, about 23 kilometres long.\n"
)
COOKING = make_pdf(
    [
        "Sourdough bread needs a starter of flour and water.",
        "Bake the loaf at 250 degrees for 40 minutes.",
    ],
    title="Bread baking",
)


@pytest.fixture(scope="module")
def server(tmp_path_factory, real_embedder, real_chat_model):
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), max_upload_bytes=200_000)
    container = build_container(settings, embedder=real_embedder, chat_model=real_chat_model)
    with UvicornThread(create_app(container)) as running:
        running.container = container
        yield running


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server.url, timeout=120) as client:
        yield client


def test_upload_and_answer_with_citations(http):
    response = http.post(
        "/v1/documents",
        files=[("file", ("glaciers.md", GLACIERS)), ("file", ("bread.pdf", COOKING))],
    )
    assert response.status_code == 201, response.text
    docs = {d["source"]: d for d in http.get("/v1/documents").json()["documents"]}
    assert set(docs) == {"glaciers.md", "bread.pdf"}
    assert docs["bread.pdf"]["pages"] == 2 and docs["bread.pdf"]["title"] == "Bread baking"

    answer = http.post("/v1/query", json={"question": "How long is the Aletsch Glacier?"}).json()
    assert answer["citations"], answer
    assert answer["citations"][0]["source"] == "glaciers.md"
    # The embedded default answers with the document's own sentence: no model writes text.
    assert answer["mode"] == "extractive" and answer["model"] == "extractive"
    assert "23 kilometres" in answer["answer"] and "[1]" in answer["answer"]
    assert answer["usage"]["input_tokens"] == 0 and answer["cost"]["total_usd"] == 0

    bread = http.post(
        "/v1/query", json={"question": "How long do I bake the sourdough loaf?", "top_k": 2}
    ).json()
    sources = {(c["source"], c["page"]) for c in bread["citations"]}
    assert sources & {("bread.pdf", 1), ("bread.pdf", 2)}


def test_unrelated_question_is_not_answered(http):
    answer = http.post(
        "/v1/query", json={"question": "Who won the football world cup in 2010?"}
    ).json()
    assert answer["abstained"] is True
    assert answer["citations"] == []


@pytest.mark.parametrize(
    ("name", "data", "status", "words"),
    [
        ("corrupt.pdf", b"%PDF-1.5\n%\xe2\xe3 truncated", 422, "corrupt PDF"),
        ("empty.md", b"", 422, "empty"),
        ("program.txt", b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 16, 422, "binary"),
        ("huge.txt", b"word " * 50_000, 413, "over the limit"),
    ],
)
def test_bad_files_are_refused_and_change_nothing(http, server, name, data, status, words):
    keys = sorted(server.container.store.list(""))
    chunks = server.container.index.count("default")
    response = http.post("/v1/documents", files={"file": (name, data)})
    assert response.status_code == status
    message = response.json()["error"]["message"]
    assert name in message and words in message
    assert sorted(server.container.store.list("")) == keys
    assert server.container.index.count("default") == chunks


def test_delete_over_http(http):
    docs = http.get("/v1/documents").json()["documents"]
    bread = next(d for d in docs if d["source"] == "bread.pdf")
    assert http.delete(f"/v1/documents/{bread['doc_id']}").status_code == 204
    remaining = [d["source"] for d in http.get("/v1/documents").json()["documents"]]
    assert "bread.pdf" not in remaining
    answer = http.post(
        "/v1/query", json={"question": "How long do I bake the sourdough loaf?"}
    ).json()
    assert all(c["source"] != "bread.pdf" for c in answer["citations"])
