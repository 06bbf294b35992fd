"""The answer cache on QQP: hit rate and false-hit rate of the shipped verifier and of the
duplicate-question model ``ragops cache train`` promoted, each against plain
all-MiniLM-L6-v2 cosine thresholding (the product's embedder) tuned to the same false-hit
rate, measured in the same run, and lookup latency with 100k cached questions.

Pairs are the *holdout* fifth of ``qqp_train.jsonl`` (``split_of``): the verifier was
trained and its threshold set on the other four fifths (``ragops cache calibrate``).
Each replay caches every ``question1`` and looks up every ``question2`` through the
product's ``SemanticCache`` (exact layer, then the semantic layer), as
``ragops eval cache`` does.

False hits are printed two ways (see ``services/cache_evaluation.py``): ``false_hit_rate``
as the issue defines it (any hit on a label-0 pair), and ``false_hit_rate_distinct``,
which leaves out the label-0 lookups whose question is word for word a cached question
(QQP repeats questions across pairs; serving those is the exact layer's job and right).
The cosine baseline is tuned to the verifier's distinct false-hit rate.

The trained model is the champion published in the data directory's object store
(``--data-dir``, as ``ragops cache train`` left it), at the threshold it was promoted with;
without one only the verifier is measured.

Question embeddings are computed once and kept under ``--cache-dir`` (about 10 minutes
on 2 CPU cores the first time).

    python bench/cache.py [--pairs ../shared/data/qqp/qqp_train.jsonl] [--entries 100000]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from ragops.bootstrap import build_container, replay_cache_stores
from ragops.domain.cache import DuplicateVerifier, normalise_question
from ragops.services.cache_evaluation import (
    HOLDOUT,
    load_pairs,
    plain_cosine_for,
    replay_pairs,
    split_of,
)
from ragops.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def _embeddings(
    questions: list[str], embedder, cache_dir: Path, tag: str = ""
) -> dict[str, np.ndarray]:
    digest = hashlib.sha256(("\n".join(questions) + tag).encode()).hexdigest()[:16]
    path = cache_dir / f"qqp-{digest}.npy"
    if path.exists():
        matrix = np.load(path)
    else:
        print(f"embedding {len(questions)} questions (kept in {path})", file=sys.stderr)
        started = time.perf_counter()
        matrix = np.asarray(embedder.embed_array(questions), dtype=np.float32)
        print(f"  {time.perf_counter() - started:.0f} s", file=sys.stderr)
        cache_dir.mkdir(parents=True, exist_ok=True)
        np.save(path, matrix)
    return dict(zip(questions, matrix, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--pairs", type=Path, default=ROOT.parent / "shared/data/qqp/qqp_train.jsonl"
    )
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--cache-dir", type=Path, default=ROOT / ".ragops/bench")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/cache.json")
    parser.add_argument(
        "--data-dir", type=Path, default=Path(os.environ.get("RAGOPS_DATA_DIR", ROOT / ".ragops"))
    )
    args = parser.parse_args()

    pairs = load_pairs(args.pairs)
    holdout = [p for p in pairs if split_of(p) == HOLDOUT]
    held = {normalise_question(q) for p in holdout for q in (p.question1, p.question2)}
    # Filler for the 100k-entry cache: questions of the other splits that no holdout pair
    # asks, so they can only add wrong and false hits, never correct ones.
    filler = sorted(
        {
            normalise_question(q): q
            for p in pairs
            if split_of(p) != HOLDOUT
            for q in (p.question1, p.question2)
            if normalise_question(q) not in held
        }.values()
    )
    holdout_questions = sorted({q for p in holdout for q in (p.question1, p.question2)})
    needed_filler = max(0, args.entries - len({normalise_question(p.question1) for p in holdout}))
    filler = filler[:needed_filler]
    # The product's embedder (ONNX int8 by default), as the cache in the product embeds.
    embedder = build_container(Settings(data_dir=args.data_dir)).embedder
    vectors = _embeddings(
        holdout_questions + filler, embedder, args.cache_dir, tag=type(embedder).__name__
    )

    verifier = DuplicateVerifier.packaged()
    ours = replay_pairs(holdout, vectors, verifier, replay_cache_stores())
    cosine_threshold = plain_cosine_for(holdout, vectors, ours.false_hit_rate_distinct)
    plain = DuplicateVerifier(
        threshold=cosine_threshold, similarity_floor=cosine_threshold, candidates=1
    )
    baseline = replay_pairs(holdout, vectors, plain, replay_cache_stores())
    large = replay_pairs(
        holdout,
        vectors,
        verifier,
        replay_cache_stores(),
        extra_entries=((q, vectors[q]) for q in filler),
    )
    large_plain = replay_pairs(
        holdout,
        vectors,
        plain,
        replay_cache_stores(),
        extra_entries=((q, vectors[q]) for q in filler),
    )
    ratio = ours.hit_rate / baseline.hit_rate if baseline.hit_rate else float("inf")
    trained = _trained_model(args, holdout, holdout_questions, filler, vectors)
    result = {
        "pairs": len(holdout),
        "verifier": ours.to_dict(),
        "plain_cosine": baseline.to_dict(),
        "hit_rate_ratio": round(ratio, 3),
        "at_100k_entries": {"verifier": large.to_dict(), "plain_cosine": large_plain.to_dict()},
        "trained_model": trained,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"holdout pairs: {len(holdout)} ({ours.duplicates} duplicates)")
    for name, r in (("verifier", ours), (f"plain cosine >= {cosine_threshold:.3f}", baseline)):
        print(
            f"{name:>26}: hit {r.hit_rate:.1%}  wrong {r.wrong_hit_rate:.1%}  "
            f"false {r.false_hit_rate:.2%} (distinct {r.false_hit_rate_distinct:.2%})  "
            f"threshold {r.threshold}"
        )
    print(f"hit-rate ratio verifier / plain cosine at the same false-hit rate: {ratio:.2f}x")
    for name, r in (("verifier", large), ("plain cosine", large_plain)):
        print(
            f"{r.cached_entries} cached entries, {name}: lookup p50 {r.lookup_ms_p50} ms, "
            f"p95 {r.lookup_ms_p95} ms; hit {r.hit_rate:.1%}, "
            f"false {r.false_hit_rate:.2%} (distinct {r.false_hit_rate_distinct:.2%})"
        )
    if trained:
        t, base = trained["holdout"], trained["plain_cosine_same_false_hits"]
        print(
            f"trained model v{trained['version']} (cosine >= {t['threshold']}): hit "
            f"{t['hit_rate']:.1%}  wrong {t['wrong_hit_rate']:.1%}  false "
            f"{t['false_hit_rate']:.2%} (distinct {t['false_hit_rate_distinct']:.2%}); plain "
            f"MiniLM cosine at the same distinct false-hit rate (>= {base['threshold']}): hit "
            f"{base['hit_rate']:.1%}; ratio {trained['hit_rate_ratio']:.2f}x"
        )
        for point in trained["curve"]:
            print(
                f"  cosine >= {point['threshold']:.3f}: hit {point['hit_rate']:.1%}, wrong "
                f"{point['wrong_hit_rate']:.1%}, false {point['false_hit_rate']:.2%} "
                f"(distinct {point['false_hit_rate_distinct']:.2%})"
            )
        big = trained["at_100k_entries"]
        print(
            f"{big['cached_entries']} cached entries, trained model: lookup p50 "
            f"{big['lookup_ms_p50']} ms, p95 {big['lookup_ms_p95']} ms; hit "
            f"{big['hit_rate']:.1%}, false {big['false_hit_rate']:.2%} "
            f"(distinct {big['false_hit_rate_distinct']:.2%})"
        )
    print(f"written to {args.out}")


def _trained_model(args, holdout, holdout_questions, filler, base_vectors):
    """The champion duplicate model's replay on the holdout pairs (and with the filler),
    and plain MiniLM cosine tuned on the holdout to its distinct false-hit rate."""
    from ragops.services.cache_training import DUPLICATE_MODEL

    container = build_container(Settings(data_dir=args.data_dir))
    champion = container.served_models.champion(DUPLICATE_MODEL)
    if champion is None:
        print(f"no trained duplicate model published in {args.data_dir}", file=sys.stderr)
        return None
    encoder, threshold = container.cache_duplicate_model(workers=None)
    vectors = _embeddings(
        holdout_questions + filler,
        encoder,
        args.cache_dir,
        tag=f"{DUPLICATE_MODEL}-v{champion.version}",
    )
    model = DuplicateVerifier(threshold=threshold, similarity_floor=threshold, candidates=1)
    replay = replay_pairs(holdout, vectors, model, replay_cache_stores())
    same = plain_cosine_for(
        holdout,
        base_vectors,
        replay.false_hit_rate_distinct,
        tuple(x / 1000 for x in range(500, 1000)),
    )
    plain = DuplicateVerifier(threshold=same, similarity_floor=same, candidates=1)
    baseline = replay_pairs(holdout, base_vectors, plain, replay_cache_stores())
    large = replay_pairs(
        holdout,
        vectors,
        model,
        replay_cache_stores(),
        extra_entries=((q, vectors[q]) for q in filler),
    )
    curve = []
    for step in (-0.15, -0.1, -0.05, -0.025, 0.0, 0.025, 0.05):
        at = round(min(0.999, max(0.0, threshold + step)), 3)
        point = replay_pairs(
            holdout,
            vectors,
            DuplicateVerifier(threshold=at, similarity_floor=at, candidates=1),
            replay_cache_stores(),
        )
        curve.append(
            {
                "threshold": at,
                "hit_rate": round(point.hit_rate, 4),
                "wrong_hit_rate": round(point.wrong_hit_rate, 4),
                "false_hit_rate": round(point.false_hit_rate, 4),
                "false_hit_rate_distinct": round(point.false_hit_rate_distinct, 4),
            }
        )
    return {
        "version": champion.version,
        "curve": curve,
        "holdout": replay.to_dict(),
        "plain_cosine_same_false_hits": baseline.to_dict(),
        "hit_rate_ratio": round(replay.hit_rate / baseline.hit_rate, 3)
        if baseline.hit_rate
        else None,
        "at_100k_entries": large.to_dict(),
    }


if __name__ == "__main__":
    main()
