"""The tier service image, without Docker (no engine runs here): the environment its
Dockerfile installs is built in a fresh virtual environment with the same pip command, and
the service started from it, as the image's entrypoint does, serves a real Chroma server.
checkov checks the Dockerfile itself."""

from __future__ import annotations

import json
import re
import subprocess
import venv
from contextlib import contextmanager
from pathlib import Path
from urllib.error import HTTPError
from urllib.request import urlopen

import numpy as np
import pytest
import yaml

from ragops.adapters.http_cache import HttpTierCache
from ragops.adapters.http_tier import HttpVectorTier
from ragops.domain.models import Chunk, SearchMode
from tests.servers import ChromaServer, RedisServer, TierServiceProcess, free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "vector_tier" / "Dockerfile"
CHECKOV = ROOT / ".iac" / "bin" / "checkov"
TOKEN = "image-test-token-0123456789"


def dockerfile_pip_commands() -> list[list[str]]:
    """The arguments of each ``pip install`` of the Dockerfile's build stage, in order."""
    found = re.findall(r"/opt/ragops/bin/pip install ([^\\&\n]+)", DOCKERFILE.read_text())
    assert found, "the Dockerfile no longer installs with /opt/ragops/bin/pip install"
    return [arguments.split() for arguments in found]


def dockerfile_entrypoint() -> list[str]:
    match = re.search(r"^ENTRYPOINT (\[.*\])$", DOCKERFILE.read_text(), re.MULTILINE)
    assert match
    return json.loads(match.group(1))


@pytest.fixture(scope="module")
def image_env(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("tier-image") / "venv"
    venv.create(target, with_pip=True)
    python = target / "bin" / "python"
    for arguments in dockerfile_pip_commands():
        subprocess.run(
            [python, "-m", "pip", "install", "--quiet", *arguments],
            cwd=ROOT,
            check=True,
            timeout=900,
        )
    return target


def test_the_lock_covers_every_requirement_of_the_image_environment(image_env):
    result = subprocess.run(
        [image_env / "bin" / "python", "-m", "pip", "check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_environment_has_no_embedded_engine_model_or_parser(image_env):
    listed = subprocess.run(
        [image_env / "bin" / "python", "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.lower()
    names = {line.split("==")[0] for line in listed.splitlines()}
    assert "chromadb-client" in names and "ragops" in names
    # ONNX Runtime runs the cache's duplicate model when one is published (its files come
    # from the object store); no other engine, and no model in the image.
    assert "onnxruntime" in names
    assert not names & {"chromadb", "torch", "transformers", "sentence-transformers"}
    assert not {name for name in names if name.startswith("gt-")}
    # The tier never reads a document: the parsers are the ingest extra, and chunking no
    # longer drags LangChain (and langsmith) in.
    assert not names & {"pypdf", "python-docx", "beautifulsoup4", "lxml", "py3langid"}
    assert not {name for name in names if name.startswith(("langchain", "langsmith"))}


def test_the_service_from_the_image_environment_serves_a_chroma_server(image_env, tmp_path):
    entrypoint = dockerfile_entrypoint()
    assert entrypoint[:3] == ["ragops", "tier", "serve"]
    with ChromaServer(tmp_path / "chroma") as chroma:
        service = TierServiceProcess(
            chroma.url,
            TOKEN,
            "fake/hashing-4",
            tmp_path / "tier.log",
            ragops=image_env / "bin" / "ragops",
        )
        with service:
            tier = HttpVectorTier(service.url, token=TOKEN)
            chunks = [
                Chunk(f"d{i}-c0", f"d{i}", "acme", 0, text, "", f"{i}.txt", None, 0, 1)
                for i, text in enumerate(["red apples", "blue sea", "green grass"])
            ]
            tier.upsert("acme", chunks, np.eye(3, 4, dtype=np.float32))
            assert tier.count("acme") == 3
            hits = tier.search("acme", "blue sea", [0.0, 1.0, 0.0, 0.0], 1, SearchMode.HYBRID)
            assert hits[0].chunk.doc_id == "d1"
            intruder = HttpVectorTier(service.url, token="not-the-token-0123456789")
            with pytest.raises(Exception, match="refused the credentials"):
                intruder.count("acme")


def manifest_environment() -> dict[str, str]:
    """The ``RAGOPS_*`` environment ``k8s/base/tier.yaml`` gives the tier container."""
    for document in yaml.safe_load_all((ROOT / "k8s" / "base" / "tier.yaml").read_text()):
        if (document or {}).get("kind") != "Deployment":
            continue
        for container in document["spec"]["template"]["spec"]["containers"]:
            if container["name"] == "tier":
                return {
                    e["name"]: e["value"]
                    for e in container.get("env", [])
                    if e["name"].startswith("RAGOPS_") and "value" in e
                }
    raise AssertionError("k8s/base/tier.yaml has no tier container")


@contextmanager
def manifest_service(image_env: Path, tmp_path: Path, **extra_env: str):
    """``ragops tier serve`` from the image's environment with the manifest's own settings
    (and ``extra_env``), beside a Chroma and a Redis server: only the addresses change, as
    the services beside the tier run on 127.0.0.1 here. Yields (service, its environment)."""
    env = manifest_environment()
    with ChromaServer(tmp_path / "chroma") as chroma, RedisServer(tmp_path / "redis") as redis:
        env.update(
            RAGOPS_CACHE_REDIS_URL=redis.url,
            RAGOPS_MLFLOW_TRACKING_URI=f"http://127.0.0.1:{free_port()}",
            RAGOPS_TIER_METRICS_PORT=str(free_port()),
            **extra_env,
        )
        service = TierServiceProcess(
            chroma.url,
            TOKEN,
            env["RAGOPS_INDEX_EMBEDDING_MODEL"],
            tmp_path / "tier.log",
            ragops=image_env / "bin" / "ragops",
            env=env,
        )
        with service:
            yield service, env


def test_the_image_environment_serves_every_backend_the_manifest_selects(image_env, tmp_path):
    """The deployment's own settings (the answer cache in Redis included) work in the
    image's environment: a missing client library answers 500 on every cache write."""
    assert manifest_environment()["RAGOPS_CACHE"] == "redis"
    with manifest_service(image_env, tmp_path) as (service, env):
        metrics_port = env["RAGOPS_TIER_METRICS_PORT"]
        cache = HttpTierCache(service.url, token=TOKEN, timeout=10)
        cache.put("acme", "p", "k", "e1", {"answer": "cached"}, 60)
        assert cache.get_exact("acme", "p", "k") == "e1"
        assert cache.get_entry("acme", "e1") == {"answer": "cached"}
        # /metrics on its own port only: the load balancer forwards the API port.
        with urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as response:
            assert b"ragops_tier_requests_total" in response.read()
        with pytest.raises(HTTPError) as refused:
            urlopen(f"{service.url}/metrics", timeout=10)
        assert refused.value.code == 404


def test_the_image_environment_serves_the_caches_duplicate_model(image_env, tmp_path):
    """A champion duplicate model published in the object store is loaded by the service
    from the image's environment (ONNX Runtime), and cached questions are compared by it."""
    from ragops.adapters.duplicate_model import SERVED_FILES, duplicate_model_encoder
    from ragops.adapters.local_embedder import packaged_minilm_dir
    from ragops.bootstrap import build_container
    from ragops.repositories.served_models import ServedModel
    from ragops.services.cache_training import DUPLICATE_MODEL
    from ragops.settings import Settings

    # The packaged model's int8 export in the served files' shape (what training writes).
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(
        build_container(Settings()).embedder.model_file().read_bytes()
    )
    (folder / "tokenizer.json").write_bytes((packaged_minilm_dir() / "tokenizer.json").read_bytes())
    data = tmp_path / "data"
    build_container(Settings(data_dir=data)).served_models.publish(
        ServedModel(DUPLICATE_MODEL, 2, SERVED_FILES, {"threshold": 0.8}), folder
    )
    asked = ["What does pausing the tier do?", "What happens when I pause the tier?"]
    expected = duplicate_model_encoder(folder).embed_array(asked)
    # The model cache folder under HOME, as the pod's /tmp.
    running = manifest_service(
        image_env, tmp_path, RAGOPS_DATA_DIR=str(data), HOME=str(tmp_path / "home")
    )
    with running as (service, _):
        cache = HttpTierCache(service.url, token=TOKEN, timeout=30)
        # The functions send their own embedding (Titan's dimension); the tier ignores it.
        cache.add("acme", "1:s", "e1", asked[0], [0.5] * 1024)
        (found,) = cache.nearest("acme", "1:s", [0.5] * 1024, 3, asked[1])
    assert found.entry_id == "e1" and found.serve_at == 0.8
    assert found.similarity == pytest.approx(float(expected[0] @ expected[1]), abs=2e-3)


def test_checkov_passes_on_the_dockerfile():
    result = subprocess.run(
        [CHECKOV, "-d", DOCKERFILE.parent, "--framework", "dockerfile", "--skip-download"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Failed checks: 0" in result.stdout, result.stdout
