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

from ragops.adapters.embedding_base import ArrayEmbeddings
from ragops.domain.chunking import TokenCounter
from ragops.domain.models import ChatMessage, Chunk, Generation, Usage

_WORD = re.compile(r"\w+")

GENERATIVE = {"answer_mode": "generative", "answerability_threshold": 0.0}
"""Settings for tests of what surrounds generation: a chat model writes every answer, and
every question with a relevant passage passes the answerability gate."""


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


class ScriptedChatModel:
    """Answers with the scripted responses in turn and reports token usage, counting
    whitespace-separated words as tokens. Records the messages it was given."""

    def __init__(self, responses: list[str], model_id: str = "fake-chat") -> None:
        self.responses = responses
        self.model_id = model_id
        self.seen: list[list[ChatMessage]] = []

    def stream(self, messages: Sequence[ChatMessage]):
        """Word by word (with the spaces), then the whole ``Generation``, as llama.cpp does."""
        generation = self.generate(messages)
        words = generation.text.split(" ")
        for i, word in enumerate(words):
            yield word if i == len(words) - 1 else word + " "
        yield generation

    def generate(self, messages: Sequence[ChatMessage]) -> Generation:
        self.seen.append(list(messages))
        text = self.responses[(len(self.seen) - 1) % len(self.responses)]
        prompt_tokens = sum(len(m.content.split()) for m in messages)
        return Generation(
            text=text,
            usage=Usage(input_tokens=prompt_tokens, output_tokens=len(text.split())),
            model=self.model_id,
        )


SAMPLE_TEXTS = [
    "glaciers carve valleys over thousands of years",
    "rivers deposit sediment at the delta",
    "the moon pulls the oceans and makes tides",
    "volcanoes release ash and lava",
]


def sample_chunks(tenant: str, texts=SAMPLE_TEXTS, doc_prefix: str = "doc") -> list[Chunk]:
    """One single-chunk document per text: ``doc0``, ``doc1``... with ids ``{tenant}-doc0-c0``."""
    return [
        Chunk(
            f"{tenant}-{doc_prefix}{i}-c0",
            f"{doc_prefix}{i}",
            tenant,
            0,
            text,
            f"T{i}",
            f"{i}.txt",
            None,
            0,
            len(text),
        )
        for i, text in enumerate(texts)
    ]


def fill_index(index, embedder, tenant: str, texts=SAMPLE_TEXTS) -> list[Chunk]:
    """Write ``sample_chunks`` with their embeddings into any ``VectorTier``."""
    chunks = sample_chunks(tenant, texts)
    index.upsert(tenant, chunks, embedder.embed_array([c.indexed_text() for c in chunks]))
    return chunks


class RecordingMetrics:
    """A ``MetricsSink`` that keeps what it was told: ``counts`` and ``observations`` as
    ``(name, value, labels)``, ``gauges`` as ``(name, value)``."""

    def __init__(self) -> None:
        self.counts: list[tuple[str, float, dict[str, str]]] = []
        self.observations: list[tuple[str, float, dict[str, str]]] = []
        self.gauges: list[tuple[str, float]] = []

    def count(self, name: str, value: float = 1.0, **labels: str) -> None:
        self.counts.append((name, value, labels))

    def observe(self, name: str, value: float, **labels: str) -> None:
        self.observations.append((name, value, labels))

    def gauge(self, name: str, value: float, **labels: str) -> None:
        self.gauges.append((name, value))

    def total(self, name: str) -> float:
        return sum(value for counted, value, _ in self.counts if counted == name)


class FakeClock:
    """Monotonic time that moves only when slept on or advanced."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds
