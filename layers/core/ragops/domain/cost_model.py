"""A month of running ragops, priced: a baseline without the product's cost levers against
ragops with them. Pure arithmetic, no I/O.

The **baseline** answers every query with the pro model (no answer cache, no routing),
keeps the vector tier on EKS up around the clock, and keeps every object in S3 Standard.
**ragops** answers ``cache_hit_rate`` of the queries from the cache (no model call), sends
``lite_share`` of the rest to the lite model, runs the tier ``hours_active_per_day`` only
(``PauseMode``) and lets the lifecycle rule move old originals to an archive class.

Infrastructure prices are US dollars, us-east-1, on demand, as listed on the AWS pricing
pages named beside each and as ``terraform/README.md`` totals them (not re-read online when
this was written: check them before quoting anyone a figure, and override any of them with
``InfraPrices.with_overrides``). Bedrock token prices are not
here: they come from ``ragops.domain.costs`` (``RAGOPS_PRICES``). A month is 730 hours, as
AWS bills it.

What the deployment runs (node type and count, volumes, function memory, lifecycle rule)
is ``Deployment``, whose defaults are read from this repository's Terraform, Kubernetes and
SAM files (named beside each). What nobody measured is ``Assumptions``: callers report
which of those they relied on.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from ragops.domain.costs import ModelPrice

HOURS_PER_MONTH = 730.0
DAYS_PER_MONTH = HOURS_PER_MONTH / 24

PROMISED_SAVINGS: dict[str, float] = {
    "pause/resume": 0.90,
    "caching": 0.70,
    "routing": 0.60,
    "s3 lifecycle": 0.40,
    "off-hours scaling": 0.45,
}
"""What the product's brief promises for each lever (share of what the lever acts on)."""


@dataclass(frozen=True, slots=True)
class InfraPrices:
    """Unit prices of the infrastructure, USD, us-east-1, on demand."""

    # https://aws.amazon.com/eks/pricing/ : standard support, per cluster (extended: 0.60).
    eks_cluster_hour: float = 0.10
    # https://aws.amazon.com/ec2/pricing/on-demand/ : t4g.medium, Linux (the tier's nodes).
    node_hour: float = 0.0336
    # https://aws.amazon.com/vpc/pricing/ : every public IPv4 address, in use or not.
    public_ipv4_hour: float = 0.005
    # https://aws.amazon.com/elasticloadbalancing/pricing/ : Network Load Balancer per hour,
    # and per NLB capacity unit (LCU) hour.
    nlb_hour: float = 0.0225
    nlb_lcu_hour: float = 0.006
    # https://aws.amazon.com/ebs/pricing/ : gp3 storage (baseline IOPS and throughput free).
    ebs_gp3_gb_month: float = 0.08
    # https://aws.amazon.com/lambda/pricing/ : Arm (the functions are arm64), first tier.
    lambda_million_requests: float = 0.20
    lambda_gb_second: float = 0.0000133334
    # https://aws.amazon.com/api-gateway/pricing/ : REST APIs, first 333 million a month.
    api_gateway_million_requests: float = 3.50
    # https://aws.amazon.com/s3/pricing/ : storage per GB-month (Standard: first 50 TB) and
    # lifecycle transition requests per 1,000 into each archive class.
    s3_standard_gb_month: float = 0.023
    s3_glacier_ir_gb_month: float = 0.004
    s3_glacier_gb_month: float = 0.0036
    s3_deep_archive_gb_month: float = 0.00099
    s3_transition_glacier_ir_thousand: float = 0.02
    s3_transition_glacier_thousand: float = 0.03
    s3_transition_deep_archive_thousand: float = 0.05

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    def with_overrides(self, overrides: Mapping[str, float]) -> InfraPrices:
        """These prices with some replaced; ``ValueError`` names an unknown price or a
        negative one."""
        unknown = sorted(set(overrides) - set(self.names()))
        if unknown:
            raise ValueError(
                f"unknown price {', '.join(unknown)}; known: {', '.join(self.names())}"
            )
        for name, value in overrides.items():
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"price {name} must be a non-negative number, not {value}")
        return dataclasses.replace(self, **dict(overrides))

    def archive_gb_month(self, storage_class: str) -> float:
        return {
            "GLACIER_IR": self.s3_glacier_ir_gb_month,
            "GLACIER": self.s3_glacier_gb_month,
            "DEEP_ARCHIVE": self.s3_deep_archive_gb_month,
        }[storage_class]

    def transition_thousand(self, storage_class: str) -> float:
        return {
            "GLACIER_IR": self.s3_transition_glacier_ir_thousand,
            "GLACIER": self.s3_transition_glacier_thousand,
            "DEEP_ARCHIVE": self.s3_transition_deep_archive_thousand,
        }[storage_class]


# Smallest billed object in Glacier Instant Retrieval; Glacier Flexible Retrieval and Deep
# Archive add 40 KB per object (32 KB at their rate, 8 KB at Standard's). S3 pricing page.
_GLACIER_IR_MIN_MB = 128 / 1024
_ARCHIVE_OVERHEAD_MB = 32 / 1024
_ARCHIVE_STANDARD_OVERHEAD_MB = 8 / 1024
_MANIFEST_MB = 1 / 1024  # documents/{tenant}/{doc_id}.json, about a kilobyte


@dataclass(frozen=True, slots=True)
class Deployment:
    """What the repository deploys, as its files set it by default."""

    # terraform/tier/variables.tf: node_instance_types ["t4g.medium"] (InfraPrices.node_hour
    # is that type's price), node_desired_size 2 (= SAM's TierNodesDesired), node_disk_size
    # 20 GiB gp3 roots, deleted with the node; private_nodes false, so each node has a public
    # IPv4 address (true adds a NAT gateway instead, not modelled).
    node_instance_type: str = "t4g.medium"
    nodes: int = 2
    node_root_gb: float = 20.0
    node_public_ips: int = 2
    # k8s/base/chroma.yaml: Chroma's 20Gi gp3 volume; it stays while the cluster does.
    chroma_volume_gb: float = 20.0
    # k8s/overlays/aws: one internet-facing NLB across the two AZs (one address in each).
    nlb_public_ips: int = 2
    # template.yaml: API function 1024 MB (Globals), ingest function 2048 MB, both arm64.
    api_memory_gb: float = 1.0
    ingest_memory_gb: float = 2.0
    # terraform/persistent/s3.tf and variables.tf: originals under raw/ move to GLACIER_IR
    # after 90 days; manifests and chunk artifacts stay in Standard.
    raw_archive_after_days: float = 90.0
    raw_archive_class: str = "GLACIER_IR"
    # adapters/bedrock.py: Titan V2 at 1024 dimensions; settings.py: 200-token chunks with
    # 32 tokens of overlap. Artifacts hold base64 float32 (domain/artifacts.py).
    embedding_dimensions: int = 1024
    chunk_tokens: int = 200
    chunk_overlap_tokens: int = 32


@dataclass(frozen=True, slots=True)
class Assumptions:
    """Figures nobody measured here. Each is an assumption wherever it is used."""

    raw_document_mb: float = 0.5
    """Average size of an uploaded original in MiB (a PDF of a few pages)."""
    tokens_per_document: float = 3000.0
    """Text of an average document, in embedding tokens."""
    new_documents_share_per_month: float = 0.10
    """Documents added per month, as a share of the corpus, when the profile does not say.
    With a steady rate it also sets the corpus' age profile (a tenth a month: ten months)."""
    answer_seconds: float = 3.0
    """API function duration of a generated answer (Bedrock generation dominates)."""
    cached_answer_seconds: float = 0.3
    """API function duration of an answer served from the cache."""
    ingest_seconds_per_document: float = 5.0
    """Ingest function duration per document (parse, chunk, embed through Bedrock)."""
    nlb_lcus: float = 1.0
    """NLB capacity units in use on average while the tier runs (at this load, under one)."""
    chunk_metadata_bytes: float = 300.0
    """JSON around each chunk in its artifact (ids, offsets, page)."""
    bytes_per_token: float = 4.5
    """Characters of text per token, English."""


class PauseMode(StrEnum):
    DESTROY = "destroy"
    """pause/resume: Terraform destroys the whole tier outside the active hours."""
    SCALE_TO_ZERO = "scale-to-zero"
    """off-hours scaling: the scaler sets the node group to zero; cluster, NLB and Chroma's
    volume stay."""


@dataclass(frozen=True, slots=True)
class UsageProfile:
    queries_per_day: float
    documents: int
    hours_active_per_day: float
    """Hours a day the tier runs (the rest it is paused); 24 is never paused."""
    documents_added_per_month: float | None = None
    """None: ``Assumptions.new_documents_share_per_month`` of ``documents``."""
    pause: PauseMode = PauseMode.DESTROY

    def validate(self) -> None:
        """``ValueError`` naming the first field out of range."""
        if not math.isfinite(self.queries_per_day) or self.queries_per_day < 0:
            raise ValueError(f"queries per day must be 0 or more, not {self.queries_per_day}")
        if self.documents < 0:
            raise ValueError(f"documents must be 0 or more, not {self.documents}")
        if not 0 <= self.hours_active_per_day <= 24:
            raise ValueError(
                f"hours active per day must be between 0 and 24, not {self.hours_active_per_day}"
            )
        added = self.documents_added_per_month
        if added is not None and (not math.isfinite(added) or added < 0):
            raise ValueError(f"documents added per month must be 0 or more, not {added}")


@dataclass(frozen=True, slots=True)
class QueryInputs:
    """Per-query figures: measured, overridden or assumed (the caller knows which)."""

    cache_hit_rate: float
    """Share of queries answered from the cache, with no model call."""
    lite_share: float
    """Share of the generated answers routed to the lite model."""
    input_tokens: float
    """Prompt tokens of a generated answer."""
    output_tokens: float
    """Answer tokens of a generated answer."""
    embedding_tokens: float
    """Tokens of a question's embedding."""

    def validate(self) -> None:
        for name in ("cache_hit_rate", "lite_share"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ValueError(f"{name.replace('_', ' ')} must be between 0 and 1, not {value}")
        for name in ("input_tokens", "output_tokens", "embedding_tokens"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name.replace('_', ' ')} must be 0 or more, not {value}")


@dataclass(frozen=True, slots=True)
class ModelPrices:
    lite: ModelPrice
    pro: ModelPrice
    embedding: ModelPrice


@dataclass(frozen=True, slots=True)
class LineItem:
    item: str
    baseline_usd: float
    ragops_usd: float

    @property
    def saving(self) -> float:
        """1 - ragops / baseline; 0 where the baseline costs nothing."""
        return 1 - self.ragops_usd / self.baseline_usd if self.baseline_usd > 0 else 0.0


@dataclass(frozen=True, slots=True)
class Lever:
    lever: str
    applies_to: str
    promised: float
    modelled: float
    note: str

    @property
    def met(self) -> bool:
        return self.modelled >= self.promised - 1e-9


@dataclass(frozen=True, slots=True)
class CostProjection:
    """Monthly USD per line item (``lines``, then their ``total``) and each lever's saving
    beside the promised one. ``quantities`` are the volumes behind the figures."""

    lines: tuple[LineItem, ...]
    total: LineItem
    levers: tuple[Lever, ...]
    quantities: dict[str, float]
    tier_by_pause: dict[str, float] = field(default_factory=dict)
    """The tier's month at the profile's active hours in each way of pausing it
    (``never paused``, ``destroy``, ``scale-to-zero``): what the docs quote per mode."""


def tier_hourly(prices: InfraPrices, deployment: Deployment, assumptions: Assumptions) -> dict:
    """USD an hour of each part of the running tier: ``cluster`` (control plane), ``nodes``
    (instances, their public addresses and root volumes: gone when scaled to zero),
    ``nlb`` (with its addresses and LCUs) and ``volume`` (Chroma's)."""
    gb_hour = prices.ebs_gp3_gb_month / HOURS_PER_MONTH
    return {
        "cluster": prices.eks_cluster_hour,
        "nodes": deployment.nodes * (prices.node_hour + gb_hour * deployment.node_root_gb)
        + deployment.node_public_ips * prices.public_ipv4_hour,
        "nlb": prices.nlb_hour
        + assumptions.nlb_lcus * prices.nlb_lcu_hour
        + deployment.nlb_public_ips * prices.public_ipv4_hour,
        "volume": deployment.chroma_volume_gb * gb_hour,
    }


def tier_month(parts: Mapping[str, float], hours_active_per_day: float, pause: PauseMode) -> float:
    """A month of the tier that runs ``hours_active_per_day``: destroyed outside those
    hours, or with only its nodes gone (``SCALE_TO_ZERO``)."""
    active = HOURS_PER_MONTH * hours_active_per_day / 24
    if pause is PauseMode.DESTROY:
        return sum(parts.values()) * active
    return parts["nodes"] * active + (sum(parts.values()) - parts["nodes"]) * HOURS_PER_MONTH


def archived_share(documents: float, added_per_month: float, after_days: float) -> float:
    """Share of a corpus grown at a steady ``added_per_month`` that is older than
    ``after_days`` (its age spread evenly from 0 to ``documents / added_per_month``
    months). With no additions every document is old."""
    if documents <= 0:
        return 0.0
    if added_per_month <= 0:
        return 1.0
    young = added_per_month * after_days / DAYS_PER_MONTH
    return max(0.0, 1 - young / documents)


def artifact_mb(tokens: float, deployment: Deployment, assumptions: Assumptions) -> float:
    """MiB of the chunk artifact of a document of ``tokens``: per chunk, its float32 vector
    in base64, its text and its JSON metadata."""
    step = max(deployment.chunk_tokens - deployment.chunk_overlap_tokens, 1)
    chunks = max(1, math.ceil((tokens - deployment.chunk_overlap_tokens) / step))
    chunk_bytes = (
        4 * math.ceil(deployment.embedding_dimensions * 4 / 3)
        + deployment.chunk_tokens * assumptions.bytes_per_token
        + assumptions.chunk_metadata_bytes
    )
    return chunks * chunk_bytes / 2**20


def _archived_billed_mb(size_mb: float, storage_class: str) -> tuple[float, float]:
    """(MB billed at the archive class, MB billed at Standard) of one archived object."""
    if storage_class == "GLACIER_IR":
        return max(size_mb, _GLACIER_IR_MIN_MB), 0.0
    return size_mb + _ARCHIVE_OVERHEAD_MB, _ARCHIVE_STANDARD_OVERHEAD_MB


def project_costs(
    profile: UsageProfile,
    inputs: QueryInputs,
    models: ModelPrices,
    *,
    prices: InfraPrices | None = None,
    deployment: Deployment | None = None,
    assumptions: Assumptions | None = None,
) -> CostProjection:
    """The month's costs, baseline against ragops, and each lever's saving. ``ValueError``
    for a profile or inputs out of range."""
    prices = prices or InfraPrices()
    deployment = deployment or Deployment()
    a = assumptions or Assumptions()
    profile.validate()
    inputs.validate()
    if deployment.raw_archive_class not in ("GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"):
        raise ValueError(f"unknown archive class {deployment.raw_archive_class}")

    queries = profile.queries_per_day * DAYS_PER_MONTH
    added = (
        profile.documents * a.new_documents_share_per_month
        if profile.documents_added_per_month is None
        else profile.documents_added_per_month
    )
    hit, lite = inputs.cache_hit_rate, inputs.lite_share

    # LLM: every query generates in the baseline (pro); ragops generates for cache misses.
    def answer_usd(price: ModelPrice) -> float:
        return (
            inputs.input_tokens * price.input_per_million
            + inputs.output_tokens * price.output_per_million
        ) / 1e6

    pro_answer, lite_answer = answer_usd(models.pro), answer_usd(models.lite)
    routed_answer = lite * lite_answer + (1 - lite) * pro_answer
    generated = queries * (1 - hit)
    llm = LineItem("LLM", queries * pro_answer, generated * routed_answer)

    # Embeddings: every question is embedded in both (the semantic cache needs it too), and
    # every new document once.
    embed_tokens = queries * inputs.embedding_tokens + added * a.tokens_per_document
    embed_usd = embed_tokens * models.embedding.input_per_million / 1e6
    embeddings = LineItem("embeddings", embed_usd, embed_usd)

    # The tier.
    parts = tier_hourly(prices, deployment, a)
    compute = LineItem(
        "compute tier",
        tier_month(parts, 24, profile.pause),
        tier_month(parts, profile.hours_active_per_day, profile.pause),
    )

    # Lambda and API Gateway: one API request per query and per upload.
    requests = queries + added
    base_seconds = queries * a.answer_seconds
    ragops_seconds = queries * ((1 - hit) * a.answer_seconds + hit * a.cached_answer_seconds)
    ingest_gb_s = added * a.ingest_seconds_per_document * deployment.ingest_memory_gb
    fixed = (
        requests * (prices.lambda_million_requests + prices.api_gateway_million_requests) / 1e6
        + ingest_gb_s * prices.lambda_gb_second
    )
    gb_s = deployment.api_memory_gb * prices.lambda_gb_second
    serverless = LineItem(
        "Lambda + API Gateway", fixed + base_seconds * gb_s, fixed + ragops_seconds * gb_s
    )

    # Storage: originals, chunk artifacts (base64 float32 vectors plus text) and manifests.
    derived_mb = artifact_mb(a.tokens_per_document, deployment, a) + _MANIFEST_MB
    raw_gb = profile.documents * a.raw_document_mb / 1024
    derived_gb = profile.documents * derived_mb / 1024
    old = archived_share(profile.documents, added, deployment.raw_archive_after_days)
    archive_mb, standard_overhead_mb = _archived_billed_mb(
        a.raw_document_mb, deployment.raw_archive_class
    )
    archived_docs = profile.documents * old
    standard_gb = derived_gb + raw_gb * (1 - old) + archived_docs * standard_overhead_mb / 1024
    archive_gb = archived_docs * archive_mb / 1024
    transitions = (
        (added if old > 0 else 0.0)
        * prices.transition_thousand(deployment.raw_archive_class)
        / 1000
    )
    storage = LineItem(
        "storage (S3)",
        (raw_gb + derived_gb) * prices.s3_standard_gb_month,
        standard_gb * prices.s3_standard_gb_month
        + archive_gb * prices.archive_gb_month(deployment.raw_archive_class)
        + transitions,
    )

    lines = (llm, embeddings, compute, serverless, storage)
    total = LineItem(
        "total",
        sum(line.baseline_usd for line in lines),
        sum(line.ragops_usd for line in lines),
    )

    tier_total = sum(parts.values())
    off = 1 - profile.hours_active_per_day / 24
    levers = (
        Lever(
            "pause/resume",
            "compute tier",
            PROMISED_SAVINGS["pause/resume"],
            off,
            f"tier destroyed {24 - profile.hours_active_per_day:g} h a day; "
            f"{24 * (1 - PROMISED_SAVINGS['pause/resume']):.1f} h a day active would give 90%",
        ),
        Lever(
            "caching",
            "LLM calls",
            PROMISED_SAVINGS["caching"],
            hit,
            "LLM calls avoided = the cache hit rate",
        ),
        Lever(
            "routing",
            "LLM cost",
            PROMISED_SAVINGS["routing"],
            1 - routed_answer / pro_answer if pro_answer > 0 else 0.0,
            f"{lite:.1%} of the generated answers on the lite model; all-lite would save "
            f"{1 - lite_answer / pro_answer if pro_answer > 0 else 0.0:.1%}",
        ),
        Lever(
            "s3 lifecycle",
            "storage",
            PROMISED_SAVINGS["s3 lifecycle"],
            storage.saving,
            f"{old:.0%} of the originals older than {deployment.raw_archive_after_days:g} days "
            f"in {deployment.raw_archive_class}; artifacts and manifests stay in Standard",
        ),
        Lever(
            "off-hours scaling",
            "compute tier",
            PROMISED_SAVINGS["off-hours scaling"],
            parts["nodes"] * off / tier_total if tier_total > 0 else 0.0,
            "the scaler sets the node group to zero off-hours; control plane, NLB and "
            f"Chroma's volume stay ({parts['nodes'] / tier_total:.0%} of the tier's hourly "
            "cost is nodes, the most this can save); no autoscaling of nodes within the day",
        ),
    )
    quantities = {
        "queries_per_month": queries,
        "llm_calls_baseline": queries,
        "llm_calls_ragops": generated,
        "documents_added_per_month": added,
        "tier_usd_per_hour": tier_total,
        "tier_hours_per_month_ragops": HOURS_PER_MONTH * profile.hours_active_per_day / 24,
        "storage_gb": raw_gb + derived_gb,
        "archived_share_of_originals": old,
        "pro_answer_usd": pro_answer,
        "lite_answer_usd": lite_answer,
    }
    by_pause = {"never paused": tier_month(parts, 24, PauseMode.DESTROY)} | {
        str(mode): tier_month(parts, profile.hours_active_per_day, mode) for mode in PauseMode
    }
    return CostProjection(lines, total, levers, quantities, by_pause)
