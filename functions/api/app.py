"""API function: the FastAPI app behind API Gateway (REST), through Mangum."""

from aws_lambda_powertools.logging import correlation_paths

from ragops.entrypoints.lambdas import api_app, lambda_time_budget, logger, metrics, tracer
from ragops.entrypoints.snapstart import register_api_hooks

# SnapStart (template.yaml) runs these before its snapshot and after each restore.
register_api_hooks()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event, context):
    with lambda_time_budget(context):  # Bedrock retries stop before the function's timeout
        return api_app()(event, context)
