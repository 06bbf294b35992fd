"""Security and shape assertions for the SAM template (``template.yaml``), fully offline.

Run it with the tools interpreter, not the project's::

    .tools/bin/python tests/infra/assert_template.py [TEMPLATE] [--verbose] [--dump FILE]

Why a separate script in the tools environment: the assertions need ``samtranslator`` (to turn
the SAM template into the CloudFormation that is actually deployed, IAM roles included) and
``aws_cdk.assertions`` (``Template``, ``Match``, ``Capture``; jsii, so Node 20 too). Both live in
the tools virtualenv (``.tools``, next to aws-sam-cli and cfn-lint) and not in the runtime
``.venv``, which has pytest instead. ``tests/infra/test_template_assertions.py`` runs this
script through a subprocess from pytest.

Nothing here calls AWS: the translator is given the managed-policy map bundled with
samtranslator instead of loading it through IAM, and local ``CodeUri``/``ContentUri`` folders
are replaced with a placeholder S3 URI. That is how cfn-lint's SAM transform
(``cfnlint/template/transforms/_sam.py``) used to translate offline; the cfn-lint in the tools
environment (1.58) no longer translates SAM at all, so this script does it itself.

Every check runs; each prints ``ok   <name>`` or ``FAIL <name>: <reason>`` on one line
(``--verbose`` adds cdk's full mismatch report under a failure). Exit status: 0 when all checks
pass, 1 when any fails, 2 when the template cannot be loaded or translated.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import re
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

try:
    from aws_cdk.assertions import Capture, Match, Template
    from samtranslator.internal.managed_policies import get_bundled_managed_policy_map
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator
    from samtranslator.yaml_helper import yaml_parse
except Exception as error:  # ImportError, or jsii failing to start Node
    sys.stderr.write(f"error: needs the tools virtualenv (make tools) and Node: {error}\n")
    sys.exit(2)

Cfn = dict[str, Any]  # a translated (plain CloudFormation) template
DEFAULT_TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"

# Logical ids this contract is about (they are also how the application refers to them).
DOCUMENTS_BUCKET = "DocumentsBucketName"  # a parameter: terraform/persistent owns the bucket
DATA_KEY = "DataKeyArn"  # a parameter: the bucket's and the tier secret's KMS key
DOCUMENT_EVENTS_RULE = "DocumentEventsRule"
INGEST_QUEUE = "IngestQueue"
DEAD_LETTER_QUEUE = "IngestDeadLetterQueue"
TIER_STATE_NAME = "/ragops/${Stage}/tier/state"
# What this stack must not create: data lives in terraform/persistent, so deleting or
# redeploying the stack cannot lose any.
DATA_RESOURCE_TYPES = ("AWS::S3::Bucket", "AWS::SSM::Parameter", "AWS::DynamoDB::Table")
INGEST_FUNCTION = "IngestFunction"
SCALER_FUNCTION = "ScalerFunction"
API_FUNCTION = "ApiFunction"
# What a rollback needs to notice on the API function's new version (Lambda metrics).
DEPLOYMENT_ALARM_METRICS = {"Errors", "Duration"}
MODEL_ID_PARAMETERS = (
    "EmbeddingModelId",
    "ChatModelId",
    "ChatFoundationModelId",
    "ProChatModelId",
    "ProChatFoundationModelId",
    "RerankModelId",
)
# Actions IAM cannot scope to a resource (the Service Authorization Reference lists no
# resource type for them), so only Resource "*" grants them: allowed on "*" in a statement
# that grants nothing else. bedrock:Rerank: what it reranks with is bounded by InvokeModel on
# the reranker model (RerankModelId).
RESOURCELESS_ACTIONS = {
    "bedrock:rerank",
    # Textract's text detection has no resource type (the service authorization reference).
    "textract:detectdocumenttext",
    "textract:startdocumenttextdetection",
    "textract:getdocumenttextdetection",
}
RERANKER_CONDITION = "UsesBedrockReranker"
RERANKER_VALUES = ["off", "bedrock"]
RERANK_MODEL_ARN = {
    "Fn::Sub": "arn:${AWS::Partition}:bedrock:${AWS::Region}::foundation-model/${RerankModelId}"
}
# usage/: answer records (cost, variant); feedback/: votes on answers; quality/: the tenants'
# duplicate indexes (quality checks at ingestion); auth/keys/: API key records (salted hashes);
# uploads/: the intents of direct (presigned) uploads, read by the ingest function; models/:
# the served copies of models the product trained (ragops cache train), read only;
# conversations/: a user's questions and answers, per tenant and user (the API's).
OBJECT_PREFIXES = (
    "raw",
    "documents",
    "chunks",
    "usage",
    "feedback",
    "quality",
    "auth/keys",
    "conversations",
    "uploads",
    "models",
)
SCHEDULED_ACTIONS = {"pause", "resume", "activate"}
BUCKET_LEVEL_S3_ACTIONS = {"s3:listbucket", "s3:listbucketversions", "s3:getbucketlocation"}

_MODELS = "|".join(MODEL_ID_PARAMETERS)
# Foundation models are regional resources without an account; a cross-region inference
# profile may route to any region, hence "*" is allowed there (never in the model part).
BEDROCK_ARN = (
    rf"^arn:\$\{{AWS::Partition\}}:bedrock:"
    rf"(\$\{{AWS::Region\}}|\*)::foundation-model/\$\{{({_MODELS})\}}$"
    rf"|^arn:\$\{{AWS::Partition\}}:bedrock:\$\{{AWS::Region\}}:\$\{{AWS::AccountId\}}:"
    rf"inference-profile/\$\{{({_MODELS})\}}$"
    rf"|^arn:\$\{{AWS::Partition\}}:bedrock:\$\{{AWS::Region\}}:\$\{{AWS::AccountId\}}:"
    r"guardrail/\$\{GuardrailId\}$"
)
BUCKET_ARN = rf"^arn:\$\{{AWS::Partition\}}:s3:::\$\{{{DOCUMENTS_BUCKET}\}}$"
OBJECT_ARN = (
    rf"^arn:\$\{{AWS::Partition\}}:s3:::\$\{{{DOCUMENTS_BUCKET}\}}/"
    rf"({'|'.join(OBJECT_PREFIXES)})/\*$"
)
TIER_STATE_ARN = (
    f"arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter{TIER_STATE_NAME}"
)


class CheckFailed(Exception):
    """A check's own verdict (as opposed to a cdk assertion error)."""


class TemplateError(Exception):
    """The template could not be loaded or translated (exit status 2)."""


# --- loading -------------------------------------------------------------------------------


def _placeholder_code_uris(template: dict[str, Any]) -> None:
    """Point local code folders at a fake S3 URI: the translator only accepts S3 locations."""
    uri_properties = {
        "AWS::Serverless::Function": "CodeUri",
        "AWS::Serverless::LayerVersion": "ContentUri",
    }
    for resource in template.get("Resources", {}).values():
        key = uri_properties.get(resource.get("Type"))
        properties = resource.get("Properties", {})
        if key and isinstance(properties.get(key), str) and not properties[key].startswith("s3://"):
            properties[key] = "s3://bucket/value"


def translate(path: Path) -> Cfn:
    """The SAM template at ``path`` as plain CloudFormation, translated offline."""
    try:
        sam = yaml_parse(path.read_text(encoding="utf-8"))
    except Exception as error:  # OSError, yaml errors
        raise TemplateError(f"cannot read {path}: {error}") from error
    if not isinstance(sam, dict) or not isinstance(sam.get("Resources"), dict):
        raise TemplateError(f"{path} is not a CloudFormation template (no Resources mapping)")
    _placeholder_code_uris(sam)

    policies = get_bundled_managed_policy_map("aws") or {}
    translator = Translator(managed_policy_map=policies, sam_parser=Parser())
    try:
        cfn = translator.translate(
            sam_template=copy.deepcopy(sam),
            parameter_values={},
            get_managed_policy_map=lambda: policies,
        )
        # Normalise to JSON types (what CloudFormation receives, and what jsii can carry).
        return json.loads(json.dumps(cfn))
    except Exception as error:  # samtranslator's InvalidDocumentException and friends
        raise TemplateError(f"cannot translate {path}: {error}") from error


def load_cdk_template(cfn: Cfn) -> Template:
    """A cdk assertions Template; cycles are a check of their own, not a load error."""
    try:
        return Template.from_json(cfn, skip_cyclical_dependencies_check=True)
    except Exception as error:
        raise TemplateError(f"aws_cdk.assertions cannot load the template: {error}") from error


# --- helpers -------------------------------------------------------------------------------


def _alternatives(value: Any) -> Iterator[Any]:
    """Every concrete value ``value`` may take: lists flattened, both Fn::If branches
    followed, AWS::NoValue dropped."""
    if isinstance(value, list):
        for item in value:
            yield from _alternatives(item)
    elif isinstance(value, dict) and set(value) == {"Fn::If"}:
        _condition, when_true, when_false = value["Fn::If"]
        yield from _alternatives(when_true)
        yield from _alternatives(when_false)
    elif value != {"Ref": "AWS::NoValue"}:
        yield value


@dataclass(frozen=True)
class Statement:
    where: str
    body: dict[str, Any]

    @property
    def allows(self) -> bool:
        return self.body.get("Effect") == "Allow"

    @property
    def actions(self) -> list[Any]:
        return list(_alternatives(self.body.get("Action", self.body.get("NotAction", []))))

    @property
    def resources(self) -> list[Any]:
        return list(_alternatives(self.body.get("Resource", self.body.get("NotResource", []))))

    def grants(self, service: str) -> bool:
        prefix = f"{service}:"
        return any(isinstance(a, str) and a.lower().startswith(prefix) for a in self.actions)

    @property
    def resourceless(self) -> bool:
        """Grants only actions without a resource type, on "*" and nothing else."""
        actions = self.actions
        return (
            bool(actions)
            and all(isinstance(a, str) and a.lower() in RESOURCELESS_ACTIONS for a in actions)
            and "Resource" in self.body
            and self.resources == ["*"]
        )


def _statements(where: str, document: Any) -> Iterator[Statement]:
    if not isinstance(document, dict):
        return
    for index, body in enumerate(_alternatives(document.get("Statement", []))):
        sid = f" ({body['Sid']})" if isinstance(body, dict) and "Sid" in body else ""
        yield Statement(f"{where}#{index}{sid}", body if isinstance(body, dict) else {})


def identity_statements(template: Template) -> list[Statement]:
    """Statements of the inline/identity policies of every role, user, group and policy
    (SAM's generated function roles included); ManagedPolicyArns are not statements."""
    found: list[Statement] = []
    for rtype in ("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group"):
        for logical_id, resource in template.find_resources(rtype).items():
            for policy in _alternatives(resource.get("Properties", {}).get("Policies", [])):
                name = policy.get("PolicyName", "?")
                found += _statements(f"{logical_id}/{name}", policy.get("PolicyDocument"))
    for rtype in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        for logical_id, resource in template.find_resources(rtype).items():
            document = resource.get("Properties", {}).get("PolicyDocument")
            found += _statements(logical_id, document)
    return found


def resource_policy_statements(template: Template) -> list[Statement]:
    """Statements of trust policies and of bucket, queue and topic policies."""
    found: list[Statement] = []
    for logical_id, resource in template.find_resources("AWS::IAM::Role").items():
        document = resource.get("Properties", {}).get("AssumeRolePolicyDocument")
        found += _statements(f"{logical_id}/trust", document)
    for rtype in ("AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy"):
        for logical_id, resource in template.find_resources(rtype).items():
            found += _statements(logical_id, resource.get("Properties", {}).get("PolicyDocument"))
    return found


def _allowing(template: Template, service: str, problems: list[str]) -> list[Statement]:
    """The Allow statements granting ``service`` actions; none at all is itself a problem,
    since the functions need them."""
    statements = [s for s in identity_statements(template) if s.allows and s.grants(service)]
    if not statements:
        problems.append(f"no statement grants {service} actions (the functions need them)")
    return statements


def _fails(matcher, value: Any) -> bool:
    return matcher.test(value).has_failed()


def _resource(cfn: Cfn, logical_id: str, rtype: str) -> dict[str, Any]:
    resource = cfn.get("Resources", {}).get(logical_id)
    if resource is None:
        raise CheckFailed(f"no resource {logical_id}")
    if resource.get("Type") != rtype:
        raise CheckFailed(f"{logical_id} is a {resource.get('Type')}, expected {rtype}")
    return resource


def _only(cfn: Cfn, logical_id: str, rtype: str) -> Template:
    """A cdk Template holding just ``logical_id``: pins cdk's assertions to that resource."""
    resource = _resource(cfn, logical_id, rtype)
    return Template.from_json(
        {"Resources": {logical_id: resource}}, skip_cyclical_dependencies_check=True
    )


def _get_att(logical_id: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def _report(problems: list[str]) -> None:
    if problems:
        raise CheckFailed("; ".join(problems))


# --- checks --------------------------------------------------------------------------------
# Each takes (cdk Template, translated CloudFormation dict) and raises on failure.


def check_no_dependency_cycles(template: Template, cfn: Cfn) -> None:
    Template.from_json(cfn)  # runs cdk's cyclical-dependency check


def check_stack_owns_no_data(template: Template, cfn: Cfn) -> None:
    problems = [
        f"{logical_id} is a {kind}: data belongs in terraform/persistent"
        for kind in DATA_RESOURCE_TYPES
        for logical_id in template.find_resources(kind)
    ]
    parameters = cfn.get("Parameters", {})
    for name in (DOCUMENTS_BUCKET, DATA_KEY):
        if "AllowedPattern" not in parameters.get(name, {}):
            problems.append(f"parameter {name} is missing or has no AllowedPattern")
    _report(problems)


def check_queues_encrypted(template: Template, cfn: Cfn) -> None:
    queues = template.find_resources("AWS::SQS::Queue")
    encrypted = {
        **template.find_resources(
            "AWS::SQS::Queue", {"Properties": {"SqsManagedSseEnabled": True}}
        ),
        **template.find_resources(
            "AWS::SQS::Queue", {"Properties": {"KmsMasterKeyId": Match.any_value()}}
        ),
    }
    if not queues:
        raise CheckFailed("no AWS::SQS::Queue")
    _report(
        [
            f"{q} has neither SqsManagedSseEnabled nor KmsMasterKeyId"
            for q in queues.keys() - encrypted.keys()
        ]
    )


def check_ingest_queue_redrives_to_dlq(template: Template, cfn: Cfn) -> None:
    _resource(cfn, DEAD_LETTER_QUEUE, "AWS::SQS::Queue")
    max_receive = Capture()
    _only(cfn, INGEST_QUEUE, "AWS::SQS::Queue").has_resource_properties(
        "AWS::SQS::Queue",
        {
            "RedrivePolicy": {
                "deadLetterTargetArn": _get_att(DEAD_LETTER_QUEUE),
                "maxReceiveCount": max_receive,
            }
        },
    )
    count = max_receive.as_number()
    if not (count >= 1 and count == int(count)):
        raise CheckFailed(f"maxReceiveCount must be a positive integer, got {count}")


def check_bucket_events_reach_ingest_queue(template: Template, cfn: Cfn) -> None:
    """The rule takes the documents bucket's object events under raw/ to the ingest queue."""
    _only(cfn, DOCUMENT_EVENTS_RULE, "AWS::Events::Rule").has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.s3"],
                "detail-type": Match.array_equals(["Object Created", "Object Deleted"]),
                "detail": {
                    "bucket": {"name": [{"Ref": DOCUMENTS_BUCKET}]},
                    "object": {"key": [{"prefix": "raw/"}]},
                },
            },
            "Targets": Match.array_with([Match.object_like({"Arn": _get_att(INGEST_QUEUE)})]),
        },
    )


def check_ingest_queue_policy_scoped(template: Template, cfn: Cfn) -> None:
    """Only this stack's rule may send to the queue (confused deputy)."""
    template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "Queues": Match.array_with([{"Ref": INGEST_QUEUE}]),
            "PolicyDocument": {
                "Statement": [
                    {
                        "Sid": Match.any_value(),
                        "Effect": "Allow",
                        "Principal": {"Service": "events.amazonaws.com"},
                        "Action": "sqs:SendMessage",
                        "Resource": _get_att(INGEST_QUEUE),
                        "Condition": {
                            "ArnEquals": {"aws:SourceArn": _get_att(DOCUMENT_EVENTS_RULE)}
                        },
                    }
                ]
            },
        },
    )


def check_kms_scoped_to_data_key(template: Template, cfn: Cfn) -> None:
    """KMS only on the stage's key, and only through S3 and Secrets Manager."""
    problems: list[str] = []
    for statement in _allowing(template, "kms", problems):
        if statement.resources != [{"Ref": DATA_KEY}]:
            problems.append(f"{statement.where}: resource is not the {DATA_KEY} parameter")
        via = statement.body.get("Condition", {}).get("StringEquals", {}).get("kms:ViaService")
        if not via:
            problems.append(f"{statement.where}: no kms:ViaService condition")
    _report(problems)


def check_ingest_function_triggered_by_queue(template: Template, cfn: Cfn) -> None:
    _resource(cfn, INGEST_FUNCTION, "AWS::Lambda::Function")
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {"EventSourceArn": _get_att(INGEST_QUEUE), "FunctionName": {"Ref": INGEST_FUNCTION}},
    )


def check_event_source_mappings_report_batch_item_failures(template: Template, cfn: Cfn) -> None:
    template.all_resources_properties(
        "AWS::Lambda::EventSourceMapping", {"FunctionResponseTypes": ["ReportBatchItemFailures"]}
    )


MIN_INGEST_TIMEOUT = 300
"""Seconds a 20 MiB document may take to parse, embed and index."""
MAX_INGEST_BATCH = 2
"""Messages per ingest invocation: a batch that times out returns no partial response, so
every message in it is retried, and a large document would take the others to the DLQ."""


def check_ingest_queue_visibility_covers_function_timeout(template: Template, cfn: Cfn) -> None:
    """The ingest function has time for a large document, takes at most two at a time, and
    its queue's visibility is six times its timeout (Lambda's advice for SQS sources; it
    rejects a mapping whose queue times out before the function does)."""
    visibility, timeout, batch = Capture(), Capture(), Capture()
    _only(cfn, INGEST_QUEUE, "AWS::SQS::Queue").has_resource_properties(
        "AWS::SQS::Queue", {"VisibilityTimeout": visibility}
    )
    _only(cfn, INGEST_FUNCTION, "AWS::Lambda::Function").has_resource_properties(
        "AWS::Lambda::Function", {"Timeout": timeout}
    )
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {"EventSourceArn": _get_att(INGEST_QUEUE), "BatchSize": batch},
    )
    problems = []
    if timeout.as_number() < MIN_INGEST_TIMEOUT:
        problems.append(f"ingest Timeout {timeout.as_number()} < {MIN_INGEST_TIMEOUT}")
    if visibility.as_number() < 6 * timeout.as_number():
        problems.append(
            f"VisibilityTimeout {visibility.as_number()} < 6 x function Timeout "
            f"{timeout.as_number()}"
        )
    if batch.as_number() > MAX_INGEST_BATCH:
        problems.append(f"ingest BatchSize {batch.as_number()} > {MAX_INGEST_BATCH}")
    _report(problems)


def check_lambda_tracing_active(template: Template, cfn: Cfn) -> None:
    template.all_resources_properties(
        "AWS::Lambda::Function", {"TracingConfig": {"Mode": "Active"}}
    )


def check_lambda_arm64(template: Template, cfn: Cfn) -> None:
    template.all_resources_properties("AWS::Lambda::Function", {"Architectures": ["arm64"]})


def _function_runtimes(template: Template) -> set[str]:
    runtime = Capture(Match.string_like_regexp(r"^python3\.\d+$"))
    template.all_resources_properties("AWS::Lambda::Function", {"Runtime": runtime})
    runtimes = {runtime.as_string()}
    while runtime.next():
        runtimes.add(runtime.as_string())
    return runtimes


def check_lambda_same_python_runtime(template: Template, cfn: Cfn) -> None:
    runtimes = _function_runtimes(template)
    if len(runtimes) != 1:
        raise CheckFailed(f"functions use different runtimes: {sorted(runtimes)}")


def check_layers_match_functions(template: Template, cfn: Cfn) -> None:
    runtimes = sorted(_function_runtimes(template))
    template.all_resources_properties(
        "AWS::Lambda::LayerVersion",
        {
            "CompatibleRuntimes": Match.array_with(runtimes),
            "CompatibleArchitectures": Match.array_with(["arm64"]),
        },
    )


def check_api_stage_tracing_enabled(template: Template, cfn: Cfn) -> None:
    template.all_resources_properties("AWS::ApiGateway::Stage", {"TracingEnabled": True})


def check_api_requires_a_key_except_health(template: Template, cfn: Cfn) -> None:
    """No route is open to the internet: every method but ``GET /healthz`` needs an API key
    or a token that a Cognito user-pool authorizer verifies."""
    problems = []
    for logical_id, api in template.find_resources("AWS::ApiGateway::RestApi").items():
        body = api["Properties"].get("Body", {})
        # Swagger 2.0 keeps the schemes in securityDefinitions, OpenAPI 3 under components.
        defined = body.get("securityDefinitions") or (body.get("components") or {}).get(
            "securitySchemes", {}
        )
        user_pools = {
            name
            for name, scheme in (defined or {}).items()
            if scheme.get("x-amazon-apigateway-authtype") == "cognito_user_pools"
        }
        for path, methods in body.get("paths", {}).items():
            for method, operation in methods.items():
                schemes = [name for entry in operation.get("security") or [] for name in entry]
                keyed = any("api_key" in name for name in schemes)
                signed_in = any(name in user_pools for name in schemes)
                if path == "/healthz" and method == "get":
                    continue
                if not (keyed or signed_in):
                    problems.append(
                        f"{logical_id} {method.upper()} {path} needs neither an API key nor a "
                        "user-pool token"
                    )
    _report(problems)


def check_bedrock_scoped_to_model_parameters(template: Template, cfn: Cfn) -> None:
    missing = [p for p in MODEL_ID_PARAMETERS if p not in cfn.get("Parameters", {})]
    model_arn = Match.object_equals({"Fn::Sub": Match.string_like_regexp(BEDROCK_ARN)})
    problems = [f"missing parameters {missing}"] if missing else []
    statements = _allowing(template, "bedrock", problems)
    for statement in statements:
        if "NotResource" in statement.body:
            problems.append(f"{statement.where}: NotResource")
        problems += [
            f"{statement.where}: action {action!r} is a wildcard"
            for action in statement.actions
            if isinstance(action, str) and action.lower().startswith("bedrock:") and "*" in action
        ]
        if statement.resourceless:
            continue
        problems += [
            f"{statement.where}: resource {json.dumps(resource)} is not a model ARN built from "
            "a model-id parameter"
            for resource in statement.resources
            if _fails(model_arn, resource)
        ]
    _report(problems)


def check_guardrail_wired(template: Template, cfn: Cfn) -> None:
    """With a ``GuardrailId`` the functions use Bedrock Guardrails, and the API function may
    apply exactly that guardrail; without one they use the local guardrail."""
    problems = []
    if "GuardrailId" not in cfn.get("Parameters", {}):
        problems.append("no GuardrailId parameter")
    for logical_id, function in cfn.get("Resources", {}).items():
        if function.get("Type") != "AWS::Lambda::Function":
            continue
        env = function["Properties"].get("Environment", {}).get("Variables", {})
        if env.get("RAGOPS_GUARDRAIL") != {"Fn::If": ["HasGuardrail", "bedrock", "local"]}:
            problems.append(f"{logical_id}: RAGOPS_GUARDRAIL is {env.get('RAGOPS_GUARDRAIL')!r}")
        if env.get("RAGOPS_BEDROCK_GUARDRAIL_ID") != {"Ref": "GuardrailId"}:
            problems.append(f"{logical_id}: RAGOPS_BEDROCK_GUARDRAIL_ID is not GuardrailId")
    applying = [
        s for s in _allowing(template, "bedrock", problems) if "bedrock:ApplyGuardrail" in s.actions
    ]
    if not any("ApiFunction" in s.where for s in applying):
        problems.append("the API function may not call bedrock:ApplyGuardrail")
    for statement in applying:
        if statement.resources != [
            {
                "Fn::Sub": "arn:${AWS::Partition}:bedrock:${AWS::Region}:${AWS::AccountId}:"
                "guardrail/${GuardrailId}"
            }
        ]:
            problems.append(f"{statement.where}: ApplyGuardrail beyond the configured guardrail")
    _report(problems)


def _conditional_statements(cfn: Cfn, role_id: str) -> Iterator[tuple[str | None, Statement]]:
    """(the condition it is granted under, or None) and each statement of a role's inline
    policies, as SAM wrote them (a policy under Fn::If is granted only when it holds)."""
    role = cfn.get("Resources", {}).get(role_id, {})
    for policy in role.get("Properties", {}).get("Policies", []):
        condition = None
        if isinstance(policy, dict) and set(policy) == {"Fn::If"}:
            condition, policy, _otherwise = policy["Fn::If"]
        if isinstance(policy, dict) and "PolicyDocument" in policy:
            name = f"{role_id}/{policy.get('PolicyName', '?')}"
            for statement in _statements(name, policy["PolicyDocument"]):
                yield condition, statement


def check_reranker_wired(template: Template, cfn: Cfn) -> None:
    """``Reranker`` (off or bedrock) and ``RerankModelId`` reach the API function, and with
    reranking on, and only then, the API function alone may call bedrock:Rerank (alone in
    its statement, on "*": it has no resource type) and InvokeModel on that one model."""
    problems = []
    parameters = cfn.get("Parameters", {})
    reranker = parameters.get("Reranker", {})
    if reranker.get("AllowedValues") != RERANKER_VALUES or reranker.get("Default") != "off":
        problems.append(f"parameter Reranker is not one of {RERANKER_VALUES}, default off")
    if "AllowedPattern" not in parameters.get("RerankModelId", {}):
        problems.append("parameter RerankModelId is missing or has no AllowedPattern")
    if cfn.get("Conditions", {}).get(RERANKER_CONDITION) != {
        "Fn::Equals": [{"Ref": "Reranker"}, "bedrock"]
    }:
        problems.append(f"condition {RERANKER_CONDITION} is not Reranker == bedrock")
    api = _resource(cfn, API_FUNCTION, "AWS::Lambda::Function")["Properties"]
    env = api.get("Environment", {}).get("Variables", {})
    if env.get("RAGOPS_RERANKER") != {"Ref": "Reranker"}:
        problems.append(f"{API_FUNCTION}: RAGOPS_RERANKER is {env.get('RAGOPS_RERANKER')!r}")
    if env.get("RAGOPS_BEDROCK_RERANK_MODEL_ID") != {"Ref": "RerankModelId"}:
        problems.append(f"{API_FUNCTION}: RAGOPS_BEDROCK_RERANK_MODEL_ID is not RerankModelId")
    api_role = (api.get("Role") or {}).get("Fn::GetAtt", [None])[0]
    granted: set[str] = set()
    for role_id in template.find_resources("AWS::IAM::Role"):
        for condition, statement in _conditional_statements(cfn, role_id):
            actions = {a.lower() for a in statement.actions if isinstance(a, str)}
            rerank = "bedrock:rerank" in actions
            model = RERANK_MODEL_ARN in statement.resources
            if not (rerank or model):
                continue
            if role_id != api_role:
                problems.append(f"{statement.where}: only {API_FUNCTION} reranks")
            if condition != RERANKER_CONDITION:
                problems.append(f"{statement.where}: granted unless {RERANKER_CONDITION} is false")
            if rerank and not statement.resourceless:
                problems.append(f"{statement.where}: bedrock:Rerank not alone on Resource *")
            only_the_model = statement.resources == [RERANK_MODEL_ARN]
            if model and (actions != {"bedrock:invokemodel"} or not only_the_model):
                problems.append(f"{statement.where}: more than InvokeModel on the reranker model")
            granted |= {key for key, yes in (("rerank", rerank), ("model", model)) if yes}
    problems += [
        f"{API_FUNCTION} may not {what}"
        for key, what in (("rerank", "call bedrock:Rerank"), ("model", "invoke RerankModelId"))
        if key not in granted
    ]
    _report(problems)


def check_no_wildcard_statements(template: Template, cfn: Cfn) -> None:
    """No Allow statement, identity or resource policy, grants Action "*" or Resource "*"
    or to Principal "*", and none uses NotAction/NotResource (allow-everything-except).
    Deny statements may use wildcards: they only take permissions away."""
    problems = []
    for statement in identity_statements(template) + resource_policy_statements(template):
        if not statement.allows:
            continue
        if statement.body.get("Principal") in ("*", {"AWS": "*"}):
            problems.append(f'{statement.where}: Principal "*"')
        for key in ("NotAction", "NotResource"):
            if key in statement.body:
                problems.append(f"{statement.where}: Allow with {key}")
        if any(not isinstance(a, str) for a in statement.actions):
            problems.append(f"{statement.where}: Action is not a literal")
        if "*" in statement.actions:
            problems.append(f'{statement.where}: Action "*"')
        if "*" in statement.resources and not statement.resourceless:
            problems.append(f'{statement.where}: Resource "*"')
    _report(problems)


def check_s3_statements_scoped_to_prefixes(template: Template, cfn: Cfn) -> None:
    bucket_arn = Match.object_equals({"Fn::Sub": Match.string_like_regexp(BUCKET_ARN)})
    object_arn = Match.object_equals({"Fn::Sub": Match.string_like_regexp(OBJECT_ARN)})
    allowed_prefixes = {f"{prefix}/*" for prefix in OBJECT_PREFIXES}
    problems: list[str] = []
    statements = _allowing(template, "s3", problems)
    for statement in statements:
        actions = {a.lower() for a in statement.actions if isinstance(a, str)}
        if "NotResource" in statement.body or any("*" in a for a in actions):
            problems.append(f"{statement.where}: wildcard S3 action or NotResource")
            continue
        bucket_only = actions <= BUCKET_LEVEL_S3_ACTIONS
        matcher = bucket_arn if bucket_only else object_arn
        problems += [
            f"{statement.where}: resource {json.dumps(resource)} is outside "
            f"{', '.join(sorted(allowed_prefixes))} of {DOCUMENTS_BUCKET}"
            for resource in statement.resources
            if _fails(matcher, resource)
        ]
        if bucket_only and actions & {"s3:listbucket", "s3:listbucketversions"}:
            condition = statement.body.get("Condition", {}).get("StringLike", {})
            prefixes = set(_alternatives(condition.get("s3:prefix", [])))
            if not prefixes or not prefixes <= allowed_prefixes:
                problems.append(f"{statement.where}: listing not limited by s3:prefix")
    _report(problems)


def check_ssm_statements_scoped_to_tier_state(template: Template, cfn: Cfn) -> None:
    problems: list[str] = []
    statements = _allowing(template, "ssm", problems)
    tier_state_arn = Match.exact({"Fn::Sub": TIER_STATE_ARN})
    for statement in statements:
        if "NotResource" in statement.body:
            problems.append(f"{statement.where}: NotResource")
        problems += [
            f"{statement.where}: resource {json.dumps(resource)} is not {TIER_STATE_NAME}"
            for resource in statement.resources
            if _fails(tier_state_arn, resource)
        ]
    _report(problems)


SCHEDULES_PARAMETER = "SchedulesEnabled"
SCHEDULES_CONDITION = "SchedulesOn"


def _schedule_action(schedule: dict[str, Any]) -> str | None:
    text = schedule.get("Properties", {}).get("Target", {}).get("Input")
    text = text.get("Fn::Sub") if isinstance(text, dict) else text
    match = re.search(r'"action"\s*:\s*"(\w+)"', text) if isinstance(text, str) else None
    return match.group(1) if match else None


def check_scaler_schedules(template: Template, cfn: Cfn) -> None:
    _resource(cfn, SCALER_FUNCTION, "AWS::Lambda::Function")
    # Every schedule, the optional one-off ones included, invokes the scaler.
    template.all_resources_properties(
        "AWS::Scheduler::Schedule",
        {"Target": Match.object_like({"Arn": _get_att(SCALER_FUNCTION)})},
    )
    recurring = template.find_resources("AWS::Scheduler::Schedule", {"Condition": Match.absent()})
    actions = sorted(str(_schedule_action(schedule)) for schedule in recurring.values())
    if len(recurring) != len(SCHEDULED_ACTIONS) or set(actions) != SCHEDULED_ACTIONS:
        raise CheckFailed(
            f"expected {len(SCHEDULED_ACTIONS)} unconditional schedules with actions "
            f"{sorted(SCHEDULED_ACTIONS)}, got {len(recurring)} with {actions}"
        )
    # The recurring (scale-to-zero) schedules bill about 60 USD a month more than the
    # destroying pause: they run only when the operator turns them on.
    switch = {"Fn::If": [SCHEDULES_CONDITION, "ENABLED", "DISABLED"]}
    parameter = cfn.get("Parameters", {}).get(SCHEDULES_PARAMETER, {})
    problems = [
        f"{logical_id}: State is {schedule.get('Properties', {}).get('State')!r}, not {switch}"
        for logical_id, schedule in recurring.items()
        if schedule.get("Properties", {}).get("State") != switch
    ]
    if str(parameter.get("Default")) != "false":
        problems.append(f"{SCHEDULES_PARAMETER} does not default to false")
    _report(problems)


def _api_alias(cfn: Cfn) -> tuple[str, dict[str, Any]]:
    aliases = {
        logical_id: resource
        for logical_id, resource in cfn.get("Resources", {}).items()
        if resource.get("Type") == "AWS::Lambda::Alias"
        and resource.get("Properties", {}).get("FunctionName") == {"Ref": API_FUNCTION}
    }
    if len(aliases) != 1:
        raise CheckFailed(f"{API_FUNCTION} has {len(aliases)} aliases, expected one")
    return next(iter(aliases.items()))


def _deployment_alarm_problems(cfn: Cfn, group_id: str) -> list[str]:
    group = cfn.get("Resources", {}).get(group_id, {})
    if group.get("Type") != "AWS::CodeDeploy::DeploymentGroup":
        return [f"no deployment group {group_id}"]
    properties = group.get("Properties", {})
    problems = []
    rollback = properties.get("AutoRollbackConfiguration", {})
    if not rollback.get("Enabled") or "DEPLOYMENT_STOP_ON_ALARM" not in rollback.get("Events", []):
        problems.append(f"{group_id} does not roll back when an alarm fires")
    configuration = properties.get("AlarmConfiguration", {})
    names = [alarm.get("Name", {}).get("Ref") for alarm in configuration.get("Alarms", [])]
    if not configuration.get("Enabled") or not names:
        return [*problems, f"{group_id} watches no alarm"]
    watched = set()
    for name in names:
        alarm = cfn.get("Resources", {}).get(name, {})
        if alarm.get("Type") != "AWS::CloudWatch::Alarm":
            problems.append(f"{group_id}: {name} is not an alarm of this stack")
            continue
        alarm_properties = alarm.get("Properties", {})
        if alarm_properties.get("Namespace") != "AWS/Lambda":
            continue  # a metric of the stack's own (the API's log, say)
        dimensions = {d.get("Name"): d.get("Value") for d in alarm_properties.get("Dimensions", [])}
        if dimensions.get("FunctionName") != {"Ref": API_FUNCTION}:
            problems.append(f"{name} does not watch {API_FUNCTION}")
            continue
        watched.add(alarm_properties.get("MetricName"))
    problems += [
        f"no alarm on {API_FUNCTION}'s {metric}"
        for metric in sorted(DEPLOYMENT_ALARM_METRICS - watched)
    ]
    return problems


def check_api_gradual_deployment(template: Template, cfn: Cfn) -> None:
    """API Gateway invokes the API function's alias, never its latest code; CodeDeploy moves
    the alias to a new version (DeploymentPreference) and rolls it back when an alarm on the
    function's errors or latency fires."""
    alias_id, alias = _api_alias(cfn)
    problems = []
    update = alias.get("UpdatePolicy", {}).get("CodeDeployLambdaAliasUpdate")
    if not update:
        problems.append(f"{alias_id} is not moved by CodeDeploy (no DeploymentPreference)")
    else:
        group_id = update.get("DeploymentGroupName", {}).get("Ref")
        problems += _deployment_alarm_problems(cfn, group_id)
    for logical_id, api in template.find_resources("AWS::ApiGateway::RestApi").items():
        for path, methods in api["Properties"].get("Body", {}).get("paths", {}).items():
            for method, operation in methods.items():
                uri = json.dumps(operation.get("x-amazon-apigateway-integration", {}).get("uri"))
                if f"${{{alias_id}}}" not in uri:
                    problems.append(f"{logical_id} {method} {path} does not invoke {alias_id}")
    _report(problems)


API_GATEWAY_TIMEOUT_SECONDS = 29


def check_api_function_answers_before_api_gateway_gives_up(template: Template, cfn: Cfn) -> None:
    """The API function times out below API Gateway's 29 s integration timeout, so its own
    503 (the app stops retrying before the function's end) reaches the caller, not a 504."""
    timeout = Capture()
    _only(cfn, API_FUNCTION, "AWS::Lambda::Function").has_resource_properties(
        "AWS::Lambda::Function", {"Timeout": timeout}
    )
    if timeout.as_number() >= API_GATEWAY_TIMEOUT_SECONDS:
        raise CheckFailed(
            f"API function Timeout {timeout.as_number()} >= API Gateway's "
            f"{API_GATEWAY_TIMEOUT_SECONDS} s"
        )


def check_api_keys_metered_per_tenant(template: Template, cfn: Cfn) -> None:
    """The keyed API's stage is in a usage plan with a throttle and a quota, which API
    Gateway applies to each key (one per ragops key, so per tenant); the stack makes no API
    key itself, so no key shared by every tenant can spend the others' limits."""
    problems = []
    shared = sorted(template.find_resources("AWS::ApiGateway::ApiKey"))
    if shared:
        problems.append(f"the stack makes API keys shared by every tenant: {shared}")
    plans = template.find_resources("AWS::ApiGateway::UsagePlan")
    metered = [
        logical_id
        for logical_id, plan in plans.items()
        if any(
            stage.get("ApiId") == {"Ref": "RestApi"}
            for stage in plan["Properties"].get("ApiStages", [])
        )
        and plan["Properties"].get("Throttle")
        and plan["Properties"].get("Quota")
    ]
    if not metered:
        problems.append("no usage plan with a throttle and a quota covers RestApi")
    outputs = cfn.get("Outputs", {})
    if not any(o.get("Value", {}).get("Ref") in metered for o in outputs.values()):
        problems.append("no output names the usage plan (RAGOPS_USAGE_PLAN_ID for ragops keys)")
    _report(problems)


SUPPORTED_PYTHON = (3, 13)


def check_functions_on_a_supported_python_and_api_snapstart(template: Template, cfn: Cfn) -> None:
    """Every function runs Python 3.13 or newer (python3.11 is Amazon Linux 2, past its end
    of life), and the API function restores from SnapStart snapshots of its published
    versions (which API Gateway invokes through the alias)."""
    problems = []
    for runtime in sorted(_function_runtimes(template)):
        version = tuple(int(part) for part in runtime.removeprefix("python").split("."))
        if version < SUPPORTED_PYTHON:
            problems.append(f"a function runs {runtime}, older than python3.13")
    function = cfn["Resources"][API_FUNCTION]["Properties"]
    if function.get("SnapStart", {}).get("ApplyOn") != "PublishedVersions":
        problems.append(f"{API_FUNCTION} has no SnapStart on its published versions")
    _report(problems)


def check_apis_have_no_stray_stage(template: Template, cfn: Cfn) -> None:
    """Without an OpenAPI version SAM gives every API's deployment ``StageName: Stage``,
    which creates a stage named "Stage" beside the one StageName makes: a second copy of
    the API without its stage settings."""
    deployments = template.find_resources("AWS::ApiGateway::Deployment")
    stray = sorted(
        logical_id
        for logical_id, deployment in deployments.items()
        if deployment.get("Properties", {}).get("StageName") == "Stage"
    )
    if stray or not deployments:
        raise CheckFailed(f"deployments making a 'Stage' stage: {stray}" if stray else "no API")


def check_operational_alarms(template: Template, cfn: Cfn) -> None:
    """Somebody hears of a document stuck in the dead-letter queue and of a failed scaler
    run (the tier left paused, or billing)."""
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AWS/SQS",
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [
                {"Name": "QueueName", "Value": {"Fn::GetAtt": [DEAD_LETTER_QUEUE, "QueueName"]}}
            ],
            "Threshold": 0,
            "ComparisonOperator": "GreaterThanThreshold",
        },
    )
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AWS/Lambda",
            "MetricName": "Errors",
            "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": SCALER_FUNCTION}}],
            "Threshold": 0,
            "ComparisonOperator": "GreaterThanThreshold",
        },
    )


CHECKS: list[Callable[[Template, Cfn], None]] = [
    check_no_dependency_cycles,
    check_stack_owns_no_data,
    check_queues_encrypted,
    check_ingest_queue_redrives_to_dlq,
    check_bucket_events_reach_ingest_queue,
    check_ingest_queue_policy_scoped,
    check_kms_scoped_to_data_key,
    check_ingest_function_triggered_by_queue,
    check_event_source_mappings_report_batch_item_failures,
    check_ingest_queue_visibility_covers_function_timeout,
    check_lambda_tracing_active,
    check_lambda_arm64,
    check_lambda_same_python_runtime,
    check_layers_match_functions,
    check_api_stage_tracing_enabled,
    check_api_requires_a_key_except_health,
    check_bedrock_scoped_to_model_parameters,
    check_guardrail_wired,
    check_reranker_wired,
    check_no_wildcard_statements,
    check_s3_statements_scoped_to_prefixes,
    check_ssm_statements_scoped_to_tier_state,
    check_scaler_schedules,
    check_api_gradual_deployment,
    check_api_function_answers_before_api_gateway_gives_up,
    check_apis_have_no_stray_stage,
    check_functions_on_a_supported_python_and_api_snapstart,
    check_api_keys_metered_per_tenant,
    check_operational_alarms,
]


# --- running -------------------------------------------------------------------------------


def _emit(line: str) -> None:
    sys.stdout.write(line + "\n")


def _summarise(error: Exception) -> tuple[str, str]:
    """(one-line reason, full detail) for a failed check."""
    if isinstance(error, CheckFailed):
        return str(error), ""
    message = str(error)
    if isinstance(error, RuntimeError):  # a cdk assertion, raised through jsii
        lines = message.removeprefix("AssertionError: ").splitlines()
        marks = [line.strip().removeprefix("!!").strip() for line in lines if "!!" in line]
        # all_resources_properties lists the offenders as tab-indented logical ids.
        offenders = [line.strip() for line in lines if line.startswith("\t")]
        if offenders:
            marks.append("not matching: " + ", ".join(offenders))
        reason = lines[0] if lines else message
        if marks:
            reason += " [" + "; ".join(dict.fromkeys(marks)) + "]"
        return reason, message
    return f"{type(error).__name__}: {error}", traceback.format_exc()


def run_checks(template: Template, cfn: Cfn, verbose: bool = False) -> bool:
    passed = True
    for check in CHECKS:
        name = check.__name__.removeprefix("check_")
        try:
            check(template, cfn)
        except Exception as error:
            passed = False
            reason, detail = _summarise(error)
            _emit(f"FAIL {name}: {' '.join(reason.split())[:600]}")
            if verbose and detail:
                _emit("\n".join(f"     | {line}" for line in detail.splitlines()))
        else:
            _emit(f"ok   {name}")
    return passed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("template", nargs="?", type=Path, default=DEFAULT_TEMPLATE)
    parser.add_argument("--verbose", action="store_true", help="show cdk's full mismatch report")
    parser.add_argument("--dump", type=Path, help="also write the translated template (JSON)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    try:
        cfn = translate(args.template)
        template = load_cdk_template(cfn)
    except TemplateError as error:
        sys.stderr.write(f"error: {error}\n")
        return 2
    if args.dump:
        args.dump.write_text(json.dumps(cfn, indent=2) + "\n", encoding="utf-8")

    _emit(f"template {args.template} ({len(cfn.get('Resources', {}))} resources after transform)")
    passed = run_checks(template, cfn, verbose=args.verbose)
    _emit(f"{'all checks passed' if passed else 'some checks FAILED'} ({len(CHECKS)} checks)")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
