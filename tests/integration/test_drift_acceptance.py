"""`ragops monitor drift` with the real embedder on the shared data (issue 9's acceptance):
SciFact questions against other SciFact questions are not flagged, general web questions
(QQP) against SciFact are."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ragops.bootstrap import build_container
from ragops.entrypoints import cli
from ragops.settings import Settings

pytestmark = pytest.mark.slow

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


class CachedEmbedder:
    """The real embedder, embedding each text once across the two runs."""

    def __init__(self, embedder) -> None:
        self.embedder = embedder
        self.model_id = embedder.model_id
        self.max_input_tokens = embedder.max_input_tokens
        self.rows: dict[str, object] = {}

    def embed_array(self, texts):
        missing = [t for t in dict.fromkeys(texts) if t not in self.rows]
        if missing:
            self.rows.update(zip(missing, self.embedder.embed_array(missing), strict=True))
        return [self.rows[t] for t in texts]

    def token_counter(self):
        return self.embedder.token_counter()


def write(path: Path, texts: list[str]) -> str:
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    return str(path)


@pytest.mark.skipif(not (DATA / "scifact").is_dir(), reason="no shared data")
def test_scifact_is_not_flagged_against_scifact_and_qqp_is(real_embedder, tmp_path, monkeypatch):
    container = build_container(
        Settings(data_dir=tmp_path / "data"), embedder=CachedEmbedder(real_embedder)
    )
    monkeypatch.setattr(cli, "_container", lambda data_dir, serving=False: container)
    queries = [json.loads(line)["text"] for line in (DATA / "scifact/queries.jsonl").open()]
    shuffled = random.Random(0).sample(queries, len(queries))
    rows = [json.loads(line) for line in (DATA / "qqp/qqp_train.jsonl").open()]
    qqp = [r["question1"] for r in random.Random(0).sample(rows, 200)]
    reference = write(tmp_path / "scifact-a.jsonl", shuffled[: len(shuffled) // 2])
    same = write(tmp_path / "scifact-b.jsonl", shuffled[len(shuffled) // 2 :])
    other = write(tmp_path / "qqp.jsonl", qqp)

    def drift(current: str) -> dict:
        args = ["monitor", "drift", "--reference", reference, "--current", current, "--json"]
        result = CliRunner().invoke(cli.app, args)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    scifact = drift(same)
    assert scifact["drift"] is False and scifact["score"] < 0.5, scifact
    web = drift(other)
    assert web["drift"] is True and web["score"] > 3.0, web
    assert web["details"]["embedding"]["p_value"] < 0.01
