"""A file's text for ingestion: parsed where it has a text layer, read by OCR where it has
none (an image, a scanned PDF, a Word document holding only pasted scans) and, in a PDF
that has text on some pages only, for the pages without it (a scanned appendix, a signed
page scanned back in), so that no page is indexed as nothing while OCR is configured; a
Word document's large pictures are read too, where it has text as well. A
page that paints nothing at all (a blank separator page) is not sent: OCR would find
nothing there, at a call's cost.

The pages of a partly scanned PDF are read one at a time, as one-page PDFs (Textract's
synchronous call takes one page; Tesseract renders only that page); more than
``PAGE_BY_PAGE_LIMIT`` of them in a file already in the object store are read by one
whole-document job instead where the engine runs such jobs (Textract's asynchronous API),
which keeps the ingest function within its time. Tesseract always reads page by page: a
job of its own would render the pages that have text too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import PurePath

from ragops.domain.models import ParsedDocument, RecognizedPage, RecognizedText, Section
from ragops.domain.parsing import (
    OCR_IMAGE_TYPES,
    SUPPORTED_TYPES,
    blank_pdf_pages,
    docx_images,
    parse_document,
    pdf_page,
    textless_pdf_pages,
)
from ragops.domain.quality import QualityFinding, ocr_finding
from ragops.errors import DocumentRejected, NoTextExtracted
from ragops.ports import TextRecognizer

logger = logging.getLogger(__name__)

DOCX = SUPPORTED_TYPES[".docx"]
PAGE_BY_PAGE_LIMIT = 10
"""Pages without text read one by one; above it (for a stored file) one job reads them all."""
PICTURE_MIN_PIXELS = 300 * 300
"""In a Word document that has text, a picture this large or larger is read by OCR too (a
pasted scan, a screenshot of a table); a smaller one (a logo, an icon) costs a call and
holds little."""
MAX_PICTURES_READ = 20
"""At most this many pictures of a Word document that has text are read by OCR."""


def ocr_reads(content_type: str) -> bool:
    """Whether OCR can find text in a file of this type that parsing found none in: a
    PDF, an image, a Word document's pictures (not a text, Markdown or HTML file)."""
    return content_type in {"application/pdf", DOCX, *OCR_IMAGE_TYPES}


def parse_or_recognize(
    source: str,
    data: bytes,
    *,
    max_bytes: int,
    ocr: TextRecognizer | None,
    stored_key: str | None = None,
) -> tuple[ParsedDocument, list[QualityFinding]]:
    """The file's text: parsed, or, for a scanned PDF, an image or a Word document of
    pictures, read by OCR (with its finding: engine and mean confidence); a PDF's pages
    without a text layer are read by OCR too. ``NoTextExtracted`` when neither finds any
    text (and for a file of a type OCR does not read)."""
    name = PurePath(source).name
    content_type = SUPPORTED_TYPES.get(PurePath(source).suffix.lower(), "")
    try:
        parsed = parse_document(source, data, max_bytes=max_bytes)
    except NoTextExtracted:
        if ocr is None or not ocr_reads(content_type):
            raise  # an empty text or HTML file: nothing for OCR to read
        if content_type == DOCX:
            return _recognize_docx_pictures(ocr, name, data)
    else:
        if ocr is None:
            return parsed, []
        if content_type == DOCX:
            return _with_docx_pictures(ocr, name, data, parsed)
        return _recognize_textless_pages(ocr, source, data, parsed, stored_key)
    read = ocr.recognize(name, data, content_type, stored_key=stored_key)
    paged = content_type == "application/pdf" or len(read.pages) > 1
    sections = [Section(text=p.text, page=p.page if paged else None) for p in read.pages]
    parsed = ParsedDocument(title=None, sections=sections, content_type=content_type)
    return parsed, [ocr_finding(read.engine, read.confidence, len(read.pages))]


def _recognize_docx_pictures(
    ocr: TextRecognizer, name: str, data: bytes
) -> tuple[ParsedDocument, list[QualityFinding]]:
    """A Word document without text: its pictures, read by OCR in the body's order (a
    scan pasted into Word), each a section. ``NoTextExtracted`` when none holds text."""
    read = _read_pictures(ocr, name, docx_images(data))
    if not read.pages:
        raise NoTextExtracted(
            name, "the Word document has no text, and OCR found none in its pictures"
        )
    sections = [Section(text=p.text) for p in read.pages]
    finding = ocr_finding(read.engine, read.confidence, len(read.pages), unit="picture")
    return ParsedDocument(title=None, sections=sections, content_type=DOCX), [finding]


def _with_docx_pictures(
    ocr: TextRecognizer, name: str, data: bytes, parsed: ParsedDocument
) -> tuple[ParsedDocument, list[QualityFinding]]:
    """``parsed`` (a Word document with text) with the text OCR reads in its large
    pictures, each a section after the text ("Picture 2"), and the finding that says so;
    unchanged when it has none or OCR reads nothing in them."""
    pictures = docx_images(data, min_pixels=PICTURE_MIN_PIXELS)[:MAX_PICTURES_READ]
    read = _read_pictures(ocr, name, pictures)
    if not read.pages:
        return parsed, []
    pictured = [Section(text=p.text, section=f"Picture {p.page}") for p in read.pages]
    finding = ocr_finding(read.engine, read.confidence, len(read.pages), unit="picture")
    return replace(parsed, sections=[*parsed.sections, *pictured]), [finding]


def _read_pictures(
    ocr: TextRecognizer, name: str, pictures: list[tuple[str, bytes]]
) -> RecognizedText:
    """What OCR reads in a Word document's ``(content_type, bytes)`` pictures, each a
    page numbered from 1 in the order given (those it reads nothing in left out)."""
    parts = [(kind, lambda p=picture: p, n) for n, (kind, picture) in enumerate(pictures, 1)]
    return _read_each(ocr, name, parts)


def _recognize_textless_pages(
    ocr: TextRecognizer,
    source: str,
    data: bytes,
    parsed: ParsedDocument,
    stored_key: str | None,
) -> tuple[ParsedDocument, list[QualityFinding]]:
    """``parsed`` with the text OCR reads on its pages without a text layer (where OCR
    reads more than the layer holds), and the finding that says so; unchanged when every
    page has text. ``ModelUnavailable`` propagates (the whole file is tried again later);
    a page OCR cannot read keeps what it had, with a warning in the log."""
    textless = textless_pdf_pages(parsed)
    if textless:
        blank = blank_pdf_pages(data, textless)  # nothing for OCR to find, at a call's cost
        textless = [page for page in textless if page not in blank]
    if not textless:
        return parsed, []
    name = PurePath(source).name
    read = _read_pages(ocr, name, data, textless, stored_key)
    layer = {s.page: s.text for s in parsed.sections}
    better = {
        page.page: page
        for page in read.pages
        if page.page in layer and _visible(page.text) > _visible(layer[page.page])
    }
    if not better:
        return parsed, []
    sections = [
        replace(s, text=better[s.page].text) if s.page in better else s for s in parsed.sections
    ]
    used = RecognizedText(read.engine, list(better.values()))
    finding = ocr_finding(used.engine, used.confidence, len(better), of_pages=len(layer))
    return replace(parsed, sections=sections), [finding]


def _read_pages(
    ocr: TextRecognizer, name: str, data: bytes, pages: list[int], stored_key: str | None
) -> RecognizedText:
    """What OCR reads on ``pages`` of a PDF (pages it finds empty are left out)."""
    if stored_key is not None and ocr.reads_stored_files and len(pages) > PAGE_BY_PAGE_LIMIT:
        try:
            whole = ocr.recognize(name, data, "application/pdf", stored_key=stored_key)
        except (NoTextExtracted, DocumentRejected) as exc:
            logger.warning("OCR of the pages without text of %s failed: %s", name, exc)
            return RecognizedText(ocr.engine, [])
        wanted = set(pages)
        return RecognizedText(whole.engine, [p for p in whole.pages if p.page in wanted])
    parts = [("application/pdf", lambda n=n: pdf_page(name, data, n), n) for n in pages]
    return _read_each(ocr, name, parts)


def _read_each(
    ocr: TextRecognizer, name: str, parts: Iterable[tuple[str, Callable[[], bytes], int]]
) -> RecognizedText:
    """OCR of each ``(content_type, bytes of it, number)`` part of a file on its own (a
    PDF's page, a Word document's picture), as one page per part that OCR finds text in,
    numbered ``number``; the parts it reads nothing in, or that cannot be taken out or
    opened, are left out."""
    engine = ocr.engine
    found: list[RecognizedPage] = []
    for content_type, part, number in parts:
        try:
            read = ocr.recognize(name, part(), content_type)
        except (NoTextExtracted, DocumentRejected) as exc:
            logger.info("OCR read nothing in part %d of %s: %s", number, name, exc)
            continue
        engine = read.engine
        text = "\n".join(p.text for p in read.pages if p.text.strip())
        found.append(RecognizedPage(number, text, read.confidence))
    return RecognizedText(engine, found)


def _visible(text: str) -> int:
    return sum(not c.isspace() for c in text)
