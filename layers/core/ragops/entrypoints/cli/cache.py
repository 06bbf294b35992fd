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
    err,
    fails_on_ragops_error,
    out,
)

cache_app = typer.Typer(help="Calibrate the answer cache.", no_args_is_help=True)


def _embedded_pairs(container: Any, pairs: list[Any]) -> dict[str, Any]:
    """Both questions of every pair embedded (``eval cache`` and ``cache calibrate``)."""
    from ragops.services.cache_evaluation import embed_questions

    with _progress() as progress:
        task = progress.add_task("embedding questions", total=len(pairs) * 2)

        def embed(batch: list[str]) -> Any:
            vectors = container.embedder.embed_array(batch)
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
