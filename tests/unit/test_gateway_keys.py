"""Per-tenant API Gateway keys, under moto: `ragops keys create` admits each ragops key to
the keyed API's usage plan with the key itself as the value, so API Gateway throttles and
meters each tenant's keys on their own (across function instances); revoking removes it."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from ragops.adapters.api_gateway_keys import UsagePlanKeys
from ragops.entrypoints.cli import app
from ragops.errors import ConfigurationError
from ragops.services.auth import (
    authenticate_api_key,
    create_api_key,
    list_api_keys,
    revoke_api_key,
)
from tests.fakes import MemoryObjectStore


@pytest.fixture
def apigateway():
    with mock_aws():
        client = boto3.client("apigateway", region_name="us-east-1")
        api = client.create_rest_api(name="ragops-test")["id"]
        plan = client.create_usage_plan(
            name="ragops-test-tenants", throttle={"rateLimit": 10.0, "burstLimit": 20}
        )["id"]
        yield client, plan, api


def plan_key_values(client, plan: str) -> dict[str, str]:
    """name -> value of every key attached to ``plan``."""
    attached = client.get_usage_plan_keys(usagePlanId=plan)["items"]
    return {item["name"]: item["value"] for item in attached}


def test_a_new_key_is_its_tenants_gateway_key_in_the_usage_plan(apigateway):
    client, plan, _ = apigateway
    store = MemoryObjectStore()
    gateway = UsagePlanKeys(plan, client)
    record, key = create_api_key(store, "acme", "ci", gateway=gateway)
    other, other_key = create_api_key(store, "globex", gateway=gateway)

    assert plan_key_values(client, plan) == {
        f"ragops-{record.key_id}": key,
        f"ragops-{other.key_id}": other_key,
    }
    stored = client.get_api_keys(nameQuery=f"ragops-{record.key_id}", includeValues=True)
    (item,) = stored["items"]
    assert item["enabled"] and item["tags"] == {
        "ragops:tenant": "acme",
        "ragops:key-id": record.key_id,
    }
    assert authenticate_api_key(store, key).tenant == "acme"

    revoke_api_key(store, record.key_id, gateway=gateway)
    assert list(plan_key_values(client, plan)) == [f"ragops-{other.key_id}"]
    revoke_api_key(store, record.key_id, gateway=gateway)  # again: nothing left, no error


def test_a_key_the_gateway_refuses_is_not_kept_anywhere(apigateway):
    client, _, _ = apigateway
    store = MemoryObjectStore()
    with pytest.raises(ConfigurationError, match=r"no usage plan up-nope.*UsagePlanId"):
        create_api_key(store, "acme", gateway=UsagePlanKeys("up-nope", client))
    assert list_api_keys(store) == []
    assert client.get_api_keys()["items"] == []  # the half-made gateway key removed too


def test_the_cli_admits_keys_to_the_usage_plan_from_the_settings(apigateway, tmp_path, monkeypatch):
    client, plan, _ = apigateway
    monkeypatch.setenv("RAGOPS_USAGE_PLAN_ID", plan)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    runner = CliRunner()
    created = runner.invoke(
        app, ["keys", "create", "--tenant", "acme", "--data-dir", str(tmp_path), "--json"]
    )
    assert created.exit_code == 0, created.output
    made = json.loads(created.stdout)
    assert plan_key_values(client, plan) == {f"ragops-{made['id']}": made["key"]}

    revoked = runner.invoke(app, ["keys", "revoke", made["id"], "--data-dir", str(tmp_path)])
    assert revoked.exit_code == 0, revoked.output
    assert plan_key_values(client, plan) == {}
