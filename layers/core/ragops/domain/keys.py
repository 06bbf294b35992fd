"""Every key layout of the object store, in one place.

The object store (S3 on AWS, a folder locally) is the system of record. Each top-level
prefix below is one kind of object; the functions build its keys. The cloud roles in
``template.yaml`` grant access by these prefixes, and ``tests/unit/test_iam_access.py``
checks that every key the functions touch has one of them and that each function's role
allows what the function does with it (``s3:ListBucket`` included: without it S3 answers
403, not 404, for a key that does not exist yet).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

RAW = "raw/"
DOCUMENTS = "documents/"
CHUNKS = "chunks/"
QUALITY = "quality/"
USAGE = "usage/"
FEEDBACK = "feedback/"
KEY_RECORDS = "auth/keys/"
EVAL = "eval/"
UPLOADS = "uploads/"
MODELS = "models/"
CONVERSATIONS = "conversations/"


@dataclass(frozen=True)
class KeyLayout:
    prefix: str
    holds: str


LAYOUTS = (
    KeyLayout(RAW, "raw/{tenant}/{doc_id}: an uploaded file's bytes"),
    KeyLayout(DOCUMENTS, "documents/{tenant}/{doc_id}.json: a document's manifest"),
    KeyLayout(CHUNKS, "chunks/{tenant}/{doc_id}/{version}.json: chunks and embeddings"),
    KeyLayout(QUALITY, "quality/{tenant}/duplicates.json: the tenant's duplicate index"),
    KeyLayout(USAGE, "usage/{tenant}/{day}/{answer_id}.json: answer and cost records"),
    KeyLayout(FEEDBACK, "feedback/{tenant}/{answer_id}.json: a vote on an answer"),
    KeyLayout(KEY_RECORDS, "auth/keys/{key_id}.json: an API key's tenant and salted hash"),
    KeyLayout(EVAL, "eval/{tenant}.json: what an evaluation tenant has indexed (CLI only)"),
    KeyLayout(
        UPLOADS,
        "uploads/{tenant}/{doc_id}.json: an upload intent (a presigned POST was issued; "
        "the file's name and title until its bytes arrive under raw/)",
    ),
    KeyLayout(
        MODELS,
        "models/{name}/champion.json and models/{name}/v{version}/{file}: the served copy of "
        "a model the product trained (the MLflow registry is its record)",
    ),
    KeyLayout(
        CONVERSATIONS,
        "conversations/{tenant}/{user}/{conversation_id}.json: a user's questions and "
        "answers in order ({user} a digest of the user id; _ for callers naming none)",
    ),
)


def layout_of(key: str) -> KeyLayout | None:
    """The layout ``key`` belongs to, or ``None`` for a key outside every layout."""
    return next((layout for layout in LAYOUTS if key.startswith(layout.prefix)), None)


def raw_key(tenant: str, doc_id: str) -> str:
    return f"{RAW}{tenant}/{doc_id}"


def manifest_key(tenant: str, doc_id: str) -> str:
    return f"{DOCUMENTS}{tenant}/{doc_id}.json"


def manifest_prefix(tenant: str) -> str:
    return f"{DOCUMENTS}{tenant}/"


def duplicate_index_key(tenant: str) -> str:
    """The tenant's ``DuplicateIndex`` (content hashes and MinHash signatures)."""
    return f"{QUALITY}{tenant}/duplicates.json"


def artifact_prefix(tenant: str, doc_id: str) -> str:
    return f"{CHUNKS}{tenant}/{doc_id}/"


def artifact_key(tenant: str, doc_id: str, version: str) -> str:
    return f"{artifact_prefix(tenant, doc_id)}{version}.json"


def usage_key(tenant: str, day: str, name: str) -> str:
    """An answer or cost record: ``day`` is ``YYYY-MM-DD``, ``name`` the file name."""
    return f"{USAGE}{tenant}/{day}/{name}"


def usage_prefix(tenant: str, day: str | None = None) -> str:
    """Where ``tenant``'s answer records lie (those of ``day`` only, given one). The
    trailing slash keeps one tenant's listing off another whose id it begins
    (``t1`` and ``t10``)."""
    return f"{USAGE}{tenant}/" + (f"{day}/" if day else "")


ANSWER_ID = re.compile(r"[0-9]{20}[0-9a-f]{8}")
"""An answer id, whole (``fullmatch``): its UTC time (``YYYYMMDDHHMMSSffffff``) and 8 hex
digits (``services/answering.py``'s ``new_answer_id``)."""


def answer_day(answer_id: str) -> str:
    """The day (``YYYY-MM-DD``) an answer id begins with: its record's day in the key.
    ``ValueError`` for anything but an answer id, so no id shapes a key it should not."""
    if not isinstance(answer_id, str) or not ANSWER_ID.fullmatch(answer_id):
        raise ValueError(f"{answer_id!r} is not an answer id")
    return f"{answer_id[:4]}-{answer_id[4:6]}-{answer_id[6:8]}"


def answer_key(tenant: str, answer_id: str) -> str:
    """``usage/{tenant}/{day}/{answer_id}.json``, the day from the id (``answer_day``:
    ``ValueError`` for a malformed id)."""
    return usage_key(tenant, answer_day(answer_id), f"{answer_id}.json")


def feedback_key(tenant: str, answer_id: str) -> str:
    return f"{FEEDBACK}{tenant}/{answer_id}.json"


def feedback_prefix(tenant: str) -> str:
    """Where ``tenant``'s votes lie (trailing slash: ``t1`` never lists ``t10``'s)."""
    return f"{FEEDBACK}{tenant}/"


def api_key_key(key_id: str) -> str:
    return f"{KEY_RECORDS}{key_id}.json"


def eval_marker_key(tenant: str) -> str:
    return f"{EVAL}{tenant}.json"


def upload_intent_key(tenant: str, doc_id: str) -> str:
    """Where a direct upload's intent waits for its file (``POST /v1/uploads``)."""
    return f"{UPLOADS}{tenant}/{doc_id}.json"


def upload_intents_prefix(tenant: str) -> str:
    """Every upload intent of ``tenant`` (the trailing slash keeps ``acme`` from ``acme2``)."""
    return f"{UPLOADS}{tenant}/"


_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def _segment(value: str) -> str:
    if not _SEGMENT.fullmatch(value) or ".." in value:
        raise ValueError(f"{value!r} is not a model or file name")
    return value


def served_model_champion_key(name: str) -> str:
    return f"{MODELS}{_segment(name)}/champion.json"


def served_model_file_key(name: str, version: int, file: str) -> str:
    return f"{MODELS}{_segment(name)}/v{int(version)}/{_segment(file)}"


def _user_segment(user: str | None) -> str:
    """A user id as a key segment: a digest (a user id may be an e-mail address, which
    should not be in key names or access logs); ``_`` for no user."""
    if user is None:
        return "_"
    return "u" + hashlib.sha256(user.encode("utf-8")).hexdigest()[:24]


def conversations_prefix(tenant: str, user: str | None) -> str:
    """Every conversation of ``user`` within ``tenant`` (the trailing slash keeps one
    tenant's or user's listing off another's)."""
    return f"{CONVERSATIONS}{tenant}/{_user_segment(user)}/"


def conversation_key(tenant: str, user: str | None, conversation_id: str) -> str:
    return f"{conversations_prefix(tenant, user)}{conversation_id}.json"
