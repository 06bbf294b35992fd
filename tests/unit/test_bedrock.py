"""Bedrock adapters under botocore's Stubber: requests are validated against the real
bedrock-runtime service model, and responses are shaped as the service sends them."""

from __future__ import annotations

import io
import json

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from ragops.adapters.bedrock import BedrockConverseChatModel, BedrockTitanEmbedder
from ragops.bootstrap import build_container
from ragops.domain.models import ChatMessage
from ragops.errors import ModelUnavailable
from ragops.settings import Settings


@pytest.fixture
def runtime():
    client = boto3.client("bedrock-runtime", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _titan_response(vector):
    body = json.dumps({"embedding": vector, "inputTextTokenCount": 3}).encode()
    return {"body": StreamingBody(io.BytesIO(body), len(body)), "contentType": "application/json"}


def test_titan_v2_request_shape(runtime):
    client, stubber = runtime
    for text, vector in [("first text", [0.6, 0.8, 0.0]), ("second", [0.0, 0.0, 1.0])]:
        stubber.add_response(
            "invoke_model",
            _titan_response(vector),
            {
                "modelId": "amazon.titan-embed-text-v2:0",
                "body": json.dumps({"inputText": text, "dimensions": 3, "normalize": True}),
                "accept": "application/json",
                "contentType": "application/json",
            },
        )
    # concurrency=1 keeps the stubbed responses in request order
    embedder = BedrockTitanEmbedder(dimensions=3, client=client, concurrency=1)
    assert embedder.embed_array(["first text"]) == [[0.6, 0.8, 0.0]]
    assert embedder.embed_query("second") == [0.0, 0.0, 1.0]


def test_titan_errors_become_model_unavailable(runtime):
    # Not retried: access is denied. (Throttling is retried: tests/unit/test_faults.py.)
    client, stubber = runtime
    stubber.add_client_error("invoke_model", "AccessDeniedException", "no model access", 403)
    with pytest.raises(ModelUnavailable, match="no model access"):
        BedrockTitanEmbedder(dimensions=3, client=client).embed_array(["text"])


def test_nova_converse_request_shape_and_usage(runtime):
    client, stubber = runtime
    stubber.add_response(
        "converse",
        {
            "output": {
                "message": {
                    "role": "assistant",
                    "content": [{"text": "Paused tiers answer 503 [1]."}],
                }
            },
            "stopReason": "end_turn",
            "usage": {"inputTokens": 120, "outputTokens": 9, "totalTokens": 129},
            "metrics": {"latencyMs": 300},
        },
        {
            "modelId": "us.amazon.nova-2-lite-v1:0",
            "messages": [{"role": "user", "content": [{"text": "Passages: [1] ... Question: q"}]}],
            "system": [{"text": "Answer from the passages."}],
            "inferenceConfig": {"maxTokens": 256, "temperature": 0.0},
        },
    )
    model = BedrockConverseChatModel("us.amazon.nova-2-lite-v1:0", client=client, max_tokens=256)
    reply = model.generate(
        [
            ChatMessage("system", "Answer from the passages."),
            ChatMessage("user", "Passages: [1] ... Question: q"),
        ]
    )
    assert reply.text == "Paused tiers answer 503 [1]."
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (120, 9)
    assert reply.model == "us.amazon.nova-2-lite-v1:0"


def test_converse_errors_become_model_unavailable(runtime):
    client, stubber = runtime
    stubber.add_client_error("converse", "ValidationException", "bad model", 400)
    with pytest.raises(ModelUnavailable, match="bad model"):
        BedrockConverseChatModel("x", client=client).generate([ChatMessage("user", "hi")])


def test_container_builds_bedrock_adapters_from_settings(runtime):
    client, _ = runtime
    container = build_container(
        Settings(embedder="bedrock", llm="bedrock", bedrock_embedding_dimensions=3),
        aws_clients={"bedrock-runtime": client},
    )
    assert container.embedder.model_id == "amazon.titan-embed-text-v2:0"
    assert container.chat_model.model_id == "us.amazon.nova-2-lite-v1:0"
    assert container.embedder.client is client
