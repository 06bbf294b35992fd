"""Amazon Bedrock through langchain-aws: Titan Text Embeddings V2 and Nova chat models.

Both take an injected ``bedrock-runtime`` client (tests pass one under botocore's
``Stubber``, so request shapes are checked against the real service model); without one,
langchain-aws builds a client on first use, never at import.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ragops.adapters.embedding_base import ArrayEmbeddings
from ragops.domain.chunking import TokenCounter, approximate_token_count
from ragops.errors import ConfigurationError, ModelUnavailable

TITAN_V2_MAX_TOKENS = 8192


def _require_langchain_aws() -> Any:
    try:
        import langchain_aws
    except ImportError as exc:
        raise ConfigurationError(
            "Bedrock adapters need langchain-aws: pip install 'ragops[aws]'"
        ) from exc
    return langchain_aws


class BedrockTitanEmbedder(ArrayEmbeddings):
    """Titan Text Embeddings V2 (``amazon.titan-embed-text-v2:0``), unit-length vectors.

    Titan reads up to 8,192 tokens, so chunk size is bounded by retrieval quality rather
    than by the model; tokens are estimated at four characters each (no local tokenizer).
    """

    def __init__(
        self,
        model_id: str = "amazon.titan-embed-text-v2:0",
        *,
        dimensions: int = 1024,
        client: Any | None = None,
        region: str | None = None,
    ) -> None:
        self.model_id = model_id
        self.dimensions = dimensions
        self.max_input_tokens = TITAN_V2_MAX_TOKENS
        self._client = client
        self._region = region
        self._embeddings: Any | None = None

    @property
    def embeddings(self) -> Any:
        if self._embeddings is None:
            langchain_aws = _require_langchain_aws()
            self._embeddings = langchain_aws.BedrockEmbeddings(
                model_id=self.model_id,
                client=self._client,
                region_name=self._region,
                dimensions=self.dimensions,
                normalize=True,
            )
        return self._embeddings

    def embed_array(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        try:
            vectors = self.embeddings.embed_documents(list(texts))
        except Exception as exc:  # botocore ClientError, throttling, validation...
            raise ModelUnavailable(f"Bedrock embedding failed: {exc}") from exc
        return np.asarray(vectors, dtype=np.float32)

    def token_counter(self) -> TokenCounter:
        return approximate_token_count


def bedrock_chat_model(
    model_id: str,
    *,
    client: Any | None = None,
    region: str | None = None,
    max_tokens: int = 512,
    temperature: float = 0.0,
) -> Any:
    """A ``ChatBedrockConverse`` for a Nova model (or any Converse model id)."""
    langchain_aws = _require_langchain_aws()
    return langchain_aws.ChatBedrockConverse(
        model=model_id,
        client=client,
        region_name=region,
        max_tokens=max_tokens,
        temperature=temperature,
    )
