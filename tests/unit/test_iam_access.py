"""Each Lambda function's role in ``template.yaml`` allows every S3 call the function makes.

The functions run their real handlers with the files in ``events/`` under moto, one tenant
new to the bucket, and every S3 call they make is recorded (operation, key or prefix). Each
recorded key must belong to a layout of ``ragops.domain.keys``, and the function's role, as
the template declares it, must allow the call: ``s3:GetObject``/``PutObject``/``DeleteObject``
on the key's ARN, ``s3:ListBucket`` on the bucket for a listed prefix, and, for every read,
``s3:ListBucket`` for the key's prefix too, since S3 answers 403 instead of 404 for a missing
key to a caller that may not list it (the first document of a new tenant reads a duplicate
index that does not exist yet; an unknown API key reads a record that does not exist).
"""

from __future__ import annotations

import copy
import fnmatch
import json
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from ragops.domain import keys
from ragops.entrypoints.lambdas import LocalLambdaContext, load_function
from ragops.services.auth import create_api_key
from tests.cloud import BUCKET, cloud_container

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
FUNCTIONS = {"api": "ApiFunction", "ingest": "IngestFunction", "scaler": "ScalerFunction"}
READS = {"GetObject", "HeadObject"}
OBJECT_ACTIONS = {
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "PutObject": "s3:PutObject",
    "DeleteObject": "s3:DeleteObject",
}


# -- the template's roles -----------------------------------------------------------------


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags kept as ``{"!Tag": value}``."""


def _tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {f"!{suffix}": value}


_CfnLoader.add_multi_constructor("!", _tagged)


def _text(value: Any) -> str:
    """A resource ARN with the bucket and partition substituted."""
    if isinstance(value, dict):
        (value,) = value.values()
    return str(value).replace("${AWS::Partition}", "aws").replace("${DocumentsBucketName}", BUCKET)


def _statements(policy: Any) -> list[dict[str, Any]]:
    """The statements of one ``Policies`` item, both branches of an ``!If`` included."""
    if isinstance(policy, dict) and "!If" in policy:
        return [s for branch in policy["!If"][1:] for s in _statements(branch)]
    if isinstance(policy, dict) and "Statement" in policy:
        return list(policy["Statement"])
    return []


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


class Role:
    """The S3 permissions of one function's inline policies (allow statements only)."""

    def __init__(self, function: str, template: dict[str, Any]) -> None:
        properties = template["Resources"][function]["Properties"]
        self.statements = [
            s
            for policy in properties.get("Policies", [])
            for s in _statements(policy)
            if s.get("Effect") == "Allow"
        ]

    def allows(self, action: str, resource: str, prefix: str | None = None) -> bool:
        for statement in self.statements:
            if action not in _as_list(statement["Action"]):
                continue
            resources = [_text(r) for r in _as_list(statement["Resource"])]
            if not any(fnmatch.fnmatchcase(resource, r) for r in resources):
                continue
            patterns = statement.get("Condition", {}).get("StringLike", {}).get("s3:prefix")
            if patterns is None or (
                prefix is not None and any(fnmatch.fnmatchcase(prefix, p) for p in patterns)
            ):
                return True
        return False


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return yaml.load((ROOT / "template.yaml").read_text(), Loader=_CfnLoader)


def problems(role: Role, calls: set[tuple[str, str]]) -> list[str]:
    """What ``role`` does not allow of ``calls`` (operation, key or prefix)."""
    found = []
    for operation, key in sorted(calls):
        if keys.layout_of(key) is None:
            found.append(f"{operation} {key}: no layout of ragops.domain.keys holds it")
        if operation == "ListObjectsV2":
            if not role.allows("s3:ListBucket", f"arn:aws:s3:::{BUCKET}", key):
                found.append(f"{operation} {key}: needs s3:ListBucket for the prefix")
            continue
        action = OBJECT_ACTIONS[operation]
        if not role.allows(action, f"arn:aws:s3:::{BUCKET}/{key}"):
            found.append(f"{operation} {key}: needs {action}")
        if operation in READS and not role.allows("s3:ListBucket", f"arn:aws:s3:::{BUCKET}", key):
            found.append(f"{operation} {key}: needs s3:ListBucket for its prefix (403 if missing)")
    return found


# -- the functions, recorded --------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.function = ""
        self.calls: dict[str, set[tuple[str, str]]] = {name: set() for name in FUNCTIONS}

    def __call__(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name == "CreateBucket":
            # botocore builds a presigned POST's URL with CreateBucket's model; nothing is
            # sent (``direct_upload`` records the upload the POST allows instead).
            return
        if self.function and params.get("Bucket") == BUCKET:
            where = params.get("Key", params.get("Prefix", ""))
            self.calls[self.function].add((model.name, where))


@pytest.fixture
def cloud(tmp_path, embedder, chat_model, chroma_client, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
    with cloud_container(
        tmp_path,
        embedder=embedder,
        chat_model=chat_model,
        chroma_client=chroma_client,
        auth="api-key",
    ) as container:
        recorder = Recorder()
        container.s3.meta.events.register("before-parameter-build.s3.*", recorder)
        container.recorder = recorder
        yield container


def invoke(cloud, function: str, name: str, *, key: str | None = None, **changes: Any):
    event = json.loads((EVENTS / name).read_text())
    event.update(changes)
    if key is not None:
        event = copy.deepcopy(event)
        event["headers"]["Authorization"] = f"Bearer {key}"
        event["multiValueHeaders"]["Authorization"] = [f"Bearer {key}"]
    cloud.recorder.function = function
    try:
        handler = load_function(ROOT / "functions", function)
        return handler(event, LocalLambdaContext(function_name=function))
    finally:
        cloud.recorder.function = ""


def _body(response: dict[str, Any]) -> dict[str, Any]:
    return json.loads(response["body"]) if response.get("body") else {}


def direct_upload(cloud, key: str, filename: str, data: bytes) -> str:
    """A file too large for the API, through the real handlers: ``POST /v1/uploads`` (API),
    the browser's POST straight to the bucket, then the bucket's event (ingest). Returns
    the document id. The presigned POST acts with the API role's permissions, so its key
    counts as the API function's ``PutObject``."""
    asked = invoke(
        cloud,
        "api",
        "api_query.json",
        key=key,
        path="/v1/uploads",
        pathParameters={"proxy": "v1/uploads"},
        body=json.dumps({"filename": filename, "size": len(data)}),
    )
    assert asked["statusCode"] == 201, asked["body"]
    ticket = _body(asked)
    cloud.recorder.calls["api"].add(("PutObject", ticket["key"]))
    posted = requests.post(
        ticket["url"], data=ticket["fields"], files={"file": (filename, data)}, timeout=10
    )
    assert posted.status_code == 204, posted.text
    event = json.loads((EVENTS / "s3_object_created_eventbridge_sqs.json").read_text())
    message = json.loads(event["Records"][0]["body"])
    message["detail"]["object"]["key"] = ticket["key"]
    message["detail"]["object"]["size"] = len(data)
    event["Records"][0]["body"] = json.dumps(message)
    cloud.recorder.function = "ingest"
    try:
        handler = load_function(ROOT / "functions", "ingest")
        assert handler(event, LocalLambdaContext(function_name="ingest")) == {
            "batchItemFailures": []
        }
    finally:
        cloud.recorder.function = ""
    return ticket["doc_id"]


def test_every_s3_call_of_every_function_is_allowed_by_its_role(cloud, template):
    _, key = create_api_key(cloud.store, "acme", "test")  # the operator's `ragops keys create`
    unknown = "rgk" + "0" * 16 + "A" * 43
    assert invoke(cloud, "api", "api_query.json", key=unknown)["statusCode"] == 401

    assert invoke(cloud, "api", "api_health.json", key=key)["statusCode"] == 200
    # A tenant new to the bucket: no duplicate index, no documents, no answers yet.
    assert invoke(cloud, "api", "api_upload_document.json", key=key)["statusCode"] == 202
    ingested = invoke(cloud, "ingest", "s3_object_created_eventbridge_sqs.json")
    assert ingested == {"batchItemFailures": []}
    assert invoke(cloud, "api", "api_list_documents.json", key=key)["statusCode"] == 200
    # A file too large for the API goes straight to the bucket (POST /v1/uploads).
    doc_id = direct_upload(cloud, key, "moraines.md", b"# Moraines\n\nGlaciers leave moraines.\n")
    shown = invoke(
        cloud,
        "api",
        "api_list_documents.json",
        key=key,
        path=f"/v1/documents/{doc_id}",
        pathParameters={"proxy": f"v1/documents/{doc_id}"},
    )
    assert _body(shown)["status"] == "indexed", shown["body"]
    answer = invoke(cloud, "api", "api_query.json", key=key)
    assert answer["statusCode"] == 200, answer["body"]
    # A follow-up in the answer's conversation, then the conversation listed, shown, deleted.
    conversation_id = _body(answer)["conversation_id"]
    follow_up = {"question": "How long is it?", "conversation_id": conversation_id}
    followed = invoke(cloud, "api", "api_query.json", key=key, body=json.dumps(follow_up))
    assert followed["statusCode"] == 200, followed["body"]
    for method, path, status in [
        ("GET", "/v1/conversations", 200),
        ("GET", f"/v1/conversations/{conversation_id}", 200),
        ("DELETE", f"/v1/conversations/{conversation_id}", 204),
    ]:
        shown = invoke(
            cloud,
            "api",
            "api_list_documents.json",
            key=key,
            httpMethod=method,
            path=path,
            pathParameters={"proxy": path[1:]},
        )
        assert shown["statusCode"] == status, shown["body"]
    vote = {"answer_id": _body(answer)["answer_id"], "rating": "up"}
    feedback = invoke(
        cloud,
        "api",
        "api_query.json",
        key=key,
        path="/v1/feedback",
        pathParameters={"proxy": "v1/feedback"},
        body=json.dumps(vote),
    )
    assert feedback["statusCode"] == 201, feedback["body"]
    summary = invoke(
        cloud,
        "api",
        "api_health.json",
        key=key,
        path="/v1/ops/summary",
        pathParameters={"proxy": "v1/ops/summary"},
    )
    assert summary["statusCode"] == 200, summary["body"]
    assert invoke(cloud, "scaler", "scaler_pause.json")["state"] == "paused"
    assert invoke(cloud, "scaler", "scaler_resume.json")["state"] == "resuming"
    assert invoke(cloud, "scaler", "scaler_activate.json")["state"] == "active"
    assert invoke(cloud, "api", "api_delete_document.json", key=key)["statusCode"] == 204
    removed = invoke(cloud, "ingest", "s3_object_removed_eventbridge_sqs.json")
    assert removed == {"batchItemFailures": []}

    calls = cloud.recorder.calls
    # The scenario reached every layout a function uses (eval/ is the CLI's alone).
    touched = {keys.layout_of(k) for function in calls.values() for _, k in function}
    assert {layout.prefix for layout in touched if layout} == {
        layout.prefix for layout in keys.LAYOUTS if layout.prefix != keys.EVAL
    }
    found = {name: problems(Role(FUNCTIONS[name], template), calls[name]) for name in FUNCTIONS}
    assert found == {name: [] for name in FUNCTIONS}


def test_a_role_without_the_listing_is_caught(template):
    """The check itself: the ingest role as it was before ``quality/`` could be listed."""
    before = copy.deepcopy(template)
    for policy in before["Resources"]["IngestFunction"]["Properties"]["Policies"]:
        for statement in _statements(policy):
            like = statement.get("Condition", {}).get("StringLike", {})
            if "s3:prefix" in like:
                like["s3:prefix"] = [p for p in like["s3:prefix"] if p != "quality/*"]
    read = {("GetObject", "quality/acme/duplicates.json")}
    assert problems(Role("IngestFunction", template), read) == []
    assert problems(Role("IngestFunction", before), read) == [
        "GetObject quality/acme/duplicates.json: needs s3:ListBucket for its prefix "
        "(403 if missing)"
    ]
    assert problems(Role("ApiFunction", template), {("PutObject", "stray/x.json")}) == [
        "PutObject stray/x.json: no layout of ragops.domain.keys holds it",
        "PutObject stray/x.json: needs s3:PutObject",
    ]


def test_the_direct_upload_grants_are_each_needed(template):
    """Without its upload-intent statements (or the listing of uploads/), each role fails
    what the direct-upload path makes it do."""
    intent = "uploads/acme/0123456789abcdef.json"
    api = {("PutObject", intent), ("PutObject", "raw/acme/0123456789abcdef")}
    ingest = {("GetObject", intent), ("DeleteObject", intent)}
    assert problems(Role("ApiFunction", template), api) == []
    assert problems(Role("IngestFunction", template), ingest) == []
    before = copy.deepcopy(template)
    for function in ("ApiFunction", "IngestFunction"):
        for policy in before["Resources"][function]["Properties"]["Policies"]:
            if isinstance(policy, dict) and "Statement" in policy:
                policy["Statement"] = [
                    s
                    for s in policy["Statement"]
                    if not s.get("Sid", "").startswith("UploadIntents")
                ]
            for statement in _statements(policy):
                like = statement.get("Condition", {}).get("StringLike", {})
                if "s3:prefix" in like:
                    like["s3:prefix"] = [p for p in like["s3:prefix"] if p != "uploads/*"]
    assert problems(Role("ApiFunction", before), api) == [f"PutObject {intent}: needs s3:PutObject"]
    assert problems(Role("IngestFunction", before), ingest) == [
        f"DeleteObject {intent}: needs s3:DeleteObject",
        f"GetObject {intent}: needs s3:GetObject",
        f"GetObject {intent}: needs s3:ListBucket for its prefix (403 if missing)",
    ]
