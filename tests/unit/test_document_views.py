"""Opening a citation in place: ``GET /v1/documents/{id}/content`` (the original bytes,
Range, the owning tenant only; a presigned redirect on S3) and ``/text`` (the extracted
text the citations' offsets index)."""

from __future__ import annotations

import boto3
import pytest
import requests
from fastapi.testclient import TestClient
from moto import mock_aws

from ragops.adapters.s3 import S3ObjectStore
from ragops.domain.downloads import RangeNotSatisfiable, byte_range, content_disposition_name
from ragops.entrypoints.api import create_app
from ragops.errors import DocumentNotFound
from ragops.services.document_views import document_original
from tests.samples import make_pdf

NOTES = (
    b"# Glaciers\n\nThe Aletsch Glacier is about 23 kilometres long.\n\n"
    b"## Moraines\n\nGlaciers leave moraines behind them as they melt.\n"
)
PAGE = (
    b"<html><body><h1>Notes</h1><p>Crevasses open on steep ice.</p>"
    b"<script>alert(1)</script></body></html>"
)


@pytest.fixture
def client(container):
    with TestClient(create_app(container)) as test_client:
        yield test_client


def _upload(client, name, data, tenant="acme"):
    response = client.post(
        "/v1/documents", files={"file": (name, data)}, headers={"X-Tenant-Id": tenant}
    )
    assert response.status_code == 201, response.text
    return response.json()["results"][0]["document"]["doc_id"]


def test_the_original_is_served_whole_and_by_range_to_its_tenant_only(client):
    doc_id = _upload(client, "notes.md", NOTES)
    acme = {"X-Tenant-Id": "acme"}
    whole = client.get(f"/v1/documents/{doc_id}/content", headers=acme)
    assert whole.status_code == 200 and whole.content == NOTES
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-disposition"].startswith("attachment;")
    assert whole.headers["x-content-type-options"] == "nosniff"

    part = client.get(f"/v1/documents/{doc_id}/content", headers={**acme, "Range": "bytes=2-9"})
    assert part.status_code == 206 and part.content == NOTES[2:10]
    assert part.headers["content-range"] == f"bytes 2-9/{len(NOTES)}"
    tail = client.get(f"/v1/documents/{doc_id}/content", headers={**acme, "Range": "bytes=-5"})
    assert tail.status_code == 206 and tail.content == NOTES[-5:]
    past = client.get(f"/v1/documents/{doc_id}/content", headers={**acme, "Range": "bytes=900-"})
    assert past.status_code == 416
    assert past.headers["content-range"] == f"bytes */{len(NOTES)}"
    assert "900" in past.json()["error"]["message"]

    for other in ({"X-Tenant-Id": "globex"}, {}):
        assert client.get(f"/v1/documents/{doc_id}/content", headers=other).status_code == 404
        assert client.get(f"/v1/documents/{doc_id}/text", headers=other).status_code == 404
    missing = client.get("/v1/documents/0123456789abcdef/content", headers=acme)
    assert missing.status_code == 404 and "not found" in missing.json()["error"]["message"]


def test_a_pdf_is_inline_and_an_html_file_never_runs_as_a_page(client):
    pdf_id = _upload(client, "atlas.pdf", make_pdf(["Moraines are ridges."]))
    html_id = _upload(client, "page.html", PAGE)
    acme = {"X-Tenant-Id": "acme"}
    pdf = client.get(f"/v1/documents/{pdf_id}/content", headers=acme)
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].startswith("inline;")
    html = client.get(f"/v1/documents/{html_id}/content", headers=acme)
    assert html.content == PAGE
    assert html.headers["content-disposition"].startswith("attachment;")
    assert "sandbox" in html.headers["content-security-policy"]


def test_the_text_holds_each_citation_at_its_offsets(client):
    doc_id = _upload(client, "notes.md", NOTES)
    answer = client.post(
        "/v1/query",
        json={"question": "What do glaciers leave behind?"},
        headers={"X-Tenant-Id": "acme"},
    ).json()
    citation = answer["citations"][0]
    viewed = client.get(f"/v1/documents/{doc_id}/text", headers={"X-Tenant-Id": "acme"}).json()
    assert viewed["source"] == "notes.md" and viewed["content_type"] == "text/markdown"
    cited = viewed["text"][citation["start"] : citation["end"]]
    assert "moraines" in cited
    # the citation's text is the chunk's: the passage it cites, at the place it lies
    assert citation["snippet"].strip("\u2026 ")[:30] in " ".join(cited.split())
    sections = [(p["section"], viewed["text"][p["start"] : p["end"]]) for p in viewed["parts"]]
    assert sections[-1][0] == "Moraines" and "moraines behind them" in sections[-1][1]


def test_pdf_text_parts_carry_their_pages(client):
    doc_id = _upload(client, "atlas.pdf", make_pdf(["Moraines are ridges.", "Crevasses open."]))
    viewed = client.get(f"/v1/documents/{doc_id}/text", headers={"X-Tenant-Id": "acme"}).json()
    pages = {p["page"]: viewed["text"][p["start"] : p["end"]] for p in viewed["parts"]}
    assert pages == {1: "Moraines are ridges.", 2: "Crevasses open."}


def test_on_s3_the_original_is_a_short_lived_presigned_url():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="docs")
        store = S3ObjectStore("docs", prefix="ragops", client=client)
        store.put(
            "documents/acme/0123456789abcdef.json",
            b'{"doc_id": "0123456789abcdef", "tenant": "acme", "title": "Atlas", '
            b'"source": "atlas \\u00e9t\\u00e9.pdf", "content_type": "application/pdf", '
            b'"content_hash": "h", "size_bytes": 9, "chunk_count": 1, "pages": 1, '
            b'"embedding_model": "m"}',
        )
        store.put("raw/acme/0123456789abcdef", b"%PDF-1.4\n", "application/pdf")
        original = document_original(store, "acme", "0123456789abcdef", expires_in=60)
        assert original.data is None and "X-Amz-Expires=60" in original.url
        fetched = requests.get(original.url, timeout=10)
        assert fetched.content == b"%PDF-1.4\n"
        assert fetched.headers["content-disposition"].startswith("inline; filename=")
        with pytest.raises(DocumentNotFound):
            document_original(store, "globex", "0123456789abcdef")


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 10, None),
        ("bytes=0-4", 10, (0, 4)),
        ("bytes=5-", 10, (5, 9)),
        ("bytes=-3", 10, (7, 9)),
        ("bytes=-30", 10, (0, 9)),
        ("bytes=8-100", 10, (8, 9)),
        ("bytes=0-1,4-5", 10, None),  # several ranges: the whole file, as RFC 9110 allows
        ("items=0-1", 10, None),
    ],
)
def test_byte_ranges(header, size, expected):
    assert byte_range(header, size) == expected


@pytest.mark.parametrize(
    ("header", "size"), [("bytes=10-", 10), ("bytes=5-2", 10), ("bytes=-0", 10)]
)
def test_unsatisfiable_ranges(header, size):
    with pytest.raises(RangeNotSatisfiable):
        byte_range(header, size)


def test_any_file_name_makes_a_safe_content_disposition():
    assert content_disposition_name('a"b\\c.pdf') == (
        "filename=\"a_b_c.pdf\"; filename*=UTF-8''a%22b%5Cc.pdf"
    )
    assert content_disposition_name("dir/été.md") == (
        "filename=\"_t_.md\"; filename*=UTF-8''%C3%A9t%C3%A9.md"
    )
