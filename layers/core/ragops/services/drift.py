"""Query drift, offline (``ragops monitor drift``: two files of questions) and live (a
sliding window of the questions this process answers, reported as gauges).

The statistics are in ``ragops.domain.drift``. Both need numpy: the API Lambda carries
none, so the bootstrap builds no live monitor there and the query path runs without one.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ragops.domain.drift import MIN_WINDOW, DriftReport, check_window_sizes, compare_windows
from ragops.domain.models import SearchMode
from ragops.errors import InvalidInput
from ragops.ports import Embedder, MetricsSink, VectorTier
from ragops.services.answering import best_similarity
from ragops.services.jsonl import read_json_lines

log = logging.getLogger(__name__)

EMBED_BATCH = 64

Progress = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)``."""


def load_questions(path: Path) -> list[str]:
    """The questions of a JSON-lines file, one ``{"text": ...}`` object a line (other
    fields are ignored, blank lines skipped); ``InvalidInput`` names the first bad line."""
    questions: list[str] = []
    for number, row in read_json_lines(path):
        text = row.get("text") if isinstance(row, dict) else None
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput(f'{path}, line {number}: expected an object with a "text" field')
        questions.append(text.strip())
    return questions


def _embed(
    embedder: Embedder, texts: Sequence[str], stage: str, progress: Progress | None
) -> np.ndarray:
    rows = []
    for start in range(0, len(texts), EMBED_BATCH):
        rows.append(np.asarray(embedder.embed_array(list(texts[start : start + EMBED_BATCH]))))
        if progress:
            progress(stage, min(start + EMBED_BATCH, len(texts)), len(texts))
    return np.vstack(rows).astype(np.float32)


def best_similarities(
    index: VectorTier,
    tenant: str,
    texts: Sequence[str],
    embeddings: np.ndarray,
    top_k: int,
    stage: str = "searching",
    progress: Progress | None = None,
) -> list[float | None]:
    """Each question's best passage similarity among ``tenant``'s documents, searched as
    the query path searches (hybrid, ``top_k``)."""
    found: list[float | None] = []
    for position, (text, embedding) in enumerate(zip(texts, embeddings, strict=True)):
        hits = index.search(tenant, text, embedding, top_k, SearchMode.HYBRID)
        found.append(best_similarity(hits))
        if progress and ((position + 1) % 50 == 0 or position + 1 == len(texts)):
            progress(stage, position + 1, len(texts))
    return found


def measure_drift(
    embedder: Embedder,
    reference: Sequence[str],
    current: Sequence[str],
    *,
    index: VectorTier | None = None,
    tenant: str | None = None,
    top_k: int = 5,
    progress: Progress | None = None,
) -> DriftReport:
    """Compare the ``current`` questions with the ``reference`` ones: their embeddings,
    and with ``index`` and ``tenant`` their best passage similarities among the tenant's
    documents (a tenant without documents leaves that part out, and the details say so).
    ``InvalidInput`` if either has fewer than ``MIN_WINDOW`` questions."""
    check_window_sizes(len(reference), len(current))
    ref_embeddings = _embed(embedder, reference, "embedding reference", progress)
    cur_embeddings = _embed(embedder, current, "embedding current", progress)
    ref_similarities = cur_similarities = None
    if index is None or tenant is None:
        note = "no tenant given: embeddings compared only"
    elif index.count(tenant) == 0:
        note = f"tenant {tenant!r} has no documents: embeddings compared only"
    else:
        note = ""
        ref_similarities = best_similarities(
            index, tenant, reference, ref_embeddings, top_k, "searching reference", progress
        )
        cur_similarities = best_similarities(
            index, tenant, current, cur_embeddings, top_k, "searching current", progress
        )
    report = compare_windows(
        ref_embeddings,
        cur_embeddings,
        ref_similarities,
        cur_similarities,
        similarity_note=note,
    )
    report.details["embedding_model"] = embedder.model_id
    if tenant is not None:
        report.details["tenant"] = tenant
    return report


def _run_in_thread(job: Callable[[], None]) -> None:
    threading.Thread(target=job, name="ragops-drift", daemon=True).start()


class DriftMonitor:
    """The live drift check: the embeddings and best passage similarities of the last
    ``window`` questions this process retrieved for (all tenants together: metric labels
    never name a tenant), compared with a fixed reference every ``every`` questions once
    the window is full. Each check sets two gauges: ``query_drift_score`` (drift above
    1.0) and ``query_drift`` (1 when flagged, else 0).

    The reference is the questions of a file, embedded on the first check (it has no
    passage similarities, so only embeddings are compared), or, without one, the first
    ``window`` questions this process saw (a restart starts a new reference). Checks run
    off the request thread (``run``), one at a time; ``observe`` only appends to a
    bounded deque, and never raises.
    """

    def __init__(
        self,
        metrics: MetricsSink,
        *,
        window: int = 300,
        every: int = 50,
        reference_questions: Sequence[str] | None = None,
        embed: Callable[[Sequence[str]], Any] | None = None,
        run: Callable[[Callable[[], None]], None] = _run_in_thread,
    ) -> None:
        if window < MIN_WINDOW:
            raise InvalidInput(f"the drift window must hold at least {MIN_WINDOW} questions")
        if reference_questions is not None:
            check_window_sizes(len(reference_questions), window)
            if embed is None:
                raise InvalidInput("a reference file needs an embedder")
        self.metrics = metrics
        self.window = window
        self.every = max(1, every)
        self.last: DriftReport | None = None
        """The latest check's report (None before the first)."""
        self.checks = 0
        self._reference_questions = list(reference_questions or [])
        self._embed = embed
        self._run = run
        self._lock = threading.Lock()
        self._reference: list[tuple[np.ndarray, float | None]] = []
        self._reference_ready = False
        self._recent: deque[tuple[np.ndarray, float | None]] = deque(maxlen=window)
        self._since_check = 0
        self._checking = False
        self._dimensions: int | None = None

    def observe(self, embedding: Any, similarity: float | None) -> None:
        """Record one question; start a check when one is due."""
        try:
            row = np.asarray(embedding, dtype=np.float32).ravel()
            with self._lock:
                if self._dimensions is None:
                    self._dimensions = row.size
                elif row.size != self._dimensions:
                    log.warning("query drift: an embedding of another size was left out")
                    return
                if not self._reference_questions and not self._reference_ready:
                    self._reference.append((row, similarity))
                    self._reference_ready = len(self._reference) >= self.window
                    return
                self._recent.append((row, similarity))
                self._since_check += 1
                due = (
                    len(self._recent) == self.window
                    and self._since_check >= self.every
                    and not self._checking
                )
                if not due:
                    return
                self._since_check = 0
                self._checking = True
                current = list(self._recent)
            try:
                self._run(lambda: self._check(current))
            except Exception:
                with self._lock:  # try again with the next question
                    self._checking = False
                    self._since_check = self.every
                raise
        except Exception:  # the query must never fail for its monitor
            log.warning("query drift: could not record a question", exc_info=True)

    def _reference_rows(self) -> tuple[np.ndarray, list[float | None] | None, str]:
        if not self._reference_ready:
            assert self._embed is not None
            vectors = np.asarray(self._embed(self._reference_questions), dtype=np.float32)
            self._reference = [(row, None) for row in vectors]
            self._reference_ready = True
        rows = np.vstack([row for row, _ in self._reference])
        if self._reference_questions:
            return rows, None, "the reference file has no passage similarities"
        return rows, [s for _, s in self._reference], ""

    def _check(self, current: list[tuple[np.ndarray, float | None]]) -> None:
        try:
            reference, ref_similarities, note = self._reference_rows()
            report = compare_windows(
                reference,
                np.vstack([row for row, _ in current]),
                ref_similarities,
                [s for _, s in current] if ref_similarities is not None else None,
                similarity_note=note,
            )
            self.last = report
            self.checks += 1
            self.metrics.gauge("query_drift_score", report.score)
            self.metrics.gauge("query_drift", 1.0 if report.drift else 0.0)
            if report.drift:
                log.warning(
                    "query drift: score %.2f over the last %d questions", report.score, len(current)
                )
        except Exception:
            log.warning("query drift: the check failed", exc_info=True)
        finally:
            with self._lock:
                self._checking = False
