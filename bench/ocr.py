"""OCR accuracy on pages rendered from known text: several fonts and sizes, one page
turned sideways, one at low resolution. Character accuracy is 1 - (edit distance /
length of the known text), whitespace normalised, per page and overall.

    python bench/ocr.py [--json]

Tesseract (Debian's tesseract-ocr) through the product's own recognizer
(``TesseractRecognizer``), each page given as a PNG, as an upload would be, and the
whole set once more as one image-only PDF (a scanned document).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ragops.adapters.tesseract_ocr import TesseractRecognizer
from tests.samples import image_bytes, render_text_page

TEXTS = [
    "Glaciers carve U-shaped valleys as they slide downhill. The Aletsch Glacier is the "
    "largest glacier in the Alps, about 23 kilometres long, and it lost 1.3 km between "
    "1980 and 2020.",
    "Invoice 2024-0117: 3 boxes of printer paper at $12.40 each, shipped to 14 Harbour "
    "Road, Leith, on 7 March. Payment is due within 30 days of delivery.",
    "The quarterly report shows revenue of 4.2 million euros, up 8% on the year; costs "
    "rose 3%, mostly for energy. The board meets again on 15 October.",
]
LIBERATION = Path("/usr/share/fonts/truetype/liberation")
DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
CASES = [
    # (name, font file or None for Pillow's own, size in px, what is done to the page)
    ("Pillow sans 36 px", None, 36, None),
    ("Pillow sans 24 px", None, 24, None),
    ("Liberation Serif 40 px", LIBERATION / "LiberationSerif-Regular.ttf", 40, None),
    ("Liberation Mono 30 px", LIBERATION / "LiberationMono-Regular.ttf", 30, None),
    ("DejaVu Sans Bold 34 px", DEJAVU / "DejaVuSans-Bold.ttf", 34, None),
    (
        "Liberation Sans 36 px, turned 90 degrees",
        LIBERATION / "LiberationSans-Regular.ttf",
        36,
        "rotated",
    ),
    ("Pillow sans 36 px at a quarter of the resolution", None, 36, "low-resolution"),
]


def distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def accuracy(truth: str, read: str) -> float:
    truth, read = " ".join(truth.split()), " ".join(read.split())
    return max(0.0, 1 - distance(truth, read) / len(truth))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    recognizer = TesseractRecognizer()
    rows, pages, truths = [], [], []
    for n, (name, font, size, change) in enumerate(CASES):
        if font is not None and not font.exists():
            print(f"skipping {name}: {font} is not installed", file=sys.stderr)
            continue
        text = TEXTS[n % len(TEXTS)]
        page = render_text_page(text, font_path=str(font) if font else None, size=size)
        if change == "rotated":
            page = page.rotate(90, expand=True)
        elif change == "low-resolution":
            page = page.resize((page.width // 4, page.height // 4))
        started = time.perf_counter()
        read = recognizer.recognize("page.png", image_bytes(page), "image/png")
        seconds = time.perf_counter() - started
        page_read = read.pages[0]
        rows.append(
            {
                "page": name,
                "pixels": f"{page.width}x{page.height}",
                "accuracy": round(accuracy(text, page_read.text), 4),
                "confidence": page_read.confidence,
                "seconds": round(seconds, 2),
            }
        )
        pages.append(page.convert("RGB"))
        truths.append(text)
    started = time.perf_counter()
    scanned = recognizer.recognize(
        "scan.pdf", image_bytes(pages, "PDF", resolution=150), "application/pdf"
    )
    pdf_seconds = time.perf_counter() - started
    pdf_accuracy = [accuracy(t, p.text) for t, p in zip(truths, scanned.pages, strict=True)]
    overall = sum(r["accuracy"] * len(t) for r, t in zip(rows, truths, strict=True)) / sum(
        map(len, truths)
    )
    report = {
        "engine": scanned.engine,
        "pages": rows,
        "character_accuracy": round(overall, 4),
        "scanned_pdf": {
            "pages": len(scanned.pages),
            "character_accuracy": round(sum(pdf_accuracy) / len(pdf_accuracy), 4),
            "mean_confidence": scanned.confidence,
            "seconds": round(pdf_seconds, 1),
        },
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{'page':52} {'pixels':>10} {'accuracy':>9} {'confidence':>11} {'seconds':>8}")
    for r in rows:
        figures = f"{r['accuracy']:>9.2%} {r['confidence']:>10.1f}% {r['seconds']:>8.2f}"
        print(f"{r['page']:52} {r['pixels']:>10} {figures}")
    pdf = report["scanned_pdf"]
    print(f"\nall pages: character accuracy {overall:.2%} ({scanned.engine})")
    print(
        f"the same pages as one scanned PDF: {pdf['character_accuracy']:.2%}, "
        f"mean confidence {pdf['mean_confidence']}%, {pdf['seconds']} s for {pdf['pages']} pages"
    )


if __name__ == "__main__":
    main()
