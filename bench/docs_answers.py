"""How well the embedded default answers questions about the docs ``make run`` serves.

docs/*.md are indexed into a scratch data directory as ``make run`` does; every question of
``bench/docs_questions.json`` goes through ``answer_question`` (the code the API runs, cache
off) and counts as answered from an expected section when its first citation lies in one of
the sections listed for it (a file and a heading-path prefix), answered elsewhere, or
declined. The sets: ``issue`` (the answers issue's five), ``earlier`` (written in earlier
sessions while reading the answers; docs and reader were mended for several) and ``fresh``
(written in a later session before their answers were read; a few answers were mended after)
and ``held_out`` (written with their sections in that session, and only counted, never read
or tuned on: the check that what was mended for the others holds).
A section is a coarse check: an answer from the right section may still quote a sentence
beside the point, so ``--show`` prints every answer to read.

    python bench/docs_answers.py [--set fresh] [--show] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from answers import docs_container  # bench/answers.py, beside this script

from ragops.services.answering import answer_question

QUESTIONS = Path(__file__).resolve().parent / "docs_questions.json"


def verdict(answer, sections: list[list[str]]) -> str:
    """``expected``, ``elsewhere`` or ``declined``."""
    if answer.abstained or not answer.citations:
        return "declined"
    first = answer.citations[0]
    path = first.section or ""
    expected = any(
        first.source == source and path.startswith(prefix) for source, prefix in sections
    )
    return "expected" if expected else "elsewhere"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", action="append", help="only these sets (repeatable)")
    parser.add_argument("--show", action="store_true", help="print every answer")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sets = json.loads(QUESTIONS.read_text())["sets"]
    chosen = {name: rows for name, rows in sets.items() if not args.set or name in args.set}

    with tempfile.TemporaryDirectory(prefix="ragops-bench-docs-") as scratch:
        ctx = docs_container(Path(scratch)).answer_context()
        results: dict[str, list[dict]] = {}
        for name, rows in chosen.items():
            results[name] = []
            for row in rows:
                answer = answer_question(ctx, tenant="docs", question=row["question"])
                first = answer.citations[0] if answer.citations else None
                results[name].append(
                    {
                        "question": row["question"],
                        "verdict": verdict(answer, row["sections"]),
                        "cited": f"{first.source} > {first.section}" if first else None,
                        "answer": answer.answer,
                    }
                )
    report = {
        name: {
            "questions": len(rows),
            **{v: sum(r["verdict"] == v for r in rows) for v in ("expected", "elsewhere")},
            "declined": sum(r["verdict"] == "declined" for r in rows),
            "answers": rows,
        }
        for name, rows in results.items()
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{'set':<10}{'questions':>10}{'expected':>10}{'elsewhere':>11}{'declined':>10}")
    for name, r in report.items():
        print(
            f"{name:<10}{r['questions']:>10}{r['expected']:>10}{r['elsewhere']:>11}"
            f"{r['declined']:>10}"
        )
    for name, r in report.items():
        missed = [a for a in r["answers"] if a["verdict"] != "expected"]
        shown = r["answers"] if args.show else missed
        if shown:
            print(f"\n# {name}{'' if args.show else ': not from an expected section'}")
        for a in shown:
            print(f"\n{a['question']}  [{a['verdict']}; {a['cited']}]\n  {a['answer']}")


if __name__ == "__main__":
    main()
