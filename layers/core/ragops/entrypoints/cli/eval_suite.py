"""``ragops eval suite``: the evaluation gate a pipeline version must pass (added to the
``eval`` group, after ``eval.py``'s commands, by the package)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ragops.entrypoints.cli.common import (
    DataDir,
    JsonFlag,
    NoTrack,
    _fail,
    _settings,
    _stage_progress,
    _tracked,
    err,
    fails_on_ragops_error,
    out,
)


@fails_on_ragops_error
def eval_suite(
    dataset: Annotated[Path, typer.Option(help="BEIR-format folder (retrieval quality).")],
    squad: Annotated[Path, typer.Option(help="SQuAD 2.0 JSON (abstention and answers).")],
    split: Annotated[str, typer.Option(help="qrels split of the BEIR data set.")] = "train",
    queries: Annotated[int, typer.Option(min=1, help="First N judged queries.")] = 50,
    distractors: Annotated[
        int, typer.Option(min=0, help="Unjudged documents indexed beside the judged ones.")
    ] = 500,
    answers: Annotated[
        int, typer.Option(min=1, help="Answerable questions answered in full (model calls).")
    ] = 10,
    pipeline: Annotated[
        int | None,
        typer.Option(
            "--pipeline",
            help="Evaluate this registered version and record the result on it "
            "(default: what the API serves, the champion or the settings).",
        ),
    ] = None,
    baseline_file: Annotated[
        Path | None,
        typer.Option(
            "--baseline",
            help="A saved `eval suite --json` output to compare with instead of the "
            "champion's run (CI keeps one in the repository); it must be for this sample.",
        ),
    ] = None,
    data_dir: DataDir = None,
    json_output: JsonFlag = False,
    no_track: NoTrack = False,
) -> None:
    """The evaluation gate: retrieval quality, abstention, grounded answers, latency and
    cost per query on a fixed sample, compared with the champion's last run on the same
    sample (or --baseline). Exits 1 when a gated measure regresses beyond the promotion
    margins."""
    from ragops.bootstrap import build_container, champion_reader
    from ragops.services.eval_gate import (
        GateBaseline,
        gate_verdict,
        load_baseline,
        record_on_version,
    )
    from ragops.services.eval_suite import SuiteSample, run_suite
    from ragops.services.pipeline import apply_config, margins_of, served_settings

    if pipeline is not None and no_track:
        raise _fail("--pipeline records the evaluation on the version in MLflow: drop --no-track")
    settings = _settings(data_dir)
    read_champion = champion_reader(settings)
    sample = SuiteSample(dataset, squad, split, queries, distractors, answers)
    saved = load_baseline(baseline_file, sample.fingerprint()) if baseline_file else None
    champion = read_champion() if read_champion else None
    if pipeline is not None:
        registry = build_container(settings).pipeline_registry
        evaluated = apply_config(settings, registry.get(pipeline).config)
        version: int | None = pipeline
    else:
        evaluated, served = served_settings(settings, lambda: champion)
        version = served.version
    container = build_container(evaluated)
    with _stage_progress() as report_progress:
        report = run_suite(
            container.ingest_context(),
            container.answer_context(),
            sample,
            progress=report_progress,
        )
    chosen = GateBaseline.choose(saved, baseline_file, champion)
    baseline = chosen.evaluation
    gate = gate_verdict(report, chosen, margins_of(settings))
    params = {**sample.params(), "sample": report["sample"], "pipeline_version": version}
    tracked = _tracked(container, "suite", params, {**report, "gate": gate}, no_track)
    if pipeline is not None:
        record_on_version(registry, pipeline, tracked["mlflow_run_id"], report)
    if json_output:
        print(
            json.dumps({**report, "pipeline_version": version, "gate": gate, **tracked}, indent=2)
        )
    else:
        table = Table("measure", "value", "baseline")
        base = baseline.metrics if baseline and baseline.sample == report["sample"] else {}
        for key, value in report["metrics"].items():
            table.add_row(key, f"{value:.6g}", f"{base[key]:.6g}" if key in base else "-")
        out.print(table)
        evaluated_label = f"version {version}" if version is not None else "the settings"
        out.print(f"pipeline: {evaluated_label} · sample {report['sample']}", highlight=False)
        for reason in gate.get("regressions", []):
            err.print(f"[bold red]regression:[/] {reason}", highlight=False, soft_wrap=True)
        if gate.get("note"):
            err.print(f"note: {gate['note']}", highlight=False, soft_wrap=True)
    if not gate["passed"]:
        raise typer.Exit(1)
