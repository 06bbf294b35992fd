"""OCR with Tesseract (Debian's ``tesseract-ocr``, through pytesseract): images (PNG,
JPEG, every frame of a TIFF) and the pages of a scanned PDF, rendered at 300 dpi by
pypdfium2. Nothing is downloaded: the engine and its English model come from the OS.

Each page is read once as it is; a page read with little confidence is read again turned
by 90, 180 and 270 degrees, and the best reading kept (a page scanned sideways). A small
image (a low-resolution scan) is enlarged first: Tesseract reads letters of about 20-30
pixels best.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any

from ragops.domain.models import RecognizedPage, RecognizedText
from ragops.errors import DocumentRejected, NoTextExtracted

logger = logging.getLogger(__name__)

RENDER_DPI = 300
MIN_SIDE = 2000
"""Pixels: an image whose longer side is shorter is enlarged to it."""
RETRY_BELOW_CONFIDENCE = 70.0
MAX_PAGES = 500


class TesseractRecognizer:
    """The ``TextRecognizer`` port with Tesseract, in process (``language``: a Tesseract
    language code whose model the OS has, ``eng`` by default)."""

    engine = "tesseract"
    reads_stored_files = False

    def __init__(self, language: str = "eng", dpi: int = RENDER_DPI) -> None:
        self.language = language
        self.dpi = dpi

    def recognize(
        self, filename: str, data: bytes, content_type: str, *, stored_key: str | None = None
    ) -> RecognizedText:
        try:
            import pytesseract

            version = str(pytesseract.get_tesseract_version()).split()[0]
        except (ImportError, OSError) as exc:  # TesseractNotFoundError is an OSError
            logger.warning("OCR unavailable: %s", exc)
            raise NoTextExtracted(
                filename,
                "it has no text to extract, and OCR is not available here "
                "(install Debian's tesseract-ocr to read scanned documents and images)",
            ) from exc
        pages = [
            self._read(n, image)
            for n, image in enumerate(self._images(filename, data, content_type), 1)
        ]
        if not any(page.text.strip() for page in pages):
            raise NoTextExtracted(filename, "OCR found no text in it")
        return RecognizedText(f"tesseract {version}", pages)

    def _images(self, filename: str, data: bytes, content_type: str) -> Iterator[Any]:
        if content_type == "application/pdf":
            import pypdfium2 as pdfium

            try:
                document = pdfium.PdfDocument(data)
            except pdfium.PdfiumError as exc:
                raise DocumentRejected(filename, f"corrupt PDF: {exc}") from exc
            if len(document) > MAX_PAGES:
                raise DocumentRejected(
                    filename,
                    f"a scanned PDF of {len(document)} pages; OCR reads {MAX_PAGES} at most",
                )
            for page in document:
                yield page.render(scale=self.dpi / 72).to_pil()
            return
        from PIL import Image, ImageSequence

        try:
            image = Image.open(io.BytesIO(data))
            image.load()
        except Image.UnidentifiedImageError as exc:
            raise DocumentRejected(
                filename, "corrupt image: not a readable PNG, JPEG or TIFF"
            ) from exc
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            raise DocumentRejected(filename, f"corrupt image: {exc}") from exc
        for number, frame in enumerate(ImageSequence.Iterator(image)):
            if number >= MAX_PAGES:
                break
            yield frame.copy()

    def _read(self, number: int, image: Any) -> RecognizedPage:
        image = _prepared(image)
        text, confidence = self._ocr(image)
        if confidence < RETRY_BELOW_CONFIDENCE:
            for angle in (90, 180, 270):
                turned_text, turned = self._ocr(image.rotate(angle, expand=True))
                if turned > confidence + 10 and len(turned_text) >= len(text) // 2:
                    text, confidence = turned_text, turned
        return RecognizedPage(number, text, confidence)

    def _ocr(self, image: Any) -> tuple[str, float]:
        """The page's text (lines as read, paragraphs apart) and mean word confidence."""
        import pytesseract

        data = pytesseract.image_to_data(
            image, lang=self.language, output_type=pytesseract.Output.DICT
        )
        lines: dict[tuple[int, int, int], list[str]] = {}
        confidences: list[float] = []
        for i, word in enumerate(data["text"]):
            confidence = float(data["conf"][i])
            if confidence < 0 or not word.strip():
                continue
            confidences.append(confidence)
            key = (data["block_num"][i], data["par_num"][i], data["line_num"][i])
            lines.setdefault(key, []).append(word)
        text, previous = [], None
        for key, words in lines.items():
            if previous is not None and key[:2] != previous[:2]:
                text.append("")  # a new paragraph
            text.append(" ".join(words))
            previous = key
        mean = sum(confidences) / len(confidences) if confidences else 0.0
        return "\n".join(text), round(mean, 1)


def _prepared(image: Any) -> Any:
    """Grayscale, and enlarged when small (a low-resolution scan)."""
    from PIL import Image

    image = image.convert("L")
    longest = max(image.size)
    if 0 < longest < MIN_SIDE:
        scale = MIN_SIDE / longest
        image = image.resize(
            (round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS
        )
    return image
