from __future__ import annotations

import os

import pytest

# No test may reach a model hub or AWS.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture
def embedder():
    from tests.fakes import HashingEmbedder

    return HashingEmbedder()


@pytest.fixture
def chroma_client():
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.EphemeralClient(
        settings=ChromaSettings(anonymized_telemetry=False, allow_reset=True)
    )
    # Ephemeral clients share one in-process system: give each test its own names.
    client.reset()
    yield client
    client.reset()


@pytest.fixture
def chat_model():
    from tests.fakes import ScriptedChatModel

    return ScriptedChatModel(responses=["Pausing destroys the EKS tier [1]."])


@pytest.fixture
def container(tmp_path, embedder, chroma_client, chat_model):
    """A container with real Chroma (ephemeral) and the local-folder store, fake models."""
    from ragops.bootstrap import build_container
    from ragops.settings import Settings

    # Generative, and every question past the answerability gate: these tests are about
    # what surrounds generation (tests/unit/test_extractive_answers.py covers the rest).
    settings = Settings(
        data_dir=tmp_path / "data",
        min_relevance=0.1,
        answer_mode="generative",
        answerability_threshold=0.0,
    )
    return build_container(
        settings, embedder=embedder, chroma_client=chroma_client, chat_model=chat_model
    )
