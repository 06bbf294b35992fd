from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ragops.entrypoints.api import create_app
from tests.samples import make_docx, make_pdf

GUIDE = (
    b"# Operations guide\n\nPausing the tier destroys the EKS cluster with Terraform.\n\n"
    b"The semantic cache keeps answers in Redis with a time to live.\n"
)


@pytest.fixture
def client(container):
    with TestClient(create_app(container)) as test_client:
        yield test_client


def upload(client, name, data, tenant=None):
    headers = {"X-Tenant-Id": tenant} if tenant else {}
    return client.post("/v1/documents", files={"file": (name, data)}, headers=headers)


def test_health(client):
    assert client.get("/healthz").json()["status"] == "ok"


def test_upload_list_query_delete(client):
    response = upload(client, "ops.md", GUIDE)
    assert response.status_code == 201, response.text
    item = response.json()["results"][0]
    assert item["outcome"] == "created"
    doc_id = item["document"]["doc_id"]

    listed = client.get("/v1/documents").json()["documents"]
    assert [d["doc_id"] for d in listed] == [doc_id]

    answer = client.post("/v1/query", json={"question": "What does pausing the tier do?"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) >= {"answer", "citations", "model", "usage", "latency_ms"}
    assert body["citations"][0]["doc_id"] == doc_id
    assert body["citations"][0]["source"] == "ops.md"
    assert set(body["usage"]) == {"input_tokens", "output_tokens"}

    assert client.delete(f"/v1/documents/{doc_id}").status_code == 204
    assert client.get("/v1/documents").json()["documents"] == []
    missing = client.delete(f"/v1/documents/{doc_id}")
    assert missing.status_code == 404
    assert "not found" in missing.json()["error"]["message"]


def test_reupload_of_same_file_is_unchanged(client):
    upload(client, "ops.md", GUIDE)
    again = upload(client, "ops.md", GUIDE)
    assert again.status_code == 201
    assert again.json()["results"][0]["outcome"] == "unchanged"


@pytest.mark.parametrize(
    ("name", "data", "status", "words"),
    [
        ("corrupt.pdf", b"%PDF-1.4 nonsense", 422, "corrupt PDF"),
        ("empty.txt", b"", 422, "empty"),
        ("binary.txt", bytes(range(256)) * 8, 422, "binary"),
        ("clip.gif", b"GIF89a", 415, "unsupported file type"),
        ("photo.jpg", b"GIF89a", 422, "not a JPEG image"),
    ],
)
def test_bad_file_gets_a_clear_4xx_and_changes_nothing(
    client, container, name, data, status, words
):
    upload(client, "ops.md", GUIDE)
    keys = sorted(container.store.list(""))
    chunks = container.index.count("default")
    response = upload(client, name, data)
    assert response.status_code == status
    message = response.json()["error"]["message"]
    assert name in message and words in message
    assert sorted(container.store.list("")) == keys
    assert container.index.count("default") == chunks


def test_oversize_upload_is_413(container):
    container.settings = container.settings.replaced(max_upload_bytes=100)
    with TestClient(create_app(container)) as client:
        response = upload(client, "big.txt", b"word " * 100)
    assert response.status_code == 413
    assert "over the limit" in response.json()["error"]["message"]
    assert list(container.store.list("")) == []


def test_mixed_upload_reports_each_file(client):
    response = client.post(
        "/v1/documents",
        files=[
            ("file", ("paper.pdf", make_pdf(["Alpha page."], title="Paper"))),
            ("file", ("bad.pdf", b"junk")),
            ("file", ("memo.docx", make_docx(["Memo text."], title="Memo"))),
        ],
    )
    assert response.status_code == 207
    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 422, 201]
    assert results[1]["filename"] == "bad.pdf" and "corrupt PDF" in results[1]["error"]


def test_tenants_are_isolated_over_http(client):
    doc_id = upload(client, "ops.md", GUIDE, tenant="acme").json()["results"][0]["document"][
        "doc_id"
    ]
    assert client.get("/v1/documents", headers={"X-Tenant-Id": "globex"}).json()["documents"] == []
    assert (
        client.delete(f"/v1/documents/{doc_id}", headers={"X-Tenant-Id": "globex"}).status_code
        == 404
    )
    answer = client.post(
        "/v1/query",
        json={"question": "What does pausing the tier do?"},
        headers={"X-Tenant-Id": "globex"},
    ).json()
    assert answer["citations"] == []


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"question": ""},
        {"question": "ok", "top_k": 0},
        {"question": "ok", "top_k": 500},
        {"question": "x" * 5000},
    ],
)
def test_bad_query_is_422_with_a_message(client, body):
    response = client.post("/v1/query", json=body)
    assert response.status_code == 422
    assert response.json()["error"]["message"]


def test_bad_tenant_header_is_400(client):
    response = client.get("/v1/documents", headers={"X-Tenant-Id": "../etc"})
    assert response.status_code == 400
    assert "invalid tenant" in response.json()["error"]["message"]


def test_openapi_lists_the_operations(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/documents", "/v1/documents/{doc_id}", "/v1/query", "/healthz"} <= set(paths)


def test_direct_uploads_are_409_where_the_store_cannot_presign(client, container):
    response = client.post("/v1/uploads", json={"filename": "big.pdf", "size": 10_000_000})
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["type"] == "DirectUploadsUnavailable"
    assert "POST /v1/documents" in error["message"]
    assert list(container.store.list("")) == []


def test_upload_limits_locally_send_every_file_through_the_api(client, container):
    limits = client.get("/v1/uploads/limits").json()
    assert limits["direct_uploads"] is False and limits["direct_upload_above_bytes"] is None
    assert limits["max_file_bytes"] == container.settings.max_upload_bytes
    assert limits["max_request_bytes"] > 20 * limits["max_file_bytes"]


def test_a_body_over_the_configured_limit_is_413_in_words(container):
    container.settings = container.settings.replaced(max_request_body_bytes=1000)
    with TestClient(create_app(container)) as client:
        response = upload(client, "big.txt", b"word " * 300)
    assert response.status_code == 413
    message = response.json()["error"]["message"]
    assert "over the 1,000 the API reads" in message
    assert "/v1/uploads" not in message  # the local folder offers no other way
    assert list(container.store.list("")) == []
