"""A prompt A/B experiment end to end with the real local models: the two packaged answer
templates (``answer-v1`` against ``answer-v2-quote``) on SQuAD 2.0's answerable questions.

The SQuAD paragraphs are indexed as documents of one tenant (all-MiniLM-L6-v2 and bm25s,
the local defaults); an experiment splits the questions between the templates by the
product's stable hash of tenant and user (one user id per question); SmolLM2-135M via
llama.cpp answers each one through ``answer_question``, and the answer is recorded as the
API and CLI record it.

Feedback is **simulated**: thumbs up when the answer contains one of the question's SQuAD
gold answer strings (case-insensitive), thumbs down otherwise (a "not found" answer
included). It is recorded through ``record_feedback``, and the report is the one
``ragops prompts report`` prints (``services.feedback.ab_report``), logged to MLflow in the
data directory unless ``--no-track``.

The local model is free, so cost is priced with ``--price-in``/``--price-out`` (US dollars
per million tokens; Amazon Nova 2 Lite's by default): it then follows the tokens each
template spends. The answer cache is off: every answer is generated, so latency and cost
are the templates' own. About 10 s an answer on 2 CPU cores.

    python bench/ab_prompts.py [--answers 60] [--squad ../shared/data/squad/squad_v2_normans.json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from ragops.adapters.llamacpp import SMOLLM2_MODEL_ID
from ragops.bootstrap import build_container
from ragops.errors import RequestBlocked
from ragops.services.abstention import load_squad
from ragops.services.answering import UNGROUNDED_PREFIX, answer_question
from ragops.services.costs import record_answer_cost
from ragops.services.feedback import ab_report, record_feedback
from ragops.services.ingestion import UploadedFile, ingest_files
from ragops.services.tracking import track_eval
from ragops.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
TENANT = "ab-squad"
VARIANTS = {"answer-v1": 1, "answer-v2-quote": 1}


def simulated_rating(answer: str, gold: tuple[str, ...]) -> str:
    """Thumbs up when the answer holds a gold answer string (case-insensitive)."""
    text = answer.casefold()
    return "up" if any(g.casefold() in text for g in gold) else "down"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--squad", type=Path, default=ROOT.parent / "shared/data/squad/squad_v2_normans.json"
    )
    parser.add_argument("--answers", type=int, default=60, help="questions answered, in all")
    parser.add_argument("--experiment", default="answer-quote-ab")
    parser.add_argument("--seed", type=int, default=0, help="which questions are drawn")
    parser.add_argument("--price-in", type=float, default=0.33)
    parser.add_argument("--price-out", type=float, default=2.75)
    parser.add_argument("--data-dir", type=Path, default=None, help="default: a new temp dir")
    parser.add_argument("--no-track", action="store_true", help="do not log to MLflow")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/ab_prompts.json")
    args = parser.parse_args()

    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="ragops-ab-bench-"))
    price = (args.price_in, args.price_out)
    settings = Settings(
        data_dir=data_dir,
        prompt_experiment=args.experiment,
        prompt_variants=VARIANTS,
        cache="off",
        tracking="off" if args.no_track else "mlflow",
        prices={SMOLLM2_MODEL_ID: price, f"{SMOLLM2_MODEL_ID}+long": price},
    )
    container = build_container(settings)
    paragraphs, questions = load_squad(args.squad)
    answerable = [q for q in questions if q.answerable and q.answers]
    drawn = random.Random(args.seed).sample(answerable, min(args.answers, len(answerable)))

    started = time.perf_counter()
    files = [
        UploadedFile(f"p{i:04d}.txt", text.encode("utf-8"), title=title or None)
        for i, (title, text) in enumerate(paragraphs)
    ]
    ingest_files(container.ingest_context(), tenant=TENANT, files=files)
    print(
        f"indexed {len(files)} paragraphs in {time.perf_counter() - started:.0f} s", file=sys.stderr
    )

    ctx = container.answer_context()
    store = container.store
    # Load the models before timing: one question that is not drawn, not recorded.
    spare = next((q for q in answerable if q not in drawn), answerable[0])
    answer_question(ctx, tenant=TENANT, question=spare.question, user="warm-up")
    blocked = 0
    fallbacks: dict[str, list[str]] = {v: [] for v in VARIANTS}
    started = time.perf_counter()
    for i, item in enumerate(drawn):
        try:
            answer = answer_question(
                ctx, tenant=TENANT, question=item.question, user=f"user-{i:03d}"
            )
        except RequestBlocked:
            blocked += 1
            continue
        record_answer_cost(store, TENANT, answer)
        rating = simulated_rating(answer.answer, item.answers)
        record_feedback(store, TENANT, answer.answer_id, rating)
        if answer.answer.startswith(UNGROUNDED_PREFIX):
            fallbacks[answer.prompt.version].append(rating)
        print(
            f"{i + 1}/{len(drawn)} {answer.prompt.version:16} {rating:4} "
            f"{answer.latency_ms:6.0f} ms  {item.question[:60]!r} -> {answer.answer[:80]!r}",
            file=sys.stderr,
        )
    elapsed = time.perf_counter() - started

    report = ab_report(store, tenant=TENANT, experiment=args.experiment)
    summary = {
        **report.to_dict(),
        "questions": len(drawn),
        "blocked": blocked,
        "seed": args.seed,
        "price_per_million_tokens": {"input": args.price_in, "output": args.price_out},
        "feedback": "simulated: up when the answer contains a SQuAD gold answer string",
        "answering_seconds": round(elapsed, 1),
        "passage_fallbacks": {
            v: {"answers": len(r), "thumbs_up": r.count("up")} for v, r in fallbacks.items()
        },
    }
    if not args.no_track:
        params = {**report.params(), "dataset": str(args.squad), "seed": args.seed}
        summary.update(
            track_eval(container.tracker, container.settings, "prompts-ab", params, summary)
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n")

    print(f"{len(drawn)} questions ({blocked} blocked), answered in {elapsed:.0f} s")
    print(
        "| variant | answers | grounded | p50 ms | p95 ms | cost/answer | cost total "
        "| thumbs up | 95% interval | p vs first |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in report.variants:
        votes = r.thumbs_up + r.thumbs_down
        low, high = r.thumbs_up_ci95 or (0.0, 1.0)
        rate = f"{r.thumbs_up_rate:.1%}" if r.thumbs_up_rate is not None else "-"
        p_value = "" if r.p_value_vs_first is None else f"{r.p_value_vs_first:.3f}"
        print(
            f"| {r.prompt_version} | {r.answers} | {r.grounded_share:.0%} "
            f"| {r.latency_ms_p50:.0f} | {r.latency_ms_p95:.0f} | ${r.mean_cost_usd:.7f} "
            f"| ${r.total_cost_usd:.6f} | {r.thumbs_up}/{votes} ({rate}) "
            f"| {low:.2f}-{high:.2f} | {p_value} |"
        )
    for comparison in report.comparisons:
        print(comparison.statement)
    for variant, ratings in fallbacks.items():
        print(
            f"{variant}: {len(ratings)} answers fell back to the most relevant passage "
            f"(no generated sentence verified), {ratings.count('up')} of them thumbs up"
        )
    if "mlflow_run_id" in summary:
        print(f"MLflow run {summary['mlflow_run_id']} in {summary['tracking_uri']}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
