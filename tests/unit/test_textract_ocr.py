"""Amazon Textract as the OCR on AWS, under botocore's Stubber (requests checked against
the real service model): the asynchronous text detection for a file in the bucket (the
ingest function's path, multi-page), the synchronous one for bytes, errors; and a scanned
PDF and an image ingested through it and answered from."""

from __future__ import annotations

import io
from datetime import date

import boto3
import pytest
from botocore.stub import Stubber
from pypdf import PdfReader

from ragops.adapters.textract_ocr import TextractRecognizer, job_token
from ragops.errors import DocumentRejected, ModelUnavailable, NoTextExtracted
from ragops.services.answering import answer_question
from ragops.services.ingestion import UploadedFile, ingest_files
from tests.samples import image_bytes, render_text_page

DAY = date(2026, 12, 7)


def _line(text: str, page: int, confidence: float = 99.0) -> dict:
    return {"BlockType": "LINE", "Text": text, "Page": page, "Confidence": confidence}


def _result(status: str, blocks=(), token: str | None = None, pages: int = 2) -> dict:
    response = {
        "JobStatus": status,
        "DocumentMetadata": {"Pages": pages},
        "Blocks": list(blocks),
    }
    if token:
        response["NextToken"] = token
    return response


@pytest.fixture
def textract():
    client = boto3.client("textract", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _recognizer(client, clock=None, **options) -> TextractRecognizer:
    clock = clock or Clock()
    return TextractRecognizer(
        "docs-bucket",
        "ragops/",
        client=client,
        sleep=clock.sleep,
        clock=clock,
        today=lambda: DAY,
        **options,
    )


def _start(stubber, key="ragops/raw/acme/a1a1a1a1a1a1a1a1", job="job-1", data=b""):
    stubber.add_response(
        "start_document_text_detection",
        {"JobId": job},
        {
            "DocumentLocation": {"S3Object": {"Bucket": "docs-bucket", "Name": key}},
            "ClientRequestToken": job_token(key, data, DAY),
        },
    )


def test_a_stored_file_is_read_by_the_asynchronous_job_every_result_page(textract):
    client, stubber = textract
    _start(stubber, data=b"%PDF")
    stubber.add_response(
        "get_document_text_detection",
        _result("IN_PROGRESS"),
        {"JobId": "job-1", "MaxResults": 1000},
    )
    stubber.add_response(
        "get_document_text_detection",
        _result(
            "SUCCEEDED",
            [_line("The Rhone Glacier", 1, 98.0), _line("feeds Lake Geneva.", 1, 96.0)],
            "t2",
        ),
        {"JobId": "job-1", "MaxResults": 1000},
    )
    stubber.add_response(
        "get_document_text_detection",
        _result("SUCCEEDED", [_line("Crevasses open on steep ice.", 2, 90.0)]),
        {"JobId": "job-1", "MaxResults": 1000, "NextToken": "t2"},
    )
    clock = Clock()
    read = _recognizer(client, clock).recognize(
        "atlas.pdf", b"%PDF", "application/pdf", stored_key="raw/acme/a1a1a1a1a1a1a1a1"
    )
    assert read.engine == "textract"
    assert [(p.page, p.text, p.confidence) for p in read.pages] == [
        (1, "The Rhone Glacier\nfeeds Lake Geneva.", 97.0),
        (2, "Crevasses open on steep ice.", 90.0),
    ]
    assert clock.slept == [2.0]  # polled once while in progress


def test_bytes_are_read_by_the_synchronous_call(textract):
    client, stubber = textract
    stubber.add_response(
        "detect_document_text",
        {"DocumentMetadata": {"Pages": 1}, "Blocks": [_line("Moraines are ridges.", 1, 95.5)]},
        {"Document": {"Bytes": b"\x89PNG-bytes"}},
    )
    read = _recognizer(client).recognize("m.png", b"\x89PNG-bytes", "image/png")
    assert [(p.page, p.text) for p in read.pages] == [(1, "Moraines are ridges.")]


def test_a_failed_job_or_an_unreadable_file_is_rejected_with_why(textract):
    client, stubber = textract
    _start(stubber)
    stubber.add_response(
        "get_document_text_detection",
        {"JobStatus": "FAILED", "StatusMessage": "Unsupported document format"},
        {"JobId": "job-1", "MaxResults": 1000},
    )
    with pytest.raises(DocumentRejected, match="Unsupported document format"):
        _recognizer(client).recognize(
            "x.pdf", b"", "application/pdf", stored_key="raw/acme/a1a1a1a1a1a1a1a1"
        )
    stubber.add_client_error(
        "start_document_text_detection", "InvalidS3ObjectException", "Unable to get object", 400
    )
    with pytest.raises(DocumentRejected, match="Unable to get object"):
        _recognizer(client).recognize(
            "x.pdf", b"", "application/pdf", stored_key="raw/acme/a1a1a1a1a1a1a1a1"
        )


def test_throttling_and_a_job_that_never_ends_are_unavailable_not_rejected(textract):
    client, stubber = textract
    stubber.add_client_error(
        "start_document_text_detection", "ProvisionedThroughputExceededException", "slow down", 400
    )
    with pytest.raises(ModelUnavailable, match="slow down"):
        _recognizer(client).recognize(
            "x.pdf", b"", "application/pdf", stored_key="raw/acme/a1a1a1a1a1a1a1a1"
        )
    _start(stubber)
    for _ in range(3):
        stubber.add_response(
            "get_document_text_detection",
            _result("IN_PROGRESS"),
            {"JobId": "job-1", "MaxResults": 1000},
        )
    with pytest.raises(ModelUnavailable, match="did not finish within 4 s"):
        _recognizer(client, max_wait_seconds=4, poll_seconds=2).recognize(
            "x.pdf", b"", "application/pdf", stored_key="raw/acme/a1a1a1a1a1a1a1a1"
        )


def test_a_retry_after_a_job_outlived_its_wait_polls_the_same_job(textract):
    """The queue redelivers the file: the second start request carries the same token, so
    Textract answers with the job already running (the Stubber checks the token)."""
    client, stubber = textract
    scan = b"%PDF-1.7 two hundred scanned pages"
    key = "ragops/raw/acme/a1a1a1a1a1a1a1a1"
    token = job_token(key, scan, DAY)
    assert token == job_token(key, scan, DAY) != job_token(key, scan + b" v2", DAY)
    assert token != job_token(key, scan, date(2026, 12, 8)) and len(token) == 64
    _start(stubber, job="long", data=scan)
    stubber.add_response(
        "get_document_text_detection", _result("IN_PROGRESS"), {"JobId": "long", "MaxResults": 1000}
    )
    with pytest.raises(ModelUnavailable, match="did not finish"):
        _recognizer(client, max_wait_seconds=0).recognize(
            "atlas.pdf", scan, "application/pdf", stored_key="raw/acme/a1a1a1a1a1a1a1a1"
        )
    _start(stubber, job="long", data=scan)  # the same token: the same job
    stubber.add_response(
        "get_document_text_detection",
        _result("SUCCEEDED", [_line("Moraines are ridges of rock.", 1)], pages=1),
        {"JobId": "long", "MaxResults": 1000},
    )
    read = _recognizer(client).recognize(
        "atlas.pdf", scan, "application/pdf", stored_key="raw/acme/a1a1a1a1a1a1a1a1"
    )
    assert read.pages[0].text == "Moraines are ridges of rock."


def test_a_job_without_text_is_no_text(textract):
    client, stubber = textract
    _start(stubber)
    stubber.add_response(
        "get_document_text_detection",
        _result("SUCCEEDED", [{"BlockType": "PAGE", "Page": 1}], pages=1),
        {"JobId": "job-1", "MaxResults": 1000},
    )
    with pytest.raises(NoTextExtracted, match="Textract"):
        _recognizer(client).recognize(
            "x.pdf", b"", "application/pdf", stored_key="raw/acme/a1a1a1a1a1a1a1a1"
        )


@pytest.fixture
def textract_ingest(textract, tmp_path, embedder, chroma_client, chat_model):
    """A local container whose ingestion reads scans with Textract under the Stubber:
    ``(container, ingest context, stubber)``."""
    from dataclasses import replace

    from ragops.bootstrap import build_container
    from ragops.settings import Settings

    client, stubber = textract
    container = build_container(
        Settings(data_dir=tmp_path / "data", min_relevance=0.0, answerability_threshold=0.0),
        embedder=embedder,
        chroma_client=chroma_client,
        chat_model=chat_model,
    )
    ocr = _recognizer(client)
    ocr.prefix = ""  # the local store lays keys out without one
    return container, replace(container.ingest_context(), ocr=ocr), stubber


def test_a_scanned_pdf_and_an_image_are_ingested_through_textract_and_answered_from(
    textract_ingest,
):
    """The ingest function's path: the files are in the store already (an S3 event), so
    the asynchronous job reads them there; pages and the confidence finding are kept."""
    container, ctx, stubber = textract_ingest
    scan = image_bytes([render_text_page("x").convert("RGB")] * 2, "PDF")
    photo = image_bytes(render_text_page("y"))
    for data, doc_id, kind in [
        (scan, "a1a1a1a1a1a1a1a1", "application/pdf"),
        (photo, "b2b2b2b2b2b2b2b2", "image/png"),
    ]:
        ctx.originals.put("acme", doc_id, data, kind)
    _start(stubber, key="raw/acme/a1a1a1a1a1a1a1a1", job="pdf", data=scan)
    stubber.add_response(
        "get_document_text_detection",
        _result(
            "SUCCEEDED",
            [
                _line("Moraines are ridges of rock.", 1, 97.0),
                _line("The Rhone Glacier feeds Lake Geneva with meltwater.", 2, 93.0),
            ],
        ),
        {"JobId": "pdf", "MaxResults": 1000},
    )
    _start(stubber, key="raw/acme/b2b2b2b2b2b2b2b2", job="png", data=photo)
    stubber.add_response(
        "get_document_text_detection",
        _result(
            "SUCCEEDED",
            [_line("Crevasses open where the ice flows over a steep slope.", 1, 88.0)],
            pages=1,
        ),
        {"JobId": "png", "MaxResults": 1000},
    )
    results = ingest_files(
        ctx,
        tenant="acme",
        files=[
            UploadedFile("atlas.pdf", scan, "a1a1a1a1a1a1a1a1", raw_stored=True),
            UploadedFile("moraine.png", photo, "b2b2b2b2b2b2b2b2", raw_stored=True),
        ],
    )
    pdf, png = (r.record for r in results)
    assert (pdf.pages, pdf.content_type, png.pages) == (2, "application/pdf", None)
    (finding,) = [f for f in pdf.quality if f["check"] == "ocr"]
    # the mean over the pages, weighted by their text: (97 x 28 + 93 x 51) / 79 characters
    assert finding["value"] == 94.4 and "textract, 2 pages" in finding["message"]

    answer = answer_question(
        container.answer_context(),
        tenant="acme",
        question="Which lake does the Rhone Glacier feed?",
    )
    assert answer.citations[0].source == "atlas.pdf" and answer.citations[0].page == 2
    assert "Lake Geneva" in answer.answer
    crevasses = answer_question(
        container.answer_context(), tenant="acme", question="Where do crevasses open?"
    )
    assert crevasses.citations[0].source == "moraine.png"


def test_the_scanned_page_of_a_text_pdf_is_read_by_the_synchronous_call(textract_ingest):
    """A PDF with text on page 1 and a scan on page 2, in the bucket: only page 2 goes to
    Textract, as a one-page PDF to the synchronous call (no job for one page), and is
    answered from with its page number."""
    from botocore.stub import ANY

    from tests.samples import join_pdfs, make_pdf

    container, ctx, stubber = textract_ingest
    client = ctx.ocr.client
    mixed = join_pdfs(
        make_pdf(["Moraines are ridges of rock and debris that a glacier leaves behind."]),
        image_bytes(render_text_page("scan").convert("RGB"), "PDF"),
    )
    ctx.originals.put("acme", "a1a1a1a1a1a1a1a1", mixed, "application/pdf")
    sent: list[bytes] = []
    client.meta.events.register(
        "before-parameter-build.textract.DetectDocumentText",
        lambda params, **_: sent.append(params["Document"]["Bytes"]),
    )
    stubber.add_response(
        "detect_document_text",
        {
            "DocumentMetadata": {"Pages": 1},
            "Blocks": [_line("The Rhone Glacier feeds Lake Geneva with meltwater.", 1, 93.0)],
        },
        {"Document": {"Bytes": ANY}},
    )
    (result,) = ingest_files(
        ctx,
        tenant="acme",
        files=[UploadedFile("atlas.pdf", mixed, "a1a1a1a1a1a1a1a1", raw_stored=True)],
    )
    assert result.record.pages == 2
    (finding,) = [f for f in result.record.quality if f["check"] == "ocr"]
    assert "1 of 2 pages had no text layer" in finding["message"] and finding["value"] == 93.0
    (one_page,) = sent
    assert len(PdfReader(io.BytesIO(one_page)).pages) == 1

    answer = answer_question(
        container.answer_context(),
        tenant="acme",
        question="Which lake does the Rhone Glacier feed?",
    )
    assert answer.citations[0].source == "atlas.pdf" and answer.citations[0].page == 2
    assert "Lake Geneva" in answer.answer
