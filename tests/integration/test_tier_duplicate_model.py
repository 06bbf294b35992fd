"""The cache's trained duplicate model served by the tier, as on AWS: the functions (no
model runtime, their own embedder) send the question's text, and the tier service (real
uvicorn, Redis entries, a ``chroma run`` server) compares it with the cached questions by
the champion model it loaded from the object store, on ONNX Runtime.

The model published here is the packaged all-MiniLM-L6-v2 exported as ``ragops cache
train`` exports a trained one (int8 ONNX and its tokenizer): the same files and runtime,
without spending a training run in the suite (``test_cache_train_cli`` trains one)."""

from __future__ import annotations

import json
import shutil
import uuid

import numpy as np
import pytest

from ragops.adapters.duplicate_model import (
    SERVED_FILES,
    DuplicateModelQuestionIndex,
    duplicate_model_encoder,
)
from ragops.adapters.local_embedder import packaged_minilm_dir
from ragops.bootstrap import build_container
from ragops.domain.cache import DuplicateVerifier
from ragops.repositories.served_models import ServedModel
from ragops.services.answering import answer_question
from ragops.services.cache_training import DUPLICATE_MODEL
from ragops.services.ingestion import ingest_document
from ragops.settings import Settings
from tests.fakes import GENERATIVE, ScriptedChatModel

pytestmark = pytest.mark.slow

TOKEN = "tier-duplicate-model-token-0123"
GUIDE = (
    b"# Operations guide\n\nPausing the tier destroys the EKS cluster with Terraform.\n\n"
    b"The semantic cache keeps answers in Redis with a time to live.\n"
)
QUESTION = "What does pausing the tier do?"
REPHRASED = "What happens when I pause the tier?"
OTHER = "How long are cached answers kept in Redis?"


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory, real_embedder):
    """A served duplicate model's files: the packaged model's int8 export and tokenizer."""
    folder = tmp_path_factory.mktemp("duplicate-model")
    shutil.copyfile(real_embedder.model_file(), folder / "model.onnx")
    shutil.copyfile(packaged_minilm_dir() / "tokenizer.json", folder / "tokenizer.json")
    return folder


@pytest.fixture(scope="module")
def cosines(model_folder):
    vectors = duplicate_model_encoder(model_folder).embed_array([QUESTION, REPHRASED, OTHER])
    return float(vectors[0] @ vectors[1]), float(vectors[0] @ vectors[2])


@pytest.fixture
def threshold(cosines):
    rephrased, other = cosines
    assert rephrased > other + 0.05, "the fixture's questions must be told apart by the model"
    return round((rephrased + other) / 2, 4)


@pytest.fixture
def model_tier(tmp_path, chroma_server, redis_server, model_folder, threshold):
    """The tier service as deployed (``app_from_settings``), its object store holding a
    published champion duplicate model."""
    from ragops.entrypoints.tier_service import app_from_settings
    from tests.servers import UvicornThread

    settings = Settings(
        data_dir=tmp_path / "tier",
        model_cache_dir=tmp_path / "tier-models",
        chroma_url=chroma_server.url,
        tier_token=TOKEN,
        index_embedding_model="fake/hashing-256",
        tier_refresh_seconds=0,
        cache="redis",
        cache_redis_url=redis_server.url,
    )
    build_container(settings).served_models.publish(
        ServedModel(DUPLICATE_MODEL, 3, SERVED_FILES, {"threshold": threshold}), model_folder
    )
    with UvicornThread(app_from_settings(settings)) as running:
        yield running


@pytest.fixture
def acme():
    """A tenant of this test's own: the Chroma server is the session's, and another test's
    cached questions must not be among the candidates."""
    return f"acme-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def functions(tmp_path, model_tier, embedder, acme):
    """The API side as on Lambda: index and cache behind the tier URL, a hashing embedder,
    and no duplicate model of its own (``RAGOPS_CACHE_MODEL=off``)."""
    # The functions' own verifier would serve any candidate: the tier's model must decide.
    serve_anything = tmp_path / "verifier.json"
    verifier = DuplicateVerifier(threshold=0.0, similarity_floor=-1.0, candidates=5)
    serve_anything.write_text(json.dumps(verifier.to_dict()))
    settings = Settings(
        data_dir=tmp_path / "functions",
        min_relevance=0.1,
        tier_url=model_tier.url,
        tier_token=TOKEN,
        cache="tier",
        cache_model="off",
        cache_verifier_path=serve_anything,
        **GENERATIVE,
    )
    chat_model = ScriptedChatModel(responses=["Pausing destroys the EKS tier [1]."] * 3)
    container = build_container(settings, embedder=embedder, chat_model=chat_model)
    ingest_document(container.ingest_context(), tenant=acme, filename="ops.md", data=GUIDE)
    return container


def _ask(container, question, tenant):
    return answer_question(container.answer_context(), tenant=tenant, question=question)


def test_the_tier_serves_a_rephrasing_by_the_trained_models_cosine(functions, acme, cosines):
    assert not isinstance(functions.answer_cache.questions, DuplicateModelQuestionIndex)
    first = _ask(functions, QUESTION, acme)
    assert first.cache.hit is None
    again = _ask(functions, REPHRASED, acme)
    assert again.cache.hit == "semantic"
    assert again.cache.matched_question == QUESTION
    # The similarity is the model's (MiniLM on the tier), not the functions' hashing one.
    assert again.cache.similarity == pytest.approx(cosines[0], abs=2e-3)


def test_the_trained_model_refuses_another_question_the_functions_verifier_would_serve(
    functions, acme
):
    _ask(functions, QUESTION, acme)
    other = _ask(functions, OTHER, acme)
    assert other.cache.hit is None


def test_the_tier_keeps_tenants_apart_with_the_model(functions, acme):
    _ask(functions, QUESTION, acme)
    globex = f"globex-{uuid.uuid4().hex[:12]}"
    ingest_document(functions.ingest_context(), tenant=globex, filename="ops.md", data=GUIDE)
    assert _ask(functions, REPHRASED, globex).cache.hit is None
    # Within the tenant, what it asked serves its rephrasing.
    assert _ask(functions, QUESTION, globex).cache.matched_question == REPHRASED


def test_the_model_index_over_chroma_keeps_its_own_collection(chroma_client, model_folder):
    from ragops.adapters.chroma_questions import DUPLICATE_MODEL_SUFFIX, ChromaQuestionIndex

    encoder = duplicate_model_encoder(model_folder, version=3)
    index = DuplicateModelQuestionIndex(
        ChromaQuestionIndex(chroma_client, DUPLICATE_MODEL_SUFFIX), encoder, 0.5
    )
    plain = ChromaQuestionIndex(chroma_client)
    plain.add("acme", "1:s", "e0", "a question of the functions", np.ones(8) / np.sqrt(8))
    index.add("acme", "1:s", "e1", QUESTION, np.ones(8))  # another dimension: ignored
    (found,) = index.nearest("acme", "1:s", np.ones(8), 3, REPHRASED)
    assert found.entry_id == "e1" and found.serve_at == 0.5
    names = {c.name if hasattr(c, "name") else c for c in chroma_client.list_collections()}
    assert {"c-acme-questions", "c-acme-questions-duplicate-model"} <= names
    # Dropping the tenant removes both, whichever index is asked.
    index.drop_tenant("acme")
    names = {c.name if hasattr(c, "name") else c for c in chroma_client.list_collections()}
    assert not {n for n in names if n.startswith("c-acme-questions")}
