"""What the Lambda handlers in ``functions/`` share: Powertools utilities, one container
per execution environment (built on first use, never at import), and the per-event work.

Each ``functions/*/app.py`` is a decorated ``handler`` of a few lines that calls into here.
"""

from __future__ import annotations

import importlib.util
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, Field

from ragops.bootstrap import Container, build_container
from ragops.domain.retry import time_budget
from ragops.errors import ConfigurationError
from ragops.log_masking import install as install_pii_masking
from ragops.services.scaling import NodeGroup, ScaleAction, ScaleResult, scale_tier

if TYPE_CHECKING:
    from ragops.entrypoints.ingest_events import DocumentEventRecord

logger = Logger(service="ragops")
# Every record of the service (its modules log through "ragops" too) is masked for PII.
install_pii_masking(logger)
# Patch only botocore (S3, SSM, Bedrock, EKS calls): X-Ray's default patches every library it
# finds installed (SQLAlchemy, httpx, ...), which costs cold-start time for nothing we call.
tracer = Tracer(service="ragops", patch_modules=("botocore",))
metrics = Metrics(namespace="ragops", service="ragops")

_container: Container | None = None
_asgi: Any | None = None


def container() -> Container:
    """The execution environment's container, from ``RAGOPS_*`` environment variables."""
    global _container
    if _container is None:
        _container = build_container(resolve_champion=True)
    return _container


def use_container(replacement: Container | None) -> None:
    """Swap the container (tests, ``ragops invoke``); None goes back to the environment's."""
    global _container, _asgi
    _container = replacement
    _asgi = None


RESPONSE_RESERVE_SECONDS = 2.0
"""Kept free at the end of an invocation: no model call is retried into it, so a model that
keeps failing ends in a clear 503 (or a failed SQS record) rather than a Lambda timeout."""


@contextmanager
def lambda_time_budget(context: Any) -> Iterator[None]:
    """While handling one invocation: the time Lambda has left, less the reserve, bounds
    every retry of a model call (``ragops.domain.retry``)."""
    with time_budget(
        lambda: context.get_remaining_time_in_millis() / 1000 - RESPONSE_RESERVE_SECONDS
    ):
        yield


def on_lambda() -> bool:
    """True inside the Lambda runtime (which sets ``AWS_LAMBDA_FUNCTION_NAME``); false for
    ``ragops invoke`` and the tests, which run the handlers in a local process."""
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


def api_app() -> Any:
    """The FastAPI app wrapped for API Gateway (Mangum), built on the first request (or
    before SnapStart's snapshot). On Lambda it refuses ``RAGOPS_AUTH=off``, under which
    the tenant is whatever ``X-Tenant-Id`` a caller sends."""
    global _asgi
    if _asgi is None:
        from mangum import Mangum

        from ragops.entrypoints.api import create_app

        c = container()
        if c.settings.auth == "off" and on_lambda():
            raise ConfigurationError(
                "RAGOPS_AUTH=off takes the tenant from a header any caller can set; the API "
                "function refuses it: deploy with api-key, jwt or jwt+api-key (template.yaml "
                "sets jwt+api-key)"
            )
        _asgi = Mangum(create_app(c), lifespan="off")
    return _asgi


@tracer.capture_method
def ingest_record(record: DocumentEventRecord) -> None:
    """One SQS message carrying an S3 event from EventBridge: index or remove the document.
    An exception fails only this message (partial batch response); SQS retries it."""
    from ragops.entrypoints.ingest_events import OBJECT_DELETED
    from ragops.services.object_events import handle_object_event

    c = container()
    event = record.body
    # EventBridge carries the key as stored, not URL-encoded as S3's direct notifications do.
    key = event.detail.object.key
    logger.append_keys(message_id=record.messageId, s3_event_id=event.id)
    outcome = handle_object_event(
        c.ingest_context(),
        key=key,
        removed=event.detail_type == OBJECT_DELETED,
        tier_usable=c.tier_status().usable,
    )
    logger.info("object event handled", extra={"key": key, "outcome": outcome})
    metrics.add_metric(name=f"Documents{outcome.title()}", unit=MetricUnit.Count, value=1)


class ScalerCommand(BaseModel):
    """The input an EventBridge Scheduler schedule sends to the scaler."""

    action: ScaleAction
    desired_nodes: int | None = Field(default=None, ge=1)


@tracer.capture_method
def run_scaler(command: ScalerCommand) -> ScaleResult:
    c = container()
    s = c.settings
    result = scale_tier(
        command.action,
        state=c.tier_state,
        scaler=c.node_group_scaler,
        group=NodeGroup(
            cluster=s.eks_cluster_name,
            name=s.eks_nodegroup_name,
            desired=command.desired_nodes or s.tier_nodes_desired,
            maximum=s.tier_nodes_max,
        ),
        ingest_context=c.ingest_context,
    )
    metrics.add_metric(name=f"Tier{command.action.title()}", unit=MetricUnit.Count, value=1)
    logger.info("tier scaled", extra={"action": str(command.action), "state": str(result.state)})
    return result


@dataclass
class LocalLambdaContext:
    """The parts of Lambda's context object that handlers and Powertools read, for running
    handlers outside Lambda (``ragops invoke``, tests)."""

    function_name: str = "ragops-local"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 1024
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/ragops-local"
    log_stream_name: str = "local"
    timeout_ms: int = 30_000

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:local:000000000000:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return self.timeout_ms


def load_function(functions_dir: Path, name: str) -> Callable[[dict[str, Any], Any], Any]:
    """The ``handler`` of ``functions_dir/name/app.py``, imported by path as Lambda would."""
    path = Path(functions_dir) / name / "app.py"
    if not path.is_file():
        available = sorted(p.parent.name for p in Path(functions_dir).glob("*/app.py"))
        raise FileNotFoundError(f"no function {name!r} in {functions_dir} (have: {available})")
    spec = importlib.util.spec_from_file_location(f"ragops_function_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler
