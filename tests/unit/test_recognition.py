"""A PDF with text on some pages and scans on others: the pages without a text layer are
read by OCR (one page at a time, or by one whole-document job for many pages of a stored
file), the pages with text keep it, and the finding says how many pages OCR read."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader, PdfWriter

from ragops.domain.models import RecognizedPage, RecognizedText
from ragops.errors import NoTextExtracted
from ragops.services.recognition import PAGE_BY_PAGE_LIMIT, parse_or_recognize
from tests.samples import make_pdf

INTRO = "Glaciers of the Alps: an introduction to moraines, crevasses and meltwater."
OUTRO = "Appendix: the measurements were taken in the summer of 2019 by the survey team."


class FakeRecognizer:
    """Reads what it is told to: ``read`` maps a page's own (text layer) marker to the
    text OCR returns for it; records every call."""

    engine = "fake-ocr"
    reads_stored_files = True

    def __init__(self, read: dict[int, str], confidence: float = 91.0) -> None:
        self.read = read
        self.confidence = confidence
        self.calls: list[tuple[int, str | None]] = []

    def recognize(self, filename, data, content_type, *, stored_key=None):
        pages = PdfReader(io.BytesIO(data)).pages
        self.calls.append((len(pages), stored_key))
        if stored_key is not None:  # a whole-document job: every page of the stored file
            found = [RecognizedPage(n, t, self.confidence) for n, t in sorted(self.read.items())]
        else:  # one page, marked by the single character it holds in this test
            marker = int(pages[0].extract_text().strip() or 0)
            if marker not in self.read:
                raise NoTextExtracted(filename, "OCR found no text in it")
            found = [RecognizedPage(1, self.read[marker], self.confidence)]
        return RecognizedText(self.engine, found)


def _parse(data: bytes, ocr, stored_key=None):
    return parse_or_recognize("atlas.pdf", data, max_bytes=10**7, ocr=ocr, stored_key=stored_key)


def test_the_pages_without_text_are_read_one_by_one_and_keep_their_numbers():
    # Pages 2 and 4 are "scans": a text layer of one digit (the fake's marker), as a
    # scanner's page stamp would leave; page 4 is blank to OCR as well.
    data = make_pdf([INTRO, "2", OUTRO, "4"])
    ocr = FakeRecognizer({2: "The Rhone Glacier feeds Lake Geneva with meltwater."})
    parsed, findings = _parse(data, ocr)
    assert [(s.page, s.text) for s in parsed.sections] == [
        (1, INTRO),
        (2, "The Rhone Glacier feeds Lake Geneva with meltwater."),
        (3, OUTRO),
        (4, "4"),
    ]
    assert ocr.calls == [(1, None), (1, None)]  # pages 2 and 4, each as a one-page PDF
    (finding,) = findings
    assert finding.check == "ocr" and finding.value == 91.0
    assert "1 of 4 pages had no text layer and were read by OCR (fake-ocr)" in finding.message


def test_a_pdf_with_text_on_every_page_is_not_read_by_ocr():
    ocr = FakeRecognizer({})
    parsed, findings = _parse(make_pdf([INTRO, OUTRO]), ocr)
    assert (ocr.calls, findings) == ([], [])
    assert [s.text for s in parsed.sections] == [INTRO, OUTRO]


def _with_blank_page(data: bytes, at: int) -> bytes:
    """``data`` with an empty page (nothing drawn on it) inserted at index ``at``."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.insert_blank_page(width=612, height=792, index=at)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_a_blank_page_is_not_sent_to_ocr():
    # A separator page that paints nothing would cost an OCR call that reads nothing;
    # the scanned page beside it (a marker glyph here) is still read.
    data = _with_blank_page(make_pdf([INTRO, "2", OUTRO]), at=1)
    ocr = FakeRecognizer({2: "The Rhone Glacier feeds Lake Geneva with meltwater."})
    parsed, findings = _parse(data, ocr)
    assert ocr.calls == [(1, None)]  # the marker page only, not the blank page 2
    assert [(s.page, s.text) for s in parsed.sections] == [
        (1, INTRO),
        (2, ""),
        (3, "The Rhone Glacier feeds Lake Geneva with meltwater."),
        (4, OUTRO),
    ]
    assert "1 of 4 pages had no text layer" in findings[0].message


def test_ocr_that_reads_less_than_the_layer_leaves_the_page_as_it_was():
    ocr = FakeRecognizer({2: ""})
    parsed, findings = _parse(make_pdf([INTRO, "2"]), ocr)
    assert findings == [] and [s.text for s in parsed.sections] == [INTRO, "2"]


def test_many_pages_without_text_of_a_stored_file_are_read_by_one_job():
    pages = [INTRO] + [str(n) for n in range(2, PAGE_BY_PAGE_LIMIT + 3)]
    read = {n: f"Scanned page {n} says the glacier moved {n} metres." for n in range(1, 13)}
    ocr = FakeRecognizer(read)
    parsed, findings = _parse(make_pdf(pages), ocr, stored_key="raw/acme/a1a1a1a1a1a1a1a1")
    assert ocr.calls == [(len(pages), "raw/acme/a1a1a1a1a1a1a1a1")]
    # Page 1 has its own text: the job's reading of it is not used.
    assert parsed.sections[0].text == INTRO
    assert parsed.sections[5].text == read[6]
    assert f"{len(pages) - 1} of {len(pages)} pages" in findings[0].message


@pytest.mark.parametrize("stored_key", [None, "raw/acme/a1a1a1a1a1a1a1a1"])
def test_without_ocr_a_partly_scanned_pdf_is_parsed_as_it_is(stored_key):
    parsed, findings = parse_or_recognize(
        "atlas.pdf", make_pdf([INTRO, "2"]), max_bytes=10**7, ocr=None, stored_key=stored_key
    )
    assert findings == [] and [s.text for s in parsed.sections] == [INTRO, "2"]


def test_an_engine_that_reads_pages_in_process_reads_only_the_pages_without_text():
    """Tesseract has no whole-document job: a stored file's many pages without text are
    still read one by one (a job would render every page, those with text too)."""
    pages = [INTRO] + [str(n) for n in range(2, PAGE_BY_PAGE_LIMIT + 3)]
    ocr = FakeRecognizer({n: f"Scanned page {n} of the glacier survey." for n in range(2, 13)})
    ocr.reads_stored_files = False
    parsed, findings = _parse(make_pdf(pages), ocr, stored_key="raw/acme/a1a1a1a1a1a1a1a1")
    assert ocr.calls == [(1, None)] * (len(pages) - 1)
    assert parsed.sections[0].text == INTRO and parsed.sections[-1].text.startswith("Scanned")
    assert f"{len(pages) - 1} of {len(pages)} pages" in findings[0].message


class PictureReader:
    """Reads a picture as the text it was rendered from (kept by its bytes)."""

    engine = "fake-ocr"
    reads_stored_files = False

    def __init__(self, texts: dict[bytes, str]) -> None:
        self.texts = texts
        self.calls: list[str] = []

    def recognize(self, filename, data, content_type, *, stored_key=None):
        self.calls.append(content_type)
        if not self.texts.get(data):
            raise NoTextExtracted(filename, "OCR found no text in it")
        return RecognizedText(self.engine, [RecognizedPage(1, self.texts[data], 88.0)])


def _word_with_pictures(*pictures: bytes) -> bytes:
    import docx

    document = docx.Document()
    for picture in pictures:
        document.add_picture(io.BytesIO(picture))
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_a_word_document_of_pasted_scans_is_read_picture_by_picture():
    from tests.samples import image_bytes, render_text_page

    first = image_bytes(render_text_page("one"))
    blank = image_bytes(render_text_page(" ").convert("RGB"), "JPEG")
    second = image_bytes(render_text_page("two").convert("RGB"), "JPEG")
    ocr = PictureReader({first: "Moraines are ridges of rock.", second: "Crevasses open."})
    parsed, (finding,) = parse_or_recognize(
        "scans.docx", _word_with_pictures(first, blank, second), max_bytes=10**8, ocr=ocr
    )
    assert ocr.calls == ["image/png", "image/jpeg", "image/jpeg"]
    assert [s.text for s in parsed.sections] == ["Moraines are ridges of rock.", "Crevasses open."]
    assert "(fake-ocr, 2 pictures)" in finding.message and finding.value == 88.0


def test_a_word_document_without_text_or_readable_pictures_says_so():
    with pytest.raises(NoTextExtracted, match="OCR found none in its pictures"):
        parse_or_recognize(
            "empty.docx", _word_with_pictures(), max_bytes=10**8, ocr=PictureReader({})
        )


def test_a_word_document_with_text_has_its_large_pictures_read_too():
    import docx
    from PIL import Image

    from tests.samples import image_bytes, render_text_page

    scan = image_bytes(render_text_page("table"))  # 1700 x 2200: a pasted scan
    logo = image_bytes(Image.new("L", (200, 80), 255))  # a logo: not worth a call
    document = docx.Document()
    document.add_paragraph("The survey measured three glaciers in 2019.")
    document.add_picture(io.BytesIO(logo))
    document.add_picture(io.BytesIO(scan))
    out = io.BytesIO()
    document.save(out)
    ocr = PictureReader({scan: "Rhone 7.8 km, Aletsch 22.6 km", logo: "ACME"})
    parsed, (finding,) = parse_or_recognize("survey.docx", out.getvalue(), max_bytes=10**8, ocr=ocr)
    assert ocr.calls == ["image/png"]  # the scan only
    assert [(s.text, s.section) for s in parsed.sections][-1] == (
        "Rhone 7.8 km, Aletsch 22.6 km",
        "Picture 1",
    )
    assert parsed.sections[0].text.strip() == "The survey measured three glaciers in 2019."
    assert "(fake-ocr, 1 picture)" in finding.message
    # Without OCR the document is its text, as before.
    plain, findings = parse_or_recognize("survey.docx", out.getvalue(), max_bytes=10**8, ocr=None)
    assert findings == [] and [s.text for s in plain.sections] == [parsed.sections[0].text]


@pytest.mark.parametrize("name", ["empty.txt", "blank.md", "page.html"])
def test_a_text_file_without_text_is_not_handed_to_ocr(name):
    """OCR reads pictures: an empty text, Markdown or HTML file keeps the parser's own
    reason (before, OCR was asked and called it a corrupt image)."""
    ocr = PictureReader({})
    data = b"<html><body> </body></html>" if name.endswith("html") else b"  \n"
    with pytest.raises(NoTextExtracted, match="no text could be extracted") as refused:
        parse_or_recognize(name, data, max_bytes=10**8, ocr=ocr)
    assert ocr.calls == [] and "image" not in str(refused.value)
