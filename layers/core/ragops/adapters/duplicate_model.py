"""Fine-tuning the cache's duplicate-question model from the packaged all-MiniLM-L6-v2.

A bi-encoder trained on labelled pairs with the online contrastive loss (sentence-
transformers' ``OnlineContrastiveLoss``): within each batch, the duplicate pairs that are
further apart than the closest non-duplicate pair are pulled together, and the
non-duplicate pairs closer than the furthest duplicate pair are pushed beyond a margin.
all-MiniLM-L6-v2 already saw QQP's duplicates in its own training (a ranking loss over
duplicates barely moved it here); what it never learnt is QQP's *non*-duplicates, the near
misses a cache must refuse, and those are most of the pairs. The lower layers stay frozen
(the top ones learn; a step costs about a third less). The training loop is plain torch over
the sentence-transformers model (its own trainer would add ``datasets`` and ``accelerate``
for one loss), on the CPU.

The trained model is saved as a sentence-transformers folder and exported to ONNX with
int8 weights (``onnx_embedder.export_to_onnx``): serving needs only ONNX Runtime.
"""

from __future__ import annotations

import functools
import math
import os
import random
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ragops.adapters.local_embedder import packaged_minilm_dir
from ragops.adapters.onnx_embedder import OnnxEmbedder, export_to_onnx
from ragops.domain.cache import Candidate
from ragops.errors import ConfigurationError
from ragops.ports import ForgetsTenants

if TYPE_CHECKING:
    from ragops.ports import Embedder, QuestionIndex

# The files a served duplicate model consists of (what the registry and the object store
# keep): the int8 ONNX transformer and its tokenizer.
SERVED_FILES = ("model.onnx", "tokenizer.json")
DUPLICATE_MODEL_ID = "ragops/cache-duplicates"

Progress = Callable[[int, int, float], None]
"""Called after each step with (step, steps, loss)."""


class MiniLMDuplicateTrainer:
    """Trains on labelled question pairs; ``train`` returns the folder
    of served files. Deterministic for a seed on one machine (torch's CPU kernels)."""

    def __init__(
        self,
        *,
        base_model_dir: Path | None = None,
        batch_size: int = 64,
        epochs: float = 1.0,
        learning_rate: float = 3e-5,
        margin: float = 0.5,
        frozen_layers: int = 3,
        max_tokens: int = 64,
        seed: int = 0,
    ) -> None:
        self.base_model_dir = base_model_dir
        self.batch_size = batch_size
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.margin = margin
        self.frozen_layers = frozen_layers
        self.max_tokens = max_tokens
        self.seed = seed

    def params(self) -> dict[str, Any]:
        return {
            "base_model": "sentence-transformers/all-MiniLM-L6-v2",
            "loss": "online contrastive (cosine distance)",
            "batch_size": self.batch_size,
            "epochs": self.epochs,
            "learning_rate": self.learning_rate,
            "margin": self.margin,
            "frozen_layers": self.frozen_layers,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
        }

    def train(
        self,
        pairs: Sequence[tuple[str, str, int]],
        out_dir: Path,
        progress: Progress | None = None,
    ) -> tuple[Path, list[float]]:
        """Fine-tunes on ``(question, question, label)`` pairs (1: duplicates) and writes the
        served files to ``out_dir``; returns the folder and the loss of every step."""
        try:
            import torch
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging
        except ImportError as exc:
            raise ConfigurationError(
                "training the cache's duplicate model needs torch and sentence-transformers: "
                "pip install 'ragops[local]'"
            ) from exc
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        transformers_logging.disable_progress_bar()  # the CLI draws its own
        torch.manual_seed(self.seed)
        rng = random.Random(self.seed)
        base = self.base_model_dir or packaged_minilm_dir()
        model = SentenceTransformer(str(base), device="cpu", local_files_only=True)
        model.max_seq_length = self.max_tokens
        bert = model[0].auto_model
        frozen = [bert.embeddings, *bert.encoder.layer[: self.frozen_layers]]
        for module in frozen:
            for parameter in module.parameters():
                parameter.requires_grad_(False)
        steps = max(1, math.floor(len(pairs) / self.batch_size * self.epochs))
        warmup = max(1, steps // 10)
        optimizer = torch.optim.AdamW(
            [p for p in model.parameters() if p.requires_grad], lr=self.learning_rate
        )
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, (steps - s) / steps)
        )

        def embed(texts: list[str]) -> Any:
            features = model.preprocess(texts)
            return torch.nn.functional.normalize(model(features)["sentence_embedding"], dim=-1)

        def online_contrastive(batch: list[tuple[str, str, int]]) -> Any:
            left = embed([b[0] for b in batch])
            right = embed([b[1] for b in batch])
            distance = 1.0 - (left * right).sum(dim=-1)
            labels = torch.tensor([b[2] for b in batch], dtype=torch.bool)
            apart, together = distance[~labels], distance[labels]
            # Only the hard ones count: a close non-duplicate, a distant duplicate.
            if len(apart) and len(together):
                hard_apart = apart[apart < together.max()]
                hard_together = together[together > apart.min()]
            else:
                hard_apart, hard_together = apart, together
            pull = hard_together.pow(2).sum()
            push = torch.relu(self.margin - hard_apart).pow(2).sum()
            return pull + push

        losses: list[float] = []
        order = list(range(len(pairs)))
        model.train()
        while len(losses) < steps:
            rng.shuffle(order)
            for start in range(0, len(order) - self.batch_size + 1, self.batch_size):
                if len(losses) >= steps:
                    break
                loss = online_contrastive(
                    [pairs[i] for i in order[start : start + self.batch_size]]
                )
                loss.backward()
                optimizer.step()
                schedule.step()
                optimizer.zero_grad()
                losses.append(float(loss.item()))
                if progress is not None:
                    progress(len(losses), steps, losses[-1])
        model.eval()
        out_dir.mkdir(parents=True, exist_ok=True)
        saved = out_dir / "sentence-transformers"
        model.save(str(saved))
        export_to_onnx(saved, out_dir / "model.onnx", quantize=True)
        shutil.copyfile(saved / "tokenizer.json", out_dir / "tokenizer.json")
        shutil.rmtree(saved)  # only the served files stay
        return out_dir, losses

    def encoder(self, folder: Path) -> OnnxEmbedder:
        return duplicate_model_encoder(folder)


def duplicate_model_encoder(
    folder: Path, *, version: int | None = None, workers: int | None = None
) -> OnnxEmbedder:
    """The served model in ``folder`` (``SERVED_FILES``) as an embedder: ONNX Runtime only.
    Its ``model_id`` names the version, which keeps cache partitions of versions apart."""
    missing = [name for name in SERVED_FILES if not (folder / name).is_file()]
    if missing:
        raise ConfigurationError(f"{folder} is not a duplicate model: {', '.join(missing)} missing")
    return OnnxEmbedder(
        folder,
        cache_dir=folder,
        onnx_file=folder / "model.onnx",
        workers=workers,
        model_id=DUPLICATE_MODEL_ID if version is None else f"{DUPLICATE_MODEL_ID}@v{version}",
    )


class DuplicateModelQuestionIndex:
    """A ``QuestionIndex`` that compares cached questions by the cache's trained duplicate
    model instead of the embedding callers pass (the retrieval embedder's): ``add`` and
    ``nearest`` embed the question text with ``encoder``, keep the vectors in ``inner``
    under a partition of the model's own (vectors of two models never meet), and every
    candidate carries ``serve_at=threshold``, so the cache serves it by the model's cosine.

    The same class serves in-process (``make run``: over the numpy index) and in the tier
    service (AWS: over its Chroma question collections, the functions sending the text), so
    the functions need no model runtime. A miss is looked up, answered, then remembered: the
    question is encoded once for both (a small LRU)."""

    def __init__(
        self,
        inner: QuestionIndex,
        encoder: Embedder,
        threshold: float,
        *,
        primed: Mapping[str, Any] | None = None,
    ) -> None:
        """``primed`` maps questions to vectors the model already made in bulk (a replay
        encodes every question at once rather than one lookup at a time)."""
        self.inner = inner
        self.encoder = encoder
        self.threshold = threshold
        self.model_id: str = encoder.model_id
        known = primed or {}
        self._encode = functools.lru_cache(maxsize=256)(
            lambda question: (
                known[question] if question in known else encoder.embed_array([question])[0]
            )
        )

    def _partition(self, partition: str) -> str:
        return f"{partition}:{self.model_id}"

    def drop_tenant(self, tenant: str) -> None:
        """Forget the tenant's cached questions (``ForgetsTenants``), where ``inner`` can."""
        if isinstance(self.inner, ForgetsTenants):
            self.inner.drop_tenant(tenant)

    def add(
        self, tenant: str, partition: str, entry_id: str, question: str, embedding: Any
    ) -> None:
        self.inner.add(
            tenant, self._partition(partition), entry_id, question, self._encode(question)
        )

    def nearest(
        self, tenant: str, partition: str, embedding: Any, k: int, question: str | None = None
    ) -> list[Candidate]:
        """Empty without ``question`` (an older caller): the cached questions were embedded
        by the model, which cannot compare with a vector of another."""
        if question is None:
            return []
        found = self.inner.nearest(tenant, self._partition(partition), self._encode(question), k)
        return [replace(candidate, serve_at=self.threshold) for candidate in found]
