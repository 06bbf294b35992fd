"""Scanned documents, read by Tesseract (Debian's tesseract-ocr, which `make test`
installs): an image and a scanned PDF uploaded through the API, indexed with their pages
and the OCR's confidence as a finding, and answered from; an unreadable one keeps its
clear refusal."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ragops.entrypoints.api import create_app
from tests.samples import image_bytes, render_text_page

pytestmark = pytest.mark.slow

ALETSCH = (
    "The Aletsch Glacier is about 23 kilometres long. It is the largest glacier in the "
    "Alps and flows south from the Jungfrau region."
)
RHONE = "The Rhone Glacier feeds Lake Geneva with meltwater every summer."
CREVASSES = "Crevasses open where the ice flows over a steeper slope."


@pytest.fixture
def client(tmp_path, embedder, chroma_client, chat_model):
    from ragops.bootstrap import build_container
    from ragops.settings import Settings

    settings = Settings(data_dir=tmp_path / "data", min_relevance=0.0, answerability_threshold=0.0)
    container = build_container(
        settings, embedder=embedder, chroma_client=chroma_client, chat_model=chat_model
    )
    with TestClient(create_app(container)) as test_client:
        test_client.container = container
        yield test_client


def _upload(client, name, data):
    response = client.post("/v1/documents", files={"file": (name, data)})
    assert response.status_code == 201, response.text
    return response.json()["results"][0]


def test_an_image_is_read_indexed_and_answered_from(client):
    photo = image_bytes(render_text_page(ALETSCH).convert("RGB"), "JPEG", quality=85)
    result = _upload(client, "aletsch.jpg", photo)
    document = result["document"]
    assert result["outcome"] == "created" and document["status"] == "indexed"
    assert document["content_type"] == "image/jpeg"
    (ocr,) = [f for f in document["quality"] if f["check"] == "ocr"]
    assert ocr["severity"] == "info" and ocr["value"] > 80
    assert "tesseract" in ocr["message"]

    read = client.get(f"/v1/documents/{document['doc_id']}/text").json()["text"]
    assert " ".join(read.split()) == ALETSCH

    answer = client.post("/v1/query", json={"question": "How long is the Aletsch Glacier?"})
    body = answer.json()
    assert "23 kilometres" in body["answer"]
    assert body["citations"][0]["source"] == "aletsch.jpg"


def test_a_scanned_pdf_keeps_its_pages(client):
    pages = [render_text_page(text).convert("RGB") for text in (ALETSCH, RHONE, CREVASSES)]
    # One page scanned sideways: read all the same.
    pages[2] = pages[2].rotate(90, expand=True)
    scan = image_bytes(pages, "PDF", resolution=150)
    document = _upload(client, "atlas-scan.pdf", scan)["document"]
    assert document["status"] == "indexed" and document["pages"] == 3
    answer = client.post("/v1/query", json={"question": "Which lake does the Rhone Glacier feed?"})
    citation = answer.json()["citations"][0]
    assert citation["source"] == "atlas-scan.pdf" and citation["page"] == 2
    assert "Lake Geneva" in answer.json()["answer"]
    crevasses = client.post("/v1/query", json={"question": "Where do crevasses open?"}).json()
    assert crevasses["citations"][0]["page"] == 3
    assert "steeper slope" in crevasses["answer"]


def test_a_multi_page_tiff_is_read_page_by_page(client):
    frames = [render_text_page(text) for text in (RHONE, CREVASSES)]
    document = _upload(client, "field.tiff", image_bytes(frames, "TIFF"))["document"]
    assert document["status"] == "indexed" and document["pages"] == 2


def test_an_image_without_text_keeps_its_clear_refusal(client):
    from PIL import Image

    blank = image_bytes(Image.new("L", (800, 600), 255))
    response = client.post("/v1/documents", files={"file": ("blank.png", blank)})
    assert response.status_code == 422
    assert "OCR found no text" in response.json()["error"]["message"]
    listed = client.get("/v1/documents").json()["documents"]
    assert [(d["source"], d["status"]) for d in listed] == [("blank.png", "failed")]


def test_a_corrupt_image_is_rejected_with_why(client):
    response = client.post(
        "/v1/documents", files={"file": ("photo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)}
    )
    assert response.status_code == 422
    assert "corrupt image" in response.json()["error"]["message"]
    wrong = client.post("/v1/documents", files={"file": ("photo.jpg", b"GIF89a....")})
    assert wrong.status_code == 422
    assert "not a JPEG image" in wrong.json()["error"]["message"]


def test_a_scan_uploaded_while_the_tier_is_paused_is_read_when_it_resumes(client):
    from ragops.services.tier import pause_tier, resume_tier

    container = client.container
    pause_tier(container.tier_state)
    upload = client.post(
        "/v1/documents", files={"file": ("rhone.png", image_bytes(render_text_page(RHONE)))}
    )
    assert upload.status_code == 202, upload.text
    assert upload.json()["results"][0]["document"]["status"] == "pending"
    (result,) = resume_tier(container.tier_state, container.ingest_context())
    assert result.record.status == "indexed"
    assert "ocr" in [f["check"] for f in result.record.quality]
    answer = client.post("/v1/query", json={"question": "Which lake does the Rhone Glacier feed?"})
    assert answer.json()["citations"][0]["source"] == "rhone.png"


def test_the_scanned_page_of_a_text_pdf_is_read_and_answered_from(client):
    from tests.samples import join_pdfs, make_pdf

    mixed = join_pdfs(
        make_pdf(["Moraines are ridges of rock and debris that a glacier leaves behind."]),
        image_bytes(render_text_page(RHONE).convert("RGB"), "PDF", resolution=150),
    )
    document = _upload(client, "atlas-mixed.pdf", mixed)["document"]
    assert document["status"] == "indexed" and document["pages"] == 2
    (ocr,) = [f for f in document["quality"] if f["check"] == "ocr"]
    assert "1 of 2 pages had no text layer" in ocr["message"] and ocr["value"] > 80
    answer = client.post("/v1/query", json={"question": "Which lake does the Rhone Glacier feed?"})
    citation = answer.json()["citations"][0]
    assert citation["source"] == "atlas-mixed.pdf" and citation["page"] == 2
    assert "Lake Geneva" in answer.json()["answer"]
    moraines = client.post("/v1/query", json={"question": "What are moraines?"}).json()
    assert moraines["citations"][0]["page"] == 1


def test_a_word_document_of_a_pasted_scan_is_read_and_answered_from(client):
    import io

    import docx

    document = docx.Document()
    scan = render_text_page(ALETSCH).convert("RGB")
    document.add_picture(io.BytesIO(image_bytes(scan, "JPEG", quality=85)))
    out = io.BytesIO()
    document.save(out)
    result = _upload(client, "aletsch-scan.docx", out.getvalue())["document"]
    assert result["status"] == "indexed"
    (ocr,) = [f for f in result["quality"] if f["check"] == "ocr"]
    assert "1 picture)" in ocr["message"] and ocr["value"] > 80
    answer = client.post("/v1/query", json={"question": "How long is the Aletsch Glacier?"})
    assert answer.json()["citations"][0]["source"] == "aletsch-scan.docx"
    assert "23 kilometres" in answer.json()["answer"]
