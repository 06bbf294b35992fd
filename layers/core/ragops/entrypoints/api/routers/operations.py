"""Health, the served pipeline, the operations page's summary and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from ragops import __version__
from ragops.entrypoints.api.deps import ContainerDep, TenantDep
from ragops.entrypoints.api.errors import ERRORS, error_response
from ragops.entrypoints.api.schemas import (
    Health,
    OpsSummaryOut,
    OpsTierOut,
    PipelineOut,
    TierHealth,
)
from ragops.ports import RendersMetrics
from ragops.services.ops_summary import ops_summary

router = APIRouter()


@router.get("/healthz", tags=["operations"], response_model=Health)
def healthz(container: ContainerDep) -> Health:
    """Liveness, with the search tier's state: ``ok`` when queries can be served,
    ``maintenance`` while the tier is paused, resuming or failing."""
    tier = container.tier_status()
    return Health(
        status="ok" if tier.usable else "maintenance",
        version=__version__,
        tier=TierHealth(
            state=str(tier.state),
            usable=tier.usable,
            retry_after=None if tier.usable else tier.retry_after,
            message=tier.reason,
        ),
    )


@router.get("/v1/pipeline", tags=["operations"], response_model=PipelineOut, responses=ERRORS)
def served_pipeline(container: ContainerDep, _: TenantDep) -> PipelineOut:
    """The pipeline configuration answers are made with: the registry's champion
    version (resolved when the API started), or the deployment's settings."""
    return PipelineOut(**container.served_pipeline.to_dict())


@router.get("/v1/ops/summary", tags=["operations"], response_model=OpsSummaryOut, responses=ERRORS)
def operations_summary(container: ContainerDep, tenant: TenantDep) -> OpsSummaryOut:
    """The operations page's figures for the caller's tenant: tier state, documents by
    status and passages, and the last 7 days of queries, cache hits and cost."""
    tier = container.tier_status()
    return OpsSummaryOut(
        **ops_summary(container.store, tenant).to_dict(),
        tier=OpsTierOut(state=str(tier.state), usable=tier.usable, message=tier.reason),
    )


@router.get("/metrics", tags=["operations"], include_in_schema=False)
def prometheus_metrics(container: ContainerDep) -> Response:
    """Prometheus metrics of this process (404 unless RAGOPS_METRICS=prometheus)."""
    metrics = container.metrics
    if not isinstance(metrics, RendersMetrics):
        return error_response(404, "not_found", "metrics are not served by this deployment")
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)
