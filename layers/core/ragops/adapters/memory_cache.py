"""The embedded default's answer cache: entries in process memory (LRU, with a TTL and a
size limit), generations in small files under the data directory, and the semantic index
of cached questions as one numpy matrix per tenant and partition.

Generations live on disk, not in memory, because a second process on the same data (a
``ragops ingest`` beside ``ragops serve``) changes the corpus too: the server reads the
tenant's generation file on every lookup (one small read), so it sees that change at once.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from ragops.domain.cache import Candidate
from ragops.errors import CacheUnavailable


class FileGenerations:
    """Per-tenant generation counters, one file each, updated atomically (write + rename)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._lock = threading.Lock()

    def _path(self, tenant: str) -> Path:
        return self.folder / tenant

    def get(self, tenant: str) -> int:
        try:
            return int(self._path(tenant).read_text().strip() or 0)
        except FileNotFoundError:
            return 0
        except (OSError, ValueError) as exc:
            raise CacheUnavailable(
                f"cannot read the cache generation of {tenant!r}: {exc}"
            ) from exc

    def bump(self, tenant: str) -> int:
        with self._lock:
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
                value = self.get(tenant) + 1
                tmp = self._path(tenant).with_suffix(f".{os.getpid()}.tmp")
                tmp.write_text(str(value))
                tmp.replace(self._path(tenant))
                return value
            except OSError as exc:
                raise CacheUnavailable(f"cannot move the cache generation on: {exc}") from exc


class InMemoryCacheStore:
    """``CacheStore`` in this process: at most ``max_entries`` entries (least recently used
    evicted first), each expiring ``ttl_seconds`` after it was written. ``generations``
    defaults to counters in memory (one process only); pass ``FileGenerations`` to share
    them with other processes on the same data directory."""

    def __init__(
        self,
        max_entries: int = 10_000,
        generations: FileGenerations | None = None,
        clock: Any = time.monotonic,
    ) -> None:
        self.max_entries = max_entries
        self._generations = generations
        self._counters: dict[str, int] = {}
        self._entries: OrderedDict[tuple[str, str], tuple[float, dict[str, Any]]] = OrderedDict()
        self._exact: dict[tuple[str, str, str], str] = {}
        self._clock = clock
        self._lock = threading.Lock()

    def generation(self, tenant: str) -> int:
        if self._generations is not None:
            return self._generations.get(tenant)
        return self._counters.get(tenant, 0)

    def bump_generation(self, tenant: str) -> int:
        if self._generations is not None:
            value = self._generations.bump(tenant)
        else:
            with self._lock:
                value = self._counters[tenant] = self._counters.get(tenant, 0) + 1
        with self._lock:  # old entries can never be found again: free their memory now
            for key in [k for k in self._entries if k[0] == tenant]:
                del self._entries[key]
            for key in [k for k in self._exact if k[0] == tenant]:
                del self._exact[key]
        return value

    def get_exact(self, tenant: str, partition: str, key: str) -> str | None:
        with self._lock:
            return self._exact.get((tenant, partition, key))

    def get_entry(self, tenant: str, entry_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._entries.get((tenant, entry_id))
            if found is None:
                return None
            expires, entry = found
            if self._clock() >= expires:
                del self._entries[(tenant, entry_id)]
                return None
            self._entries.move_to_end((tenant, entry_id))
            return entry

    def put(
        self,
        tenant: str,
        partition: str,
        key: str,
        entry_id: str,
        entry: dict[str, Any],
        ttl_seconds: int,
    ) -> None:
        with self._lock:
            self._entries[(tenant, entry_id)] = (self._clock() + ttl_seconds, entry)
            self._entries.move_to_end((tenant, entry_id))
            self._exact[(tenant, partition, key)] = entry_id
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def ping(self) -> None:
        return None

    def __len__(self) -> int:
        return len(self._entries)


class NumpyQuestionIndex:
    """``QuestionIndex`` as one float32 matrix per (tenant, partition), searched exactly by
    a matrix product. Partitions of a tenant's older generations are dropped when a newer
    one is written, and each partition keeps its ``max_per_partition`` newest questions."""

    def __init__(self, max_per_partition: int = 200_000) -> None:
        self.max_per_partition = max_per_partition
        self._parts: dict[tuple[str, str], _Partition] = {}
        self._lock = threading.Lock()

    def add(
        self, tenant: str, partition: str, entry_id: str, question: str, embedding: Any
    ) -> None:
        import numpy as np

        vector = np.asarray(embedding, dtype=np.float32).reshape(-1)
        generation = partition.split(":", 1)[0]
        with self._lock:
            for key in [k for k in self._parts if k[0] == tenant and k[1] != partition]:
                if key[1].split(":", 1)[0] != generation:
                    del self._parts[key]
            part = self._parts.get((tenant, partition))
            if part is None:
                part = self._parts[(tenant, partition)] = _Partition(vector.shape[0])
            part.add(entry_id, question, vector, self.max_per_partition)

    def add_many(
        self, tenant: str, partition: str, entry_ids: list[str], questions: list[str], matrix: Any
    ) -> None:
        """Bulk load (benchmarks and evaluation): the same as ``add`` for each row."""
        import numpy as np

        matrix = np.asarray(matrix, dtype=np.float32)
        with self._lock:
            part = self._parts.get((tenant, partition))
            if part is None:
                part = self._parts[(tenant, partition)] = _Partition(matrix.shape[1])
            part.extend(entry_ids, questions, matrix, self.max_per_partition)

    def nearest(
        self, tenant: str, partition: str, embedding: Any, k: int, question: str | None = None
    ) -> list[Candidate]:
        """The ``k`` cached questions of highest cosine, exactly scored. Above
        ``PREFILTER_ROWS`` rows the exact scoring is of the ``PREFILTER_KEEP`` rows whose
        signs (one bit per dimension) differ least from the question's: reading 48 bytes a
        row instead of 1,536 keeps a lookup in 100k questions at a few milliseconds, and a
        question near enough to be a duplicate differs from its twin in far fewer signs than
        from the rest (cosine 0.8 is about 20% of the bits; unrelated questions about 50%)."""
        import numpy as np

        with self._lock:
            part = self._parts.get((tenant, partition))
            if part is None or part.size == 0:
                return []
            matrix, ids, questions = part.view()
            signs = part.sign_view()
        vector = np.asarray(embedding, dtype=np.float32).reshape(-1)
        rows = None
        if part.size > PREFILTER_ROWS and k <= PREFILTER_KEEP and signs is not None:
            distance = np.zeros(part.size, dtype=np.uint16)
            for word, query_word in zip(signs, sign_words(vector), strict=True):
                distance += np.bitwise_count(word ^ query_word)
            rows = np.argpartition(distance, PREFILTER_KEEP)[:PREFILTER_KEEP]
            scores = matrix[rows] @ vector
        else:
            scores = matrix @ vector
        k = min(k, scores.shape[0])
        top = np.argpartition(-scores, k - 1)[:k] if k < scores.shape[0] else np.arange(k)
        top = top[np.argsort(-scores[top], kind="stable")]
        found = top if rows is None else rows[top]
        return [
            Candidate(ids[i], questions[i], float(score))
            for i, score in zip(found, scores[top], strict=True)
        ]


PREFILTER_ROWS = 20_000
PREFILTER_KEEP = 256


def sign_words(vectors: Any) -> Any:
    """The signs of each vector's components as 64-bit words: shape ``(words,)`` for one
    vector, ``(words, rows)`` for a matrix of rows (one word's bits of every row
    contiguous, so a lookup reads each word as one array)."""
    import numpy as np

    matrix = np.atleast_2d(vectors)
    bits = np.packbits(matrix > 0, axis=1)
    padded = np.zeros((matrix.shape[0], -(-bits.shape[1] // 8) * 8), dtype=np.uint8)
    padded[:, : bits.shape[1]] = bits
    words = padded.view(np.uint64).T
    return words[:, 0].copy() if np.ndim(vectors) == 1 else np.ascontiguousarray(words)


class _Partition:
    """Rows in a growing matrix (doubling capacity), with ids and questions alongside."""

    def __init__(self, dimensions: int) -> None:
        import numpy as np

        self.matrix = np.zeros((64, dimensions), dtype=np.float32)
        # Sign bits for the prefilter (numpy 2's bitwise_count; None without it).
        self.signs = (
            np.zeros((-(-dimensions // 64), 64), dtype=np.uint64)
            if hasattr(np, "bitwise_count")
            else None
        )
        self.size = 0
        self.ids: list[str] = []
        self.questions: list[str] = []
        self.rows: dict[str, int] = {}

    def add(self, entry_id: str, question: str, vector: Any, limit: int) -> None:
        self.extend([entry_id], [question], vector.reshape(1, -1), limit)

    def extend(self, entry_ids: list[str], questions: list[str], matrix: Any, limit: int) -> None:
        import numpy as np

        signs = sign_words(matrix) if self.signs is not None else None
        for n, (entry_id, question, row) in enumerate(
            zip(entry_ids, questions, matrix, strict=True)
        ):
            at = self.rows.get(entry_id)
            if at is None:
                if self.size == self.matrix.shape[0]:
                    grown = np.zeros((self.size * 2, self.matrix.shape[1]), dtype=np.float32)
                    grown[: self.size] = self.matrix[: self.size]
                    self.matrix = grown
                    if self.signs is not None:
                        wider = np.zeros((self.signs.shape[0], self.size * 2), dtype=np.uint64)
                        wider[:, : self.size] = self.signs[:, : self.size]
                        self.signs = wider
                at = self.rows[entry_id] = self.size
                self.ids.append(entry_id)
                self.questions.append(question)
                self.size += 1
            self.matrix[at] = row
            if signs is not None:
                self.signs[:, at] = signs[:, n]
        if self.size > limit:  # keep the newest rows
            drop = self.size - limit
            self.matrix = self.matrix[drop : self.size].copy()
            if self.signs is not None:
                self.signs = self.signs[:, drop : self.size].copy()
            self.ids = self.ids[drop:]
            self.questions = self.questions[drop:]
            self.size = len(self.ids)
            self.rows = {entry_id: i for i, entry_id in enumerate(self.ids)}

    def view(self) -> tuple[Any, list[str], list[str]]:
        return self.matrix[: self.size], self.ids, self.questions

    def sign_view(self) -> Any:
        return None if self.signs is None else self.signs[:, : self.size]
