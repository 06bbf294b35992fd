"""Cold start of the API function with the cloud configuration, and its deployment size.

Each run is a fresh Python process doing what Lambda does on a cold start: import
``functions/api/app.py`` by path and call its ``handler`` with ``events/api_health.json``.
The process gets the configuration the SAM template gives the function (S3 object store,
Bedrock embedder and chat model, tier state in SSM through Powertools Parameters, X-Ray
tracing on); its AWS calls go to a moto server on 127.0.0.1 that this script runs, so the
measured process never imports moto.

The function is deployed with SnapStart (template.yaml): Lambda runs the initialisation and
the ``before_snapshot`` hooks once per version, and a cold start is a restore followed by
the ``after_restore`` hooks and the first request. The "restored" runs do the same in one
process: import and run the snapshot hooks untimed, then time the restore hooks and the
first request. What Lambda itself spends restoring the snapshot happens outside Python and
is not measured. The "cold" runs time everything, as without SnapStart.

Baseline, measured in the same run: the smallest FastAPI-on-Lambda function with the same
libraries that reads one SSM parameter (what any function on this stack pays), cold.
Target: ragops restored within 0.05 s of it (median); and import + first health request
<= 1.0 s even without SnapStart.

Size: the API function's code plus its layers, unzipped, from a ``sam build`` directory
(budget 50 MB), and a scan of every built function and layer for torch or llama-cpp.
Without ``--build-dir`` the script runs ``sam build`` from the tools environment (``make
tools``) into a temporary directory; ``--no-size`` skips that part.

    python bench/cold_start.py [--runs 7] [--build-dir DIR | --no-size] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
import yaml

ROOT = Path(__file__).resolve().parents[1]
TIME_BUDGET_S = 1.0
SNAPSTART_MARGIN_S = 0.05
SIZE_BUDGET_MB = 50.0
FORBIDDEN_PACKAGES = ("torch", "llama_cpp")
BUCKET = "ragops-bench-documents"
TIER_PARAMETER = "/ragops/bench/tier/state"

# Ends both measured scripts: one event through `handler`, timings written to argv[3].
INVOKE_AND_REPORT = """
class Context:
    function_name, function_version, memory_limit_in_mb = "bench", "$LATEST", 1024
    aws_request_id, invoked_function_arn = "0", "arn:aws:lambda:us-east-1:0:function:bench"
    def get_remaining_time_in_millis(self):
        return 30000
with open(sys.argv[2]) as f:
    event = json.load(f)
response = handler(event, Context())
finished = time.perf_counter()
with open(sys.argv[3], "w") as out:
    json.dump({"import_s": imported - started, "total_s": finished - started,
               "status": response["statusCode"], "body": json.loads(response["body"]),
               "numpy": "numpy" in sys.modules, "torch": "torch" in sys.modules}, out)
"""

# Runs inside the measured process. The clock starts before the first import.
COLD_START = """
import time
started = time.perf_counter()
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
app = importlib.util.module_from_spec(spec)
spec.loader.exec_module(app)
handler = app.handler
imported = time.perf_counter()
"""

# The same work for the smallest FastAPI-on-Lambda function that reads one SSM parameter with
# the same libraries: what any function built on this stack pays before our code runs.
BASELINE = """
import time
started = time.perf_counter()
import json, os, sys
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities import parameters
from fastapi import FastAPI
from mangum import Mangum
from pydantic_settings import BaseSettings
logger, metrics = Logger(), Metrics(namespace="floor")
tracer = Tracer(patch_modules=("botocore",))
class Config(BaseSettings):
    tier_state_parameter: str = os.environ["RAGOPS_TIER_STATE_PARAMETER"]
app = FastAPI()
@app.get("/healthz")
def healthz():
    return {"state": parameters.get_parameter(Config().tier_state_parameter)}
asgi = Mangum(app, lifespan="off")
@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event, context):
    return asgi(event, context)
imported = time.perf_counter()
"""


# Appended to a measured script: the snapshot (the runtime runs before-snapshot hooks in the
# reverse order of registration), then the restored environment's clock.
SNAPSHOT_AND_RESTORE = """
import snapshot_restore_py
for hook, args, kwargs in reversed(snapshot_restore_py.get_before_snapshot()):
    hook(*args, **kwargs)
started = time.perf_counter()
for hook, args, kwargs in snapshot_restore_py.get_after_restore():
    hook(*args, **kwargs)
imported = time.perf_counter()
"""

VARIANTS = {
    "baseline": BASELINE,
    "ragops": COLD_START,
    "ragops_restored": COLD_START + SNAPSHOT_AND_RESTORE,
    "baseline_restored": BASELINE + SNAPSHOT_AND_RESTORE,
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def moto_client(service: str, endpoint: str):
    """A boto3 client of ``service`` on the moto server at ``endpoint``."""
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def start_aws(port: int):
    """A moto server with what the API function reads: the bucket and the tier state."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    moto_client("s3", endpoint).create_bucket(Bucket=BUCKET)
    moto_client("ssm", endpoint).put_parameter(Name=TIER_PARAMETER, Value="active", Type="String")
    return server, endpoint


def lambda_environment(endpoint: str, task_root: Path) -> dict[str, str]:
    """The function's environment as the SAM template's Globals set it, plus what the Lambda
    runtime sets (so Powertools and X-Ray take their in-Lambda paths)."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_LAMBDA_FUNCTION_NAME": "ragops-bench-api",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
        "LAMBDA_TASK_ROOT": str(task_root),
        "_X_AMZN_TRACE_ID": "Root=1-67891233-abcdef012345678912345678;Parent=53995c3f42cd8ad8;"
        "Sampled=1",
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "POWERTOOLS_SERVICE_NAME": "ragops",
        "POWERTOOLS_METRICS_NAMESPACE": "ragops",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_PARAMETERS_MAX_AGE": "5",
        "RAGOPS_DATA_DIR": tempfile.mkdtemp(prefix="ragops-cold-"),
        "RAGOPS_OBJECT_STORE": "s3",
        "RAGOPS_S3_BUCKET": BUCKET,
        "RAGOPS_EMBEDDER": "bedrock",
        "RAGOPS_LLM": "bedrock",
        "RAGOPS_TIER_STATE_SOURCE": "ssm",
        "RAGOPS_TIER_STATE_PARAMETER": TIER_PARAMETER,
        "RAGOPS_INGEST_MODE": "async",
        # As template.yaml deploys it (the API function refuses auth off on Lambda).
        "RAGOPS_AUTH": "jwt+api-key",
    }


def cold_start(script: str, env: dict[str, str], out: Path) -> dict:
    """One fresh process running ``script``; its own timings plus the process wall time."""
    args = [
        sys.executable,
        "-c",
        script + INVOKE_AND_REPORT,
        str(ROOT / "functions" / "api" / "app.py"),
        str(ROOT / "events" / "api_health.json"),
        str(out),
    ]
    started = time.perf_counter()
    subprocess.run(args, env=env, check=True, capture_output=True, cwd=ROOT)
    result = json.loads(out.read_text())
    result["process_s"] = time.perf_counter() - started
    if result["status"] != 200:
        raise SystemExit(f"health request failed: {result['status']} {result['body']}")
    return result


def measure(runs: int, env: dict[str, str]) -> dict[str, list[dict]]:
    """Each variant ``runs`` times, interleaved so drift in machine load hits all alike."""
    results: dict[str, list[dict]] = {name: [] for name in VARIANTS}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs):
            for name, script in VARIANTS.items():
                results[name].append(cold_start(script, env, Path(tmp) / f"{name}{i}.json"))
    return results


# --- deployment size -----------------------------------------------------------------------


def tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def sam_environment() -> dict[str, str]:
    """What ``sam build`` runs with: the Lambda runtime's Python (3.13) first on PATH, for
    SAM's runtime check and the layers' bytecode (layers/Makefile)."""
    sys.path.insert(0, str(ROOT / "scripts" / "tools"))
    try:
        from lambda_python import lambda_python_dir
    finally:
        sys.path.pop(0)
    where = lambda_python_dir()
    if where is None:
        raise SystemExit("no Python 3.13 (the Lambda runtime's) found for sam build")
    return {
        **os.environ,
        "PATH": f"{where}{os.pathsep}{os.environ.get('PATH', '')}",
        "SAM_CLI_TELEMETRY": "0",
        "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
        "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
    }


def sam_build(build_dir: Path) -> None:
    sam = ROOT / os.environ.get("RAGOPS_TOOLS_DIR", ".tools") / "bin" / "sam"
    if not sam.exists():
        raise SystemExit(f"{sam} not found: run `make tools`, or pass --build-dir or --no-size")
    subprocess.run(
        [str(sam), "build", "--build-dir", str(build_dir)],
        cwd=ROOT,
        env=sam_environment(),
        check=True,
        capture_output=True,
    )


def deployment_sizes(build_dir: Path, function: str = "ApiFunction") -> dict:
    """Unzipped size of ``function``'s code plus its layers, and forbidden packages found in
    any built artifact."""
    # sam build writes its template in long form (Ref: X), which plain YAML reads.
    template = yaml.safe_load((build_dir / "template.yaml").read_text())
    resources = template["Resources"]
    layers = [layer["Ref"] for layer in resources[function]["Properties"].get("Layers", [])]
    parts = {name: tree_size(build_dir / name) for name in [function, *layers]}
    forbidden = sorted(
        f"{artifact.name}/{hit.relative_to(artifact)}"
        for artifact in build_dir.iterdir()
        if artifact.is_dir()
        for package in FORBIDDEN_PACKAGES
        for hit in artifact.glob(f"python/{package}")
    )
    return {
        "function": function,
        "parts_mb": {k: round(v / 1e6, 2) for k, v in parts.items()},
        "total_mb": round(sum(parts.values()) / 1e6, 2),
        "budget_mb": SIZE_BUDGET_MB,
        "forbidden_packages": forbidden,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--build-dir", type=Path, help="an existing `sam build` output")
    parser.add_argument("--no-size", action="store_true", help="skip the deployment size")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    server, endpoint = start_aws(free_port())
    try:
        env = lambda_environment(endpoint, ROOT / "functions" / "api")
        results = measure(args.runs, env)
    finally:
        server.stop()

    def median(variant: str, key: str = "total_s") -> float:
        return round(statistics.median(r[key] for r in results[variant]), 3)

    runs = results["ragops"]
    total = median("ragops")
    floor = median("baseline")
    restored = median("ragops_restored")
    report = {
        "runs": args.runs,
        "import_s": median("ragops", "import_s"),
        "import_and_first_health_s": total,
        "process_s": median("ragops", "process_s"),
        "budget_s": TIME_BUDGET_S,
        "within_time_budget": total <= TIME_BUDGET_S,
        "baseline_import_and_first_health_s": floor,
        "ratio_to_baseline": round(total / floor, 2),
        "restored_first_health_s": restored,
        "restored_over_baseline_s": round(restored - floor, 3),
        "within_snapstart_margin": restored - floor <= SNAPSTART_MARGIN_S,
        "baseline_restored_first_health_s": median("baseline_restored"),
        "tier_state": runs[0]["body"]["tier"]["state"],
        "imports_numpy": any(r["numpy"] for r in runs),
        "imports_torch": any(r["torch"] for r in runs),
    }
    if not args.no_size:
        if args.build_dir:
            report["size"] = deployment_sizes(args.build_dir)
        else:
            build_dir = Path(tempfile.mkdtemp(prefix="ragops-sam-build-"))
            try:
                sam_build(build_dir)
                report["size"] = deployment_sizes(build_dir)
            finally:
                shutil.rmtree(build_dir, ignore_errors=True)
        size = report["size"]
        size["within_size_budget"] = (
            size["total_mb"] <= SIZE_BUDGET_MB and not size["forbidden_packages"]
        )

    if args.json:
        print(json.dumps(report))
        return
    print(f"API cold start, median of {args.runs} fresh processes, cloud configuration")
    print(
        f"  import handler:          {report['import_s']:.3f} s\n"
        f"  import + first /healthz: {total:.3f} s "
        f"(budget {TIME_BUDGET_S:.1f} s: {'ok' if report['within_time_budget'] else 'OVER'})\n"
        f"  whole process:           {report['process_s']:.3f} s (interpreter start and exit too)\n"
        f"  baseline, minimal FastAPI+Mangum+Powertools+SSM function: {floor:.3f} s; "
        f"ragops = {report['ratio_to_baseline']:.2f}x baseline\n"
        f"With SnapStart (as deployed): restore hooks + first /healthz {restored:.3f} s, "
        f"{report['restored_over_baseline_s']:+.3f} s against the cold baseline "
        f"(target <= +{SNAPSTART_MARGIN_S:.2f} s: "
        f"{'ok' if report['within_snapstart_margin'] else 'OVER'}); the baseline restored "
        f"the same way: {report['baseline_restored_first_health_s']:.3f} s\n"
        f"  numpy imported: {report['imports_numpy']}, torch imported: {report['imports_torch']}"
    )
    if "size" in report:
        size = report["size"]
        parts = ", ".join(f"{k} {v} MB" for k, v in size["parts_mb"].items())
        print(
            f"API deployment size (unzipped): {size['total_mb']} MB = {parts} "
            f"(budget {SIZE_BUDGET_MB:.0f} MB: {'ok' if size['within_size_budget'] else 'OVER'})"
        )
        print(f"  torch / llama-cpp in any built package: {size['forbidden_packages'] or 'none'}")


if __name__ == "__main__":
    main()
