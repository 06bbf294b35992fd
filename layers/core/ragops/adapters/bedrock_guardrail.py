"""Amazon Bedrock Guardrails (``ApplyGuardrail``) as the ``Guardrail`` port.

The guardrail itself (denied topics, content filters, prompt-attack filter, sensitive
information to anonymise or block) is configured in Bedrock; this adapter sends questions
as ``INPUT`` and answers as ``OUTPUT`` and reads the verdict. A policy that ``BLOCKED``
refuses the text, with the guardrail's own message as the reason; one that only
``ANONYMIZED`` returns the guardrail's masked text. Retrieved passages are checked by the
local prompt-injection patterns: a Bedrock call per passage would cost a round trip and a
charge each.
"""

from __future__ import annotations

from typing import Any

from typing_extensions import Unpack

from ragops.adapters.bedrock import CallOptions, _RuntimeClient
from ragops.domain.guardrails import GuardrailAction, GuardrailVerdict, looks_like_injection


def _findings(assessments: list[dict[str, Any]]) -> tuple[list[str], bool]:
    """(what the guardrail found, whether any policy blocked)."""
    found: list[str] = []
    blocked = False

    def note(name: str, action: str | None) -> None:
        nonlocal blocked
        found.append(name)
        blocked = blocked or action == "BLOCKED"

    for assessment in assessments:
        for topic in assessment.get("topicPolicy", {}).get("topics", []):
            note(f"topic:{topic.get('name')}", topic.get("action"))
        for item in assessment.get("contentPolicy", {}).get("filters", []):
            note(f"content:{item.get('type')}", item.get("action"))
        for word in assessment.get("wordPolicy", {}).get("customWords", []):
            note("word", word.get("action"))
        for word in assessment.get("wordPolicy", {}).get("managedWordLists", []):
            note(f"word:{word.get('type')}", word.get("action"))
        sensitive = assessment.get("sensitiveInformationPolicy", {})
        for entity in sensitive.get("piiEntities", []):
            note(str(entity.get("type")), entity.get("action"))
        for regex in sensitive.get("regexes", []):
            note(f"regex:{regex.get('name')}", regex.get("action"))
    return sorted(set(found)), blocked


class BedrockGuardrail(_RuntimeClient):
    """The Bedrock guardrail ``guardrail_id`` at ``version``; ``client`` may be injected."""

    in_process = False  # a service: it checks the final answer, not each sentence

    def __init__(
        self,
        guardrail_id: str,
        version: str = "DRAFT",
        **call: Unpack[CallOptions],
    ) -> None:
        super().__init__(**call)
        self.guardrail_id = guardrail_id
        self.version = version

    def _apply(self, source: str, text: str) -> GuardrailVerdict:
        # Fail closed: once retries are spent (ModelUnavailable), nothing goes to the model
        # or the caller unchecked.
        response = self._call(
            "Bedrock guardrail",
            lambda: self.client.apply_guardrail(
                guardrailIdentifier=self.guardrail_id,
                guardrailVersion=self.version,
                source=source,
                content=[{"text": {"text": text}}],
            ),
        )
        if response.get("action") != "GUARDRAIL_INTERVENED":
            return GuardrailVerdict(GuardrailAction.ALLOW, text)
        findings, blocked = _findings(response.get("assessments", []))
        output = "".join(o.get("text", "") for o in response.get("outputs", []))
        if blocked:
            return GuardrailVerdict(
                GuardrailAction.BLOCK, text, findings, output or "blocked by the guardrail"
            )
        return GuardrailVerdict(GuardrailAction.MASK, output or text, findings)

    def check_input(self, text: str) -> GuardrailVerdict:
        return self._apply("INPUT", text)

    def check_output(self, text: str) -> GuardrailVerdict:
        return self._apply("OUTPUT", text)

    def check_passage(self, text: str) -> bool:
        return not looks_like_injection(text)
