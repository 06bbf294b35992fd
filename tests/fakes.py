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


class MemoryObjectStore:
    """The ``ObjectStore`` port in a dict: the fake the repositories' tests run over, held
    to the port's contract by ``tests/unit/test_object_stores.py``."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put(self, key: str, data: bytes, content_type: str | None = None) -> None:
        if not key or key.startswith("/") or ".." in key.split("/"):
            raise ValueError(f"invalid object key {key!r}")
        self.objects[key] = bytes(data)

    def get(self, key: str) -> bytes:
        from ragops.errors import ObjectNotFound

        try:
            return self.objects[key]
        except KeyError:
            raise ObjectNotFound(key) from None

    def exists(self, key: str) -> bool:
        return key in self.objects

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)

    def list(self, prefix: str):
        return iter(sorted(k for k in list(self.objects) if k.startswith(prefix)))

    def get_tagged(self, key: str) -> tuple[bytes, str]:
        from ragops.adapters.localfs import version_tag

        data = self.get(key)
        return data, version_tag(data)

    def put_if(self, key: str, data: bytes, content_type: str | None = None, *, tag) -> None:
        from ragops.adapters.localfs import version_tag
        from ragops.errors import WriteConflict

        current = self.objects.get(key)
        if (None if current is None else version_tag(current)) != tag:
            raise WriteConflict(key)
        self.put(key, data, content_type)


class RecordingTracker:
    """The ``ExperimentTracker`` port in memory, as MLflow keeps runs: parameters as
    strings, numeric metrics only (names as ``metric_name`` makes them), the report whole.
    Held to the MLflow tracker's behaviour by
    ``tests/integration/test_tracking_contracts.py``."""

    tracking_uri = "memory://ragops-tests"

    def __init__(self) -> None:
        self.runs: list[dict] = []

    def log_run(self, experiment, run_name, params, metrics, report) -> str:
        import json
        import uuid

        from ragops.adapters.mlflow_tracker import metric_name

        run_id = uuid.uuid4().hex
        self.runs.append(
            {
                "experiment": experiment,
                "run_name": run_name,
                "run_id": run_id,
                "params": {k: str(v)[:6000] for k, v in params.items()},
                "metrics": {
                    metric_name(k): float(v)
                    for k, v in metrics.items()
                    if isinstance(v, int | float) and not isinstance(v, bool)
                },
                "report": json.loads(json.dumps(report)),
            }
        )
        return run_id

    def latest_run(self, experiment, run_name):
        if "'" in run_name:
            raise ValueError(f"run name {run_name!r} must not contain a quote")
        for run in reversed(self.runs):
            if run["experiment"] == experiment and run["run_name"] == run_name:
                return run["run_id"], dict(run["metrics"]), dict(run["params"])
        return None

    def run(self, run_id: str) -> dict:
        """The run ``run_id`` as logged (``KeyError`` when there is none)."""
        return next(r for r in self.runs if r["run_id"] == run_id)


class InMemoryPipelineRegistry:
    """The ``PipelineRegistry`` port in memory: configurations kept as JSON (as MLflow's
    tags keep them), aliases unique per registry, an unknown version ``ObjectNotFound``.
    Held to the MLflow registry's behaviour by
    ``tests/integration/test_tracking_contracts.py``."""

    tracking_uri = "memory://ragops-tests"

    def __init__(self) -> None:
        self._versions: dict = {}
        self._aliases: dict[str, int] = {}
        self._history: list[int] = []

    def _shown(self, version):
        from dataclasses import replace

        aliases = tuple(sorted(a for a, v in self._aliases.items() if v == version.version))
        return replace(version, aliases=aliases)

    def _stored(self, version: int):
        from ragops.errors import ObjectNotFound

        try:
            return self._versions[int(version)]
        except KeyError:
            raise ObjectNotFound(f"no pipeline version {version}") from None

    def register(self, config, description):
        import json
        from datetime import UTC, datetime

        from ragops.domain.pipeline import PipelineVersion

        number = len(self._versions) + 1
        self._versions[number] = PipelineVersion(
            version=number,
            config=json.loads(json.dumps(config, sort_keys=True)),
            description=description or "",
            created_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        return self._shown(self._versions[number])

    def versions(self):
        return [self._shown(v) for _, v in sorted(self._versions.items())]

    def get(self, version: int):
        return self._shown(self._stored(version))

    def by_alias(self, alias: str):
        number = self._aliases.get(alias)
        return None if number is None else self.get(number)

    def set_alias(self, alias: str, version: int) -> None:
        self._stored(version)
        self._aliases[alias] = int(version)

    def remove_alias(self, alias: str) -> None:
        self._aliases.pop(alias, None)

    def champion_history(self) -> list[int]:
        return list(self._history)

    def set_champion_history(self, versions: list[int]) -> None:
        self._history = [int(v) for v in versions[-200:]]

    def record_evaluation(self, version: int, evaluation) -> None:
        import json
        from dataclasses import replace

        from ragops.domain.pipeline import PipelineEvaluation

        stored = self._stored(version)
        data = json.loads(json.dumps(evaluation.to_dict(), sort_keys=True))
        self._versions[stored.version] = replace(
            stored, evaluation=PipelineEvaluation(data["run_id"], data["sample"], data["metrics"])
        )


class InMemoryModelRegistry:
    """The ``ModelRegistry`` port in memory: versions numbered from 1 with their metrics,
    files and curves; the champion unknown until set; an unknown version ``ObjectNotFound``.
    Held to MLflow's behaviour by ``tests/integration/test_tracking_contracts.py``."""

    def __init__(self) -> None:
        self.models: dict[str, list[dict]] = {}
        self.champions: dict[str, int] = {}

    def register(self, name, folder, params, metrics, curves, report):
        import json

        versions = self.models.setdefault(name, [])
        versions.append(
            {
                "files": {f.name: f.read_bytes() for f in sorted(folder.iterdir()) if f.is_file()},
                "params": {k: str(v) for k, v in params.items()},
                "metrics": json.loads(json.dumps(metrics)),
                "curves": {k: list(v) for k, v in curves.items()},
                "report": report,
            }
        )
        return len(versions)

    def champion(self, name):
        version = self.champions.get(name)
        if version is None:
            return None
        return version, dict(self.models[name][version - 1]["metrics"])

    def set_champion(self, name, version):
        from ragops.errors import ObjectNotFound

        if not 1 <= int(version) <= len(self.models.get(name, [])):
            raise ObjectNotFound(f"no version {version} of {name}")
        self.champions[name] = int(version)
