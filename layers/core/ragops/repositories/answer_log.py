"""The answer log: one ``AnswerRecord`` per answered query, at
``usage/{tenant}/{day}/{name}.json``.

Append-only rather than a running total: Lambda functions answer queries concurrently, and
a read-modify-write total would lose updates. An answer's record is named by its answer id
(``{answer_id}.json``, the day from the id), so feedback finds it from the id alone; a
record without an answer id (a cost record, what ``record_query_cost`` writes) is named
``{HHMMSSffffff}-{8 hex}.json`` after its time, under the day of its time.

Two shapes are on disk, and both read: an answer record (every field) and the older cost
record (``tenant``, ``at``, ``model`` and the cost). A field a record lacks takes its
default, an unknown field is ignored, so records written before or after a field existed
still read.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any

from ragops.domain import keys
from ragops.domain.models import QueryCost
from ragops.domain.tenants import validate_tenant
from ragops.ports import ObjectStore

_ANSWER_FIELDS = (
    "prompt_version",
    "experiment",
    "latency_ms",
    "cache_hit",
    "abstained",
    "grounded",
    "route",
    "mode",
    "fallback",
)
"""Fields an answer record has and a cost record lacks (JSON order after ``model``)."""


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True, kw_only=True)
class AnswerRecord:
    """What is kept of an answer: never the question, the answer text or the user (those
    may be personal).

    A cost record (what ``record_query_cost`` writes) has no ``answer_id`` and only
    ``tenant``, ``at``, ``model`` and ``cost``; its answer fields are at their defaults.
    ``at`` is the ISO time it was recorded. ``day`` (``YYYY-MM-DD``) is the day of its
    key: read from the key when the record comes from the store, else derived from the
    answer id, else from ``at``; it is not written in the JSON. The defaults are what a
    record without the field means: not abstained, not grounded, no cache hit, no variant.
    """

    tenant: str
    answer_id: str | None = None
    at: str = ""
    model: str = ""
    prompt_version: str | None = None
    experiment: str | None = None
    latency_ms: float = 0.0
    cache_hit: str | None = None
    """``exact`` or ``semantic`` for an answer the cache served, None if generated."""
    abstained: bool = False
    grounded: bool = False
    """Grounded as made: an answer replaced by the extractive fallback was not."""
    route: str | None = None
    mode: str | None = None
    fallback: str | None = None
    cost: QueryCost = field(default_factory=QueryCost)
    day: str = ""

    def __post_init__(self) -> None:
        if not self.day:
            derived = keys.answer_day(self.answer_id) if self.answer_id else self.at[:10]
            object.__setattr__(self, "day", derived)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object as stored: the cost's fields flat, after the record's own. A
        cost record (no answer id, every answer field at its default) is written in its
        own shape, without the answer fields. Nothing is lost: a missing field reads as its
        default, so ``from_dict(to_dict(r)) == r``."""
        answer = {name: getattr(self, name) for name in _ANSWER_FIELDS}
        data: dict[str, Any] = {"tenant": self.tenant}
        if self.answer_id is not None:
            data["answer_id"] = self.answer_id
        data["at"] = self.at
        data["model"] = self.model
        if self.answer_id is not None or answer != _ANSWER_DEFAULTS:
            data.update(answer)
        data.update(asdict(self.cost))
        return data

    @classmethod
    def from_dict(
        cls, data: dict[str, Any], *, tenant: str | None = None, day: str | None = None
    ) -> AnswerRecord:
        """A record from any stored shape (answer or cost record, older or newer);
        ``tenant`` and ``day``, where given, are those of its key and win over the JSON.
        ``ValueError`` for data that is not a record (not an object, no tenant, a value
        of the wrong kind)."""
        if not isinstance(data, dict):
            raise ValueError("an answer record is a JSON object")
        owner = tenant or data.get("tenant")
        if not owner:
            raise ValueError("an answer record names its tenant")
        try:
            return cls._decode(data, str(owner), day or "")
        except TypeError as exc:  # a list or an object where a number belongs
            raise ValueError(f"not an answer record: {exc}") from exc

    @classmethod
    def _decode(cls, data: dict[str, Any], owner: str, day: str) -> AnswerRecord:
        cost = {
            f.name: type(f.default)(data[f.name])
            for f in fields(QueryCost)
            if data.get(f.name) is not None
        }
        answer_id = data.get("answer_id")
        return cls(
            tenant=owner,
            answer_id=_text(answer_id) if answer_id else None,
            at=str(data.get("at") or ""),
            model=str(data.get("model") or ""),
            prompt_version=_text(data.get("prompt_version")),
            experiment=_text(data.get("experiment")),
            latency_ms=float(data.get("latency_ms") or 0.0),
            cache_hit=str(data["cache_hit"]) if data.get("cache_hit") else None,
            abstained=bool(data.get("abstained")),
            grounded=bool(data.get("grounded")),
            route=_text(data.get("route")),
            mode=_text(data.get("mode")),
            fallback=_text(data.get("fallback")),
            cost=QueryCost(**cost),
            day=day,
        )


_ANSWER_DEFAULTS = {f.name: f.default for f in fields(AnswerRecord) if f.name in _ANSWER_FIELDS}


class AnswerLog:
    """Answer records over an ``ObjectStore``: append one, get one by its answer id, list
    them by tenant, day and first day. Failures of the store (``StoreUnavailable``) pass
    through."""

    def __init__(self, store: ObjectStore) -> None:
        self._store = store

    @staticmethod
    def key(record: AnswerRecord) -> str:
        """Where ``record`` goes: ``usage/{tenant}/{day}/{answer_id}.json``, or for a cost
        record ``usage/{tenant}/{day}/{HHMMSSffffff}-{8 hex}.json`` from ``at`` (a new
        name each call). ``ValueError`` for an invalid tenant, a malformed answer id or, in
        a cost record, an ``at`` that is not an ISO time."""
        tenant = validate_tenant(record.tenant)
        if record.answer_id is not None:
            return keys.answer_key(tenant, record.answer_id)
        at = datetime.fromisoformat(record.at)
        return keys.usage_key(
            tenant, f"{at:%Y-%m-%d}", f"{at:%H%M%S%f}-{uuid.uuid4().hex[:8]}.json"
        )

    def append(self, record: AnswerRecord) -> str:
        """Store ``record`` (``key``'s errors first); returns its key. An answer's record
        written again replaces the earlier one."""
        key = self.key(record)
        self._store.put(key, json.dumps(record.to_dict()).encode(), "application/json")
        return key

    def get(self, tenant: str, answer_id: str) -> AnswerRecord:
        """``tenant``'s record of ``answer_id``. ``ObjectNotFound`` where there is none
        (another tenant's answer included), ``ValueError`` for an invalid tenant or a
        malformed answer id, before any read."""
        key = keys.answer_key(validate_tenant(tenant), answer_id)
        return AnswerRecord.from_dict(
            json.loads(self._store.get(key)), tenant=tenant, day=keys.answer_day(answer_id)
        )

    def records(
        self,
        tenant: str | None = None,
        day: str | None = None,
        since: str | None = None,
    ) -> Iterator[AnswerRecord]:
        """Every record, or ``tenant``'s only (one listing of the tenant's prefix, never
        another tenant's), of ``day`` only (``YYYY-MM-DD``), from ``since`` on (a day,
        inclusive); in the store's listing order. Each record's ``tenant`` and ``day`` are
        those of its key. Keys outside the layout are skipped; a record that is not JSON
        or not a record raises ``ValueError``."""
        prefix = keys.usage_prefix(validate_tenant(tenant), day) if tenant else keys.USAGE
        for key in self._store.list(prefix):
            parts = key[len(keys.USAGE) :].split("/")
            if len(parts) != 3 or not parts[2].endswith(".json"):
                continue
            owner, record_day = parts[0], parts[1]
            if (day and record_day != day) or (since and record_day < since):
                continue
            yield AnswerRecord.from_dict(
                json.loads(self._store.get(key)), tenant=owner, day=record_day
            )
