"""Behaviour suites for the model ports, run against the fake and the real local adapter:
what the services rely on must hold for both."""

from __future__ import annotations

import numpy as np
import pytest

from ragops.domain.models import ChatMessage
from tests.fakes import HashingEmbedder, ScriptedChatModel

pytestmark = pytest.mark.slow


@pytest.fixture(params=["fake", "minilm"])
def any_embedder(request, real_embedder):
    return HashingEmbedder() if request.param == "fake" else real_embedder


@pytest.fixture(params=["fake", "smollm2"])
def any_chat_model(request, real_chat_model):
    if request.param == "fake":
        return ScriptedChatModel(responses=["An answer [1]."])
    return real_chat_model


def test_embedder_contract(any_embedder):
    texts = ["glaciers carve valleys", "the moon makes tides", "glaciers carve deep valleys"]
    batch = any_embedder.embed_array(texts)
    assert batch.dtype == np.float32 and batch.shape[0] == 3
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, rtol=1e-4)
    single = np.asarray(any_embedder.embed_query(texts[0]), dtype=np.float32)
    assert any_embedder.embed_documents(texts[:1]) == [any_embedder.embed_query(texts[0])]
    np.testing.assert_allclose(single, batch[0], atol=1e-4)
    assert batch[0] @ batch[2] > batch[0] @ batch[1]
    assert any_embedder.model_id
    count = any_embedder.token_counter()
    assert 0 < count("one two three") <= any_embedder.max_input_tokens
    assert count("one two three four five six") > count("one two three")


def test_chat_model_contract(any_chat_model):
    reply = any_chat_model.generate(
        [ChatMessage("system", "Be brief."), ChatMessage("user", "Say yes.")]
    )
    assert isinstance(reply.text, str) and reply.text
    assert reply.usage.input_tokens > 0 and reply.usage.output_tokens > 0
    assert reply.model == any_chat_model.model_id
