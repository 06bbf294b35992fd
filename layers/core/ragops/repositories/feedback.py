"""The feedback log: one ``FeedbackRecord`` (a vote) per answer, at
``feedback/{tenant}/{answer_id}.json``; a later vote on the same answer replaces the
earlier one. Whether the answer exists, and whether the rating is one of the allowed ones,
is the service's to check (``services/feedback.py``); this module keeps the records.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from ragops.domain import keys
from ragops.domain.tenants import validate_tenant
from ragops.ports import ObjectStore


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True, kw_only=True)
class FeedbackRecord:
    """A vote on one of ``tenant``'s answers: ``rating`` (``up`` or ``down``), the prompt
    variant and experiment that answered, when it was cast (ISO time) and the comment with
    personal data already masked. The JSON holds these fields in this order."""

    answer_id: str
    rating: str
    prompt_version: str | None = None
    experiment: str | None = None
    tenant: str
    at: str = ""
    comment: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(
        cls, data: dict[str, Any], *, tenant: str | None = None, answer_id: str | None = None
    ) -> FeedbackRecord:
        """A record from its JSON; ``tenant`` and ``answer_id``, where given, are those of
        its key and win over the JSON. Missing optional fields take their defaults, unknown
        ones are ignored; a missing rating reads as ``""`` (counted neither up nor down).
        ``ValueError`` for data that is not a vote (not an object, no tenant or answer)."""
        if not isinstance(data, dict):
            raise ValueError("a feedback record is a JSON object")
        owner, answer = tenant or data.get("tenant"), answer_id or data.get("answer_id")
        if not owner or not answer:
            raise ValueError("a feedback record names its tenant and answer")
        return cls(
            answer_id=str(answer),
            rating=str(data.get("rating") or ""),
            prompt_version=_text(data.get("prompt_version")),
            experiment=_text(data.get("experiment")),
            tenant=str(owner),
            at=str(data.get("at") or ""),
            comment=_text(data.get("comment")),
        )


class FeedbackLog:
    """Votes over an ``ObjectStore``. Failures of the store (``StoreUnavailable``) pass
    through."""

    def __init__(self, store: ObjectStore) -> None:
        self._store = store

    @staticmethod
    def _key(tenant: str, answer_id: str) -> str:
        keys.answer_day(answer_id)  # ValueError for a malformed answer id
        return keys.feedback_key(validate_tenant(tenant), answer_id)

    def put(self, record: FeedbackRecord) -> str:
        """Store ``record``, replacing an earlier vote on the same answer; returns its key.
        ``ValueError`` for an invalid tenant or a malformed answer id, before any write."""
        key = self._key(record.tenant, record.answer_id)
        self._store.put(key, json.dumps(record.to_dict()).encode(), "application/json")
        return key

    def get(self, tenant: str, answer_id: str) -> FeedbackRecord:
        """The vote on ``tenant``'s answer ``answer_id``: ``ObjectNotFound`` where there is
        none, ``ValueError`` for an invalid tenant or a malformed answer id."""
        key = self._key(tenant, answer_id)
        return FeedbackRecord.from_dict(
            json.loads(self._store.get(key)), tenant=tenant, answer_id=answer_id
        )

    def records(self, tenant: str | None = None) -> Iterator[FeedbackRecord]:
        """Every vote, or ``tenant``'s only (never another tenant's, even one whose id
        begins with ``tenant``); each with the tenant and answer id of its key. Keys outside
        the layout are skipped."""
        prefix = keys.feedback_prefix(validate_tenant(tenant)) if tenant else keys.FEEDBACK
        for key in self._store.list(prefix):
            parts = key[len(keys.FEEDBACK) :].split("/")
            if len(parts) != 2 or not parts[1].endswith(".json"):
                continue
            owner, answer_id = parts[0], parts[1].removesuffix(".json")
            yield FeedbackRecord.from_dict(
                json.loads(self._store.get(key)), tenant=owner, answer_id=answer_id
            )
