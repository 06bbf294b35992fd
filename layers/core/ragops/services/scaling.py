"""Scheduled scaling of the vector tier: pause in the evening, resume in the morning,
activate once it is back (index what was uploaded meanwhile)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ragops.domain.tier import TierState
from ragops.errors import TierUnavailable
from ragops.ports import TierStateStore
from ragops.services.documents import IngestContext, IngestResult
from ragops.services.tier import resume_tier

logger = logging.getLogger(__name__)


class ScaleAction(StrEnum):
    PAUSE = "pause"
    """Declare the tier paused (the API stops querying it), then scale its nodes to zero."""
    RESUME = "resume"
    """Scale the nodes back up and declare the tier resuming."""
    ACTIVATE = "activate"
    """The tier is up: index the documents that waited, then declare it active."""


@dataclass(frozen=True)
class NodeGroup:
    cluster: str
    name: str
    desired: int
    maximum: int


@dataclass(frozen=True)
class ScaleResult:
    action: ScaleAction
    state: TierState
    desired_nodes: int | None
    """None when the cluster does not exist (destroyed by Terraform): nothing to scale."""
    indexed_pending: int = 0


def _set_nodes(eks: Any, group: NodeGroup, desired: int) -> int | None:
    try:
        eks.update_nodegroup_config(
            clusterName=group.cluster,
            nodegroupName=group.name,
            scalingConfig={
                "minSize": 0 if desired == 0 else 1,
                "maxSize": max(group.maximum, 1),
                "desiredSize": desired,
            },
        )
    except Exception as exc:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code")
        if code == "ResourceNotFoundException":
            logger.warning(
                "tier cluster %s/%s not found; nothing to scale", group.cluster, group.name
            )
            return None
        raise TierUnavailable(f"could not scale the tier node group: {exc}") from exc
    return desired


def scale_tier(
    action: ScaleAction,
    *,
    state: TierStateStore,
    eks: Any,
    group: NodeGroup,
    ingest_context: Callable[[], IngestContext],
) -> ScaleResult:
    """Carry out one scheduled action. Order matters: pausing declares the state before
    the nodes go, so no query is sent to a tier that is shutting down; resuming brings the
    nodes first; activating indexes pending uploads before declaring the tier active."""
    if action is ScaleAction.PAUSE:
        state.set(TierState.PAUSED)
        nodes = _set_nodes(eks, group, 0)
        return ScaleResult(action, TierState.PAUSED, nodes)
    if action is ScaleAction.RESUME:
        nodes = _set_nodes(eks, group, group.desired)
        state.set(TierState.RESUMING)
        return ScaleResult(action, TierState.RESUMING, nodes)
    results = resume_tier(state, ingest_context())
    indexed = sum(isinstance(r, IngestResult) for r in results)
    return ScaleResult(action, TierState.ACTIVE, None, indexed_pending=indexed)
