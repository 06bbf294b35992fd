"""Scheduled scaling of the vector tier: pause in the evening, resume in the morning,
activate once it is back (index what was uploaded meanwhile). The node group is scaled
through the ``NodeGroupScaler`` port (EKS: ``adapters/eks_scaler.py``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from ragops.domain.tier import NodeGroup, TierState
from ragops.ports import NodeGroupScaler, TierStateStore
from ragops.services.ingestion import IngestContext, IngestResult
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
class ScaleResult:
    action: ScaleAction
    state: TierState
    desired_nodes: int | None
    """None when the cluster does not exist (destroyed by Terraform): nothing to scale."""
    indexed_pending: int = 0


def scale_tier(
    action: ScaleAction,
    *,
    state: TierStateStore,
    scaler: NodeGroupScaler,
    group: NodeGroup,
    ingest_context: Callable[[], IngestContext],
) -> ScaleResult:
    """Carry out one scheduled action. Order matters: pausing declares the state before
    the nodes go, so no query is sent to a tier that is shutting down; resuming brings the
    nodes first; activating indexes pending uploads before declaring the tier active."""
    if action is ScaleAction.PAUSE:
        state.set(TierState.PAUSED)
        nodes = scaler.set_nodes(group, 0)
        return ScaleResult(action, TierState.PAUSED, nodes)
    if action is ScaleAction.RESUME:
        nodes = scaler.set_nodes(group, group.desired)
        state.set(TierState.RESUMING)
        return ScaleResult(action, TierState.RESUMING, nodes)
    results = resume_tier(state, ingest_context())
    indexed = sum(isinstance(r, IngestResult) for r in results)
    return ScaleResult(action, TierState.ACTIVE, None, indexed_pending=indexed)
