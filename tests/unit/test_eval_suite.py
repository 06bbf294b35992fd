"""The evaluation gate's suite on a fixed sample, with real Chroma and fake models."""

from __future__ import annotations

import pytest

from ragops.bootstrap import build_container
from ragops.errors import InvalidInput
from ragops.services.eval_suite import SuiteSample, run_suite
from ragops.settings import Settings
from tests.fakes import GENERATIVE, ScriptedChatModel
from tests.samples import write_beir, write_squad

ANSWERS = [
    "The Moon's gravity raises ocean tides [1].",
    "Volcanoes erupt when buoyant magma rises through cracks [1].",
]


def contexts(container):
    """What the suite runs on: the pipeline's ingest and answer contexts."""
    return container.ingest_context(), container.answer_context()


@pytest.fixture
def sample(tmp_path):
    return SuiteSample(
        write_beir(tmp_path / "beir", split="train"),
        write_squad(tmp_path / "squad.json"),
        queries=3,
        distractors=1,
        answers=2,
    )


def suite_container(tmp_path, embedder, chroma_client, **settings):
    chat = ScriptedChatModel(ANSWERS)
    container = build_container(
        Settings(data_dir=tmp_path / "data", min_relevance=0.1, **{**GENERATIVE, **settings}),
        embedder=embedder,
        chroma_client=chroma_client,
        chat_model=chat,
    )
    return container, chat


def test_the_suite_measures_retrieval_abstention_and_answers(
    tmp_path, embedder, chroma_client, sample
):
    container, chat = suite_container(tmp_path, embedder, chroma_client)
    report = run_suite(*contexts(container), sample)
    metrics = report["metrics"]
    # Three judged documents and one distractor, the same ones on every run.
    assert report["retrieval"]["corpus_documents"] == 4 and report["retrieval"]["queries"] == 3
    assert 0.0 < metrics["ndcg_at_10"] <= 1.0 and metrics["recall_at_10"] == 1.0
    abstention = report["abstention"]
    assert (abstention["answerable"], abstention["unanswerable"]) == (2, 2)
    assert abstention["answerable_declined"] == 0 and metrics["answerable_declined_rate"] == 0.0
    assert metrics["unanswerable_answered_rate"] == abstention["unanswerable_answered"] / 2
    # Both answerable questions were answered by the model, bypassing the cache.
    assert len(chat.seen) == 2 and report["answers"]["answered"] == 2
    assert metrics["groundedness_share"] == 1.0
    assert metrics["latency_ms_p95"] >= metrics["latency_ms_p50"] > 0
    assert metrics["cost_per_query_usd"] == 0.0  # fake models are not in the price table
    again = run_suite(*contexts(container), sample)
    assert again["retrieval"]["index_reused"] and again["sample"] == report["sample"]
    assert len(chat.seen) == 4  # answered again: the cache never serves the suite


def test_groundedness_share_follows_the_pipeline_threshold(
    tmp_path, embedder, chroma_client, sample
):
    container, _ = suite_container(
        tmp_path, embedder, chroma_client, groundedness_min_similarity=1.0
    )
    assert run_suite(*contexts(container), sample)["metrics"]["groundedness_share"] == 0.0
    container, _ = suite_container(tmp_path, embedder, chroma_client, groundedness_check=False)
    assert "groundedness_share" not in run_suite(*contexts(container), sample)["metrics"]


def test_the_sample_fingerprint_names_data_and_sizes(tmp_path, sample):
    before = sample.fingerprint()
    same = SuiteSample(sample.dataset, sample.squad, queries=3, distractors=1, answers=2)
    assert same.fingerprint() == before
    fewer = SuiteSample(sample.dataset, sample.squad, queries=3, distractors=1, answers=1)
    assert fewer.fingerprint() != before
    sample.squad.write_text(sample.squad.read_text().replace("Etna", "Vesuvius"))
    assert sample.fingerprint() != before  # the contents count, not the path
    with pytest.raises(InvalidInput, match="--queries"):
        SuiteSample(sample.dataset, sample.squad, queries=0)
    with pytest.raises(InvalidInput, match="cannot be read"):
        SuiteSample(tmp_path / "nowhere", sample.squad).fingerprint()
