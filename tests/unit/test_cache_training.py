"""``ragops cache train``'s service over fakes: a trainer whose model is known, the
in-memory registry and object store. What is measured is the real replay through
``SemanticCache``; what is promoted and published follows the holdout figures."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from ragops.bootstrap import build_container, replay_cache_stores
from ragops.domain.cache import DuplicateVerifier
from ragops.domain.models import Answer, Usage
from ragops.errors import InvalidInput
from ragops.repositories.served_models import ServedModels
from ragops.services.cache_evaluation import FIT, QuestionPair, split_of
from ragops.services.cache_training import (
    DUPLICATE_MODEL,
    no_worse,
    train_duplicate_model,
    training_pairs,
)
from ragops.settings import Settings
from tests.fakes import InMemoryModelRegistry, MemoryObjectStore


def _pairs(count: int = 400) -> list[QuestionPair]:
    """Pairs on topics: even ids are duplicates (the same topic asked two ways), odd ids
    near misses (two topics)."""
    pairs = []
    for i in range(count):
        if i % 2 == 0:
            pairs.append(QuestionPair(str(i), f"how do I fix topic {i}?", f"fixing topic {i}", 1))
        else:
            pairs.append(QuestionPair(str(i), f"how do I fix topic {i}?", f"topic {i + 1000}", 0))
    return pairs


def _topic(question: str) -> int:
    return int("".join(c for c in question if c.isdigit()) or 0)


class TopicEncoder:
    """A 'trained' model: one random unit vector per topic, so duplicates coincide."""

    model_id = "fake/topics"
    max_input_tokens = 64

    def __init__(self, sharp: bool) -> None:
        self.sharp = sharp

    def embed_array(self, texts):
        rows = []
        for text in texts:
            seed = _topic(text) if self.sharp else zlib.crc32(text.encode())
            vector = np.random.default_rng(seed).standard_normal(256)
            rows.append(vector / np.linalg.norm(vector))
        return np.asarray(rows, dtype=np.float32)


class FakeTrainer:
    def __init__(self, sharp: bool = True) -> None:
        self.sharp = sharp
        self.trained_on: list = []

    def params(self):
        return {"kind": "fake", "sharp": self.sharp}

    def train(self, triples, out_dir, progress=None):
        self.trained_on = list(triples)
        out_dir.mkdir(parents=True)
        (out_dir / "model.onnx").write_bytes(b"sharp" if self.sharp else b"blunt")
        (out_dir / "tokenizer.json").write_text("{}")
        for step in (1, 2):
            if progress:
                progress(step, 2, 1.0 / step)
        return out_dir, [1.0, 0.5]

    def encoder(self, folder):
        return TopicEncoder((folder / "model.onnx").read_bytes() == b"sharp")


def test_training_pairs_are_the_labelled_pairs_that_differ():
    pairs = [
        QuestionPair("1", "a?", "b?", 1),
        QuestionPair("2", "a?", "c?", 0),
        QuestionPair("3", "D?", "d ?", 1),  # the same once normalised: the exact layer's
        QuestionPair("4", "e", "E", 0),  # the same text labelled apart: contradictory
    ]
    assert training_pairs(pairs) == [("a?", "b?", 1), ("a?", "c?", 0)]


def test_a_sharp_model_is_registered_promoted_and_published():
    registry, store = InMemoryModelRegistry(), MemoryObjectStore()
    trainer = FakeTrainer()
    stages = []
    run = train_duplicate_model(
        _pairs(),
        trainer=trainer,
        registry=registry,
        served=ServedModels(store),
        replay_stores=replay_cache_stores,
        progress=lambda stage, done, total: stages.append(stage),
    )
    assert {"training", "measuring"} <= set(stages)
    fit_ids = {p.pair_id for p in _pairs() if split_of(p) == FIT}
    assert len(trainer.trained_on) == len(fit_ids)  # the fit split only
    assert run.holdout.hit_rate == 1.0 and run.holdout.false_hit_rate == 0.0
    assert (run.version, run.promoted, run.reason) == (1, True, "first champion")
    assert registry.champion(DUPLICATE_MODEL)[0] == 1
    assert registry.models[DUPLICATE_MODEL][0]["curves"] == {"loss": [1.0, 0.5]}
    served = ServedModels(store).champion(DUPLICATE_MODEL)
    assert served.version == 1 and served.files == ("model.onnx", "tokenizer.json")
    assert served.metadata["threshold"] == run.threshold


def test_a_worse_model_is_registered_but_not_promoted():
    registry, store = InMemoryModelRegistry(), MemoryObjectStore()
    common = dict(registry=registry, served=ServedModels(store), replay_stores=replay_cache_stores)
    train_duplicate_model(_pairs(), trainer=FakeTrainer(sharp=True), **common)
    run = train_duplicate_model(_pairs(), trainer=FakeTrainer(sharp=False), **common)
    assert run.version == 2 and not run.promoted
    assert "worse than champion v1" in run.reason
    assert registry.champion(DUPLICATE_MODEL)[0] == 1
    assert ServedModels(store).champion(DUPLICATE_MODEL).version == 1
    unpromoted = train_duplicate_model(
        _pairs(), trainer=FakeTrainer(sharp=True), promote=False, **common
    )
    assert unpromoted.version == 3 and not unpromoted.promoted


def test_no_worse_weighs_hit_rate_and_false_hits():
    champion = {"holdout_hit_rate": 0.4, "holdout_false_hit_rate_distinct": 0.006}
    better = {"holdout_hit_rate": 0.5, "holdout_false_hit_rate_distinct": 0.007}
    assert no_worse(better, champion, target=0.008)
    assert not no_worse({**better, "holdout_hit_rate": 0.39}, champion, target=0.008)
    assert not no_worse({**better, "holdout_false_hit_rate_distinct": 0.02}, champion, 0.008)


def test_too_few_pairs_is_a_clear_error():
    with pytest.raises(InvalidInput, match="too few pairs"):
        train_duplicate_model(
            [QuestionPair("1", "a", "b", 0)],
            trainer=FakeTrainer(),
            registry=InMemoryModelRegistry(),
            served=ServedModels(MemoryObjectStore()),
            replay_stores=replay_cache_stores,
        )


def test_the_cache_serves_the_published_champion_in_a_partition_of_its_own(tmp_path, monkeypatch):
    from ragops.adapters.duplicate_model import DuplicateModelQuestionIndex
    from ragops.adapters.memory_cache import NumpyQuestionIndex

    settings = Settings(data_dir=tmp_path, model_cache_dir=tmp_path / "models")
    container = build_container(settings)
    # Nothing published: the plain index, and the verifier decides.
    assert isinstance(container.answer_cache.questions, NumpyQuestionIndex)
    run = train_duplicate_model(
        _pairs(),
        trainer=FakeTrainer(),
        registry=InMemoryModelRegistry(),
        served=container.served_models,
        replay_stores=replay_cache_stores,
    )
    served = build_container(settings)
    loaded = {}

    def encoder(folder, *, version=None, workers=None):
        loaded.update(folder=folder, version=version, workers=workers)
        return TopicEncoder(sharp=(folder / "model.onnx").read_bytes() == b"sharp")

    import ragops.adapters.duplicate_model as duplicate_model

    monkeypatch.setattr(duplicate_model, "duplicate_model_encoder", encoder)
    cache = served.answer_cache
    assert loaded["version"] == 1 and (loaded["folder"] / "tokenizer.json").exists()
    assert loaded["workers"] == 1  # serving encodes one question at a time: one session
    questions = cache.questions
    assert isinstance(questions, DuplicateModelQuestionIndex)
    assert questions.threshold == run.threshold
    answer = Answer(answer="a", citations=[], model="m", usage=Usage(), latency_ms=0.0)
    partition = cache.partition("t", "scope")
    cache.remember("t", partition, "fixing topic 7", [1.0, 0.0], answer)
    # Kept by the model's vectors, in a partition of the model's own.
    assert questions.inner.nearest("t", partition, [1.0, 0.0], 1) == []
    topic7 = TopicEncoder(sharp=True).embed_array(["fixing topic 7"])[0]
    (kept,) = questions.inner.nearest("t", f"{partition}:fake/topics", topic7, 1)
    assert kept.question == "fixing topic 7"
    # A rephrasing is served by the model's cosine at its threshold; another topic is not.
    hit = cache.lookup_semantic("t", partition, "how do I fix topic 7?", [0.0, 1.0])
    assert hit is not None and hit.answer == "a"
    assert cache.lookup_semantic("t", partition, "fixing topic 8", [1.0, 0.0]) is None
    off = build_container(settings.replaced(cache_model="off")).answer_cache
    assert isinstance(off.questions, NumpyQuestionIndex)


def test_a_missed_question_is_encoded_once_for_lookup_and_remember():
    from ragops.adapters.duplicate_model import DuplicateModelQuestionIndex
    from ragops.services.answer_cache import SemanticCache

    class CountingEncoder(TopicEncoder):
        calls = 0

        def embed_array(self, texts):
            CountingEncoder.calls += len(texts)
            return super().embed_array(texts)

    store, questions = replay_cache_stores()
    cache = SemanticCache(
        store,
        DuplicateModelQuestionIndex(questions, CountingEncoder(sharp=True), 0.9),
        # The verifier would refuse everything: the model's candidates are not its to judge.
        DuplicateVerifier(threshold=1.0, similarity_floor=1.0, candidates=1),
    )
    partition = cache.partition("t", "s")
    assert cache.lookup_semantic("t", partition, "fixing topic 7", None) is None
    answer = Answer(answer="a", citations=[], model="m", usage=Usage(), latency_ms=0.0)
    cache.remember("t", partition, "fixing topic 7", [0.0], answer)
    assert CountingEncoder.calls == 1
    hit = cache.lookup_semantic("t", partition, "how do I fix topic 7?", None)
    assert hit is not None and hit.answer == "a" and CountingEncoder.calls == 2
    assert hit.info.similarity > 0.9 and hit.info.matched_question == "fixing topic 7"


def test_the_model_index_finds_nothing_for_a_caller_that_sends_no_question():
    from ragops.adapters.duplicate_model import DuplicateModelQuestionIndex

    _, questions = replay_cache_stores()
    index = DuplicateModelQuestionIndex(questions, TopicEncoder(sharp=True), 0.9)
    index.add("t", "p", "e1", "fixing topic 7", [0.0])
    assert index.nearest("t", "p", [0.0], 3) == []
    (found,) = index.nearest("t", "p", [0.0], 3, "fixing topic 7")
    assert found.entry_id == "e1" and found.serve_at == 0.9
