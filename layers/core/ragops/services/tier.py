"""Pause and resume of the vector tier, as the API and the operators see it."""

from __future__ import annotations

import logging

from ragops.domain.tier import RETRY_AFTER_SECONDS, CircuitBreaker, TierState, TierStatus
from ragops.errors import DocumentRejected, ServicePaused
from ragops.ports import TierStateStore
from ragops.services.ingestion import IngestContext, IngestResult, index_pending_documents

logger = logging.getLogger(__name__)


def tier_status(store: TierStateStore, breaker: CircuitBreaker) -> TierStatus:
    state = store.get()
    breaker_open = breaker.is_open
    retry_after = (
        RETRY_AFTER_SECONDS[state]
        if state is not TierState.ACTIVE
        else max(breaker.seconds_until_retry(), 1)
    )
    return TierStatus(state=state, breaker_open=breaker_open, retry_after=retry_after)


def require_usable(status: TierStatus) -> None:
    """Raise ``ServicePaused`` unless queries can be served now."""
    if not status.usable:
        raise ServicePaused(status.reason, state=str(status.state), retry_after=status.retry_after)


def pause_tier(store: TierStateStore) -> None:
    store.set(TierState.PAUSED)
    logger.info("tier paused")


def resume_tier(store: TierStateStore, ctx: IngestContext) -> list[IngestResult | DocumentRejected]:
    """Mark the tier resuming, index every document that waited, check that the tier
    answers, then mark it active.

    If the tier fails while catching up, or does not answer (a cluster not recreated yet,
    with nothing pending to reveal it), the state stays ``resuming`` and the error
    propagates: running resume again continues with what is still pending.
    """
    store.set(TierState.RESUMING)
    results = index_pending_documents(ctx)
    ctx.index.ping()
    store.set(TierState.ACTIVE)
    logger.info("tier resumed", extra={"indexed_pending": len(results)})
    return results
