"""Training the answer cache's own duplicate-question model (``ragops cache train``).

The pairs are split as ``ragops cache calibrate`` splits them (``split_of``): the model is
trained on the fit 60%, its cosine threshold is set on the tune 20% (the lowest whose
nearest-neighbour replay stays at or below the false-hit rate aimed at), and its figures
are those of the holdout 20%, replayed through the real ``SemanticCache``. The run goes to
the model registry as a new version; it becomes the champion, and is published to the
object store for serving, only when its holdout figures are no worse than the champion's.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragops.domain.cache import DuplicateVerifier, normalise_question
from ragops.errors import InvalidInput
from ragops.ports import CacheStore, DuplicateModelTrainer, ModelRegistry, QuestionIndex
from ragops.repositories.served_models import ServedModel, ServedModels
from ragops.services.cache_evaluation import (
    FIT,
    HOLDOUT,
    TUNE,
    CacheReplay,
    QuestionPair,
    embed_questions,
    plain_cosine_for,
    replay_pairs,
    split_of,
)

DUPLICATE_MODEL = "ragops-cache-duplicates"
THRESHOLD_GRID = tuple(x / 1000 for x in range(500, 1000))
Progress = Callable[[str, int, int], None]


def training_pairs(pairs: Sequence[QuestionPair]) -> list[tuple[str, str, int]]:
    """``(question1, question2, label)`` of every pair whose two questions differ once
    normalised (the exact layer answers a question asked word for word again; such a pair
    teaches nothing, or contradicts itself when labelled 0)."""
    return [
        (p.question1, p.question2, p.label)
        for p in pairs
        if normalise_question(p.question1) != normalise_question(p.question2)
    ]


@dataclass(frozen=True)
class DuplicateModelRun:
    version: int
    promoted: bool
    reason: str
    threshold: float
    holdout: CacheReplay
    champion_before: tuple[int, dict[str, float]] | None
    train_seconds: float
    steps: int
    examples: int

    def metrics(self) -> dict[str, float]:
        return {
            "threshold": self.threshold,
            "holdout_hit_rate": self.holdout.hit_rate,
            "holdout_false_hit_rate": self.holdout.false_hit_rate,
            "holdout_false_hit_rate_distinct": self.holdout.false_hit_rate_distinct,
            "holdout_wrong_hit_rate": self.holdout.wrong_hit_rate,
            "train_seconds": round(self.train_seconds, 1),
        }


def no_worse(candidate: dict[str, float], champion: dict[str, float], target: float) -> bool:
    """The promotion rule: at least the champion's holdout hit rate, with distinct false
    hits within the target or no more than the champion's."""
    allowed = max(target, champion.get("holdout_false_hit_rate_distinct", 0.0))
    return (
        candidate["holdout_hit_rate"] >= champion.get("holdout_hit_rate", 0.0)
        and candidate["holdout_false_hit_rate_distinct"] <= allowed
    )


def train_duplicate_model(
    pairs: Sequence[QuestionPair],
    *,
    trainer: DuplicateModelTrainer,
    registry: ModelRegistry,
    served: ServedModels,
    replay_stores: Callable[[], tuple[CacheStore, QuestionIndex]],
    max_false_hit_rate: float = 0.008,
    promote: bool = True,
    progress: Progress | None = None,
) -> DuplicateModelRun:
    """Train, measure, register; promote and publish when no worse than the champion."""
    fit = [p for p in pairs if split_of(p) == FIT]
    tune = [p for p in pairs if split_of(p) == TUNE]
    holdout = [p for p in pairs if split_of(p) == HOLDOUT]
    examples = training_pairs(fit)
    if not any(label for _, _, label in examples) or not tune or not holdout:
        raise InvalidInput(
            "too few pairs to train: the fit split needs duplicates (label 1) and the tune "
            "and holdout splits need pairs"
        )
    with tempfile.TemporaryDirectory(prefix="ragops-duplicates-") as scratch:
        started = time.perf_counter()
        folder, losses = trainer.train(
            examples,
            Path(scratch) / "model",
            (lambda step, steps, _: progress("training", step, steps)) if progress else None,
        )
        train_seconds = time.perf_counter() - started
        encoder = trainer.encoder(folder)
        done = 0
        questions = len({q for p in tune + holdout for q in (p.question1, p.question2)})

        def embed(batch: list[str]) -> Any:
            nonlocal done
            vectors = encoder.embed_array(batch)
            done += len(batch)
            if progress:
                progress("measuring", done, questions)
            return vectors

        vectors = embed_questions(tune + holdout, embed)
        threshold = plain_cosine_for(tune, vectors, max_false_hit_rate, THRESHOLD_GRID)
        verifier = DuplicateVerifier(threshold=threshold, similarity_floor=threshold, candidates=1)
        replay = replay_pairs(holdout, vectors, verifier, replay_stores())
        run = DuplicateModelRun(
            version=0,
            promoted=False,
            reason="",
            threshold=threshold,
            holdout=replay,
            champion_before=registry.champion(DUPLICATE_MODEL),
            train_seconds=train_seconds,
            steps=len(losses),
            examples=len(examples),
        )
        params = {
            **trainer.params(),
            "pairs": len(pairs),
            "fit_pairs": len(fit),
            "training_pairs": len(examples),
            "max_false_hit_rate": max_false_hit_rate,
        }
        report = {"params": params, "metrics": run.metrics(), "holdout": replay.to_dict()}
        version = registry.register(
            DUPLICATE_MODEL, folder, params, run.metrics(), {"loss": losses}, report
        )
        promoted, reason = _promotion(run, max_false_hit_rate, promote)
        if promoted:
            registry.set_champion(DUPLICATE_MODEL, version)
            served.publish(
                ServedModel(
                    DUPLICATE_MODEL,
                    version,
                    tuple(sorted(f.name for f in folder.iterdir() if f.is_file())),
                    {"threshold": threshold, "metrics": run.metrics()},
                ),
                folder,
            )
    return DuplicateModelRun(
        **{**run.__dict__, "version": version, "promoted": promoted, "reason": reason}
    )


def _promotion(run: DuplicateModelRun, target: float, promote: bool) -> tuple[bool, str]:
    if not promote:
        return False, "registered only (--no-promote)"
    if run.holdout.false_hit_rate_distinct > target * 1.5:
        return False, (
            f"holdout distinct false hits {run.holdout.false_hit_rate_distinct:.2%} are far "
            f"above the {target:.2%} aimed at"
        )
    if run.champion_before is None:
        return True, "first champion"
    version, figures = run.champion_before
    if no_worse(run.metrics(), figures, target):
        return True, f"no worse than champion v{version} on the holdout split"
    return False, (
        f"worse than champion v{version} on the holdout split (hit rate "
        f"{run.holdout.hit_rate:.1%} against {figures.get('holdout_hit_rate', 0.0):.1%}, "
        f"distinct false hits {run.holdout.false_hit_rate_distinct:.2%} against "
        f"{figures.get('holdout_false_hit_rate_distinct', 0.0):.2%})"
    )
