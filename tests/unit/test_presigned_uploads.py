"""Direct uploads (``POST /v1/uploads``): the use case, the S3 adapter's presigned POST, the
bucket event that completes an upload from its intent, and the route.

moto stores whatever a presigned POST sends: it checks neither the signature nor the
policy's conditions (``test_moto_does_not_enforce_post_policies`` keeps that visible).
What S3 would refuse is therefore checked by ``s3_refusals``, which applies S3's documented
POST policy rules (signature V4, expiration, every condition, every form field covered by
one) to the policy the adapter signed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
import requests
from fastapi.testclient import TestClient
from moto import mock_aws

from ragops.adapters.s3 import S3ObjectStore
from ragops.bootstrap import build_container
from ragops.domain import keys
from ragops.domain.models import DocumentStatus, document_id_for
from ragops.entrypoints.api import create_app
from ragops.errors import DocumentRejected, ObjectNotFound, QuotaExceeded
from ragops.ports import PresignsUploads
from ragops.repositories.documents import DocumentCatalogue
from ragops.repositories.uploads import UploadIntents
from ragops.services.ingestion import UploadedFile, index_pending_documents
from ragops.services.object_events import handle_object_event
from ragops.services.uploads import (
    DIRECT_UPLOAD_EXPIRES_SECONDS,
    DirectUploadsUnavailable,
    request_direct_upload,
    upload_documents,
)
from ragops.settings import Settings
from tests.cloud import BUCKET, cloud_container
from tests.fakes import MemoryObjectStore
from tests.samples import make_pdf

ROOT = Path(__file__).resolve().parents[2]
# moto's documented dummy credentials (the secret scan allows this value in tests).
ACCESS_KEY = SECRET_KEY = "testing"
GUIDE = (
    b"# Operations guide\n\nPausing the tier destroys the EKS cluster with Terraform.\n\n"
    b"The semantic cache keeps answers in Redis with a time to live.\n"
)


class PresigningMemoryStore(MemoryObjectStore):
    """The in-memory store with S3's extra ability: it records what it was asked to sign."""

    def __init__(self) -> None:
        super().__init__()
        self.presigned: list[dict] = []

    def presign_upload(self, key, *, content_type, max_bytes, expires_in):
        self.presigned.append(
            {"key": key, "content_type": content_type, "max": max_bytes, "ttl": expires_in}
        )
        return "https://bucket.example/", {"key": key, "Content-Type": content_type}


# -- what S3 checks of a browser's POST ----------------------------------------------------


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def s3_refusals(
    form: dict[str, str], size: int, *, bucket: str, secret: str, now: datetime | None = None
) -> list[str]:
    """Why S3 would refuse a POST of ``form`` (the fields as sent) with a file of ``size``
    bytes, by its documented rules for browser uploads with a POST policy: an empty list
    when it would store it. Field names compare without case, values exactly."""
    problems: list[str] = []
    policy_b64 = form["policy"]
    policy = json.loads(base64.b64decode(policy_b64))
    _, day, region, service, _ = form["x-amz-credential"].split("/")
    signing_key = _hmac(
        _hmac(_hmac(_hmac(f"AWS4{secret}".encode(), day), region), service), "aws4_request"
    )
    expected = hmac.new(signing_key, policy_b64.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, form.get("x-amz-signature", "")):
        problems.append("the signature does not match the policy")
    expiration = datetime.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    if (now or datetime.now(UTC)) >= expiration:
        problems.append("the policy has expired")
    sent = {name.lower(): value for name, value in form.items()} | {"bucket": bucket}
    covered: set[str] = set()
    for condition in policy["conditions"]:
        if isinstance(condition, dict):
            ((name, value),) = condition.items()
            op, name = "eq", name.lower()
        elif condition[0] == "content-length-range":
            low, high = condition[1:]
            if not low <= size <= high:
                problems.append(f"the file's {size} bytes are outside [{low}, {high}]")
            continue
        else:
            op, name, value = condition[0], condition[1].lstrip("$").lower(), condition[2]
        covered.add(name)
        actual = sent.get(name)
        if (op == "eq" and actual != value) or (
            op == "starts-with" and not (actual or "").startswith(value)
        ):
            problems.append(f"{name} {actual!r} does not satisfy {op} {value!r}")
    exempt = {"policy", "x-amz-signature", "file"}
    problems += [
        f"the form field {name} is not in the policy"
        for name in sent
        if name not in covered | exempt and not name.startswith("x-ignore-")
    ]
    return problems


def policy_of(fields: dict[str, str]) -> dict:
    return json.loads(base64.b64decode(fields["policy"]))


# -- the S3 adapter ----------------------------------------------------------------------


@pytest.fixture
def s3_client():
    with mock_aws():
        # us-east-1 with no signature version configured: botocore would presign with SigV2.
        client = boto3.client(
            "s3",
            region_name="us-east-1",
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )
        client.create_bucket(Bucket=BUCKET)
        yield client


def test_the_s3_store_presigns_a_post_for_exactly_one_key_size_and_type(s3_client):
    store = S3ObjectStore(BUCKET, client=s3_client)
    assert isinstance(store, PresignsUploads)
    url, fields = store.presign_upload(
        "raw/acme/0123456789abcdef", content_type="application/pdf", max_bytes=5000, expires_in=900
    )
    assert url.startswith(f"https://{BUCKET}.s3.")
    policy = policy_of(fields)
    conditions = policy["conditions"]
    assert {"bucket": BUCKET} in conditions
    assert {"key": "raw/acme/0123456789abcdef"} in conditions  # exact: no starts-with
    assert ["content-length-range", 1, 5000] in conditions
    assert {"Content-Type": "application/pdf"} in conditions
    assert not [c for c in conditions if isinstance(c, list) and c[0] == "starts-with"]
    # SigV4 (S3 refuses SigV2 for KMS-encrypted objects), signed offline with the client's key.
    assert fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
    assert fields["x-amz-credential"].startswith(f"{ACCESS_KEY}/")
    assert "signature" not in fields and "AWSAccessKeyId" not in fields
    expires = datetime.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert timedelta(seconds=880) < expires - datetime.now(UTC) <= timedelta(seconds=900)
    assert s3_refusals(fields, 5000, bucket=BUCKET, secret=SECRET_KEY) == []


def test_the_store_prefix_is_part_of_the_signed_key(s3_client):
    store = S3ObjectStore(BUCKET, prefix="stage-a", client=s3_client)
    _, fields = store.presign_upload(
        "raw/acme/d1", content_type="text/plain", max_bytes=9, expires_in=60
    )
    assert fields["key"] == "stage-a/raw/acme/d1"
    assert {"key": "stage-a/raw/acme/d1"} in policy_of(fields)["conditions"]


@pytest.mark.parametrize(
    ("change", "size", "refusal"),
    [
        ({}, 5001, "outside [1, 5000]"),
        ({}, 0, "outside [1, 5000]"),
        ({"key": "raw/globex/0123456789abcdef"}, 100, "key 'raw/globex/"),
        ({"key": "raw/acme/other"}, 100, "does not satisfy eq"),
        ({"Content-Type": "text/html"}, 100, "content-type 'text/html'"),
        ({"acl": "public-read"}, 100, "acl is not in the policy"),
    ],
)
def test_s3_refuses_a_post_that_leaves_the_policy(s3_client, change, size, refusal):
    store = S3ObjectStore(BUCKET, client=s3_client)
    _, fields = store.presign_upload(
        "raw/acme/0123456789abcdef", content_type="application/pdf", max_bytes=5000, expires_in=900
    )
    assert s3_refusals(fields, 100, bucket=BUCKET, secret=SECRET_KEY) == []
    problems = s3_refusals({**fields, **change}, size, bucket=BUCKET, secret=SECRET_KEY)
    assert any(refusal in p for p in problems), problems


def test_s3_refuses_an_expired_or_widened_policy(s3_client):
    store = S3ObjectStore(BUCKET, client=s3_client)
    _, fields = store.presign_upload(
        "raw/acme/d1", content_type="text/plain", max_bytes=10, expires_in=60
    )
    later = datetime.now(UTC) + timedelta(seconds=61)
    assert s3_refusals(fields, 5, bucket=BUCKET, secret=SECRET_KEY, now=later) == [
        "the policy has expired"
    ]
    # A client that rewrites the policy (a larger range, any key) breaks the signature.
    policy = policy_of(fields)
    policy["conditions"] = [
        ["content-length-range", 1, 10**10] if isinstance(c, list) else c
        for c in policy["conditions"]
        if c != {"key": "raw/acme/d1"}
    ] + [["starts-with", "$key", "raw/"]]
    widened = {**fields, "policy": base64.b64encode(json.dumps(policy).encode()).decode()}
    assert "the signature does not match the policy" in s3_refusals(
        widened, 10**9, bucket=BUCKET, secret=SECRET_KEY
    )


def test_a_post_matching_the_policy_is_stored_by_moto(s3_client):
    store = S3ObjectStore(BUCKET, client=s3_client)
    url, fields = store.presign_upload(
        "raw/acme/d1", content_type="text/markdown", max_bytes=len(GUIDE), expires_in=60
    )
    response = requests.post(url, data=fields, files={"file": ("guide.md", GUIDE)}, timeout=10)
    assert response.status_code == 204, response.text
    stored = s3_client.get_object(Bucket=BUCKET, Key="raw/acme/d1")
    assert stored["Body"].read() == GUIDE
    assert stored["ContentType"] == "text/markdown"


def test_moto_does_not_enforce_post_policies(s3_client):
    """If this fails, moto checks POST policies now: test the refusals against it."""
    store = S3ObjectStore(BUCKET, client=s3_client)
    url, fields = store.presign_upload(
        "raw/acme/d1", content_type="text/plain", max_bytes=4, expires_in=60
    )
    response = requests.post(
        url, data=fields, files={"file": ("a.txt", b"far too long")}, timeout=10
    )
    assert response.status_code == 204
    assert s3_refusals(fields, 12, bucket=BUCKET, secret=SECRET_KEY)  # S3 would refuse it


# -- the use case ------------------------------------------------------------------------


@pytest.fixture
def presigning(tmp_path, embedder, chroma_client, chat_model):
    """A container whose store presigns (in memory), with real Chroma and fake models."""
    settings = Settings(data_dir=tmp_path / "data", min_relevance=0.1, max_upload_bytes=10_000)
    container = build_container(
        settings,
        store=PresigningMemoryStore(),
        embedder=embedder,
        chroma_client=chroma_client,
        chat_model=chat_model,
    )
    return container


def test_a_direct_upload_records_its_intent_and_presigns_the_tenants_key(presigning):
    ticket = request_direct_upload(
        presigning.upload_context(),
        tenant="acme",
        filename="manuals/guide.md",
        size=len(GUIDE),
        title="  The guide ",
    )
    doc_id = document_id_for("manuals/guide.md")  # as a multipart upload of that name
    assert ticket.doc_id == doc_id and ticket.key == f"raw/acme/{doc_id}"
    assert ticket.content_type == "text/markdown" and ticket.max_bytes == len(GUIDE)
    assert presigning.store.presigned == [
        {
            "key": f"raw/acme/{doc_id}",
            "content_type": "text/markdown",
            "max": len(GUIDE),
            "ttl": 900,
        }
    ]
    intent = UploadIntents(presigning.store).find("acme", doc_id)
    assert intent is not None
    assert (intent.filename, intent.title, intent.size_bytes) == (
        "manuals/guide.md",
        "The guide",
        len(GUIDE),
    )
    assert intent.expires_at == ticket.expires_at
    assert list(presigning.store.objects) == [keys.upload_intent_key("acme", doc_id)]


def test_a_tenant_gets_a_policy_for_its_own_prefix_only(presigning):
    ctx = presigning.upload_context()
    for name in ("../globex/guide.md", "raw/globex/guide.md", "/abs/guide.md"):
        ticket = request_direct_upload(ctx, tenant="acme", filename=name, size=10)
        assert ticket.key == f"raw/acme/{ticket.doc_id}"
        assert "/" not in ticket.doc_id and ".." not in ticket.doc_id
    theirs = request_direct_upload(ctx, tenant="globex", filename="guide.md", size=10)
    ours = request_direct_upload(ctx, tenant="acme", filename="guide.md", size=10)
    assert theirs.doc_id == ours.doc_id and theirs.key != ours.key
    assert {p["key"].split("/")[1] for p in presigning.store.presigned} == {"acme", "globex"}


@pytest.mark.parametrize(
    ("filename", "size", "content_type", "status", "words"),
    [
        ("", 10, None, 422, "no name"),
        ("clip.gif", 10, None, 415, "unsupported file type '.gif'"),
        ("notes", 10, None, 415, "(no extension)"),
        ("paper.pdf", 10, "text/html", 415, "not that of a .pdf file"),
        ("big.pdf", 10_001, None, 413, "over the limit of 10,000 bytes"),
        ("empty.txt", 0, None, 422, "empty"),
    ],
)
def test_a_file_that_cannot_be_taken_is_refused_before_anything_is_signed(
    presigning, filename, size, content_type, status, words
):
    with pytest.raises(DocumentRejected) as refused:
        request_direct_upload(
            presigning.upload_context(),
            tenant="acme",
            filename=filename,
            size=size,
            content_type=content_type,
        )
    assert refused.value.status == status
    assert words in str(refused.value)
    assert presigning.store.presigned == [] and presigning.store.objects == {}


def test_a_declared_type_matching_the_extension_is_taken(presigning):
    ticket = request_direct_upload(
        presigning.upload_context(),
        tenant="acme",
        filename="Paper.PDF",
        size=10,
        content_type="application/pdf; charset=binary",
    )
    assert ticket.content_type == "application/pdf"


def test_the_quota_is_checked_with_the_declared_size(presigning):
    presigning.settings = presigning.settings.replaced(max_stored_bytes_per_tenant=1000)
    ctx = presigning.upload_context()
    with pytest.raises(QuotaExceeded, match="may store 1,000 bytes"):
        request_direct_upload(ctx, tenant="acme", filename="big.md", size=1001)
    assert presigning.store.objects == {} and presigning.store.presigned == []
    assert request_direct_upload(ctx, tenant="acme", filename="ok.md", size=1000).doc_id


def test_granted_uploads_not_yet_arrived_hold_their_share_of_the_quota(presigning):
    presigning.settings = presigning.settings.replaced(
        max_documents_per_tenant=2, max_stored_bytes_per_tenant=1000
    )
    ctx = presigning.upload_context()
    granted = datetime.now(UTC)  # the upload endpoint below reads the clock
    request_direct_upload(ctx, tenant="acme", filename="a.md", size=600, now=granted)
    # Each alone is within the quota; together with the first they are not.
    with pytest.raises(
        QuotaExceeded, match=r"would make 1,100 \(counting 1 direct upload not yet arrived\)"
    ):
        request_direct_upload(ctx, tenant="acme", filename="b.md", size=500, now=granted)
    request_direct_upload(ctx, tenant="acme", filename="b.md", size=400, now=granted)
    with pytest.raises(QuotaExceeded, match="may hold 2 documents; this upload would make 3"):
        request_direct_upload(ctx, tenant="acme", filename="c.md", size=1, now=granted)
    # Asking again for a granted document replaces its grant, at its new size.
    request_direct_upload(ctx, tenant="acme", filename="a.md", size=100, now=granted)
    # The upload endpoint's path counts them too.
    with pytest.raises(QuotaExceeded, match="counting 2 direct uploads not yet arrived"):
        upload_documents(ctx, tenant="acme", files=[UploadedFile("c.md", b"# C\n\nc")])
    # Another tenant's grants are not this one's.
    request_direct_upload(ctx, tenant="globex", filename="c.md", size=900, now=granted)
    # Once expired, a grant whose file never came holds nothing.
    later = granted + timedelta(seconds=DIRECT_UPLOAD_EXPIRES_SECONDS + 1)
    request_direct_upload(ctx, tenant="acme", filename="c.md", size=900, now=later)


def test_a_store_that_cannot_presign_says_so(container):
    with pytest.raises(DirectUploadsUnavailable, match="POST /v1/documents"):
        request_direct_upload(container.upload_context(), tenant="acme", filename="a.md", size=5)


# -- the bucket event completes the upload -------------------------------------------------


def arrive(container, ticket, data: bytes) -> None:
    """The browser's POST: the bytes land under the presigned key (no API code runs)."""
    container.store.put(ticket.key, data, ticket.content_type)


def event(container, ticket, *, usable: bool = True) -> str:
    return handle_object_event(
        container.ingest_context(), key=ticket.key, removed=False, tier_usable=usable
    )


def test_the_event_indexes_a_file_that_has_only_its_intent(presigning):
    ticket = request_direct_upload(
        presigning.upload_context(), tenant="acme", filename="ops.md", size=len(GUIDE), title="Ops"
    )
    arrive(presigning, ticket, GUIDE)
    assert event(presigning, ticket) == "created"
    record = DocumentCatalogue(presigning.store).get("acme", ticket.doc_id)
    assert (record.status, record.source, record.title) == (DocumentStatus.INDEXED, "ops.md", "Ops")
    assert record.chunk_count > 0 and record.size_bytes == len(GUIDE)
    assert presigning.index.count("acme") == record.chunk_count
    assert UploadIntents(presigning.store).find("acme", ticket.doc_id) is None
    # S3 delivers at least once: the same event again changes nothing.
    assert event(presigning, ticket) == "unchanged"
    assert presigning.index.count("acme") == record.chunk_count


def test_while_paused_the_file_waits_as_pending_and_is_indexed_on_resume(presigning):
    ticket = request_direct_upload(
        presigning.upload_context(), tenant="acme", filename="ops.md", size=len(GUIDE)
    )
    arrive(presigning, ticket, GUIDE)
    assert event(presigning, ticket, usable=False) == "pending"
    record = DocumentCatalogue(presigning.store).get("acme", ticket.doc_id)
    assert record.status is DocumentStatus.PENDING and "resumes" in (record.status_reason or "")
    assert record.title == "Operations guide"  # the document's own title, parsed
    assert UploadIntents(presigning.store).find("acme", ticket.doc_id) is None
    assert presigning.index.count("acme") == 0
    index_pending_documents(presigning.ingest_context())
    assert (
        DocumentCatalogue(presigning.store).get("acme", ticket.doc_id).status
        is DocumentStatus.INDEXED
    )


def test_a_file_that_cannot_be_read_is_listed_as_failed_with_the_reason(presigning):
    ticket = request_direct_upload(
        presigning.upload_context(), tenant="acme", filename="paper.pdf", size=17
    )
    arrive(presigning, ticket, b"%PDF-1.4 nonsense")
    assert event(presigning, ticket) == "failed"
    record = DocumentCatalogue(presigning.store).get("acme", ticket.doc_id)
    assert record.status is DocumentStatus.FAILED and "corrupt PDF" in (record.status_reason or "")
    assert (record.source, record.content_type) == ("paper.pdf", "application/pdf")
    assert UploadIntents(presigning.store).find("acme", ticket.doc_id) is None
    assert presigning.index.count("acme") == 0


def test_a_direct_upload_replaces_an_indexed_document(presigning):
    first = make_pdf(["Glaciers carve valleys."], title="Glaciers")
    second = make_pdf(["Glaciers retreat as the climate warms."], title="Glaciers")
    ctx = presigning.upload_context()
    for data, outcome in ((first, "created"), (second, "updated")):
        ticket = request_direct_upload(ctx, tenant="acme", filename="g.pdf", size=len(data))
        arrive(presigning, ticket, data)
        assert event(presigning, ticket) == outcome
    record = DocumentCatalogue(presigning.store).get("acme", ticket.doc_id)
    assert record.content_hash == hashlib.sha256(second).hexdigest()
    assert presigning.index.count("acme") == record.chunk_count  # the old chunks are gone


def test_an_intent_for_bytes_that_came_another_way_is_dropped(presigning):
    ctx = presigning.upload_context()
    ticket = request_direct_upload(ctx, tenant="acme", filename="ops.md", size=len(GUIDE))
    upload_documents(ctx, tenant="acme", files=[UploadedFile("ops.md", GUIDE)])
    assert event(presigning, ticket) == "unchanged"
    assert UploadIntents(presigning.store).find("acme", ticket.doc_id) is None


def test_a_raw_object_with_neither_intent_nor_manifest_is_still_retried(presigning):
    presigning.store.put("raw/acme/0123456789abcdef", GUIDE)
    with pytest.raises(ObjectNotFound):
        handle_object_event(
            presigning.ingest_context(),
            key="raw/acme/0123456789abcdef",
            removed=False,
            tier_usable=True,
        )


# -- over HTTP, against moto's S3 ----------------------------------------------------------


@pytest.fixture
def cloud_api(tmp_path, embedder, chat_model, chroma_client):
    with (
        cloud_container(
            tmp_path, embedder=embedder, chat_model=chat_model, chroma_client=chroma_client
        ) as container,
        TestClient(create_app(container)) as client,
    ):
        client.container = container
        yield client


def test_upload_through_the_presigned_post_then_poll_the_document(cloud_api):
    acme = {"X-Tenant-Id": "acme"}
    limits = cloud_api.get("/v1/uploads/limits", headers=acme).json()
    assert limits["direct_uploads"] is True
    assert limits["direct_upload_above_bytes"] < limits["max_request_bytes"] < 4_700_000

    response = cloud_api.post(
        "/v1/uploads",
        json={"filename": "ops.md", "size": len(GUIDE), "title": "Ops"},
        headers=acme,
    )
    assert response.status_code == 201, response.text
    ticket = response.json()
    assert ticket["key"] == f"raw/acme/{ticket['doc_id']}"
    assert ticket["poll"] == f"/v1/documents/{ticket['doc_id']}"
    assert ticket["fields"]["key"] == ticket["key"]
    assert cloud_api.get(ticket["poll"], headers=acme).status_code == 404  # not yet

    posted = requests.post(
        ticket["url"], data=ticket["fields"], files={"file": ("ops.md", GUIDE)}, timeout=10
    )
    assert posted.status_code == 204
    container = cloud_api.container
    outcome = handle_object_event(
        container.ingest_context(), key=ticket["key"], removed=False, tier_usable=True
    )
    assert outcome == "created"
    document = cloud_api.get(ticket["poll"], headers=acme).json()
    assert (document["status"], document["title"], document["source"]) == (
        "indexed",
        "Ops",
        "ops.md",
    )
    assert cloud_api.get(ticket["poll"], headers={"X-Tenant-Id": "globex"}).status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"filename": "x.exe", "size": 10}, 415, "unsupported file type"),
        ({"filename": "x.pdf", "size": 30 * 1024 * 1024}, 413, "over the limit"),
        ({"filename": "x.pdf", "size": 0}, 422, "size"),
        ({"filename": "x.pdf"}, 422, "size"),
        ({"filename": "x.pdf", "size": 5, "tenant": "globex"}, 422, "tenant"),
    ],
)
def test_the_route_refuses_in_words(cloud_api, body, status, words):
    response = cloud_api.post("/v1/uploads", json=body, headers={"X-Tenant-Id": "acme"})
    assert response.status_code == status, response.text
    assert words in response.json()["error"]["message"]
    assert list(cloud_api.container.store.list(keys.UPLOADS)) == []


def test_a_multipart_body_over_the_lambda_limit_is_413_naming_the_presigned_route(cloud_api):
    from ragops.entrypoints.api.routers.uploads import LAMBDA_REQUEST_BODY_BYTES

    assert 4_500_000 < LAMBDA_REQUEST_BODY_BYTES < 4_718_592  # 6 MB base64-decoded, less the event
    big = b"x" * (LAMBDA_REQUEST_BODY_BYTES + 1)
    response = cloud_api.post(
        "/v1/documents", files={"file": ("big.txt", big)}, headers={"X-Tenant-Id": "acme"}
    )
    assert response.status_code == 413
    message = response.json()["error"]["message"]
    assert "POST /v1/uploads" in message and f"{LAMBDA_REQUEST_BODY_BYTES:,}" in message
    assert list(cloud_api.container.store.list("")) == []
    small = cloud_api.post(
        "/v1/documents", files={"file": ("ops.md", GUIDE)}, headers={"X-Tenant-Id": "acme"}
    )
    assert small.status_code == 202, small.text


def test_on_lambda_a_body_without_content_length_is_measured_from_the_event(cloud_api):
    from mangum import Mangum

    from ragops.entrypoints.api.routers.uploads import LAMBDA_REQUEST_BODY_BYTES
    from ragops.entrypoints.lambdas import LocalLambdaContext

    lambda_event = json.loads((ROOT / "events" / "api_upload_document.json").read_text())
    for headers in ("headers", "multiValueHeaders"):
        lambda_event[headers] = {
            k: v for k, v in lambda_event[headers].items() if k.lower() != "content-length"
        }
    raw = b"x" * (LAMBDA_REQUEST_BODY_BYTES + 3)
    lambda_event["body"] = base64.b64encode(raw).decode()
    handler = Mangum(create_app(cloud_api.container), lifespan="off")
    response = handler(lambda_event, LocalLambdaContext())
    assert response["statusCode"] == 413
    assert "POST /v1/uploads" in json.loads(response["body"])["error"]["message"]


@pytest.mark.parametrize(
    ("region", "host"),
    [
        ("eu-west-1", "ragops-docs.s3.eu-west-1.amazonaws.com"),
        ("ap-southeast-2", "ragops-docs.s3.ap-southeast-2.amazonaws.com"),
        ("us-east-1", "ragops-docs.s3.amazonaws.com"),
    ],
)
def test_the_presigned_post_goes_to_the_buckets_own_region(region, host, monkeypatch):
    """A browser posts the form cross-origin: a global-endpoint URL, which S3 answers with a
    307 for a new bucket outside us-east-1, would fail there. Signed offline, no request."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    store = S3ObjectStore("ragops-docs", region=region)
    url, fields = store.presign_upload(
        "raw/acme/d1", content_type="application/pdf", max_bytes=10, expires_in=60
    )
    assert url == f"https://{host}/"
    assert fields["key"] == "raw/acme/d1"
    # With an endpoint override (moto, LocalStack) buckets are served by path instead.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")
    url, _ = S3ObjectStore("ragops-docs", region=region).presign_upload(
        "raw/acme/d1", content_type="application/pdf", max_bytes=10, expires_in=60
    )
    assert url == "http://127.0.0.1:5000/ragops-docs"
