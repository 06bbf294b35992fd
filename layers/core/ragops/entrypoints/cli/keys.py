"""``ragops keys``: API keys, created, listed and revoked."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from ragops.entrypoints.cli.common import (
    DataDir,
    JsonFlag,
    _container,
    _optional_tenant,
    _tenant,
    fails_on_ragops_error,
    out,
)

keys_app = typer.Typer(help="API keys: create, list, revoke.", no_args_is_help=True)


@keys_app.command("create")
@fails_on_ragops_error
def keys_create(
    tenant: Annotated[str, typer.Option("--tenant", help="The tenant the key acts for.")],
    name: Annotated[str, typer.Option(help="What the key is for (shown in the list).")] = "",
    data_dir: DataDir = None,
    json_output: JsonFlag = False,
) -> None:
    """Create an API key for TENANT. The key is printed once: only a salted hash is kept.
    With RAGOPS_USAGE_PLAN_ID (AWS), it is also the tenant's API Gateway key in that usage
    plan, which throttles and meters it."""
    from ragops.services.auth import create_api_key

    tenant = _tenant(tenant)
    container = _container(data_dir)
    record, key = create_api_key(container.store, tenant, name, gateway=container.gateway_keys)
    if json_output:
        print(json.dumps({"id": record.key_id, "key": key, "tenant": tenant}))
        return
    out.print(f"API key {record.key_id} for tenant {tenant} (shown once, keep it safe):")
    print(key)


@keys_app.command("list")
@fails_on_ragops_error
def keys_list(
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant's keys.")] = None,
    data_dir: DataDir = None,
    json_output: JsonFlag = False,
) -> None:
    """API keys (never the keys themselves): id, tenant, name, created, revoked."""
    from ragops.services.auth import list_api_keys

    tenant = _optional_tenant(tenant)
    records = list_api_keys(_container(data_dir).store, tenant)
    if json_output:
        print(json.dumps({"keys": [r.public() for r in records]}, indent=2))
        return
    table = Table("id", "tenant", "name", "created", "revoked")
    for r in records:
        table.add_row(r.key_id, r.tenant, r.name, r.created_at, r.revoked_at or "-")
    out.print(table)


@keys_app.command("revoke")
@fails_on_ragops_error
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (see `ragops keys list`).")],
    data_dir: DataDir = None,
) -> None:
    """Revoke an API key: it stops working at its next request (and, with
    RAGOPS_USAGE_PLAN_ID, API Gateway stops admitting it)."""
    from ragops.services.auth import revoke_api_key

    container = _container(data_dir)
    record = revoke_api_key(container.store, key_id, gateway=container.gateway_keys)
    out.print(f"revoked {record.key_id} (tenant {record.tenant}) at {record.revoked_at}")
