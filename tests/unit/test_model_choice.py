"""The composition root's choice of chat model, reranker and answer model from settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ragops.bootstrap import build_container
from ragops.errors import ConfigurationError
from ragops.settings import Settings


def test_an_openai_compatible_server_writes_the_answers(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment")
    container = build_container(
        Settings(
            data_dir=tmp_path,
            llm="openai-compatible",
            openai_base_url="http://127.0.0.1:11434/v1",
            openai_model="llama3.2",
            max_answer_tokens=64,
        )
    )
    model = container.chat_model
    assert type(model).__name__ == "OpenAICompatibleChatModel"
    assert model.model_id == "llama3.2" and model.max_tokens == 64
    assert "sk-from-the-environment" not in repr(model)
    assert container.router.models["lite"] == "llama3.2"


def test_an_openai_compatible_server_needs_its_address_and_model(tmp_path: Path) -> None:
    container = build_container(Settings(data_dir=tmp_path, llm="openai-compatible"))
    with pytest.raises(ConfigurationError, match="RAGOPS_OPENAI_BASE_URL"):
        _ = container.chat_model


def test_any_gguf_file_is_named_after_itself(tmp_path: Path) -> None:
    gguf = tmp_path / "Qwen2.5-0.5B-Instruct-Q4_K_M.gguf"
    container = build_container(Settings(data_dir=tmp_path, local_llm_path=gguf))
    assert container.chat_model.model_id == "Qwen2.5-0.5B-Instruct-Q4_K_M"
    assert container.pro_chat_model.model_id == "Qwen2.5-0.5B-Instruct-Q4_K_M+long"


def test_the_answer_model_comes_from_a_file_with_a_threshold_over_it(tmp_path: Path) -> None:
    container = build_container(Settings(data_dir=tmp_path))
    packaged = container.answer_model
    data = packaged.to_dict()
    data["threshold"] = 0.12
    path = tmp_path / "reader.json"
    path.write_text(json.dumps(data))
    chosen = build_container(
        Settings(data_dir=tmp_path, answer_model_path=path, answerability_threshold=0.7)
    ).answer_model
    assert chosen.threshold == 0.7 and chosen.sentences == packaged.sentences
    assert (
        build_container(Settings(data_dir=tmp_path, answer_model_path=path)).answer_model.threshold
        == 0.12
    )
    path.write_text("{}")
    with pytest.raises(ConfigurationError, match="RAGOPS_ANSWER_MODEL_PATH"):
        _ = build_container(Settings(data_dir=tmp_path, answer_model_path=path)).answer_model


def test_the_bedrock_reranker_is_built_only_when_asked_for(tmp_path: Path) -> None:
    assert build_container(Settings(data_dir=tmp_path)).reranker is None
    reranker = build_container(
        Settings(
            data_dir=tmp_path, reranker="bedrock", bedrock_rerank_model_id="cohere.rerank-v3-5:0"
        )
    ).reranker
    assert reranker is not None and reranker.model_id == "cohere.rerank-v3-5:0"
    assert reranker._client is None  # no client before the first call


def test_the_answer_mode_reaches_the_answer_context(tmp_path: Path) -> None:
    assert build_container(Settings(data_dir=tmp_path)).answer_context().answer_mode == "extractive"
    ctx = build_container(Settings(data_dir=tmp_path, answer_mode="auto")).answer_context()
    assert ctx.answer_mode == "auto"
