"""The composition root: builds every adapter from one ``Settings``.

Nothing heavy happens here: models load on first use, clients connect on first call, so
building a container is cheap (a Lambda cold start pays only for what it uses).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ragops.domain.chunking import Chunker
from ragops.domain.costs import ModelPrice
from ragops.domain.experiments import PromptExperiment
from ragops.domain.extractive import AnswerModel
from ragops.domain.fusion import FusionMethod
from ragops.domain.limits import TokenBucketLimiter
from ragops.domain.pipeline import PipelineVersion
from ragops.domain.routing import QueryRouter
from ragops.domain.tier import CircuitBreaker, TierStatus
from ragops.domain.tier_tokens import AcceptedSecrets
from ragops.errors import ConfigurationError, StoreUnavailable
from ragops.ports import (
    CacheStore,
    ChatModel,
    DuplicateModelTrainer,
    Embedder,
    ExperimentTracker,
    GatewayKeys,
    Guardrail,
    MetricsSink,
    ModelRegistry,
    NodeGroupScaler,
    ObjectStore,
    PipelineRegistry,
    QuestionIndex,
    QuestionRewriter,
    Reranker,
    TextRecognizer,
    TierCache,
    TierStateStore,
    TokenVerifier,
    VectorTier,
)
from ragops.services.answer_cache import CacheInvalidatingTier, SemanticCache
from ragops.services.answering import AnswerContext, SentenceEmbeddings
from ragops.services.conversations import ConversationContext
from ragops.services.ingestion import IngestContext
from ragops.services.pipeline import ChampionReader, ServedPipeline, served_settings
from ragops.services.queries import QueryContext
from ragops.services.quotas import TenantQuota
from ragops.services.tier import tier_status
from ragops.services.uploads import UploadContext
from ragops.settings import Settings

logger = logging.getLogger(__name__)

if TYPE_CHECKING:  # numpy: not in the API Lambda
    from ragops.adapters.tier_auth import TokenSource
    from ragops.repositories.served_models import ServedModels
    from ragops.services.drift import DriftMonitor


@dataclass
class Container:
    """Adapters wired for one deployment. Anything may be injected (tests pass fakes or
    stubbed clients); what is not injected is built from ``settings`` when first used."""

    settings: Settings = field(default_factory=Settings)
    injected_store: ObjectStore | None = None
    injected_index: VectorTier | None = None
    injected_embedder: Embedder | None = None
    injected_chat_model: ChatModel | None = None
    injected_tier_state: TierStateStore | None = None
    chroma_client: Any | None = None
    aws_clients: dict[str, Any] = field(default_factory=dict)
    served: ServedPipeline | None = None
    """What ``served_pipeline`` reports; set by ``build_container(resolve_champion=True)``."""

    @property
    def served_pipeline(self) -> ServedPipeline:
        """The configuration this container answers with, and where it came from."""
        if self.served is not None:
            return self.served
        return served_settings(self.settings, None)[1]

    @cached_property
    def store(self) -> ObjectStore:
        if self.injected_store is not None:
            return self.injected_store
        s = self.settings
        if s.object_store == "s3":
            from ragops.adapters.s3 import S3ObjectStore

            if not s.s3_bucket:
                raise ConfigurationError("RAGOPS_S3_BUCKET is required with RAGOPS_OBJECT_STORE=s3")
            return S3ObjectStore(
                s.s3_bucket,
                prefix=s.s3_prefix,
                client=self.aws_clients.get("s3"),
                region=s.aws_region,
            )
        from ragops.adapters.localfs import LocalFsObjectStore

        return LocalFsObjectStore(s.object_store_dir)

    @cached_property
    def embedder(self) -> Embedder:
        if self.injected_embedder is not None:
            return self.injected_embedder
        s = self.settings
        if s.embedder == "bedrock":
            from ragops.adapters.bedrock import BedrockTitanEmbedder

            return BedrockTitanEmbedder(
                s.bedrock_embedding_model_id,
                dimensions=s.bedrock_embedding_dimensions,
                client=self.aws_clients.get("bedrock-runtime"),
                region=s.aws_region,
                **self._bedrock_call_policy(),
            )
        if s.local_embedder_runtime != "torch":
            from ragops.adapters.onnx_embedder import OnnxEmbedder

            return OnnxEmbedder(
                s.local_embedding_model_dir,
                cache_dir=s.models_dir,
                quantize=s.local_embedder_runtime == "onnx-int8",
            )
        from ragops.adapters.local_embedder import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(
            s.local_embedding_model_dir, batch_size=s.embed_batch_size
        )

    @cached_property
    def chat_model(self) -> ChatModel:
        """The model that answers (the lite one, when the router is on)."""
        return self._chat_model(pro=False)

    @cached_property
    def pro_chat_model(self) -> ChatModel:
        """The stronger model the router sends demanding questions to: Bedrock's pro model
        in the cloud; locally the same SmolLM2 in a second configuration (twice the answer
        length), the only local model there is. An injected chat model serves both."""
        return self._chat_model(pro=True)

    def _chat_model(self, *, pro: bool) -> ChatModel:
        if self.injected_chat_model is not None:
            return self.injected_chat_model
        s = self.settings
        max_tokens = s.max_answer_tokens * (2 if pro else 1)
        if s.llm == "openai-compatible":
            from ragops.adapters.openai_compatible import OpenAICompatibleChatModel

            if not s.openai_base_url or not s.openai_model:
                raise ConfigurationError(
                    "RAGOPS_LLM=openai-compatible needs RAGOPS_OPENAI_BASE_URL and "
                    "RAGOPS_OPENAI_MODEL"
                )
            # One model serves both tiers: the server has the one it was started with.
            return OpenAICompatibleChatModel(
                s.openai_base_url,
                s.openai_model,
                api_key=s.openai_api_key.get_secret_value() if s.openai_api_key else None,
                max_tokens=max_tokens,
                temperature=s.temperature,
                timeout=s.openai_timeout_seconds,
            )
        if s.llm == "bedrock":
            from ragops.adapters.bedrock import BedrockConverseChatModel

            return BedrockConverseChatModel(
                s.bedrock_pro_model_id if pro else s.bedrock_chat_model_id,
                client=self.aws_clients.get("bedrock-runtime"),
                region=s.aws_region,
                max_tokens=max_tokens,
                temperature=s.temperature,
                **self._bedrock_call_policy(),
            )
        from ragops.adapters.llamacpp import SMOLLM2_MODEL_ID, LlamaCppChatModel

        model_id = s.local_llm_path.stem if s.local_llm_path else SMOLLM2_MODEL_ID
        return LlamaCppChatModel(
            s.local_llm_path,
            model_id=f"{model_id}+long" if pro else model_id,
            n_ctx=s.local_llm_context_tokens,
            n_threads=s.local_llm_threads,
            max_tokens=max_tokens,
            temperature=s.temperature,
        )

    @cached_property
    def metrics(self) -> MetricsSink:
        s = self.settings
        if s.metrics == "cloudwatch":
            from ragops.adapters.metrics import CloudWatchMetrics

            return CloudWatchMetrics()
        if s.metrics == "prometheus":
            try:
                from ragops.adapters.metrics import PrometheusMetrics

                return PrometheusMetrics()
            except ImportError:  # a deployment without prometheus-client
                pass
        from ragops.adapters.metrics import NullMetrics

        return NullMetrics()

    @cached_property
    def tracker(self) -> ExperimentTracker | None:
        """The experiment tracker (MLflow), or None when tracking is off."""
        s = self.settings
        if s.tracking == "off":
            return None
        from ragops.adapters.mlflow_tracker import MlflowTracker, local_tracking_uri

        if s.mlflow_tracking_uri:
            return MlflowTracker(s.mlflow_tracking_uri)
        return MlflowTracker(
            local_tracking_uri(s.data_dir), artifact_dir=s.data_dir / "mlartifacts"
        )

    @cached_property
    def pipeline_registry(self) -> PipelineRegistry:
        """The pipeline registry (MLflow's model registry, in the tracking store)."""
        from ragops.adapters.mlflow_registry import MlflowPipelineRegistry
        from ragops.adapters.mlflow_tracker import MlflowTracker, local_tracking_uri

        s = self.settings
        tracker = self.tracker or (
            MlflowTracker(s.mlflow_tracking_uri)
            if s.mlflow_tracking_uri
            else MlflowTracker(
                local_tracking_uri(s.data_dir), artifact_dir=s.data_dir / "mlartifacts"
            )
        )
        return MlflowPipelineRegistry(tracker, s.pipeline_model_name)

    @cached_property
    def model_registry(self) -> ModelRegistry:
        """Models the product trains (MLflow's model registry, in the tracking store)."""
        from ragops.adapters.mlflow_models import MlflowModelRegistry

        return MlflowModelRegistry(self.pipeline_registry.tracker)

    def duplicate_model_trainer(self, **options: Any) -> DuplicateModelTrainer:
        from ragops.adapters.duplicate_model import MiniLMDuplicateTrainer

        return MiniLMDuplicateTrainer(
            base_model_dir=self.settings.local_embedding_model_dir, **options
        )

    @cached_property
    def served_models(self) -> ServedModels:
        from ragops.repositories.served_models import ServedModels

        return ServedModels(self.store)

    def cache_duplicate_model(self, *, workers: int | None = 1) -> tuple[Embedder, float] | None:
        """The champion duplicate-question model published by ``ragops cache train``, as
        (encoder, cosine threshold), or None: none published, ``RAGOPS_CACHE_MODEL=off``, or
        ONNX Runtime missing (the functions' packages: on AWS the tier service runs it),
        where the verifier serves. Serving encodes one question at a time, so one ONNX
        Runtime session (``workers=1``) is all it needs; a bulk replay passes None (one per
        core)."""
        s = self.settings
        if s.cache_model == "off":
            return None
        import importlib.util

        if importlib.util.find_spec("onnxruntime") is None:  # the functions' packages
            return None
        from ragops.adapters.duplicate_model import duplicate_model_encoder
        from ragops.services.cache_training import DUPLICATE_MODEL

        try:
            champion = self.served_models.champion(DUPLICATE_MODEL)
            if champion is None:
                return None
            folder = s.models_dir / f"{DUPLICATE_MODEL}-v{champion.version}"
            files = self.served_models.fetch(champion, folder)
        except StoreUnavailable as exc:
            # The cache still works with the verifier; say why the model is not used.
            logger.warning("the cache's duplicate model is not used: %s", exc)
            return None
        encoder = duplicate_model_encoder(files, version=champion.version, workers=workers)
        return encoder, float(champion.metadata["threshold"])

    @cached_property
    def rate_limiter(self) -> TokenBucketLimiter | None:
        """Per-tenant request limiter, or None with ``rate_limit_per_minute=0``."""
        s = self.settings
        if s.rate_limit_per_minute == 0:
            return None
        return TokenBucketLimiter(s.rate_limit_per_minute, s.rate_limit_burst)

    @cached_property
    def jwt_verifier(self) -> TokenVerifier:
        """Checks bearer JWTs (``auth=jwt``) against the issuer's JWKS or a PEM key."""
        from ragops.adapters.jwt_verifier import JwtVerifier

        s = self.settings
        if not s.jwt_issuer:
            raise ConfigurationError("RAGOPS_AUTH=jwt needs RAGOPS_JWT_ISSUER")
        return JwtVerifier(
            issuer=s.jwt_issuer,
            audience=s.jwt_audience,
            tenant_claim=s.jwt_tenant_claim,
            public_key=s.jwt_public_key,
            jwks_url=s.jwt_jwks_url or f"{s.jwt_issuer.rstrip('/')}/.well-known/jwks.json",
        )

    @cached_property
    def router(self) -> QueryRouter:
        """Building the two models is cheap (clients and weights load on first use)."""
        s = self.settings
        return QueryRouter(
            self.chat_model.model_id,
            self.pro_chat_model.model_id,
            threshold=s.router_threshold,
            force=s.router,
        )

    @cached_property
    def guardrail(self) -> Guardrail | None:
        s = self.settings
        if s.guardrail == "off":
            return None
        if s.guardrail == "bedrock":
            from ragops.adapters.bedrock_guardrail import BedrockGuardrail

            if not s.bedrock_guardrail_id:
                raise ConfigurationError(
                    "RAGOPS_BEDROCK_GUARDRAIL_ID is required with RAGOPS_GUARDRAIL=bedrock"
                )
            return BedrockGuardrail(
                s.bedrock_guardrail_id,
                s.bedrock_guardrail_version,
                client=self.aws_clients.get("bedrock-runtime"),
                region=s.aws_region,
                **self._bedrock_call_policy(),
            )
        from ragops.domain.guardrails import LocalGuardrail

        return LocalGuardrail(s.denied_topics)

    @cached_property
    def breaker(self) -> CircuitBreaker:
        s = self.settings
        return CircuitBreaker(s.breaker_failures, s.breaker_reset_seconds)

    @cached_property
    def tier_state(self) -> TierStateStore:
        if self.injected_tier_state is not None:
            return self.injected_tier_state
        s = self.settings
        if s.tier_state_source == "ssm":
            from ragops.adapters.tier_state import SsmTierState

            return SsmTierState(
                s.tier_state_parameter,
                client=self.aws_clients.get("ssm"),
                max_age=s.tier_state_cache_seconds,
            )
        from ragops.adapters.tier_state import FileTierState

        return FileTierState(s.tier_state_file)

    def _bedrock_call_policy(self) -> dict[str, Any]:
        """Retries and timeouts of every Bedrock call (``ragops.domain.retry``)."""
        from ragops.domain.retry import RetryPolicy

        s = self.settings
        connect, read = s.bedrock_connect_timeout_seconds, s.bedrock_read_timeout_seconds
        return {
            "retry": RetryPolicy(
                max_attempts=s.bedrock_max_attempts,
                budget_seconds=s.bedrock_retry_budget_seconds,
                attempt_seconds=connect + read,
            ),
            "connect_timeout": connect,
            "read_timeout": read,
        }

    def aws_client(self, service: str) -> Any:
        """An injected client for ``service``, else a boto3 client built now (not at import)."""
        if service not in self.aws_clients:
            import boto3

            self.aws_clients[service] = boto3.client(service, region_name=self.settings.aws_region)
        return self.aws_clients[service]

    def tier_status(self) -> TierStatus:
        return tier_status(self.tier_state, self.breaker)

    @cached_property
    def index(self) -> VectorTier:
        """The vector tier behind a circuit breaker: after repeated failures requests fail
        fast and the API switches to maintenance mode until the breaker closes."""
        from ragops.adapters.guarded_tier import BreakerGuardedTier

        return BreakerGuardedTier(None, self.breaker, build=self._invalidating_index)

    def _invalidating_index(self) -> VectorTier:
        """With a cache, every write to the index ends the tenant's cached answers."""
        raw = self.raw_index()
        store = self.cache_store
        if store is None or self.settings.cache == "tier":
            return raw  # the tier service moves generations on where the writes land
        return CacheInvalidatingTier(raw, store)

    @cached_property
    def cache_store(self) -> CacheStore | None:
        s = self.settings
        if s.cache == "off":
            return None
        if s.cache == "tier":
            return self.tier_cache
        if s.cache == "redis":
            from ragops.adapters.redis_cache import RedisCacheStore

            if s.cache_redis_url is None:
                raise ConfigurationError(
                    "RAGOPS_CACHE_REDIS_URL is required with RAGOPS_CACHE=redis"
                )
            return RedisCacheStore(s.cache_redis_url.get_secret_value())
        from ragops.adapters.memory_cache import FileGenerations, InMemoryCacheStore

        return InMemoryCacheStore(
            s.cache_max_entries, generations=FileGenerations(s.data_dir / "cache-generations")
        )

    @cached_property
    def tier_cache(self) -> TierCache:
        """The tier service's answer cache (``CacheStore`` and ``QuestionIndex`` in one)."""
        from ragops.adapters.http_cache import HttpTierCache

        s = self.settings
        if not s.tier_url:
            raise ConfigurationError("RAGOPS_CACHE=tier needs RAGOPS_TIER_URL")
        return HttpTierCache(s.tier_url, token=self.tier_token_source)

    @cached_property
    def answer_cache(self) -> SemanticCache | None:
        """The answer cache, or None when it is off. The semantic layer's index of cached
        questions lives in this process (numpy), so it needs the local extra."""
        store = self.cache_store
        if store is None:
            return None
        from ragops.domain.cache import DuplicateVerifier

        s = self.settings
        # The verifier decides where the question index does not compare by the trained
        # model (none published; on AWS, a tier without it): the index's candidates say.
        if s.cache_verifier_path is not None:
            import json

            verifier = DuplicateVerifier.from_dict(json.loads(s.cache_verifier_path.read_text()))
        else:
            verifier = DuplicateVerifier.packaged()
        if s.cache_threshold is not None:
            verifier = verifier.with_threshold(s.cache_threshold)
        questions = None
        if s.cache_semantic and s.cache == "tier":
            questions = self.tier_cache
        elif s.cache_semantic:
            try:
                import numpy  # noqa: F401  (the index needs it; a Lambda package has none)

                from ragops.adapters.memory_cache import NumpyQuestionIndex

                plain = NumpyQuestionIndex(max_per_partition=s.cache_max_entries)
                questions = self.duplicate_model_index(plain) or plain
            except ImportError:
                questions = None
        return SemanticCache(
            store, questions, verifier, ttl_seconds=s.cache_ttl_seconds, metrics=self.metrics
        )

    def duplicate_model_index(self, inner: QuestionIndex) -> QuestionIndex | None:
        """``inner`` comparing cached questions by the champion duplicate model, when one
        is published and can run here (``cache_duplicate_model``); else None.
        ``RAGOPS_CACHE_THRESHOLD`` overrides the model's threshold as it does the
        verifier's."""
        trained = self.cache_duplicate_model()
        if trained is None:
            return None
        from ragops.adapters.duplicate_model import DuplicateModelQuestionIndex

        encoder, threshold = trained
        if self.settings.cache_threshold is not None:
            threshold = self.settings.cache_threshold
        return DuplicateModelQuestionIndex(inner, encoder, threshold)

    def raw_index(self) -> VectorTier:
        """The tier without the breaker: the tier service over HTTP when ``tier_url`` is
        set, else the hybrid index in this process (over a Chroma server when
        ``chroma_url`` is set, embedded Chroma otherwise)."""
        if self.injected_index is not None:
            return self.injected_index
        s = self.settings
        if s.tier_url:
            from ragops.adapters.http_tier import HttpVectorTier

            return HttpVectorTier(
                s.tier_url, token=self.tier_token_source, timeout=s.tier_timeout_seconds
            )
        from ragops.adapters.chroma import ChromaVectorIndex
        from ragops.adapters.hybrid_index import FusionConfig, HybridIndex

        return HybridIndex(
            ChromaVectorIndex(
                self.chroma(),
                embedding_model=s.index_embedding_model or self.embedder.model_id,
                ef_search=s.hnsw_ef_search,
            ),
            fusion=FusionConfig(
                method=FusionMethod(s.fusion_method),
                vector_weight=s.fusion_vector_weight,
                rrf_k=s.fusion_rrf_k,
                candidates=s.candidate_pool,
            ),
            bm25_k1=s.bm25_k1,
            bm25_b=s.bm25_b,
            bm25_language=s.bm25_language,
            refresh_seconds=s.tier_refresh_seconds if s.chroma_url else None,
        )

    @cached_property
    def gateway_keys(self) -> GatewayKeys | None:
        """API Gateway's per-key usage plan (``usage_plan_id``), or None (local)."""
        s = self.settings
        if not s.usage_plan_id:
            return None
        from ragops.adapters.api_gateway_keys import UsagePlanKeys

        return UsagePlanKeys(s.usage_plan_id, self.aws_client("apigateway"))

    @cached_property
    def node_group_scaler(self) -> NodeGroupScaler:
        """The tier's node group on EKS (the scaler function's)."""
        from ragops.adapters.eks_scaler import EksNodeGroupScaler

        return EksNodeGroupScaler(self.aws_client("eks"))

    def chroma_question_index(self) -> QuestionIndex:
        """Cached questions in the Chroma server's collections: the tier service's half of
        the answer cache that the functions reach over HTTP. With the champion duplicate
        model (``duplicate_model_index``) the tier compares questions by it, in collections
        of their own (the model's vectors have another dimension than the functions')."""
        from ragops.adapters.chroma_questions import DUPLICATE_MODEL_SUFFIX, ChromaQuestionIndex

        trained = self.duplicate_model_index(
            ChromaQuestionIndex(self.chroma(), DUPLICATE_MODEL_SUFFIX)
        )
        return trained or ChromaQuestionIndex(self.chroma())

    def chroma(self) -> Any:
        """The Chroma client: injected, a server's (``chroma_url``) or embedded."""
        if self.chroma_client is None:
            from ragops.adapters.chroma import make_http_client, make_persistent_client

            s = self.settings
            if s.chroma_url:
                self.chroma_client = make_http_client(s.chroma_url)
            else:
                self.chroma_client = make_persistent_client(s.chroma_dir)
        return self.chroma_client

    @cached_property
    def tier_token_source(self) -> TokenSource:
        """Where the functions' tier clients read the bearer token on each request:
        ``tier_token`` as set, else the Secrets Manager secret through Powertools, cached
        for ``tier_token_max_age_seconds`` so a rotated secret takes effect without a
        cold start (one source per container: a cold start used to read the secret once
        per client it built)."""
        from ragops.adapters.tier_auth import fixed_token

        s = self.settings
        if s.tier_token is not None:
            return fixed_token(s.tier_token.get_secret_value())
        if s.tier_secret_arn:
            from ragops.adapters.secrets import RotatingSecret

            return RotatingSecret(
                s.tier_secret_arn,
                self.aws_client("secretsmanager"),
                max_age=s.tier_token_max_age_seconds,
            )
        raise ConfigurationError(
            "the tier service needs a token: set RAGOPS_TIER_TOKEN or RAGOPS_TIER_SECRET_ARN"
        )

    @cached_property
    def tier_accepted_secrets(self) -> AcceptedSecrets:
        """What the tier service accepts: its secret as the source gives it now and, for
        two max ages after a rotation, the value before (functions still holding it)."""
        return AcceptedSecrets(
            self.tier_token_source, grace=2 * self.settings.tier_token_max_age_seconds
        )

    @cached_property
    def chunker(self) -> Chunker:
        s = self.settings
        size = min(s.chunk_tokens, self.embedder.max_input_tokens)
        return Chunker(self.embedder.token_counter(), size, min(s.chunk_overlap_tokens, size // 2))

    def ingest_context(self) -> IngestContext:
        return IngestContext(
            store=self.store,
            index=self.index,
            embedder=self.embedder,
            chunker=self.chunker,
            max_bytes=self.settings.max_upload_bytes,
            ocr=self.ocr,
        )

    @cached_property
    def ocr(self) -> TextRecognizer | None:
        """What reads scanned PDFs and images (``RAGOPS_OCR``)."""
        s = self.settings
        if s.ocr == "off":
            return None
        if s.ocr == "textract":
            from ragops.adapters.textract_ocr import TextractRecognizer

            if s.object_store != "s3" or not s.s3_bucket:
                raise ConfigurationError(
                    "RAGOPS_OCR=textract reads files from S3: set RAGOPS_OBJECT_STORE=s3"
                )
            return TextractRecognizer(
                s.s3_bucket,
                s.s3_prefix,
                client=self.aws_clients.get("textract"),
                region=s.aws_region,
                max_wait_seconds=s.ocr_max_wait_seconds,
            )
        from ragops.adapters.tesseract_ocr import TesseractRecognizer

        return TesseractRecognizer()

    @cached_property
    def answer_model(self) -> AnswerModel:
        """The extractive answer model: the configured file, else the packaged one."""
        s = self.settings
        if s.answer_model_path is not None:
            import json

            try:
                model = AnswerModel.from_dict(json.loads(s.answer_model_path.read_text()))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise ConfigurationError(f"RAGOPS_ANSWER_MODEL_PATH: {exc}") from exc
        else:
            model = AnswerModel.packaged()
        if s.answerability_threshold is not None:
            model = model.with_threshold(s.answerability_threshold)
        return model

    @cached_property
    def sentence_embeddings(self) -> SentenceEmbeddings:
        return SentenceEmbeddings()

    @cached_property
    def reranker(self) -> Reranker | None:
        s = self.settings
        if s.reranker == "off":
            return None
        from ragops.adapters.bedrock_reranker import BedrockReranker

        return BedrockReranker(
            s.bedrock_rerank_model_id,
            client=self.aws_clients.get("bedrock-agent-runtime"),
            region=s.aws_region,
            **self._bedrock_call_policy(),
        )

    def answer_context(self) -> AnswerContext:
        return AnswerContext(
            index=self.index,
            embedder=self.embedder,
            chat_model=self.chat_model,
            model_id=self.chat_model.model_id,
            min_relevance=self.settings.min_relevance,
            default_top_k=self.settings.top_k,
            guardrail=self.guardrail,
            prices=self.prices,
            router=self.router,
            pro_chat_model_factory=lambda: self.pro_chat_model,
            cache=self.answer_cache,
            prompt_version=self.settings.prompt_version,
            experiment=self.experiment,
            groundedness_min_similarity=self.settings.groundedness_min_similarity
            if self.settings.groundedness_check
            else None,
            question_observer=self.drift_monitor.observe if self.drift_monitor else None,
            answer_mode=self.settings.answer_mode,
            answer_model=self.answer_model,
            sentence_embeddings=self.sentence_embeddings,
            reranker=self.reranker,
            rerank_candidates=self.settings.rerank_candidates,
        )

    def upload_context(self) -> UploadContext:
        """What adding and removing documents needs (``ragops.services.uploads``)."""
        s = self.settings
        return UploadContext(
            ingest=self.ingest_context(),
            quota=TenantQuota(s.max_documents_per_tenant, s.max_stored_bytes_per_tenant),
            ingest_mode=s.ingest_mode,
            tier_status=self.tier_status,
        )

    @cached_property
    def question_rewriter(self) -> QuestionRewriter:
        """What makes a follow-up standalone (``RAGOPS_CONVERSATION_REWRITER``)."""
        from ragops.domain.conversations import SubjectCarryingRewriter

        s = self.settings
        use_model = s.conversation_rewriter == "model" or (
            s.conversation_rewriter == "auto" and s.llm == "bedrock"
        )
        if not use_model:
            return SubjectCarryingRewriter()
        from ragops.adapters.chat_rewriter import ChatModelQuestionRewriter

        return ChatModelQuestionRewriter(self.chat_model)

    def conversation_context(self) -> ConversationContext:
        """What asking within a conversation needs (``ragops.services.conversations``)."""
        from ragops.repositories.conversations import ConversationRepository

        return ConversationContext(
            query=self.query_context(),
            conversations=ConversationRepository(
                self.store, self.settings.conversation_retention_days
            ),
            rewriter=self.question_rewriter,
        )

    def query_context(self) -> QueryContext:
        """What asking a question needs (``ragops.services.queries``)."""
        return QueryContext(
            answering=self.answer_context(),
            store=self.store,
            metrics=self.metrics,
            tier_status=self.tier_status,
        )

    @cached_property
    def drift_monitor(self) -> DriftMonitor | None:
        """The live query-drift monitor (``ragops.services.drift``), or None: turned off
        (``drift_window=0``), or no numpy (the API Lambda has none)."""
        s = self.settings
        if s.drift_window == 0:
            return None
        try:
            import numpy  # noqa: F401
        except ImportError:
            return None
        from ragops.errors import InvalidInput
        from ragops.services.drift import MIN_WINDOW, DriftMonitor, load_questions

        if s.drift_window < MIN_WINDOW:
            raise ConfigurationError(
                f"RAGOPS_DRIFT_WINDOW must be 0 (off) or at least {MIN_WINDOW} questions"
            )
        try:
            questions = load_questions(s.drift_reference) if s.drift_reference else None
            return DriftMonitor(
                self.metrics,
                window=s.drift_window,
                every=s.drift_every,
                reference_questions=questions,
                embed=lambda texts: self.embedder.embed_array(list(texts)),
            )
        except InvalidInput as exc:
            raise ConfigurationError(f"RAGOPS_DRIFT_REFERENCE: {exc}") from exc

    @cached_property
    def experiment(self) -> PromptExperiment | None:
        """The prompt experiment, or None; every template it names must exist."""
        from ragops.domain.prompts import packaged_prompts, unknown_templates

        s = self.settings
        missing = unknown_templates([s.prompt_version, *s.prompt_variants])
        if missing:
            known = sorted(packaged_prompts())
            raise ConfigurationError(f"unknown prompt templates {missing}; known: {known}")
        if not s.prompt_variants:
            return None
        try:
            return PromptExperiment(s.prompt_experiment or "prompt-experiment", s.prompt_variants)
        except ValueError as exc:
            raise ConfigurationError(f"RAGOPS_PROMPT_VARIANTS: {exc}") from exc

    @cached_property
    def prices(self) -> dict[str, ModelPrice]:
        """The default price table with the configured prices over it."""
        from ragops.domain.costs import DEFAULT_PRICES

        configured = {m: ModelPrice(i, o) for m, (i, o) in self.settings.prices.items()}
        return {**DEFAULT_PRICES, **configured}


def scratch_store(directory: Path) -> ObjectStore:
    """A local object store in ``directory``: where an evaluation keeps what it must not
    leave in the deployment's store (``ragops eval followups``'s conversations)."""
    from ragops.adapters.localfs import LocalFsObjectStore

    return LocalFsObjectStore(directory)


def replay_cache_stores(
    like: QuestionIndex | None = None,
    *,
    threshold: float | None = None,
    primed: Mapping[str, Any] | None = None,
) -> tuple[CacheStore, QuestionIndex]:
    """Empty in-process cache stores with room for any replay (``ragops eval cache``).
    When ``like`` (a cache's question index) compares by the duplicate model, so does the
    replay's, at ``threshold`` (default the model's), its vectors ``primed`` in bulk."""
    from ragops.adapters.duplicate_model import DuplicateModelQuestionIndex
    from ragops.adapters.memory_cache import InMemoryCacheStore, NumpyQuestionIndex

    questions: QuestionIndex = NumpyQuestionIndex(max_per_partition=10_000_000)
    if isinstance(like, DuplicateModelQuestionIndex):
        at = like.threshold if threshold is None else threshold
        questions = DuplicateModelQuestionIndex(questions, like.encoder, at, primed=primed)
    return InMemoryCacheStore(max_entries=10_000_000), questions


def duplicate_model_encoder_of(questions: QuestionIndex | None) -> tuple[Embedder, float] | None:
    """(encoder, threshold) of the duplicate model a question index compares by, or None."""
    from ragops.adapters.duplicate_model import DuplicateModelQuestionIndex

    if isinstance(questions, DuplicateModelQuestionIndex):
        return questions.encoder, questions.threshold
    return None


def champion_reader(settings: Settings) -> ChampionReader | None:
    """How to read the champion for ``settings``, or None when the registry is not used:
    ``pipeline_source=settings``, or a local store that was never created (nothing to read,
    and creating one would cost a start seconds). A tracking server is read over REST
    with the standard library; without one, a deployment with a tier (the functions,
    which carry no MLflow and cannot reach its server) asks the tier."""
    from ragops.domain.pipeline import CHAMPION

    if settings.pipeline_source == "settings":
        return None
    uri = settings.mlflow_tracking_uri
    if uri and uri.startswith(("http://", "https://")):
        from ragops.adapters.mlflow_registry import MlflowRestChampion

        reader = MlflowRestChampion(uri, settings.pipeline_model_name)
        return lambda: reader.by_alias(CHAMPION)
    if not uri and settings.tier_url:
        # The functions: the tier resolves it from the MLflow server beside it. A short
        # timeout, since a paused tier must not hold a cold start for long.
        def from_tier() -> PipelineVersion | None:
            from ragops.adapters.http_tier import HttpVectorTier

            container = Container(settings=settings)
            timeout = min(2.0, settings.tier_timeout_seconds)
            tier = HttpVectorTier(
                settings.tier_url or "", token=container.tier_token_source, timeout=timeout
            )
            try:
                return tier.champion_pipeline()
            finally:
                tier.close()

        return from_tier
    if not uri and not (settings.data_dir / "mlflow.db").exists():
        return None
    registry = Container(settings=settings).pipeline_registry
    return lambda: registry.by_alias(CHAMPION)


def build_container(
    settings: Settings | None = None, *, resolve_champion: bool = False, **injected: Any
) -> Container:
    """The one place adapters are chosen. ``injected`` takes ``store``, ``index``,
    ``embedder``, ``chat_model``, ``tier_state``, ``chroma_client`` or ``aws_clients``,
    or any other member the container builds, by its name (``metrics=``, ``guardrail=``,
    ``reranker=``, ``cache_store=``...), which is then used instead of building one.

    With ``resolve_champion`` (what serves answers: the API, the functions, ``ragops
    ask``) the registry's champion configuration goes over ``settings`` first; see
    ``ragops.services.pipeline.served_settings``."""
    known = {
        "store",
        "index",
        "embedder",
        "chat_model",
        "tier_state",
        "chroma_client",
        "aws_clients",
    }
    members = {
        name for name, value in vars(Container).items() if isinstance(value, cached_property)
    }
    unknown = set(injected) - known - members
    if unknown:
        raise TypeError(f"unknown injections: {sorted(unknown)}")
    settings = settings or Settings()
    served = None
    if resolve_champion:
        settings, served = served_settings(settings, champion_reader(settings))
    container = Container(
        settings=settings,
        served=served,
        injected_store=injected.get("store"),
        injected_index=injected.get("index"),
        injected_embedder=injected.get("embedder"),
        injected_chat_model=injected.get("chat_model"),
        injected_tier_state=injected.get("tier_state"),
        chroma_client=injected.get("chroma_client"),
        aws_clients=injected.get("aws_clients") or {},
    )
    for name in set(injected) - known:
        container.__dict__[name] = injected[name]  # what cached_property would have built
    return container
