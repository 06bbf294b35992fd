"""Getting documents in and out: ``ragops ingest`` and ``ragops sync`` (the package adds
them to ``app``) and the ``documents`` group (list, delete)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ragops.domain.parsing import SUPPORTED_TYPES
from ragops.domain.tenants import DEFAULT_TENANT
from ragops.entrypoints.cli.common import (
    DataDir,
    JsonFlag,
    Tenant,
    _container,
    _fail,
    _progress,
    _tenant,
    err,
    fails_on_ragops_error,
    out,
)

documents_app = typer.Typer(help="List and delete documents.", no_args_is_help=True)

INGEST_GROUP_FILES = 64


def _expand(paths: list[Path]) -> Iterator[tuple[Path, str]]:
    """(file, name to ingest it under) for each file, walking folders for supported types.
    A file inside a folder is named by its path relative to that folder."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and child.suffix.lower() in SUPPORTED_TYPES:
                    if any(part.startswith(".") for part in child.relative_to(path).parts):
                        continue
                    yield child, child.relative_to(path).as_posix()
        elif path.is_file():
            yield path, path.name
        else:
            raise _fail(f"{path}: no such file or folder")


@fails_on_ragops_error
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to ingest.")],
    tenant: Tenant = DEFAULT_TENANT,
    data_dir: DataDir = None,
    json_output: JsonFlag = False,
) -> None:
    """Ingest documents: PDF, DOCX, HTML, Markdown and text files, or folders of them."""
    from ragops.services.ingestion import IngestResult, UploadedFile
    from ragops.services.uploads import upload_documents

    tenant = _tenant(tenant)
    files = list(_expand(paths))
    if not files:
        raise _fail("no supported documents found (" + ", ".join(sorted(SUPPORTED_TYPES)) + ")")
    container = _container(data_dir)
    rows: list[dict[str, Any]] = []
    with _progress() as progress:
        task = progress.add_task("ingesting", total=len(files))
        for start in range(0, len(files), INGEST_GROUP_FILES):
            group = files[start : start + INGEST_GROUP_FILES]
            uploads = [UploadedFile(filename=name, data=path.read_bytes()) for path, name in group]
            results = upload_documents(container.upload_context(), tenant=tenant, files=uploads)
            for (path, _), result in zip(group, results, strict=True):
                if isinstance(result, IngestResult):
                    rows.append(
                        {
                            "file": str(path),
                            "doc_id": result.record.doc_id,
                            "outcome": str(result.outcome),
                            "chunks": result.record.chunk_count,
                            "title": result.record.title,
                        }
                    )
                else:
                    rows.append({"file": str(path), "error": result.reason})
            progress.advance(task, len(group))
    failed = [r for r in rows if "error" in r]
    if json_output:
        print(json.dumps({"tenant": tenant, "results": rows}, indent=2))
    else:
        for row in rows:
            if "error" in row:
                err.print(
                    f"[red]rejected[/] {row['file']}: {row['error']}",
                    highlight=False,
                    soft_wrap=True,
                )
            else:
                detail = f"{row['chunks']} chunks, id {row['doc_id']}"
                out.print(f"{row['outcome']:>9}  {row['file']}  ({detail})", highlight=False)
        out.print(f"{len(rows) - len(failed)} ingested, {len(failed)} rejected (tenant {tenant})")
    if failed:
        raise typer.Exit(1)


@fails_on_ragops_error
def sync(
    folder: Annotated[
        Path,
        typer.Argument(
            help="The folder whose documents the tenant should have.",
            exists=True,
            file_okay=False,
            dir_okay=True,
        ),
    ],
    tenant: Tenant = DEFAULT_TENANT,
    prune: Annotated[
        bool,
        typer.Option("--prune", help="Delete the tenant's documents whose file left FOLDER."),
    ] = False,
    data_dir: DataDir = None,
    json_output: JsonFlag = False,
) -> None:
    """Make the tenant's documents match FOLDER: new and changed files are ingested,
    unchanged ones skipped (never embedded again), and with --prune documents whose file
    is gone are deleted. With RAGOPS_INGEST_MODE=async files are only stored, for the
    ingest function. Exit 1 if a file was rejected."""
    from ragops.services.data_sync import SourceFile, SyncAction, sync_documents

    tenant = _tenant(tenant)
    files = [
        SourceFile(name, path.read_bytes, path.stat().st_size) for path, name in _expand([folder])
    ]
    container = _container(data_dir)
    report = sync_documents(
        container.ingest_context(),
        tenant=tenant,
        files=files,
        tier_status=container.tier_status,
        index_now=container.settings.ingest_mode == "sync",
        prune=prune,
        quota=container.upload_context().quota,
    )
    counts = report.counts()
    if json_output:
        print(json.dumps({"folder": str(folder), **report.to_dict()}, indent=2))
    else:
        for document in report.documents:
            if document.action is SyncAction.UNCHANGED:
                continue
            detail = f"  ({document.reason})" if document.reason else ""
            line = f"{document.action:>9}  {document.name}{detail}"
            target = err if document.action is SyncAction.REJECTED else out
            target.print(line, highlight=False, soft_wrap=True)
        how = "indexed now" if report.indexed_now else "stored for the ingest function"
        summary = ", ".join(f"{n} {action}" for action, n in counts.items())
        out.print(f"{summary} (tenant {tenant}; {how})", highlight=False, soft_wrap=True)
    if counts[SyncAction.DEFERRED]:
        err.print(
            f"[yellow]warning:[/] {counts[SyncAction.DEFERRED]} deletions wait for the search "
            "tier: run the sync again once it is active",
            highlight=False,
            soft_wrap=True,
        )
    if counts[SyncAction.REJECTED]:
        raise typer.Exit(1)


def _quality_cell(findings: list[dict[str, Any]]) -> str:
    """Warnings and errors in a few words (``near_duplicate of 3f2a… (86%)``)."""
    shown = []
    for f in findings:
        if f.get("severity") == "info":
            continue
        text = f["check"]
        if f.get("related_doc_id"):
            text += f" of {f['related_doc_id']}"
        if f["check"] == "near_duplicate" and f.get("value") is not None:
            text += f" ({f['value']:.0%})"
        shown.append(text)
    return ", ".join(shown) or "ok"


@documents_app.command("list")
@fails_on_ragops_error
def documents_list(
    tenant: Tenant = DEFAULT_TENANT,
    data_dir: DataDir = None,
    json_output: JsonFlag = False,
) -> None:
    """List the tenant's documents."""
    from ragops.services.documents import list_documents

    tenant = _tenant(tenant)
    records = list_documents(_container(data_dir).store, tenant)
    if json_output:
        print(json.dumps({"documents": [r.to_dict() for r in records]}, indent=2))
        return
    table = Table("id", "title", "source", "chunks", "status", "language", "quality", "updated")
    for r in records:
        table.add_row(
            r.doc_id,
            r.title,
            r.source,
            str(r.chunk_count),
            str(r.status),
            r.language or "-",
            _quality_cell(r.quality),
            r.updated_at,
        )
    out.print(table)
    out.print(f"{len(records)} documents (tenant {tenant})")


@documents_app.command("delete")
@fails_on_ragops_error
def documents_delete(
    doc_id: Annotated[str, typer.Argument(help="Document id (see `ragops documents list`).")],
    tenant: Tenant = DEFAULT_TENANT,
    data_dir: DataDir = None,
) -> None:
    """Delete a document from the store and the index."""
    from ragops.services.uploads import remove_document

    tenant = _tenant(tenant)
    container = _container(data_dir)
    removed = remove_document(container.upload_context(), tenant=tenant, doc_id=doc_id)
    out.print(f"deleted {doc_id} ({removed} chunks)")
