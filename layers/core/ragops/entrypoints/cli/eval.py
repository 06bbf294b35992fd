"""``ragops eval``: retrieval quality, abstention, answer quality, routing, PII detection
and the answer cache, each recorded in MLflow unless --no-track (``eval suite``, the
gate, is in ``eval_suite``)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ragops.domain.models import SearchMode
from ragops.entrypoints.cli.cache import _embedded_pairs
from ragops.entrypoints.cli.common import (
    DataDir,
    JsonFlag,
    NoTrack,
    _container,
    _progress,
    _stage_progress,
    _tracked,
    fails_on_ragops_error,
    out,
)

eval_app = typer.Typer(help="Measure answers, retrieval, routing, cache, PII", no_args_is_help=True)


@eval_app.command("retrieval")
@fails_on_ragops_error
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
    with _stage_progress() as report:
        result = run_retrieval_eval(
            container.ingest_context(),
            dataset,
            split=split,
            mode=mode,
            max_queries=max_queries,
            progress=report,
        )
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
@fails_on_ragops_error
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
    report = evaluate_abstention(container.ingest_context(), container.answer_context(), dataset)
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
@fails_on_ragops_error
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
    with _progress() as bar:
        task = bar.add_task("answering" if fit is None else "reading", total=None)

        def step(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=total)

        if fit is not None:
            tenant, questions = answers.index_paragraphs(container.ingest_context(), dataset)
            readings = answers.read_questions(container.answer_context(), tenant, questions, step)
        else:
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
    if fit is not None:
        model = answers.fit_answer_model(
            readings,
            decline_rate=decline_rate,
            trained_on=dataset.name,
            embedding_model=container.embedder.model_id,
        )
        answers.save_answer_model(model, fit)
        curve = answers.tradeoff_curve(model, readings)
        fitted = {"model": str(fit), "threshold": model.threshold, "curve": curve}
        if json_output:
            print(json.dumps(fitted, indent=2))
        else:
            out.print(f"wrote {fit} (threshold {model.threshold})", highlight=False)
        return
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
@fails_on_ragops_error
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
@fails_on_ragops_error
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

    scores = evaluate_pii(dataset)
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


@eval_app.command("cache")
@fails_on_ragops_error
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
    loaded = [p for p in load_pairs(pairs) if split in ("all", split_of(p))]
    from ragops.bootstrap import duplicate_model_encoder_of, replay_cache_stores

    # The cache's duplicate-question model when one serves (its own vectors, the same
    # index type over the replay's), else the embedder's vectors with the verifier: what
    # a lookup in the product uses.
    served = cache.questions if cache is not None else None
    model = duplicate_model_encoder_of(served)
    if model is not None:
        at = model[1] if threshold is None else threshold
        verifier = DuplicateVerifier(threshold=at, similarity_floor=at, candidates=1)
    # Every question at once: the same model with a session per core (serving has one).
    bulk = container.cache_duplicate_model(workers=None) if model is not None else None
    embedded = _embedded_pairs(container, loaded, (bulk or model)[0] if model else None)
    store, questions = replay_cache_stores(served, threshold=verifier.threshold, primed=embedded)
    report = replay_pairs(loaded, embedded, verifier, (store, questions))
    fields = ("hit_rate", "wrong_hit_rate", "false_hit_rate", "threshold", "pairs")
    summary = {**{f: getattr(report, f) for f in fields}, **report.to_dict()}
    params = {
        "pairs_file": str(pairs),
        "split": split,
        "verifier_threshold": verifier.threshold,
        "duplicate_model": model[0].model_id if model is not None else "none (verifier)",
    }
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
