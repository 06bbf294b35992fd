"""The ``ragops`` command line. The only package that prints.

Each module holds a command group; this one builds ``app`` from them and runs it (``main``,
the console script). The top-level commands and ``eval suite`` stand beside commands of
other modules, so they are added here, in the order ``ragops --help`` lists them."""

from __future__ import annotations

import logging
import sys

import typer

from ragops.entrypoints.cli import (
    ask,
    cache,
    common,
    costs,
    documents,
    eval_followups,
    eval_suite,
    keys,
    monitor,
    pipeline,
    prompts,
    serve,
    tier,
)
from ragops.entrypoints.cli.common import err
from ragops.entrypoints.cli.eval import eval_app

# What every command builds its container with, looked up here at each call: replacing it
# on this package (as tests do) reaches the commands of every module.
_container = common._build_container

app = typer.Typer(
    name="ragops",
    help="Document question answering with hybrid search and cited answers.",
    no_args_is_help=True,
    add_completion=False,
)
app.command()(serve.serve)
app.command()(documents.ingest)
app.command()(ask.ask)
app.command()(serve.invoke)
app.command("sync")(documents.sync)
eval_app.command("suite")(eval_suite.eval_suite)
eval_app.command("followups")(eval_followups.eval_followups)
app.add_typer(documents.documents_app, name="documents")
app.add_typer(eval_app, name="eval")
app.add_typer(tier.tier_app, name="tier")
app.add_typer(cache.cache_app, name="cache")
app.add_typer(prompts.prompts_app, name="prompts")
app.add_typer(costs.costs_app, name="costs")
app.add_typer(pipeline.pipeline_app, name="pipeline")
app.add_typer(keys.keys_app, name="keys")
app.add_typer(monitor.monitor_app, name="monitor")


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
