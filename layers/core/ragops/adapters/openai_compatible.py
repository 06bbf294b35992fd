"""A chat model behind any server that speaks the OpenAI chat completions API: Ollama, vLLM,
LM Studio, llama.cpp's server (``llama-server`` or ``python -m llama_cpp.server``).

Plain HTTP through httpx (a core dependency), no OpenAI SDK. The client is injected (tests
pass one over ``httpx.MockTransport``) or built on first use, never at construction.

Errors become the project's own, and no message repeats the API key:

- no answer, a timeout, a dropped stream, 429 or a 5xx: ``ModelUnavailable`` (HTTP 503),
  naming the server's base URL;
- 401 or 403: ``ConfigurationError``, the key was refused (or one is needed);
- 404: ``ConfigurationError`` naming the model (or a base URL without its ``/v1``);
- any other refusal (a prompt longer than the model's context is a 400 on most servers)
  or a body that is not a chat completion: ``ModelUnavailable``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn
from urllib.parse import urlsplit, urlunsplit

import httpx

from ragops.domain.chunking import approximate_token_count
from ragops.domain.models import ChatMessage, Generation, Usage
from ragops.errors import ConfigurationError, ModelUnavailable

_DETAIL_CHARS = 300


class OpenAICompatibleChatModel:
    """A ``ChatModel`` over ``POST {base_url}/chat/completions``.

    ``base_url`` includes the API's version prefix (``http://127.0.0.1:11434/v1`` for
    Ollama, ``http://127.0.0.1:8000/v1`` for vLLM); ``model`` is the name the server knows
    the model by, and becomes ``model_id``. ``api_key`` is sent as a bearer token only when
    given. ``timeout`` bounds connecting and each read (for a stream, the wait for each
    piece, not the whole answer). Thread-safe: one ``httpx.Client`` with a connection pool.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        max_tokens: int = 256,
        temperature: float = 0.0,
        timeout: float = 60.0,
        client: httpx.Client | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError(
                f"the OpenAI-compatible base URL {_redacted(base_url)!r} is not an http(s) URL"
            )
        if not model:
            raise ConfigurationError("the OpenAI-compatible chat model needs a model name")
        self.base_url = base_url.rstrip("/")
        self.model_id = model
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.timeout = timeout
        self._where = _redacted(self.base_url)
        self._api_key = api_key or None
        self._client = client
        self._owns_client = client is None
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never the key
        return f"OpenAICompatibleChatModel({self._where!r}, {self.model_id!r})"

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = httpx.Client(timeout=self.timeout)
        return self._client

    def close(self) -> None:
        """Closes the client this adapter built; an injected client stays its owner's."""
        with self._lock:
            if self._client is not None and self._owns_client:
                self._client.close()
                self._client = None

    # -- ChatModel -------------------------------------------------------------------------
    def generate(self, messages: Sequence[ChatMessage]) -> Generation:
        try:
            response = self.client.post(
                self._url, json=self._request(messages, stream=False), headers=self._headers()
            )
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from exc
        if not response.is_success:
            self._refused(response)
        try:
            body = response.json()
            message = body["choices"][0]["message"]
            text = message.get("content") or ""
            usage = body.get("usage") or {}
            counted = Usage(
                input_tokens=int(usage.get("prompt_tokens") or 0),
                output_tokens=int(usage.get("completion_tokens") or 0),
            )
            if not isinstance(text, str):
                raise TypeError(f"content is {type(text).__name__}, not text")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise self._malformed(exc) from exc
        return Generation(text=text, usage=counted, model=self.model_id)

    def stream(self, messages: Sequence[ChatMessage]) -> Iterator[str | Generation]:
        """Text pieces as the server sends them (server-sent events), then the whole
        ``Generation`` with usage.

        Usage is the server's own when it honours ``stream_options.include_usage`` (vLLM,
        Ollama, llama.cpp's ``llama-server``). When it sends none, output tokens are the
        number of text pieces (servers send about one token each) and input tokens are
        estimated at four characters each (``approximate_token_count``), never reported as 0.

        Errors before the first piece raise from the first ``next()``; a stream that breaks
        or ends before ``[DONE]`` (and before a ``finish_reason``) is ``ModelUnavailable``.
        """
        request = self._request(messages, stream=True)
        headers = {**self._headers(), "Accept": "text/event-stream"}
        pieces: list[str] = []
        usage: dict[str, Any] | None = None
        finished = False
        try:
            with self.client.stream("POST", self._url, json=request, headers=headers) as response:
                if not response.is_success:
                    response.read()
                    self._refused(response)
                for data in _sse_data(response.iter_lines()):
                    if data.strip() == "[DONE]":
                        finished = True
                        break
                    chunk = self._chunk(data)
                    usage = chunk.get("usage") or usage
                    for choice in chunk.get("choices") or []:
                        finished = finished or bool(choice.get("finish_reason"))
                        delta = (choice.get("delta") or {}).get("content") or ""
                        if delta:
                            pieces.append(delta)
                            yield delta
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from exc
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise self._malformed(exc) from exc
        if not finished:
            raise ModelUnavailable(
                f"the chat server at {self._where} ended the stream before the answer was done"
            )
        text = "".join(pieces)
        try:
            counted = (
                Usage(
                    input_tokens=int(usage.get("prompt_tokens") or 0),
                    output_tokens=int(usage.get("completion_tokens") or 0),
                )
                if usage
                else Usage(
                    input_tokens=sum(approximate_token_count(m.content) for m in messages),
                    output_tokens=len(pieces),
                )
            )
        except (ValueError, TypeError, AttributeError) as exc:
            raise self._malformed(exc) from exc
        yield Generation(text=text, usage=counted, model=self.model_id)

    # -- requests --------------------------------------------------------------------------
    @property
    def _url(self) -> str:
        return f"{self.base_url}/chat/completions"

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}

    def _request(self, messages: Sequence[ChatMessage], *, stream: bool) -> dict[str, Any]:
        request: dict[str, Any] = {
            "model": self.model_id,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "stream": stream,
        }
        if stream:
            request["stream_options"] = {"include_usage": True}
        return request

    def _chunk(self, data: str) -> dict[str, Any]:
        try:
            chunk = json.loads(data)
        except ValueError as exc:
            raise self._malformed(exc) from exc
        if not isinstance(chunk, dict):
            raise self._malformed(TypeError(f"an event is {type(chunk).__name__}, not an object"))
        if chunk.get("error"):  # servers report a failure mid-stream as an event
            raise ModelUnavailable(
                f"the chat server at {self._where} failed mid-answer: "
                f"{self._scrub(_error_text(chunk))}"
            )
        return chunk

    # -- errors ----------------------------------------------------------------------------
    def _unreachable(self, exc: httpx.HTTPError) -> ModelUnavailable:
        what = "timed out" if isinstance(exc, httpx.TimeoutException) else "did not answer"
        reason = self._scrub(str(exc)) or type(exc).__name__
        return ModelUnavailable(f"the chat server at {self._where} {what}: {reason}")

    def _malformed(self, exc: Exception) -> ModelUnavailable:
        return ModelUnavailable(
            f"the chat server at {self._where} sent a response that is not a chat "
            f"completion: {self._scrub(str(exc)) or type(exc).__name__}"
        )

    def _refused(self, response: httpx.Response) -> NoReturn:
        status = response.status_code
        if status in (401, 403):
            # The body is left out: some servers echo part of the key they refused.
            if self._api_key:
                why = f"refused the API key ({status})"
            else:
                why = f"wants an API key ({status}) and none is set"
            raise ConfigurationError(f"the chat server at {self._where} {why}")
        detail = self._scrub(_detail(response))
        if status == 404:
            raise ConfigurationError(
                f"the chat server at {self._where} does not know the model "
                f"{self.model_id!r} (404: {detail}); if the model exists there, check that "
                "the base URL ends in its API prefix, such as /v1"
            )
        if status == 429:
            raise ModelUnavailable(
                f"the chat server at {self._where} is rate limiting requests (429): {detail}"
            )
        if status >= 500:
            raise ModelUnavailable(f"the chat server at {self._where} failed ({status}): {detail}")
        raise ModelUnavailable(
            f"the chat server at {self._where} refused the request ({status}): {detail}"
        )

    def _scrub(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text


def _sse_data(lines: Iterator[str]) -> Iterator[str]:
    """The data of each server-sent event: ``data:`` lines up to a blank line, joined by
    newlines; comments (``:``) and other fields (``event:``, ``id:``) are skipped."""
    buffer: list[str] = []
    for line in lines:
        if not line.strip():
            if buffer:
                yield "\n".join(buffer)
                buffer = []
        elif line.startswith("data:"):
            value = line[5:]
            buffer.append(value[1:] if value.startswith(" ") else value)
    if buffer:
        yield "\n".join(buffer)


def _error_text(body: Any) -> str:
    """The message of an error body: OpenAI's ``{"error": {"message"}}``, Ollama's
    ``{"error": "..."}`` or FastAPI's ``{"detail": ...}``."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if error:
            return str(error)
        if body.get("detail"):
            return str(body["detail"])
    return ""


def _detail(response: httpx.Response) -> str:
    try:
        detail = _error_text(response.json())
    except ValueError:
        detail = response.text.strip()
    detail = detail or response.reason_phrase or "no detail"
    return detail if len(detail) <= _DETAIL_CHARS else detail[:_DETAIL_CHARS] + "..."


def _redacted(url: str) -> str:
    """``url`` without credentials or a query string, to name the server in messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{host}:{port}" if port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
