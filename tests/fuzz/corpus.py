"""The parser fuzzers' seed corpus: a small valid file of every supported type, and the bad
files the unit tests reject (tests/unit/test_parsing.py), each under the name it is parsed
as. Built in the test, as tests/samples.py builds its documents: nothing is downloaded."""

from __future__ import annotations

import io
import random
import re
import struct
import zipfile

from tests.samples import make_docx, make_html, make_pdf

LIMIT = 1_000_000


def valid_files() -> dict[str, bytes]:
    """One small valid document of each supported type, by file name."""
    return {
        "report.pdf": make_pdf(
            ["Glaciers carve U-shaped valleys.", "Rivers cut V-shaped ones (mostly)."],
            title="Valleys",
        ),
        "letters.docx": make_docx(["Alpha paragraph.", "Beta paragraph."], title="Greek"),
        "page.html": make_html("Tides", "The moon pulls the sea."),
        "page.htm": b"<html><body><p>Short <b>page</b></p></body></html>",
        "notes.md": b"---\ntitle: 'Notes'\n---\n# Heading #\n\nBody *text*.\n\n- item\n",
        "notes.markdown": "# Caf\u00e9\n\nCr\u00e8me br\u00fbl\u00e9e.\n".encode(),
        "plain.txt": "\ufeffCaf\u00e9 au lait\n".encode(),
        "utf16.text": "UTF-16 text with a BOM\n".encode("utf-16"),
    }


# The bad files of tests/unit/test_parsing.py (and a few more of the same kinds).
BAD_FILES: dict[str, bytes] = {
    "blank.md": b"   \n\t\n",
    "binary.txt": bytes(range(256)) * 4,
    "latin1.txt": "caf\xe9 cr\xe8me".encode("latin-1"),
    "broken.pdf": b"%PDF-1.4\n this is not really a pdf",
    "fake.pdf": b"hello, I am text",
    "corrupt.pdf": b"%PDF-1.5\n%\xe2\xe3 truncated",
    "broken.docx": b"PK\x03\x04 not a zip really",
    "nul.html": b"<html>\x00\x00</html>",
    "empty.zip.docx": b"PK\x05\x06" + bytes(18),
}


# Starts of files that get past the first checks into the real parsers.
MAGIC = [
    b"%PDF-1.4\n",
    b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
    b"PK\x03\x04",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\xfe\xff",
    b"<!doctype html><html><head><title>",
    b"---\ntitle: ",
    b"# ",
]
# Tokens of the formats, inserted by the mutator where random bytes would rarely reach.
TOKENS = [
    b" 0 obj\n",
    b"endobj\n",
    b" 1 0 R",
    b" 2 0 R",
    b"<<",
    b">>",
    b"[",
    b"]",
    b"/Length 999999999",
    b"/Length -1",
    b"/Filter /FlateDecode",
    b"/Filter /LZWDecode",
    b"/Filter /ASCII85Decode",
    b"/Encrypt 1 0 R",
    b"/Pages 1 0 R",
    b"/Kids [1 0 R]",
    b"/Parent 3 0 R",
    b"/Count 99999999999",
    b"/Resources 1 0 R",
    b"/Font << /F1 1 0 R >>",
    b"/Subtype /Type0",
    b"/Encoding /Identity-H",
    b"/ToUnicode 1 0 R",
    b"stream\n",
    b"endstream",
    b"xref\n0 1\n",
    b"trailer\n",
    b"startxref\n",
    b"999999999999999999999",
    b"-0.000000001",
    b"1e308",
    b"(\\",
    b"<FEFF",
    b"Tj",
    b"TJ",
    b" Tf",
    b"<w:p>",
    b"</w:p>",
    b"<w:t>",
    b'<w:pStyle w:val="Title"/>',
    b'w:val="-1"',
    b'r:id="rId999"',
    b"<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]>",
    b"&e;",
    b"<![CDATA[",
    b"<script>",
    b"<title>",
    b"</title>",
    b"<body>",
    b"<template>",
    b"<meta charset='utf-32'>",
    b"&#0;",
    b"&#x110000;",
    b"\n---\n",
    b"\ntitle: ",
    b"\n# ",
    b" #",
    b"\x00",
    b"\r",
    b"\xff\xfe",
    b"\xed\xa0\x80",
]


def docx_members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def pack_docx(members: dict[str, bytes]) -> bytes:
    """A ZIP archive of ``members``: a DOCX whose parts may have been mutated."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in members.items():
            archive.writestr(name, body)
    return buffer.getvalue()


def mutate(rng: random.Random, seed: bytes, rounds: int = 5) -> bytes:
    """``seed`` after up to ``rounds`` truncations, byte flips, insertions (random junk or
    format tokens), deletions and duplications: the hypothesis tests' mutator, for
    scripts/fuzz_parsers.py's plain random runs."""
    data = bytearray(seed)
    for _ in range(rng.randint(1, rounds)):
        size = len(data)
        at = rng.randint(0, size)
        end = rng.randint(at, min(size, at + 256))
        operation = rng.choice(["truncate", "flip", "insert", "token", "delete", "duplicate"])
        if operation == "truncate":
            del data[at:]
        elif operation == "flip" and at < size:
            data[at] ^= rng.randint(1, 255)
        elif operation == "insert":
            data[at:at] = rng.randbytes(rng.randint(1, 64))
        elif operation == "token":
            data[at:at] = rng.choice(TOKENS)
        elif operation == "delete":
            del data[at:end]
        elif operation == "duplicate":
            data[end:end] = data[at:end] * rng.randint(1, 4)
    return bytes(data)


def _docx_with(part: str, change) -> bytes:
    members = docx_members(valid_files()["letters.docx"])
    members[part] = change(members[part]) if callable(change) else change
    return pack_docx(members)


def _patch_zip_headers(data: bytes, member: str, **fields: int) -> bytes:
    """``data`` with fields of ``member``'s local and central headers overwritten:
    ``version`` (needed to extract), ``flags``, ``method`` (compression), ``csize``, ``size``."""
    layout = {  # signature: (offset of the name, {field: (offset, struct format)})
        b"PK\x03\x04": (
            30,
            {
                "version": (4, "<H"),
                "flags": (6, "<H"),
                "method": (8, "<H"),
                "csize": (18, "<I"),
                "size": (22, "<I"),
            },
        ),
        b"PK\x01\x02": (
            46,
            {
                "version": (6, "<H"),
                "flags": (8, "<H"),
                "method": (10, "<H"),
                "csize": (20, "<I"),
                "size": (24, "<I"),
            },
        ),
    }
    out = bytearray(data)
    name = member.encode()
    for signature, (name_at, offsets) in layout.items():
        for match in re.finditer(re.escape(signature), data):
            start = match.start()
            if out[start + name_at : start + name_at + len(name)] == name:
                for field, value in fields.items():
                    at, fmt = offsets[field]
                    struct.pack_into(fmt, out, start + at, value)
    return bytes(out)


def _corrupt_deflate(data: bytes, member: str) -> bytes:
    """``data`` with eight bytes inverted inside ``member``'s compressed data."""
    out = bytearray(data)
    name = member.encode()
    for match in re.finditer(re.escape(b"PK\x03\x04"), data):
        start = match.start()
        name_size, extra_size = struct.unpack_from("<HH", out, start + 26)
        if out[start + 30 : start + 30 + name_size] == name:
            body = start + 30 + name_size + extra_size
            for i in range(body + 40, body + 48):
                out[i] ^= 0xFF
    return bytes(out)


def crash_regressions() -> dict[str, bytes]:
    """Small files like those on which fuzzing crashed ``parse_document`` before it was
    fixed: each raised what its comment says instead of ``DocumentRejected``."""
    docx = valid_files()["letters.docx"]
    pdf = make_pdf(["Hello"], title="T")
    rels = "word/_rels/document.xml.rels"
    return {
        # lxml XMLSyntaxError
        "document-xml-cut.docx": _docx_with("word/document.xml", lambda b: b[: len(b) // 2]),
        "content-types-empty.docx": _docx_with("[Content_Types].xml", b""),
        # AttributeError: a part whose root element is not the expected one
        "rels-root-renamed.docx": _docx_with(
            rels, lambda b: b.replace(b"Relationships", b"Relations")
        ),
        "core-root-renamed.docx": _docx_with(
            "docProps/core.xml", lambda b: b.replace(b"cp:coreProperties", b"cp:coreProps")
        ),
        "document-root-renamed.docx": _docx_with(
            "word/document.xml", lambda b: b.replace(b"w:document", b"w:documents")
        ),
        # AttributeError: 'NoneType' object has no attribute 'lower'
        "default-without-extension.docx": _docx_with(
            "[Content_Types].xml", lambda b: re.sub(rb' Extension="[^"]*"', b"", b, count=1)
        ),
        # TypeError: join() argument must be str... not 'NoneType'
        "relationship-without-target.docx": _docx_with(
            rels, lambda b: re.sub(rb' Target="[^"]*"', b"", b, count=1)
        ),
        # NotImplementedError (zipfile): compression method, version needed to extract
        "zip-method-99.docx": _patch_zip_headers(docx, "word/document.xml", method=99),
        "zip-version-25.1.docx": _patch_zip_headers(docx, "word/document.xml", version=251),
        # RuntimeError: a member marked encrypted (general purpose flag bit 0)
        "zip-encrypted-member.docx": _patch_zip_headers(docx, "docProps/core.xml", flags=1),
        # zlib.error: invalid deflate data
        "zip-bad-deflate.docx": _corrupt_deflate(docx, "word/document.xml"),
        # EOFError: a stored member that runs past the end of the archive
        "zip-stored-past-end.docx": _patch_zip_headers(
            docx, "[Content_Types].xml", method=0, csize=0x7FFFFFF, size=0x7FFFFFF
        ),
        # AssertionError ("mypy"): an indirect reference inside a content stream
        "reference-in-content.pdf": pdf.replace(b"(Hello) Tj", b"1 0 R Tj"),
        # NotImplementedError: an unknown stream filter; a non-standard security handler
        "unknown-filter.pdf": pdf.replace(b"<< /Length ", b"<< /Filter /Foo /Length ", 1),
        "custom-encryption.pdf": pdf.replace(
            b"trailer\n<< ", b"trailer\n<< /Encrypt << /Filter /Custom /V 1 >> /ID [(a) (a)] "
        ),
        # OverflowError: Python int too large to convert to C ssize_t
        "huge-startxref.pdf": re.sub(rb"startxref\n\d+", b"startxref\n" + b"9" * 20, pdf),
        # bs4 ParserRejectedMarkup (html.parser: unknown status keyword in a marked section)
        "bad-marked-section.htm": b"<![Cy\x9b\x93DATA[ text",
        "bad-marked-section.html": b"<html><body><![CDA x]]></body></html>",
    }
