"""A ``QuestionRewriter`` that asks a chat model (on AWS the lite Nova model through
Bedrock Converse) to make a follow-up question standalone from the last turns.

What the model writes is used only when it looks like one question (one line, not
empty, not far longer than the follow-up and its context); otherwise, and when the model
cannot be reached, the rules (``SubjectCarryingRewriter``) rewrite it instead, so a
follow-up is always answered.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from ragops.domain.conversations import (
    CONTEXT_TURNS,
    Rewrite,
    SubjectCarryingRewriter,
    Turn,
)
from ragops.domain.models import ChatMessage
from ragops.errors import ModelUnavailable
from ragops.ports import ChatModel, QuestionRewriter

logger = logging.getLogger(__name__)

ANSWER_CHARS = 400
"""How much of each earlier answer the model sees (what "it" may refer to)."""
MAX_QUESTION_CHARS = 2000

SYSTEM = (
    "You rewrite the last question of a conversation so that it can be understood "
    "without the conversation. Replace pronouns and references (it, they, this, the "
    "same) with what they refer to in the earlier turns, and complete an elliptical "
    'question ("and when?") from them. Keep the question\'s meaning, wording and '
    "language; do not answer it. If it already stands alone, return it unchanged. "
    "Reply with the rewritten question only, on one line."
)
_PREFIX = re.compile(r"^\s*(?:rewritten|standalone)?\s*question\s*:\s*", re.IGNORECASE)


def rewrite_messages(question: str, earlier: Sequence[Turn]) -> list[ChatMessage]:
    """The prompt: the last ``CONTEXT_TURNS`` turns (answers shortened), then the question."""
    lines = []
    for turn in earlier[-CONTEXT_TURNS:]:
        answer = " ".join(turn.answer.split())
        if len(answer) > ANSWER_CHARS:
            answer = answer[: ANSWER_CHARS - 1] + "\u2026"
        lines += [f"Question: {turn.standalone_question}", f"Answer: {answer}"]
    lines += ["", f"Last question: {question}", "Rewritten question:"]
    return [ChatMessage("system", SYSTEM), ChatMessage("user", "\n".join(lines))]


class ChatModelQuestionRewriter:
    """Rewrites with ``chat_model``; falls back to ``fallback`` (the rules by default)."""

    calls_model = True

    def __init__(self, chat_model: ChatModel, fallback: QuestionRewriter | None = None) -> None:
        self.chat_model = chat_model
        self.fallback = fallback or SubjectCarryingRewriter()
        self.model_id = chat_model.model_id

    def rewrite(self, question: str, earlier: Sequence[Turn]) -> Rewrite:
        if not earlier:
            return Rewrite(question)
        try:
            generation = self.chat_model.generate(rewrite_messages(question, earlier))
        except ModelUnavailable as exc:
            logger.warning("rewriting a follow-up with the rules: %s", exc)
            return self.fallback.rewrite(question, earlier)
        text = _one_question(generation.text)
        context = sum(len(t.standalone_question) for t in earlier[-CONTEXT_TURNS:])
        too_long = len(text) > min(MAX_QUESTION_CHARS, 2 * (len(question) + context) + 50)
        if not text or too_long or not _asks(text, question):
            logger.warning("the rewriting model's reply is not a question; using the rules")
            rules = self.fallback.rewrite(question, earlier)
            return Rewrite(rules.question, rules.carried, self.model_id, generation.usage)
        carried = "" if text == question.strip() else "model"
        return Rewrite(text, carried, self.model_id, generation.usage)


_CITATION = re.compile(r"\[\d+\]")


def _asks(text: str, question: str) -> bool:
    """Whether a reply is a question as the follow-up was (ends with "?" when it did, and
    cites nothing): a small model tends to answer the question instead of rewriting it."""
    if _CITATION.search(text):
        return False
    return text.endswith("?") or not question.rstrip().endswith("?")


def _one_question(reply: str) -> str:
    """The reply's first non-empty line, without a "Rewritten question:" label or quotes."""
    for line in reply.splitlines():
        line = _PREFIX.sub("", line).strip().strip("\"'\u201c\u201d`").strip()
        if line:
            return line
    return ""
