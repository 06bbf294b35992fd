"""Amazon Bedrock through boto3: Titan Text Embeddings V2 and the Converse API (Nova).

These call ``bedrock-runtime`` directly rather than through langchain-aws: langchain-aws
needs numpy and langchain-core, which together exceed the API Lambda's 50 MB budget on
their own (docs/architecture.md). Both take an injected client (tests pass one under
botocore's ``Stubber``, so requests are validated against the real service model) and
build one on first use otherwise, never at import.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ragops.adapters.embedding_base import ArrayEmbeddings
from ragops.domain.chunking import TokenCounter, approximate_token_count
from ragops.domain.models import ChatMessage, Generation, Usage
from ragops.errors import ModelUnavailable

TITAN_V2_MAX_TOKENS = 8192


class _RuntimeClient:
    def __init__(self, client: Any | None, region: str | None) -> None:
        self._client = client
        self._region = region

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("bedrock-runtime", region_name=self._region)
        return self._client


class BedrockTitanEmbedder(_RuntimeClient, ArrayEmbeddings):
    """Titan Text Embeddings V2 (``amazon.titan-embed-text-v2:0``), unit-length vectors,
    as lists of floats. Titan embeds one text per request; requests run ``concurrency`` at
    a time (boto3 clients are thread-safe).

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
        concurrency: int = 8,
    ) -> None:
        super().__init__(client, region)
        self.model_id = model_id
        self.dimensions = dimensions
        self.max_input_tokens = TITAN_V2_MAX_TOKENS
        self.concurrency = concurrency

    def _embed_one(self, text: str) -> list[float]:
        body = json.dumps({"inputText": text, "dimensions": self.dimensions, "normalize": True})
        try:
            response = self.client.invoke_model(
                modelId=self.model_id,
                body=body,
                accept="application/json",
                contentType="application/json",
            )
            return [float(x) for x in json.loads(response["body"].read())["embedding"]]
        except Exception as exc:  # botocore ClientError, throttling, bad payload...
            raise ModelUnavailable(f"Bedrock embedding failed: {exc}") from exc

    def embed_array(self, texts: Sequence[str]) -> list[list[float]]:
        if len(texts) <= 1:
            return [self._embed_one(t) for t in texts]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(texts))) as pool:
            return list(pool.map(self._embed_one, texts))

    def token_counter(self) -> TokenCounter:
        return approximate_token_count


class BedrockConverseChatModel(_RuntimeClient):
    """A ``ChatModel`` over the Bedrock Converse API (Amazon Nova Lite / Pro and others)."""

    def __init__(
        self,
        model_id: str,
        *,
        client: Any | None = None,
        region: str | None = None,
        max_tokens: int = 512,
        temperature: float = 0.0,
    ) -> None:
        super().__init__(client, region)
        self.model_id = model_id
        self.max_tokens = max_tokens
        self.temperature = temperature

    def generate(self, messages: Sequence[ChatMessage]) -> Generation:
        system = [{"text": m.content} for m in messages if m.role == "system"]
        turns = [
            {"role": m.role, "content": [{"text": m.content}]}
            for m in messages
            if m.role != "system"
        ]
        request: dict[str, Any] = {
            "modelId": self.model_id,
            "messages": turns,
            "inferenceConfig": {"maxTokens": self.max_tokens, "temperature": self.temperature},
        }
        if system:
            request["system"] = system
        try:
            response = self.client.converse(**request)
        except Exception as exc:  # botocore ClientError, throttling, validation...
            raise ModelUnavailable(f"Bedrock Converse failed: {exc}") from exc
        content = response["output"]["message"]["content"]
        usage = response.get("usage", {})
        return Generation(
            text="".join(block.get("text", "") for block in content),
            usage=Usage(
                input_tokens=int(usage.get("inputTokens", 0)),
                output_tokens=int(usage.get("outputTokens", 0)),
            ),
            model=self.model_id,
        )
