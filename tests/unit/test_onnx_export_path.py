"""Which exported file belongs to which weights (no model is loaded)."""

from __future__ import annotations

import os
from pathlib import Path

from ragops.adapters.onnx_embedder import exported_model_path
from ragops.bootstrap import build_container
from ragops.settings import Settings


def test_the_export_is_named_by_its_weights_and_kind(tmp_path):
    model = tmp_path / "my-model"
    model.mkdir()
    weights = model / "model.safetensors"
    weights.write_bytes(b"a" * 10)
    cache = tmp_path / "cache"
    int8 = exported_model_path(model, cache, quantize=True)
    assert int8.parent == cache and int8.name.startswith("my-model-int8-")
    assert exported_model_path(model, cache, quantize=False) != int8
    assert exported_model_path(model, cache, quantize=True) == int8  # stable
    weights.write_bytes(b"b" * 11)  # new weights: a new export
    assert exported_model_path(model, cache, quantize=True) != int8


def test_the_local_embedder_runtime_setting_picks_the_adapter(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    default = build_container(Settings(data_dir=tmp_path)).embedder
    assert type(default).__name__ == "OnnxEmbedder" and default.quantize
    assert default.cache_dir == Path.home() / ".cache" / "ragops" / "models"
    monkeypatch.setenv("XDG_CACHE_HOME", os.fspath(tmp_path / "xdg"))
    assert build_container(Settings(data_dir=tmp_path)).embedder.cache_dir == (
        tmp_path / "xdg" / "ragops" / "models"
    )
    chosen = Settings(
        data_dir=tmp_path, model_cache_dir=tmp_path / "m", local_embedder_runtime="onnx"
    )
    embedder = build_container(chosen).embedder
    assert embedder.cache_dir == tmp_path / "m" and not embedder.quantize
    torch = build_container(Settings(data_dir=tmp_path, local_embedder_runtime="torch")).embedder
    assert type(torch).__name__ == "SentenceTransformerEmbedder"
