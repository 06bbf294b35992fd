"""Fault test: the Chroma server behind the tier service dies in the middle of a run.

The API (configured as in the cloud: its index is the tier service over HTTP) must answer
in maintenance mode with no 500 and lose no upload; once Chroma is back, empty, as a pod
that lost its volume would come back, rehydrating from the object store restores the same
top 10 for the same queries, and the uploads that waited are indexed.
"""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from ragops.bootstrap import build_container
from ragops.entrypoints.api import create_app
from ragops.entrypoints.tier_service import app_from_settings
from ragops.services.rehydrate import rehydrate_tier
from ragops.services.tier import resume_tier
from ragops.settings import Settings
from tests.fakes import GENERATIVE, HashingEmbedder, ScriptedChatModel
from tests.integration.conftest import TIER_TOKEN
from tests.servers import ChromaServer, UvicornThread

pytestmark = pytest.mark.slow

DOCUMENTS = {
    "glaciers.txt": "Glaciers carve deep valleys over thousands of years of slow movement.",
    "rivers.txt": "Rivers deposit sediment at the delta where they meet the sea.",
    "tides.txt": "The moon pulls the oceans and makes the tides rise and fall twice a day.",
    "volcanoes.txt": "Volcanoes release ash and lava when magma reaches the surface.",
    "deserts.txt": "Deserts receive little rain and dunes move with the wind.",
    "forests.txt": "Forests store carbon in trees, soil and fallen leaves.",
}
QUESTIONS = [
    "What makes the tides?",
    "How do glaciers shape valleys?",
    "What comes out of a volcano?",
    "Where do rivers leave sediment?",
]


def top10(container, question: str) -> list[tuple[str, float]]:
    embedding = container.embedder.embed_array([question])[0]
    hits = container.index.search("default", question, embedding, 10)
    return [(hit.chunk.chunk_id, round(hit.score, 6)) for hit in hits]


def test_chroma_dies_mid_run_and_rehydrate_restores_the_same_results(tmp_path):
    chroma = ChromaServer(tmp_path / "chroma-a").start()
    service_settings = Settings(
        chroma_url=chroma.url,
        tier_token=TIER_TOKEN,
        index_embedding_model="fake/hashing-256",
        tier_refresh_seconds=0,
    )
    try:
        with UvicornThread(app_from_settings(service_settings)) as tier:
            settings = Settings(
                data_dir=tmp_path / "api",
                tier_url=tier.url,
                tier_token=TIER_TOKEN,
                tier_timeout_seconds=5,
                breaker_failures=2,
                breaker_reset_seconds=1,
                min_relevance=0.05,
                **GENERATIVE,
            )
            container = build_container(
                settings,
                embedder=HashingEmbedder(),
                chat_model=ScriptedChatModel(responses=["See the passage [1]."]),
            )
            api = TestClient(create_app(container), raise_server_exceptions=False)
            run_fault_sequence(api, container, chroma, tmp_path)
    finally:
        chroma.stop()


def run_fault_sequence(api, container, chroma, tmp_path) -> None:
    files = [("file", (name, text.encode(), "text/plain")) for name, text in DOCUMENTS.items()]
    assert api.post("/v1/documents", files=files).status_code == 201
    before = {q: top10(container, q) for q in QUESTIONS}
    answers = {q: api.post("/v1/query", json={"question": q}).json() for q in QUESTIONS}
    assert all(before.values()) and all(a["citations"] for a in answers.values())

    chroma.stop()  # the pod dies

    # An answer cached for the unchanged corpus needs no tier: still served.
    cached = api.post("/v1/query", json={"question": QUESTIONS[0]})
    assert cached.status_code == 200 and cached.json()["cache"]["hit"] == "exact", cached.text
    statuses = []
    for question in QUESTIONS * 2:
        # Another top_k is another cache partition: these must reach the dead tier.
        response = api.post("/v1/query", json={"question": question, "top_k": 9})
        statuses.append(response.status_code)
        assert response.status_code == 503, response.text
        assert response.headers.get("Retry-After")
    late = ("late.txt", b"Penguins huddle together on the Antarctic ice in winter.", "text/plain")
    upload = api.post("/v1/documents", files=[("file", late)])
    assert upload.status_code == 202, upload.text
    assert upload.json()["results"][0]["document"]["status"] == "pending"
    health = api.get("/healthz").json()
    assert health["tier"]["usable"] is False
    listed = api.get("/v1/documents")
    assert listed.status_code == 200 and len(listed.json()["documents"]) == len(DOCUMENTS) + 1
    assert 500 not in statuses

    # Chroma comes back empty (a new pod without its volume); the breaker lets calls through.
    chroma.start(tmp_path / "chroma-b")
    time.sleep(1.2)
    report = rehydrate_tier(container.store, container.index)
    assert report.restored == len(DOCUMENTS) and not report.missing
    after = {q: top10(container, q) for q in QUESTIONS}
    assert after == before
    for question in QUESTIONS:
        answer = api.post("/v1/query", json={"question": question}).json()
        assert answer["citations"] == answers[question]["citations"]

    resumed = resume_tier(container.tier_state, container.ingest_context())
    assert [r.record.source for r in resumed] == ["late.txt"]
    documents = api.get("/v1/documents").json()["documents"]
    assert {d["status"] for d in documents} == {"indexed"}
    found = api.post("/v1/query", json={"question": "Where do penguins huddle?"}).json()
    assert found["citations"][0]["source"] == "late.txt"
