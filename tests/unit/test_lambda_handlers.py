"""Every Lambda handler invoked exactly as Lambda would (``handler(event, context)``) with
the files in ``events/``, under moto (S3, SSM, EKS), with embedded Chroma as the tier and
fake models."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ragops.entrypoints.lambdas import LocalLambdaContext, load_function
from tests.cloud import BUCKET, cloud_container

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
DOC_ID = "4e37d69a5d3cce56"  # the id of glaciers.md, the file in api_upload_document.json


def load_handler(function: str):
    return load_function(ROOT / "functions", function)


def event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def invoke(function: str, name: str):
    return invoke_event(function, event(name))


def invoke_event(function: str, payload: dict):
    return load_handler(function)(payload, LocalLambdaContext(function_name=function))


@pytest.fixture
def cloud(tmp_path, embedder, chat_model, chroma_client, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
    with cloud_container(
        tmp_path, embedder=embedder, chat_model=chat_model, chroma_client=chroma_client
    ) as container:
        yield container


def body(response) -> dict:
    return json.loads(response["body"]) if response["body"] else {}


def statuses(cloud) -> dict[str, str]:
    documents = body(invoke("api", "api_list_documents.json"))["documents"]
    return {d["source"]: d["status"] for d in documents}


def nodes(cloud) -> int:
    group = cloud.eks.describe_nodegroup(
        clusterName="ragops-tier", nodegroupName="ragops-tier-nodes"
    )
    return group["nodegroup"]["scalingConfig"]["desiredSize"]


def test_upload_ingest_query_delete_through_the_handlers(cloud):
    health = invoke("api", "api_health.json")
    assert health["statusCode"] == 200 and body(health)["tier"]["state"] == "active"

    upload = invoke("api", "api_upload_document.json")
    assert upload["statusCode"] == 202, upload["body"]
    assert body(upload)["results"][0]["document"]["doc_id"] == DOC_ID
    assert statuses(cloud) == {"glaciers.md": "pending"}
    keys = {o["Key"] for o in cloud.s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert {f"raw/acme/{DOC_ID}", f"documents/acme/{DOC_ID}.json"} <= keys

    assert invoke("ingest", "s3_object_created_eventbridge_sqs.json") == {"batchItemFailures": []}
    assert statuses(cloud) == {"glaciers.md": "indexed"}
    chunks = cloud.index.count("acme")
    # S3 delivers at least once: the same event again adds nothing.
    assert invoke("ingest", "s3_object_created_eventbridge_sqs.json") == {"batchItemFailures": []}
    assert cloud.index.count("acme") == chunks > 0

    answer = invoke("api", "api_query.json")
    assert answer["statusCode"] == 200, answer["body"]
    assert body(answer)["citations"][0]["source"] == "glaciers.md"

    assert invoke("api", "api_delete_document.json")["statusCode"] == 204
    assert statuses(cloud) == {}
    assert cloud.index.count("acme") == 0
    # Our own delete removed raw/...: its ObjectRemoved event finds nothing left to do.
    assert invoke("ingest", "s3_object_removed_eventbridge_sqs.json") == {"batchItemFailures": []}


def test_an_object_deleted_in_s3_removes_the_document(cloud):
    invoke("api", "api_upload_document.json")
    invoke("ingest", "s3_object_created_eventbridge_sqs.json")
    cloud.s3.delete_object(Bucket=BUCKET, Key=f"raw/acme/{DOC_ID}")
    assert invoke("ingest", "s3_object_removed_eventbridge_sqs.json") == {"batchItemFailures": []}
    assert statuses(cloud) == {}
    assert cloud.index.count("acme") == 0


def test_an_event_without_its_manifest_is_retried(cloud):
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    cloud.s3.put_object(Bucket=BUCKET, Key=f"raw/acme/{DOC_ID}", Body=b"# stray upload\n")
    # Every record of the batch failed: Powertools fails the invocation, so SQS retries
    # the message (and moves it to the dead-letter queue after maxReceiveCount).
    with pytest.raises(BatchProcessingError, match="All records failed"):
        invoke("ingest", "s3_object_created_eventbridge_sqs.json")
    assert statuses(cloud) == {}


def test_maintenance_sequence_through_the_handlers(cloud):
    paused = invoke("scaler", "scaler_pause.json")
    assert paused == {
        "action": "pause",
        "state": "paused",
        "desired_nodes": 0,
        "indexed_pending": 0,
    }
    assert nodes(cloud) == 0
    assert body(invoke("api", "api_health.json"))["status"] == "maintenance"

    assert invoke("api", "api_upload_document.json")["statusCode"] == 202
    assert invoke("ingest", "s3_object_created_eventbridge_sqs.json") == {"batchItemFailures": []}
    assert statuses(cloud) == {"glaciers.md": "pending"}  # waits; not lost, not failed

    query = invoke("api", "api_query.json")
    assert query["statusCode"] == 503
    assert int(query["headers"]["retry-after"]) > 0
    assert body(query)["error"]["type"] == "service_paused"

    resumed = invoke("scaler", "scaler_resume.json")
    assert resumed["state"] == "resuming" and nodes(cloud) == 2
    assert invoke("api", "api_query.json")["statusCode"] == 503

    active = invoke("scaler", "scaler_activate.json")
    assert active["state"] == "active" and active["indexed_pending"] == 1
    assert statuses(cloud) == {"glaciers.md": "indexed"}
    answer = invoke("api", "api_query.json")
    assert answer["statusCode"] == 200
    assert body(answer)["citations"][0]["source"] == "glaciers.md"


def test_scaler_refuses_an_unknown_action(cloud):
    from aws_lambda_powertools.utilities.parser import ValidationError

    with pytest.raises(ValidationError):
        load_handler("scaler")({"action": "explode"}, LocalLambdaContext())


def test_pausing_a_destroyed_cluster_still_declares_the_state(cloud):
    cloud.eks.delete_nodegroup(clusterName="ragops-tier", nodegroupName="ragops-tier-nodes")
    result = invoke("scaler", "scaler_pause.json")
    assert result["state"] == "paused" and result["desired_nodes"] is None


def test_every_event_file_is_invoked_by_a_test():
    sources = "\n".join(p.read_text() for p in Path(__file__).parent.parent.rglob("test_*.py"))
    used = set(re.findall(r'"([a-z0-9_]+\.json)"', sources))
    on_disk = {p.name for p in EVENTS.glob("*.json")}
    assert on_disk and on_disk <= used, sorted(on_disk - used)


def test_on_lambda_the_api_refuses_auth_off_and_serves_api_keys(
    tmp_path, embedder, chat_model, chroma_client, monkeypatch
):
    """Under RAGOPS_AUTH=off the tenant is any X-Tenant-Id a caller sends: the Lambda
    runtime (AWS_LAMBDA_FUNCTION_NAME set) must not serve it. With keys, the key names the
    tenant and the header is ignored."""
    from ragops.errors import ConfigurationError
    from ragops.services.auth import create_api_key

    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "ragops-test-api")
    fakes = {"embedder": embedder, "chat_model": chat_model, "chroma_client": chroma_client}
    with (
        cloud_container(tmp_path / "off", **fakes),
        pytest.raises(ConfigurationError, match="RAGOPS_AUTH=off"),
    ):
        invoke("api", "api_health.json")

    with cloud_container(tmp_path / "keys", auth="api-key", **fakes) as container:
        _, key = create_api_key(container.store, "globex")
        listing = event("api_list_documents.json")
        assert invoke_event("api", listing)["statusCode"] == 401  # no key: no tenant
        listing["headers"]["Authorization"] = f"Bearer {key}"
        listing["multiValueHeaders"]["Authorization"] = [f"Bearer {key}"]
        upload = event("api_upload_document.json")
        upload["headers"]["Authorization"] = f"Bearer {key}"
        upload["multiValueHeaders"]["Authorization"] = [f"Bearer {key}"]
        assert invoke_event("api", upload)["statusCode"] == 202
        # The events say X-Tenant-Id: acme; the key's tenant, globex, is the one served.
        assert body(invoke_event("api", listing))["documents"][0]["source"] == "glaciers.md"
        keys = {o["Key"] for o in container.s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
        assert f"raw/globex/{DOC_ID}" in keys and f"raw/acme/{DOC_ID}" not in keys
