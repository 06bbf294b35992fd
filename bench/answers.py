"""End-to-end answer latency: the extractive default against generation with SmolLM2,
measured in the same run, on the same machine, over the same questions.

The product's own docs (docs/) are indexed into a scratch data directory; then every
question goes through ``answer_question`` (the code the API runs), with the cache off and
the models warm (one question answered in each mode first). The questions are the five a
new user asks about the docs, and the questions of a SQuAD file indexed as its own tenant.
Prints p50 / p95 per mode and the ratio, then the docs answers (the five, and fifteen more
held out); ``--json`` for one JSON object.

    python bench/answers.py [--squad ../shared/data/squad/squad_v2_normans.json]
                            [--questions 100] [--generative 20] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from ragops.bootstrap import build_container
from ragops.domain.metrics import percentile
from ragops.services.answer_evaluation import index_paragraphs
from ragops.services.answering import answer_question
from ragops.services.ingestion import UploadedFile, ingest_files
from ragops.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DOC_QUESTIONS = [
    "How does ragops keep tenants apart?",
    "What happens to queries while the tier is paused?",
    "How is hybrid fusion done?",
    "Which embedding model is used locally?",
    "What does the rehydrate command do?",
]
HELD_OUT_DOC_QUESTIONS = [
    # Written after the five above, to check that what was changed for them (the bold-lead
    # bonus of ragops.domain.extractive) does not cost other questions; answered, not timed.
    "What does ragops sync do?",
    "How are API keys stored?",
    "What is the circuit breaker for?",
    "How does the semantic cache decide a hit?",
    "What does the scaler function do?",
    "Where are chunk embeddings stored?",
    "What does the evaluation gate check?",
    "How is personal data masked in logs?",
    "What is maintenance mode?",
    "How does model routing choose a model?",
    "How are documents chunked?",
    "What does the guardrail do?",
    "How much does a query cost?",
    "How do I delete a document?",
    "What does the drift monitor watch?",
]


def docs_container(data_dir: Path):
    """A container over the scratch ``data_dir`` (cache and tracking off, the settings'
    pipeline) with docs/*.md ingested as tenant ``docs``, as ``make run`` serves them."""
    settings = Settings(data_dir=data_dir, cache="off", tracking="off", pipeline_source="settings")
    container = build_container(settings)
    docs = sorted((ROOT / "docs").glob("*.md"))
    ingest_files(
        container.ingest_context(),
        tenant="docs",
        files=[UploadedFile(p.name, p.read_bytes()) for p in docs],
    )
    return container


def timed(ctx, tenant: str, questions: list[str]) -> list[dict]:
    rows = []
    for question in questions:
        answer = answer_question(ctx, tenant=tenant, question=question)
        rows.append(
            {
                "question": question,
                "latency_ms": answer.latency_ms,
                "mode": str(answer.mode) if answer.mode else "declined",
                "fallback": answer.fallback,
                "answer": answer.answer,
                "cited": answer.citations[0].source if answer.citations else None,
            }
        )
    return rows


def summary(rows: list[dict]) -> dict:
    latencies = [r["latency_ms"] for r in rows]
    return {
        "questions": len(rows),
        "p50_ms": round(percentile(latencies, 0.5), 1),
        "p95_ms": round(percentile(latencies, 0.95), 1),
        "declined": sum(r["mode"] == "declined" for r in rows),
        "fallbacks": sum(bool(r["fallback"]) for r in rows),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--squad", type=Path, default=ROOT.parent / "shared/data/squad/squad_v2_normans.json"
    )
    parser.add_argument("--questions", type=int, default=100, help="SQuAD questions, extractive")
    parser.add_argument("--generative", type=int, default=20, help="of those, also generated")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ragops-bench-answers-") as scratch:
        container = docs_container(Path(scratch))
        squad_tenant, squad = index_paragraphs(container.ingest_context(), args.squad)
        asked = [q.question for q in squad[: args.questions]]

        extractive = replace(container.answer_context(), answer_mode="extractive")
        generative = replace(extractive, answer_mode="generative")
        for ctx in (extractive, generative):  # warm: models loaded, caches primed
            answer_question(ctx, tenant="docs", question="What is ragops?")

        results = {
            "extractive_docs": timed(extractive, "docs", DOC_QUESTIONS),
            "extractive_squad": timed(extractive, squad_tenant, asked),
            "generative_docs": timed(generative, "docs", DOC_QUESTIONS),
            "generative_squad": timed(generative, squad_tenant, asked[: args.generative]),
            "extractive_held_out": timed(extractive, "docs", HELD_OUT_DOC_QUESTIONS),
        }
    extractive_all = results["extractive_docs"] + results["extractive_squad"]
    generative_all = results["generative_docs"] + results["generative_squad"]
    report = {
        "extractive": summary(extractive_all),
        "generative": summary(generative_all),
        "docs_answers": {
            r["question"]: {"answer": r["answer"], "cited": r["cited"]}
            for r in results["extractive_docs"]
        },
        "held_out_docs_answers": {
            r["question"]: {"answer": r["answer"], "cited": r["cited"]}
            for r in results["extractive_held_out"]
        },
    }
    e, g = report["extractive"], report["generative"]
    report["speedup_p50"] = round(g["p50_ms"] / e["p50_ms"], 1) if e["p50_ms"] else None
    report["speedup_p95"] = round(g["p95_ms"] / e["p95_ms"], 1) if e["p95_ms"] else None
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{'mode':<12}{'questions':>10}{'p50 ms':>10}{'p95 ms':>10}{'declined':>10}")
    for mode in ("extractive", "generative"):
        r = report[mode]
        print(
            f"{mode:<12}{r['questions']:>10}{r['p50_ms']:>10}{r['p95_ms']:>10}{r['declined']:>10}"
        )
    print(f"extractive is {report['speedup_p50']}x faster at p50, {report['speedup_p95']}x at p95")
    for title, key in (("The five", "docs_answers"), ("Held out", "held_out_docs_answers")):
        print(f"\n# {title}")
        for question, found in report[key].items():
            print(f"\n{question}\n  {found['answer']}\n  ({found['cited']})")


if __name__ == "__main__":
    main()
