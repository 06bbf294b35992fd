"""Versioned prompt templates, A/B assignment, answer ids, feedback and the prompt report."""

from __future__ import annotations

from collections import Counter

import pytest
from fastapi.testclient import TestClient

from ragops.bootstrap import build_container
from ragops.domain.experiments import PromptExperiment
from ragops.domain.prompts import PROMPT_VERSION, PromptTemplate, packaged_prompts
from ragops.entrypoints.api import create_app
from ragops.errors import AnswerNotFound, ConfigurationError, InvalidInput
from ragops.services.answering import answer_question
from ragops.services.costs import record_answer_cost
from ragops.services.feedback import (
    prompt_report,
    record_feedback,
    two_proportion_p_value,
    wilson_interval,
)
from ragops.services.ingestion import ingest_document
from ragops.settings import Settings
from tests.fakes import GENERATIVE

GUIDE = (
    b"# Operations guide\n\nPausing the tier destroys the EKS cluster with Terraform.\n\n"
    b"The semantic cache keeps answers in Redis with a time to live.\n"
)
QUESTION = "What does pausing the tier do?"


def test_packaged_templates_load_and_the_default_renders_passages_and_question():
    templates = packaged_prompts()
    assert {PROMPT_VERSION, "answer-v2-quote"} <= set(templates)
    default = templates[PROMPT_VERSION]
    assert default.system.startswith("You answer questions about the user's documents")
    assert "{passages}" in default.user and "{question}" in default.user


def test_a_template_without_its_fields_is_refused():
    with pytest.raises(ValueError, match="needs"):
        PromptTemplate.parse('id = "x"\nsystem = "s"\nuser = "no fields"', "x.toml")
    with pytest.raises(ValueError, match="not a prompt template"):
        PromptTemplate.parse('id = "x"', "x.toml")


def test_assignment_is_stable_and_follows_the_weights():
    experiment = PromptExperiment("concise", {"answer-v1": 3, "answer-v2-quote": 1})
    again = PromptExperiment("concise", {"answer-v2-quote": 1, "answer-v1": 3})
    users = [f"user-{i}" for i in range(4000)]
    split = Counter(experiment.assign("acme", u) for u in users)
    assert 0.70 < split["answer-v1"] / len(users) < 0.80
    assert all(experiment.assign("acme", u) == again.assign("acme", u) for u in users[:200])
    renamed = PromptExperiment("concise-2", {"answer-v1": 3, "answer-v2-quote": 1})
    assert any(experiment.assign("acme", u) != renamed.assign("acme", u) for u in users[:200])
    with pytest.raises(ValueError):
        PromptExperiment("x", {"answer-v1": 0})


def test_unknown_templates_are_a_configuration_error(tmp_path):
    container = build_container(
        Settings(data_dir=tmp_path, prompt_variants={"answer-v1": 1, "answer-v9": 1})
    )
    with pytest.raises(ConfigurationError, match="answer-v9"):
        _ = container.experiment


@pytest.fixture
def experiment_container(tmp_path, embedder, chroma_client, chat_model):
    settings = Settings(
        data_dir=tmp_path / "data",
        min_relevance=0.1,
        **GENERATIVE,
        prompt_experiment="quote-test",
        prompt_variants={"answer-v1": 1, "answer-v2-quote": 1},
        metrics="prometheus",
    )
    container = build_container(
        settings, embedder=embedder, chroma_client=chroma_client, chat_model=chat_model
    )
    ingest_document(container.ingest_context(), tenant="acme", filename="ops.md", data=GUIDE)
    return container


def test_each_user_is_answered_with_their_variant_and_the_model_sees_it(
    experiment_container, chat_model
):
    ctx = experiment_container.answer_context()
    seen = {}
    for user in (f"u{i}" for i in range(12)):
        answer = answer_question(ctx, tenant="acme", question=QUESTION, user=user)
        assert answer.prompt.experiment == "quote-test"
        assert answer.prompt.version == ctx.experiment.assign("acme", user)
        seen[user] = answer.prompt.version
        if answer.cache.hit is None:
            system = chat_model.seen[-1][0].content
            assert system == packaged_prompts()[answer.prompt.version].system
    assert set(seen.values()) == {"answer-v1", "answer-v2-quote"}
    ids = {
        answer_question(ctx, tenant="acme", question=QUESTION, user="u0").answer_id for _ in "ab"
    }
    assert len(ids) == 2  # every answer has its own id, cached or not


def test_feedback_only_for_the_tenants_own_answers(experiment_container):
    store = experiment_container.store
    answer = answer_question(
        experiment_container.answer_context(), tenant="acme", question=QUESTION, user="u1"
    )
    record_answer_cost(store, "acme", answer)
    vote = record_feedback(store, "acme", answer.answer_id, "up", "mail me at jo@example.com")
    assert vote.prompt_version == answer.prompt.version
    stored = store.get(f"feedback/acme/{answer.answer_id}.json")
    assert b"jo@example.com" not in stored
    with pytest.raises(AnswerNotFound):
        record_feedback(store, "globex", answer.answer_id, "up")
    with pytest.raises(AnswerNotFound):
        record_feedback(store, "acme", "../../etc/passwd", "up")
    with pytest.raises(InvalidInput):
        record_feedback(store, "acme", answer.answer_id, "sideways")


def test_report_compares_variants_with_feedback(experiment_container):
    store = experiment_container.store
    ctx = experiment_container.answer_context()
    for i in range(30):
        answer = answer_question(ctx, tenant="acme", question=QUESTION, user=f"u{i}")
        record_answer_cost(store, "acme", answer)
        good = answer.prompt.version == "answer-v2-quote" or i % 3 == 0
        record_feedback(store, "acme", answer.answer_id, "up" if good else "down")
    reports = {r.prompt_version: r for r in prompt_report(store, tenant="acme")}
    assert set(reports) == {"answer-v1", "answer-v2-quote"}
    assert sum(r.answers for r in reports.values()) == 30
    quote, plain = reports["answer-v2-quote"], reports["answer-v1"]
    assert quote.thumbs_up_rate == 1.0 and plain.thumbs_up_rate < 0.5
    assert quote.thumbs_up_ci95[0] < 1.0 == quote.thumbs_up_ci95[1]
    assert reports["answer-v2-quote"].p_value_vs_first < 0.05
    assert all(r.cache_hits >= r.answers - 2 for r in reports.values())  # one miss each
    assert prompt_report(store, tenant="globex") == []


def test_interval_and_test_statistics():
    low, high = wilson_interval(8, 10)
    assert 0.44 < low < 0.5 and 0.94 < high < 0.97
    assert two_proportion_p_value(50, 100, 50, 100) == 1.0
    assert two_proportion_p_value(80, 100, 50, 100) < 0.001
    assert two_proportion_p_value(1, 0, 1, 1) is None


def test_api_answers_carry_ids_and_take_feedback(experiment_container):
    with TestClient(create_app(experiment_container)) as client:
        headers = {"X-Tenant-Id": "acme", "X-User-Id": "jo@example.com"}
        answer = client.post("/v1/query", json={"question": QUESTION}, headers=headers).json()
        assert answer["prompt"]["experiment"] == "quote-test"
        body = {"answer_id": answer["answer_id"], "rating": "down"}
        voted = client.post("/v1/feedback", json=body, headers=headers)
        assert voted.status_code == 201, voted.text
        assert voted.json()["prompt_version"] == answer["prompt"]["version"]
        other = client.post("/v1/feedback", json=body, headers={"X-Tenant-Id": "globex"})
        assert other.status_code == 404
        assert client.post("/v1/feedback", json={**body, "rating": "meh"}).status_code == 422
        bad_user = client.post(
            "/v1/query", json={"question": QUESTION}, headers={"X-User-Id": "a b"}
        )
        assert bad_user.status_code == 422
        metrics = client.get("/metrics").text
        variant = answer["prompt"]["version"]
        assert f'ragops_feedback_total{{rating="down",variant="{variant}"}} 1.0' in metrics
        queries = [
            line for line in metrics.splitlines() if line.startswith("ragops_queries_total{")
        ]
        assert queries and all(f'variant="{variant}"' in line for line in queries)


def test_records_feedback_and_report_on_s3_under_moto(experiment_container):
    """The cloud path: answer records and votes in an S3 bucket (moto)."""
    import boto3
    from moto import mock_aws

    from ragops.adapters.s3 import S3ObjectStore

    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="docs")
        s3 = S3ObjectStore("docs", prefix="ragops", client=client)
        ctx = experiment_container.answer_context()
        answers = [
            answer_question(ctx, tenant="acme", question=QUESTION, user=f"u{i}") for i in range(6)
        ]
        for answer in answers:
            record_answer_cost(s3, "acme", answer)
        record_feedback(s3, "acme", answers[0].answer_id, "up")
        with pytest.raises(AnswerNotFound):
            record_feedback(s3, "globex", answers[0].answer_id, "up")
        keys = {o["Key"] for o in client.list_objects_v2(Bucket="docs")["Contents"]}
        assert f"ragops/feedback/acme/{answers[0].answer_id}.json" in keys
        reports = prompt_report(s3, tenant="acme")
        assert sum(r.answers for r in reports) == 6
        assert sum(r.thumbs_up for r in reports) == 1
