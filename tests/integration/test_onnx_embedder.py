"""The ONNX export of the packaged embedder against the model it came from, on torch."""

from __future__ import annotations

import numpy as np
import pytest

from ragops.adapters.onnx_embedder import OnnxEmbedder, exported_model_path

pytestmark = pytest.mark.slow

TEXTS = [
    "How do I pause the cluster?",
    "Steps to suspend the cluster",
    "Banana bread recipe",
    # Longer than the model reads (256 word pieces): truncated alike on both runtimes.
    "Glacier rivers carry sediment " * 90,
    "ß",
    "A mid-length sentence about z-score fusion of BM25 and vector scores in hybrid search.",
]


def test_int8_export_agrees_with_torch_and_keeps_the_order(real_embedder, torch_embedder):
    assert isinstance(real_embedder, OnnxEmbedder) and real_embedder.quantize
    onnx_vectors = real_embedder.embed_array(TEXTS)
    torch_vectors = torch_embedder.embed_array(TEXTS)
    assert onnx_vectors.shape == torch_vectors.shape == (len(TEXTS), 384)
    np.testing.assert_allclose(np.linalg.norm(onnx_vectors, axis=1), 1.0, rtol=1e-4)
    agreement = (onnx_vectors * torch_vectors).sum(axis=1)
    # Row i is text i's vector: each agrees with its own torch vector far more than with
    # any other text's (a shuffled output would fail this).
    assert agreement.min() > 0.97
    cross = onnx_vectors @ torch_vectors.T
    assert (cross.argmax(axis=1) == np.arange(len(TEXTS))).all()
    # One text alone is embedded as it is within a batch (no padding leaks in).
    np.testing.assert_allclose(real_embedder.embed_array([TEXTS[2]])[0], onnx_vectors[2], atol=1e-5)


def test_float_export_is_the_torch_model(tmp_path, torch_embedder):
    embedder = OnnxEmbedder(cache_dir=tmp_path, quantize=False, workers=2, batch_size=2)
    vectors = embedder.embed_array(TEXTS)
    np.testing.assert_allclose(vectors, torch_embedder.embed_array(TEXTS), atol=2e-4)
    exported = exported_model_path(embedder._resolved_dir(), tmp_path, quantize=False)
    assert exported.exists() and list(tmp_path.iterdir()) == [exported]  # no scratch left
    # A second embedder over the same cache reuses the file instead of exporting again.
    written = exported.stat().st_mtime_ns
    again = OnnxEmbedder(cache_dir=tmp_path, quantize=False, workers=1)
    np.testing.assert_allclose(again.embed_array(TEXTS[:2]), vectors[:2], atol=1e-5)
    assert exported.stat().st_mtime_ns == written
