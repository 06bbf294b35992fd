"""``ragops prompts``: the prompt templates and the A/B report on their variants."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from ragops.entrypoints.cli.common import (
    DataDir,
    JsonFlag,
    NoTrack,
    _container,
    _is_date,
    _optional_tenant,
    _tracked,
    fails_on_ragops_error,
    out,
)

prompts_app = typer.Typer(help="Prompt templates and A/B experiments.", no_args_is_help=True)


@prompts_app.command("list")
@fails_on_ragops_error
def prompts_list(data_dir: DataDir = None, json_output: JsonFlag = False) -> None:
    """The prompt templates, which one answers by default, and the experiment's split."""
    from ragops.domain.prompts import packaged_prompts

    container = _container(data_dir)
    experiment = container.experiment
    weights = dict(experiment.variants) if experiment else {}
    total = sum(weights.values())
    rows = [
        {
            "id": t.id,
            "description": t.description,
            "default": t.id == container.settings.prompt_version and experiment is None,
            "share": round(weights[t.id] / total, 4) if t.id in weights else None,
        }
        for t in sorted(packaged_prompts().values(), key=lambda t: t.id)
    ]
    if json_output:
        print(json.dumps({"experiment": experiment.name if experiment else None, "prompts": rows}))
        return
    table = Table("id", "description", "in use")
    for row in rows:
        use = "default" if row["default"] else f"{row['share']:.0%}" if row["share"] else ""
        table.add_row(row["id"], row["description"], use)
    out.print(table)
    if experiment:
        out.print(f"experiment {experiment.name!r}")


@prompts_app.command("report")
@fails_on_ragops_error
def prompts_report(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant.")] = None,
    since: Annotated[str | None, typer.Option(help="First day, YYYY-MM-DD.")] = None,
    experiment: Annotated[
        str | None, typer.Option(help="Only this experiment's answers [default: all].")
    ] = None,
    data_dir: DataDir = None,
    json_output: JsonFlag = False,
    no_track: NoTrack = False,
) -> None:
    """Compare prompt variants (A/B report): answers, cache hits, grounded share, latency
    p50/p95, cost per answer and in total, thumbs-up rate with its 95% interval, and a
    two-proportion test against the experiment's first variant. Recorded in MLflow."""
    from ragops.services.feedback import ab_report

    tenant = _optional_tenant(tenant)
    if since is not None and not _is_date(since):
        raise typer.BadParameter("use YYYY-MM-DD", param_hint="--since")
    container = _container(data_dir)
    report = ab_report(container.store, tenant=tenant, since=since, experiment=experiment)
    summary = report.to_dict()
    tracked = (
        _tracked(container, "prompts-ab", report.params(), summary, no_track)
        if report.variants
        else {}
    )
    if json_output:
        print(json.dumps({**summary, **tracked}, indent=2))
        return
    if not report.variants:
        out.print("no answers recorded yet")
        return
    table = Table(
        "experiment",
        "variant",
        "answers",
        "cache hits",
        "grounded",
        "p50 ms",
        "p95 ms",
        "cost/answer",
        "cost total",
        "thumbs up",
        "95% interval",
        "p vs first",
    )
    for r in report.variants:
        interval = (
            f"{r.thumbs_up_ci95[0]:.2f}-{r.thumbs_up_ci95[1]:.2f}" if r.thumbs_up_ci95 else ""
        )
        rate = f" ({r.thumbs_up_rate:.0%})" if r.thumbs_up_rate is not None else ""
        table.add_row(
            r.experiment or "-",
            r.prompt_version,
            str(r.answers),
            str(r.cache_hits),
            f"{r.grounded_share:.0%}",
            f"{r.latency_ms_p50:.0f}",
            f"{r.latency_ms_p95:.0f}",
            f"${r.mean_cost_usd:.6f}",
            f"${r.total_cost_usd:.6f}",
            f"{r.thumbs_up}/{r.thumbs_up + r.thumbs_down}{rate}",
            interval,
            "" if r.p_value_vs_first is None else f"{r.p_value_vs_first:.3f}",
        )
    out.print(table)
    for comparison in report.comparisons:
        prefix = f"{comparison.experiment}: " if comparison.experiment else ""
        out.print(f"{prefix}{comparison.statement}", highlight=False, soft_wrap=True)
    days = f"{report.first_day} to {report.last_day}"
    out.print(f"answers recorded {days}", highlight=False)
