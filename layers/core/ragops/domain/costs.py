"""What a query costs: tokens times the model's price.

Prices are US dollars per million tokens, on-demand, us-east-1. Defaults, with where they
were read (check https://aws.amazon.com/bedrock/pricing/ before billing anyone; override
with ``RAGOPS_PRICES``):

- Amazon Nova 2 Lite: 0.33 input / 2.75 output (Vercel AI Gateway's Bedrock listing for
  ``amazon/nova-2-lite``, 2026).
- Amazon Nova Lite: 0.06 / 0.24; Amazon Nova Pro: 0.80 / 3.20 (AWS Bedrock pricing page,
  as listed by the llm-pricing-calculator data set).
- Amazon Titan Text Embeddings V2: 0.02 input (AWS Bedrock pricing page).
- The local models (all-MiniLM-L6-v2, SmolLM2) cost nothing per token: they run on
  hardware already paid for.

Cross-region inference profiles (``us.``, ``eu.``, ``apac.``, ``global.``) are priced as their
foundation model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ragops.domain.models import QueryCost, Usage


@dataclass(frozen=True, slots=True)
class ModelPrice:
    input_per_million: float
    output_per_million: float = 0.0


DEFAULT_PRICES: dict[str, ModelPrice] = {
    "amazon.nova-2-lite-v1:0": ModelPrice(0.33, 2.75),
    "amazon.nova-lite-v1:0": ModelPrice(0.06, 0.24),
    "amazon.nova-pro-v1:0": ModelPrice(0.80, 3.20),
    "amazon.titan-embed-text-v2:0": ModelPrice(0.02),
}
FREE = ModelPrice(0.0, 0.0)
_PROFILE_PREFIXES = ("us.", "eu.", "apac.", "us-gov.", "global.")


def foundation_model(model_id: str) -> str:
    """``us.amazon.nova-pro-v1:0`` -> ``amazon.nova-pro-v1:0``."""
    for prefix in _PROFILE_PREFIXES:
        if model_id.startswith(prefix):
            return model_id[len(prefix) :]
    return model_id


def price_of(model_id: str, prices: Mapping[str, ModelPrice]) -> ModelPrice:
    """The model's price; a model not in the table (a local one) is free."""
    return prices.get(model_id) or prices.get(foundation_model(model_id)) or FREE


def query_cost(
    *,
    chat_model: str,
    usage: Usage,
    embedding_model: str,
    embedding_tokens: int,
    prices: Mapping[str, ModelPrice],
    rerank_usd: float = 0.0,
) -> QueryCost:
    """Tokens and dollars of one query; ``rerank_usd`` is what the reranker charged (it
    is priced per call, not per token)."""
    chat = price_of(chat_model, prices)
    embed = price_of(embedding_model, prices)
    embedding_usd = embedding_tokens * embed.input_per_million / 1e6
    generation_usd = (
        usage.input_tokens * chat.input_per_million + usage.output_tokens * chat.output_per_million
    ) / 1e6
    return QueryCost(
        embedding_tokens=embedding_tokens,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        embedding_usd=round(embedding_usd, 10),
        generation_usd=round(generation_usd, 10),
        rerank_usd=round(rerank_usd, 10),
        total_usd=round(embedding_usd + generation_usd + rerank_usd, 10),
    )
