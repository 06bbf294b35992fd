"""The SAM template's security and shape assertions (``tests/infra/assert_template.py``).

The script needs samtranslator and aws_cdk, which live in the tools virtualenv (``make tools``),
so it runs as a subprocess of the tools interpreter. Besides the real template, mutated copies
prove that each check can fail, and fails for the reason it is about.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "template.yaml"
SCRIPT = Path(__file__).with_name("assert_template.py")
TOOLS_DIR = Path(os.environ.get("RAGOPS_TOOLS_DIR", REPO / ".tools"))
TOOLS_PYTHON = TOOLS_DIR / "bin" / "python"
TOOLS_MISSING = (
    f"the tools interpreter {TOOLS_PYTHON} is missing: run `make tools` "
    "(or set RAGOPS_TOOLS_DIR to a virtualenv with aws-sam-cli and aws-cdk-lib)"
)
OFFLINE_ENV = {
    "SAM_CLI_TELEMETRY": "0",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
}


class Mutation(NamedTuple):
    old: str  # replaced at its first occurrence, which must exist
    new: str
    fails: frozenset[str]  # exactly the checks the mutation must make fail


def mutation(old: str, new: str, *fails: str) -> Mutation:
    return Mutation(old, new, frozenset(fails))


REDRIVE_POLICY = """\
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt IngestDeadLetterQueue.Arn
        maxReceiveCount: 5
"""
SCALER_SSM = (
    "Action: [ssm:GetParameter, ssm:PutParameter]\n"
    "              Resource: !Sub arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:"
    "parameter"
)

USER_PROXY = (
    "            RestApiId: !Ref UserApi\n            Path: /{proxy+}\n            Method: ANY\n"
)

MUTATIONS = {
    "stack-creates-a-bucket": mutation(
        "  IngestDeadLetterQueue:\n",
        "  ScratchBucket:\n    Type: AWS::S3::Bucket\n\n  IngestDeadLetterQueue:\n",
        "stack_owns_no_data",
    ),
    "events-from-any-bucket": mutation(
        "            name: [!Ref DocumentsBucketName]\n",
        "            name: [{prefix: ragops}]\n",
        "bucket_events_reach_ingest_queue",
    ),
    "queue-open-to-any-rule": mutation(
        "              ArnEquals:\n                aws:SourceArn: !GetAtt DocumentEventsRule.Arn",
        "              StringEquals:\n                aws:SourceAccount: !Ref AWS::AccountId",
        "ingest_queue_policy_scoped",
    ),
    "kms-any-key": mutation(
        "              Resource: !Ref DataKeyArn\n",
        "              Resource: !Sub arn:${AWS::Partition}:kms:${AWS::Region}:"
        "${AWS::AccountId}:key/*\n",
        "kms_scoped_to_data_key",
    ),
    "no-redrive-policy": mutation(REDRIVE_POLICY, "", "ingest_queue_redrives_to_dlq"),
    "no-partial-batch-failures": mutation(
        "            FunctionResponseTypes: [ReportBatchItemFailures]\n",
        "",
        "event_source_mappings_report_batch_item_failures",
    ),
    "ingest-reads-dead-letters": mutation(
        "Queue: !GetAtt IngestQueue.Arn\n            BatchSize",
        "Queue: !GetAtt IngestDeadLetterQueue.Arn\n            BatchSize",
        "ingest_function_triggered_by_queue",
        "ingest_queue_visibility_covers_function_timeout",
    ),
    "ingest-batch-of-five": mutation(
        "            BatchSize: 1\n",
        "            BatchSize: 5\n",
        "ingest_queue_visibility_covers_function_timeout",
    ),
    "ingest-timeout-too-short": mutation(
        "      Timeout: 300\n",
        "      Timeout: 120\n",
        "ingest_queue_visibility_covers_function_timeout",
    ),
    "queue-visibility-below-six-timeouts": mutation(
        "      VisibilityTimeout: 1800\n",
        "      VisibilityTimeout: 900\n",
        "ingest_queue_visibility_covers_function_timeout",
    ),
    "tracing-passthrough": mutation(
        "    Tracing: Active\n", "    Tracing: PassThrough\n", "lambda_tracing_active"
    ),
    "mixed-runtimes": mutation(
        "      FunctionName: !Sub ragops-${Stage}-scaler\n",
        "      FunctionName: !Sub ragops-${Stage}-scaler\n      Runtime: python3.14\n",
        "lambda_same_python_runtime",
        "layers_match_functions",
    ),
    "api-route-without-key": mutation(
        "            Path: /{proxy+}\n            Method: ANY\n",
        "            Path: /{proxy+}\n            Method: ANY\n"
        "            Auth:\n              ApiKeyRequired: false\n",
        "api_requires_a_key_except_health",
    ),
    "user-api-route-without-authorizer": mutation(
        USER_PROXY,
        USER_PROXY + "            Auth:\n              Authorizer: NONE\n",
        "api_requires_a_key_except_health",
    ),
    "api-tracing-off": mutation(
        "      TracingEnabled: true", "      TracingEnabled: false", "api_stage_tracing_enabled"
    ),
    "bedrock-resource-star": mutation(
        "- !Sub arn:${AWS::Partition}:bedrock:*::foundation-model/${ChatFoundationModelId}",
        '- "*"',
        "bedrock_scoped_to_model_parameters",
        "no_wildcard_statements",
    ),
    "bedrock-any-model": mutation(
        "foundation-model/${ProChatFoundationModelId}",
        "foundation-model/*",
        "bedrock_scoped_to_model_parameters",
    ),
    "guardrail-any": mutation(
        ":guardrail/${GuardrailId}",
        ":guardrail/*",
        "bedrock_scoped_to_model_parameters",
        "guardrail_wired",
    ),
    "guardrail-always-local": mutation(
        "RAGOPS_GUARDRAIL: !If [HasGuardrail, bedrock, local]",
        "RAGOPS_GUARDRAIL: local",
        "guardrail_wired",
    ),
    "rerank-any-model": mutation(
        "foundation-model/${RerankModelId}",
        "foundation-model/*",
        "bedrock_scoped_to_model_parameters",
        "reranker_wired",
    ),
    # Resource "*" is allowed for bedrock:Rerank alone (it has no resource type), not for
    # whatever shares its statement.
    "rerank-statement-grants-more": mutation(
        "Action: bedrock:Rerank\n",
        "Action: [bedrock:Rerank, bedrock:InvokeModel]\n",
        "bedrock_scoped_to_model_parameters",
        "no_wildcard_statements",
        "reranker_wired",
    ),
    "rerank-granted-when-off": mutation(
        "          - UsesBedrockReranker\n          - Statement:",
        "          - HasGuardrail\n          - Statement:",
        "reranker_wired",
    ),
    "reranker-always-off": mutation(
        "RAGOPS_RERANKER: !Ref Reranker", 'RAGOPS_RERANKER: "off"', "reranker_wired"
    ),
    "ingest-may-rerank": mutation(
        "Action: bedrock:InvokeModel\n              Resource: !Sub arn:${AWS::Partition}:bedrock:"
        "${AWS::Region}::foundation-model/${EmbeddingModelId}",
        "Action: [bedrock:InvokeModel, bedrock:Rerank]\n              Resource: !Sub "
        "arn:${AWS::Partition}:bedrock:${AWS::Region}::foundation-model/${EmbeddingModelId}",
        "reranker_wired",
    ),
    "action-star-behind-condition": mutation(
        "Action: secretsmanager:GetSecretValue", 'Action: "*"', "no_wildcard_statements"
    ),
    "schedule-role-resource-star": mutation(
        "Action: lambda:InvokeFunction\n                Resource: !GetAtt ScalerFunction.Arn",
        'Action: lambda:InvokeFunction\n                Resource: "*"',
        "no_wildcard_statements",
    ),
    "s3-whole-bucket": mutation(
        "${DocumentsBucketName}/chunks/*",
        "${DocumentsBucketName}/*",
        "s3_statements_scoped_to_prefixes",
    ),
    "ssm-every-parameter": mutation(
        SCALER_SSM + "/ragops/${Stage}/tier/state",
        SCALER_SSM + "/ragops/*",
        "ssm_statements_scoped_to_tier_state",
    ),
    "schedule-without-activate": mutation(
        """Input: '{"action": "activate"}'""", """Input: '{"action": "noop"}'""", "scaler_schedules"
    ),
    "schedules-always-on": mutation(
        "            Name: !Sub ragops-${Stage}-pause\n"
        "            State: !If [SchedulesOn, ENABLED, DISABLED]\n",
        "            Name: !Sub ragops-${Stage}-pause\n",
        "scaler_schedules",
    ),
    "schedules-on-by-default": mutation(
        '  SchedulesEnabled:\n    Type: String\n    Default: "false"\n',
        '  SchedulesEnabled:\n    Type: String\n    Default: "true"\n',
        "scaler_schedules",
    ),
    "api-times-out-with-api-gateway": mutation(
        "      Timeout: 25\n",
        "      Timeout: 29\n",
        "api_function_answers_before_api_gateway_gives_up",
    ),
    "one-key-for-the-stage": mutation(
        "      Auth:\n        ApiKeyRequired: true\n",
        "      Auth:\n        ApiKeyRequired: true\n        UsagePlan:\n"
        "          CreateUsagePlan: PER_API\n",
        "api_keys_metered_per_tenant",
    ),
    "tenants-without-quota": mutation(
        "      Quota:\n        Limit: !Ref TenantDailyQuota\n        Period: DAY\n",
        "",
        "api_keys_metered_per_tenant",
    ),
    "api-without-snapstart": mutation(
        "      SnapStart:\n        ApplyOn: PublishedVersions\n",
        "",
        "functions_on_a_supported_python_and_api_snapstart",
    ),
    "end-of-life-runtime": mutation(
        "    Runtime: python3.13\n",
        "    Runtime: python3.11\n",
        "functions_on_a_supported_python_and_api_snapstart",
        "layers_match_functions",
    ),
    "stray-stage-stage": mutation(
        '  Api:\n    OpenApiVersion: "3.0.1"\n', "", "apis_have_no_stray_stage"
    ),
    "no-dead-letter-alarm": mutation(
        "          Value: !GetAtt IngestDeadLetterQueue.QueueName\n",
        "          Value: !GetAtt IngestQueue.QueueName\n",
        "operational_alarms",
    ),
    "api-deploys-without-alarms": mutation(
        "        Alarms:\n"
        "          - !Ref ApiNewVersionErrorsAlarm\n"
        "          - !Ref ApiNewVersionLatencyAlarm\n"
        "          - !Ref ApiUnexpectedErrorsAlarm\n",
        "",
        "api_gradual_deployment",
    ),
    "deployment-alarm-on-another-function": mutation(
        "        - Name: FunctionName\n          Value: !Ref ApiFunction\n",
        "        - Name: FunctionName\n          Value: !Ref IngestFunction\n",
        "api_gradual_deployment",
    ),
}

# Templates the script must refuse to judge (exit 2), with what its stderr must say.
UNLOADABLE = {"broken-yaml": "cannot read", "bad-sam-event": "cannot translate"}


class Run(NamedTuple):
    returncode: int
    stdout: str
    stderr: str

    def failed_checks(self) -> set[str]:
        return set(re.findall(r"^FAIL (\w+):", self.stdout, flags=re.MULTILINE))

    def explain(self) -> str:
        return f"exit {self.returncode}\n--- stdout\n{self.stdout}--- stderr\n{self.stderr}"


def run_script(template: Path, *args: str) -> Run:
    result = subprocess.run(
        [str(TOOLS_PYTHON), str(SCRIPT), str(template), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env={**os.environ, **OFFLINE_ENV},
    )
    return Run(result.returncode, result.stdout, result.stderr)


def mutated(text: str, change: Mutation) -> str:
    if change.old not in text:
        raise LookupError(f"snippet not in template.yaml (update the test): {change.old!r}")
    return text.replace(change.old, change.new, 1)


def template_texts() -> dict[str, str | LookupError]:
    """The text of every template this module judges (or why it could not be built)."""
    original = TEMPLATE.read_text(encoding="utf-8")
    changes = {**MUTATIONS, "bad-sam-event": mutation("Type: SQS\n", "Type: NoSuchEvent\n")}
    texts: dict[str, str | LookupError] = {"real": original, "broken-yaml": "Resources: [x\n"}
    for name, change in changes.items():
        try:
            texts[name] = mutated(original, change)
        except LookupError as error:
            texts[name] = error
    return texts


@pytest.fixture(scope="module")
def script(tmp_path_factory) -> Iterator[Callable[[str], Run]]:
    """``script(name)``: the script's run on template ``name``. All runs start together when
    the module starts, as each spends a few seconds loading cdk."""
    if not TOOLS_PYTHON.exists():
        yield lambda name: pytest.fail(TOOLS_MISSING)
        return
    folder = tmp_path_factory.mktemp("templates")
    pool = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2))
    runs: dict[str, Future[Run] | LookupError] = {}
    for name, text in template_texts().items():
        if isinstance(text, LookupError):
            runs[name] = text
            continue
        path = TEMPLATE
        if name != "real":
            path = folder / f"{name}.yaml"
            path.write_text(text, encoding="utf-8")
        runs[name] = pool.submit(run_script, path)

    def result(name: str) -> Run:
        run = runs[name]
        if isinstance(run, LookupError):
            pytest.fail(str(run))
        return run.result()

    yield result
    pool.shutdown(wait=True, cancel_futures=True)


def test_real_template_passes_every_check(script):
    run = script("real")
    assert run.returncode == 0, run.explain()
    assert "FAIL" not in run.stdout, run.explain()
    assert "all checks passed" in run.stdout, run.explain()


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_mutation_fails_the_check_it_breaks(script, name):
    run = script(name)
    assert run.returncode == 1, run.explain()
    assert run.failed_checks() == MUTATIONS[name].fails, run.explain()


@pytest.mark.parametrize("name", sorted(UNLOADABLE))
def test_unloadable_template_exits_2(script, name):
    run = script(name)
    assert run.returncode == 2, run.explain()
    assert UNLOADABLE[name] in run.stderr, run.explain()
    assert "ok " not in run.stdout and "FAIL" not in run.stdout, run.explain()
