"""Personal data and credentials never reach the logs: a ``logging.Filter`` that masks them
in every record (the message, its arguments and string fields passed with ``extra=``)."""

from __future__ import annotations

import logging
import re

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

# ragops API keys, JWTs, and whatever follows "Bearer": never in a log line.
_CREDENTIALS = re.compile(
    r"rgk_?[0-9a-f]{16}_?[A-Za-z0-9_-]{20,}"
    r"|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"
    r"|(?i:bearer)\s+[A-Za-z0-9._~+/=-]{8,}"
)


def mask_credentials(text: str) -> str:
    """``text`` with API keys, JWTs and bearer credentials replaced by ``<CREDENTIAL>``."""
    return _CREDENTIALS.sub("<CREDENTIAL>", text)


class PiiMaskingFilter(logging.Filter):
    """Replace personal data with ``<KIND>`` before a record is formatted. Never drops a
    record."""

    def filter(self, record: logging.LogRecord) -> bool:
        # Imported on the first record, not at import: the patterns cost a cold start ~20 ms.
        from ragops.domain.pii import mask_pii

        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a bad format string: mask what is there
            message = str(record.msg)
        record.msg = mask_pii(mask_credentials(message))[0]
        record.args = None
        for key, value in vars(record).items():
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, mask_pii(mask_credentials(value))[0])
        return True


def install(logger: logging.Logger | object) -> None:
    """Add the filter to every handler of ``logger`` (a stdlib logger, or a Powertools
    ``Logger``): on the handler, not the logger, because a logger's own filters never see
    the records its children propagate to it. Idempotent."""
    target = getattr(logger, "_logger", logger)  # Powertools wraps a stdlib logger
    for handler in target.handlers:
        if not any(isinstance(f, PiiMaskingFilter) for f in handler.filters):
            handler.addFilter(PiiMaskingFilter())
