"""The OpenAI-compatible chat model's requests, and its errors for every way a server can
fail, over ``httpx.MockTransport`` (no network)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import httpx
import pytest

from ragops.adapters.openai_compatible import OpenAICompatibleChatModel
from ragops.domain.models import ChatMessage, Generation, Usage
from ragops.errors import ConfigurationError, ModelUnavailable

BASE = "http://models.test:11434/v1"
KEY = "sk-secret-0123456789abcdef"
MESSAGES = [ChatMessage("system", "Be brief."), ChatMessage("user", "What colour is the sky?")]

Handler = Callable[[httpx.Request], httpx.Response]


def completion(text: str = "Blue.", prompt_tokens: int = 12, completion_tokens: int = 3) -> dict:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "served-name",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def sse(*events: dict | str) -> bytes:
    """A server-sent event stream, one ``data:`` event each (strings are sent as they are)."""
    return b"".join(
        f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n".encode() for e in events
    )


def delta(content: str | None, finish_reason: str | None = None) -> dict:
    return {
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": finish_reason}],
    }


def model(handler: Handler, *, api_key: str | None = KEY, base_url: str = BASE):
    client = httpx.Client(transport=httpx.MockTransport(handler))
    return OpenAICompatibleChatModel(base_url, "qwen2.5:0.5b", api_key=api_key, client=client)


def answer(status: int, body: object = None, **kwargs) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if body is None:
            return httpx.Response(status, **kwargs)
        return httpx.Response(status, json=body, **kwargs)

    return handler


def raising(exc: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


def assert_no_key(exc: pytest.ExceptionInfo) -> None:
    assert KEY not in str(exc.value)
    assert KEY not in repr(exc.value.__cause__ or "")


# -- requests and answers ------------------------------------------------------------------


def test_generate_posts_a_chat_completion_with_the_bearer_key():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=completion())

    chat = model(handler)
    chat.max_tokens, chat.temperature = 64, 0.2
    reply = chat.generate(MESSAGES)

    assert reply == Generation("Blue.", Usage(12, 3), "qwen2.5:0.5b")
    (request,) = seen
    assert request.method == "POST"
    assert str(request.url) == f"{BASE}/chat/completions"
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert json.loads(request.content) == {
        "model": "qwen2.5:0.5b",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "What colour is the sky?"},
        ],
        "max_tokens": 64,
        "temperature": 0.2,
        "stream": False,
    }


def test_no_authorization_header_without_a_key_and_a_trailing_slash_is_ignored():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=completion())

    model(handler, api_key=None, base_url=BASE + "/").generate(MESSAGES)
    assert "Authorization" not in seen[0].headers
    assert str(seen[0].url) == f"{BASE}/chat/completions"


def test_a_missing_content_or_usage_is_empty_not_an_error():
    body = completion()
    body["choices"][0]["message"]["content"] = None
    del body["usage"]
    assert model(answer(200, body)).generate(MESSAGES) == Generation(
        "", Usage(0, 0), "qwen2.5:0.5b"
    )


def test_construction_touches_no_network_and_the_key_stays_out_of_repr():
    chat = OpenAICompatibleChatModel(BASE, "m", api_key=KEY)
    assert chat.model_id == "m"
    assert chat._client is None  # built on first use
    assert KEY not in repr(chat)
    chat.close()  # closing an unused model is fine


def test_close_closes_only_a_client_the_model_built():
    injected = httpx.Client(transport=httpx.MockTransport(answer(200, completion())))
    OpenAICompatibleChatModel(BASE, "m", client=injected).close()
    assert not injected.is_closed

    chat = OpenAICompatibleChatModel(BASE, "m")
    built = chat.client
    chat.close()
    assert built.is_closed
    assert chat.client is not built and not chat.client.is_closed  # rebuilt when used again
    chat.close()


@pytest.mark.parametrize("base_url", ["localhost:11434/v1", "ftp://models.test/v1", "/v1"])
def test_a_base_url_that_is_not_http_is_a_configuration_error(base_url):
    with pytest.raises(ConfigurationError, match="not an http"):
        OpenAICompatibleChatModel(base_url, "m")


# -- statuses ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_key_is_a_configuration_error_that_never_repeats_it(status):
    body = {"error": {"message": f"Incorrect API key provided: {KEY}"}}
    with pytest.raises(ConfigurationError, match="refused the API key") as exc:
        model(answer(status, body)).generate(MESSAGES)
    assert BASE in str(exc.value)
    assert_no_key(exc)


def test_a_server_that_wants_a_key_when_none_is_set_says_so():
    with pytest.raises(ConfigurationError, match="wants an API key"):
        model(answer(401, {"detail": "Invalid API key"}), api_key=None).generate(MESSAGES)


def test_an_unknown_model_is_a_configuration_error_naming_it():
    body = {"error": {"message": "model 'qwen2.5:0.5b' not found", "type": "not_found_error"}}
    with pytest.raises(ConfigurationError, match=r"does not know the model 'qwen2.5:0.5b'") as exc:
        model(answer(404, body)).generate(MESSAGES)
    assert "not found" in str(exc.value) and "/v1" in str(exc.value)


@pytest.mark.parametrize(
    ("status", "body", "words"),
    [
        (500, {"error": {"message": "CUDA out of memory"}}, "failed (500): CUDA out of memory"),
        (502, None, "failed (502): Bad Gateway"),
        (503, {"error": "model is loading"}, "failed (503): model is loading"),
        (429, {"error": {"message": "slow down"}}, "rate limiting requests (429): slow down"),
        (400, {"detail": "prompt exceeds the context"}, "refused the request (400): prompt"),
    ],
)
def test_outages_throttling_and_refusals_are_model_unavailable(status, body, words):
    with pytest.raises(ModelUnavailable) as exc:
        model(answer(status, body)).generate(MESSAGES)
    assert words in str(exc.value)
    assert f"the chat server at {BASE}" in str(exc.value)
    assert_no_key(exc)


def test_a_long_plain_text_error_body_is_cut_short():
    page = "<html>" + "x" * 5000 + "</html>"
    with pytest.raises(ModelUnavailable) as exc:
        model(answer(500, None, text=page)).generate(MESSAGES)
    assert len(str(exc.value)) < 500


# -- transport failures and malformed bodies -----------------------------------------------


@pytest.mark.parametrize(
    ("exc", "words"),
    [
        (httpx.ConnectError("[Errno 111] Connection refused"), "did not answer"),
        (httpx.ReadTimeout("timed out"), "timed out"),
        (httpx.RemoteProtocolError("Server disconnected"), "did not answer"),
    ],
)
def test_no_answer_is_model_unavailable_naming_the_server(exc, words):
    with pytest.raises(ModelUnavailable, match=words) as caught:
        model(raising(exc)).generate(MESSAGES)
    assert BASE in str(caught.value)
    assert isinstance(caught.value.__cause__, httpx.HTTPError)


def test_credentials_in_the_base_url_stay_out_of_messages():
    chat = model(raising(httpx.ConnectError("refused")), base_url=f"http://user:{KEY}@h.test/v1")
    with pytest.raises(ModelUnavailable, match=r"http://h.test/v1") as exc:
        chat.generate(MESSAGES)
    assert_no_key(exc)
    assert KEY not in repr(chat)


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="<html>It works!</html>"),
        httpx.Response(200, json=["not", "an", "object"]),
        httpx.Response(200, json={"choices": []}),
        httpx.Response(200, json={"choices": [{"text": "a legacy completion"}]}),
        httpx.Response(200, json={"choices": [{"message": {"content": ["a", "list"]}}]}),
        httpx.Response(200, json={**completion(), "usage": {"prompt_tokens": "many"}}),
    ],
)
def test_a_body_that_is_not_a_chat_completion_is_model_unavailable(response):
    with pytest.raises(ModelUnavailable, match="not a chat completion"):
        model(lambda request: response).generate(MESSAGES)


# -- streaming -----------------------------------------------------------------------------


def streaming(body: bytes | Iterator[bytes], status: int = 200) -> Handler:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, content=body, headers={"Content-Type": "text/event-stream"})

    handler.seen = seen  # type: ignore[attr-defined]
    return handler


def test_stream_yields_pieces_then_the_generation_with_the_servers_usage():
    handler = streaming(
        b": keep-alive comment\n\n"
        + sse(
            {"choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]},
            delta("The sky"),
            delta(" is blue."),
            delta(None, "stop"),
            {"choices": [], "usage": {"prompt_tokens": 20, "completion_tokens": 5}},
            "[DONE]",
        )
    )
    parts = list(model(handler).stream(MESSAGES))

    assert parts == [
        "The sky",
        " is blue.",
        Generation("The sky is blue.", Usage(20, 5), "qwen2.5:0.5b"),
    ]
    request = handler.seen[0]  # type: ignore[attr-defined]
    body = json.loads(request.content)
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert request.headers["Accept"] == "text/event-stream"
    assert request.headers["Authorization"] == f"Bearer {KEY}"


def test_stream_without_usage_counts_pieces_and_estimates_the_prompt():
    body = sse(delta("Blue"), delta("."), delta(None, "stop"), "[DONE]").replace(
        b"\n\n", b"\r\n\r\n"
    )
    *pieces, final = model(streaming(body)).stream(MESSAGES)
    assert pieces == ["Blue", "."]
    prompt_chars = len("Be brief.") + len("What colour is the sky?")
    assert final.usage.output_tokens == 2
    assert 0 < final.usage.input_tokens <= prompt_chars // 4 + 2


def test_a_stream_that_ends_with_a_finish_reason_but_no_done_marker_is_complete():
    parts = list(model(streaming(sse(delta("Hi"), delta(None, "length")))).stream(MESSAGES))
    assert parts[-1].text == "Hi"


@pytest.mark.parametrize(
    ("body", "error", "words"),
    [
        (sse(delta("Hi")), ModelUnavailable, "ended the stream before"),
        (sse(delta("Hi"), "{not json"), ModelUnavailable, "not a chat completion"),
        (sse(delta("Hi"), '"a string"'), ModelUnavailable, "not a chat completion"),
        (sse(delta("Hi"), {"choices": ["x"]}), ModelUnavailable, "not a chat completion"),
        (
            sse(delta("Hi"), {"error": {"message": "out of memory"}}),
            ModelUnavailable,
            "failed mid-answer: out of memory",
        ),
    ],
)
def test_a_broken_stream_is_model_unavailable(body, error, words):
    with pytest.raises(error, match=words):
        list(model(streaming(body)).stream(MESSAGES))


def test_a_connection_lost_mid_stream_is_model_unavailable_after_the_first_pieces():
    def body() -> Iterator[bytes]:
        yield sse(delta("The sky"))
        raise httpx.ReadError("connection reset by peer")

    stream = model(streaming(body())).stream(MESSAGES)
    assert next(stream) == "The sky"
    with pytest.raises(ModelUnavailable, match="did not answer: connection reset"):
        next(stream)


@pytest.mark.parametrize(
    ("status", "error", "words"),
    [
        (401, ConfigurationError, "refused the API key"),
        (404, ConfigurationError, "does not know the model"),
        (429, ModelUnavailable, "rate limiting"),
        (503, ModelUnavailable, r"failed \(503\): warming up"),
    ],
)
def test_stream_statuses_map_like_generate_and_raise_from_the_first_next(status, error, words):
    body = json.dumps({"error": {"message": "warming up"}}).encode()
    stream = model(streaming(body, status=status)).stream(MESSAGES)
    with pytest.raises(error, match=words) as exc:
        next(stream)
    assert_no_key(exc)


def test_stream_connection_refused_is_model_unavailable():
    with pytest.raises(ModelUnavailable, match="did not answer"):
        next(model(raising(httpx.ConnectError("refused"))).stream(MESSAGES))
