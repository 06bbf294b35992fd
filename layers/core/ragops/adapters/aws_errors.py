"""Reading what AWS said in a botocore ``ClientError``, for the adapters' own messages."""

from __future__ import annotations

from typing import Any


def aws_error(exc: BaseException | None) -> dict[str, Any] | None:
    """The ``Error`` part (``Code``, ``Message``) of a botocore ``ClientError``; None for
    any other exception (transport errors, ours)."""
    response = getattr(exc, "response", None)
    return response.get("Error", {}) if isinstance(response, dict) else None


def aws_error_code(exc: BaseException | None) -> str:
    """The error code AWS answered with (``AccessDeniedException``...), or ""."""
    return str((aws_error(exc) or {}).get("Code", ""))
