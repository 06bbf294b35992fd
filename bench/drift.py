"""Calibrate query drift on the shared data: windows of the same kind of question must not
be flagged, windows from another domain must be.

Writes question windows (JSON lines of ``{"text": ...}``, the format `ragops monitor drift`
reads) to ``--out`` and prints the score of each pair, as the command computes it:

- same domain: two random halves of the SciFact train queries; the first and second half
  by query id (the claims are sorted alphabetically, so the halves differ in how claims
  begin: a harder same-domain split); 100 questions against the reference half;
- other domain: QQP questions and SQuAD questions (one Wikipedia article, the Normans)
  against the SciFact reference half; SciFact windows with part of the questions
  replaced by QQP ones (partial drift);
- repeated random draws (``--repeats``) for the false-alarm rate at each window size.

With ``--tenant`` (an index of the SciFact corpus, e.g. the one `ragops eval retrieval
--dataset ../shared/data/scifact --split train` builds; its JSON names the tenant) the
best passage similarity is compared too; without it, embeddings only.

    python bench/drift.py [--data ../shared/data] [--tenant eval-scifact-...] \\
        [--data-dir .ragops] [--out .ragops/drift-windows]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from ragops.bootstrap import build_container
from ragops.domain.drift import MIN_WINDOW, compare_windows
from ragops.services.drift import best_similarities
from ragops.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def scifact_queries(data: Path) -> list[str]:
    rows = [json.loads(line) for line in (data / "scifact/queries.jsonl").open(encoding="utf-8")]
    return [r["text"] for r in rows]


def qqp_questions(data: Path, count: int, seed: int) -> list[str]:
    seen: dict[str, None] = {}
    for line in (data / "qqp/qqp_train.jsonl").open(encoding="utf-8"):
        row = json.loads(line)
        for key in ("question1", "question2"):
            text = row[key].strip()
            if text:
                seen.setdefault(text)
    return random.Random(seed).sample(list(seen), count)


def squad_questions(data: Path) -> list[str]:
    squad = json.loads((data / "squad/squad_v2_normans.json").read_text(encoding="utf-8"))
    return [
        qa["question"]
        for article in squad["data"]
        for paragraph in article["paragraphs"]
        for qa in paragraph["qas"]
    ]


def write_window(folder: Path, name: str, texts: list[str]) -> Path:
    path = folder / f"{name}.jsonl"
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared/data")
    parser.add_argument("--out", type=Path, default=ROOT / ".ragops/drift-windows")
    parser.add_argument("--tenant", help="tenant holding the SciFact corpus (optional)")
    parser.add_argument("--data-dir", type=Path, default=None, help="where that tenant lives")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--json", type=Path, default=ROOT / "bench/results/drift.json")
    args = parser.parse_args()

    rng = random.Random(0)
    scifact = scifact_queries(args.data)
    shuffled = rng.sample(scifact, len(scifact))
    half = len(shuffled) // 2
    qqp = qqp_questions(args.data, 1000, seed=0)
    squad = squad_questions(args.data)

    def mix(share: float, size: int = 300) -> list[str]:
        off = round(size * share)
        return shuffled[half : half + size - off] + qqp[:off]

    windows = {
        "scifact-a": shuffled[:half],
        "scifact-b": shuffled[half:],
        "scifact-first": scifact[: len(scifact) // 2],
        "scifact-second": scifact[len(scifact) // 2 :],
        "scifact-b-100": shuffled[half : half + 100],
        "qqp-400": qqp[:400],
        "qqp-100": qqp[:100],
        "squad-208": squad,
        "mix-qqp-10": mix(0.10),
        "mix-qqp-25": mix(0.25),
        "mix-qqp-50": mix(0.50),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    for name, texts in windows.items():
        write_window(args.out, name, texts)

    settings = Settings(data_dir=args.data_dir) if args.data_dir else Settings()
    container = build_container(settings)
    embedder = container.embedder
    unique = list(dict.fromkeys(scifact + qqp + squad))
    started = time.perf_counter()
    vectors = np.vstack(
        [np.asarray(embedder.embed_array(unique[i : i + 64])) for i in range(0, len(unique), 64)]
    )
    print(
        f"embedded {len(unique)} questions in {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )
    row_of = {text: i for i, text in enumerate(unique)}
    similarity: dict[str, float | None] = {}
    if args.tenant:
        if container.index.count(args.tenant) == 0:
            parser.error(f"tenant {args.tenant!r} has no documents in {settings.data_dir}")
        found = best_similarities(container.index, args.tenant, unique, vectors, settings.top_k)
        similarity = dict(zip(unique, found, strict=True))

    def compare(reference: list[str], current: list[str], seed: int = 0) -> dict:
        ref = vectors[[row_of[t] for t in reference]]
        cur = vectors[[row_of[t] for t in current]]
        sims = (
            ([similarity[t] for t in reference], [similarity[t] for t in current])
            if similarity
            else (None, None)
        )
        return compare_windows(ref, cur, *sims, seed=seed).to_dict()

    pairs = [
        ("same", "SciFact half A (random)", "SciFact half B", "scifact-a", "scifact-b"),
        (
            "same",
            "SciFact first half by id",
            "second half by id",
            "scifact-first",
            "scifact-second",
        ),
        ("same", "SciFact half A", "100 of half B", "scifact-a", "scifact-b-100"),
        ("other", "SciFact half A", "QQP, 400", "scifact-a", "qqp-400"),
        ("other", "SciFact half A", "QQP, 100", "scifact-a", "qqp-100"),
        ("other", "SciFact half A", "SQuAD (Normans), 208", "scifact-a", "squad-208"),
        ("mixed", "SciFact half A", "300: 90% half B, 10% QQP", "scifact-a", "mix-qqp-10"),
        ("mixed", "SciFact half A", "300: 75% half B, 25% QQP", "scifact-a", "mix-qqp-25"),
        ("mixed", "SciFact half A", "300: 50% half B, 50% QQP", "scifact-a", "mix-qqp-50"),
    ]
    rows = []
    print("| kind | reference | current | MMD² | KS (best similarity) | score | drift |")
    print("|---|---|---|---|---|---|---|")
    for kind, ref_label, cur_label, ref_name, cur_name in pairs:
        report = compare(windows[ref_name], windows[cur_name])
        details = report["details"]
        ks = details["top1_similarity"]
        ks_text = f"{ks['value']:.3f}" if ks["used"] else "-"
        print(
            f"| {kind} | {ref_label} ({len(windows[ref_name])}) | {cur_label} | "
            f"{details['embedding']['value']:.4f} | {ks_text} | {report['score']:.2f} | "
            f"{'**yes**' if report['drift'] else 'no'} |"
        )
        rows.append({"kind": kind, "reference": ref_name, "current": cur_name, **report})

    print("\nRepeated draws (seeded): same domain = two disjoint random SciFact windows;")
    print("other domain = a random SciFact window against a random QQP window.\n")
    print(
        "| window | same: flagged | max score | max MMD² | max KS "
        "| QQP: flagged | min score | min MMD² | min KS |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    draws = random.Random(1)
    repeats = []
    for size in (MIN_WINDOW, 200, 300, 400):
        same, other = [], []
        for repeat in range(args.repeats):
            picked = draws.sample(scifact, min(2 * size, len(scifact)))
            same.append(compare(picked[:size], picked[size:], seed=repeat))
            other.append(compare(draws.sample(scifact, size), draws.sample(qqp, size), repeat))

        def part(reports: list[dict], name: str) -> list[float]:
            return [r["details"][name]["value"] for r in reports if r["details"][name]["used"]] or [
                float("nan")
            ]

        row = {
            "window": size,
            "same_flagged": sum(r["drift"] for r in same),
            "same_max_score": max(r["score"] for r in same),
            "same_max_mmd2": max(part(same, "embedding")),
            "same_max_ks": max(part(same, "top1_similarity")),
            "other_flagged": sum(r["drift"] for r in other),
            "other_min_score": min(r["score"] for r in other),
            "other_min_mmd2": min(part(other, "embedding")),
            "other_min_ks": min(part(other, "top1_similarity")),
        }
        repeats.append(row)
        print(
            f"| {size} | {row['same_flagged']}/{args.repeats} | {row['same_max_score']:.2f} | "
            f"{row['same_max_mmd2']:.4f} | {row['same_max_ks']:.3f} | "
            f"{row['other_flagged']}/{args.repeats} | {row['other_min_score']:.2f} | "
            f"{row['other_min_mmd2']:.4f} | {row['other_min_ks']:.3f} |"
        )
    print(f"\nwindows written to {args.out}", file=sys.stderr)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"pairs": rows, "repeats": repeats}, indent=1))


if __name__ == "__main__":
    main()
