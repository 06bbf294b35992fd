"""``ragops cache``: calibrate the answer cache's duplicate verifier."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from ragops.entrypoints.cli.common import (
    DataDir,
    _container,
    _progress,
    _stage_progress,
    err,
    fails_on_ragops_error,
    out,
)

cache_app = typer.Typer(help="Calibrate the answer cache.", no_args_is_help=True)


def _embedded_pairs(container: Any, pairs: list[Any], embedder: Any = None) -> dict[str, Any]:
    """Both questions of every pair embedded (``eval cache`` and ``cache calibrate``), by
    ``embedder`` (the cache's duplicate model) or the container's embedder."""
    embedder = embedder or container.embedder
    from ragops.services.cache_evaluation import embed_questions

    with _progress() as progress:
        task = progress.add_task("embedding questions", total=len(pairs) * 2)

        def embed(batch: list[str]) -> Any:
            vectors = embedder.embed_array(batch)
            progress.advance(task, len(batch))
            return vectors

        return embed_questions(pairs, embed)


@cache_app.command("calibrate")
@fails_on_ragops_error
def cache_calibrate(
    pairs: Annotated[
        Path, typer.Option(help="JSON lines of {question1, question2, label} (QQP's format).")
    ],
    output: Annotated[Path, typer.Option("--out", help="Where to write the verifier (JSON).")],
    max_false_hit_rate: Annotated[
        float, typer.Option(min=0.0, max=0.5, help="False-hit rate the threshold aims at.")
    ] = 0.008,
    data_dir: DataDir = None,
) -> None:
    """Train the cache's duplicate verifier on 60% of the pairs and set its threshold on
    another 20% (the last 20% are left for bench/cache.py). Use it with
    RAGOPS_CACHE_VERIFIER_PATH."""
    from ragops.services.cache_evaluation import fit_verifier, load_pairs

    container = _container(data_dir)
    loaded = load_pairs(pairs)
    embeddings = _embedded_pairs(container, loaded)
    err.print("training the verifier")
    verifier = fit_verifier(
        loaded,
        embeddings,
        max_false_hit_rate=max_false_hit_rate,
        embedding_model=container.embedder.model_id,
        trained_on=pairs.name,
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(verifier.to_dict(), separators=(",", ":")))
    out.print(
        f"wrote {output}: {len(verifier.trees)} trees, threshold {verifier.threshold} "
        f"(cosine floor {verifier.similarity_floor})"
    )


@cache_app.command("train")
@fails_on_ragops_error
def cache_train(
    pairs: Annotated[
        Path, typer.Option(help="JSON lines of {question1, question2, label} (QQP's format).")
    ],
    max_false_hit_rate: Annotated[
        float, typer.Option(min=0.0, max=0.5, help="False-hit rate the threshold aims at.")
    ] = 0.008,
    epochs: Annotated[float, typer.Option(min=0.05, max=10.0)] = 1.0,
    batch_size: Annotated[int, typer.Option(min=4, max=1024)] = 64,
    learning_rate: Annotated[float, typer.Option(min=1e-7, max=1e-2)] = 3e-5,
    promote: Annotated[
        bool, typer.Option(help="Make it the champion when its holdout figures are no worse.")
    ] = True,
    data_dir: DataDir = None,
) -> None:
    """Fine-tune the cache's duplicate-question model from the packaged MiniLM on 60% of
    the pairs, set its threshold on 20%, measure it on the last 20%, register it in MLflow
    and, when no worse than the champion, serve it (the cache uses the champion)."""
    from ragops.bootstrap import replay_cache_stores
    from ragops.services.cache_evaluation import load_pairs
    from ragops.services.cache_training import train_duplicate_model

    container = _container(data_dir)
    loaded = load_pairs(pairs)
    trainer = container.duplicate_model_trainer(
        epochs=epochs, batch_size=batch_size, learning_rate=learning_rate
    )
    with _stage_progress() as progress:
        run = train_duplicate_model(
            loaded,
            trainer=trainer,
            registry=container.model_registry,
            served=container.served_models,
            replay_stores=replay_cache_stores,
            max_false_hit_rate=max_false_hit_rate,
            promote=promote,
            progress=progress,
        )
    h = run.holdout
    out.print(
        f"registered version {run.version} ({run.steps} steps on {run.examples} pairs in "
        f"{run.train_seconds:.0f} s); holdout: hit rate {h.hit_rate:.1%}, distinct false hits "
        f"{h.false_hit_rate_distinct:.2%} (all false hits {h.false_hit_rate:.2%}) at cosine "
        f">= {run.threshold}"
    )
    (out if run.promoted else err).print(
        f"{'champion' if run.promoted else 'not promoted'}: {run.reason}"
    )
