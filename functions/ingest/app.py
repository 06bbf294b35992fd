"""Ingest function: the documents bucket's object events on raw/ (EventBridge, through SQS)
index or remove documents."""

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)

from ragops.entrypoints.ingest_events import DocumentEventRecord
from ragops.entrypoints.lambdas import (
    ingest_record,
    lambda_time_budget,
    logger,
    metrics,
    tracer,
)

processor = BatchProcessor(event_type=EventType.SQS, model=DocumentEventRecord)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event, context):
    with lambda_time_budget(context):  # Bedrock retries stop before the function's timeout
        return process_partial_response(
            event=event, record_handler=ingest_record, processor=processor, context=context
        )
