"""Precision and recall of the PII detector on a labelled data set (presidio-research
format: a JSON list of ``{"full_text", "spans": [{"entity_type", "start_position",
"end_position"}]}``).

A detected span counts for precision when it overlaps a labelled span of the same type; a
labelled span counts for recall when a detected span of its type overlaps it. Only the
types the detector knows are scored (names, addresses and the like are not its job).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ragops.domain.pii import PiiType, find_pii
from ragops.errors import InvalidInput


@dataclass(frozen=True)
class PiiScore:
    precision: float
    recall: float
    support: int
    detected: int


def _load(path: Path) -> list[dict]:
    try:
        samples = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InvalidInput(f"{path}: no such file") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"{path}: not a JSON file ({exc})") from exc
    if not isinstance(samples, list) or not all(
        isinstance(s, dict) and isinstance(s.get("full_text"), str) for s in samples
    ):
        raise InvalidInput(f"{path}: expected a list of objects with full_text and spans")
    return samples


def evaluate_pii(path: Path) -> dict[str, PiiScore]:
    """Scores per entity type present in the data set or detected in it."""
    known = {kind.value for kind in PiiType}
    detected, detected_right, support, found = Counter(), Counter(), Counter(), Counter()
    for sample in _load(path):
        text = sample["full_text"]
        try:
            gold = [
                (span["entity_type"], int(span["start_position"]), int(span["end_position"]))
                for span in sample.get("spans", [])
                if span.get("entity_type") in known
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"{path}: a span lacks entity_type or positions ({exc})") from exc
        spans = find_pii(text)
        for span in spans:
            detected[span.kind.value] += 1
            if any(k == span.kind and s < span.end and span.start < e for k, s, e in gold):
                detected_right[span.kind.value] += 1
        for kind, start, end in gold:
            support[kind] += 1
            if any(p.kind == kind and start < p.end and p.start < end for p in spans):
                found[kind] += 1
    return {
        kind: PiiScore(
            precision=round(detected_right[kind] / detected[kind], 4) if detected[kind] else 0.0,
            recall=round(found[kind] / support[kind], 4) if support[kind] else 0.0,
            support=support[kind],
            detected=detected[kind],
        )
        for kind in sorted(set(support) | set(detected))
    }
