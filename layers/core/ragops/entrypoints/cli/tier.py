"""``ragops tier``: the search tier's state (status, pause, resume), rebuilding its index
(rehydrate) and serving it (serve)."""

from __future__ import annotations

import dataclasses
import json
from typing import Annotated

import typer

from ragops.entrypoints.cli.common import (
    DataDir,
    JsonFlag,
    TenantFilter,
    _container,
    _fail,
    _optional_tenant,
    _progress,
    err,
    out,
)
from ragops.errors import RagopsError

tier_app = typer.Typer(help="Pause and resume the search tier.", no_args_is_help=True)


@tier_app.command("status")
def tier_status_command(data_dir: DataDir = None, json_output: JsonFlag = False) -> None:
    """Show the tier state and whether queries can be served."""
    status = _container(data_dir).tier_status()
    if json_output:
        print(
            json.dumps(
                {"state": str(status.state), "usable": status.usable, "message": status.reason}
            )
        )
    else:
        out.print(f"{status.state}: {status.reason}", highlight=False)


@tier_app.command("pause")
def tier_pause(data_dir: DataDir = None) -> None:
    """Declare the tier paused: queries get 503, uploads are stored as pending."""
    from ragops.services.tier import pause_tier

    pause_tier(_container(data_dir).tier_state)
    out.print("tier paused: queries answer 503; uploads are stored and indexed on resume")


@tier_app.command("resume")
def tier_resume(data_dir: DataDir = None) -> None:
    """Declare the tier back and index every document uploaded while it was paused."""
    from ragops.services.ingestion import IngestResult
    from ragops.services.tier import resume_tier

    container = _container(data_dir)
    try:
        results = resume_tier(container.tier_state, container.ingest_context())
    except RagopsError as exc:
        raise _fail(f"{exc} (the tier stays 'resuming'; run resume again)") from exc
    indexed = sum(isinstance(r, IngestResult) for r in results)
    failed = len(results) - indexed
    out.print(f"tier active: {indexed} pending documents indexed, {failed} failed")


@tier_app.command("rehydrate")
def tier_rehydrate(
    tenant: TenantFilter = None,
    data_dir: DataDir = None,
    json_output: JsonFlag = False,
) -> None:
    """Rebuild the index from the chunk artifacts in the object store, without embedding.
    Safe to run again: documents already in the index are skipped, so an interrupted run
    continues where it stopped."""
    from ragops.services.rehydrate import rehydrate_tier

    tenant = _optional_tenant(tenant)
    container = _container(data_dir)
    with _progress() as progress:
        task = progress.add_task("rehydrating", total=None)

        def report(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            result = rehydrate_tier(
                container.store, container.index, tenant=tenant, progress=report
            )
        except RagopsError as exc:
            raise _fail(f"{exc} (run rehydrate again to continue)") from exc
    if json_output:
        print(json.dumps(dataclasses.asdict(result)))
    else:
        out.print(
            f"{result.restored} documents restored ({result.chunks} chunks), "
            f"{result.skipped} already in the index, {len(result.missing)} missing their "
            f"chunk artifact",
            highlight=False,
        )
    if result.missing:
        err.print(
            f"re-ingest these (no chunk artifact): {', '.join(result.missing)}", soft_wrap=True
        )
        raise typer.Exit(1)


@tier_app.command("serve")
def tier_serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Serve the vector tier over HTTP (what runs on EKS), over the Chroma server at
    RAGOPS_CHROMA_URL, with the bearer token RAGOPS_TIER_TOKEN or RAGOPS_TIER_SECRET_ARN."""
    try:
        import uvicorn
    except ImportError as exc:
        raise _fail("serving needs uvicorn: pip install 'ragops[tier]'") from exc
    from ragops.entrypoints.tier_service import app_from_settings

    try:
        app_from_settings()  # fail here, with the reason, rather than in every worker
    except (RagopsError, ImportError) as exc:
        raise _fail(str(exc)) from exc
    err.print(f"ragops tier serving on http://{host}:{port}")
    uvicorn.run(
        "ragops.entrypoints.tier_service:app_from_settings",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
    )
