"""The ingest function's event: an SQS message whose body is the EventBridge event S3 sends
for the documents bucket (``Object Created`` / ``Object Deleted``).

The bucket belongs to Terraform (``terraform/persistent``) and sends its events to
EventBridge; the SAM stack's rule forwards those under ``raw/`` to the ingest queue. Kept
apart from ``ragops.entrypoints.lambdas`` so the API function never imports the parser's
models.
"""

from __future__ import annotations

from aws_lambda_powertools.utilities.parser.models import (
    S3EventNotificationEventBridgeModel,
    SqsRecordModel,
)
from pydantic import Json

OBJECT_DELETED = "Object Deleted"


class DocumentEventRecord(SqsRecordModel):  # type: ignore[override]
    """One SQS record carrying one S3 event from EventBridge."""

    body: Json[S3EventNotificationEventBridgeModel]  # type: ignore[assignment]
