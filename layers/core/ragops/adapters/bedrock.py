"""Amazon Bedrock through boto3: Titan Text Embeddings V2 and the Converse API (Nova).

These call ``bedrock-runtime`` directly rather than through langchain-aws: langchain-aws
needs numpy and langchain-core, which together exceed the API Lambda's 50 MB budget on
their own (docs/architecture.md). Both take an injected client (tests pass one under
botocore's ``Stubber``, so requests are validated against the real service model) and
build one on first use otherwise, never at import.

Throttling, timeouts and 5xx are retried by ``ragops.domain.retry.RetryPolicy`` (full-jitter
exponential backoff, never past the call's budget or the request's remaining time), then
become ``ModelUnavailable`` (HTTP 503). A client built here has botocore's own retries off
and short connect and read timeouts, so the policy is the only one; an injected client
keeps its own configuration.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from typing import Any, TypedDict, TypeVar

from typing_extensions import Unpack

from ragops.adapters.embedding_base import ArrayEmbeddings
from ragops.domain.chunking import TokenCounter, approximate_token_count
from ragops.domain.models import ChatMessage, Generation, Usage
from ragops.domain.retry import RetriesExhausted, RetryPolicy
from ragops.errors import ModelUnavailable

T = TypeVar("T")

TITAN_V2_MAX_TOKENS = 8192

TRANSIENT_ERROR_CODES = frozenset(
    {
        "ThrottlingException",
        "TooManyRequestsException",
        "ServiceUnavailableException",
        "InternalServerException",
        "ModelNotReadyException",
        "ModelTimeoutException",
    }
)
"""Bedrock error codes worth another attempt; anything else (validation, access denied, an
unknown model, a quota) fails at once."""


def is_transient(exc: Exception) -> bool:
    """Throttling, a 5xx, a timeout or a dropped connection: another attempt may succeed."""
    from botocore.exceptions import ClientError, HTTPClientError
    from botocore.exceptions import ConnectionError as BotoConnectionError

    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return code in TRANSIENT_ERROR_CODES or status == 429 or status >= 500
    # ReadTimeoutError and ConnectionClosedError are HTTPClientErrors; ConnectTimeoutError
    # and EndpointConnectionError are botocore ConnectionErrors.
    return isinstance(exc, HTTPClientError | BotoConnectionError)


class CallOptions(TypedDict, total=False):
    """How a Bedrock adapter reaches the service: an injected ``client`` (else one is
    built in ``region`` on first use), the ``retry`` policy and the socket timeouts."""

    client: Any
    region: str | None
    retry: RetryPolicy | None
    connect_timeout: float
    read_timeout: float


class _RuntimeClient:
    """A Bedrock client built on first use (botocore's retries off, short timeouts: the
    retry policy is the only retry) and calls under that policy."""

    service_name = "bedrock-runtime"

    def __init__(
        self,
        *,
        client: Any | None = None,
        region: str | None = None,
        retry: RetryPolicy | None = None,
        connect_timeout: float = 2.0,
        read_timeout: float = 15.0,
    ) -> None:
        self._client = client
        self._region = region
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.retry = retry or RetryPolicy(attempt_seconds=connect_timeout + read_timeout)

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            self._client = boto3.client(
                self.service_name,
                region_name=self._region,
                config=Config(
                    connect_timeout=self.connect_timeout,
                    read_timeout=self.read_timeout,
                    retries={"mode": "standard", "total_max_attempts": 1},
                ),
            )
        return self._client

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        """``fn()`` under the retry policy; any failure becomes ``ModelUnavailable``."""
        try:
            return self.retry.run(fn, is_transient)
        except RetriesExhausted as exc:
            raise ModelUnavailable(
                f"{what} is unavailable after {exc.attempts} attempt(s) in "
                f"{exc.elapsed:.1f} s ({exc.why}): {exc.last}; try again shortly"
            ) from exc.last
        except Exception as exc:  # validation, access denied, a bad payload...
            raise ModelUnavailable(f"{what} failed: {exc}") from exc


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
        concurrency: int = 8,
        **call: Unpack[CallOptions],
    ) -> None:
        super().__init__(**call)
        self.model_id = model_id
        self.dimensions = dimensions
        self.max_input_tokens = TITAN_V2_MAX_TOKENS
        self.concurrency = concurrency

    def _embed_one(self, text: str) -> list[float]:
        body = json.dumps({"inputText": text, "dimensions": self.dimensions, "normalize": True})

        def attempt() -> list[float]:
            response = self.client.invoke_model(
                modelId=self.model_id,
                body=body,
                accept="application/json",
                contentType="application/json",
            )
            return [float(x) for x in json.loads(response["body"].read())["embedding"]]

        return self._call("Bedrock embedding", attempt)

    def embed_array(self, texts: Sequence[str]) -> list[list[float]]:
        if len(texts) <= 1:
            return [self._embed_one(t) for t in texts]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(texts))) as pool:
            # Each task runs in a copy of this thread's context, so the request's time
            # budget (a context variable) bounds the workers' retries too.
            futures = [pool.submit(copy_context().run, self._embed_one, t) for t in texts]
            return [f.result() for f in futures]

    def token_counter(self) -> TokenCounter:
        return approximate_token_count


class BedrockConverseChatModel(_RuntimeClient):
    """A ``ChatModel`` over the Bedrock Converse API (Amazon Nova Lite / Pro and others)."""

    def __init__(
        self,
        model_id: str,
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        **call: Unpack[CallOptions],
    ) -> None:
        super().__init__(**call)
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
        response = self._call("Bedrock Converse", lambda: self.client.converse(**request))
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
