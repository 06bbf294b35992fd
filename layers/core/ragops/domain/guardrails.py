"""The local guardrail: what the embedded default checks in questions, retrieved passages
and answers, with no service behind it.

- Personal data (``ragops.domain.pii``) is masked in questions and answers.
- Denied topics (configured phrases) block a question.
- Prompt injection ("ignore the previous instructions", "reveal your system prompt", ...)
  blocks a question, and removes a retrieved passage from the prompt: a document can carry
  instructions aimed at the model as easily as a user can.

Verdicts are data; the answering service decides what a block means for the caller.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from ragops.domain.pii import mask_pii


class GuardrailAction(StrEnum):
    ALLOW = "allow"  # nothing found
    MASK = "mask"  # allowed, with personal data masked in ``text``
    BLOCK = "block"  # refused: ``reason`` says why


@dataclass(frozen=True)
class GuardrailVerdict:
    action: GuardrailAction
    text: str
    """The text to use from here on: the input, masked where personal data was found."""
    findings: list[str] = field(default_factory=list)
    """What was found, by kind (``EMAIL_ADDRESS``, ``prompt_injection``, ``topic:...``)."""
    reason: str | None = None

    @property
    def blocked(self) -> bool:
        return self.action is GuardrailAction.BLOCK


# Phrasings of instructions aimed at the model rather than questions about the documents.
_INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget|override|bypass)\b[^.?!\n]{0,40}?"
    r"\b(?:previous|prior|above|earlier|preceding|all|any|your|the|these)\b[^.?!\n]{0,20}?"
    r"\b(?:instructions?|prompts?|rules|guidelines|directions|context)\b"
    r"|\b(?:reveal|print|show|repeat|output|leak)\b[^.?!\n]{0,30}?\b(?:system|hidden|initial)"
    r"\s+(?:prompt|instructions?|message)\b"
    r"|\byou\s+are\s+now\b[^.?!\n]{0,40}?\b(?:dan|jailbroken|unrestricted|developer mode)\b"
    r"|\b(?:jailbreak|do anything now)\b"
    r"|<\s*/?\s*(?:system|assistant)\s*>|\[/?INST\]|<\|im_start\|>",
    re.IGNORECASE,
)


def looks_like_injection(text: str) -> bool:
    return _INJECTION.search(text) is not None


class LocalGuardrail:
    """Masks personal data, blocks denied topics and prompt injection. ``denied_topics``
    are phrases matched as whole words, case-insensitively."""

    in_process = True

    def __init__(self, denied_topics: Sequence[str] = (), *, mask_personal_data: bool = True):
        self.denied_topics = [t.strip() for t in denied_topics if t.strip()]
        self.mask_personal_data = mask_personal_data
        self._topics = [
            (topic, re.compile(rf"(?<!\w){re.escape(topic)}(?!\w)", re.IGNORECASE))
            for topic in self.denied_topics
        ]

    def check_input(self, text: str) -> GuardrailVerdict:
        if looks_like_injection(text):
            return GuardrailVerdict(
                GuardrailAction.BLOCK,
                text,
                ["prompt_injection"],
                "the question reads as instructions to the model, not a question",
            )
        for topic, pattern in self._topics:
            if pattern.search(text):
                return GuardrailVerdict(
                    GuardrailAction.BLOCK,
                    text,
                    [f"topic:{topic}"],
                    f"questions about {topic!r} are not answered here",
                )
        return self._masked(text)

    def check_output(self, text: str) -> GuardrailVerdict:
        return self._masked(text)

    def check_passage(self, text: str) -> bool:
        """Whether a retrieved passage may go into the prompt."""
        return not looks_like_injection(text)

    def _masked(self, text: str) -> GuardrailVerdict:
        if not self.mask_personal_data:
            return GuardrailVerdict(GuardrailAction.ALLOW, text)
        masked, spans = mask_pii(text)
        if not spans:
            return GuardrailVerdict(GuardrailAction.ALLOW, text)
        kinds = sorted({span.kind.value for span in spans})
        return GuardrailVerdict(GuardrailAction.MASK, masked, kinds)
