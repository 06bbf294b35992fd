"""The OpenAI-compatible chat model against a real server: llama-cpp-python's own
(``python -m llama_cpp.server``) on 127.0.0.1, serving the packaged SmolLM2 behind a bearer
key. Missing server dependencies fail these tests; they are never skipped."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from packaging.requirements import Requirement

from ragops.adapters.llamacpp import packaged_smollm2_path
from ragops.adapters.openai_compatible import OpenAICompatibleChatModel
from ragops.domain.models import ChatMessage, Generation
from ragops.errors import ConfigurationError, ModelUnavailable
from tests.servers import free_port

pytestmark = pytest.mark.slow

ALIAS = "smollm2-135m-test"
KEY = "test-llama-server-key-0123456789"
QUESTION = [
    ChatMessage("system", "Answer in one short sentence."),
    ChatMessage("user", "What colour is the sky on a clear day?"),
]


def _missing_server_dependencies() -> list[str]:
    """Requirements of llama-cpp-python's ``server`` extra that are not installed."""
    try:
        requires = importlib.metadata.requires("llama-cpp-python") or []
    except importlib.metadata.PackageNotFoundError:
        return ["llama-cpp-python"]
    missing = []
    for line in requires:
        requirement = Requirement(line)
        if requirement.marker is None or not requirement.marker.evaluate({"extra": "server"}):
            continue
        if requirement.marker.evaluate({"extra": ""}):
            continue  # a base requirement, not the extra's
        try:
            version = importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(str(requirement))
            continue
        if version not in requirement.specifier:
            missing.append(f"{requirement} (found {version})")
    return missing


class LlamaCppServer:
    """``python -m llama_cpp.server`` on 127.0.0.1 with a free port, ready once
    ``GET /v1/models`` answers."""

    def __init__(self, log: Path, *, api_key: str, alias: str) -> None:
        self.port = free_port()
        self.api_key = api_key
        self.alias = alias
        self.log_path = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout: float = 180.0) -> LlamaCppServer:
        command = [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(packaged_smollm2_path()),
            "--model_alias",
            self.alias,
            "--api_key",
            self.api_key,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_ctx",
            "2048",
            # One thread: on a busy two-core machine, llama.cpp's threads spin-wait for
            # each other and a token took seconds instead of milliseconds.
            "--n_threads",
            "1",
            "--n_threads_batch",
            "1",
            "--seed",
            "42",
        ]
        started = time.monotonic()
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        headers = {"Authorization": f"Bearer {self.api_key}"}
        with httpx.Client(timeout=2.0) as http:
            while time.monotonic() - started < timeout and self.process.poll() is None:
                try:
                    if http.get(f"{self.base_url}/models", headers=headers).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
        self.stop()
        tail = self.log_path.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"llama_cpp.server did not start; its log ends:\n{tail}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        self.process = None


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory) -> Iterator[LlamaCppServer]:
    missing = _missing_server_dependencies()
    if missing:
        pytest.fail(
            "llama_cpp.server needs its 'server' extra, which is not installed: "
            + ", ".join(missing)
            + " (pip install -e '.[dev]')"
        )
    server = LlamaCppServer(
        tmp_path_factory.mktemp("llama-server") / "server.log", api_key=KEY, alias=ALIAS
    )
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
def chat(llama_server) -> Iterator[OpenAICompatibleChatModel]:
    model = OpenAICompatibleChatModel(
        llama_server.base_url, ALIAS, api_key=KEY, max_tokens=24, timeout=60.0
    )
    yield model
    model.close()


def test_the_server_lists_the_alias(llama_server):
    response = httpx.get(
        f"{llama_server.base_url}/models", headers={"Authorization": f"Bearer {KEY}"}
    )
    assert [m["id"] for m in response.json()["data"]] == [ALIAS]


def test_generate_returns_text_and_the_servers_usage(chat):
    reply = chat.generate(QUESTION)
    assert reply.text.strip()
    assert reply.usage.input_tokens > 5
    assert 0 < reply.usage.output_tokens <= chat.max_tokens
    assert reply.model == ALIAS


def test_stream_yields_pieces_then_a_generation_of_their_text(chat):
    parts = list(chat.stream(QUESTION))
    *pieces, final = parts
    assert pieces and all(isinstance(p, str) for p in pieces)
    assert isinstance(final, Generation)
    assert final.text == "".join(pieces)
    assert final.model == ALIAS
    assert final.usage.input_tokens > 0
    assert 0 < final.usage.output_tokens <= chat.max_tokens


def test_stream_and_generate_agree_at_temperature_zero(chat):
    generated = chat.generate(QUESTION)
    *pieces, streamed = chat.stream(QUESTION)
    assert streamed.text == generated.text
    # llama_cpp.server ignores stream_options.include_usage, so the adapter counts the
    # pieces (one token each); a server that reports usage gives the same count.
    assert streamed.usage.output_tokens in (len(pieces), generated.usage.output_tokens)


@pytest.mark.parametrize("api_key", ["wrong-key", None])
def test_a_refused_key_is_a_configuration_error(llama_server, api_key):
    model = OpenAICompatibleChatModel(llama_server.base_url, ALIAS, api_key=api_key)
    with pytest.raises(ConfigurationError, match="API key") as exc:
        model.generate(QUESTION)
    assert llama_server.base_url in str(exc.value)
    with pytest.raises(ConfigurationError, match="API key"):
        next(model.stream(QUESTION))
    model.close()


def test_a_base_url_without_v1_is_a_configuration_error_naming_the_model(llama_server):
    base = llama_server.base_url.removesuffix("/v1")
    model = OpenAICompatibleChatModel(base, ALIAS, api_key=KEY)
    with pytest.raises(ConfigurationError, match=f"does not know the model '{ALIAS}'"):
        model.generate(QUESTION)
    model.close()


def test_an_unknown_model_name_is_served_by_the_only_model(llama_server):
    """llama_cpp.server answers any model name with its default model, and echoes the name
    back: only servers with several models (Ollama, vLLM) answer 404, which the unit tests
    map to ``ConfigurationError``."""
    model = OpenAICompatibleChatModel(
        llama_server.base_url, "no-such-model", api_key=KEY, max_tokens=4
    )
    assert model.generate(QUESTION).model == "no-such-model"
    model.close()


LONG_PROMPT = [ChatMessage("user", "sky " * 4000)]  # well over --n_ctx 2048


def test_a_prompt_longer_than_the_context_is_model_unavailable(chat):
    with pytest.raises(ModelUnavailable, match=r"refused the request \(400\): .*context"):
        chat.generate(LONG_PROMPT)


def test_a_stream_the_server_abandons_is_model_unavailable(chat):
    # llama_cpp.server has already answered 200 when the prompt turns out too long, and
    # then ends the stream with no event and no [DONE].
    with pytest.raises(ModelUnavailable, match="ended the stream before"):
        list(chat.stream(LONG_PROMPT))


def test_a_closed_port_is_model_unavailable_naming_the_server():
    base = f"http://127.0.0.1:{free_port()}/v1"
    model = OpenAICompatibleChatModel(base, ALIAS, api_key=KEY, timeout=5.0)
    with pytest.raises(ModelUnavailable, match="did not answer") as exc:
        model.generate(QUESTION)
    assert base in str(exc.value) and KEY not in str(exc.value)
    with pytest.raises(ModelUnavailable, match="did not answer"):
        next(model.stream(QUESTION))
    model.close()
