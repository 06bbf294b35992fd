"""How a question set would be routed, and what routing saves against always-pro.

Cost per question is estimated from the prompt the answering service builds: the question
plus ``passages`` passages of ``passage_tokens`` each and the template's own
``template_tokens``, and an answer of ``answer_tokens``, priced with the configured table.
What routing saves does not depend on the answers' quality; what it costs in quality is
for the evaluation suite to measure.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
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
    extractive: int | None = None
    """Questions answered extractively; None when the set came without its documents
    (answerability needs the passages), so only lite and pro were decided."""
    extractive_share: float | None = None
    pro_share: float = 0.0


def routing_report(
    questions: list[str],
    router: QueryRouter,
    prices: Mapping[str, ModelPrice],
    *,
    passages: int = 5,
    passage_tokens: int = 200,
    template_tokens: int = 120,
    answer_tokens: int = 150,
    answerable: Callable[[str], bool] | None = None,
    embedding_model: str = "amazon.titan-embed-text-v2:0",
    sentence_tokens: int = 0,
) -> RoutingReport:
    """How ``questions`` would be routed and what that costs against always-pro. With
    ``answerable`` (whether answerability finds a sentence that answers the question, from
    its documents), a factual answerable question goes to the extractive tier, which costs
    the embeddings of the question and of ``sentence_tokens`` of passage sentences."""
    routed = always_pro = 0.0
    lite = extractive = 0
    pro_model = router.models[ModelTier.PRO]
    for question in questions:
        found = answerable(question) if answerable is not None else False
        decision = router.route(question, extractive=found)
        lite += decision.tier is ModelTier.LITE
        extractive += decision.tier is ModelTier.EXTRACTIVE
        question_tokens = approximate_token_count(question)
        usage = Usage(
            input_tokens=template_tokens + passages * passage_tokens + question_tokens,
            output_tokens=answer_tokens,
        )
        if decision.tier is ModelTier.EXTRACTIVE:
            routed += query_cost(
                chat_model=decision.model,
                usage=Usage(),
                embedding_model=embedding_model,
                embedding_tokens=question_tokens + sentence_tokens,
                prices=prices,
            ).total_usd
        else:
            routed += query_cost(
                chat_model=decision.model,
                usage=usage,
                embedding_model="",
                embedding_tokens=0,
                prices=prices,
            ).total_usd
        always_pro += query_cost(
            chat_model=pro_model, usage=usage, embedding_model="", embedding_tokens=0, prices=prices
        ).total_usd
    n = len(questions)
    pro = n - lite - extractive
    return RoutingReport(
        questions=n,
        lite=lite,
        pro=pro,
        pro_share=round(pro / n, 4),
        extractive=extractive if answerable is not None else None,
        extractive_share=round(extractive / n, 4) if answerable is not None else None,
        lite_share=round(lite / n, 4),
        threshold=router.threshold,
        lite_model=router.models[ModelTier.LITE],
        pro_model=pro_model,
        cost_routed_usd=round(routed, 8),
        cost_always_pro_usd=round(always_pro, 8),
        saving=round(1 - routed / always_pro, 4) if always_pro else 0.0,
    )
