"""The embedded default models, for real: weights from the installed packages, on the CPU."""

from __future__ import annotations

import random

import numpy as np
import pytest

from ragops.domain.models import ChatMessage, Generation

pytestmark = pytest.mark.slow


def test_minilm_embeddings_are_unit_length_and_meaningful(real_embedder):
    vectors = real_embedder.embed_array(
        ["How do I pause the cluster?", "Steps to suspend the cluster", "Banana bread recipe"]
    )
    assert vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2
    assert real_embedder.embed_query("x") == pytest.approx(real_embedder.embed_documents(["x"])[0])


def test_token_counter_matches_the_model_tokenizer(real_embedder, torch_embedder):
    tokenizer = torch_embedder.model.tokenizer
    count = real_embedder.token_counter()
    rng = random.Random(7)
    vocabulary = [
        "Glacier",
        "rivers,",
        "naïve",
        "état",
        "(pH)",
        "H2O",
        "1,000",
        "—",
        "don't",
        "x" * 150,
    ]
    for _ in range(50):
        text = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(1, 40)))
        assert count(text) == len(tokenizer(text, add_special_tokens=False)["input_ids"])


def test_smollm2_answers_with_usage(real_chat_model):
    reply = real_chat_model.generate(
        [
            ChatMessage("system", "Answer in one short sentence."),
            ChatMessage("user", "What colour is the sky on a clear day?"),
        ]
    )
    assert reply.text.strip()
    assert reply.usage.input_tokens > 5
    assert 0 < reply.usage.output_tokens <= real_chat_model.max_tokens
    assert reply.model.startswith("SmolLM2")


def test_smollm2_streams_tokens_then_usage(real_chat_model):
    parts = list(real_chat_model.stream([ChatMessage("user", "Say hello.")]))
    *pieces, final = parts
    assert len(pieces) > 2 and all(isinstance(p, str) for p in pieces)  # token by token
    assert isinstance(final, Generation)
    assert final.text == "".join(pieces) and final.text.strip()
    assert final.usage.input_tokens > 0 and final.usage.output_tokens == len(pieces)
