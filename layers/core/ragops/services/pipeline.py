"""The pipeline registry's use cases: register a configuration, promote a version to
champion behind the evaluation gate, roll back, and resolve what the API serves.

The API serves the champion's configuration over the deployment's settings, resolved once
when it starts (a Lambda cold start). A registry that cannot be reached, or a champion
whose configuration no longer validates, leaves the deployment's own settings in force,
logged and visible at ``GET /v1/pipeline``: a paused tier (where the cloud's MLflow
server runs) must not stop the API from starting.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from ragops.domain.pipeline import (
    CHALLENGER,
    CHAMPION,
    PIPELINE_FIELDS,
    Comparison,
    PipelineVersion,
    PromotionMargins,
    check_config,
    compare,
)
from ragops.domain.prompts import unknown_templates
from ragops.errors import InvalidInput, PromotionRefused, RagopsError
from ragops.ports import PipelineRegistry
from ragops.settings import Settings, validation_problems

logger = logging.getLogger(__name__)


def pipeline_config(settings: Settings) -> dict[str, Any]:
    """The pipeline part of ``settings``, as JSON-ready values."""
    dumped = settings.model_dump(mode="json", include=set(PIPELINE_FIELDS))
    return {name: dumped[name] for name in PIPELINE_FIELDS}


def apply_config(settings: Settings, config: Mapping[str, Any]) -> Settings:
    """``settings`` with the pipeline fields of ``config`` over them, validated as a whole;
    a bad value is ``InvalidInput`` naming the field."""
    update = check_config(config)
    try:
        return settings.replaced(**update)
    except ValidationError as exc:
        problems = validation_problems(exc)
        raise InvalidInput(f"invalid pipeline configuration: {problems}") from exc


def margins_of(settings: Settings) -> PromotionMargins:
    return PromotionMargins(
        ndcg_at_10=settings.promotion_max_ndcg_drop,
        groundedness_share=settings.promotion_max_groundedness_drop,
        cost_per_query_usd=settings.promotion_max_cost_increase,
        abstention_rate=settings.promotion_max_abstention_rise,
        answer_quality=settings.promotion_max_answer_quality_drop,
    )


@dataclass(frozen=True)
class ServedPipeline:
    """What the API answers with: the champion's configuration (``version``), or the
    deployment's settings, with why when a champion was expected."""

    source: Literal["champion", "settings"]
    version: int | None
    config: dict[str, Any]
    note: str = ""
    degraded: bool = False
    """A champion was expected but could not be served (the note says why)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "version": self.version,
            "config": self.config,
            "note": self.note,
            "degraded": self.degraded,
        }


ChampionReader = Callable[[], PipelineVersion | None]


def served_settings(
    settings: Settings, read_champion: ChampionReader | None
) -> tuple[Settings, ServedPipeline]:
    """The settings to serve with: the champion's configuration over ``settings`` when
    there is one (``read_champion`` None: the registry is not consulted)."""
    if read_champion is None:
        return settings, ServedPipeline("settings", None, pipeline_config(settings))
    try:
        champion = read_champion()
    except RagopsError as exc:
        note = f"the pipeline registry could not be read ({exc}); serving the settings"
        logger.warning(note)
        return settings, ServedPipeline("settings", None, pipeline_config(settings), note, True)
    if champion is None:
        note = "no champion registered; serving the settings"
        return settings, ServedPipeline("settings", None, pipeline_config(settings), note)
    try:
        effective = apply_config(settings, champion.config)
    except RagopsError as exc:
        note = (
            f"champion version {champion.version} is not valid here ({exc}); serving the settings"
        )
        logger.error(note)
        return settings, ServedPipeline("settings", None, pipeline_config(settings), note, True)
    logger.info("serving pipeline version %s (champion)", champion.version)
    return effective, ServedPipeline("champion", champion.version, pipeline_config(effective))


def register_pipeline(
    registry: PipelineRegistry,
    settings: Settings,
    overrides: Mapping[str, Any],
    description: str = "",
) -> PipelineVersion:
    """Register the pipeline part of ``settings`` with ``overrides`` over it as a new
    version and make it the ``challenger``."""
    applied = apply_config(settings, overrides)
    missing = unknown_templates([applied.prompt_version, *applied.prompt_variants])
    if missing:
        raise InvalidInput(f"unknown prompt templates {missing}: see `ragops prompts list`")
    version = registry.register(pipeline_config(applied), description)
    registry.set_alias(CHALLENGER, version.version)
    return registry.get(version.version)


@dataclass(frozen=True)
class Promotion:
    version: int
    previous: int | None
    comparison: Comparison | None
    forced: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "champion": self.version,
            "previous": self.previous,
            "comparison": self.comparison.to_dict() if self.comparison else None,
            "forced": self.forced,
        }


def promotion_check(
    candidate: PipelineVersion, champion: PipelineVersion | None, margins: PromotionMargins
) -> Comparison | None:
    """Raise ``PromotionRefused`` unless ``candidate`` may replace ``champion``: it must
    have an evaluation and, where the champion has one on the same sample, not regress
    it beyond ``margins``. Returns the comparison made (None without a baseline)."""
    rerun = f"`ragops eval suite --pipeline {candidate.version}`"
    if candidate.evaluation is None:
        raise PromotionRefused(f"version {candidate.version} has no evaluation: run {rerun}")
    if champion is None or champion.evaluation is None:
        return None
    if champion.evaluation.sample != candidate.evaluation.sample:
        raise PromotionRefused(
            f"version {candidate.version} was evaluated on another sample than the champion "
            f"(version {champion.version}): run {rerun} with the champion's sample "
            f"and `ragops eval suite --pipeline {champion.version}` with the same options"
        )
    comparison = compare(candidate.evaluation.metrics, champion.evaluation.metrics, margins)
    if not comparison.passed:
        reasons = "; ".join(r.reason() for r in comparison.regressions)
        raise PromotionRefused(
            f"version {candidate.version} regresses the champion (version "
            f"{champion.version}): {reasons}"
        )
    return comparison


def promote_pipeline(
    registry: PipelineRegistry,
    version: int,
    margins: PromotionMargins,
    *,
    force: bool = False,
) -> Promotion:
    """Make ``version`` the champion, behind ``promotion_check`` unless ``force``. The
    previous champion is remembered for ``rollback_pipeline``."""
    candidate = registry.get(version)
    champion = registry.by_alias(CHAMPION)
    if champion is not None and champion.version == version:
        raise InvalidInput(f"version {version} is the champion already")
    comparison = None if force else promotion_check(candidate, champion, margins)
    registry.set_alias(CHAMPION, version)
    history = registry.champion_history()
    if champion is not None and (not history or history[-1] != champion.version):
        history.append(champion.version)  # a champion set outside this command
    registry.set_champion_history([*history, version])
    challenger = registry.by_alias(CHALLENGER)
    if challenger is not None and challenger.version == version:
        registry.remove_alias(CHALLENGER)
    if force:
        logger.warning("pipeline version %s promoted without the evaluation gate", version)
    return Promotion(version, champion.version if champion else None, comparison, force)


def rollback_pipeline(registry: PipelineRegistry) -> tuple[int, int]:
    """Move ``champion`` back to the version that held it before; returns ``(from, to)``."""
    current = registry.by_alias(CHAMPION)
    if current is None:
        raise InvalidInput("there is no champion to roll back")
    history = registry.champion_history()
    while history and history[-1] == current.version:
        history.pop()
    if not history:
        raise InvalidInput(f"version {current.version} has no earlier champion to roll back to")
    previous = history[-1]
    registry.set_alias(CHAMPION, previous)
    registry.set_champion_history(history)
    return current.version, previous
