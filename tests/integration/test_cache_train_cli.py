"""``ragops cache train`` for real, on a small pairs file: torch fine-tuning from the
packaged MiniLM, the ONNX int8 export, MLflow's registry on SQLite, the object store; then
the cache serves the champion through ONNX Runtime."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from ragops.adapters.duplicate_model import DuplicateModelQuestionIndex
from ragops.bootstrap import build_container
from ragops.entrypoints.cli import app
from ragops.services.cache_training import DUPLICATE_MODEL
from ragops.settings import Settings

pytestmark = pytest.mark.slow

TOPICS = [
    ("How do I reset my password?", "What is the way to reset a forgotten password?"),
    ("How do I learn Python quickly?", "What is the fastest way to learn Python?"),
    ("Why is the sky blue?", "What makes the sky look blue?"),
    ("How can I lose weight fast?", "What is the quickest way to lose weight?"),
    ("What is the capital of France?", "Which city is the capital of France?"),
    ("How do vaccines work?", "In what way do vaccines protect us?"),
    ("How do I start a business?", "What are the first steps to start a company?"),
    ("What is machine learning?", "Can someone explain machine learning?"),
]


def _pairs_file(path):
    rows, n = [], 0
    for repeat in range(12):
        for a, b in TOPICS:
            rows.append(
                {
                    "id": n,
                    "question1": f"{a} ({repeat})",
                    "question2": f"{b} ({repeat})",
                    "label": 1,
                }
            )
            n += 1
            other = TOPICS[(TOPICS.index((a, b)) + 1) % len(TOPICS)][1]
            rows.append(
                {
                    "id": n,
                    "question1": f"{a} ({repeat})",
                    "question2": f"{other} ({repeat})",
                    "label": 0,
                }
            )
            n += 1
    path.write_text("\n".join(json.dumps(r) for r in rows))
    return path


def test_cache_train_registers_publishes_and_the_cache_serves_it(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGOPS_MODEL_CACHE_DIR", str(tmp_path / "models"))
    pairs = _pairs_file(tmp_path / "pairs.jsonl")
    result = CliRunner().invoke(
        app,
        [
            "cache",
            "train",
            "--pairs",
            str(pairs),
            "--data-dir",
            str(tmp_path / "data"),
            "--epochs",
            "1",
            "--batch-size",
            "8",
            "--max-false-hit-rate",
            "0.5",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "registered version 1" in result.output
    assert "champion: first champion" in result.output
    settings = Settings(data_dir=tmp_path / "data", model_cache_dir=tmp_path / "models")
    container = build_container(settings)
    assert container.model_registry.champion(DUPLICATE_MODEL)[0] == 1
    questions = container.answer_cache.questions
    assert isinstance(questions, DuplicateModelQuestionIndex)
    encoder = questions.encoder
    assert encoder.model_id.endswith("@v1")
    vectors = encoder.embed_array([TOPICS[0][0], TOPICS[0][1], TOPICS[2][0]])
    assert vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    # `ragops eval cache` replays through the served model, at its threshold.
    replayed = CliRunner().invoke(
        app,
        [
            *("eval", "cache", "--pairs", str(pairs), "--split", "holdout", "--json"),
            *("--data-dir", str(tmp_path / "data"), "--no-track"),
        ],
    )
    assert replayed.exit_code == 0, replayed.output
    report = json.loads(replayed.output.strip().splitlines()[-1])
    assert report["threshold"] == questions.threshold
    assert report["hit_rate"] > 0


def test_cache_train_names_a_bad_pairs_file(tmp_path):
    bad = tmp_path / "pairs.jsonl"
    bad.write_text('{"question1": "a"}\n')
    result = CliRunner().invoke(
        app, ["cache", "train", "--pairs", str(bad), "--data-dir", str(tmp_path)]
    )
    assert result.exit_code != 0
    assert "pairs.jsonl, line 1" in result.output
