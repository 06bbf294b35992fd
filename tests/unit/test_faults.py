"""Fault tests (issue 10, point 5), the fast ones: each injects one fault and asserts that
nothing was lost or duplicated once it is over.

- Bedrock throttled or timing out, under botocore's ``Stubber``: retries with exponential
  backoff and full jitter inside the call's budget and the Lambda's remaining time, then
  a clear 503.
- The search tier down (the real index behind a switch): maintenance mode, uploads kept
  as pending, each indexed exactly once after recovery.
- A crash in the middle of ingesting a document, as an exception (undone) and as a killed
  process (nothing undone): what stays visible, and a retry that completes it once.
- Duplicate and out-of-order S3 events through the ingest function (moto S3, the SQS
  event shape): the index ends as S3 says, one copy of each chunk.

Redis down and a real process kill are in ``tests/integration/test_faults_integration.py``;
Chroma killed behind the tier service is ``tests/integration/test_tier_faults.py``.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import random
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
import yaml
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from botocore.stub import Stubber
from fastapi.testclient import TestClient
from moto import mock_aws

from ragops.adapters.bedrock import BedrockConverseChatModel, BedrockTitanEmbedder, is_transient
from ragops.bootstrap import build_container
from ragops.domain.artifacts import (
    artifact_key,
    artifact_prefix,
    decode_artifact,
    manifest_key,
    raw_key,
)
from ragops.domain.models import ChatMessage, DocumentStatus, content_hash, document_id_for
from ragops.domain.retry import RetriesExhausted, RetryPolicy, time_budget
from ragops.domain.tier import CircuitBreaker
from ragops.entrypoints import lambdas
from ragops.entrypoints.api import create_app
from ragops.entrypoints.lambdas import RESPONSE_RESERVE_SECONDS, LocalLambdaContext, load_function
from ragops.errors import DocumentNotFound, ModelUnavailable, StoreUnavailable, TierUnavailable
from ragops.repositories.documents import DocumentCatalogue
from ragops.services.documents import delete_document, get_document, list_documents
from ragops.services.ingestion import (
    IngestOutcome,
    UploadedFile,
    ingest_document,
    ingest_files,
    receive_uploads,
)
from ragops.services.tier import resume_tier
from ragops.settings import Settings
from tests.fakes import GENERATIVE, FakeClock, HashingEmbedder
from tests.unit.test_template_references import CloudFormationLoader

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"


# -- shared checks -------------------------------------------------------------------------
def chroma_chunk_ids(vectors, tenant: str) -> dict[str, list[str]]:
    """Chunk ids per document, read from Chroma itself (not the index's in-memory view)."""
    found: dict[str, list[str]] = defaultdict(list)
    for chunk in vectors.all_chunks(tenant):
        found[chunk.doc_id].append(chunk.chunk_id)
    return found


def assert_index_matches_store(store, vectors, tenant: str) -> dict:
    """Nothing lost or duplicated: every original in the store has its manifest and the
    reverse; every document is indexed with exactly the chunks of its live artifact (one
    copy each, no chunk of another version) and has one artifact; Chroma holds no chunk of
    a document without a manifest. Returns the manifests by document id."""
    records = {r.doc_id: r for r in DocumentCatalogue(store).records(tenant)}
    originals = {key.rsplit("/", 1)[1] for key in store.list(f"raw/{tenant}/")}
    assert originals == set(records), "an original without its manifest, or the reverse"
    in_chroma = chroma_chunk_ids(vectors, tenant)
    for doc_id, record in records.items():
        assert record.status is DocumentStatus.INDEXED, (record.source, record.status)
        live = artifact_key(tenant, doc_id, record.version)
        assert list(store.list(artifact_prefix(tenant, doc_id))) == [live]
        expected = sorted(c.chunk_id for c in decode_artifact(store.get(live)).chunks)
        assert len(expected) == record.chunk_count > 0
        assert sorted(in_chroma.pop(doc_id, [])) == expected, record.source
        assert content_hash(store.get(raw_key(tenant, doc_id))) == record.content_hash
    assert not in_chroma, f"chunks without a document: {sorted(in_chroma)}"
    return records


def document_text(topic: str, version: int = 1, paragraphs: int = 4) -> bytes:
    """A document of several chunks (the fake embedder reads 128 words at most)."""
    body = "\n\n".join(
        f"{topic.title()} paragraph {p} of version {version}. "
        + " ".join(f"{topic}{p}w{w}" for w in range(60))
        for p in range(paragraphs)
    )
    return f"# {topic.title()}\n\n{body}\n".encode()


# == Bedrock: throttling and timeouts under the Stubber ===================================
MODEL = "us.amazon.nova-2-lite-v1:0"
URL = "https://bedrock-runtime.us-east-1.amazonaws.com/model/x/converse"
THROTTLED = ("ThrottlingException", "Too many requests, please wait before trying again.", 429)
CONVERSE_OK = {
    "output": {"message": {"role": "assistant", "content": [{"text": "The Aletsch Glacier [1]."}]}},
    "stopReason": "end_turn",
    "usage": {"inputTokens": 40, "outputTokens": 6, "totalTokens": 46},
    "metrics": {"latencyMs": 300},
}
HI = {
    "modelId": MODEL,
    "messages": [{"role": "user", "content": [{"text": "hi"}]}],
    "inferenceConfig": {"maxTokens": 512, "temperature": 0.0},
}


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def runtime():
    client = boto3.client("bedrock-runtime", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()  # every queued answer was asked for


def policy(clock, **kwargs) -> RetryPolicy:
    defaults = dict(
        max_attempts=4,
        base_delay=0.2,
        max_delay=2.0,
        budget_seconds=20.0,
        attempt_seconds=17.0,
        jitter=lambda: 0.75,
    )
    return RetryPolicy(sleep=clock.sleep, clock=clock, **{**defaults, **kwargs})


def raise_first(client, clock, failures):
    """Before the Stubber answers (it cannot raise connection errors), raise each of
    ``failures`` — ``(seconds it took, error)`` — from one call in turn, as a client whose
    connection timed out would. Returns the clock's time at each attempt."""
    attempts: list[float] = []

    def hook(**_):
        attempts.append(clock.now)
        if len(attempts) <= len(failures):
            seconds, error = failures[len(attempts) - 1]
            clock.advance(seconds)
            raise error

    # Beside the Stubber's handler and ahead of it: botocore runs "*" handlers of a level
    # before the named ones, so a hook on "before-call.bedrock-runtime.Converse" would come
    # after the Stubber had answered.
    client.meta.events.register_first("before-call.*.*", hook)
    return attempts


def test_botocore_does_not_retry_under_the_stubber():
    """Why the retry policy lives in the adapter: the Stubber answers at ``before-call``,
    before the endpoint whose handler retries, so even a client configured for five
    attempts raises the first stubbed throttle."""
    client = boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        config=Config(retries={"mode": "standard", "max_attempts": 5}),
    )
    with Stubber(client) as stubber:
        stubber.add_client_error("converse", *THROTTLED)
        stubber.add_response("converse", CONVERSE_OK)
        with pytest.raises(ClientError, match="ThrottlingException"):
            client.converse(**HI)
        assert client.converse(**HI)["output"]["message"]["content"][0]["text"]


def test_throttled_converse_backs_off_exponentially_then_answers(runtime, clock):
    client, stubber = runtime
    for _ in range(2):
        stubber.add_client_error("converse", *THROTTLED, expected_params=HI)
    stubber.add_response("converse", CONVERSE_OK, HI)
    model = BedrockConverseChatModel(MODEL, client=client, retry=policy(clock))
    reply = model.generate([ChatMessage("user", "hi")])
    assert reply.text == "The Aletsch Glacier [1]." and reply.usage.output_tokens == 6
    # Three calls (the fixture checks none is left); the pauses double: 0.75 x 0.2, 0.4.
    assert clock.sleeps == pytest.approx([0.15, 0.3])


def test_backoff_is_full_jitter_doubling_up_to_a_cap():
    backoff = RetryPolicy(base_delay=0.2, max_delay=2.0, jitter=random.Random(7).random).backoff
    for retry, cap in [(1, 0.2), (2, 0.4), (3, 0.8), (4, 1.6), (5, 2.0), (9, 2.0)]:
        pauses = [backoff(retry) for _ in range(300)]
        assert all(0 <= p < cap for p in pauses)
        # Spread over the whole range, so throttled clients do not come back in step.
        assert min(pauses) < 0.05 * cap and max(pauses) > 0.95 * cap


def test_throttled_on_every_attempt_is_model_unavailable_naming_the_attempts(runtime, clock):
    client, stubber = runtime
    for _ in range(4):
        stubber.add_client_error("converse", *THROTTLED)
    model = BedrockConverseChatModel(MODEL, client=client, retry=policy(clock))
    with pytest.raises(ModelUnavailable) as raised:
        model.generate([ChatMessage("user", "hi")])
    message = str(raised.value)
    assert message.startswith("Bedrock Converse is unavailable after 4 attempt(s)")
    assert "ThrottlingException" in message and "try again shortly" in message
    assert len(clock.sleeps) == 3 and clock.now <= 20.0  # exactly 4 calls: none pending


def test_a_connect_timeout_is_retried_and_the_answer_comes_back(runtime, clock):
    client, stubber = runtime
    stubber.add_client_error("converse", *THROTTLED)
    stubber.add_response("converse", CONVERSE_OK)
    attempts = raise_first(client, clock, [(2.0, ConnectTimeoutError(endpoint_url=URL))])
    model = BedrockConverseChatModel(MODEL, client=client, retry=policy(clock))
    assert model.generate([ChatMessage("user", "hi")]).text == "The Aletsch Glacier [1]."
    assert len(attempts) == 3  # timed out, throttled, answered


def test_read_timeouts_stop_retrying_before_the_budget_runs_out(clock):
    """A read timeout took 15 s of a 20 s budget: another attempt could take 17 s (connect
    plus read timeouts), so none starts and the call ends well inside its budget."""
    client = boto3.client("bedrock-runtime", region_name="us-east-1")  # the hook answers
    attempts = raise_first(client, clock, [(15.0, ReadTimeoutError(endpoint_url=URL))] * 4)
    model = BedrockConverseChatModel(MODEL, client=client, retry=policy(clock))
    with pytest.raises(ModelUnavailable, match=r"after 1 attempt\(s\) in 15.0 s") as raised:
        model.generate([ChatMessage("user", "hi")])
    assert "no time for another within 20.0 s" in str(raised.value)
    assert "Read timeout" in str(raised.value)
    assert len(attempts) == 1 and clock.now <= 20.0 and clock.sleeps == []


def test_a_retry_never_starts_if_it_could_end_past_the_deadline(clock):
    starts: list[float] = []

    def slow_failure():
        starts.append(clock.now)
        clock.advance(2.5)
        raise ReadTimeoutError(endpoint_url=URL)

    retry = policy(
        clock, max_attempts=10, budget_seconds=10.0, attempt_seconds=3.0, jitter=lambda: 0.99
    )
    with pytest.raises(RetriesExhausted) as raised:
        retry.run(slow_failure, is_transient)
    assert raised.value.attempts == len(starts) == 3
    assert all(start + 3.0 <= 10.0 for start in starts) and clock.now <= 10.0


def test_errors_that_another_attempt_cannot_fix_are_not_retried(runtime, clock):
    client, stubber = runtime
    stubber.add_client_error("converse", "ValidationException", "bad model id", 400)
    model = BedrockConverseChatModel(MODEL, client=client, retry=policy(clock))
    with pytest.raises(ModelUnavailable, match=r"Bedrock Converse failed: .*bad model id"):
        model.generate([ChatMessage("user", "hi")])
    assert clock.sleeps == []


@pytest.mark.parametrize(
    ("code", "status", "transient"),
    [
        ("ThrottlingException", 429, True),
        ("ServiceUnavailableException", 503, True),
        ("InternalServerException", 500, True),
        ("ModelTimeoutException", 408, True),
        ("ModelNotReadyException", 429, True),
        ("ValidationException", 400, False),
        ("AccessDeniedException", 403, False),
        ("ResourceNotFoundException", 404, False),
        ("ServiceQuotaExceededException", 400, False),
    ],
)
def test_which_service_errors_are_retried(code, status, transient):
    error = ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "Converse",
    )
    assert is_transient(error) is transient


def test_timeouts_and_dropped_connections_are_retried():
    for error in [
        ReadTimeoutError(endpoint_url=URL),
        ConnectTimeoutError(endpoint_url=URL),
        EndpointConnectionError(endpoint_url=URL),
        ConnectionClosedError(endpoint_url=URL),
    ]:
        assert is_transient(error), error
    assert not is_transient(ValueError("a bad payload"))


def test_throttled_titan_embedding_is_retried(runtime, clock):
    import io

    from botocore.response import StreamingBody

    client, stubber = runtime
    body = json.dumps({"embedding": [0.6, 0.8, 0.0], "inputTextTokenCount": 2}).encode()
    stubber.add_client_error("invoke_model", *THROTTLED)
    stubber.add_response(
        "invoke_model",
        {"body": StreamingBody(io.BytesIO(body), len(body)), "contentType": "application/json"},
    )
    embedder = BedrockTitanEmbedder(dimensions=3, client=client, retry=policy(clock))
    assert embedder.embed_query("glaciers") == [0.6, 0.8, 0.0]
    assert len(clock.sleeps) == 1


def test_the_request_time_budget_reaches_the_embedding_workers(runtime):
    """Titan requests run in a thread pool: the request's time budget (a context variable)
    must reach those threads. With none left, no request is sent at all (the Stubber has
    nothing queued, so one that reached the client would fail differently)."""
    client, _ = runtime
    embedder = BedrockTitanEmbedder(dimensions=3, client=client, concurrency=2)
    with time_budget(lambda: 0.0), pytest.raises(ModelUnavailable, match="time is up"):
        embedder.embed_array(["one", "two"])


def test_clients_built_by_the_adapters_leave_retrying_to_the_policy():
    settings = Settings(
        llm="bedrock",
        embedder="bedrock",
        guardrail="bedrock",
        bedrock_guardrail_id="gr-123",
        bedrock_max_attempts=3,
        bedrock_read_timeout_seconds=9,
    )
    container = build_container(settings)
    for adapter in (container.chat_model, container.embedder, container.guardrail):
        config = adapter.client.meta.config
        assert config.retries["total_max_attempts"] == 1  # botocore does not retry on top
        assert (config.connect_timeout, config.read_timeout) == (2.0, 9.0)
        assert adapter.retry.max_attempts == 3 and adapter.retry.attempt_seconds == 11.0


def test_the_bedrock_budget_fits_the_api_functions_timeout():
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=CloudFormationLoader)
    timeout = template["Resources"]["ApiFunction"]["Properties"]["Timeout"]
    s = Settings()
    attempt = s.bedrock_connect_timeout_seconds + s.bedrock_read_timeout_seconds
    assert attempt <= s.bedrock_retry_budget_seconds <= timeout - RESPONSE_RESERVE_SECONDS


@dataclass
class ClockedLambdaContext(LocalLambdaContext):
    """Lambda's context with the remaining time read from a fake clock."""

    clock: FakeClock = field(default_factory=FakeClock)
    started: float = 0.0

    def get_remaining_time_in_millis(self) -> int:
        return int(self.timeout_ms - (self.clock.now - self.started) * 1000)


def test_bedrock_throttled_through_the_api_function_is_a_clear_503_in_time(
    tmp_path, monkeypatch, chroma_client, clock
):
    """The API function with 10 s left: every Converse call is throttled after 2 s. The
    call's own budget (20 s, 4 attempts) would allow a fourth attempt; the Lambda's
    remaining time (less the reserve) does not, so it answers 503 after three, in time.
    The next request, with Bedrock back, is answered."""
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
    client = boto3.client("bedrock-runtime", region_name="us-east-1")
    attempts: list[float] = []

    def slow_answer(**_):
        attempts.append(clock.now)
        clock.advance(2.0)

    client.meta.events.register_first("before-call.*.*", slow_answer)
    retry = policy(clock, attempt_seconds=3.0, jitter=lambda: 0.5)
    model = BedrockConverseChatModel(MODEL, client=client, retry=retry)
    container = build_container(
        Settings(data_dir=tmp_path, min_relevance=0.1, **GENERATIVE),
        embedder=HashingEmbedder(),
        chroma_client=chroma_client,
        chat_model=model,
    )
    ingest_document(
        container.ingest_context(),
        tenant="acme",
        filename="glaciers.md",
        data=b"# Glaciers\n\nThe Aletsch Glacier is the longest glacier in the Alps.\n",
    )
    handler = load_function(ROOT / "functions", "api")
    request = json.loads((EVENTS / "api_query.json").read_text())
    lambdas.use_container(container)
    try:
        with Stubber(client) as stubber:
            for _ in range(3):
                stubber.add_client_error("converse", *THROTTLED)
            stubber.add_response("converse", CONVERSE_OK)

            context = ClockedLambdaContext(function_name="api", timeout_ms=10_000, clock=clock)
            failed = handler(request, context)
            assert failed["statusCode"] == 503, failed["body"]
            assert int(failed["headers"]["retry-after"]) > 0
            error = json.loads(failed["body"])["error"]
            assert error["type"] == "ModelUnavailable"
            assert error["message"].startswith("Bedrock Converse is unavailable after 3 attempt")
            assert "ThrottlingException" in error["message"]
            assert len(attempts) == 3
            assert clock.now <= 10.0 - RESPONSE_RESERVE_SECONDS

            later = ClockedLambdaContext(
                function_name="api", timeout_ms=10_000, clock=clock, started=clock.now
            )
            answered = handler(request, later)
            assert answered["statusCode"] == 200, answered["body"]
            body = json.loads(answered["body"])
            assert body["answer"] == "The Aletsch Glacier [1]."
            assert body["citations"][0]["source"] == "glaciers.md"
            stubber.assert_no_pending_responses()
    finally:
        lambdas.use_container(None)


# == The search tier down: maintenance mode, uploads kept, indexed once after recovery ====
class SwitchableTier:
    """The real index behind a switch: ``down`` fails every call as a dead tier does;
    ``failing_upserts`` fails that many writes only (the tier dies during an upload)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.down = False
        self.failing_upserts = 0

    def __getattr__(self, name):
        attr = getattr(self.inner, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            if name == "upsert" and self.failing_upserts:
                self.failing_upserts -= 1
                raise TierUnavailable("connection reset by peer")
            if self.down:
                raise TierUnavailable("connection refused")
            return attr(*args, **kwargs)

        return call


def test_tier_down_keeps_uploads_and_indexes_each_once_after_recovery(
    tmp_path, embedder, chat_model, chroma_client
):
    real = build_container(
        Settings(data_dir=tmp_path / "tier"), embedder=embedder, chroma_client=chroma_client
    ).raw_index()
    tier = SwitchableTier(real)
    settings = Settings(data_dir=tmp_path / "api", min_relevance=0.1)
    container = build_container(settings, embedder=embedder, chat_model=chat_model, index=tier)
    breaker_clock = FakeClock()
    container.breaker = CircuitBreaker(2, reset_seconds=30, clock=breaker_clock)  # before use
    api = TestClient(create_app(container), raise_server_exceptions=False)

    def upload(name: str, data: bytes):
        return api.post("/v1/documents", files={"file": (name, data, "text/markdown")})

    def statuses() -> dict[str, str]:
        return {d["source"]: d["status"] for d in api.get("/v1/documents").json()["documents"]}

    first = upload("glaciers.md", document_text("glacier"))
    assert first.status_code == 201
    glacier_chunks = first.json()["results"][0]["document"]["chunk_count"]
    assert upload("volcanoes.md", document_text("volcano")).status_code == 201
    assert api.post("/v1/query", json={"question": "glacier0w1"}).status_code == 200

    tier.failing_upserts = 1  # the tier dies while the chunks are written
    tides = upload("tides.md", document_text("tide"))
    assert tides.status_code == 202, tides.text
    kept = tides.json()["results"][0]["document"]
    assert kept["status"] == "pending" and "failed" in kept["status_reason"]
    tier.down = True
    replaced = upload("glaciers.md", document_text("glacier", version=2))
    assert replaced.status_code == 202 and replaced.json()["results"][0]["outcome"] == "accepted"
    for top_k in (7, 8):  # cache partitions of their own: these reach the dead tier
        down = api.post("/v1/query", json={"question": "glacier0w1", "top_k": top_k})
        assert down.status_code == 503 and int(down.headers["Retry-After"]) > 0
    assert api.get("/healthz").json()["status"] == "maintenance"
    # Nothing lost: every upload is listed and its bytes are stored.
    assert statuses() == {
        "glaciers.md": "pending",
        "volcanoes.md": "indexed",
        "tides.md": "pending",
    }
    store = container.store
    assert store.get(raw_key("default", kept["doc_id"])) == document_text("tide")
    glacier_id = document_id_for("glaciers.md")
    assert store.get(raw_key("default", glacier_id)) == document_text("glacier", version=2)
    # The failed write left nothing behind; the indexed version of glaciers.md stays whole.
    held = chroma_chunk_ids(real.vectors, "default")
    assert kept["doc_id"] not in held
    assert len(held[glacier_id]) == glacier_chunks

    tier.down = False
    breaker_clock.advance(30)  # the breaker lets a call through again
    resumed = resume_tier(container.tier_state, container.ingest_context())
    assert sorted(r.record.source for r in resumed) == ["glaciers.md", "tides.md"]
    records = assert_index_matches_store(store, real.vectors, "default")
    assert records[glacier_id].content_hash == content_hash(document_text("glacier", version=2))
    assert statuses() == dict.fromkeys(["glaciers.md", "volcanoes.md", "tides.md"], "indexed")
    found = api.post(
        "/v1/query", json={"question": "tide2w1 tide2w2 tide2w3 tide2w4 tide2w5", "top_k": 3}
    ).json()
    assert found["citations"][0]["source"] == "tides.md"


# == A crash in the middle of ingesting a document ========================================
class SimulatedKill(BaseException):
    """The process dies here: no ``except Exception`` runs, so nothing is undone."""


class Sabotaged:
    """Delegates to ``inner``; the first call of ``method`` whose first argument passes
    ``when`` raises ``error`` (once)."""

    def __init__(self, inner, method: str, error: BaseException, when=lambda arg: True) -> None:
        self.inner = inner
        self.method = method
        self.error = error
        self.when = when
        self.fired = False

    def __getattr__(self, name):
        attr = getattr(self.inner, name)
        if name != self.method:
            return attr

        def call(*args, **kwargs):
            if not self.fired and self.when(args[0]):
                self.fired = True
                raise self.error
            return attr(*args, **kwargs)

        return call


CRASH_POINTS = {
    # where: (which port, method, which call)
    "artifact": ("store", "put", lambda key: key.startswith("chunks/")),
    "index": ("index", "upsert", lambda tenant: True),
    "original": ("store", "put", lambda key: key.startswith("raw/")),
    "manifest": ("store", "put", lambda key: key.startswith("documents/")),
}


def sabotaged(ctx, where: str, error: BaseException):
    port, method, when = CRASH_POINTS[where]
    return dataclasses.replace(ctx, **{port: Sabotaged(getattr(ctx, port), method, error, when)})


def store_contents(container) -> dict[str, bytes]:
    return {key: container.store.get(key) for key in container.store.list("")}


def vectors(container):
    return container.raw_index().vectors


OPS = document_text("operations")
OPS_V2 = document_text("operations", version=2)


@pytest.mark.parametrize("replacing", [False, True], ids=["new", "replacing"])
@pytest.mark.parametrize("where", list(CRASH_POINTS))
def test_a_failed_write_is_undone_and_a_retry_completes_it(container, where, replacing):
    """An error at any write (the store or the tier failing) leaves store and index byte
    for byte as they were, the original of a document being replaced included."""
    ctx = container.ingest_context()
    ingest_document(ctx, tenant="default", filename="keep.md", data=document_text("keep"))
    if replacing:
        ingest_document(ctx, tenant="default", filename="ops.md", data=OPS)
    before = store_contents(container), chroma_chunk_ids(vectors(container), "default")
    with pytest.raises(StoreUnavailable):
        ingest_document(
            sabotaged(ctx, where, StoreUnavailable("connection reset")),
            tenant="default",
            filename="ops.md",
            data=OPS_V2,
        )
    assert (store_contents(container), chroma_chunk_ids(vectors(container), "default")) == before
    retried = ingest_document(ctx, tenant="default", filename="ops.md", data=OPS_V2)
    assert retried.outcome is (IngestOutcome.UPDATED if replacing else IngestOutcome.CREATED)
    records = assert_index_matches_store(container.store, vectors(container), "default")
    assert len(records) == 2


def test_a_manifest_failing_in_a_batch_undoes_the_batchs_earlier_manifests(container):
    """Two documents ingested together, the second's manifest failing: the first's new
    manifest is undone with its artifact and original, so no manifest names a version
    whose artifact is gone."""
    ctx = container.ingest_context()
    ingest_document(ctx, tenant="default", filename="ops.md", data=OPS)
    before = store_contents(container), chroma_chunk_ids(vectors(container), "default")
    tides = manifest_key("default", document_id_for("tides.md"))
    failing = Sabotaged(ctx.store, "put", StoreUnavailable("connection reset"), tides.__eq__)
    with pytest.raises(StoreUnavailable):
        ingest_files(
            dataclasses.replace(ctx, store=failing),
            tenant="default",
            files=[UploadedFile("ops.md", OPS_V2), UploadedFile("tides.md", document_text("tide"))],
        )
    assert (store_contents(container), chroma_chunk_ids(vectors(container), "default")) == before
    assert_index_matches_store(container.store, vectors(container), "default")


@pytest.mark.parametrize("where", ["artifact", "original", "manifest"])
def test_a_process_killed_mid_ingest_shows_no_document_and_a_retry_completes_it_once(
    container, where
):
    """Killed before the manifest is written, the document is not listed and cannot be
    fetched. Killed after the index write (at the original or the manifest), its chunks
    ARE in the index and search can return them until the upload is retried: the index
    write cannot wait for the manifest, which must only ever list indexed documents. (In
    the cloud the retry is automatic: the SQS message comes back; see the S3 event test.)
    Retrying the same upload completes it with one copy of each chunk."""
    ctx = container.ingest_context()
    doc_id = document_id_for("ops.md")
    with pytest.raises(SimulatedKill):
        ingest_document(
            sabotaged(ctx, where, SimulatedKill()), tenant="default", filename="ops.md", data=OPS
        )
    assert list_documents(container.store, "default") == []
    with pytest.raises(DocumentNotFound):
        get_document(container.store, "default", doc_id)
    orphans = chroma_chunk_ids(vectors(container), "default").get(doc_id, [])
    if where == "artifact":
        assert orphans == []
    else:  # all of the document's chunks, from the one upsert: never part of them
        assert len(orphans) > 1
        embedding = container.embedder.embed_array(["operations1w5"])[0]
        hits = container.index.search("default", "operations1w5", embedding, 3)
        assert hits and hits[0].chunk.doc_id == doc_id  # visible to search until the retry

    retried = ingest_document(ctx, tenant="default", filename="ops.md", data=OPS)
    assert retried.outcome is IngestOutcome.CREATED
    records = assert_index_matches_store(container.store, vectors(container), "default")
    assert list(records) == [doc_id]
    if orphans:
        assert sorted(orphans) == sorted(chroma_chunk_ids(vectors(container), "default")[doc_id])


def test_a_process_killed_while_replacing_a_document_keeps_the_old_version_listed(container):
    """Killed at the new manifest: the listing still shows the old version, indexed; the
    index holds both versions' chunks (search may return either) and the original in the
    store is already the new bytes, until the retry, which leaves exactly the new
    version's chunks, artifact and manifest."""
    ctx = container.ingest_context()
    first = ingest_document(ctx, tenant="default", filename="ops.md", data=OPS).record
    with pytest.raises(SimulatedKill):
        ingest_document(
            sabotaged(ctx, "manifest", SimulatedKill()),
            tenant="default",
            filename="ops.md",
            data=OPS_V2,
        )
    (listed,) = list_documents(container.store, "default")
    assert listed.content_hash == first.content_hash and listed.status is DocumentStatus.INDEXED
    held = chroma_chunk_ids(vectors(container), "default")[first.doc_id]
    assert len(held) == 2 * first.chunk_count  # both versions, until the retry
    assert container.store.get(raw_key("default", first.doc_id)) == OPS_V2
    retried = ingest_document(ctx, tenant="default", filename="ops.md", data=OPS_V2)
    assert retried.outcome is IngestOutcome.UPDATED
    records = assert_index_matches_store(container.store, vectors(container), "default")
    assert records[first.doc_id].content_hash == content_hash(OPS_V2)


def test_a_process_killed_before_the_old_version_is_retired_is_finished_by_a_retry(container):
    """Killed after the new manifest, before the old chunks are deleted: the same upload
    again is not taken for ``unchanged`` (the index holds more chunks than the manifest
    says) and the retry retires the old version."""
    ctx = container.ingest_context()
    first = ingest_document(ctx, tenant="default", filename="ops.md", data=OPS).record
    killed = dataclasses.replace(ctx, index=Sabotaged(ctx.index, "delete_chunks", SimulatedKill()))
    with pytest.raises(SimulatedKill):
        ingest_document(killed, tenant="default", filename="ops.md", data=OPS_V2)
    (listed,) = list_documents(container.store, "default")
    assert listed.content_hash == content_hash(OPS_V2)
    assert len(chroma_chunk_ids(vectors(container), "default")[first.doc_id]) > listed.chunk_count
    retried = ingest_document(ctx, tenant="default", filename="ops.md", data=OPS_V2)
    assert retried.outcome is IngestOutcome.UPDATED
    assert_index_matches_store(container.store, vectors(container), "default")


# == Duplicate and out-of-order S3 events, through the ingest function ===================
BUCKET = "ragops-documents-test"
TENANT = "acme"


def s3_event(key: str, *, removed: bool = False) -> dict:
    """One SQS record carrying one S3 event from EventBridge, shaped as the samples."""
    sample = (
        "s3_object_removed_eventbridge_sqs.json"
        if removed
        else "s3_object_created_eventbridge_sqs.json"
    )
    (record,) = json.loads((EVENTS / sample).read_text())["Records"]
    body = json.loads(record["body"])
    body["id"] = str(uuid.uuid4())
    body["detail"]["object"]["key"] = key
    return {**record, "messageId": str(uuid.uuid4()), "body": json.dumps(body)}


def again(record: dict) -> dict:
    """The same S3 event delivered once more (a new SQS message: at-least-once)."""
    return {**record, "messageId": str(uuid.uuid4())}


class S3World:
    """moto S3 as the documents bucket, the ingest function's handler, embedded Chroma."""

    def __init__(self, container, s3) -> None:
        self.container = container
        self.s3 = s3
        self.handler = load_function(ROOT / "functions", "ingest")

    @property
    def store(self):
        return self.container.store

    def upload(self, name: str, data: bytes) -> str:
        """What the API does in async mode: a pending manifest, then the original."""
        (result,) = receive_uploads(
            self.container.ingest_context(),
            tenant=TENANT,
            files=[UploadedFile(name, data)],
            tier_usable=True,
            tier_reason="",
            index_now=False,
        )
        assert result.outcome is IngestOutcome.ACCEPTED
        return raw_key(TENANT, result.record.doc_id)

    def delete_through_api(self, key: str) -> None:
        delete_document(self.store, self.container.index, TENANT, key.rsplit("/", 1)[1])

    def delete_in_s3(self, key: str) -> None:
        self.s3.delete_object(Bucket=BUCKET, Key=key)

    def deliver(self, records: list[dict], batch_size: int = 5, rounds: int = 4) -> None:
        """SQS: batches of ``batch_size``; a failed message comes back (after the
        visibility timeout) with the next round, until every one succeeded."""
        from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

        pending = list(records)
        for _ in range(rounds):
            failed: list[dict] = []
            for start in range(0, len(pending), batch_size):
                batch = pending[start : start + batch_size]
                try:
                    response = self.handler({"Records": batch}, LocalLambdaContext("ingest"))
                except BatchProcessingError:  # all of the batch failed
                    failed.extend(batch)
                    continue
                ids = {f["itemIdentifier"] for f in response["batchItemFailures"]}
                failed.extend(r for r in batch if r["messageId"] in ids)
            if not failed:
                return
            pending = failed
        raise AssertionError(f"{len(pending)} messages still fail after {rounds} deliveries")

    def check(self) -> dict:
        return assert_index_matches_store(self.store, self.container.raw_index().vectors, TENANT)


@pytest.fixture
def world(tmp_path, embedder, chat_model, chroma_client, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        settings = Settings(
            data_dir=tmp_path, object_store="s3", s3_bucket=BUCKET, ingest_mode="async"
        )
        container = build_container(
            settings,
            embedder=embedder,
            chat_model=chat_model,
            chroma_client=chroma_client,
            aws_clients={"s3": s3},
        )
        lambdas.use_container(container)
        try:
            yield S3World(container, s3)
        finally:
            lambdas.use_container(None)


def interleave(*sequences: list[dict]) -> list[dict]:
    """Round robin over per-document event sequences, keeping each one's order."""
    merged = itertools.zip_longest(*sequences)
    return [record for group in merged for record in group if record is not None]


def test_duplicate_and_out_of_order_s3_events_leave_the_index_as_s3_says(world, embedder):
    sequences: list[list[dict]] = []
    expected: dict[str, bytes | None] = {}  # the original each key must end with, or gone

    # Deleted and uploaded again (new bytes) before any event is handled: Created(v1),
    # Removed, Created(v2) arrive in every order, the first one twice.
    for n, order in enumerate(itertools.permutations(range(3))):
        name = f"recreated{n}.md"
        key = world.upload(name, document_text(f"recreated{n}"))
        world.delete_through_api(key)
        final = document_text(f"recreated{n}", version=2)
        world.upload(name, final)
        events = [s3_event(key), s3_event(key, removed=True), s3_event(key)]
        ordered = [events[i] for i in order]
        sequences.append([*ordered, again(ordered[0])])
        expected[key] = final

    # Indexed, then deleted in S3 directly: Removed and a late copy of Created, both
    # orders, twice.
    for n in range(2):
        key = world.upload(f"removed{n}.md", document_text(f"removed{n}"))
        world.deliver([s3_event(key)])
        world.delete_in_s3(key)
        late = [s3_event(key), s3_event(key, removed=True)]
        sequences.append((late if n else late[::-1]) * 2)
        expected[key] = None

    # Replaced in place (the same name, new bytes): the events of both versions, the old
    # one last, and repeated.
    key = world.upload("replaced.md", document_text("replaced"))
    world.deliver([s3_event(key)])
    replaced = document_text("replaced", version=2)
    world.upload("replaced.md", replaced)
    sequences.append([s3_event(key), s3_event(key), s3_event(key)])
    expected[key] = replaced

    # A plain upload whose Created event comes three times.
    key = world.upload("plain.md", document_text("plain"))
    created = s3_event(key)
    sequences.append([created, again(created), again(created)])
    expected[key] = document_text("plain")

    stream = interleave(*sequences)
    embedded = embedder.texts_embedded
    world.deliver(stream)
    records = world.check()
    # Each surviving document was embedded once, the removed ones not at all.
    assert embedder.texts_embedded - embedded == sum(r.chunk_count for r in records.values())
    held = {raw_key(TENANT, doc_id): record for doc_id, record in records.items()}
    assert set(held) == {key for key, data in expected.items() if data is not None}
    for key, data in expected.items():
        if data is not None:
            assert held[key].content_hash == content_hash(data), key
    embedded = embedder.texts_embedded

    world.deliver([again(record) for record in stream])  # the whole stream again
    assert world.check() == records
    assert embedder.texts_embedded == embedded  # a replay re-embeds nothing


def test_an_ingest_function_killed_mid_document_is_completed_by_the_redelivery(world):
    """The ingest function dies after the chunks are written (a timeout, out of memory):
    the document stays listed as pending (its chunks are searchable until the message
    comes back, see the crash tests above); the redelivered message completes it, with
    one copy of each chunk."""
    key = world.upload("ops.md", OPS)
    doc_id = key.rsplit("/", 1)[1]
    container = world.container
    intact = container.ingest_context

    def dying_context():
        return sabotaged(intact(), "manifest", SimulatedKill())

    container.ingest_context = dying_context
    message = s3_event(key)
    with pytest.raises(SimulatedKill):
        world.deliver([message])
    assert get_document(world.store, TENANT, doc_id).status is DocumentStatus.PENDING
    assert chroma_chunk_ids(container.raw_index().vectors, TENANT)[doc_id]

    container.ingest_context = intact
    world.deliver([message])  # SQS makes it visible again after the visibility timeout
    records = world.check()
    assert records[doc_id].chunk_count == len(
        chroma_chunk_ids(container.raw_index().vectors, TENANT)[doc_id]
    )
