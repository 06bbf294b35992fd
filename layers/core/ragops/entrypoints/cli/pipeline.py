"""``ragops pipeline``: pipeline versions, registered, promoted to champion and rolled
back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ragops.entrypoints.cli.common import (
    DataDir,
    JsonFlag,
    _container,
    _fail,
    fails_on_ragops_error,
    out,
)

pipeline_app = typer.Typer(
    help="Pipeline versions: register, promote, roll back.", no_args_is_help=True
)


def _registry(data_dir: Path | None) -> Any:
    return _container(data_dir).pipeline_registry


def _pipeline_row(v: Any) -> list[str]:
    metrics = v.evaluation.metrics if v.evaluation else {}

    def shown(key: str) -> str:
        return f"{metrics[key]:.4g}" if key in metrics else "-"

    return [
        str(v.version),
        ", ".join(v.aliases) or "-",
        v.created_at,
        shown("ndcg_at_10"),
        shown("groundedness_share"),
        shown("cost_per_query_usd"),
        v.description,
    ]


@pipeline_app.command("list")
@fails_on_ragops_error
def pipeline_list(data_dir: DataDir = None, json_output: JsonFlag = False) -> None:
    """Registered pipeline versions with their aliases and last evaluation."""
    versions = _registry(data_dir).versions()
    if json_output:
        print(json.dumps({"versions": [v.to_dict() for v in versions]}, indent=2))
        return
    table = Table("version", "aliases", "created", "nDCG@10", "grounded", "USD/query", "note")
    for v in versions:
        table.add_row(*_pipeline_row(v))
    out.print(table)
    if not versions:
        out.print("no pipeline registered yet: `ragops pipeline register`")


@pipeline_app.command("show")
@fails_on_ragops_error
def pipeline_show(
    version: Annotated[str, typer.Argument(help="A version number, champion or challenger.")],
    data_dir: DataDir = None,
) -> None:
    """One version's configuration and last evaluation, as JSON."""
    registry = _registry(data_dir)
    found = registry.get(int(version)) if version.isdigit() else registry.by_alias(version)
    if found is None:
        raise _fail(f"no version is {version}")
    print(json.dumps(found.to_dict(), indent=2))


@pipeline_app.command("register")
@fails_on_ragops_error
def pipeline_register(
    assignments: Annotated[
        list[str] | None,
        typer.Option("--set", help="NAME=VALUE over the current settings; repeat."),
    ] = None,
    config_file: Annotated[
        Path | None, typer.Option("--file", help="JSON object of pipeline settings.")
    ] = None,
    description: Annotated[str, typer.Option(help="What this version changes.")] = "",
    data_dir: DataDir = None,
    json_output: JsonFlag = False,
) -> None:
    """Register the current settings' pipeline configuration (with --file and --set over
    it) as a new version; it becomes the challenger."""
    from ragops.domain.pipeline import check_config, parse_assignments
    from ragops.services.pipeline import register_pipeline

    container = _container(data_dir)
    overrides: dict[str, Any] = {}
    if config_file is not None:
        try:
            loaded = json.loads(config_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise _fail(f"{config_file}: not a readable JSON file ({exc})") from exc
        if not isinstance(loaded, dict):
            raise _fail(f"{config_file}: expected a JSON object of settings")
        overrides.update(check_config(loaded))
    overrides.update(parse_assignments(assignments or []))
    registered = register_pipeline(
        container.pipeline_registry, container.settings, overrides, description
    )
    if json_output:
        print(json.dumps(registered.to_dict(), indent=2))
        return
    out.print(
        f"registered pipeline version {registered.version} (challenger); evaluate it with "
        f"`ragops eval suite --pipeline {registered.version} ...`",
        highlight=False,
    )


@pipeline_app.command("promote")
@fails_on_ragops_error
def pipeline_promote(
    version: Annotated[int, typer.Argument(help="The version to make champion.")],
    force: Annotated[
        bool, typer.Option("--force", help="Skip the evaluation gate (logged).")
    ] = False,
    data_dir: DataDir = None,
    json_output: JsonFlag = False,
) -> None:
    """Make VERSION the champion the API serves. Refused, with the reason, when its last
    evaluation regresses the champion's beyond the promotion margins."""
    from ragops.errors import PromotionRefused
    from ragops.services.pipeline import margins_of, promote_pipeline

    container = _container(data_dir)
    try:
        promotion = promote_pipeline(
            container.pipeline_registry, version, margins_of(container.settings), force=force
        )
    except PromotionRefused as exc:
        raise _fail(f"promotion refused: {exc}") from exc
    if json_output:
        print(json.dumps(promotion.to_dict(), indent=2))
        return
    before = f" (was {promotion.previous})" if promotion.previous is not None else ""
    out.print(f"champion: version {version}{before}", highlight=False)
    out.print("the API serves it from its next start (a new Lambda cold start in the cloud)")


@pipeline_app.command("rollback")
@fails_on_ragops_error
def pipeline_rollback(data_dir: DataDir = None, json_output: JsonFlag = False) -> None:
    """Move champion back to the version that held it before."""
    from ragops.services.pipeline import rollback_pipeline

    moved_from, moved_to = rollback_pipeline(_registry(data_dir))
    if json_output:
        print(json.dumps({"champion": moved_to, "previous": moved_from}))
        return
    out.print(f"champion: version {moved_to} (rolled back from {moved_from})", highlight=False)
