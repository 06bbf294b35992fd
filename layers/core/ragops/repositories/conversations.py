"""The conversation log: one ``Conversation`` per thread, at
``conversations/{tenant}/{user}/{conversation_id}.json`` (``domain/keys.py``).

Keys are per tenant and per user, so a listing or a read can only reach the caller's
own: another tenant's or user's id is simply not under the caller's prefix. A
conversation not updated for ``retention_days`` has expired: it reads as missing and is
deleted when met (on AWS an S3 lifecycle rule on ``conversations/`` deletes it too, so
one never read again does not stay).

A turn is appended to the conversation as stored when the answer is ready, not as it was
read when the question came, with a conditional write (``ObjectStore.put_if``): two
questions asked at once in one conversation both keep their turn.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from ragops.domain import keys
from ragops.domain.conversations import (
    Conversation,
    Turn,
    is_conversation_id,
    new_conversation_id,
)
from ragops.domain.tenants import validate_tenant
from ragops.errors import ConversationNotFound, ObjectNotFound, StoreUnavailable, WriteConflict
from ragops.ports import ObjectStore

DEFAULT_RETENTION_DAYS = 30
APPEND_ATTEMPTS = 8
"""Conditional writes tried before giving up on a conversation others keep writing."""


def _now() -> datetime:
    return datetime.now(UTC)


class ConversationRepository:
    """Reads and writes conversations in the object store."""

    def __init__(
        self,
        store: ObjectStore,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        if retention_days < 1:
            raise ValueError("conversations are kept one day or more")
        self.store = store
        self.retention = timedelta(days=retention_days)
        self.clock = clock

    def start(self, tenant: str, user: str | None) -> Conversation:
        """A new, empty conversation (saved with its first turn)."""
        validate_tenant(tenant)
        now = self.clock()
        return Conversation(
            new_conversation_id(now), tenant, user, now.isoformat(), now.isoformat()
        )

    def get(self, tenant: str, user: str | None, conversation_id: str) -> Conversation:
        """``ConversationNotFound`` unless ``conversation_id`` is one of ``user``'s within
        ``tenant`` and has not expired."""
        validate_tenant(tenant)
        if not is_conversation_id(conversation_id):
            raise ConversationNotFound(str(conversation_id)[:64])
        key = keys.conversation_key(tenant, user, conversation_id)
        try:
            conversation = Conversation.from_dict(json.loads(self.store.get(key)))
        except ObjectNotFound:
            raise ConversationNotFound(conversation_id) from None
        except ValueError:  # an unreadable record is not served as anybody's thread
            raise ConversationNotFound(conversation_id) from None
        if conversation.tenant != tenant or conversation.user != user:
            raise ConversationNotFound(conversation_id)
        if self._expired(conversation):
            self.store.delete(key)
            raise ConversationNotFound(conversation_id)
        return conversation

    def append(self, conversation: Conversation, turn: Turn) -> Conversation | None:
        """Adds ``turn`` to ``conversation`` as it is stored now (a turn that another
        request saved since ``conversation`` was read is kept), creating a conversation
        that this turn starts (one without turns). Returns what was saved, or None for a
        conversation deleted meanwhile: it stays deleted. ``StoreUnavailable`` when other
        writes keep winning."""
        key = self._key(conversation)
        stored = bool(conversation.turns)
        for _ in range(APPEND_ATTEMPTS):
            current, tag = conversation, None
            if stored:
                try:
                    data, tag = self.store.get_tagged(key)
                    current = Conversation.from_dict(json.loads(data))
                except (ObjectNotFound, ValueError):  # deleted, or unreadable as in ``get``
                    return None
            updated = current.with_turn(turn)
            try:
                self.store.put_if(key, _encoded(updated), "application/json", tag=tag)
            except WriteConflict:
                stored = True  # created or changed meanwhile: read it again
                continue
            return updated
        raise StoreUnavailable(
            f"conversation {conversation.conversation_id} is being written by other "
            "requests; ask again"
        )

    @staticmethod
    def _key(conversation: Conversation) -> str:
        return keys.conversation_key(
            conversation.tenant, conversation.user, conversation.conversation_id
        )

    def list(self, tenant: str, user: str | None) -> list[Conversation]:
        """``user``'s conversations within ``tenant``, the latest updated first; expired
        ones are deleted on the way."""
        validate_tenant(tenant)
        found = []
        for key in list(self.store.list(keys.conversations_prefix(tenant, user))):
            try:
                conversation = Conversation.from_dict(json.loads(self.store.get(key)))
            except (ObjectNotFound, ValueError):
                continue
            if conversation.tenant != tenant or conversation.user != user:
                continue
            if self._expired(conversation):
                self.store.delete(key)
                continue
            found.append(conversation)
        return sorted(found, key=lambda c: c.updated_at, reverse=True)

    def delete(self, tenant: str, user: str | None, conversation_id: str) -> None:
        """``ConversationNotFound`` unless it is ``user``'s within ``tenant``."""
        self.get(tenant, user, conversation_id)
        self.store.delete(keys.conversation_key(tenant, user, conversation_id))

    def _expired(self, conversation: Conversation) -> bool:
        try:
            updated = datetime.fromisoformat(conversation.updated_at)
        except ValueError:
            return True
        if updated.tzinfo is None:
            updated = updated.replace(tzinfo=UTC)
        return self.clock() - updated > self.retention


def _encoded(conversation: Conversation) -> bytes:
    return json.dumps(conversation.to_dict(), ensure_ascii=False).encode("utf-8")
