"""Builders for small documents of every supported format, made in the test itself."""

from __future__ import annotations

import io
import json
from pathlib import Path


def _pdf_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(pages: list[str], title: str | None = None) -> bytes:
    """A valid PDF with one line of Helvetica text per page (and an Info title)."""
    objects: list[bytes] = []
    page_count = len(pages)
    font_id = 3 + 2 * page_count
    info_id = font_id + 1
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(page_count))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {page_count} >>".encode())
    for i, text in enumerate(pages):
        content_id = 4 + 2 * i
        objects.append(
            (
                f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                f"/Contents {content_id} 0 R /Resources << /Font << /F1 {font_id} 0 R >> >> >>"
            ).encode()
        )
        stream = f"BT /F1 12 Tf 72 720 Td ({_pdf_escape(text)}) Tj ET".encode("latin-1")
        objects.append(
            b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream"
        )
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    objects.append(f"<< /Title ({_pdf_escape(title or '')}) >>".encode())
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info {info_id} 0 R >>\n"
        f"startxref\n{xref}\n%%EOF\n".encode()
    )
    return out.getvalue()


def make_docx(paragraphs: list[str], title: str | None = None) -> bytes:
    import docx

    document = docx.Document()
    if title:
        document.core_properties.title = title
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def make_html(title: str, body: str) -> bytes:
    return (
        f"<!doctype html><html><head><title>{title}</title>"
        "<style>p{color:red}</style><script>var hidden = 'script text';</script></head>"
        f"<body><h1>{title}</h1><p>{body}</p></body></html>"
    ).encode()


def write_beir(folder: Path, split: str = "test") -> Path:
    """A five-document BEIR data set: one judged document per query."""
    topics = {
        "tides": "The Moon's gravity raises ocean tides; spring tides follow full and new moons.",
        "volcano": "Volcanoes erupt when buoyant magma rises through cracks in the crust.",
        "glacier": "Glaciers are rivers of ice that carve U-shaped valleys.",
        "desert": "Deserts receive under 250 millimetres of rain a year.",
        "coral": "Coral reefs are built by colonies of tiny animals called polyps.",
    }
    (folder / "qrels").mkdir(parents=True)
    with (folder / "corpus.jsonl").open("w") as corpus:
        for doc_id, text in topics.items():
            corpus.write(json.dumps({"_id": doc_id, "title": doc_id.title(), "text": text}) + "\n")
    questions = {
        "q1": ("What makes ocean tides rise?", "tides"),
        "q2": ("Why do volcanoes erupt?", "volcano"),
        "q3": ("How do glaciers shape valleys?", "glacier"),
        "q4": ("How little rain falls in a desert?", "desert"),
        "q5": ("Which animals build coral reefs?", "coral"),
    }
    with (folder / "queries.jsonl").open("w") as queries:
        for qid, (text, _) in questions.items():
            queries.write(json.dumps({"_id": qid, "text": text}) + "\n")
    (folder / "qrels" / f"{split}.tsv").write_text(
        "query-id\tcorpus-id\tscore\n"
        + "".join(f"{q}\t{d}\t1\n" for q, (_, d) in questions.items())
    )
    return folder


SQUAD_PARAGRAPHS = [
    (
        "The Moon's gravity raises ocean tides. Spring tides follow the full and new moons.",
        [("What raises ocean tides?", "The Moon's gravity"), ("Who built the tide clock?", None)],
    ),
    (
        "Volcanoes erupt when buoyant magma rises through cracks in the crust.",
        [("Why do volcanoes erupt?", "buoyant magma rises"), ("When did Etna erupt?", None)],
    ),
]


def write_squad(path: Path) -> Path:
    """A SQuAD 2.0 file: two paragraphs, each with an answerable and an unanswerable
    question."""
    paragraphs = []
    for n, (context, questions) in enumerate(SQUAD_PARAGRAPHS):
        qas = [
            {
                "id": f"q{n}-{i}",
                "question": question,
                "is_impossible": gold is None,
                "answers": [] if gold is None else [{"text": gold, "answer_start": 0}],
            }
            for i, (question, gold) in enumerate(questions)
        ]
        paragraphs.append({"context": context, "qas": qas})
    path.write_text(
        json.dumps({"version": "v2.0", "data": [{"title": "Nature", "paragraphs": paragraphs}]})
    )
    return path


def render_text_page(
    text: str,
    *,
    font_path: str | None = None,
    size: int = 36,
    width: int = 1700,
    height: int = 2200,
):
    """A white page (PIL image, grayscale) with ``text`` typeset on it in black, wrapped at
    the margins: a scan of known text, for OCR. Pillow's own scalable font unless
    ``font_path`` names a TrueType file."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(font_path, size) if font_path else ImageFont.load_default(size=size)
    page = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(page)
    margin, y, line = width // 10, height // 14, ""
    for word in text.split():
        longer = f"{line} {word}".strip()
        if line and draw.textlength(longer, font=font) > width - 2 * margin:
            draw.text((margin, y), line, font=font, fill=0)
            y, line = y + int(size * 1.6), word
        else:
            line = longer
    draw.text((margin, y), line, font=font, fill=0)
    return page


def image_bytes(image, kind: str = "PNG", **options) -> bytes:
    """``image`` encoded as PNG, JPEG, TIFF, or PDF (an image-only PDF: a scan); a list
    of images makes a multi-page TIFF or PDF."""
    import io

    pages = image if isinstance(image, list) else [image]
    out = io.BytesIO()
    pages[0].save(out, kind, save_all=len(pages) > 1, append_images=pages[1:], **options)
    return out.getvalue()


def join_pdfs(*pdfs: bytes) -> bytes:
    """One PDF with the pages of ``pdfs`` in order (a text PDF with scanned pages in it)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for pdf in pdfs:
        for page in PdfReader(io.BytesIO(pdf)).pages:
            writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
