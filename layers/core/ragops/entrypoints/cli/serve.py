"""``ragops serve`` (the HTTP API) and ``ragops invoke`` (a Lambda handler, locally);
the package adds both to ``app``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ragops.entrypoints.cli.common import DataDir, _container, _fail, _settings, err


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
        settings = settings.replaced(auth=auth)
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
