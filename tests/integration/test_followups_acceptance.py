"""The follow-up figure of the conversations issue, held: on the follow-ups built from the
13 SQuAD dev articles, asked through the conversation code the API runs with the real
embedder, the follow-up's first citation is the gold paragraph in at least 80% of cases
in its conversation, far more than the same follow-up asked alone
(``ragops eval followups``; docs/evaluation.md has the run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragops.services.followup_evaluation import evaluate_followups

pytestmark = pytest.mark.slow

SQUAD = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "squad"


def test_follow_ups_cite_the_gold_paragraph_in_their_conversation(tmp_path, real_embedder):
    from ragops.bootstrap import build_container, scratch_store
    from ragops.settings import Settings

    container = build_container(
        Settings(data_dir=tmp_path / "data", cache="off"), embedder=real_embedder
    )
    report = evaluate_followups(
        container.ingest_context(),
        container.query_context(),
        container.question_rewriter,
        scratch_store(tmp_path / "scratch"),
        SQUAD / "squad_v2_dev_articles.json",
    )
    assert report.cases >= 400
    assert report.in_conversation["first_citation_gold"] >= 0.80
    assert (
        report.alone["first_citation_gold"] <= report.in_conversation["first_citation_gold"] - 0.15
    )
