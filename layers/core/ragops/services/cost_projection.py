"""A month's cost for a usage profile, baseline against ragops, from what was measured.

The measured inputs, and where each comes from:

- **cache hit rate**: ``hit_rate`` of the latest ``eval cache`` run in the tracker (the share
  of repeated questions, QQP's label-1 lookups, that the cache answered with their own
  entry). Wrong and false hits are left out: they avoid a model call too, but serve the
  wrong answer, and no deployment should count on them.
- **lite share**: the latest ``eval routing`` run: the questions routed to the lite model
  over all its question sets (``<set>.lite`` / ``<set>.questions``, pooled).
- **tokens per answer and per question**: the mean of the answer records of the last
  ``RECORD_DAYS`` days (generated answers only: no cache hit, no abstention).

An override replaces a measurement; without either the input is a documented assumption
(no cache hit, no routing: nothing is claimed that was not measured). Every input says
which it is. A tracker or store that cannot be read is a note, never an error.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ragops.domain.cost_model import (
    Assumptions,
    CostProjection,
    Deployment,
    InfraPrices,
    ModelPrices,
    QueryInputs,
    UsageProfile,
    project_costs,
)
from ragops.domain.costs import FREE, ModelPrice, price_of
from ragops.errors import InvalidInput, RagopsError
from ragops.ports import ExperimentTracker, ObjectStore
from ragops.repositories.answer_log import AnswerLog
from ragops.services.tracking import EXPERIMENT

MEASURED, OVERRIDE, ASSUMPTION = "measured", "override", "assumption"
RECORD_DAYS = 30
DEFAULT_INPUT_TOKENS = 1140.0
"""The prompt ``eval routing`` prices: template 120 + 5 passages of 200 + a 20-token question."""
DEFAULT_OUTPUT_TOKENS = 150.0
DEFAULT_EMBEDDING_TOKENS = 20.0
logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SourcedValue:
    value: float
    source: str
    """``measured``, ``override`` or ``assumption``."""
    detail: str


@dataclass(frozen=True)
class CostReport:
    profile: UsageProfile
    inputs: dict[str, SourcedValue]
    projection: CostProjection
    assumptions: dict[str, float]
    infra_prices: dict[str, float]
    deployment: dict[str, Any]
    models: dict[str, str]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """One JSON-ready object: profile, inputs with sources, line items (monthly USD),
        levers (promised against modelled saving), quantities, what was assumed, notes."""
        p = self.projection
        return {
            "profile": {**asdict(self.profile), "pause": str(self.profile.pause)},
            "inputs": {k: asdict(v) for k, v in self.inputs.items()},
            "lines": [
                {
                    "item": line.item,
                    "baseline_usd": round(line.baseline_usd, 4),
                    "ragops_usd": round(line.ragops_usd, 4),
                    "saving": round(line.saving, 4),
                }
                for line in (*p.lines, p.total)
            ],
            "levers": [
                {
                    "lever": lever.lever,
                    "applies_to": lever.applies_to,
                    "promised": lever.promised,
                    "modelled": round(lever.modelled, 4),
                    "met": lever.met,
                    "note": lever.note,
                }
                for lever in p.levers
            ],
            "quantities": {k: round(v, 6) for k, v in p.quantities.items()},
            "tier_by_pause": {k: round(v, 2) for k, v in p.tier_by_pause.items()},
            "models": self.models,
            "infra_prices": self.infra_prices,
            "deployment": self.deployment,
            "assumptions": self.assumptions,
            "notes": self.notes,
        }


def _latest(
    tracker: ExperimentTracker | None, kind: str, notes: list[str]
) -> tuple[str, dict[str, float], dict[str, str]] | None:
    if tracker is None:
        notes.append(f"experiment tracking is off: no `eval {kind}` run to read")
        return None
    try:
        run = tracker.latest_run(EXPERIMENT, kind)
    except RagopsError as exc:
        notes.append(f"could not read the `eval {kind}` runs: {exc}")
        return None
    if run is None:
        notes.append(f"no `eval {kind}` run in {tracker.tracking_uri}")
    return run


def measured_cache_hit_rate(
    tracker: ExperimentTracker | None, notes: list[str]
) -> SourcedValue | None:
    """``hit_rate`` of the latest ``eval cache`` run, or None (with a note)."""
    run = _latest(tracker, "cache", notes)
    if run is None:
        return None
    run_id, metrics, params = run
    if "hit_rate" not in metrics:
        notes.append(f"`eval cache` run {run_id} has no hit_rate")
        return None
    # Which judge the replay measured: the served duplicate model, or the verifier.
    model = params.get("duplicate_model", "none (verifier)")
    judge = f"duplicate model {model}, " if not model.startswith("none") else "verifier "
    detail = (
        f"MLflow run {run_id} (eval cache, split {params.get('split', '?')}, {judge}"
        f"threshold {params.get('verifier_threshold', '?')}): hit_rate"
    )
    return SourcedValue(metrics["hit_rate"], MEASURED, detail)


def measured_lite_share(tracker: ExperimentTracker | None, notes: list[str]) -> SourcedValue | None:
    """Share routed to lite over every question set of the latest ``eval routing`` run, or
    None (with a note)."""
    run = _latest(tracker, "routing", notes)
    if run is None:
        return None
    run_id, metrics, _ = run
    sets = [k.removesuffix(".questions") for k in metrics if k.endswith(".questions")]
    questions = sum(metrics[f"{s}.questions"] for s in sets if f"{s}.lite" in metrics)
    lite = sum(metrics[f"{s}.lite"] for s in sets if f"{s}.lite" in metrics)
    if questions <= 0:
        notes.append(f"`eval routing` run {run_id} has no question counts")
        return None
    detail = (
        f"MLflow run {run_id} (eval routing): {lite:.0f} of {questions:.0f} questions to lite "
        f"over {', '.join(sorted(sets))}"
    )
    return SourcedValue(lite / questions, MEASURED, detail)


def measured_tokens(
    store: ObjectStore | None, notes: list[str], *, since: str | None = None
) -> dict[str, SourcedValue]:
    """Mean input and output tokens of the generated answers and mean embedding tokens of
    the embedded questions recorded since ``since`` (``YYYY-MM-DD``); {} when none."""
    if store is None:
        return {}
    generated = embedded = 0
    input_tokens = output_tokens = embedding_tokens = 0
    models: set[str] = set()
    try:
        for record in AnswerLog(store).records(since=since):
            cost = record.cost
            if cost.embedding_tokens > 0:
                embedded += 1
                embedding_tokens += cost.embedding_tokens
            if record.cache_hit or record.abstained:
                continue
            if cost.input_tokens <= 0:
                continue
            generated += 1
            input_tokens += cost.input_tokens
            output_tokens += cost.output_tokens
            models.add(record.model)
    except (RagopsError, ValueError, TypeError) as exc:
        notes.append(f"could not read the answer records: {exc}")
        return {}
    found: dict[str, SourcedValue] = {}
    window = f"since {since}" if since else "all days"
    if generated:
        detail = (
            f"mean of {generated} generated answers recorded {window} ({', '.join(sorted(models))})"
        )
        found["input_tokens"] = SourcedValue(input_tokens / generated, MEASURED, detail)
        found["output_tokens"] = SourcedValue(output_tokens / generated, MEASURED, detail)
    if embedded:
        detail = f"mean of {embedded} embedded questions recorded {window}"
        found["embedding_tokens"] = SourcedValue(embedding_tokens / embedded, MEASURED, detail)
    return found


def _pick(
    name: str, override: float | None, measured: SourcedValue | None, default: float, why: str
) -> SourcedValue:
    if override is not None:
        return SourcedValue(override, OVERRIDE, f"--{name.replace('_', '-')}")
    if measured is not None:
        return measured
    return SourcedValue(default, ASSUMPTION, why)


def _model_price(model: str, prices: Mapping[str, ModelPrice], notes: list[str]) -> ModelPrice:
    price = price_of(model, prices)
    if price is FREE:
        notes.append(f"no price for {model} in the price table: counted as free")
    return price


def cost_projection(
    profile: UsageProfile,
    *,
    tracker: ExperimentTracker | None,
    store: ObjectStore | None,
    prices: Mapping[str, ModelPrice],
    lite_model: str,
    pro_model: str,
    embedding_model: str,
    cache_hit_rate: float | None = None,
    lite_share: float | None = None,
    infra_overrides: Mapping[str, float] | None = None,
    deployment: Deployment | None = None,
    assumptions: Assumptions | None = None,
    today: datetime | None = None,
) -> CostReport:
    """Gather the measured inputs (overrides first), then price the month. ``InvalidInput``
    for a profile, an override or a price out of range."""
    notes: list[str] = []
    deployment = deployment or Deployment()
    assumptions = assumptions or Assumptions()
    try:
        infra = InfraPrices().with_overrides(infra_overrides or {})
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc
    since = ((today or datetime.now(UTC)) - timedelta(days=RECORD_DAYS)).strftime("%Y-%m-%d")
    hit = None if cache_hit_rate is not None else measured_cache_hit_rate(tracker, notes)
    lite = None if lite_share is not None else measured_lite_share(tracker, notes)
    tokens = measured_tokens(store, notes, since=since)
    inputs = {
        "cache_hit_rate": _pick(
            "cache_hit_rate", cache_hit_rate, hit, 0.0, "no measurement: no cache saving claimed"
        ),
        "lite_share": _pick(
            "lite_share", lite_share, lite, 0.0, "no measurement: every answer priced as pro"
        ),
        "input_tokens": _pick(
            "input_tokens",
            None,
            tokens.get("input_tokens"),
            DEFAULT_INPUT_TOKENS,
            "no answer records: the prompt `eval routing` prices (template 120 + 5 passages "
            "x 200 + question 20)",
        ),
        "output_tokens": _pick(
            "output_tokens",
            None,
            tokens.get("output_tokens"),
            DEFAULT_OUTPUT_TOKENS,
            "no answer records: the 150-token answer `eval routing` prices",
        ),
        "embedding_tokens": _pick(
            "embedding_tokens",
            None,
            tokens.get("embedding_tokens"),
            DEFAULT_EMBEDDING_TOKENS,
            "no answer records: a 20-token question",
        ),
    }
    models = ModelPrices(
        lite=_model_price(lite_model, prices, notes),
        pro=_model_price(pro_model, prices, notes),
        embedding=_model_price(embedding_model, prices, notes),
    )
    try:
        projection = project_costs(
            profile,
            QueryInputs(**{k: v.value for k, v in inputs.items()}),
            models,
            prices=infra,
            deployment=deployment,
            assumptions=assumptions,
        )
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc
    used = asdict(assumptions)
    if profile.documents_added_per_month is not None:
        used.pop("new_documents_share_per_month")
    return CostReport(
        profile=profile,
        inputs=inputs,
        projection=projection,
        assumptions=used,
        infra_prices=asdict(infra),
        deployment=asdict(deployment),
        models={"lite": lite_model, "pro": pro_model, "embedding": embedding_model},
        notes=notes,
    )
