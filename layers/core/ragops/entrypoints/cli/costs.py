"""``ragops costs``: what the answers cost (usage) and what a month would (report)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ragops.entrypoints.cli.common import (
    DataDir,
    JsonFlag,
    TenantFilter,
    _container,
    _fail,
    _is_date,
    _optional_tenant,
    fails_on_ragops_error,
    out,
)

costs_app = typer.Typer(help="What the answers cost, and what a month would.")

CostsSince = Annotated[
    str | None, typer.Option(help="First day to count, YYYY-MM-DD (default: all).")
]


@costs_app.callback(invoke_without_command=True)
def costs(
    ctx: typer.Context,
    tenant: TenantFilter = None,
    since: CostsSince = None,
    data_dir: DataDir = None,
    json_output: JsonFlag = False,
) -> None:
    """What the answers cost: queries, tokens and US dollars per tenant and day, from the
    recorded answers (alone, or `costs usage`); `costs report` estimates a month."""
    if ctx.invoked_subcommand is None:
        _costs_usage(tenant, since, data_dir, json_output)


@costs_app.command("usage")
def costs_usage(
    tenant: TenantFilter = None,
    since: CostsSince = None,
    data_dir: DataDir = None,
    json_output: JsonFlag = False,
) -> None:
    """Queries, tokens and US dollars per tenant and day, from the recorded answers."""
    _costs_usage(tenant, since, data_dir, json_output)


@fails_on_ragops_error
def _costs_usage(
    tenant: str | None, since: str | None, data_dir: Path | None, json_output: bool
) -> None:
    from ragops.services.costs import cost_report

    tenant = _optional_tenant(tenant)
    if since is not None and not _is_date(since):
        raise _fail(f"--since {since!r} is not a date (YYYY-MM-DD)")
    totals = cost_report(_container(data_dir).store, tenant=tenant, since=since)
    if json_output:
        print(json.dumps([dataclasses.asdict(t) for t in totals], indent=2))
        return
    table = Table("day", "tenant", "queries", "embedding tokens", "in", "out", "USD")
    for t in totals:
        table.add_row(
            t.day,
            t.tenant,
            str(t.queries),
            str(t.embedding_tokens),
            str(t.input_tokens),
            str(t.output_tokens),
            f"{t.total_usd:.6f}",
        )
    out.print(table)
    out.print(f"total: ${sum(t.total_usd for t in totals):.6f} over {len(totals)} tenant-days")


def _price_overrides(prices: list[str] | None) -> dict[str, float]:
    overrides: dict[str, float] = {}
    for item in prices or []:
        name, sep, value = item.partition("=")
        try:
            if not sep:
                raise ValueError
            overrides[name.strip()] = float(value)
        except ValueError as exc:
            raise typer.BadParameter(
                f"{item!r}: expected NAME=USD, e.g. node_hour=0.0336", param_hint="--price"
            ) from exc
    return overrides


@costs_app.command("report")
@fails_on_ragops_error
def costs_report(
    queries_per_day: Annotated[
        float, typer.Option(min=0, help="Questions asked a day, all tenants.")
    ] = 2000,
    documents: Annotated[int, typer.Option(min=0, help="Documents stored.")] = 5000,
    hours_active: Annotated[
        float,
        typer.Option(min=0, max=24, help="Hours a day the tier runs; 24: never paused."),
    ] = 10,
    documents_added_per_month: Annotated[
        float | None,
        typer.Option(min=0, help="New documents a month [default: a tenth of --documents]."),
    ] = None,
    pause: Annotated[
        str,
        typer.Option(
            help="How ragops pauses: destroy (pause/resume: the whole tier goes) or "
            "scale-to-zero (the scaler: only the nodes go)."
        ),
    ] = "destroy",
    cache_hit_rate: Annotated[
        float | None,
        typer.Option(
            min=0,
            max=1,
            help="Share of queries answered from the cache [default: hit_rate of the "
            "latest `eval cache` run].",
        ),
    ] = None,
    lite_share: Annotated[
        float | None,
        typer.Option(
            min=0,
            max=1,
            help="Share of answers routed to the lite model [default: the latest "
            "`eval routing` run].",
        ),
    ] = None,
    price: Annotated[
        list[str] | None,
        typer.Option(
            help="Override an infrastructure price, NAME=USD (repeatable); --json lists "
            "the names under infra_prices."
        ),
    ] = None,
    data_dir: DataDir = None,
    json_output: JsonFlag = False,
) -> None:
    """Estimate a month's cost for a usage profile: a baseline with no cache, always the
    pro model and the tier always on, against ragops with the measured cache hit rate and
    routing share; and each promised saving beside the modelled one."""
    from ragops.domain.cost_model import PauseMode, UsageProfile
    from ragops.services.cost_projection import cost_projection

    try:
        mode = PauseMode(pause)
    except ValueError as exc:
        raise typer.BadParameter("use destroy or scale-to-zero", param_hint="--pause") from exc
    overrides = _price_overrides(price)
    profile = UsageProfile(
        queries_per_day=queries_per_day,
        documents=documents,
        hours_active_per_day=hours_active,
        documents_added_per_month=documents_added_per_month,
        pause=mode,
    )
    container = _container(data_dir)
    s = container.settings
    report = cost_projection(
        profile,
        tracker=container.tracker,
        store=container.store,
        prices=container.prices,
        lite_model=s.bedrock_chat_model_id,
        pro_model=s.bedrock_pro_model_id,
        embedding_model=s.bedrock_embedding_model_id,
        cache_hit_rate=cache_hit_rate,
        lite_share=lite_share,
        infra_overrides=overrides,
    )
    if json_output:
        print(json.dumps(report.to_dict(), indent=2))
        return
    inputs = Table("input", "value", "source", "from")
    for name, value in report.inputs.items():
        percent = name in ("cache_hit_rate", "lite_share")
        shown = f"{value.value:.1%}" if percent else f"{value.value:.0f}"
        inputs.add_row(name.replace("_", " "), shown, value.source, value.detail)
    out.print(inputs)
    p = report.projection
    lines = Table("USD a month", "baseline", "ragops", "saving")
    for line in (*p.lines, p.total):
        lines.add_row(
            line.item,
            f"{line.baseline_usd:,.2f}",
            f"{line.ragops_usd:,.2f}",
            f"{line.saving:.1%}",
        )
    out.print(lines)
    levers = Table("lever", "saving of", "promised", "modelled", "")
    for lever in p.levers:
        levers.add_row(
            lever.lever,
            lever.applies_to,
            f"{lever.promised:.0%}",
            f"{lever.modelled:.1%}",
            "met" if lever.met else "short",
        )
    out.print(levers)
    for lever in p.levers:
        out.print(f"{lever.lever}: {lever.note}", highlight=False)
    modes = ", ".join(f"{mode} {usd:,.2f}" for mode, usd in p.tier_by_pause.items())
    out.print(f"the tier a month, {hours_active:g} h a day active: {modes} USD", highlight=False)
    out.print(
        f"{queries_per_day:g} queries a day, {documents} documents, tier {hours_active:g} h a "
        f"day ({mode}); lite {report.models['lite']}, pro {report.models['pro']}, "
        f"embeddings {report.models['embedding']}",
        highlight=False,
    )
    for note in report.notes:
        out.print(f"[dim]note: {note}[/]", highlight=False)
