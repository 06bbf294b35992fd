"""What the command groups share: the consoles, the option types, and the helpers that
build the container, check a tenant, fail with a message and draw progress bars."""

from __future__ import annotations

import datetime
import functools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ragops.domain.tenants import validate_tenant
from ragops.errors import RagopsError
from ragops.settings import Settings, validation_problems

P = ParamSpec("P")
R = TypeVar("R")

out = Console()
err = Console(stderr=True)

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Folder for all local state [env: RAGOPS_DATA_DIR; default: .ragops]",
        show_default=False,
    ),
]
Tenant = Annotated[str, typer.Option("--tenant", help="Tenant the documents belong to.")]
TenantFilter = Annotated[
    str | None, typer.Option("--tenant", help="Only this tenant (default: every tenant).")
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
NoTrack = Annotated[bool, typer.Option("--no-track", help="Do not record this run in MLflow.")]


def _settings(data_dir: Path | None) -> Settings:
    """The settings from the environment (and ``--data-dir``); a bad value is an error
    naming each problem, not a traceback."""
    from pydantic import ValidationError

    try:
        return Settings(data_dir=data_dir) if data_dir is not None else Settings()
    except ValidationError as exc:
        raise _fail(f"invalid configuration: {validation_problems(exc)}") from exc


def _build_container(data_dir: Path | None, *, serving: bool = False) -> Any:
    """The container; ``serving`` (commands that answer) puts the champion pipeline
    configuration over the settings, as the API does. The package exports it as
    ``ragops.entrypoints.cli._container``."""
    from ragops.bootstrap import build_container

    return build_container(_settings(data_dir), resolve_champion=serving)


def _container(data_dir: Path | None, *, serving: bool = False) -> Any:
    """What the commands call: the package's ``_container`` (``_build_container`` unless
    replaced), looked up at each call, so that replacing it there (as the tests do) reaches
    the commands of every module."""
    return sys.modules[__package__]._container(data_dir, serving=serving)


def _tenant(tenant: str) -> str:
    try:
        return validate_tenant(tenant)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--tenant") from exc


def _optional_tenant(tenant: str | None) -> str | None:
    """``_tenant`` for a --tenant that may be left out (every tenant)."""
    return None if tenant is None else _tenant(tenant)


def _is_date(text: str) -> bool:
    """Whether ``text`` is a date, YYYY-MM-DD (what --since takes)."""
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _fail(message: str, code: int = 1) -> typer.Exit:
    # soft_wrap: one line whatever the width, so a long path stays whole for scripts and logs.
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def fails_on_ragops_error(command: Callable[P, R]) -> Callable[P, R]:
    """A ``RagopsError`` out of ``command`` becomes its message on stderr and exit 1
    (``_fail``). Goes below ``@app.command()``; Typer reads the command's own signature,
    through ``__wrapped__``."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except RagopsError as exc:
            raise _fail(str(exc)) from exc

    return run


def _tracked(
    container: Any, kind: str, params: dict[str, Any], report: dict[str, Any], no_track: bool
) -> dict[str, str]:
    """Record an evaluation in MLflow (unless ``no_track``); the run id and store for the
    JSON output. A store that fails is an error naming --no-track."""
    if no_track:
        return {}
    from ragops.services.tracking import track_eval

    try:
        tracked = track_eval(container.tracker, container.settings, kind, params, report)
    except RagopsError as exc:
        raise _fail(f"{exc} (pass --no-track to skip tracking)") from exc
    if tracked:
        err.print(
            f"tracked as MLflow run {tracked['mlflow_run_id']} in {tracked['tracking_uri']}",
            soft_wrap=True,
            highlight=False,
        )
    return tracked


def _progress() -> Progress:
    """Progress bars on stderr, shown only on a terminal and gone when done."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )


@contextmanager
def _stage_progress() -> Iterator[Callable[[str, int, int], None]]:
    """A ``progress(stage, done, total)`` callback drawing a bar for each stage."""
    with _progress() as progress:
        tasks: dict[str, Any] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total)
            progress.update(tasks[stage], completed=done, total=total)

        yield report
