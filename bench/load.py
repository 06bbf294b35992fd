"""Load test: the HTTP API on 127.0.0.1 under a bounded mix of requests at increasing
concurrency, and where its p95 latency crosses 2 seconds.

The server is `ragops serve`'s app (real embedded Chroma, the real all-MiniLM-L6-v2
embedder, the answer cache in memory, API-key authentication on) in a process of its own,
so the load driver does not share its interpreter. The chat model is chosen with
``--llm``: ``simulated`` (default) answers after ``--llm-delay`` seconds with a sentence
citing the first passage, standing in for a Bedrock call (the knee then measures the
platform: embedding, search, cache, uploads, Python); ``local`` is SmolLM2 on these cores
(every uncached answer takes seconds: the knee is at the first step).

Each step sends ``--requests`` requests (or stops after ``--step-seconds``) from
``concurrency`` threads, drawn from this mix: 20% uploads of a new small document, 40%
questions never asked before (search and generation), 30% questions asked before (answer
cache), 10% document lists. It prints, per step: throughput, p50/p95/p99 latency, and
errors by status; then the concurrency at which p95 crosses 2 s; and it checks that every
accepted upload is listed as indexed at the end (nothing lost).

    python bench/load.py [--steps 1 2 4 8 16] [--requests 60] [--llm simulated|local]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.servers import free_port, wait_until_ready  # noqa: E402

KNEE_MS = 2000.0
TOPICS = [
    "glaciers carve valleys",
    "volcanoes release ash",
    "tides follow the moon",
    "deserts receive little rain",
    "coral reefs shelter fish",
    "comets have icy nuclei",
    "lighthouses guide ships",
    "forests store carbon",
]

SERVER = r"""
import os, sys, time
import uvicorn
from ragops.bootstrap import build_container
from ragops.domain.models import Generation, Usage
from ragops.entrypoints.api import create_app
from ragops.services.auth import create_api_key
from ragops.settings import Settings

data_dir, port, llm, delay, key_file = sys.argv[1:6]
port, delay = int(port), float(delay)

class SimulatedChatModel:
    # Stands in for a remote model: waits, then cites the first passage.
    model_id = "simulated"
    def generate(self, messages):
        time.sleep(delay)
        prompt = messages[-1].content
        usage = Usage(len(prompt.split()), 6)
        return Generation(text="The passages answer it [1].", usage=usage, model=self.model_id)
    def stream(self, messages):
        generation = self.generate(messages)
        yield generation.text
        yield generation

settings = Settings(data_dir=data_dir, auth="api-key", rate_limit_per_minute=0, min_relevance=0.1)
injected = {} if llm == "local" else {"chat_model": SimulatedChatModel()}
container = build_container(settings, **injected)
_, key = create_api_key(container.store, "load", "bench")
open(key_file, "w").write(key)
container.embedder.embed_array(["warm up"])  # load the model before the clock starts
uvicorn.run(create_app(container), host="127.0.0.1", port=port, log_level="warning")
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


class Driver:
    """Sends the mix; remembers asked questions (for cache hits) and accepted uploads."""

    def __init__(self, url: str, key: str, seed: int) -> None:
        self.url = url
        self.headers = {"Authorization": f"Bearer {key}"}
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.asked: list[str] = []
        self.accepted: set[str] = set()
        self.counter = 0

    def _next(self) -> tuple[str, int]:
        with self.lock:
            self.counter += 1
            return self.rng.choices(["upload", "new", "cached", "list"], [2, 4, 3, 1])[0], (
                self.counter
            )

    def one(self, client: httpx.Client) -> tuple[str, float, int]:
        kind, n = self._next()
        with self.lock:
            if kind == "cached" and not self.asked:
                kind = "new"
            topic = self.rng.choice(TOPICS)
            repeat = self.rng.choice(self.asked) if kind == "cached" else None
        began = time.perf_counter()
        if kind == "upload":
            text = f"Note {n}: {topic}. Observation number {n} was recorded on day {n % 365}."
            files = [("file", (f"note-{n}.txt", text.encode(), "text/plain"))]
            response = client.post(f"{self.url}/v1/documents", files=files, headers=self.headers)
            if response.status_code in (201, 202):
                with self.lock:
                    self.accepted.add(response.json()["results"][0]["document"]["doc_id"])
        elif kind == "list":
            response = client.get(f"{self.url}/v1/documents", headers=self.headers)
        else:
            question = repeat or f"What was recorded about {topic} in note {n}?"
            response = client.post(
                f"{self.url}/v1/query", json={"question": question}, headers=self.headers
            )
            if response.status_code == 200 and repeat is None:
                with self.lock:
                    self.asked.append(question)
        return kind, (time.perf_counter() - began) * 1000.0, response.status_code


def run_step(driver: Driver, concurrency: int, requests: int, seconds: float) -> dict:
    deadline = time.monotonic() + seconds
    results: list[tuple[str, float, int]] = []
    lock = threading.Lock()

    def worker() -> None:
        with httpx.Client(timeout=120.0) as client:
            while time.monotonic() < deadline:
                with lock:
                    if len(results) >= requests:
                        return
                    results.append(("pending", 0.0, 0))
                    slot = len(results) - 1
                try:
                    outcome = driver.one(client)
                except httpx.HTTPError as exc:
                    outcome = ("error", 0.0, -1)
                    print(f"  transport error: {exc}", file=sys.stderr)
                with lock:
                    results[slot] = outcome

    began = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for _ in range(concurrency):
            pool.submit(worker)
    elapsed = time.perf_counter() - began
    done = [r for r in results if r[0] != "pending"]
    latencies = [ms for _, ms, status in done if status > 0]
    errors = Counter(status for _, _, status in done if status < 200 or status >= 300)
    return {
        "concurrency": concurrency,
        "requests": len(done),
        "seconds": round(elapsed, 1),
        "throughput_rps": round(len(done) / elapsed, 2) if elapsed else 0.0,
        "p50_ms": round(percentile(latencies, 0.50), 1),
        "p95_ms": round(percentile(latencies, 0.95), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "errors": dict(errors),
        "by_kind": dict(Counter(kind for kind, _, _ in done)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    parser.add_argument("--requests", type=int, default=60, help="requests per step")
    parser.add_argument("--step-seconds", type=float, default=120.0, help="time cap per step")
    parser.add_argument("--llm", choices=["simulated", "local"], default="simulated")
    parser.add_argument("--llm-delay", type=float, default=0.8, help="simulated model seconds")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="ragops-load-") as folder:
        key_file = Path(folder) / "key"
        log = open(Path(folder) / "server.log", "wb")  # noqa: SIM115
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
        server = subprocess.Popen(
            [
                sys.executable,
                "-c",
                SERVER,
                str(Path(folder) / "data"),
                str(port),
                args.llm,
                str(args.llm_delay),
                str(key_file),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            if not wait_until_ready(f"{url}/healthz", server, 180):
                sys.exit(f"the server did not start; see {log.name}")
            driver = Driver(url, key_file.read_text().strip(), args.seed)
            # Warm up (not measured): the first search of a tenant builds its keyword index.
            run_step(driver, 1, 5, args.step_seconds)
            steps = []
            for concurrency in args.steps:
                step = run_step(driver, concurrency, args.requests, args.step_seconds)
                steps.append(step)
                if not args.json:
                    print(
                        f"c={step['concurrency']:>3}  {step['requests']:>4} req in "
                        f"{step['seconds']:>6.1f} s  {step['throughput_rps']:>6.2f} req/s  "
                        f"p50 {step['p50_ms']:>8.1f}  p95 {step['p95_ms']:>8.1f}  "
                        f"p99 {step['p99_ms']:>8.1f} ms  errors {step['errors'] or 0}",
                        flush=True,
                    )
            with httpx.Client(timeout=60.0) as client:
                listed = client.get(f"{url}/v1/documents", headers=driver.headers).json()
            indexed = {d["doc_id"] for d in listed["documents"] if d["status"] == "indexed"}
            lost = sorted(driver.accepted - indexed)
        finally:
            server.terminate()
            server.wait(timeout=60)
            log.close()
    knee = next((s["concurrency"] for s in steps if s["p95_ms"] > KNEE_MS), None)
    summary = {
        "llm": args.llm if args.llm == "local" else f"simulated, {args.llm_delay} s",
        "steps": steps,
        "p95_over_2s_at_concurrency": knee,
        "uploads_accepted": len(driver.accepted),
        "uploads_lost": lost,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        crossing = f"concurrency {knee}" if knee else f"not reached up to {args.steps[-1]}"
        print(f"p95 crosses {KNEE_MS / 1000:.0f} s at: {crossing}")
        print(
            f"uploads accepted {len(driver.accepted)}, indexed at the end "
            f"{len(driver.accepted) - len(lost)}, lost {len(lost)}"
        )
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
