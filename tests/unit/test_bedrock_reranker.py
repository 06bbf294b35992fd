"""The Bedrock reranker under botocore's Stubber: requests are validated against the real
bedrock-agent-runtime service model (``Rerank``), and responses are shaped as it sends them."""

from __future__ import annotations

import re

import boto3
import pytest
from botocore.stub import Stubber

from ragops.adapters.bedrock_reranker import MAX_SOURCES, MAX_TEXT_CHARS, BedrockReranker
from ragops.domain.models import Chunk, SearchHit
from ragops.domain.retry import RetryPolicy
from ragops.errors import InvalidInput, ModelUnavailable
from ragops.ports import Reranker
from tests.fakes import FakeClock

AMAZON = "amazon.rerank-v1:0"
COHERE = "cohere.rerank-v3-5:0"
AMAZON_ARN = f"arn:aws:bedrock:us-east-1::foundation-model/{AMAZON}"
THROTTLED = ("ThrottlingException", "Too many requests, please wait before trying again.", 429)
PASSAGES = [
    ("Glaciers", "The Aletsch Glacier is the largest glacier in the Alps."),
    ("Lakes", "Lake Geneva lies on the border of France and Switzerland."),
    ("Glaciers", "Glaciers retreat when summers are warm."),
]


@pytest.fixture
def agent_runtime(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    client = boto3.client("bedrock-agent-runtime", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()  # every queued answer was asked for


@pytest.fixture
def clock():
    return FakeClock()


def policy(clock: FakeClock) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=4,
        base_delay=0.2,
        max_delay=2.0,
        budget_seconds=20.0,
        attempt_seconds=17.0,
        sleep=clock.sleep,
        clock=clock,
        jitter=lambda: 0.75,
    )


def hit(i: int, title: str, text: str, score: float = 0.5) -> SearchHit:
    chunk = Chunk(f"c{i}", f"d{i}", "acme", i, text, title, f"{title}.md", i + 1, 0, len(text))
    return SearchHit(chunk, score, vector_score=0.3 + i / 10, bm25_score=float(i))


HITS = [hit(i, title, text, score=1.0 - i / 10) for i, (title, text) in enumerate(PASSAGES)]


def expected_request(query: str, texts: list[str], n: int, arn: str = AMAZON_ARN, **extra) -> dict:
    return {
        "queries": [{"type": "TEXT", "textQuery": {"text": query}}],
        "sources": [
            {
                "type": "INLINE",
                "inlineDocumentSource": {"type": "TEXT", "textDocument": {"text": text}},
            }
            for text in texts
        ],
        "rerankingConfiguration": {
            "type": "BEDROCK_RERANKING_MODEL",
            "bedrockRerankingConfiguration": {
                "numberOfResults": n,
                "modelConfiguration": {"modelArn": arn},
            },
        },
        **extra,
    }


def results(*pairs: tuple[int, float], next_token: str | None = None) -> dict:
    response: dict = {"results": [{"index": i, "relevanceScore": s} for i, s in pairs]}
    if next_token:
        response["nextToken"] = next_token
    return response


INDEXED = [h.chunk.indexed_text() for h in HITS]
QUESTION = "Which glacier is the largest?"


def test_request_shape_reordering_and_scores(agent_runtime):
    client, stubber = agent_runtime
    stubber.add_response(
        "rerank", results((2, 0.41), (0, 0.93)), expected_request(QUESTION, INDEXED, 2)
    )
    reranker: Reranker = BedrockReranker(AMAZON, client=client)
    reranked = reranker.rerank(QUESTION, HITS, top_n=2)
    # Best first, by the reranker's score; each text sent is the chunk's title and text.
    assert [h.chunk.chunk_id for h in reranked] == ["c0", "c2"]
    assert [h.score for h in reranked] == [0.93, 0.41]
    assert INDEXED[0] == "Glaciers\nThe Aletsch Glacier is the largest glacier in the Alps."
    # Everything but the score is the hit as retrieved.
    for new in reranked:
        old = next(h for h in HITS if h.chunk is new.chunk)
        assert (new.vector_score, new.bm25_score) == (old.vector_score, old.bm25_score)


def test_results_out_of_order_are_sorted_best_first(agent_runtime):
    client, stubber = agent_runtime
    stubber.add_response("rerank", results((1, 0.2), (2, 0.7), (0, 0.5)))
    reranked = BedrockReranker(AMAZON, client=client).rerank(QUESTION, HITS, top_n=3)
    assert [(h.chunk.chunk_id, h.score) for h in reranked] == [
        ("c2", 0.7),
        ("c0", 0.5),
        ("c1", 0.2),
    ]


def test_top_n_bounds_the_answer_and_the_request(agent_runtime):
    client, stubber = agent_runtime
    # top_n past the passages asks for every passage, no more.
    stubber.add_response(
        "rerank",
        results((1, 0.9), (0, 0.5), (2, 0.1)),
        expected_request(QUESTION, INDEXED, 3),
    )
    # A service that returned more than asked is still cut to top_n.
    stubber.add_response(
        "rerank", results((1, 0.9), (0, 0.5)), expected_request(QUESTION, INDEXED, 1)
    )
    reranker = BedrockReranker(AMAZON, client=client)
    assert len(reranker.rerank(QUESTION, HITS, top_n=10)) == 3
    assert [h.chunk.chunk_id for h in reranker.rerank(QUESTION, HITS, top_n=1)] == ["c1"]


def test_no_hits_or_no_room_is_empty_without_a_call(agent_runtime):
    client, _ = agent_runtime  # nothing queued: any call would fail the Stubber
    reranker = BedrockReranker(AMAZON, client=client)
    assert reranker.rerank(QUESTION, [], top_n=5) == []
    assert reranker.rerank(QUESTION, HITS, top_n=0) == []


def test_an_empty_question_is_refused_without_a_call(agent_runtime):
    client, _ = agent_runtime
    with pytest.raises(InvalidInput, match="empty question"):
        BedrockReranker(AMAZON, client=client).rerank("  ", HITS, top_n=2)


def test_throttling_is_retried_then_the_answer_comes_back(agent_runtime, clock):
    client, stubber = agent_runtime
    request = expected_request(QUESTION, INDEXED, 2)
    for _ in range(2):
        stubber.add_client_error("rerank", *THROTTLED, expected_params=request)
    stubber.add_response("rerank", results((1, 0.8), (0, 0.6)), request)
    reranker = BedrockReranker(AMAZON, client=client, retry=policy(clock))
    assert [h.chunk.chunk_id for h in reranker.rerank(QUESTION, HITS, top_n=2)] == ["c1", "c0"]
    assert clock.sleeps == pytest.approx([0.15, 0.3])  # three calls, full-jitter backoff


def test_throttling_on_every_attempt_is_model_unavailable(agent_runtime, clock):
    client, stubber = agent_runtime
    for _ in range(4):
        stubber.add_client_error("rerank", *THROTTLED)
    reranker = BedrockReranker(AMAZON, client=client, retry=policy(clock))
    with pytest.raises(ModelUnavailable) as raised:
        reranker.rerank(QUESTION, HITS, top_n=2)
    message = str(raised.value)
    assert message.startswith("Bedrock rerank is unavailable after 4 attempt(s)")
    assert "ThrottlingException" in message and "try again shortly" in message
    assert len(clock.sleeps) == 3


def test_access_denied_is_not_retried_and_says_what_the_role_needs(agent_runtime, clock):
    client, stubber = agent_runtime
    stubber.add_client_error(
        "rerank", "AccessDeniedException", "not authorized to perform bedrock:Rerank", 403
    )
    reranker = BedrockReranker(AMAZON, client=client, retry=policy(clock))
    with pytest.raises(ModelUnavailable) as raised:
        reranker.rerank(QUESTION, HITS, top_n=2)
    message = str(raised.value)
    assert "not authorized to perform bedrock:Rerank" in message
    assert "bedrock:Rerank" in message and f"bedrock:InvokeModel on {AMAZON_ARN}" in message
    assert clock.sleeps == []  # one call only (the fixture checks nothing is left)


def test_validation_errors_are_model_unavailable_with_the_reason(agent_runtime, clock):
    client, stubber = agent_runtime
    stubber.add_client_error("rerank", "ValidationException", "model not supported here", 400)
    reranker = BedrockReranker(AMAZON, client=client, retry=policy(clock))
    with pytest.raises(ModelUnavailable, match=r"Bedrock rerank failed: .*model not supported"):
        reranker.rerank(QUESTION, HITS, top_n=2)
    assert clock.sleeps == []


def test_indexes_out_of_range_or_repeated_are_ignored(agent_runtime, caplog):
    client, stubber = agent_runtime
    stubber.add_response("rerank", results((7, 0.99), (1, 0.8), (1, 0.7), (0, 0.4)))
    with caplog.at_level("WARNING", logger="ragops.adapters.bedrock_reranker"):
        reranked = BedrockReranker(AMAZON, client=client).rerank(QUESTION, HITS, top_n=3)
    assert [(h.chunk.chunk_id, h.score) for h in reranked] == [("c1", 0.8), ("c0", 0.4)]
    assert "index 7 for 3 passages" in caplog.text


def test_texts_over_the_api_limit_are_cut_to_it(agent_runtime):
    client, stubber = agent_runtime
    long_hit = hit(0, "", "word " * 10_000)  # 50,000 characters, no title
    question = "q" * 40_000
    stubber.add_response(
        "rerank",
        results((0, 0.5)),
        expected_request("q" * MAX_TEXT_CHARS, ["word " * 6_400], 1),
    )
    [only] = BedrockReranker(AMAZON, client=client).rerank(question, [long_hit], top_n=1)
    assert only.chunk is long_hit.chunk and only.score == 0.5


def test_at_most_a_thousand_sources_are_sent(agent_runtime):
    client, stubber = agent_runtime
    many = [hit(i, "T", f"passage {i}") for i in range(MAX_SOURCES + 5)]
    texts = [h.chunk.indexed_text() for h in many[:MAX_SOURCES]]
    stubber.add_response(
        "rerank", results((999, 0.9), (3, 0.2)), expected_request(QUESTION, texts, 2)
    )
    reranked = BedrockReranker(AMAZON, client=client).rerank(QUESTION, many, top_n=2)
    assert [h.chunk.chunk_id for h in reranked] == ["c999", "c3"]


def test_a_next_token_is_followed_until_enough_results(agent_runtime):
    client, stubber = agent_runtime
    request = expected_request(QUESTION, INDEXED, 3)
    stubber.add_response("rerank", results((2, 0.9), next_token="page-2"), request)
    stubber.add_response("rerank", results((0, 0.6), (1, 0.1)), {**request, "nextToken": "page-2"})
    reranked = BedrockReranker(AMAZON, client=client).rerank(QUESTION, HITS, top_n=3)
    assert [h.chunk.chunk_id for h in reranked] == ["c2", "c0", "c1"]


def test_the_model_arn_follows_the_client_and_fits_the_service_pattern(agent_runtime):
    client, _ = agent_runtime
    shape = client.meta.service_model.shape_for("BedrockModelArn")
    for model in (AMAZON, COHERE):
        arn = BedrockReranker(model, client=client).model_arn
        assert arn == f"arn:aws:bedrock:us-east-1::foundation-model/{model}"
        assert re.fullmatch(shape.metadata["pattern"], arn), arn
    assert BedrockReranker(AMAZON_ARN, client=client).model_arn == AMAZON_ARN


def test_no_client_until_first_use_and_then_one_that_leaves_retrying_to_the_policy(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    reranker = BedrockReranker(COHERE, region="us-west-2", read_timeout=9.0)
    assert reranker._client is None
    client = reranker.client
    assert client.meta.service_model.service_name == "bedrock-agent-runtime"
    assert client.meta.config.retries["total_max_attempts"] == 1
    assert (client.meta.config.connect_timeout, client.meta.config.read_timeout) == (2.0, 9.0)
    assert reranker.retry.attempt_seconds == 11.0
    assert reranker.model_arn == f"arn:aws:bedrock:us-west-2::foundation-model/{COHERE}"


@pytest.mark.parametrize(
    ("model", "sources", "usd"),
    [
        (AMAZON, 0, 0.0),
        (AMAZON, 1, 0.001),
        (AMAZON, 100, 0.001),
        (AMAZON, 101, 0.002),
        (AMAZON, 5_000, 0.010),  # only 1,000 are sent
        (COHERE, 20, 0.002),
        (COHERE, 250, 0.006),
        (f"arn:aws:bedrock:us-west-2::foundation-model/{COHERE}", 20, 0.002),
        ("some.other-model:0", 20, 0.0),
    ],
)
def test_cost_is_a_query_per_hundred_documents(model, sources, usd):
    assert BedrockReranker(model, client=object()).cost_usd(sources) == pytest.approx(usd)
