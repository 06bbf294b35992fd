"""The prompt A/B report: latency and cost per variant, the significance test in words, the
report in MLflow and on ``ragops prompts report``."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from ragops.adapters.localfs import LocalFsObjectStore
from ragops.bootstrap import build_container
from ragops.domain.metrics import percentile
from ragops.services.answering import answer_question
from ragops.services.costs import answer_record_key, record_answer_cost
from ragops.services.feedback import ab_report, prompt_report, record_feedback
from ragops.services.ingestion import ingest_document
from ragops.services.tracking import EXPERIMENT, track_eval
from ragops.settings import Settings
from tests.fakes import GENERATIVE, FakeClock, RecordingTracker, ScriptedChatModel

GUIDE = (
    b"# Operations guide\n\nPausing the tier destroys the EKS cluster with Terraform.\n\n"
    b"The semantic cache keeps answers in Redis with a time to live.\n"
)
QUOTE = "answer-v2-quote"
PLAIN = "answer-v1"


class VariantAwareChatModel(ScriptedChatModel):
    """Slower (40 ms on ``clock`` against 5 ms) and wordier when the quote template's
    system prompt is in the messages."""

    def __init__(self, responses, clock: FakeClock) -> None:
        super().__init__(responses)
        self.clock = clock

    def generate(self, messages):
        quote = messages[0].content.startswith("Answer the question in one or two sentences")
        self.clock.advance(0.040 if quote else 0.005)
        if quote:
            self.responses = [
                "Pausing the tier destroys the EKS cluster with Terraform, as the guide says [1]."
            ]
        else:
            self.responses = ["Pausing destroys the EKS tier [1]."]
        return super().generate(messages)


def test_latency_and_cost_per_variant_are_those_of_its_answers(tmp_path, embedder, chroma_client):
    settings = Settings(
        data_dir=tmp_path / "data",
        min_relevance=0.1,
        cache="off",
        **GENERATIVE,
        prompt_experiment="speed",
        prompt_variants={PLAIN: 1, QUOTE: 1},
        prices={"fake-chat": (1.0, 100.0)},
    )
    clock = FakeClock()
    container = build_container(
        settings,
        embedder=embedder,
        chroma_client=chroma_client,
        chat_model=VariantAwareChatModel([""], clock),
    )
    ingest_document(container.ingest_context(), tenant="acme", filename="ops.md", data=GUIDE)
    context = replace(container.answer_context(), clock=clock)
    answers = []
    for i in range(16):
        answer = answer_question(
            context,
            tenant="acme",
            question="What does pausing the tier do?",
            user=f"u{i}",
        )
        record_answer_cost(container.store, "acme", answer)
        answers.append(answer)
    reports = {r.prompt_version: r for r in prompt_report(container.store, tenant="acme")}
    assert set(reports) == {PLAIN, QUOTE}
    for version, report in reports.items():
        mine = [a for a in answers if a.prompt.version == version]
        latencies = [a.latency_ms for a in mine]
        assert report.answers == len(mine) and report.cache_hits == 0
        assert report.latency_ms_p50 == pytest.approx(percentile(latencies, 0.5), abs=0.01)
        assert report.latency_ms_p95 == pytest.approx(max(latencies), abs=0.01)
        total = sum(a.cost.total_usd for a in mine)
        assert total > 0
        assert report.total_cost_usd == pytest.approx(total, rel=1e-6)
        assert report.mean_cost_usd == pytest.approx(total / len(mine), rel=1e-6)
    quote, plain = reports[QUOTE], reports[PLAIN]
    # Latency on the injected clock: only the chat model's time passes.
    assert quote.latency_ms_p50 == quote.latency_ms_p95 == 40.0
    assert plain.latency_ms_p50 == plain.latency_ms_p95 == 5.0
    assert quote.mean_cost_usd > plain.mean_cost_usd  # more output tokens at $100/M


def _answer(store, tenant, n, variant, *, latency, cost, day="2025-03-01", experiment="exp"):
    answer_id = f"{day.replace('-', '')}120000{n:06d}{n:08x}"
    record = {
        "tenant": tenant,
        "answer_id": answer_id,
        "prompt_version": variant,
        "experiment": experiment,
        "latency_ms": latency,
        "cache_hit": None,
        "abstained": False,
        "grounded": True,
        "total_usd": cost,
    }
    store.put(answer_record_key(tenant, answer_id), json.dumps(record).encode())
    return answer_id


def _experiment(store, *, plain_up=5, quote_up=15, votes=20, tenant="acme"):
    """``votes`` answers per variant: latency 100..(100+votes-1) ms for the plain one,
    twice that for the quote one; the first ``*_up`` get thumbs up, the rest down."""
    for offset, variant, up, scale, cost in (
        (0, PLAIN, plain_up, 1, 0.001),
        (1000, QUOTE, quote_up, 2, 0.003),
    ):
        for i in range(votes):
            answer_id = _answer(
                store, tenant, offset + i, variant, latency=scale * (100 + i), cost=cost
            )
            record_feedback(store, tenant, answer_id, "up" if i < up else "down")


def test_hand_written_records_give_exact_figures_and_a_significant_result(tmp_path):
    store = LocalFsObjectStore(tmp_path)
    _experiment(store)
    _answer(store, "acme", 5000, PLAIN, latency=1.0, cost=9.0, experiment="other")
    _answer(store, "acme", 5001, PLAIN, latency=1.0, cost=9.0, day="2025-02-27", experiment=None)
    report = ab_report(store, tenant="acme", experiment="exp")
    assert [(r.experiment, r.prompt_version) for r in report.variants] == [
        ("exp", PLAIN),
        ("exp", QUOTE),
    ]
    plain, quote = report.variants
    assert (plain.answers, plain.thumbs_up, plain.thumbs_down) == (20, 5, 15)
    assert (plain.latency_ms_p50, plain.latency_ms_p95) == (110.0, 118.0)  # nearest rank
    assert (quote.latency_ms_p50, quote.latency_ms_p95) == (220.0, 236.0)
    assert plain.mean_cost_usd == pytest.approx(0.001)
    assert plain.total_cost_usd == pytest.approx(0.02)
    assert quote.total_cost_usd == pytest.approx(0.06)
    assert (report.first_day, report.last_day) == ("2025-03-01", "2025-03-01")
    [comparison] = report.comparisons
    assert (comparison.variant, comparison.baseline) == (QUOTE, PLAIN)
    assert comparison.difference_points == 50.0
    assert comparison.p_value == quote.p_value_vs_first and comparison.p_value < 0.01
    assert comparison.significant is True
    assert comparison.statement == (
        f"{QUOTE} vs {PLAIN}: +50.0 points (n=20 vs 20), "
        f"p={comparison.p_value:.3f}, significant at 5%"
    )
    data = report.to_dict()
    assert set(data["variants"]) == {f"exp/{PLAIN}", f"exp/{QUOTE}"}
    assert data["comparisons"][f"exp/{QUOTE}"]["statement"] == comparison.statement
    # without the experiment filter, the other experiment's and the older answer count too
    everything = ab_report(store, tenant="acme")
    assert sum(r.answers for r in everything.variants) == 42
    assert everything.first_day == "2025-02-27"
    assert sum(r.answers for r in ab_report(store, since="2025-02-28").variants) == 41


def test_a_small_difference_is_stated_as_not_significant(tmp_path):
    store = LocalFsObjectStore(tmp_path)
    _experiment(store, plain_up=10, quote_up=11)
    [comparison] = ab_report(store).comparisons
    assert comparison.significant is False and comparison.p_value > 0.05
    assert comparison.statement.endswith("not significant at 5%")
    assert "+5.0 points (n=20 vs 20)" in comparison.statement


def test_no_feedback_on_one_side_is_stated_plainly(tmp_path):
    store = LocalFsObjectStore(tmp_path)
    _answer(store, "acme", 1, PLAIN, latency=10, cost=0.0)
    _answer(store, "acme", 2, QUOTE, latency=10, cost=0.0)
    [comparison] = ab_report(store).comparisons
    assert comparison.p_value is None and comparison.significant is None
    assert "not enough feedback" in comparison.statement


def test_the_report_is_logged_with_its_scope_and_figures(tmp_path):
    tracker = RecordingTracker()
    container = build_container(Settings(data_dir=tmp_path), tracker=tracker)
    _experiment(container.store)
    report = ab_report(container.store, tenant="acme", experiment="exp", since="2025-03-01")
    tracked = track_eval(
        container.tracker, container.settings, "prompts-ab", report.params(), report.to_dict()
    )
    run = tracker.run(tracked["mlflow_run_id"])
    assert run["experiment"] == EXPERIMENT
    params = run["params"]
    assert params["eval"] == "prompts-ab" and params["experiment"] == "exp"
    assert params["variants"] == f"exp/{PLAIN},exp/{QUOTE}"
    assert (params["since"], params["first_day"], params["last_day"]) == (
        "2025-03-01",
        "2025-03-01",
        "2025-03-01",
    )
    metrics = run["metrics"]
    assert metrics[f"variants.exp/{QUOTE}.thumbs_up_rate"] == 0.75
    assert metrics[f"variants.exp/{PLAIN}.latency_ms_p95"] == 118.0
    assert metrics[f"variants.exp/{QUOTE}.total_cost_usd"] == pytest.approx(0.06)
    assert metrics[f"comparisons.exp/{QUOTE}.difference_points"] == 50.0
    assert metrics[f"comparisons.exp/{QUOTE}.p_value"] < 0.01


def test_load_squad_keeps_the_gold_answers_of_answerable_questions(tmp_path):
    from ragops.services.abstention import load_squad

    qas = [
        {
            "question": "Where?",
            "answers": [{"text": "France"}, {"text": "France"}, {"text": "Gaul"}],
        },
        {"question": "Who?", "answers": [{"text": "x"}], "is_impossible": True},
    ]
    squad = {"data": [{"title": "T", "paragraphs": [{"context": "c", "qas": qas}]}]}
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(squad))
    _, questions = load_squad(path)
    assert [(q.answerable, q.answers) for q in questions] == [
        (True, ("France", "Gaul")),
        (False, ()),
    ]
