"""Amazon Bedrock's ``Rerank`` action (``bedrock-agent-runtime``) as the ``Reranker`` port:
Amazon Rerank 1.0 (``amazon.rerank-v1:0``) and Cohere Rerank 3.5 (``cohere.rerank-v3-5:0``).

One call sends the question and the passages' indexed text (title and chunk, what both
retrievers saw) and gets back ``results[{index, relevanceScore}]``, best first; ``index``
points into the sources sent. Clients, retries and errors are those of ``bedrock.py``: the
client is built on first use (never at import or construction), throttling, 5xx and timeouts
are retried by ``RetryPolicy`` and then become ``ModelUnavailable``, and anything else
(access denied, validation) is ``ModelUnavailable`` at once, with the service's reason.

Limits, from the service model (botocore's ``bedrock-agent-runtime`` ``Rerank`` shape) and
the API reference: exactly one query; 1 to 1,000 sources; each text (query or document) 1 to
32,000 characters; ``numberOfResults`` 1 to 1,000. The models read less than that: Cohere
Rerank 3.5 has a 4K-token context window (its Bedrock model card) and truncates longer
input itself. ragops chunks are at most 200 word pieces plus the title, far below either.

Not every Region offers both models: Amazon Rerank 1.0 is not offered in us-east-1, Cohere
Rerank 3.5 is (Bedrock user guide, "Supported Regions and models for reranking").
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from typing_extensions import Unpack

from ragops.adapters.aws_errors import aws_error_code
from ragops.adapters.bedrock import CallOptions, _RuntimeClient
from ragops.domain.models import SearchHit
from ragops.errors import InvalidInput, ModelUnavailable

logger = logging.getLogger(__name__)

MAX_SOURCES = 1000
"""Sources one ``Rerank`` call accepts (``RerankSourcesList``: 1 to 1,000)."""
MAX_TEXT_CHARS = 32_000
"""Characters of one query or document text (``RerankTextDocumentTextString``)."""
DOCUMENTS_PER_QUERY = 100
"""Bedrock bills reranking per query, a query being a call with up to 100 document chunks
(user guide, "Pricing and search units"); more documents in one call count as more."""
MAX_PAGES = 10
"""``nextToken`` pages followed at most (see ``_results``)."""

RERANK_PRICE_PER_1000_QUERIES_USD: dict[str, float] = {
    "amazon.rerank-v1:0": 1.00,
    "cohere.rerank-v3-5:0": 2.00,
}
"""On-demand list prices, US dollars per 1,000 queries. The Bedrock pricing page renders its
prices client-side, so they were read from third-party price lists that copy it (OpenRouter:
0.001 dollars a search for Amazon Rerank 1.0; gateway price tables: 0.002 a query for
cohere.rerank-v3-5:0); check https://aws.amazon.com/bedrock/pricing/ before billing anyone. A
model not in the table is counted as free, as in ``domain/costs.py``."""


def _fit(text: str) -> str:
    # The API refuses a text over 32,000 characters (ValidationException) or an empty one;
    # cutting the tail keeps the passage rankable, and the models would not read that far
    # anyway (their windows are a few thousand tokens).
    return text[:MAX_TEXT_CHARS] or " "


class BedrockReranker(_RuntimeClient):
    """A ``Reranker`` over Bedrock's ``Rerank`` with the foundation model ``model_id`` (or a
    full model ARN). ``client`` may be injected (a ``bedrock-agent-runtime`` client); the
    model ARN takes its Region and partition from the client, so they always agree."""

    service_name = "bedrock-agent-runtime"

    def __init__(
        self,
        model_id: str,
        **call: Unpack[CallOptions],
    ) -> None:
        super().__init__(**call)
        self.model_id = model_id

    @property
    def model_arn(self) -> str:
        """``arn:{partition}:bedrock:{region}::foundation-model/{model_id}``; ``Rerank``
        takes an ARN, not a model id."""
        if self.model_id.startswith("arn:"):
            return self.model_id
        meta = self.client.meta
        return f"arn:{meta.partition}:bedrock:{meta.region_name}::foundation-model/{self.model_id}"

    @property
    def price_per_1000_queries(self) -> float:
        foundation = self.model_id.rsplit("foundation-model/", 1)[-1]
        return RERANK_PRICE_PER_1000_QUERIES_USD.get(foundation, 0.0)

    def cost_usd(self, n_sources: int) -> float:
        """The list price of one ``rerank`` of ``n_sources`` passages: a query per started
        100 documents (of the at most 1,000 sent)."""
        if n_sources <= 0:
            return 0.0
        queries = math.ceil(min(n_sources, MAX_SOURCES) / DOCUMENTS_PER_QUERY)
        return round(queries * self.price_per_1000_queries / 1000, 10)

    def rerank(self, query: str, hits: Sequence[SearchHit], top_n: int) -> list[SearchHit]:
        """At most ``top_n`` of ``hits``, best first, each with ``score`` replaced by the
        model's relevance score (0-1). No hits (or ``top_n`` < 1): ``[]`` without a call.

        Only the first 1,000 hits (the retriever's best) are sent: one call takes no more,
        and scores from separate calls are not documented as comparable."""
        if not hits or top_n < 1:
            return []
        if not query.strip():
            raise InvalidInput("cannot rerank passages for an empty question")
        candidates = list(hits[:MAX_SOURCES])
        wanted = min(top_n, len(candidates))
        sources = [
            {
                "type": "INLINE",
                "inlineDocumentSource": {
                    "type": "TEXT",
                    "textDocument": {"text": _fit(hit.chunk.indexed_text())},
                },
            }
            for hit in candidates
        ]

        def request() -> dict[str, Any]:
            # Built inside the attempt: the first one builds the client, and a client that
            # cannot be built (no Region) fails like an unreachable service.
            return {
                "queries": [{"type": "TEXT", "textQuery": {"text": _fit(query)}}],
                "sources": sources,
                "rerankingConfiguration": {
                    "type": "BEDROCK_RERANKING_MODEL",
                    "bedrockRerankingConfiguration": {
                        "numberOfResults": wanted,
                        "modelConfiguration": {"modelArn": self.model_arn},
                    },
                },
            }

        reranked: list[SearchHit] = []
        seen: set[int] = set()
        results = self._results(request, wanted)
        # The service answers best first; sorting again (stable) costs nothing and makes
        # the order this method promises independent of it.
        for result in sorted(results, key=lambda r: -float(r.get("relevanceScore", 0.0))):
            index = result.get("index")
            if not isinstance(index, int) or not 0 <= index < len(candidates) or index in seen:
                logger.warning(
                    "Bedrock rerank returned index %r for %d passages: ignored",
                    index,
                    len(candidates),
                )
                continue
            seen.add(index)
            reranked.append(replace(candidates[index], score=float(result["relevanceScore"])))
        return reranked[:top_n]

    def _results(self, request: Callable[[], dict[str, Any]], wanted: int) -> list[dict[str, Any]]:
        """The ``results`` of one rerank, following ``nextToken`` while fewer than
        ``wanted`` came back. The API declares pagination (``nextToken`` in and out, and
        botocore has a ``Rerank`` paginator) without saying when a single call pages; with
        at most 1,000 results asked for, one page is what is expected."""
        results: list[dict[str, Any]] = []
        token: str | None = None
        for _ in range(MAX_PAGES):
            page = self._rerank_call(request, token)
            results += page.get("results", [])
            token = page.get("nextToken")
            if not token or len(results) >= wanted:
                break
        return results

    def _rerank_call(
        self, request: Callable[[], dict[str, Any]], token: str | None
    ) -> dict[str, Any]:
        def attempt() -> dict[str, Any]:
            kwargs = request()
            if token:
                kwargs["nextToken"] = token
            return self.client.rerank(**kwargs)

        try:
            return self._call("Bedrock rerank", attempt)
        except ModelUnavailable as exc:
            if aws_error_code(exc.__cause__) == "AccessDeniedException":
                raise ModelUnavailable(
                    f"{exc}; the role needs bedrock:Rerank (resource *) and bedrock:InvokeModel "
                    f"on {self.model_arn}, and the account needs access to {self.model_id}"
                ) from exc.__cause__
            raise
