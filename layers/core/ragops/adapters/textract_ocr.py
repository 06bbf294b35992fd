"""OCR with Amazon Textract, from the ingest function: the asynchronous text-detection API
(``StartDocumentTextDetection``, then ``GetDocumentTextDetection`` until the job is done,
every page of results) for a file already in the bucket, which is what a multi-page PDF
or TIFF needs; the synchronous ``DetectDocumentText`` for one image given as bytes.

Textract reads the object with the caller's permissions (the ingest role's
``s3:GetObject`` on ``raw/*`` and the bucket key), and its job results stay available for
7 days; nothing else is stored. Errors: a document Textract cannot read is rejected with
its words (``DocumentRejected``); throttling, a service fault or a job that does not end
within ``max_wait_seconds`` is ``ModelUnavailable`` (the queue redelivers the event).

A job that outlives one invocation is not started again by the next: the start request
carries a ``ClientRequestToken`` made of the object's key, a digest of its bytes and the
day, and Textract answers the same token with the same job, so the retry polls the job
already running (a token per day keeps a retry from meeting a job whose results have
expired, after 7 days).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from ragops.domain.models import RecognizedPage, RecognizedText
from ragops.errors import DocumentRejected, ModelUnavailable, NoTextExtracted

logger = logging.getLogger(__name__)

SYNC_MAX_BYTES = 10 * 1024 * 1024
"""DetectDocumentText takes at most 10 MB of bytes; larger files go through the bucket."""
_REJECTING = {
    "InvalidParameterException",
    "InvalidS3ObjectException",
    "UnsupportedDocumentException",
    "BadDocumentException",
    "DocumentTooLargeException",
}


def job_token(key: str, data: bytes, day: date) -> str:
    """The start request's idempotency token for the object at ``key`` holding ``data``,
    on ``day`` (64 characters of ``[0-9a-f]``, within Textract's pattern and length)."""
    digest = hashlib.sha256(data).hexdigest()
    return hashlib.sha256(f"{key}\n{digest}\n{day.isoformat()}".encode()).hexdigest()


def _today() -> date:
    return datetime.now(UTC).date()


class TextractRecognizer:
    """The ``TextRecognizer`` port with Textract. ``bucket`` and ``prefix`` are the object
    store's (a stored key is ``prefix + key`` in ``bucket``)."""

    engine = "textract"
    reads_stored_files = True

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        client: Any | None = None,
        region: str | None = None,
        poll_seconds: float = 2.0,
        max_wait_seconds: float = 600.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        today: Callable[[], date] = _today,
    ) -> None:
        self.bucket = bucket
        # As the S3 object store lays keys out under its prefix.
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self._client = client
        self._region = region
        self.poll_seconds = poll_seconds
        self.max_wait_seconds = max_wait_seconds
        self.sleep = sleep
        self.clock = clock
        self.today = today

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("textract", region_name=self._region)
        return self._client

    def recognize(
        self, filename: str, data: bytes, content_type: str, *, stored_key: str | None = None
    ) -> RecognizedText:
        if stored_key is not None:
            blocks = self._detect_async(filename, self.prefix + stored_key, data)
        elif len(data) <= SYNC_MAX_BYTES:
            response = self._call(
                filename, lambda: self.client.detect_document_text(Document={"Bytes": data})
            )
            blocks = response.get("Blocks", [])
        else:
            raise DocumentRejected(
                filename, "too large for OCR from memory (10 MB); store it first"
            )
        pages = _pages(blocks)
        if not any(page.text.strip() for page in pages):
            raise NoTextExtracted(filename, "OCR (Textract) found no text in it")
        return RecognizedText(self.engine, pages)

    def _detect_async(self, filename: str, key: str, data: bytes) -> list[dict[str, Any]]:
        started = self._call(
            filename,
            lambda: self.client.start_document_text_detection(
                DocumentLocation={"S3Object": {"Bucket": self.bucket, "Name": key}},
                ClientRequestToken=job_token(key, data, self.today()),
            ),
        )
        job = started["JobId"]
        deadline = self.clock() + self.max_wait_seconds
        blocks: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            request: dict[str, Any] = {"JobId": job, "MaxResults": 1000}
            if token:
                request["NextToken"] = token
            response = self._call(
                filename, lambda request=request: self.client.get_document_text_detection(**request)
            )
            status = response["JobStatus"]
            if status == "IN_PROGRESS":
                if self.clock() >= deadline:
                    raise ModelUnavailable(
                        f"Textract job {job} for {filename} did not finish within "
                        f"{self.max_wait_seconds:.0f} s"
                    )
                self.sleep(self.poll_seconds)
                continue
            if status == "FAILED":
                raise DocumentRejected(
                    filename,
                    f"OCR failed: {response.get('StatusMessage') or 'Textract could not read it'}",
                )
            blocks += response.get("Blocks", [])
            token = response.get("NextToken")
            if not token:
                if status == "PARTIAL_SUCCESS":
                    logger.warning(
                        "Textract read %s in part: %s", filename, response.get("Warnings")
                    )
                return blocks

    def _call(self, filename: str, fn: Callable[[], Any]) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn()
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            message = exc.response.get("Error", {}).get("Message", str(exc))
            if code in _REJECTING:
                raise DocumentRejected(filename, f"OCR cannot read it: {message}") from exc
            raise ModelUnavailable(f"Textract failed ({code}): {message}") from exc
        except BotoCoreError as exc:
            raise ModelUnavailable(f"Textract is unreachable: {exc}") from exc


def _pages(blocks: list[dict[str, Any]]) -> list[RecognizedPage]:
    """LINE blocks by page, in reading order, with their mean confidence."""
    lines: dict[int, list[tuple[str, float]]] = {}
    for block in blocks:
        if block.get("BlockType") == "LINE":
            lines.setdefault(int(block.get("Page", 1)), []).append(
                (str(block.get("Text", "")), float(block.get("Confidence", 0.0)))
            )
    pages = []
    for number in range(1, max(lines, default=0) + 1):
        found = lines.get(number, [])
        text = "\n".join(t for t, _ in found)
        confidence = sum(c for _, c in found) / len(found) if found else 0.0
        pages.append(RecognizedPage(number, text, round(confidence, 1)))
    return pages
