from __future__ import annotations

import io
import sys

import pytest

from ragops.domain.parsing import parse_document
from ragops.errors import DocumentRejected, NoTextExtracted
from tests.samples import make_docx, make_html, make_pdf

LIMIT = 1_000_000


def test_pdf_keeps_pages_and_title():
    data = make_pdf(["First page about glaciers.", "Second page about rivers."], title="Water")
    parsed = parse_document("water.pdf", data, max_bytes=LIMIT)
    assert parsed.title == "Water"
    assert [s.page for s in parsed.sections] == [1, 2]
    assert "glaciers" in parsed.sections[0].text
    assert "rivers" in parsed.sections[1].text


def test_docx_text_and_core_title():
    data = make_docx(["Alpha paragraph.", "Beta paragraph."], title="Greek letters")
    parsed = parse_document("letters.docx", data, max_bytes=LIMIT)
    assert parsed.title == "Greek letters"
    assert "Alpha paragraph." in parsed.sections[0].text
    assert "Beta paragraph." in parsed.sections[0].text


def test_html_drops_script_and_style_and_takes_title():
    parsed = parse_document(
        "page.html", make_html("Tides", "The moon pulls the sea."), max_bytes=LIMIT
    )
    assert parsed.title == "Tides"
    text = parsed.sections[0].text
    assert "The moon pulls the sea." in text
    assert "script text" not in text
    assert "color:red" not in text


SAVED_PAGE = """<html><head><title>Tides | Ocean Weekly</title></head><body>
<header><a href="/">Ocean Weekly</a>
  <nav><ul><li>Home</li><li>Subscribe to our newsletter</li><li>Share this article</li></ul></nav>
</header>
<div role="navigation">Previous story · Next story</div>
<main>
  <h1>Tides</h1>
  <p>The moon pulls the sea toward it, which raises the tide twice a day.</p>
  <article><h2>Spring tides</h2><p>The sun adds its pull at new and full moon.</p></article>
</main>
<aside>Related: how waves form</aside>
<footer>Cookie settings · Privacy policy · All rights reserved</footer>
</body></html>"""


def test_a_saved_web_page_is_read_for_its_content_not_its_menus():
    parsed = parse_document("tides.html", SAVED_PAGE.encode(), max_bytes=LIMIT)
    text = " ".join(s.text for s in parsed.sections)
    assert "raises the tide twice a day" in text and "new and full moon" in text
    for chrome in ["Subscribe", "Share this", "Next story", "Cookie", "Related", "Ocean Weekly"]:
        assert chrome not in text
    assert [s.section for s in parsed.sections if s.text.strip()] == [
        "Tides",
        "Tides > Spring tides",
    ]


def test_a_page_without_one_marked_content_element_is_read_whole_less_its_menus():
    page = (
        "<html><body><nav>Menu</nav><article><p>First post about tides.</p></article>"
        "<article><p>Second post about waves.</p></article><p>Closing words.</p>"
        "<footer>Imprint</footer></body></html>"
    )
    text = " ".join(
        s.text for s in parse_document("b.html", page.encode(), max_bytes=LIMIT).sections
    )
    assert "First post" in text and "Second post" in text and "Closing words." in text
    assert "Menu" not in text and "Imprint" not in text


def test_markdown_title_from_first_heading():
    data = b"Intro line\n\n# Real Title\n\nBody text.\n\n## Sub\n"
    parsed = parse_document("notes.md", data, max_bytes=LIMIT)
    assert parsed.title == "Real Title"
    assert "Body text." in parsed.sections[1].text  # [0] is "Intro line", before the heading


@pytest.mark.parametrize(
    ("markdown", "title"),
    [
        ("# Heading #\n\nBody.", "Heading"),
        ("#   Spaced   ##  \nBody.", "Spaced"),
        ("# C#\nBody.", "C#"),
        ("   # Indented\nBody.", "Indented"),
        ("#\nNot a title\n# Second\n", "Second"),
        ("#Tag line\n## Sub\nBody.", None),
        ("---\ntitle: 'Front'\n---\n# Heading\n", "Front"),
        ("---\nauthor: me\n---\n# Heading\n", "Heading"),
        ("---\nnot closed\ntitle: Nope\n# Heading\n", "Heading"),
        ("Intro\n---\ntitle: Late\n---\n", None),
    ],
)
def test_markdown_titles(markdown, title):
    parsed = parse_document("notes.md", markdown.encode(), max_bytes=LIMIT)
    assert parsed.title == title


def test_plain_text_has_no_title_and_accepts_utf8_bom():
    parsed = parse_document("a.txt", "\ufeffCafé au lait".encode(), max_bytes=LIMIT)
    assert parsed.title is None
    assert parsed.sections[0].text == "Café au lait"


@pytest.mark.parametrize(
    ("name", "data", "status", "reason"),
    [
        ("empty.txt", b"", 422, "empty"),
        ("blank.md", b"   \n\t\n", 422, "no text"),
        ("binary.txt", bytes(range(256)) * 4, 422, "binary"),
        ("latin1.txt", "caf\xe9 cr\xe8me".encode("latin-1"), 422, "not valid UTF-8"),
        ("broken.pdf", b"%PDF-1.4\n this is not really a pdf", 422, "corrupt PDF"),
        ("fake.pdf", b"hello, I am text", 422, "corrupt PDF"),
        ("broken.docx", b"PK\x03\x04 not a zip really", 422, "corrupt DOCX"),
        ("image.gif", b"GIF89a", 415, "unsupported file type"),
        ("image.png", b"GIF89a", 422, "not a PNG image"),
        ("scan.tif", b"\x89PNG\r\n\x1a\n", 422, "not a TIFF image"),
        ("noext", b"text", 415, "unsupported file type"),
    ],
)
def test_bad_files_are_rejected_with_the_file_name_and_reason(name, data, status, reason):
    with pytest.raises(DocumentRejected) as caught:
        parse_document(name, data, max_bytes=LIMIT)
    assert caught.value.filename == name
    assert reason in caught.value.reason
    assert caught.value.status == status
    assert name in str(caught.value)


def test_oversize_file_is_rejected_before_parsing():
    with pytest.raises(DocumentRejected) as caught:
        parse_document("big.txt", b"a" * 101, max_bytes=100)
    assert caught.value.status == 413
    assert "over the limit of 100 bytes" in caught.value.reason


def test_pdf_without_text_is_rejected():
    with pytest.raises(DocumentRejected, match="no extractable text"):
        parse_document("scan.pdf", make_pdf([""]), max_bytes=LIMIT)


def test_a_parser_library_missing_is_a_configuration_error_naming_the_extra(monkeypatch):
    """The tier image has no parsers (they are the ingest extra): a PDF reaching one there
    says what to install, instead of an ImportError or a rejection of the file."""
    from ragops.errors import ConfigurationError

    monkeypatch.setitem(sys.modules, "pypdf", None)
    with pytest.raises(ConfigurationError, match=r"'pypdf'.*ragops\[ingest\]"):
        parse_document("report.pdf", b"%PDF-1.4 whatever", max_bytes=1_000_000)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("photo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 8),
        ("photo.JPG", b"\xff\xd8\xff\xe0"),
        ("scan.tiff", b"II*\x00" + b"\x00" * 8),
        ("scan.tif", b"MM\x00*" + b"\x00" * 8),
    ],
)
def test_an_image_has_no_text_until_ocr_reads_it(name, data):
    with pytest.raises(NoTextExtracted, match="needs OCR"):
        parse_document(name, data, max_bytes=LIMIT)


def test_one_page_of_a_pdf_is_written_out_on_its_own_or_refused_with_why():
    from pypdf import PdfReader

    from ragops.domain.parsing import pdf_page

    data = make_pdf(["First page about glaciers.", "Second page about rivers."])
    second = PdfReader(io.BytesIO(pdf_page("water.pdf", data, 2)))
    assert len(second.pages) == 1 and "rivers" in second.pages[0].extract_text()
    with pytest.raises(DocumentRejected, match=r"water\.pdf: page 3 cannot be read on its own"):
        pdf_page("water.pdf", data, 3)
