"""The local embedder on ONNX Runtime: all-MiniLM-L6-v2 exported from the packaged weights
and quantized to int8, run without torch.

The export is done here, offline, once per model folder: ``torch.onnx`` writes the
transformer, ONNX Runtime's dynamic quantization turns its weights into int8 per output
channel, and the file is kept in the model cache folder (``RAGOPS_MODEL_CACHE_DIR``,
``~/.cache/ragops/models`` by default; never in git, never downloaded).
Running it needs only ``onnxruntime``, ``tokenizers`` and numpy; exporting also needs torch,
transformers and ``onnx`` (the ``local`` extra).

Why it is faster on a small CPU (bench/ingest.py measures it against torch's ``encode``):
int8 matrix products, no padding (texts go one at a time, longest first), and one
single-threaded run per core in parallel instead of one run split over the cores.
Quality: SciFact train nDCG@10 within 0.005 of torch's (docs/evaluation.md); vectors agree
with torch's at cosine 0.99 or more, so an index built by either answers the other's queries
and the model id recorded on indexes is the same.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from ragops.adapters.local_embedder import MINILM_MODEL_ID, LocalModelFolder
from ragops.errors import ConfigurationError, ModelUnavailable

# Bump when the export or quantization changes, so an older file is not reused.
EXPORT_VERSION = "1"
ONNX_OPSET = 17


def usable_cores() -> int:
    """The cores this process may run on (a container's CPU set, not the host's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def exported_model_path(model_dir: Path, cache_dir: Path, *, quantize: bool) -> Path:
    """Where the export of ``model_dir`` lives: named by the weights it came from (path,
    size and modification time of each weight file) and the export version."""
    digest = hashlib.sha256(f"{EXPORT_VERSION}|{quantize}|{model_dir.resolve()}".encode())
    for weights in sorted(model_dir.glob("*.safetensors")) + sorted(model_dir.glob("*.bin")):
        stat = weights.stat()
        digest.update(f"|{weights.name}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    kind = "int8" if quantize else "fp32"
    return cache_dir / f"{model_dir.name}-{kind}-{digest.hexdigest()[:12]}.onnx"


def export_to_onnx(model_dir: Path, target: Path, *, quantize: bool = True) -> Path:
    """Exports the transformer in ``model_dir`` to ``target`` (its last hidden state; pooling
    is done by the embedder), int8 when ``quantize``. Written to a temporary file and renamed,
    so a reader never sees half a model and two exporters at once do no harm."""
    try:
        import torch
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from transformers import AutoModel
        from transformers.utils import logging as transformers_logging
    except ImportError as exc:
        raise ConfigurationError(
            "exporting the embedder to ONNX needs torch, transformers and onnx: "
            "pip install 'ragops[local]'"
        ) from exc

    class LastHiddenState(torch.nn.Module):
        # transformers' forward takes keyword arguments; the exporter passes positions.
        def __init__(self, bert: Any) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    target.parent.mkdir(parents=True, exist_ok=True)
    transformers_logging.disable_progress_bar()  # a bar per weight file; users need none
    try:
        model = LastHiddenState(AutoModel.from_pretrained(str(model_dir))).eval()
    except Exception as exc:  # the library raises many types for a bad model folder
        raise ModelUnavailable(
            f"could not load the embedding model from {model_dir}: {exc}"
        ) from exc
    sample = torch.ones(2, 8, dtype=torch.long)
    axes = {0: "batch", 1: "tokens"}
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        plain = Path(scratch) / "model.onnx"
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notes
            torch.onnx.export(
                model,
                (sample, torch.ones_like(sample), torch.zeros_like(sample)),
                str(plain),
                input_names=["input_ids", "attention_mask", "token_type_ids"],
                output_names=["last_hidden_state"],
                dynamic_axes={
                    "input_ids": axes,
                    "attention_mask": axes,
                    "token_type_ids": axes,
                    "last_hidden_state": axes,
                },
                opset_version=ONNX_OPSET,
                dynamo=False,
            )
        written = plain
        if quantize:
            written = Path(scratch) / "model-int8.onnx"
            # Per output channel: one scale per row keeps MiniLM's vectors at cosine 0.99 of
            # the float model's; one scale per matrix fell to 0.94.
            logging.disable(logging.WARNING)  # its advice to pre-process, on the root logger
            try:
                quantize_dynamic(plain, written, weight_type=QuantType.QInt8, per_channel=True)
            finally:
                logging.disable(logging.NOTSET)
        os.replace(written, target)
    return target


class OnnxEmbedder(LocalModelFolder):
    """``Embeddings`` from an ONNX export of a sentence-transformers folder (mean pooling,
    unit length, as the folder's sentence-transformers configuration does for MiniLM).

    The export happens on first use when ``cache_dir`` holds none yet; the session is made
    once per instance, thread-safely. ``onnx_file`` names a ready export instead (a model
    this product trained: no export, no torch). ``workers`` single-threaded runs go in
    parallel (default: one per usable core).
    """

    def __init__(
        self,
        model_dir: Path | None = None,
        *,
        cache_dir: Path,
        quantize: bool = True,
        onnx_file: Path | None = None,
        workers: int | None = None,
        batch_size: int = 1,
        model_id: str = MINILM_MODEL_ID,
        max_input_tokens: int = 256,
    ) -> None:
        super().__init__(
            model_dir, batch_size=batch_size, model_id=model_id, max_input_tokens=max_input_tokens
        )
        self.cache_dir = cache_dir
        self.quantize = quantize
        self.onnx_file = onnx_file
        self.workers = workers or usable_cores()
        self._session: Any | None = None
        self._input_tokenizer: Any | None = None
        self._pool: ThreadPoolExecutor | None = None

    # -- loading -----------------------------------------------------------------------
    def model_file(self) -> Path:
        """The exported model, exporting it first when it is not there yet."""
        if self.onnx_file is not None:
            return self.onnx_file
        model_dir = self._resolved_dir()
        path = exported_model_path(model_dir, self.cache_dir, quantize=self.quantize)
        if not path.exists():
            export_to_onnx(model_dir, path, quantize=self.quantize)
        return path

    def _load(self) -> tuple[Any, Any]:
        if self._session is None:
            with self._lock:
                if self._session is None:
                    self._session, self._input_tokenizer = self._open()
        return self._session, self._input_tokenizer

    def _open(self) -> tuple[Any, Any]:
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ConfigurationError(
                "the ONNX embedder needs onnxruntime and tokenizers: pip install 'ragops[local]'"
            ) from exc
        path = self.model_file()
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        try:
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            tokenizer = Tokenizer.from_file(str(self._resolved_dir() / "tokenizer.json"))
        except Exception as exc:
            raise ModelUnavailable(f"could not open the ONNX embedder {path}: {exc}") from exc
        tokenizer.enable_truncation(self.model_max_tokens)
        tokenizer.no_padding()  # run() pads each batch to its own longest text
        return session, tokenizer

    # -- Embeddings --------------------------------------------------------------------
    def embed_array(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 embeddings, one row per text, in the order given."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        session, tokenizer = self._load()
        encodings = tokenizer.encode_batch(list(texts))
        # Longest first, so the parallel runs finish together; batches of equal length
        # (batch_size 1 by default) carry no padding.
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
        batches = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]

        def run(batch: list[int]) -> np.ndarray:
            width = max(len(encodings[i].ids) for i in batch)
            ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, i in enumerate(batch):
                n = len(encodings[i].ids)
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1
            hidden = session.run(
                None,
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

        out: np.ndarray | None = None
        results = (
            map(run, batches)
            if self.workers == 1 or len(batches) == 1
            else self._executor().map(run, batches)
        )
        for batch, vectors in zip(batches, results, strict=True):
            if out is None:
                out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
            out[batch] = vectors
        assert out is not None
        return out

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="embed")
        return self._pool
