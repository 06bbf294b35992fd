"""``ragops eval followups``: follow-up questions asked in a conversation, against the
same follow-ups asked alone (the package adds it to ``eval``)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ragops.entrypoints.cli.common import (
    DataDir,
    JsonFlag,
    NoTrack,
    _container,
    _progress,
    _tracked,
    fails_on_ragops_error,
    out,
)


@fails_on_ragops_error
def eval_followups(
    dataset: Annotated[
        Path, typer.Option(help="SQuAD 2.0 JSON: its paragraphs are indexed and asked about.")
    ],
    cases: Annotated[
        Path | None,
        typer.Option(
            help="A follow-up set (as --write-set wrote it) instead of the one built from "
            "the dataset's questions.",
        ),
    ] = None,
    write_set: Annotated[
        Path | None, typer.Option(help="Also write the follow-up set asked to this file.")
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Ask only the first N cases.")] = None,
    data_dir: DataDir = None,
    json_output: JsonFlag = False,
    no_track: NoTrack = False,
) -> None:
    """Follow-ups: pairs of questions on one SQuAD paragraph, the second rewritten to lean
    on the first ("When did they arrive?"). Each is asked after the first in a
    conversation, and alone; the share whose first citation is the gold paragraph is
    reported for both, and for the original question asked alone."""
    from ragops.bootstrap import scratch_store
    from ragops.services import followup_evaluation as followups

    container = _container(data_dir)
    chosen = followups.load_followups(cases) if cases is not None else None
    with _progress() as bar, tempfile.TemporaryDirectory(prefix="ragops-followups-") as tmp:
        task = bar.add_task("asking", total=None)

        def step(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=total)

        report = followups.evaluate_followups(
            container.ingest_context(),
            container.query_context(),
            container.question_rewriter,
            scratch_store(Path(tmp)),
            dataset,
            chosen,
            limit=limit,
            progress=step,
            write_set=write_set,
        )
    summary = report.to_dict()
    params = {
        "dataset": str(dataset),
        "cases": str(cases) if cases else None,
        "limit": limit,
        "rewriter": report.rewriter,
    }
    tracked = _tracked(container, "followups", params, summary, no_track)
    if json_output:
        print(json.dumps({**summary, **tracked}, indent=2, ensure_ascii=False))
        return
    table = Table("asked", "first citation gold", "holds a gold answer", "declined")
    for name, row in (
        ("follow-up, in its conversation", report.in_conversation),
        ("follow-up, alone", report.alone),
        ("original question, alone", report.original),
    ):
        table.add_row(
            name,
            f"{row['first_citation_gold']:.1%}",
            f"{row['answer_contains_gold']:.1%}",
            f"{row['declined']:.1%}",
        )
    out.print(table)
    out.print(
        f"{report.cases} follow-ups · made standalone by {report.rewriter} · "
        f"{report.restored:.1%} back to the original question word for word",
        highlight=False,
    )
