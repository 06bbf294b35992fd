"""Turn uploaded bytes into text: PDF, DOCX, HTML, Markdown and plain text. Images (PNG,
JPEG, TIFF) and scanned PDFs have no text here: ``NoTextExtracted``, which ingestion hands
to OCR (``TextRecognizer``) where one is configured.

``parse_document`` either returns a ``ParsedDocument`` with some text in it or raises
``DocumentRejected`` naming the file and the reason. It never writes anything.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from ragops.domain.models import ParsedDocument, Section
from ragops.errors import ConfigurationError, DocumentRejected, NoTextExtracted

SUPPORTED_TYPES: dict[str, str] = {
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".html": "text/html",
    ".htm": "text/html",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".txt": "text/plain",
    ".text": "text/plain",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
}
IMAGE_SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/tiff": (b"II*\x00", b"MM\x00*"),
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
    try:
        parsed = parser(name, data)
    except ModuleNotFoundError as exc:
        # The parsers' libraries are the ingest extra: a deployment without it (the tier
        # image) is misconfigured if it ever parses, which no upload should be blamed for.
        raise ConfigurationError(
            f"reading {suffix} files needs the {exc.name!r} package: install ragops[ingest]"
        ) from exc
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


# -- sections by heading ------------------------------------------------------------------
# Markdown, HTML and DOCX are cut at their headings: each heading starts a ``Section`` whose
# text begins with the heading itself (so BM25 and the offsets still see it) and whose
# ``section`` is the heading path above the text, "Operations > Maintenance mode".

SECTION_PATH_SEPARATOR = " > "

_Heading = tuple[int, str]
"""A heading's level (0 for a DOCX ``Title``, 1-9 otherwise) and its text."""


@dataclass
class _Run:
    """The text under one heading (or before the first): its heading, if any, the parts of
    its text in order (the heading's own first), and whether it has more than the heading."""

    heading: _Heading | None
    parts: list[str] = field(default_factory=list)
    body: int = 0
    """Non-blank parts besides the heading (any number above 0 will do)."""


def _plain(text: str) -> str:
    return " ".join(text.split())


def _sectioned(
    runs: list[_Run], titles: Iterable[str | None], render: Callable[[list[str]], str]
) -> list[Section]:
    """Sections of ``runs``, with their heading paths. The document's title is left out of
    the paths when it is the single top-level heading (it would head every path). A heading
    with nothing under it before a deeper heading makes no section of its own: its name
    lives on in the paths below it."""
    headings = [(i, run.heading) for i, run in enumerate(runs) if run.heading is not None]
    hidden = -1
    if headings:
        top = min(level for _, (level, _) in headings)
        tops = [(i, name) for i, (level, name) in headings if level == top]
        names = {_plain(t).casefold() for t in titles if t}
        if len(tops) == 1 and _plain(tops[0][1]).casefold() in names:
            hidden = tops[0][0]
    stack: list[tuple[int, str, bool]] = []
    sections: list[Section] = []
    for position, run in enumerate(runs):
        if run.heading is not None:
            level, name = run.heading
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, name, position == hidden))
            following = runs[position + 1].heading if position + 1 < len(runs) else None
            if not run.body and following is not None and following[0] > level:
                continue
        text = render(run.parts)
        if text.strip():
            path = SECTION_PATH_SEPARATOR.join(n for _, n, hide in stack if not hide)
            sections.append(Section(text, section=path or None))
    return sections


# Markdown, line by line (see _MD_H1 on why no regex spans a line's content).
_MD_ATX = re.compile(r" {0,3}(#{1,6})(?:[ \t]|$)")
_MD_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_MD_NOT_PARAGRAPH = re.compile(r" {0,3}(?:[-*+>|<]|\d{1,9}[.)]|#|$)|    |\t")


def _atx_text(rest: str) -> str:
    """An ATX heading's text: ``rest`` (after the ``#`` run) without the optional closing
    ``#`` run and without code backticks."""
    text = rest.strip(" \t")
    closed = text.rstrip("#")
    if closed != text and (not closed or closed[-1] in " \t"):
        text = closed.rstrip(" \t")
    return _plain(text.replace("`", ""))


def _closes_fence(line: str, fence: str) -> bool:
    core = line.lstrip(" ")
    return (
        len(line) - len(core) <= 3
        and core.startswith(fence)
        and not core.rstrip(" \t").strip(fence[0])
    )


def _front_matter_end(lines: list[str]) -> int:
    """How many of ``lines`` a front matter block takes (0 without one), as read by
    ``_front_matter_title``."""
    if not lines or lines[0].rstrip() != "---":
        return 0
    for number, line in enumerate(lines[1:], start=2):
        if line.startswith("---"):
            return number
    return 0


def _markdown_runs(text: str) -> list[_Run]:
    """``text`` cut at its ATX (``## Name``) and setext (``Name`` over ``===``/``---``)
    headings; lines in fenced code blocks and front matter are never headings. A setext
    heading is recognised under a one-line paragraph only (cheap, and the common case)."""
    lines = text.splitlines(keepends=True)
    skip = _front_matter_end(lines)
    runs = [_Run(None, lines[:skip])]
    fence: str | None = None
    block_start = True  # the next line may start a paragraph
    single = False  # the previous line is the first and only line of a paragraph
    for raw in lines[skip:]:
        line = raw.splitlines()[0]
        run = runs[-1]
        if fence is not None:
            run.parts.append(raw)
            run.body += 1
            if _closes_fence(line, fence):
                fence, block_start = None, True
            single = False
            continue
        if match := _MD_FENCE.match(line):
            fence = match.group(1)
            run.parts.append(raw)
            run.body += 1
            single = block_start = False
            continue
        if (match := _MD_ATX.match(line)) and (name := _atx_text(line[match.end(1) :])):
            runs.append(_Run((len(match.group(1)), name), [raw]))
            single, block_start = False, True
            continue
        core = line.strip(" \t")
        indent = len(line) - len(line.lstrip(" "))
        if single and indent <= 3 and set(core) in ({"="}, {"-"}):
            title = run.parts.pop()
            run.body -= 1  # the title line was counted as body
            name = _plain(title.replace("`", ""))
            runs.append(_Run((1 if core[0] == "=" else 2, name), [title, raw]))
            single, block_start = False, True
            continue
        single = bool(core) and block_start and not _MD_NOT_PARAGRAPH.match(line)
        block_start = not core
        run.parts.append(raw)
        run.body += bool(core)
    return runs


def _parse_markdown(name: str, data: bytes) -> ParsedDocument:
    text = _decode_text(name, data)
    title = _front_matter_title(text) or _heading_title(text)
    runs = _markdown_runs(text)
    if all(run.heading is None for run in runs):
        sections = [Section(text)]
    else:
        sections = _sectioned(runs, [title], lambda parts: "".join(parts).strip("\r\n").rstrip())
    return ParsedDocument(title=title, sections=sections, content_type="text/markdown")


def _html_text(strings: list[str]) -> str:
    """What the page shows of ``strings``: lines trimmed, runs of blank lines made one."""
    lines = [line.strip() for line in "\n".join(strings).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


_HTML_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})


def _html_runs(body: Any) -> list[_Run]:
    """The text of ``body`` (the strings ``get_text`` joins) cut at its ``h1``-``h6``.

    One pass over the tree in document order, with an explicit stack of the open elements
    (each pushed and popped once), so time stays linear however deep the nesting: no
    recursion, and no walk up the ancestors per string. A heading inside a heading is
    part of the outer one."""
    from bs4 import CData, NavigableString, Tag

    # The string types get_text joins (Tag._all_strings): no comments, doctypes and such.
    wanted = getattr(body, "interesting_string_types", None) or getattr(
        body, "MAIN_CONTENT_STRING_TYPES", (NavigableString, CData)
    )
    runs = [_Run(None)]
    stack: list[Any] = []
    heading: Any = None  # the heading element being read
    heading_level = 0
    heading_text: list[str] = []

    def close_heading() -> None:
        nonlocal heading
        run = runs[-1]
        name = _plain(" ".join(heading_text))
        if name:
            run.heading = (heading_level, name)
        else:  # an empty heading is no heading: its run goes on as body text
            run.body += 1
        heading = None

    for node in body.descendants:
        parent = node.parent
        while stack and stack[-1] is not parent:
            if stack.pop() is heading:
                close_heading()
        if isinstance(node, Tag):
            stack.append(node)
            if heading is None and node.name in _HTML_HEADINGS:
                heading, heading_level, heading_text = node, int(node.name[1]), []
                runs.append(_Run(None))
            continue
        if not isinstance(node, NavigableString):
            continue
        if isinstance(wanted, type):
            if type(node) is not wanted:
                continue
        elif type(node) not in wanted:
            continue
        runs[-1].parts.append(str(node))
        if heading is not None:
            heading_text.append(str(node))
        elif node.strip():
            runs[-1].body += 1
    if heading is not None:
        close_heading()
    return runs


_PAGE_CHROME_TAGS = frozenset({"nav", "footer"})
_PAGE_CHROME_ROLES = frozenset({"navigation", "contentinfo", "search"})


def _is_page_chrome(tag: Any) -> bool:
    """A saved web page's menus and site footer ("Share", "Subscribe", "Cookie settings"):
    text that would be indexed as the page's and quoted as an answer to a question that
    happens to share its words."""
    return tag.name in _PAGE_CHROME_TAGS or tag.get("role") in _PAGE_CHROME_ROLES


def _main_content(soup: Any) -> Any | None:
    """The page's one ``<main>`` (or ``role="main"``), else its one ``<article>``: where a
    page marks its content, the rest (banner, sidebars, related links) is not read. None
    where it marks none, or several."""
    marked = {id(tag): tag for tag in soup.find_all(["main"])}
    marked.update({id(tag): tag for tag in soup.find_all(attrs={"role": "main"})})
    candidates = list(marked.values()) or soup.find_all("article")
    if len(candidates) == 1 and candidates[0].get_text(strip=True):
        return candidates[0]
    return None


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
    for tag in soup.find_all(_is_page_chrome):
        if not tag.decomposed:  # inside one already removed
            tag.decompose()
    body = _main_content(soup) or soup.body or soup
    sections = _sectioned(_html_runs(body), [title], _html_text)
    return ParsedDocument(title=title or None, sections=sections, content_type="text/html")


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


TEXTLESS_PAGE_CHARACTERS = 20
"""A PDF page whose text layer holds fewer visible characters is taken for a scan (or a
figure) and, where OCR is configured, read by it."""


def textless_pdf_pages(parsed: ParsedDocument) -> list[int]:
    """The page numbers of a parsed PDF whose text layer is (nearly) empty: scanned pages
    in a PDF that has text elsewhere, which parsing alone would index as nothing."""
    if parsed.content_type != "application/pdf":
        return []
    return [
        s.page
        for s in parsed.sections
        if s.page is not None and sum(not c.isspace() for c in s.text) < TEXTLESS_PAGE_CHARACTERS
    ]


_PAINTING_OPERATORS = frozenset(
    {
        b"Do",  # an image or a form (a scan is an image)
        b"INLINE IMAGE",  # pypdf's name for BI ... EI
        b"sh",  # a shading
        *(b"S", b"s", b"f", b"F", b"f*", b"B", b"B*", b"b", b"b*"),  # a path stroked or filled
        *(b"Tj", b"TJ", b"'", b'"'),  # glyphs: text that extracts as nothing can still show
    }
)


def blank_pdf_pages(data: bytes, pages: Iterable[int]) -> set[int]:
    """Those of ``pages`` (1-based) whose content paints nothing at all: no image, form,
    shape or glyph (a blank separator page, a page left empty), where OCR would find
    nothing and still cost a call. A page whose content cannot be read is not counted
    blank: OCR decides."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
    except (PyPdfError, *_MALFORMED):
        return set()
    blank: set[int] = set()
    for number in pages:
        try:
            contents = reader.pages[number - 1].get_contents()
            operators = set() if contents is None else {op for _, op in contents.operations}
        except (PyPdfError, *_MALFORMED):
            continue
        if not operators & _PAINTING_OPERATORS:
            blank.add(number)
    return blank


def pdf_page(name: str, data: bytes, page: int) -> bytes:
    """Page ``page`` (1-based) of a PDF, as a PDF of its own: what OCR reads of one page
    (a synchronous OCR call takes a single page). ``DocumentRejected`` for a page that
    cannot be written out (a malformed object the reader tolerated)."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.errors import PyPdfError

    try:
        writer = PdfWriter()
        writer.add_page(PdfReader(io.BytesIO(data), strict=False).pages[page - 1])
        out = io.BytesIO()
        writer.write(out)
    except (PyPdfError, *_MALFORMED) as exc:
        raise DocumentRejected(name, f"page {page} cannot be read on its own: {exc}") from exc
    return out.getvalue()


def _parse_docx(name: str, data: bytes) -> ParsedDocument:
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from lxml.etree import LxmlError

    try:
        document = docx.Document(io.BytesIO(data))
        runs, styled_titles = _docx_runs(document)
        title = (document.core_properties.title or "").strip() or None
        if title is None:
            title = next((t for t in styled_titles if t), None)
    except (PackageNotFoundError, LxmlError, *_MALFORMED) as exc:
        raise DocumentRejected(name, "corrupt DOCX: not a valid Word document") from exc
    sections = _sectioned(runs, [title, *styled_titles], "\n".join)
    return ParsedDocument(title=title, sections=sections, content_type=SUPPORTED_TYPES[".docx"])


_DOCX_HEADING = re.compile(r"heading ([1-9])", re.IGNORECASE)
OCR_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/tiff"})
"""The picture formats OCR reads (Tesseract through Pillow, and Textract)."""


def docx_images(data: bytes, *, min_pixels: int = 0) -> list[tuple[str, bytes]]:
    """The pictures of a Word document, in the order the body shows them (inline and
    floating, each once), as ``(content_type, bytes)``, in the formats OCR reads: what a
    scan pasted into Word holds. Drawings (EMF, WMF) and other formats are left out, and
    so are pictures of fewer than ``min_pixels`` pixels (width x height, from the image's
    header; one whose header cannot be read is kept)."""
    import docx
    from docx.image.image import Image
    from docx.oxml.ns import qn

    document = docx.Document(io.BytesIO(data))
    related = document.part.related_parts
    found: dict[str, tuple[str, bytes]] = {}
    for blip in document.element.body.iter(qn("a:blip")):
        part = related.get(blip.get(qn("r:embed")) or "")
        if part is None or part.partname in found:
            continue
        content_type = str(part.content_type)
        if content_type not in OCR_IMAGE_TYPES:
            continue
        if min_pixels:
            try:
                header = Image.from_blob(part.blob)
            except Exception:  # any header python-docx cannot read: OCR decides
                header = None
            if header is not None and header.px_width * header.px_height < min_pixels:
                continue
        found[part.partname] = (content_type, part.blob)
    return list(found.values())


def _docx_level(paragraph: Any) -> int | None:
    """0 for the ``Title`` style, 1-9 for ``Heading 1``-``Heading 9``, else None."""
    style = paragraph.style
    name = (style.name or "") if style is not None else ""
    if name == "Title":
        return 0
    match = _DOCX_HEADING.fullmatch(name.strip())
    return int(match.group(1)) if match else None


def _docx_runs(document: Any) -> tuple[list[_Run], list[str]]:
    """The document's paragraphs and tables (a row a line, cells joined by `` | ``) in
    reading order, cut at its heading paragraphs; and the texts of its ``Title``
    paragraphs."""
    from docx.table import Table

    inner = getattr(document, "iter_inner_content", None)
    blocks = list(inner()) if inner else [*document.paragraphs, *document.tables]
    runs = [_Run(None)]
    titles: list[str] = []
    for block in blocks:
        if isinstance(block, Table):
            for row in block.rows:
                runs[-1].parts.append(" | ".join(cell.text for cell in row.cells))
                runs[-1].body += 1
            continue
        text = block.text
        level = _docx_level(block)
        name = _plain(text)
        if level is not None and name:
            if level == 0:
                titles.append(text.strip())
            runs.append(_Run((level, name), [text]))
            continue
        runs[-1].parts.append(text)
        runs[-1].body += bool(text.strip())
    return runs, titles


def _image(content_type: str) -> Callable[[str, bytes], ParsedDocument]:
    def parse(name: str, data: bytes) -> ParsedDocument:
        if not data.startswith(IMAGE_SIGNATURES[content_type]):
            kind = content_type.split("/")[1].upper()
            raise DocumentRejected(name, f"corrupt image: the file is not a {kind} image")
        raise NoTextExtracted(name, "an image has no text to extract (it needs OCR)")

    return parse


_PARSERS: dict[str, Callable[[str, bytes], ParsedDocument]] = {
    **{kind: _image(kind) for kind in IMAGE_SIGNATURES},
    "application/pdf": _parse_pdf,
    SUPPORTED_TYPES[".docx"]: _parse_docx,
    "text/html": _parse_html,
    "text/markdown": _parse_markdown,
    "text/plain": _parse_text,
}
