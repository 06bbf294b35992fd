"""The project's own errors.

Adapters translate vendor exceptions into these; entrypoints map them to HTTP statuses and
CLI messages in one place each (``entrypoints/api.py`` and ``entrypoints/cli/``).
"""

from __future__ import annotations


class RagopsError(Exception):
    """Base class of every error the product raises on purpose."""


class InvalidInput(RagopsError):
    """The caller sent something we cannot accept (HTTP 400/422)."""


class RequestBlocked(InvalidInput):
    """The guardrail refused the question (HTTP 400); ``findings`` say what it found."""

    def __init__(self, reason: str, findings: list[str]) -> None:
        super().__init__(f"the question was refused: {reason}")
        self.findings = findings


class DocumentRejected(InvalidInput):
    """A document could not be ingested; nothing was written (but see ``NoTextExtracted``).

    ``filename`` names the file and ``reason`` says why in words a user understands.
    """

    def __init__(self, filename: str, reason: str, *, status: int = 422) -> None:
        super().__init__(f"{filename}: {reason}")
        self.filename = filename
        self.reason = reason
        self.status = status


class NoTextExtracted(DocumentRejected):
    """A well-formed file without any text (a scanned PDF). Unlike other rejections it is
    kept, as a ``failed`` document with an ``empty_text`` finding: nothing is lost, and it
    can be indexed once it has text."""


class DocumentNotFound(RagopsError):
    """No document with this id exists for this tenant (HTTP 404)."""

    def __init__(self, doc_id: str) -> None:
        super().__init__(f"document {doc_id!r} not found")
        self.doc_id = doc_id


class AnswerNotFound(RagopsError):
    """No answer with this id was given to this tenant (HTTP 404)."""

    def __init__(self, answer_id: str) -> None:
        super().__init__(f"answer {answer_id!r} not found")
        self.answer_id = answer_id


class ConversationNotFound(RagopsError):
    """No conversation with this id is this tenant's and this user's (HTTP 404): another
    tenant's or user's reads the same as one that never existed, or has expired."""

    def __init__(self, conversation_id: str) -> None:
        super().__init__(f"conversation {conversation_id!r} not found")
        self.conversation_id = conversation_id


class ObjectNotFound(RagopsError):
    """The object store has no object under this key."""

    def __init__(self, key: str) -> None:
        super().__init__(f"object {key!r} not found")
        self.key = key


class StoreUnavailable(RagopsError):
    """The object store could not be reached or refused the request (HTTP 503)."""


class WriteConflict(RagopsError):
    """A conditional write lost: the object changed (or was created, or deleted) since
    the version the writer read. The writer reads it again and retries."""

    def __init__(self, key: str) -> None:
        super().__init__(f"object {key!r} changed since it was read")
        self.key = key


class TierUnavailable(RagopsError):
    """The vector tier could not serve the request (HTTP 503)."""


class ServicePaused(TierUnavailable):
    """The tier is paused, resuming, or its circuit breaker is open (HTTP 503).

    ``state`` is the declared tier state and ``retry_after`` the seconds to wait.
    """

    def __init__(self, message: str, *, state: str, retry_after: int) -> None:
        super().__init__(message)
        self.state = state
        self.retry_after = retry_after


class CacheUnavailable(RagopsError):
    """The answer cache could not be reached. Queries go on without it; a change to the
    corpus that cannot invalidate it fails (HTTP 503), so that no stale answer survives."""


class TrackingUnavailable(RagopsError):
    """The experiment tracking store (MLflow) could not record a run."""


class ModelUnavailable(RagopsError):
    """An embedding or chat model could not be loaded or called (HTTP 503)."""


class ConfigurationError(RagopsError):
    """The settings are inconsistent or a required optional dependency is missing."""


class PromotionRefused(RagopsError):
    """A pipeline version may not become the champion: it has no evaluation, was
    evaluated on another sample than the champion, or regresses it (the reason says)."""


class Unauthenticated(RagopsError):
    """No credential, or one that is malformed, unknown, revoked or expired (HTTP 401).
    The message never repeats the credential."""


class RateLimited(RagopsError):
    """Too many requests from one tenant (HTTP 429 with ``Retry-After``)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class QuotaExceeded(RagopsError):
    """A tenant's document or storage quota would be exceeded (HTTP 403)."""
