"""Conversations: making a follow-up standalone without a model, the records and their
repository (per tenant and per user, retention), and the rewriter that asks a chat model
(Bedrock Converse under Stubber)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import Stubber

from ragops.adapters.bedrock import BedrockConverseChatModel
from ragops.adapters.chat_rewriter import ChatModelQuestionRewriter, rewrite_messages
from ragops.domain import keys
from ragops.domain.conversations import (
    MAX_TURNS,
    Conversation,
    SubjectCarryingRewriter,
    Turn,
    carry_subject,
    context_key,
    is_conversation_id,
    new_conversation_id,
    subject_of,
)
from ragops.errors import ConversationNotFound, ModelUnavailable
from ragops.repositories.conversations import ConversationRepository
from tests.fakes import MemoryObjectStore, ScriptedChatModel


@pytest.mark.parametrize(
    ("earlier", "follow_up", "standalone"),
    [
        ("Who were the Normans?", "When did they arrive?", "When did the Normans arrive?"),
        ("Who were the Normans?", "What was their language?", "What was the Normans' language?"),
        ("Who was Margaret's brother?", "Who was her husband?", "Who was Margaret's husband?"),
        (
            "What does the rehydrate command do?",
            "When should I run it?",
            "When should I run the rehydrate command?",
        ),
        # the pronoun agrees in number: "it" is the king, "them" the Huguenots
        (
            "How did the new king react to the Huguenots?",
            "What was its first approach?",
            "What was the new king's first approach?",
        ),
        (
            "How did the new king react to the Huguenots?",
            "Where did they settle?",
            "Where did the Huguenots settle?",
        ),
        # a verb after "did" is not part of the subject
        (
            "When did the church reform begin?",
            "Who used it?",
            "Who used the church reform?",
        ),
        # ellipsis: the earlier question's frame, about something else
        (
            "When did the Normans arrive?",
            "What about the Danes?",
            "When did the Danes arrive?",
        ),
        ("Who founded Normandy?", "And when?", "When founded Normandy?"),
        # a question with no name or noun phrase: its other words of content, verbs left out
        ("How is hybrid fusion done?", "Why was it chosen?", "Why was hybrid fusion chosen?"),
        (
            "How does ragops keep tenants apart?",
            "What happens to them when the tier is paused?",
            "What happens to tenants when the tier is paused?",
        ),
        (
            "How does ragops keep tenants apart?",
            "What about conversations?",
            "How does ragops keep conversations apart?",
        ),
    ],
)
def test_a_follow_up_takes_the_earlier_questions_subject(earlier, follow_up, standalone):
    assert carry_subject(follow_up, [earlier]).question == standalone


@pytest.mark.parametrize(
    "question",
    [
        "What religion were the Normans?",
        "How is hybrid fusion done?",
        "What year did the treaty that ended the war get signed?",  # "that" is a relative
    ],
)
def test_a_question_that_stands_alone_is_left_as_it_is(question):
    rewrite = carry_subject(question, ["Who was William the Conqueror?"])
    assert rewrite.question == question and rewrite.carried == ""


def test_without_earlier_questions_nothing_is_carried():
    assert carry_subject("When did they arrive?", []).question == "When did they arrive?"


def test_the_subject_is_never_a_phrase_the_follow_up_already_names():
    # "Normandy" is in the follow-up: "it" must be the other place
    assert subject_of("Where is Normandy in France?", "When did Normandy join it?") == "France"


def test_the_latest_question_that_names_a_subject_wins():
    rules = SubjectCarryingRewriter()
    turns = [
        Turn("Who was Rollo?", "Who was Rollo?", "A Viking leader.", "2026-01-01T00:00:00+00:00"),
        Turn(
            "Where is the Seine?",
            "Where is the Seine?",
            "In France.",
            "2026-01-01T00:01:00+00:00",
        ),
    ]
    assert rules.rewrite("How long is it?", turns).question == "How long is the Seine?"


def test_context_key_names_the_earlier_questions():
    a = Turn("Who was Rollo?", "Who was Rollo?", "", "t")
    b = Turn("Where is the Seine?", "Where is the Seine?", "", "t")
    assert context_key([]) == ""
    assert context_key([a]) != context_key([b])
    assert context_key([a, b]) == context_key([a, b]) != context_key([b, a])


def _turn(question: str, at: str = "2026-12-01T10:00:00+00:00") -> Turn:
    return Turn(question, question, f"answer to {question}", at)


def test_a_conversation_round_trips_and_keeps_its_last_turns():
    conversation = Conversation(new_conversation_id(), "acme", "ana", "t0", "t0")
    for n in range(MAX_TURNS + 3):
        conversation = conversation.with_turn(_turn(f"question {n}?"))
    assert len(conversation.turns) == MAX_TURNS
    assert conversation.turns[-1].question == f"question {MAX_TURNS + 2}?"
    again = Conversation.from_dict(conversation.to_dict())
    assert again == conversation
    with pytest.raises(ValueError):
        Conversation.from_dict({"conversation_id": "../../etc"})


def test_conversation_ids_are_checked_whole():
    assert is_conversation_id(new_conversation_id())
    assert not is_conversation_id("c2026" + "0" * 30)
    assert not is_conversation_id(new_conversation_id() + "/x")


# -- the repository ----------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def repository():
    return ConversationRepository(MemoryObjectStore(), retention_days=30, clock=Clock())


def _saved(repository, tenant, user, question):
    conversation = repository.start(tenant, user)
    at = repository.clock().isoformat()
    return repository.append(conversation, _turn(question, at))


def test_conversations_never_cross_tenants_or_users(repository):
    ana = _saved(repository, "acme", "ana", "Who was Rollo?")
    _saved(repository, "acme", "bob", "Where is the Seine?")
    _saved(repository, "globex", "ana", "What is BM25?")
    anonymous = _saved(repository, "acme", None, "What is fusion?")

    assert [c.conversation_id for c in repository.list("acme", "ana")] == [ana.conversation_id]
    assert [c.turns[0].question for c in repository.list("acme", "bob")] == ["Where is the Seine?"]
    assert [c.conversation_id for c in repository.list("acme", None)] == [anonymous.conversation_id]
    assert repository.get("acme", "ana", ana.conversation_id) == ana
    for tenant, user in [("acme", "bob"), ("globex", "ana"), ("acme", None)]:
        with pytest.raises(ConversationNotFound):
            repository.get(tenant, user, ana.conversation_id)
        with pytest.raises(ConversationNotFound):
            repository.delete(tenant, user, ana.conversation_id)
    assert repository.get("acme", "ana", ana.conversation_id) == ana


def test_user_ids_do_not_appear_in_keys(repository):
    _saved(repository, "acme", "ana@example.com", "Who was Rollo?")
    (key,) = list(repository.store.objects)
    assert key.startswith(keys.CONVERSATIONS + "acme/u") and "ana" not in key


def test_listing_is_latest_first_and_delete_removes(repository):
    first = _saved(repository, "acme", "ana", "Who was Rollo?")
    repository.clock.now += timedelta(minutes=5)
    second = _saved(repository, "acme", "ana", "Where is the Seine?")
    listed = repository.list("acme", "ana")
    assert [c.conversation_id for c in listed] == [second.conversation_id, first.conversation_id]
    repository.delete("acme", "ana", first.conversation_id)
    assert [c.conversation_id for c in repository.list("acme", "ana")] == [second.conversation_id]
    with pytest.raises(ConversationNotFound):
        repository.get("acme", "ana", first.conversation_id)


def test_a_conversation_expires_after_the_retention(repository):
    old = _saved(repository, "acme", "ana", "Who was Rollo?")
    repository.clock.now += timedelta(days=29)
    assert repository.get("acme", "ana", old.conversation_id) == old
    repository.clock.now += timedelta(days=2)
    assert repository.list("acme", "ana") == []
    assert repository.store.objects == {}  # deleted when met
    with pytest.raises(ConversationNotFound):
        repository.get("acme", "ana", old.conversation_id)


def test_malformed_ids_are_not_found_and_reach_no_key(repository):
    for bad in ["../auth/keys/x", "c123", ""]:
        with pytest.raises(ConversationNotFound):
            repository.get("acme", "ana", bad)


def test_retention_must_be_a_day_or_more():
    with pytest.raises(ValueError):
        ConversationRepository(MemoryObjectStore(), retention_days=0)


# -- the model rewriter ------------------------------------------------------------------

EARLIER = [_turn("What does the rehydrate command do?")]


def test_the_model_rewrite_is_used_when_it_is_one_question():
    model = ScriptedChatModel(responses=['Rewritten question: "How long does rehydrating take?"'])
    rewrite = ChatModelQuestionRewriter(model).rewrite("How long does it take?", EARLIER)
    assert rewrite.question == "How long does rehydrating take?"
    assert rewrite.model == model.model_id and rewrite.carried == "model"
    (messages,) = model.seen
    assert "What does the rehydrate command do?" in messages[-1].content
    assert messages[-1].content.rstrip().endswith("Rewritten question:")


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "\n\n",
        "x" * 5000,
        # a small model answers instead of rewriting (SmolLM2 did, 96 times in 100)
        "The rehydrate command takes a few minutes.",
        "It takes about ten minutes [1]?",
    ],
)
def test_a_reply_that_is_no_question_falls_back_to_the_rules(reply):
    model = ScriptedChatModel(responses=[reply])
    rewrite = ChatModelQuestionRewriter(model).rewrite("How long does it take?", EARLIER)
    assert rewrite.question == "How long does the rehydrate command take?"


def test_an_unreachable_model_falls_back_to_the_rules():
    class Down:
        model_id = "down"

        def generate(self, messages):
            raise ModelUnavailable("throttled")

    rewrite = ChatModelQuestionRewriter(Down()).rewrite("How long does it take?", EARLIER)
    assert rewrite.question == "How long does the rehydrate command take?"
    assert rewrite.model == ""


def test_the_model_is_not_called_for_a_first_question():
    model = ScriptedChatModel(responses=[])
    assert ChatModelQuestionRewriter(model).rewrite("Who was Rollo?", []).question == (
        "Who was Rollo?"
    )
    assert model.seen == []


def test_bedrock_lite_rewrites_through_converse_as_the_service_expects():
    client = boto3.client("bedrock-runtime", region_name="us-east-1")
    messages = rewrite_messages("How long does it take?", EARLIER)
    with Stubber(client) as stubber:
        stubber.add_response(
            "converse",
            {
                "output": {
                    "message": {
                        "role": "assistant",
                        "content": [{"text": "How long does the rehydrate command take?"}],
                    }
                },
                "stopReason": "end_turn",
                "usage": {"inputTokens": 140, "outputTokens": 10, "totalTokens": 150},
                "metrics": {"latencyMs": 200},
            },
            {
                "modelId": "us.amazon.nova-2-lite-v1:0",
                "system": [{"text": messages[0].content}],
                "messages": [{"role": "user", "content": [{"text": messages[1].content}]}],
                "inferenceConfig": {"maxTokens": 128, "temperature": 0.0},
            },
        )
        lite = BedrockConverseChatModel("us.amazon.nova-2-lite-v1:0", client=client, max_tokens=128)
        rewrite = ChatModelQuestionRewriter(lite).rewrite("How long does it take?", EARLIER)
        stubber.assert_no_pending_responses()
    assert rewrite.question == "How long does the rehydrate command take?"
    assert (rewrite.usage.input_tokens, rewrite.usage.output_tokens) == (140, 10)


def test_two_questions_asked_at_once_both_keep_their_turn(repository):
    first = _saved(repository, "acme", "ana", "Who was Rollo?")
    # Two requests read the conversation as it is, then each appends its answer.
    read_by_one = repository.get("acme", "ana", first.conversation_id)
    read_by_other = repository.get("acme", "ana", first.conversation_id)
    repository.append(read_by_one, _turn("When did he die?"))
    repository.append(read_by_other, _turn("Where was he born?"))
    stored = repository.get("acme", "ana", first.conversation_id)
    assert [t.question for t in stored.turns] == [
        "Who was Rollo?",
        "When did he die?",
        "Where was he born?",
    ]


def test_a_conversation_deleted_while_a_question_is_answered_stays_deleted(repository):
    first = _saved(repository, "acme", "ana", "Who was Rollo?")
    read = repository.get("acme", "ana", first.conversation_id)
    repository.delete("acme", "ana", first.conversation_id)
    assert repository.append(read, _turn("When did he die?")) is None
    assert repository.list("acme", "ana") == []


def test_concurrent_appends_on_the_local_store_lose_no_turn(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from ragops.adapters.localfs import LocalFsObjectStore

    repository = ConversationRepository(LocalFsObjectStore(tmp_path), clock=Clock())
    first = _saved(repository, "acme", "ana", "Who was Rollo?")
    read = repository.get("acme", "ana", first.conversation_id)
    questions = [f"question {n}?" for n in range(6)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(lambda q: repository.append(read, _turn(q)), questions))
    stored = repository.get("acme", "ana", first.conversation_id)
    assert sorted(t.question for t in stored.turns[1:]) == questions
