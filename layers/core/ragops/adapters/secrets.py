"""Secrets from AWS Secrets Manager (the tier's bearer token), through an injected client."""

from __future__ import annotations

from typing import Any

from ragops.adapters.aws_errors import aws_error
from ragops.errors import ConfigurationError


class RotatingSecret:
    """The ``SecretString`` of ``secret_id``, read through Powertools' ``SecretsProvider``
    and kept for ``max_age`` seconds: a rotated secret is picked up within ``max_age``
    (or at once with ``refresh=True``, after the other side refused the old value),
    without a cold start, and a warm function reads Secrets Manager at most once per
    ``max_age``.

    Call it for the current value. A missing, unreadable or binary secret is a
    ``ConfigurationError`` naming the secret, never its value."""

    def __init__(self, secret_id: str, client: Any, *, max_age: int) -> None:
        from aws_lambda_powertools.utilities.parameters import SecretsProvider

        self.secret_id = secret_id
        self.max_age = max_age
        self._provider = SecretsProvider(boto3_client=client)

    def __call__(self, *, refresh: bool = False) -> str:
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

        try:
            value = self._provider.get(self.secret_id, max_age=self.max_age, force_fetch=refresh)
        except GetParameterError as exc:
            raise ConfigurationError(
                f"cannot read secret {self.secret_id!r}: {_reason(exc)}"
            ) from exc
        if not isinstance(value, str) or not value.strip():
            raise ConfigurationError(f"secret {self.secret_id!r} holds no string value")
        return value.strip()


def _reason(exc: Exception) -> str:
    """The AWS error code behind Powertools' wrapper (its message may quote the request)."""
    cause = exc.__cause__ or exc.__context__
    error = aws_error(cause)
    if error is not None:
        return str(error.get("Code", "error"))
    return type(cause or exc).__name__
