"""The ``ragops`` command line. The only module that prints."""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ragops.domain.models import SearchMode
from ragops.domain.parsing import SUPPORTED_TYPES
from ragops.errors import RagopsError
from ragops.settings import DEFAULT_TENANT, Settings, validate_tenant

app = typer.Typer(
    name="ragops",
    help="Document question answering with hybrid search and cited answers.",
    no_args_is_help=True,
    add_completion=False,
)
documents_app = typer.Typer(help="List and delete documents.", no_args_is_help=True)
eval_app = typer.Typer(help="Measure retrieval quality and PII detection.", no_args_is_help=True)
tier_app = typer.Typer(help="Pause and resume the search tier.", no_args_is_help=True)
cache_app = typer.Typer(help="Calibrate the answer cache.", no_args_is_help=True)
prompts_app = typer.Typer(help="Prompt templates and A/B experiments.", no_args_is_help=True)
costs_app = typer.Typer(help="What the answers cost, and what a month would.")
pipeline_app = typer.Typer(
    help="Pipeline versions: register, promote, roll back.", no_args_is_help=True
)
app.add_typer(documents_app, name="documents")
app.add_typer(eval_app, name="eval")
app.add_typer(tier_app, name="tier")
app.add_typer(cache_app, name="cache")
app.add_typer(prompts_app, name="prompts")
app.add_typer(costs_app, name="costs")
app.add_typer(pipeline_app, name="pipeline")
keys_app = typer.Typer(help="API keys: create, list, revoke.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
monitor_app = typer.Typer(help="Watch what users ask: query drift.", no_args_is_help=True)
app.add_typer(monitor_app, name="monitor")

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
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
NoTrack = Annotated[bool, typer.Option("--no-track", help="Do not record this run in MLflow.")]

INGEST_GROUP_FILES = 64


def _settings(data_dir: Path | None) -> Settings:
    return Settings(data_dir=data_dir) if data_dir is not None else Settings()


def _container(data_dir: Path | None, *, serving: bool = False) -> Any:
    """The container; ``serving`` (commands that answer) puts the champion pipeline
    configuration over the settings, as the API does."""
    from ragops.bootstrap import build_container

    return build_container(_settings(data_dir), resolve_champion=serving)


def _tenant(tenant: str) -> str:
    try:
        return validate_tenant(tenant)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--tenant") from exc


def _fail(message: str, code: int = 1) -> typer.Exit:
    # soft_wrap: one line whatever the width, so a long path stays whole for scripts and logs.
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _tracked(
    container: Any, kind: str, params: dict[str, Any], report: dict[str, Any], no_track: bool
) -> dict[str, str]:
    """Record an evaluation in MLflow (unless ``no_track``); the run id and store for the
    JSON output. A store that fails is an error naming --no-track."""
    if no_track:
        return {}
    from ragops.services.tracking import track_eval

    try:
        tracked = track_eval(container, kind, params, report)
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
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    auth: Annotated[
        str | None,
        typer.Option(
            help="api-key, jwt or off [env: RAGOPS_AUTH; default: off]. Off (the tenant "
            "from X-Tenant-Id) is refused on any interface but loopback.",
            show_default=False,
        ),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs)."""
    import ipaddress

    try:
        import uvicorn
    except ImportError as exc:
        raise _fail("serving needs uvicorn: pip install 'ragops[local]'") from exc
    from ragops.bootstrap import build_container
    from ragops.entrypoints.api import create_app

    if auth is not None and auth not in ("api-key", "jwt", "jwt+api-key", "off"):
        raise typer.BadParameter("use api-key, jwt, jwt+api-key or off", param_hint="--auth")
    settings = _settings(data_dir)
    if auth is not None:
        settings = settings.model_copy(update={"auth": auth})
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if settings.auth == "off" and not loopback:
        raise _fail(
            f"refusing to serve on {host} without authentication: anyone could read any "
            "tenant's documents. Pass --auth api-key (keys from `ragops keys create`) or "
            "--auth jwt, or listen on 127.0.0.1"
        )
    container = build_container(settings, resolve_champion=True)
    served = container.served_pipeline
    if served.version is not None:
        err.print(f"serving pipeline version {served.version} (champion)")
    elif served.degraded:
        err.print(f"[yellow]warning:[/] {served.note}", soft_wrap=True, highlight=False)
    application = create_app(container)
    err.print(f"ragops serving on http://{host}:{port} (API docs at /docs)")
    uvicorn.run(application, host=host, port=port, log_level="info")


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


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to ingest.")],
    tenant: Tenant = DEFAULT_TENANT,
    data_dir: DataDir = None,
    json_output: JsonFlag = False,
) -> None:
    """Ingest documents: PDF, DOCX, HTML, Markdown and text files, or folders of them."""
    from ragops.services.documents import IngestResult, UploadedFile
    from ragops.services.uploads import upload_documents

    tenant = _tenant(tenant)
    files = list(_expand(paths))
    if not files:
        raise _fail("no supported documents found (" + ", ".join(sorted(SUPPORTED_TYPES)) + ")")
    container = _container(data_dir)
    rows: list[dict[str, Any]] = []
    try:
        with _progress() as progress:
            task = progress.add_task("ingesting", total=len(files))
            for start in range(0, len(files), INGEST_GROUP_FILES):
                group = files[start : start + INGEST_GROUP_FILES]
                uploads = [
                    UploadedFile(filename=name, data=path.read_bytes()) for path, name in group
                ]
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
    except RagopsError as exc:
        raise _fail(str(exc)) from exc
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


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question.")],
    tenant: Tenant = DEFAULT_TENANT,
    top_k: Annotated[int | None, typer.Option("--top-k", min=1, max=50)] = None,
    mode: Annotated[SearchMode, typer.Option(help="Retrieval mode.")] = SearchMode.HYBRID,
    user: Annotated[
        str | None, typer.Option(help="User id (keeps a user in one prompt variant).")
    ] = None,
    data_dir: DataDir = None,
    json_output: JsonFlag = False,
) -> None:
    """Answer a question from the documents, with citations."""
    from dataclasses import asdict

    from ragops.services.queries import ask as ask_question

    tenant = _tenant(tenant)
    container = _container(data_dir, serving=True)
    try:
        answer = ask_question(
            container.query_context(),
            tenant=tenant,
            question=question,
            top_k=top_k,
            mode=mode,
            user=user,
        )
    except RagopsError as exc:
        raise _fail(str(exc)) from exc
    if json_output:
        print(json.dumps(asdict(answer), indent=2, ensure_ascii=False))
        return
    out.print(answer.answer, highlight=False)
    if answer.citations:
        out.print()
        for c in answer.citations:
            page = f", page {c.page}" if c.page else ""
            section = f" > {escape(c.section)}" if c.section else ""
            out.print(
                f"[bold][{c.number}][/] {c.title} ({c.source}{page}){section}", highlight=False
            )
            out.print(f"    {c.snippet}", style="dim", highlight=False)
    cost = f" · ${answer.cost.total_usd:.6f}" if answer.cost else ""
    if answer.fallback:
        how = f"extractive: {answer.model} wrote an answer the passages did not support"
    elif answer.mode == "extractive":
        how = "extractive: the documents' own sentences"
    elif answer.mode == "generative":
        how = f"generated by {answer.model}"
    else:
        how = "declined"
    out.print(
        f"\n[dim]{escape(how)} · {answer.usage.input_tokens} in / "
        f"{answer.usage.output_tokens} out tokens{cost} · {answer.latency_ms:.0f} ms[/]"
    )


CostsTenant = Annotated[
    str | None, typer.Option("--tenant", help="Only this tenant (default: every tenant).")
]
CostsSince = Annotated[
    str | None, typer.Option(help="First day to count, YYYY-MM-DD (default: all).")
]


@costs_app.callback(invoke_without_command=True)
def costs(
    ctx: typer.Context,
    tenant: CostsTenant = None,
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
    tenant: CostsTenant = None,
    since: CostsSince = None,
    data_dir: DataDir = None,
    json_output: JsonFlag = False,
) -> None:
    """Queries, tokens and US dollars per tenant and day, from the recorded answers."""
    _costs_usage(tenant, since, data_dir, json_output)


def _costs_usage(
    tenant: str | None, since: str | None, data_dir: Path | None, json_output: bool
) -> None:
    from ragops.services.costs import cost_report

    if tenant is not None:
        tenant = _tenant(tenant)
    if since is not None:
        try:
            datetime.date.fromisoformat(since)
        except ValueError as exc:
            raise _fail(f"--since {since!r} is not a date (YYYY-MM-DD)") from exc
    try:
        totals = cost_report(_container(data_dir).store, tenant=tenant, since=since)
    except RagopsError as exc:
        raise _fail(str(exc)) from exc
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
    try:
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
    except RagopsError as exc:
        raise _fail(str(exc)) from exc
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
    out.print(
        f"{queries_per_day:g} queries a day, {documents} documents, tier {hours_active:g} h a "
        f"day ({mode}); lite {report.models['lite']}, pro {report.models['pro']}, "
        f"embeddings {report.models['embedding']}",
        highlight=False,
    )
    for note in report.notes:
        out.print(f"[dim]note: {note}[/]", highlight=False)


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
def documents_list(
    tenant: Tenant = DEFAULT_TENANT,
    data_dir: DataDir = None,
    json_output: JsonFlag = False,
) -> None:
    """List the tenant's documents."""
    from ragops.services.documents import list_documents

    tenant = _tenant(tenant)
    try:
        records = list_documents(_container(data_dir).store, tenant)
    except RagopsError as exc:
        raise _fail(str(exc)) from exc
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
def documents_delete(
    doc_id: Annotated[str, typer.Argument(help="Document id (see `ragops documents list`).")],
    tenant: Tenant = DEFAULT_TENANT,
    data_dir: DataDir = None,
) -> None:
    """Delete a document from the store and the index."""
    from ragops.services.uploads import remove_document

    tenant = _tenant(tenant)
    container = _container(data_dir)
    try:
        removed = remove_document(container.upload_context(), tenant=tenant, doc_id=doc_id)
    except RagopsError as exc:
        raise _fail(str(exc)) from exc
    out.print(f"deleted {doc_id} ({removed} chunks)")


@eval_app.command("retrieval")
def eval_retrieval(
    dataset: Annotated[
        Path, typer.Option(help="BEIR-format folder: corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv")
    ],
    split: Annotated[str, typer.Option(help="qrels split to evaluate")] = "test",
    mode: Annotated[SearchMode, typer.Option(help="Retrieval mode.")] = SearchMode.HYBRID,
    max_queries: Annotated[
        int | None, typer.Option(help="Evaluate only the first N queries.")
    ] = None,
    data_dir: DataDir = None,
    json_output: JsonFlag = False,
    no_track: NoTrack = False,
) -> None:
    """nDCG@10, Recall@10, Recall@100 and MRR@10 on a BEIR dataset.

    The corpus is indexed into the data directory once and reused on later runs.
    """
    from ragops.services.evaluation import run_retrieval_eval

    container = _container(data_dir)
    try:
        with _progress() as progress:
            tasks: dict[str, Any] = {}

            def report(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = progress.add_task(stage, total=total)
                progress.update(tasks[stage], completed=done, total=total)

            result = run_retrieval_eval(
                container, dataset, split=split, mode=mode, max_queries=max_queries, progress=report
            )
    except RagopsError as exc:
        raise _fail(str(exc)) from exc
    params = {
        "dataset": str(dataset),
        "split": split,
        "mode": str(mode),
        "max_queries": max_queries,
    }
    tracked = _tracked(container, "retrieval", params, result, no_track)
    if json_output:
        print(json.dumps({**result, **tracked}, indent=2))
        return
    table = Table("metric", "value")
    for key in ("ndcg@10", "recall@10", "recall@100", "mrr@10"):
        table.add_row(key, f"{result[key]:.4f}")
    out.print(table)
    out.print(f"mode {result['mode']} · {result['queries']} queries · split {split}")


@eval_app.command("abstention")
def eval_abstention(
    dataset: Annotated[Path, typer.Option(help="SQuAD 2.0 JSON (answerable and not).")],
    data_dir: DataDir = None,
    json_output: JsonFlag = False,
    no_track: NoTrack = False,
) -> None:
    """How often the system answers questions its documents cannot answer, and declines
    ones they can (the paragraphs are indexed into a tenant of their own)."""
    from ragops.services.abstention import evaluate_abstention

    container = _container(data_dir)
    try:
        report = evaluate_abstention(
            container.ingest_context(), container.answer_context(), dataset
        )
    except RagopsError as exc:
        raise _fail(str(exc)) from exc
    summary = dataclasses.asdict(report)
    tracked = _tracked(container, "abstention", {"dataset": str(dataset)}, summary, no_track)
    if json_output:
        print(json.dumps({**summary, **tracked}, indent=2))
        return
    out.print(
        f"unanswerable answered: {report.unanswerable_answered}/{report.unanswerable} "
        f"({report.unanswerable_answered_rate:.1%}); answerable declined: "
        f"{report.answerable_declined}/{report.answerable} "
        f"({report.answerable_declined_rate:.1%}); min relevance {report.min_relevance}",
        highlight=False,
        soft_wrap=True,
    )


@eval_app.command("answers")
def eval_answers(
    dataset: Annotated[Path, typer.Option(help="SQuAD 2.0 JSON (answerable and not).")],
    mode: Annotated[
        str, typer.Option(help="Answer mode: extractive, generative or auto.")
    ] = "extractive",
    limit: Annotated[
        int | None, typer.Option(min=1, help="Ask only the first N questions.")
    ] = None,
    article_out: Annotated[
        bool,
        typer.Option(
            "--article-out",
            help="Answer each article's questions with an answer model fitted on the "
            "file's other articles (no figure from a model that saw its questions).",
        ),
    ] = False,
    fit_on: Annotated[
        Path | None,
        typer.Option(
            help="With --article-out: fit on this SQuAD file's articles (those titled as "
            "the measured one left out) instead of the dataset's own.",
        ),
    ] = None,
    fit: Annotated[
        Path | None,
        typer.Option(
            help="Instead of evaluating, fit the answer model on every question of the "
            "file and write it here (use it with RAGOPS_ANSWER_MODEL_PATH).",
        ),
    ] = None,
    decline_rate: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=0.5,
            help="With --fit: the share of answerable questions the fitted threshold declines.",
        ),
    ] = 0.09,
    data_dir: DataDir = None,
    json_output: JsonFlag = False,
    no_track: NoTrack = False,
) -> None:
    """Answer quality: every question asked through the code the API runs (the
    paragraphs are indexed into a tenant of their own). Answerable questions: answer
    contains a gold answer, first citation is the gold paragraph, declined; unanswerable
    ones: answered; latency p50/p95; in auto mode the same per route tier."""
    from ragops.services import answer_evaluation as answers

    container = _container(data_dir)
    try:
        if fit is not None:
            with _progress() as bar:
                task = bar.add_task("reading", total=None)

                def step(stage: str, done: int, total: int) -> None:
                    bar.update(task, description=stage, completed=done, total=total)

                tenant, questions = answers.index_paragraphs(container.ingest_context(), dataset)
                readings = answers.read_questions(
                    container.answer_context(), tenant, questions, step
                )
            model = answers.fit_answer_model(
                readings,
                decline_rate=decline_rate,
                trained_on=dataset.name,
                embedding_model=container.embedder.model_id,
            )
            answers.save_answer_model(model, fit)
            curve = answers.tradeoff_curve(model, readings)
            summary = {"model": str(fit), "threshold": model.threshold, "curve": curve}
            if json_output:
                print(json.dumps(summary, indent=2))
            else:
                out.print(f"wrote {fit} (threshold {model.threshold})", highlight=False)
            return
        with _progress() as bar:
            task = bar.add_task("answering", total=None)

            def step(stage: str, done: int, total: int) -> None:
                bar.update(task, description=stage, completed=done, total=total)

            report = answers.evaluate_answers(
                container.ingest_context(),
                container.answer_context(),
                dataset,
                mode=mode,
                limit=limit,
                article_out=article_out,
                fit_on=fit_on,
                progress=step,
            )
    except RagopsError as exc:
        raise _fail(str(exc)) from exc
    summary = report.to_dict()
    params = {
        "dataset": str(dataset),
        "mode": mode,
        "limit": limit,
        "article_out": article_out,
        "fit_on": str(fit_on) if fit_on else None,
    }
    tracked = _tracked(container, "answers", params, summary, no_track)
    if json_output:
        print(json.dumps({**summary, **tracked}, indent=2))
        return
    table = Table("questions", "contains gold", "cites gold", "declined", "unanswerable answered")
    rows = {"all": report.overall, **report.by_tier}
    for name, r in rows.items():
        table.add_row(
            name,
            f"{r['answer_contains_gold']:.1%}",
            f"{r['first_citation_gold']:.1%}",
            f"{r['answerable_declined']:.1%}",
            f"{r['unanswerable_answered']:.1%}",
        )
    out.print(table)
    o = report.overall
    out.print(
        f"{report.mode} · {report.questions} questions · latency p50 {o['latency_ms_p50']} ms, "
        f"p95 {o['latency_ms_p95']} ms" + (" · article-out" if report.article_out else ""),
        highlight=False,
    )


@eval_app.command("routing")
def eval_routing(
    questions: Annotated[
        list[Path],
        typer.Option(help="BEIR queries.jsonl or SQuAD JSON; repeat for several sets."),
    ],
    threshold: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="Router threshold (default: setting).")
    ] = None,
    data_dir: DataDir = None,
    json_output: JsonFlag = False,
    no_track: NoTrack = False,
) -> None:
    """Shares of questions answered extractively, by the lite model and by the pro one,
    and the estimated saving against always using the pro model, priced as the configured
    Bedrock models. A SQuAD file comes with its documents: its paragraphs are indexed and
    answerability decides the extractive share; a question list alone is routed between
    lite and pro only."""
    from dataclasses import replace

    from ragops.domain.routing import QueryRouter
    from ragops.services.answer_evaluation import index_paragraphs
    from ragops.services.answering import prepare_question
    from ragops.services.routing_report import load_questions, routing_report

    container = _container(data_dir)
    s = container.settings
    router = QueryRouter(
        s.bedrock_chat_model_id,
        s.bedrock_pro_model_id,
        threshold=s.router_threshold if threshold is None else threshold,
    )
    reports = {}
    try:
        for path in questions:
            answerable = None
            if path.suffix == ".json":
                tenant, _ = index_paragraphs(container.ingest_context(), path)
                ctx = replace(container.answer_context(), cache=None, answer_mode="auto")

                def answerable(q: str, ctx: Any = ctx, tenant: str = tenant) -> bool:
                    return not prepare_question(ctx, tenant=tenant, question=q).declined

            reports[path.name] = routing_report(
                load_questions(path),
                router,
                container.prices,
                answerable=answerable,
                embedding_model=s.bedrock_embedding_model_id,
                # Every passage sentence embedded: the bound, before the process's
                # sentence cache saves any of it.
                sentence_tokens=5 * 200,
            )
    except RagopsError as exc:
        raise _fail(str(exc)) from exc
    summary = {k: dataclasses.asdict(r) for k, r in reports.items()}
    params = {"questions": ",".join(str(p) for p in questions), "threshold": router.threshold}
    tracked = _tracked(container, "routing", params, summary, no_track)
    if json_output:
        print(json.dumps({**summary, **tracked}, indent=2))
        return
    table = Table("questions", "n", "extractive", "to lite", "to pro", "saving vs pro")
    for name, r in reports.items():
        table.add_row(
            name,
            str(r.questions),
            "-" if r.extractive_share is None else f"{r.extractive_share:.1%}",
            f"{r.lite_share:.1%}",
            f"{r.pro_share:.1%}",
            f"{r.saving:.1%}",
        )
    out.print(table)
    first = next(iter(reports.values()))
    out.print(f"lite {first.lite_model} · pro {first.pro_model} · threshold {first.threshold}")


@eval_app.command("pii")
def eval_pii(
    dataset: Annotated[
        Path, typer.Option(help="presidio-format JSON: a list of {full_text, spans}.")
    ],
    data_dir: DataDir = None,
    json_output: JsonFlag = False,
    no_track: NoTrack = False,
) -> None:
    """Precision and recall of PII detection per entity type (e-mail, phone, SSN, credit
    card, IBAN, IP address, AWS keys) on a labelled data set."""
    from ragops.services.pii_evaluation import evaluate_pii

    try:
        scores = evaluate_pii(dataset)
    except RagopsError as exc:
        raise _fail(str(exc)) from exc
    fields = ("precision", "recall", "support")
    report = {kind: {f: getattr(s, f) for f in fields} for kind, s in scores.items()}
    tracked = _tracked(_container(data_dir), "pii", {"dataset": str(dataset)}, report, no_track)
    if json_output:
        print(json.dumps({**report, **tracked}, indent=2))
        return
    table = Table("entity type", "precision", "recall", "support", "detected")
    for kind, score in scores.items():
        table.add_row(
            kind,
            f"{score.precision:.3f}",
            f"{score.recall:.3f}",
            str(score.support),
            str(score.detected),
        )
    out.print(table)


def _embedded_pairs(container: Any, pairs: list[Any]) -> dict[str, Any]:
    from ragops.services.cache_evaluation import embed_questions

    with _progress() as progress:
        task = progress.add_task("embedding questions", total=len(pairs) * 2)

        def embed(batch: list[str]) -> Any:
            vectors = container.embedder.embed_array(batch)
            progress.advance(task, len(batch))
            return vectors

        return embed_questions(pairs, embed)


@eval_app.command("cache")
def eval_cache(
    pairs: Annotated[
        Path, typer.Option(help="JSON lines of {question1, question2, label} (QQP's format).")
    ],
    threshold: Annotated[
        float | None,
        typer.Option(min=0.0, max=1.0, help="Verifier threshold (default: the configured one)."),
    ] = None,
    split: Annotated[
        str,
        typer.Option(help="all, or the fit, tune or holdout fifth that calibration uses."),
    ] = "all",
    data_dir: DataDir = None,
    json_output: JsonFlag = False,
    no_track: NoTrack = False,
) -> None:
    """Replay question pairs through the answer cache: cache every question1, look up every
    question2, and report correct, wrong and false hits."""
    from ragops.domain.cache import DuplicateVerifier
    from ragops.services.cache_evaluation import load_pairs, replay_pairs, split_of

    if split not in ("all", "fit", "tune", "holdout"):
        raise typer.BadParameter("use all, fit, tune or holdout", param_hint="--split")
    container = _container(data_dir)
    cache = container.answer_cache
    verifier = cache.verifier if cache is not None else DuplicateVerifier.packaged()
    if threshold is not None:
        verifier = verifier.with_threshold(threshold)
    try:
        loaded = [p for p in load_pairs(pairs) if split in ("all", split_of(p))]
        report = replay_pairs(loaded, _embedded_pairs(container, loaded), verifier)
    except RagopsError as exc:
        raise _fail(str(exc)) from exc
    fields = ("hit_rate", "wrong_hit_rate", "false_hit_rate", "threshold", "pairs")
    summary = {**{f: getattr(report, f) for f in fields}, **report.to_dict()}
    params = {"pairs_file": str(pairs), "split": split, "verifier_threshold": verifier.threshold}
    tracked = _tracked(container, "cache", params, summary, no_track)
    if json_output:
        print(json.dumps({**summary, **tracked}))
        return
    table = Table("measure", "value")
    table.add_row("pairs", f"{report.pairs} ({report.duplicates} duplicates)")
    table.add_row("cached entries", str(report.cached_entries))
    table.add_row("hit rate (own entry, duplicates)", f"{report.hit_rate:.1%}")
    table.add_row("wrong hit rate (other entry, duplicates)", f"{report.wrong_hit_rate:.1%}")
    table.add_row("false hit rate (non-duplicates)", f"{report.false_hit_rate:.2%}")
    table.add_row("exact hits", str(report.exact_hits))
    table.add_row("threshold", f"{report.threshold} (cosine floor {report.similarity_floor})")
    table.add_row("lookup p50 / p95", f"{report.lookup_ms_p50} / {report.lookup_ms_p95} ms")
    out.print(table)


@cache_app.command("calibrate")
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
    try:
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
    except RagopsError as exc:
        raise _fail(str(exc)) from exc
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(verifier.to_dict(), separators=(",", ":")))
    out.print(
        f"wrote {output}: {len(verifier.trees)} trees, threshold {verifier.threshold} "
        f"(cosine floor {verifier.similarity_floor})"
    )


@prompts_app.command("list")
def prompts_list(data_dir: DataDir = None, json_output: JsonFlag = False) -> None:
    """The prompt templates, which one answers by default, and the experiment's split."""
    from ragops.domain.prompts import packaged_prompts

    container = _container(data_dir)
    try:
        experiment = container.experiment
    except RagopsError as exc:
        raise _fail(str(exc)) from exc
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

    if tenant is not None:
        tenant = _tenant(tenant)
    if since is not None:
        try:
            datetime.date.fromisoformat(since)
        except ValueError as exc:
            raise typer.BadParameter("use YYYY-MM-DD", param_hint="--since") from exc
    container = _container(data_dir)
    try:
        report = ab_report(container.store, tenant=tenant, since=since, experiment=experiment)
    except RagopsError as exc:
        raise _fail(str(exc)) from exc
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


@app.command()
def invoke(
    function: Annotated[
        str, typer.Argument(help="Function folder under functions/: api, ingest, scaler.")
    ],
    event_file: Annotated[
        Path, typer.Argument(help="Event JSON, for example events/api_query.json.")
    ],
    functions_dir: Annotated[Path, typer.Option(help="Where the function folders are.")] = Path(
        "functions"
    ),
    data_dir: DataDir = None,
) -> None:
    """Run a Lambda handler locally with an event file and print its result (the
    Docker-free equivalent of `sam local invoke`). Uses the RAGOPS_* settings."""
    from ragops.entrypoints import lambdas

    try:
        event = json.loads(event_file.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise _fail(f"{event_file}: {exc}") from exc
    try:
        handler = lambdas.load_function(functions_dir, function)
    except FileNotFoundError as exc:
        raise _fail(str(exc)) from exc
    lambdas.use_container(_container(data_dir))
    try:
        result = handler(event, lambdas.LocalLambdaContext(function_name=f"ragops-{function}"))
    except Exception as exc:  # whatever the handler raised is the answer, minus the trace
        raise _fail(f"the {function} handler raised {type(exc).__name__}: {exc}") from exc
    print(json.dumps(result, indent=2, default=str))


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
    from ragops.services.documents import IngestResult
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
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="Only this tenant (default: every tenant).")
    ] = None,
    data_dir: DataDir = None,
    json_output: JsonFlag = False,
) -> None:
    """Rebuild the index from the chunk artifacts in the object store, without embedding.
    Safe to run again: documents already in the index are skipped, so an interrupted run
    continues where it stopped."""
    from ragops.services.rehydrate import rehydrate_tier

    if tenant is not None:
        tenant = _tenant(tenant)
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


@eval_app.command("suite")
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
    try:
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
        with _progress() as progress:
            tasks: dict[str, Any] = {}

            def report_progress(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = progress.add_task(stage, total=total)
                progress.update(tasks[stage], completed=done, total=total)

            report = run_suite(container, sample, progress=report_progress)
    except RagopsError as exc:
        raise _fail(str(exc)) from exc
    chosen = GateBaseline.choose(saved, baseline_file, champion)
    baseline = chosen.evaluation
    gate = gate_verdict(report, chosen, margins_of(settings))
    params = {**sample.params(), "sample": report["sample"], "pipeline_version": version}
    tracked = _tracked(container, "suite", params, {**report, "gate": gate}, no_track)
    if pipeline is not None:
        try:
            record_on_version(registry, pipeline, tracked["mlflow_run_id"], report)
        except RagopsError as exc:
            raise _fail(str(exc)) from exc
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
def pipeline_list(data_dir: DataDir = None, json_output: JsonFlag = False) -> None:
    """Registered pipeline versions with their aliases and last evaluation."""
    try:
        versions = _registry(data_dir).versions()
    except RagopsError as exc:
        raise _fail(str(exc)) from exc
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
def pipeline_show(
    version: Annotated[str, typer.Argument(help="A version number, champion or challenger.")],
    data_dir: DataDir = None,
) -> None:
    """One version's configuration and last evaluation, as JSON."""
    registry = _registry(data_dir)
    try:
        found = registry.get(int(version)) if version.isdigit() else registry.by_alias(version)
    except RagopsError as exc:
        raise _fail(str(exc)) from exc
    if found is None:
        raise _fail(f"no version is {version}")
    print(json.dumps(found.to_dict(), indent=2))


@pipeline_app.command("register")
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
    try:
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
    except RagopsError as exc:
        raise _fail(str(exc)) from exc
    if json_output:
        print(json.dumps(registered.to_dict(), indent=2))
        return
    out.print(
        f"registered pipeline version {registered.version} (challenger); evaluate it with "
        f"`ragops eval suite --pipeline {registered.version} ...`",
        highlight=False,
    )


@pipeline_app.command("promote")
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
    except RagopsError as exc:
        raise _fail(str(exc)) from exc
    if json_output:
        print(json.dumps(promotion.to_dict(), indent=2))
        return
    before = f" (was {promotion.previous})" if promotion.previous is not None else ""
    out.print(f"champion: version {version}{before}", highlight=False)
    out.print("the API serves it from its next start (a new Lambda cold start in the cloud)")


@pipeline_app.command("rollback")
def pipeline_rollback(data_dir: DataDir = None, json_output: JsonFlag = False) -> None:
    """Move champion back to the version that held it before."""
    from ragops.services.pipeline import rollback_pipeline

    try:
        moved_from, moved_to = rollback_pipeline(_registry(data_dir))
    except RagopsError as exc:
        raise _fail(str(exc)) from exc
    if json_output:
        print(json.dumps({"champion": moved_to, "previous": moved_from}))
        return
    out.print(f"champion: version {moved_to} (rolled back from {moved_from})", highlight=False)


@app.command("sync")
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
    files = [SourceFile(name, path.read_bytes) for path, name in _expand([folder])]
    container = _container(data_dir)
    try:
        report = sync_documents(
            container.ingest_context(),
            tenant=tenant,
            files=files,
            tier_status=container.tier_status,
            index_now=container.settings.ingest_mode == "sync",
            prune=prune,
            quota=container.upload_context().quota,
        )
    except RagopsError as exc:
        raise _fail(str(exc)) from exc
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


QuestionsFile = Annotated[
    Path,
    typer.Option(help='JSON lines of questions, one {"text": ...} object a line (100 or more).'),
]


@monitor_app.command("drift")
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

    tenant = _tenant(tenant) if tenant is not None else None
    try:
        reference_questions = load_questions(reference)
        current_questions = load_questions(current)
        container = _container(data_dir)
        with _progress() as progress:
            tasks: dict[str, Any] = {}

            def report_progress(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = progress.add_task(stage, total=total)
                progress.update(tasks[stage], completed=done)

            report = measure_drift(
                container.embedder,
                reference_questions,
                current_questions,
                index=container.index if tenant is not None else None,
                tenant=tenant,
                top_k=container.settings.top_k,
                progress=report_progress,
            )
    except RagopsError as exc:
        raise _fail(str(exc)) from exc
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


@keys_app.command("create")
def keys_create(
    tenant: Annotated[str, typer.Option("--tenant", help="The tenant the key acts for.")],
    name: Annotated[str, typer.Option(help="What the key is for (shown in the list).")] = "",
    data_dir: DataDir = None,
    json_output: JsonFlag = False,
) -> None:
    """Create an API key for TENANT. The key is printed once: only a salted hash is kept."""
    from ragops.services.auth import create_api_key

    tenant = _tenant(tenant)
    try:
        record, key = create_api_key(_container(data_dir).store, tenant, name)
    except RagopsError as exc:
        raise _fail(str(exc)) from exc
    if json_output:
        print(json.dumps({"id": record.key_id, "key": key, "tenant": tenant}))
        return
    out.print(f"API key {record.key_id} for tenant {tenant} (shown once, keep it safe):")
    print(key)


@keys_app.command("list")
def keys_list(
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant's keys.")] = None,
    data_dir: DataDir = None,
    json_output: JsonFlag = False,
) -> None:
    """API keys (never the keys themselves): id, tenant, name, created, revoked."""
    from ragops.services.auth import list_api_keys

    if tenant is not None:
        tenant = _tenant(tenant)
    try:
        records = list_api_keys(_container(data_dir).store, tenant)
    except RagopsError as exc:
        raise _fail(str(exc)) from exc
    if json_output:
        print(json.dumps({"keys": [r.public() for r in records]}, indent=2))
        return
    table = Table("id", "tenant", "name", "created", "revoked")
    for r in records:
        table.add_row(r.key_id, r.tenant, r.name, r.created_at, r.revoked_at or "-")
    out.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (see `ragops keys list`).")],
    data_dir: DataDir = None,
) -> None:
    """Revoke an API key: it stops working at its next request."""
    from ragops.services.auth import revoke_api_key

    try:
        record = revoke_api_key(_container(data_dir).store, key_id)
    except RagopsError as exc:
        raise _fail(str(exc)) from exc
    out.print(f"revoked {record.key_id} (tenant {record.tenant}) at {record.revoked_at}")


def main() -> None:
    from ragops.log_masking import install as install_pii_masking

    # Warnings and errors to stderr, masked; a handler level too, since some libraries set
    # their own loggers to DEBUG.
    handler = logging.StreamHandler()
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    install_pii_masking(logging.getLogger())
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
