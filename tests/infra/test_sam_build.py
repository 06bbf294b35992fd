"""The SAM template lints clean and builds with the local Python, and what it builds is a
deployable API function: within its size budget, free of local-model packages, and carrying
every module the API handler imports on the cloud configuration.

These run the tools environment (``make tools``): aws-sam-cli and cfn-lint pin their own
boto3, so they live beside the runtime environment, not in it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TOOLS = Path(os.environ.get("RAGOPS_TOOLS_DIR", ROOT / ".tools"))
# What the python3.13 Lambda runtime provides besides the standard library.
RUNTIME_PROVIDED = {
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "dateutil",
    "urllib3",
    "six",
    "snapshot_restore_py",
}
# Imported when present, with a fallback when not: loaded here only because the development
# environment happens to have them.
OPTIONAL_IMPORTS = {
    "certifi": "botocore.httpsession falls back to its bundled CA file",
    "orjson": "fastapi.responses sets orjson = None",
    "sniffio": "anyio._core._eventloop detects the loop without it",
}


def tool(name: str) -> str:
    path = TOOLS / "bin" / name
    if not path.exists():
        pytest.fail(f"{path} not found: run `make tools` (or set RAGOPS_TOOLS_DIR)")
    return str(path)


def run_tool(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    env = load_cold_start_bench().sam_environment()
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def load_cold_start_bench():
    """bench/cold_start.py, whose size and moto-server helpers these tests share."""
    spec = importlib.util.spec_from_file_location("cold_start", ROOT / "bench" / "cold_start.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sam-build")
    result = run_tool(tool("sam"), "build", "--build-dir", str(out))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return out


def test_cfn_lint_is_clean():
    result = run_tool(tool("cfn-lint"), "template.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_sam_validate_lint_passes():
    result = run_tool(tool("sam"), "validate", "--lint")
    assert result.returncode == 0, result.stdout + result.stderr


def test_sam_build_builds_every_function_and_layer(build_dir):
    for function in ("ApiFunction", "IngestFunction", "ScalerFunction"):
        assert (build_dir / function / "app.py").is_file(), function
    assert (build_dir / "CoreLayer/python/ragops/entrypoints/lambdas.py").is_file()
    assert (build_dir / "ApiDepsLayer/python/fastapi").is_dir()
    assert (build_dir / "ApiDepsLayer/python/mangum").is_dir()
    assert (build_dir / "IngestDepsLayer/python/numpy").is_dir()
    assert (build_dir / "IngestDepsLayer/python/pypdf").is_dir()
    # Precompiled by the runtime's Python: a cold start does not compile what it imports.
    for layer, package in (("CoreLayer", "ragops"), ("ApiDepsLayer", "fastapi")):
        cache = build_dir / layer / "python" / package / "__pycache__"
        assert list(cache.glob("*.cpython-313.pyc")), layer
        assert not list(cache.glob("*.cpython-311.pyc")), layer


def test_the_layers_leave_out_what_the_runtime_provides_and_unused_stdnum(build_dir):
    """The runtime's AWS SDK comes with jmespath, urllib3, dateutil and six: a layer's copy
    would override it under botocore. python-stdnum keeps Luhn and IBAN only."""
    for layer in ("ApiDepsLayer", "IngestDepsLayer"):
        site = build_dir / layer / "python"
        shipped = {entry.name.split(".")[0].split("-")[0] for entry in site.iterdir()}
        assert not shipped & RUNTIME_PROVIDED, (layer, shipped & RUNTIME_PROVIDED)
        stdnum = {entry.name for entry in (site / "stdnum").iterdir()} - {"__pycache__"}
        assert {"luhn.py", "iban.py", "iban.dat"} <= stdnum
        assert not {"isbn.py", "us", "de"} & stdnum
        assert not (site / "langchain_text_splitters").exists()


def test_the_api_function_is_small_and_carries_no_local_models(build_dir):
    size = load_cold_start_bench().deployment_sizes(build_dir)
    assert size["total_mb"] <= 50, size
    assert size["forbidden_packages"] == [], size
    for layer in ("CoreLayer", "ApiDepsLayer", "IngestDepsLayer"):
        for package in ("boto3", "botocore", "numpy" if layer != "IngestDepsLayer" else "torch"):
            assert not (build_dir / layer / "python" / package).exists(), (layer, package)


# Runs in a fresh process on the cloud configuration: the API handler serves health, an
# upload (stored in S3, pending) and a listing, then reports every top-level module loaded.
IMPORT_CLOSURE = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
app = importlib.util.module_from_spec(spec)
spec.loader.exec_module(app)
from ragops.entrypoints.lambdas import LocalLambdaContext
statuses = []
for name in ("api_health.json", "api_upload_document.json", "api_list_documents.json"):
    with open(f"{sys.argv[2]}/{name}") as f:
        event = json.load(f)
    event["headers"]["Authorization"] = f"Bearer {sys.argv[4]}"  # the function's auth is on
    event["multiValueHeaders"]["Authorization"] = [f"Bearer {sys.argv[4]}"]
    statuses.append(app.handler(event, LocalLambdaContext())["statusCode"])
modules = sorted({m.split(".")[0] for m in sys.modules})
with open(sys.argv[3], "w") as out:
    json.dump({"statuses": statuses, "modules": modules}, out)
"""


def api_key_in(bench, endpoint: str) -> str:
    """A key of tenant acme, stored in the bench's moto bucket as `ragops keys create` would."""
    from ragops.adapters.s3 import S3ObjectStore
    from ragops.services.auth import create_api_key

    store = S3ObjectStore(bench.BUCKET, client=bench.moto_client("s3", endpoint))
    return create_api_key(store, "acme")[1]


def test_the_api_layers_carry_every_module_the_handler_imports(build_dir, tmp_path):
    bench = load_cold_start_bench()
    server, endpoint = bench.start_aws(bench.free_port())
    try:
        env = bench.lambda_environment(endpoint, ROOT / "functions" / "api")
        key = api_key_in(bench, endpoint)
        out = tmp_path / "closure.json"
        subprocess.run(
            [
                sys.executable,
                "-c",
                IMPORT_CLOSURE,
                str(ROOT / "functions/api/app.py"),
                str(ROOT / "events"),
                str(out),
                key,
            ],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            timeout=120,
        )
    finally:
        server.stop()
    result = json.loads(out.read_text())
    assert result["statuses"] == [200, 202, 200]

    shipped = set()
    for part in ("ApiFunction", "CoreLayer/python", "ApiDepsLayer/python"):
        for entry in (build_dir / part).iterdir():
            shipped.add(entry.name.split(".")[0])  # package dirs, modules, extension modules
    missing = [
        module
        for module in result["modules"]
        if module not in sys.stdlib_module_names
        and module not in RUNTIME_PROVIDED
        and module not in shipped
        and not module.startswith("_")
        and module not in OPTIONAL_IMPORTS
        and module not in {"app", "__main__"}
    ]
    assert missing == [], f"imported by the API handler but not in its layers: {missing}"
