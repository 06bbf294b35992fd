"""Scaler function: EventBridge Scheduler pauses, resumes and activates the vector tier."""

from dataclasses import asdict

from aws_lambda_powertools.utilities.parser import event_parser

from ragops.entrypoints.lambdas import ScalerCommand, logger, metrics, run_scaler, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=ScalerCommand)
def handler(event: ScalerCommand, context):
    return asdict(run_scaler(event))
