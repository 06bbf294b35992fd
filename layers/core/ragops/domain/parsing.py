"""Turn uploaded bytes into text: PDF, DOCX, HTML, Markdown and plain text.

``parse_document`` either returns a ``ParsedDocument`` with some text in it or raises
``DocumentRejected`` naming the file and the reason. It never writes anything.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections.abc import Callable
from pathlib import PurePath

from ragops.domain.models import ParsedDocument, Section
from ragops.errors import DocumentRejected, NoTextExtracted

SUPPORTED_TYPES: dict[str, str] = {
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".html": "text/html",
    ".htm": "text/html",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".txt": "text/plain",
    ".text": "text/plain",
}

# Share of characters that may be control characters before a "text" file counts as binary.
_MAX_CONTROL_RATIO = 0.01
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")

# What the format libraries (pypdf; python-docx with zipfile and lxml) raise on malformed
# input besides their own error classes: they trust a file's structure. Fuzzing (tests/fuzz,
# scripts/fuzz_parsers.py) reached AssertionError, NotImplementedError, RuntimeError (an
# encrypted ZIP member), OverflowError, EOFError, zlib.error, TypeError and AttributeError
# with a few mutated bytes; IndexError and RecursionError (a structure nested deeper than
# the stack, a kind of RuntimeError) are of the same kind.
_MALFORMED: tuple[type[Exception], ...] = (
    ValueError,
    KeyError,
    IndexError,
    TypeError,
    AttributeError,
    AssertionError,
    RuntimeError,
    ArithmeticError,
    EOFError,
    OSError,
    zipfile.BadZipFile,
    zlib.error,
)


def supported_extensions() -> list[str]:
    return sorted(SUPPORTED_TYPES)


def parse_document(filename: str, data: bytes, *, max_bytes: int) -> ParsedDocument:
    """Extract title and text from ``data``, which was uploaded as ``filename``.

    Raises ``DocumentRejected`` for an unsupported type, an empty or over-size file, a
    corrupt file, undecodable text, or a file with no extractable text.
    """
    name = PurePath(filename).name or filename
    suffix = PurePath(name).suffix.lower()
    if suffix not in SUPPORTED_TYPES:
        raise DocumentRejected(
            name,
            f"unsupported file type {suffix or '(no extension)'!r}; "
            f"supported: {', '.join(supported_extensions())}",
            status=415,
        )
    if len(data) == 0:
        raise DocumentRejected(name, "the file is empty")
    if len(data) > max_bytes:
        raise DocumentRejected(
            name,
            f"the file is {len(data):,} bytes, over the limit of {max_bytes:,} bytes",
            status=413,
        )
    parser = _PARSERS[SUPPORTED_TYPES[suffix]]
    parsed = parser(name, data)
    if not any(section.text.strip() for section in parsed.sections):
        raise NoTextExtracted(name, "no text could be extracted from the file")
    return parsed


def _decode_text(name: str, data: bytes) -> str:
    """Decode text bytes as UTF-8 (BOM allowed) or BOM-marked UTF-16; reject binary data."""
    encoding = "utf-16" if data.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-8-sig"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        if b"\x00" in data[:8192]:
            raise DocumentRejected(name, "the file holds binary data, not text") from exc
        raise DocumentRejected(
            name, f"the text is not valid UTF-8 (undecodable byte at offset {exc.start})"
        ) from exc
    controls = len(_CONTROL_CHARS.findall(text))
    if text and controls / len(text) > _MAX_CONTROL_RATIO:
        raise DocumentRejected(name, "the file holds binary data, not text")
    return text


def _parse_text(name: str, data: bytes) -> ParsedDocument:
    return ParsedDocument(
        title=None, sections=[Section(_decode_text(name, data))], content_type="text/plain"
    )


# Linear-time patterns, used line by line: the single regexes these replace backtracked in
# cubic time on a heading line of spaces, so a few kilobytes held a worker for minutes.
_MD_H1 = re.compile(r"^ {0,3}#[ \t]+(\S[^\n]*)$", re.MULTILINE)
_MD_FRONT_MATTER_TITLE = re.compile(r"title:[ \t]*(.*)", re.IGNORECASE)


def _front_matter_title(text: str) -> str | None:
    """The ``title:`` of a front matter block (a ``---`` line first, up to the next line
    that starts with ``---``)."""
    lines = iter(io.StringIO(text))
    if next(lines, "").rstrip() != "---":
        return None
    title = None
    for line in lines:
        if line.startswith("---"):
            return title
        if title is None and (match := _MD_FRONT_MATTER_TITLE.match(line)):
            title = match.group(1).strip().strip("'\"") or None
    return None  # never closed: not front matter


def _heading_title(text: str) -> str | None:
    """The first level-1 ATX heading (``# Title``, an optional closing ``#`` run dropped)."""
    for match in _MD_H1.finditer(text):
        title = match.group(1).rstrip()
        closed = title.rstrip("#")
        if closed != title and (not closed or closed[-1] in " \t"):
            title = closed.rstrip()
        if title:
            return title
    return None


def _parse_markdown(name: str, data: bytes) -> ParsedDocument:
    text = _decode_text(name, data)
    title = _front_matter_title(text) or _heading_title(text)
    return ParsedDocument(title=title, sections=[Section(text)], content_type="text/markdown")


def _parse_html(name: str, data: bytes) -> ParsedDocument:
    from bs4 import BeautifulSoup, UnicodeDammit  # imported here to keep start-up light
    from bs4.exceptions import ParserRejectedMarkup

    if b"\x00" in data[:8192]:
        raise DocumentRejected(name, "the file holds binary data, not HTML")
    markup = UnicodeDammit(data, is_html=True).unicode_markup
    if markup is None:
        raise DocumentRejected(name, "the HTML text could not be decoded")
    try:
        soup = BeautifulSoup(markup, "html.parser")
    except ParserRejectedMarkup as exc:  # e.g. a bad `<![` marked section
        raise DocumentRejected(name, "corrupt HTML: the parser rejected the markup") from exc
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    title = soup.title.get_text(" ", strip=True) if soup.title else None
    if soup.title:
        soup.title.decompose()
    body = soup.body or soup
    lines = [line.strip() for line in body.get_text("\n").splitlines()]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return ParsedDocument(title=title or None, sections=[Section(text)], content_type="text/html")


def _parse_pdf(name: str, data: bytes) -> ParsedDocument:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    if not data.lstrip()[:5] == b"%PDF-":
        raise DocumentRejected(name, "corrupt PDF: the file does not start with a PDF header")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentRejected(name, "the PDF is encrypted with a password")
        sections = [
            Section(text=(page.extract_text() or ""), page=number)
            for number, page in enumerate(reader.pages, start=1)
        ]
        title = None
        if reader.metadata is not None and reader.metadata.title:
            title = str(reader.metadata.title).strip() or None
    except DocumentRejected:
        raise
    except NotImplementedError as exc:  # an unsupported filter or encryption handler
        raise DocumentRejected(name, f"unsupported PDF feature: {exc}") from exc
    except (PyPdfError, *_MALFORMED) as exc:
        detail = "" if isinstance(exc, AssertionError) else str(exc)  # pypdf's say "mypy"
        raise DocumentRejected(name, f"corrupt PDF: {detail or 'malformed structure'}") from exc
    if not sections:
        raise DocumentRejected(name, "the PDF has no pages")
    if not any(s.text.strip() for s in sections):
        raise NoTextExtracted(
            name, "the PDF has no extractable text (a scanned PDF needs OCR first)"
        )
    return ParsedDocument(title=title, sections=sections, content_type="application/pdf")


def _parse_docx(name: str, data: bytes) -> ParsedDocument:
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from lxml.etree import LxmlError

    try:
        document = docx.Document(io.BytesIO(data))
        paragraphs = [p.text for p in document.paragraphs]
        for table in document.tables:
            for row in table.rows:
                paragraphs.append(" | ".join(cell.text for cell in row.cells))
        title = (document.core_properties.title or "").strip() or None
        if title is None:
            title = next(
                (
                    p.text.strip()
                    for p in document.paragraphs
                    if p.style is not None and p.style.name == "Title" and p.text.strip()
                ),
                None,
            )
    except (PackageNotFoundError, LxmlError, *_MALFORMED) as exc:
        raise DocumentRejected(name, "corrupt DOCX: not a valid Word document") from exc
    text = "\n".join(paragraphs)
    return ParsedDocument(
        title=title, sections=[Section(text)], content_type=SUPPORTED_TYPES[".docx"]
    )


_PARSERS: dict[str, Callable[[str, bytes], ParsedDocument]] = {
    "application/pdf": _parse_pdf,
    SUPPORTED_TYPES[".docx"]: _parse_docx,
    "text/html": _parse_html,
    "text/markdown": _parse_markdown,
    "text/plain": _parse_text,
}
