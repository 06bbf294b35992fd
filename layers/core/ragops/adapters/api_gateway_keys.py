"""Per-tenant API Gateway keys in the keyed API's usage plan, through an injected boto3
``apigateway`` client."""

from __future__ import annotations

import logging
from typing import Any

from ragops.adapters.aws_errors import aws_error, aws_error_code
from ragops.errors import ConfigurationError

logger = logging.getLogger(__name__)

NAME_PREFIX = "ragops-"


class UsagePlanKeys:
    """A ``GatewayKeys`` over API Gateway: each ragops key becomes an API key named
    ``ragops-{key_id}`` (tagged with its tenant) whose value is the ragops key, attached to
    the usage plan ``usage_plan_id``, whose throttle and quota then apply to it alone."""

    def __init__(self, usage_plan_id: str, client: Any) -> None:
        self.usage_plan_id = usage_plan_id
        self.client = client

    def register(self, key_id: str, tenant: str, value: str) -> None:
        try:
            self.client.get_usage_plan(usagePlanId=self.usage_plan_id)
        except Exception as exc:
            raise ConfigurationError(
                f"no usage plan {self.usage_plan_id} (RAGOPS_USAGE_PLAN_ID: the stack's "
                f"UsagePlanId output): {_reason(exc)}"
            ) from exc
        try:
            created = self.client.create_api_key(
                name=f"{NAME_PREFIX}{key_id}",
                description=f"ragops API key {key_id} of tenant {tenant}",
                enabled=True,
                value=value,
                tags={"ragops:tenant": tenant, "ragops:key-id": key_id},
            )
        except Exception as exc:  # botocore's ClientError and transport errors
            raise ConfigurationError(f"API Gateway refused key {key_id}: {_reason(exc)}") from exc
        try:
            self.client.create_usage_plan_key(
                usagePlanId=self.usage_plan_id, keyId=created["id"], keyType="API_KEY"
            )
        except Exception as exc:
            self.client.delete_api_key(apiKey=created["id"])
            raise ConfigurationError(
                f"cannot add key {key_id} to usage plan {self.usage_plan_id} "
                f"(RAGOPS_USAGE_PLAN_ID, the stack's UsagePlanId output): {_reason(exc)}"
            ) from exc
        logger.info("gateway key registered", extra={"key_id": key_id, "tenant": tenant})

    def remove(self, key_id: str) -> None:
        name = f"{NAME_PREFIX}{key_id}"
        try:
            listed = self.client.get_api_keys(nameQuery=name, limit=500)
            for item in listed.get("items", []):
                if item.get("name") != name:  # nameQuery matches prefixes
                    continue
                try:
                    self.client.delete_usage_plan_key(
                        usagePlanId=self.usage_plan_id, keyId=item["id"]
                    )
                except Exception as exc:
                    if aws_error_code(exc) != "NotFoundException":
                        raise
                self.client.delete_api_key(apiKey=item["id"])
        except Exception as exc:
            raise ConfigurationError(
                f"cannot remove key {key_id} from API Gateway: {_reason(exc)}"
            ) from exc


def _reason(exc: Exception) -> str:
    error = aws_error(exc)
    if error is not None:
        return f"{error.get('Code', 'error')}: {error.get('Message', '')}".rstrip(": ")
    return str(exc)
