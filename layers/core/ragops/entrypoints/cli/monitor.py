"""``ragops monitor``: has what people ask drifted?"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ragops.entrypoints.cli.common import (
    DataDir,
    JsonFlag,
    _container,
    _optional_tenant,
    _stage_progress,
    fails_on_ragops_error,
    out,
)

monitor_app = typer.Typer(help="Watch what users ask: query drift.", no_args_is_help=True)

QuestionsFile = Annotated[
    Path,
    typer.Option(help='JSON lines of questions, one {"text": ...} object a line (100 or more).'),
]


@monitor_app.command("drift")
@fails_on_ragops_error
def monitor_drift(
    reference: QuestionsFile,
    current: QuestionsFile,
    tenant: Annotated[
        str | None,
        typer.Option(
            help="Also compare each question's best passage similarity among this tenant's "
            "documents (default: embeddings only)."
        ),
    ] = None,
    data_dir: DataDir = None,
    json_output: JsonFlag = False,
) -> None:
    """Has what people ask drifted? Compare the --current questions with the --reference
    ones: their embeddings (kernel MMD) and, with --tenant, their best passage similarity
    (Kolmogorov-Smirnov). Drift when the score exceeds the threshold (1.0); calibration in
    docs/evaluation.md."""
    from ragops.services.drift import load_questions, measure_drift

    tenant = _optional_tenant(tenant)
    reference_questions = load_questions(reference)
    current_questions = load_questions(current)
    container = _container(data_dir)
    with _stage_progress() as report_progress:
        report = measure_drift(
            container.embedder,
            reference_questions,
            current_questions,
            index=container.index if tenant is not None else None,
            tenant=tenant,
            top_k=container.settings.top_k,
            progress=report_progress,
        )
    if json_output:
        print(json.dumps(report.to_dict()))
        return
    details = report.details
    table = Table("part", "statistic", "value", "threshold", "p-value", "drift")
    for part in ("embedding", "top1_similarity"):
        d = details[part]
        if d["used"]:
            drifted = "[bold red]yes[/]" if d["drift"] else "no"
            row = [d["statistic"], str(d["value"]), str(d["threshold"]), str(d["p_value"])]
            table.add_row(part, *row, drifted)
        else:
            table.add_row(part, "-", "-", "-", "-", f"not used: {d['reason']}")
    out.print(table)
    verdict = "[bold red]DRIFT[/]" if report.drift else "no drift"
    out.print(
        f"{verdict}: score {report.score} (threshold {report.threshold}); "
        f"{details['current_size']} questions against {details['reference_size']}"
    )
