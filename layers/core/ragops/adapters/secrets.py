"""Secrets from AWS Secrets Manager (the tier's bearer token), through an injected client."""

from __future__ import annotations

from typing import Any

from ragops.errors import ConfigurationError


def read_secret_string(secret_id: str, client: Any) -> str:
    """The ``SecretString`` of ``secret_id``. A missing, unreadable or binary secret is a
    ``ConfigurationError`` naming the secret (never its value)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        value = client.get_secret_value(SecretId=secret_id).get("SecretString")
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise ConfigurationError(f"cannot read secret {secret_id!r}: {code}") from exc
    except BotoCoreError as exc:
        raise ConfigurationError(f"cannot read secret {secret_id!r}: {exc}") from exc
    if not value:
        raise ConfigurationError(f"secret {secret_id!r} holds no string value")
    return value.strip()
