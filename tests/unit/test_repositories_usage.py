"""The feedback log and the API key repository over the object store, and the services
that now read through them: the JSON written before the repositories still reads and is
still what is written, listings stay inside their tenant, malformed ids never become keys,
and unknown keys fail as they did."""

from __future__ import annotations

import json

import pytest

from ragops.domain.auth import ApiKeyRecord
from ragops.errors import AnswerNotFound, InvalidInput, ObjectNotFound, Unauthenticated
from ragops.repositories.answer_log import AnswerLog, AnswerRecord
from ragops.repositories.api_keys import ApiKeyRepository
from ragops.repositories.feedback import FeedbackLog, FeedbackRecord
from ragops.services.auth import (
    authenticate_api_key,
    create_api_key,
    list_api_keys,
    revoke_api_key,
)
from ragops.services.feedback import ab_report, record_feedback
from tests.fakes import MemoryObjectStore

ID = "20250301120000123456abcdef01"
OTHER = "202503011200000000000000ab02"

VOTE_JSON = {
    "answer_id": ID,
    "rating": "up",
    "prompt_version": "v2",
    "experiment": "speed",
    "tenant": "acme",
    "at": "2025-03-01T12:01:00+00:00",
    "comment": "clear, thanks",
}
"""A vote as ``services/feedback.py`` wrote it before the repository, in order."""

KEY_JSON = {
    "key_id": "0123456789abcdef",
    "tenant": "acme",
    "name": "ci",
    "salt": "s" * 32,
    "secret_hash": "h" * 64,
    "created_at": "2025-03-01T12:00:00+00:00",
    "revoked_at": None,
}


def put(store: MemoryObjectStore, key: str, data: dict) -> None:
    store.put(key, json.dumps(data).encode())


# -- feedback ------------------------------------------------------------------------
def test_a_vote_round_trips_in_the_json_it_was_written_in():
    store = MemoryObjectStore()
    record = FeedbackRecord.from_dict(VOTE_JSON)
    key = FeedbackLog(store).put(record)
    assert key == f"feedback/acme/{ID}.json"
    stored = json.loads(store.objects[key])
    assert stored == VOTE_JSON and list(stored) == list(VOTE_JSON)
    assert FeedbackLog(store).get("acme", ID) == record
    with pytest.raises(ObjectNotFound):
        FeedbackLog(store).get("acme", OTHER)


def test_an_older_vote_reads_with_defaults():
    store = MemoryObjectStore()
    put(store, f"feedback/acme/{ID}.json", {"answer_id": ID, "rating": "down"})
    (vote,) = FeedbackLog(store).records("acme")
    assert (vote.tenant, vote.answer_id, vote.rating) == ("acme", ID, "down")
    assert vote.prompt_version is None and vote.comment is None and vote.at == ""


def test_votes_are_listed_per_tenant_never_a_prefix_tenants():
    store = MemoryObjectStore()
    log = FeedbackLog(store)
    for tenant, rating in (("t1", "up"), ("t10", "down"), ("t2", "up")):
        log.put(FeedbackRecord(answer_id=ID, rating=rating, tenant=tenant))
    assert [(v.tenant, v.rating) for v in log.records("t1")] == [("t1", "up")]
    assert [(v.tenant, v.rating) for v in log.records("t10")] == [("t10", "down")]
    assert sorted(v.tenant for v in log.records()) == ["t1", "t10", "t2"]
    # The key's tenant and answer are the vote's, whatever its JSON says.
    put(store, f"feedback/t1/{OTHER}.json", {**VOTE_JSON, "tenant": "t10"})
    assert {(v.tenant, v.answer_id) for v in log.records("t1")} == {("t1", ID), ("t1", OTHER)}


@pytest.mark.parametrize("bad", ["nope", "", ID + "\n", "../" + ID, ID[:-1]])
def test_a_vote_on_a_malformed_id_is_refused_before_the_store(bad):
    store = MemoryObjectStore()
    log = FeedbackLog(store)
    with pytest.raises(ValueError, match="not an answer id"):
        log.put(FeedbackRecord(answer_id=bad, rating="up", tenant="acme"))
    with pytest.raises(ValueError, match="not an answer id"):
        log.get("acme", bad)
    assert store.objects == {}


def test_record_feedback_takes_the_variant_from_the_tenants_answer_only():
    store = MemoryObjectStore()
    AnswerLog(store).append(
        AnswerRecord(tenant="acme", answer_id=ID, prompt_version="v2", experiment="speed")
    )
    feedback = record_feedback(store, "acme", ID, "up", "mail me at jo@example.com")
    assert (feedback.prompt_version, feedback.experiment) == ("v2", "speed")
    vote = FeedbackLog(store).get("acme", ID)
    assert (vote.rating, vote.prompt_version, vote.experiment) == ("up", "v2", "speed")
    assert vote.comment and "jo@example.com" not in vote.comment
    assert list(json.loads(store.objects[f"feedback/acme/{ID}.json"])) == list(VOTE_JSON)
    for tenant, answer_id in (("acme", OTHER), ("acme1", ID), ("acme", "nope")):
        with pytest.raises(AnswerNotFound):
            record_feedback(store, tenant, answer_id, "up")
    assert sorted(store.objects) == [f"feedback/acme/{ID}.json", f"usage/acme/2025-03-01/{ID}.json"]


def test_the_report_counts_a_vote_for_its_own_tenants_answer_only():
    store = MemoryObjectStore()
    for tenant in ("t1", "t10"):  # the same answer id under two tenants
        AnswerLog(store).append(
            AnswerRecord(tenant=tenant, answer_id=ID, prompt_version=f"v-{tenant}")
        )
    record_feedback(store, "t1", ID, "up")
    reports = {r.prompt_version: r for r in ab_report(store).variants}
    assert (reports["v-t1"].thumbs_up, reports["v-t1"].answers) == (1, 1)
    assert reports["v-t10"].thumbs_up == reports["v-t10"].thumbs_down == 0
    (only,) = ab_report(store, tenant="t10").variants
    assert only.prompt_version == "v-t10" and only.thumbs_up == 0


# -- API keys ------------------------------------------------------------------------
def test_a_key_record_round_trips_in_the_json_it_was_written_in():
    store = MemoryObjectStore()
    record = ApiKeyRecord.from_dict(KEY_JSON)
    ApiKeyRepository(store).save(record)
    stored = json.loads(store.objects["auth/keys/0123456789abcdef.json"])
    assert stored == KEY_JSON and list(stored) == list(KEY_JSON)
    assert ApiKeyRepository(store).get("0123456789abcdef") == record
    with pytest.raises(ObjectNotFound):
        ApiKeyRepository(store).get("ffff000000000000")


@pytest.mark.parametrize("bad", ["", "../x", "a/b", "abc.json", "é" * 16, "0123\n"])
def test_a_malformed_key_id_is_refused_before_the_store(bad):
    store = MemoryObjectStore()
    repository = ApiKeyRepository(store)
    with pytest.raises(ValueError, match="not an API key id"):
        repository.get(bad)
    with pytest.raises(ValueError, match="not an API key id"):
        repository.save(ApiKeyRecord.from_dict({**KEY_JSON, "key_id": bad}))
    assert store.objects == {}
    with pytest.raises(InvalidInput, match="no API key"):
        revoke_api_key(store, bad)


def test_keys_are_listed_by_their_records_tenant_skipping_vanished_ones():
    class Vanishing(MemoryObjectStore):
        def list(self, prefix):
            yield from super().list(prefix)
            if "auth/keys/".startswith(prefix) or prefix.startswith("auth/keys/"):
                yield "auth/keys/ffffffffffffffff.json"  # deleted after the listing

    store = Vanishing()
    repository = ApiKeyRepository(store)
    for key_id, tenant in (("01", "t1"), ("02", "t10"), ("03", "t1")):
        repository.save(ApiKeyRecord.from_dict({**KEY_JSON, "key_id": key_id, "tenant": tenant}))
    put(store, "auth/keys/nested/04.json", {**KEY_JSON, "key_id": "04", "tenant": "t1"})
    assert sorted(r.key_id for r in repository.records("t1")) == ["01", "03"]
    assert [r.key_id for r in repository.records("t10")] == ["02"]
    assert sorted(r.key_id for r in repository.records()) == ["01", "02", "03"]
    assert [r.key_id for r in list_api_keys(store, "t10")] == ["02"]


def test_the_auth_service_keeps_its_answers_for_unknown_keys():
    store = MemoryObjectStore()
    record, key = create_api_key(store, "acme", "ci")
    assert ApiKeyRepository(store).get(record.key_id) == record
    assert authenticate_api_key(store, key).tenant == "acme"
    with pytest.raises(InvalidInput, match="no API key"):
        revoke_api_key(store, "ffff000000000000")
    unknown = f"rgkfedcba9876543210{key[len('rgk') + 16 :]}"
    with pytest.raises(Unauthenticated, match="invalid API key"):
        authenticate_api_key(store, unknown)
    revoke_api_key(store, record.key_id)
    assert ApiKeyRepository(store).get(record.key_id).revoked_at is not None
    with pytest.raises(Unauthenticated, match="invalid API key"):
        authenticate_api_key(store, key)
