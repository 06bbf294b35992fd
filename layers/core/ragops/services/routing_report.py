"""How a question set would be routed, and what routing saves against always-pro.

Cost per question is estimated from the prompt the answering service builds: the question
plus ``passages`` passages of ``passage_tokens`` each and the template's own
``template_tokens``, and an answer of ``answer_tokens``, priced with the configured table.
What routing saves does not depend on the answers' quality; what it costs in quality is
for the evaluation suite to measure.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ragops.domain.chunking import approximate_token_count
from ragops.domain.costs import ModelPrice, query_cost
from ragops.domain.models import Usage
from ragops.domain.routing import ModelTier, QueryRouter
from ragops.errors import InvalidInput


def load_questions(path: Path) -> list[str]:
    """Questions from a BEIR ``queries.jsonl`` (``text``), a JSONL of ``question``, or a
    SQuAD JSON file (``data[].paragraphs[].qas[].question``)."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise InvalidInput(f"{path}: no such file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path}: unreadable ({exc})") from exc
    try:
        if path.suffix == ".jsonl":
            rows = [json.loads(line) for line in raw.splitlines() if line.strip()]
            questions = [row.get("text") or row.get("question") for row in rows]
        else:
            squad = json.loads(raw)
            questions = [
                qa["question"]
                for article in squad["data"]
                for paragraph in article["paragraphs"]
                for qa in paragraph["qas"]
            ]
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidInput(
            f"{path}: expected BEIR queries (.jsonl with text) or SQuAD JSON ({exc})"
        ) from exc
    questions = [q for q in questions if isinstance(q, str) and q.strip()]
    if not questions:
        raise InvalidInput(f"{path}: no questions found")
    return questions


@dataclass(frozen=True)
class RoutingReport:
    questions: int
    lite: int
    pro: int
    lite_share: float
    threshold: float
    lite_model: str
    pro_model: str
    cost_routed_usd: float
    cost_always_pro_usd: float
    saving: float
    """1 - routed / always-pro."""


def routing_report(
    questions: list[str],
    router: QueryRouter,
    prices: Mapping[str, ModelPrice],
    *,
    passages: int = 5,
    passage_tokens: int = 200,
    template_tokens: int = 120,
    answer_tokens: int = 150,
) -> RoutingReport:
    routed = always_pro = 0.0
    lite = 0
    pro_model = router.models[ModelTier.PRO]
    for question in questions:
        decision = router.route(question)
        lite += decision.tier is ModelTier.LITE
        usage = Usage(
            input_tokens=template_tokens
            + passages * passage_tokens
            + approximate_token_count(question),
            output_tokens=answer_tokens,
        )
        for model, into in ((decision.model, "routed"), (pro_model, "pro")):
            cost = query_cost(
                chat_model=model,
                usage=usage,
                embedding_model="",
                embedding_tokens=0,
                prices=prices,
            ).total_usd
            if into == "routed":
                routed += cost
            else:
                always_pro += cost
    return RoutingReport(
        questions=len(questions),
        lite=lite,
        pro=len(questions) - lite,
        lite_share=round(lite / len(questions), 4),
        threshold=router.threshold,
        lite_model=router.models[ModelTier.LITE],
        pro_model=pro_model,
        cost_routed_usd=round(routed, 8),
        cost_always_pro_usd=round(always_pro, 8),
        saving=round(1 - routed / always_pro, 4) if always_pro else 0.0,
    )
