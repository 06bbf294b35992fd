"""Fakes for the ports, used by unit tests in place of the real models.

They behave like the real thing in the ways the services rely on: the embedder gives
unit-length vectors whose cosine similarity grows with shared words, and the chat model
returns a scripted answer with token usage.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from ragops.adapters.embedding_base import ArrayEmbeddings
from ragops.domain.chunking import TokenCounter

_WORD = re.compile(r"\w+")


class HashingEmbedder(ArrayEmbeddings):
    """Bag-of-words hashed into ``dimensions`` buckets, L2-normalised. Counts calls."""

    def __init__(self, dimensions: int = 256, model_id: str = "fake/hashing-256") -> None:
        self.dimensions = dimensions
        self.model_id = model_id
        self.max_input_tokens = 128
        self.calls = 0
        self.texts_embedded = 0

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dimensions, dtype=np.float32)
        for word in _WORD.findall(text.lower()):
            bucket = int.from_bytes(hashlib.md5(word.encode()).digest()[:4], "little")
            vector[bucket % self.dimensions] += 1.0
        norm = np.linalg.norm(vector)
        if norm == 0:
            vector[0] = 1.0
            return vector
        return vector / norm

    def embed_array(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        self.texts_embedded += len(texts)
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        return np.vstack([self._vector(t) for t in texts])

    def token_counter(self) -> TokenCounter:
        return lambda text: len(text.split())


class ScriptedChatModel(FakeListChatModel):
    """Answers with the scripted responses in turn and reports token usage, counting
    whitespace-separated words as tokens. Records the messages it was given."""

    model_id: str = "fake-chat"
    seen: list[list[BaseMessage]] = []  # noqa: RUF012 - a pydantic field, copied per instance

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):  # type: ignore[override]
        self.seen.append(list(messages))
        text = self.responses[self.i % len(self.responses)]
        self.i += 1
        prompt_tokens = sum(len(str(m.content).split()) for m in messages)
        message = AIMessage(
            content=text,
            usage_metadata={
                "input_tokens": prompt_tokens,
                "output_tokens": len(text.split()),
                "total_tokens": prompt_tokens + len(text.split()),
            },
            response_metadata={"model_name": self.model_id},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])
