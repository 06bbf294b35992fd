"""Ports: the interfaces services depend on. Adapters in ``ragops.adapters`` implement them.

The ports are plain protocols with no LangChain or numpy behind them, on purpose: the API
Lambda must fit in 50 MB, and langchain-core (with langsmith) or numpy alone would take
more than that (measured: numpy 73 MB installed, langchain-core with its dependencies
72 MB). Embedders still offer LangChain's ``embed_documents``/``embed_query``, so they
plug into LangChain where it is wanted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from ragops.domain.auth import Principal
from ragops.domain.cache import Candidate
from ragops.domain.chunking import TokenCounter
from ragops.domain.conversations import Rewrite, Turn
from ragops.domain.guardrails import GuardrailVerdict
from ragops.domain.models import (
    ChatMessage,
    Chunk,
    Generation,
    RecognizedText,
    SearchHit,
    SearchMode,
)
from ragops.domain.pipeline import PipelineEvaluation, PipelineVersion
from ragops.domain.tier import NodeGroup, TierState

T = TypeVar("T")

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "CacheStore",
    "ChatModel",
    "Embedder",
    "ExperimentTracker",
    "Guardrail",
    "MetricsSink",
    "ObjectStore",
    "PipelineRegistry",
    "QuestionIndex",
    "Reranker",
    "TierStateStore",
    "VectorTier",
]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length vectors and says how it counts tokens.

    ``embed_array`` returns one row per text (a float32 ``numpy`` array from local models,
    lists of floats from Bedrock: anything ``numpy.asarray`` takes); ``token_counter``
    measures text the way the model will, so chunks fit its input (``max_input_tokens``).
    """

    model_id: str
    max_input_tokens: int

    def embed_array(self, texts: Sequence[str]) -> Any: ...

    def embed_documents(self, texts: list[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...

    def token_counter(self) -> TokenCounter: ...


@runtime_checkable
class ChatModel(Protocol):
    """Generates an answer to a conversation and reports the tokens used.

    Provider errors surface as ``ModelUnavailable``.
    """

    model_id: str

    def generate(self, messages: Sequence[ChatMessage]) -> Generation: ...


@runtime_checkable
class StreamingChatModel(Protocol):
    """A chat model that can also stream: text as it is generated, then the whole
    ``Generation`` last."""

    model_id: str

    def generate(self, messages: Sequence[ChatMessage]) -> Generation: ...

    def stream(self, messages: Sequence[ChatMessage]) -> Iterator[str | Generation]: ...


class QuestionRewriter(Protocol):
    """Makes a follow-up question standalone from the conversation's earlier turns (oldest
    first): what to search and answer. A question that leans on none comes back as it is.
    ``calls_model`` says whether the question's text leaves the process (to a model), so
    that it is screened by the guardrail first."""

    model_id: str
    calls_model: bool

    def rewrite(self, question: str, earlier: Sequence[Turn]) -> Rewrite: ...


class ObjectStore(Protocol):
    """Byte objects under string keys: a local folder or an S3 bucket.

    ``get`` raises ``ObjectNotFound`` for a missing key; ``delete`` of a missing key is not
    an error; ``list`` yields every key that starts with ``prefix``, in no set order.
    Failures of the backend raise ``StoreUnavailable``.
    """

    def put(self, key: str, data: bytes, content_type: str | None = None) -> None: ...

    def get(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None: ...

    def list(self, prefix: str) -> Iterator[str]: ...

    def get_tagged(self, key: str) -> tuple[bytes, str]:
        """The object and its version tag (S3's ETag; locally the same MD5 of the bytes):
        what ``put_if`` compares against. ``ObjectNotFound`` for a missing key."""
        ...

    def put_if(
        self, key: str, data: bytes, content_type: str | None = None, *, tag: str | None
    ) -> None:
        """Write only if the object is still at version ``tag`` (``None``: only if there
        is no object), atomically against other ``put_if`` calls; ``WriteConflict``
        otherwise (changed, created or deleted meanwhile), writing nothing."""
        ...


class ChunkStore(Protocol):
    """Writes to the index: a tenant's chunks with their embeddings, by document."""

    def upsert(self, tenant: str, chunks: Sequence[Chunk], embeddings: np.ndarray) -> None:
        """Add ``chunks``; a chunk with an id already held replaces it."""
        ...

    def delete_document(self, tenant: str, doc_id: str) -> int:
        """Remove every chunk of ``doc_id``; returns how many were removed."""
        ...

    def delete_chunks(self, tenant: str, chunk_ids: Sequence[str]) -> None: ...

    def document_chunk_ids(self, tenant: str, doc_id: str) -> list[str]: ...


class Retriever(Protocol):
    """Reads from the index. Isolation is the tier's job: ``search`` for a tenant only
    ever returns that tenant's chunks, whatever the query."""

    def search(
        self,
        tenant: str,
        query: str,
        query_embedding: Sequence[float] | np.ndarray | None,
        top_k: int,
        mode: SearchMode = SearchMode.HYBRID,
        candidates: int | None = None,
    ) -> list[SearchHit]:
        """Best ``top_k`` chunks of ``tenant`` for the query, best first.

        ``query_embedding`` may be None only in ``bm25`` mode.
        """
        ...


class TierAdministration(Protocol):
    """What operations ask of the index: sizes, a tenant's removal, reachability."""

    def count(self, tenant: str) -> int: ...

    def document_count(self, tenant: str) -> int: ...

    def drop_tenant(self, tenant: str) -> None: ...

    def ping(self) -> None:
        """Return if the tier can serve now; raise ``TierUnavailable`` if not."""
        ...


class VectorTier(ChunkStore, Retriever, TierAdministration, Protocol):
    """The hybrid index (vectors and keywords over chunks, partitioned by tenant): what the
    ingestion writes, the answering reads and operations administer, in one."""


@runtime_checkable
class ListsTenants(Protocol):
    """An index that can name the tenants it holds (the tier service's ``/stats``)."""

    def tenants(self) -> list[str]: ...


@runtime_checkable
class CountsLoadedChunks(Protocol):
    """An index that knows how many chunks it holds in memory (the tier's gauge)."""

    def loaded_chunk_count(self) -> int: ...


class DelegatingTier:
    """The base of ``VectorTier`` decorators: every port method forwards to ``inner``
    through ``_forward(method, *args)``. A decorator overrides ``_forward`` to wrap every
    call (the circuit breaker) or the methods it changes (cache invalidation on writes).
    The optional abilities pass through when ``inner`` has them."""

    inner: VectorTier

    def _forward(self, method: Callable[..., T], *args: Any) -> T:
        return method(*args)

    def upsert(self, tenant: str, chunks: Sequence[Chunk], embeddings: np.ndarray) -> None:
        self._forward(self.inner.upsert, tenant, chunks, embeddings)

    def delete_document(self, tenant: str, doc_id: str) -> int:
        return self._forward(self.inner.delete_document, tenant, doc_id)

    def delete_chunks(self, tenant: str, chunk_ids: Sequence[str]) -> None:
        self._forward(self.inner.delete_chunks, tenant, chunk_ids)

    def document_chunk_ids(self, tenant: str, doc_id: str) -> list[str]:
        return self._forward(self.inner.document_chunk_ids, tenant, doc_id)

    def search(
        self,
        tenant: str,
        query: str,
        query_embedding: Sequence[float] | np.ndarray | None,
        top_k: int,
        mode: SearchMode = SearchMode.HYBRID,
        candidates: int | None = None,
    ) -> list[SearchHit]:
        return self._forward(
            self.inner.search, tenant, query, query_embedding, top_k, mode, candidates
        )

    def count(self, tenant: str) -> int:
        return self._forward(self.inner.count, tenant)

    def document_count(self, tenant: str) -> int:
        return self._forward(self.inner.document_count, tenant)

    def drop_tenant(self, tenant: str) -> None:
        self._forward(self.inner.drop_tenant, tenant)

    def ping(self) -> None:
        self._forward(self.inner.ping)

    def tenants(self) -> list[str]:
        inner = self.inner
        return self._forward(inner.tenants) if isinstance(inner, ListsTenants) else []

    def loaded_chunk_count(self) -> int:
        inner = self.inner
        return inner.loaded_chunk_count() if isinstance(inner, CountsLoadedChunks) else 0


class Reranker(Protocol):
    """Re-orders retrieved passages by how well each answers the query (a cross-encoder
    service such as Bedrock's ``Rerank``), after fusion and before answering.

    ``rerank`` returns at most ``top_n`` of ``hits``, best first, each with ``score``
    replaced by the reranker's relevance score (0-1) and its other fields unchanged. A
    service that cannot be reached raises ``ModelUnavailable``."""

    model_id: str

    def rerank(self, query: str, hits: Sequence[SearchHit], top_n: int) -> list[SearchHit]: ...

    def cost_usd(self, sources: int) -> float:
        """What one ``rerank`` call over ``sources`` passages costs, in US dollars."""
        ...


class Guardrail(Protocol):
    """Checks what goes into and comes out of the model.

    ``check_input`` and ``check_output`` return a ``GuardrailVerdict``: allowed, allowed with
    personal data masked in its ``text``, or blocked with a ``reason``. ``check_passage``
    says whether a retrieved passage may go into the prompt. A guardrail service that
    cannot be reached raises ``ModelUnavailable`` (nothing passes unchecked).
    """

    def check_input(self, text: str) -> GuardrailVerdict: ...

    def check_output(self, text: str) -> GuardrailVerdict: ...

    def check_passage(self, text: str) -> bool: ...

    @property
    def in_process(self) -> bool:
        """Whether checks run in this process (cheap, so a streamed answer's sentences
        are checked and shown one by one); a remote service checks the final answer
        only."""
        ...


class MetricsSink(Protocol):
    """Where the product reports what it does: Prometheus locally, CloudWatch (EMF) on
    Lambda. ``name`` is snake_case without a unit suffix; ``labels`` are low-cardinality
    (a tier, a kind), never a tenant or a question."""

    def count(self, name: str, value: float = 1.0, **labels: str) -> None: ...

    def observe(self, name: str, value: float, **labels: str) -> None: ...

    def gauge(self, name: str, value: float, **labels: str) -> None:
        """Set the current value of ``name`` (a level, not an event: the last value wins)."""
        ...


class TokenVerifier(Protocol):
    """Checks a bearer token (a JWT) and says who presented it."""

    def verify(self, token: str) -> Principal:
        """The token's principal; ``Unauthenticated`` for an invalid or expired token."""
        ...


class GatewayKeys(Protocol):
    """The API's front door keeps one key per ragops API key (API Gateway's usage plan on
    AWS), so it meters and throttles each tenant's keys on their own, across every function
    instance. The value is the ragops key itself."""

    def register(self, key_id: str, tenant: str, value: str) -> None:
        """Admit ``value`` (the key ``key_id`` of ``tenant``) at the front door;
        ``ConfigurationError`` naming the cause when it cannot."""
        ...

    def remove(self, key_id: str) -> None:
        """Stop admitting the key ``key_id``; nothing happens for one never registered."""
        ...


class NodeGroupScaler(Protocol):
    """Sets the size of the tier's node group (EKS on AWS)."""

    def set_nodes(self, group: NodeGroup, desired: int) -> int | None:
        """Scale ``group`` to ``desired`` nodes; returns ``desired``, or None when the
        cluster or node group does not exist (destroyed: nothing to scale). A call that
        fails is ``TierUnavailable``."""
        ...


class TierStateStore(Protocol):
    """Where operators declare the tier state: a local file, or an SSM parameter.

    A store that was never written reads ``active``.
    """

    def get(self) -> TierState: ...

    def set(self, state: TierState) -> None: ...


class CacheStore(Protocol):
    """Cached answers per tenant (Redis in the cloud, process memory on the embedded
    default), and each tenant's corpus generation.

    The generation is a counter that every change to the tenant's index moves on
    (``bump_generation``); entries are written and looked up under a *partition* that
    starts with it, so an answer cached before a change is never found after it. Entries
    expire after ``ttl_seconds`` and may be evicted earlier under the store's memory
    limit. A backend that cannot be reached raises ``CacheUnavailable``.
    """

    def generation(self, tenant: str) -> int: ...

    def bump_generation(self, tenant: str) -> int: ...

    def get_exact(self, tenant: str, partition: str, key: str) -> str | None:
        """The entry id cached under the normalised-question ``key``, if any."""
        ...

    def get_entry(self, tenant: str, entry_id: str) -> dict[str, Any] | None: ...

    def put(
        self,
        tenant: str,
        partition: str,
        key: str,
        entry_id: str,
        entry: dict[str, Any],
        ttl_seconds: int,
    ) -> None: ...

    def ping(self) -> None: ...


class QuestionIndex(Protocol):
    """Nearest cached questions by embedding, per tenant and partition. An id it returns
    may name an entry the ``CacheStore`` has since expired: callers check."""

    def add(
        self, tenant: str, partition: str, entry_id: str, question: str, embedding: Any
    ) -> None: ...

    def nearest(
        self, tenant: str, partition: str, embedding: Any, k: int, question: str | None = None
    ) -> list[Candidate]:
        """Up to ``k`` cached questions, most similar (cosine) first. ``question`` is the
        text ``embedding`` was made from: an index that compares questions with a model of
        its own (the cache's duplicate model) embeds it, and ignores ``embedding``."""
        ...


@runtime_checkable
class ForgetsTenants(Protocol):
    """A question index that can remove everything it holds for a tenant (the tier's, when
    the tenant's index is dropped: the cached questions go with it)."""

    def drop_tenant(self, tenant: str) -> None: ...


class TierCache(CacheStore, QuestionIndex, Protocol):
    """The answer cache the tier service keeps (entries and cached questions), reached
    by the functions over HTTP."""


class ExperimentTracker(Protocol):
    """Where evaluation runs are recorded (MLflow). ``log_run`` stores one finished run:
    its parameters, numeric metrics and the full report as an artifact, and returns the
    run id. ``latest_run`` reads back the most recently started run of that name in the
    experiment as ``(run_id, metrics, params)``, or None when there is none (no store, no
    experiment, no such run); reading never creates a store. A tracking store that fails
    raises ``TrackingUnavailable``."""

    tracking_uri: str

    def log_run(
        self,
        experiment: str,
        run_name: str,
        params: dict[str, Any],
        metrics: dict[str, float],
        report: dict[str, Any],
    ) -> str: ...

    def latest_run(
        self, experiment: str, run_name: str
    ) -> tuple[str, dict[str, float], dict[str, str]] | None: ...


class PipelineRegistry(Protocol):
    """Versions of the pipeline configuration (the MLflow model registry): each version
    holds its configuration and its last evaluation; aliases (``champion``,
    ``challenger``) name versions; the champion's history allows rollback. A registry
    that cannot be reached raises ``TrackingUnavailable``; an unknown version
    ``ObjectNotFound``."""

    def register(self, config: dict[str, Any], description: str) -> PipelineVersion: ...

    def versions(self) -> list[PipelineVersion]: ...

    def get(self, version: int) -> PipelineVersion: ...

    def by_alias(self, alias: str) -> PipelineVersion | None: ...

    def set_alias(self, alias: str, version: int) -> None: ...

    def remove_alias(self, alias: str) -> None: ...

    def champion_history(self) -> list[int]: ...

    def set_champion_history(self, versions: list[int]) -> None: ...

    def record_evaluation(self, version: int, evaluation: PipelineEvaluation) -> None: ...


class DuplicateModelTrainer(Protocol):
    """Fine-tunes a duplicate-question model on ``(question, question, label)`` pairs (1:
    duplicates) and serves it as an ``Embedder`` (torch to train; the served files need
    only ONNX Runtime). ``train`` writes the served files to ``out_dir`` and returns the folder
    and every step's loss; ``progress(step, steps, loss)`` is called after each step."""

    def params(self) -> dict[str, Any]: ...

    def train(
        self,
        pairs: Sequence[tuple[str, str, int]],
        out_dir: Path,
        progress: Callable[[int, int, float], None] | None = None,
    ) -> tuple[Path, list[float]]: ...

    def encoder(self, folder: Path) -> Embedder: ...


class ModelRegistry(Protocol):
    """Trained models in a registry (MLflow's): each ``register`` logs a run (parameters,
    metrics, per-step curves, the report, the files) and makes a new version of the
    registered model ``name``; the ``champion`` alias names the served one. Its figures
    are read back with it. ``TrackingUnavailable`` when the registry cannot be reached."""

    def register(
        self,
        name: str,
        folder: Path,
        params: dict[str, Any],
        metrics: dict[str, float],
        curves: dict[str, list[float]],
        report: dict[str, Any],
    ) -> int: ...

    def champion(self, name: str) -> tuple[int, dict[str, float]] | None: ...

    def set_champion(self, name: str, version: int) -> None: ...


@runtime_checkable
class RendersMetrics(Protocol):
    """A metrics sink that serves its own exposition (Prometheus: ``GET /metrics``)."""

    def render(self) -> tuple[bytes, str]:
        """The body and its content type."""
        ...


@runtime_checkable
class PresignsUploads(Protocol):
    """An object store a client can upload to directly, without the API carrying the bytes
    (S3's presigned POST). The local folder cannot: locally the API takes any upload."""

    def presign_upload(
        self, key: str, *, content_type: str, max_bytes: int, expires_in: int
    ) -> tuple[str, dict[str, str]]:
        """The URL and form fields of a POST that stores one object of 1 to ``max_bytes``
        bytes under exactly ``key`` with ``content_type``, accepted for ``expires_in``
        seconds. The client sends the fields, then the file, as ``multipart/form-data``.
        Signed offline; ``StoreUnavailable`` when it cannot be signed."""
        ...


@runtime_checkable
class PresignsDownloads(Protocol):
    """An object store a client can read one object from directly, for a short time (S3's
    presigned GET). The local folder cannot: locally the API serves the bytes."""

    def presign_download(
        self, key: str, *, filename: str, content_type: str, inline: bool, expires_in: int
    ) -> str:
        """A URL that reads ``key`` for ``expires_in`` seconds, answered with
        ``content_type`` and a ``Content-Disposition`` naming ``filename`` (``inline`` or
        as an attachment). Signed offline; ``StoreUnavailable`` when it cannot be."""
        ...


class TextRecognizer(Protocol):
    """OCR: the text of a scanned PDF or an image (PNG, JPEG, TIFF), page by page, with
    the engine's mean word confidence (0-100). ``stored_key`` is where the file lies in the
    object store, for an engine that reads it there (Textract's asynchronous API).
    ``NoTextExtracted`` when it reads no text; ``DocumentRejected`` for an image it cannot
    open; ``ModelUnavailable`` when the engine cannot be reached."""

    engine: str
    reads_stored_files: bool
    """True for an engine that reads a stored file in place, as one job for all its pages
    (Textract's asynchronous API): many pages are cheaper read that way than one by one.
    False where each page is read in process anyway (Tesseract)."""

    def recognize(
        self, filename: str, data: bytes, content_type: str, *, stored_key: str | None = None
    ) -> RecognizedText: ...
