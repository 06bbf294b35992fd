"""Document quality checks run at ingestion: near-empty text, extraction garbage, language,
and exact or near-duplicate documents of the same tenant.

Findings are advice stored with the document (``DocumentRecord.quality``): they never
stop a document from being indexed. The one exception is a well-formed file with no text
at all (a scanned PDF), which cannot be indexed; it is kept as a ``failed`` document with
an ``empty_text`` finding so that nothing uploaded is lost.

Near duplicates are found with MinHash over word 5-shingles (an estimate of the Jaccard
similarity of two documents' shingle sets) and LSH banding, so a new document is compared
only with the few that share a band, not with the whole tenant.
"""

from __future__ import annotations

import functools
import re
import unicodedata
import zlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

Severity = Literal["info", "warning", "error"]

NEAR_EMPTY_CHARACTERS = 200
"""Below this many non-space characters a document says too little to be found by search."""
GARBAGE_WARNING_RATIO = 0.10
"""Share of garbage characters (see ``garbage_ratio``) from which extraction is suspect."""
NEAR_DUPLICATE_SIMILARITY = 0.80
"""Estimated Jaccard similarity of 5-word shingles from which two documents are near
duplicates (edited copies, the same text in another layout)."""
LANGUAGE_MIN_CHARACTERS = 50

SHINGLE_WORDS = 5
PERMUTATIONS = 64
BANDS = 16  # of 4 rows: pairs at similarity 0.8 share a band with probability 0.9998
_PRIME = (1 << 61) - 1
_MAX_HASH = (1 << 32) - 1
# Fixed coefficients: signatures must be comparable across processes and releases.
_COEFFICIENTS = [
    (
        zlib.crc32(f"a{i}".encode()) * 2654435761 % _PRIME or 1,
        zlib.crc32(f"b{i}".encode()) * 40503 % _PRIME,
    )
    for i in range(PERMUTATIONS)
]
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class QualityFinding:
    """One finding: which ``check``, how serious, what it means in words, and where it
    applies the other document (duplicates) or the measured value."""

    check: str
    severity: Severity
    message: str
    related_doc_id: str | None = None
    value: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QualityFinding:
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})


def _is_garbage(character: str) -> bool:
    if character == "\ufffd":  # the replacement character: undecodable bytes
        return True
    category = unicodedata.category(character)
    if category in ("Co", "Cs", "Cn"):  # private use (unmapped glyphs), surrogates, unassigned
        return True
    return category.startswith("C") and character not in "\n\r\t"


def garbage_ratio(text: str) -> float:
    """The share of non-space characters that are extraction garbage: replacement and
    control characters, private-use glyphs, and runs of four or more symbols without a
    letter or digit (ligature and font-map debris from PDFs)."""
    visible = [c for c in text if not c.isspace()]
    if not visible:
        return 0.0
    bad = sum(1 for c in visible if _is_garbage(c))
    for token in text.split():
        if len(token) >= 4 and not any(c.isalnum() for c in token):
            bad += sum(1 for c in token if not _is_garbage(c))
    return min(1.0, bad / len(visible))


def text_findings(text: str, language: str | None) -> list[QualityFinding]:
    """The findings about one document's extracted ``text`` (``language``: an ISO 639-1
    code from ``detect_language``, or None when it could not be told)."""
    findings: list[QualityFinding] = []
    characters = sum(1 for c in text if not c.isspace())
    if characters < NEAR_EMPTY_CHARACTERS:
        findings.append(
            QualityFinding(
                "near_empty_text",
                "warning",
                f"only {characters} characters of text were extracted: search will rarely "
                "find it (a mostly scanned PDF needs OCR first)",
                value=float(characters),
            )
        )
    ratio = garbage_ratio(text)
    if ratio >= GARBAGE_WARNING_RATIO:
        findings.append(
            QualityFinding(
                "extraction_garbage",
                "warning",
                f"{ratio:.0%} of the extracted characters are unreadable (broken fonts or "
                "encoding): answers from it may be wrong",
                value=round(ratio, 4),
            )
        )
    if language:
        findings.append(QualityFinding("language", "info", f"language: {language}"))
    return findings


def empty_text_finding(reason: str) -> QualityFinding:
    return QualityFinding("empty_text", "error", reason)


OCR_LOW_CONFIDENCE = 80.0
"""Below this mean word confidence, an OCR'd document's finding is a warning."""


def ocr_finding(
    engine: str,
    confidence: float,
    pages: int,
    *,
    of_pages: int | None = None,
    unit: str = "page",
) -> QualityFinding:
    """The text was read by OCR: which engine, over how many pages (or pictures: ``unit``),
    how confidently. ``of_pages``: the PDF's page count, where OCR read only its pages
    without text."""
    low = confidence < OCR_LOW_CONFIDENCE
    plural = "s" if pages != 1 else ""
    read = (
        f"the text was read by OCR ({engine}, {pages} {unit}{plural})"
        if of_pages is None
        else f"{pages} of {of_pages} pages had no text layer and were read by OCR ({engine})"
    )
    message = f"{read}; mean word confidence {confidence:.0f}%" + (
        "; parts of it may be misread" if low else ""
    )
    return QualityFinding("ocr", "warning" if low else "info", message, value=confidence)


def detect_language(text: str) -> str | None:
    """The language's code (ISO 639-1, ``en``, where it has one; ``yue`` where not), or
    None for too little text or no detector installed (py3langid, which ships its model;
    the API function has none and skips this)."""
    if sum(1 for c in text if not c.isspace()) < LANGUAGE_MIN_CHARACTERS:
        return None
    try:
        import py3langid
    except ImportError:
        return None
    language, _ = py3langid.classify(text[:20_000])
    return str(language)


def shingles(text: str) -> set[int]:
    """32-bit hashes of the text's lower-cased 5-word shingles (the words themselves when
    shorter)."""
    words = [w.lower() for w in _WORD.findall(text)]
    if len(words) < SHINGLE_WORDS:
        return {zlib.crc32(" ".join(words).encode())} if words else set()
    return {
        zlib.crc32(" ".join(words[i : i + SHINGLE_WORDS]).encode())
        for i in range(len(words) - SHINGLE_WORDS + 1)
    }


def minhash(text: str) -> list[int]:
    """The MinHash signature of the text's shingles (``PERMUTATIONS`` values)."""
    hashed = shingles(text)
    if not hashed:
        return [_MAX_HASH] * PERMUTATIONS
    try:
        import numpy  # noqa: F401  (the ingest paths have it; the API function may not)
    except ImportError:
        return minhash_of(hashed)
    return _minhash_numpy(hashed)


def minhash_of(hashed: set[int]) -> list[int]:
    """The signature of shingle hashes, in Python integers: the definition."""
    return [min(((a * h + b) % _PRIME) & _MAX_HASH for h in hashed) for a, b in _COEFFICIENTS]


def _minhash_numpy(hashed: set[int]) -> list[int]:
    """``minhash_of`` in 64-bit numpy arithmetic, value for value (stored signatures must
    stay comparable); it was 30% of ingesting short documents in Python.

    ``a * h`` needs up to 93 bits, so ``a`` is split at bit 32: ``a_hi * h`` and
    ``a_lo * h`` each fit 64 bits, and modulo the Mersenne prime 2^61 - 1 a product is
    folded with shifts (2^61 = 1).
    """
    import numpy as np

    h = np.fromiter(hashed, dtype=np.uint64, count=len(hashed))[None, :]
    a_hi, a_lo, b = (c[:, None] for c in _numpy_coefficients())
    prime = np.uint64(_PRIME)
    high = a_hi * h  # < 2^61; times 2^32 modulo the prime:
    value = ((high & np.uint64((1 << 29) - 1)) << np.uint64(32)) + (high >> np.uint64(29))
    low = a_lo * h  # < 2^64
    value += (low & prime) + (low >> np.uint64(61)) + b  # < 2^63: no overflow
    for _ in range(2):
        value = (value & prime) + (value >> np.uint64(61))
    value = np.where(value >= prime, value - prime, value)
    return [int(x) for x in (value & np.uint64(_MAX_HASH)).min(axis=1)]


@functools.cache
def _numpy_coefficients() -> tuple[Any, Any, Any]:
    import numpy as np

    a = np.array([a for a, _ in _COEFFICIENTS], dtype=np.uint64)
    b = np.array([b for _, b in _COEFFICIENTS], dtype=np.uint64)
    return a >> np.uint64(32), a & np.uint64(_MAX_HASH), b


def similarity(first: list[int], second: list[int]) -> float:
    """The estimated Jaccard similarity of two signatures."""
    return sum(1 for x, y in zip(first, second, strict=True) if x == y) / PERMUTATIONS


def _bands(signature: list[int]) -> Iterable[tuple[int, tuple[int, ...]]]:
    rows = PERMUTATIONS // BANDS
    for band in range(BANDS):
        yield band, tuple(signature[band * rows : (band + 1) * rows])


class DuplicateIndex:
    """The tenant's documents by content hash and MinHash signature, to find exact and
    near duplicates of a new one. ``to_dict``/``from_dict`` store it as one object."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[str, list[int]]] = {}
        self._hashes: dict[str, set[str]] = {}
        self._buckets: dict[tuple[int, tuple[int, ...]], set[str]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._entries

    def add(self, doc_id: str, content_hash: str, signature: list[int]) -> None:
        self.remove(doc_id)
        self._entries[doc_id] = (content_hash, signature)
        self._hashes.setdefault(content_hash, set()).add(doc_id)
        for key in _bands(signature):
            self._buckets.setdefault(key, set()).add(doc_id)

    def remove(self, doc_id: str) -> None:
        entry = self._entries.pop(doc_id, None)
        if entry is None:
            return
        content_hash, signature = entry
        self._hashes.get(content_hash, set()).discard(doc_id)
        for key in _bands(signature):
            self._buckets.get(key, set()).discard(doc_id)

    def findings(
        self, doc_id: str, content_hash: str, signature: list[int]
    ) -> list[QualityFinding]:
        """An ``exact_duplicate`` finding naming the other document with the same bytes,
        else a ``near_duplicate`` one naming the most similar document at or above
        ``NEAR_DUPLICATE_SIMILARITY``; none otherwise."""
        same = sorted(self._hashes.get(content_hash, set()) - {doc_id})
        if same:
            return [
                QualityFinding(
                    "exact_duplicate",
                    "warning",
                    f"the same file is already document {same[0]}: search shows both",
                    related_doc_id=same[0],
                    value=1.0,
                )
            ]
        candidates: set[str] = set()
        for key in _bands(signature):
            candidates |= self._buckets.get(key, set())
        candidates.discard(doc_id)
        best, best_similarity = None, 0.0
        for other in sorted(candidates):
            score = similarity(signature, self._entries[other][1])
            if score > best_similarity:
                best, best_similarity = other, score
        if best is None or best_similarity < NEAR_DUPLICATE_SIMILARITY:
            return []
        return [
            QualityFinding(
                "near_duplicate",
                "warning",
                f"about {best_similarity:.0%} of its text is also in document {best}",
                related_doc_id=best,
                value=round(best_similarity, 4),
            )
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": 1,
            "documents": {d: [h, s] for d, (h, s) in sorted(self._entries.items())},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DuplicateIndex:
        index = cls()
        for doc_id, (content_hash, signature) in data.get("documents", {}).items():
            if len(signature) == PERMUTATIONS:
                index.add(doc_id, content_hash, [int(v) for v in signature])
        return index
