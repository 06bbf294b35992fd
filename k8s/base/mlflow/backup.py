"""Keeps the MLflow tracking server's SQLite store (runs and model registry) in S3.

The tier's cluster is destroyed on every pause, and the pod's volume with it, so the database
must live in S3 between resumes. This script runs in the MLflow image (Python 3 with sqlite3
and boto3) in two places of the `mlflow` pod (k8s/base/mlflow.yaml):

    restore   init container: copy BACKUP_URI to BACKUP_DB, if there is a copy in S3
    run       sidecar: every BACKUP_INTERVAL_SECONDS, and once more on SIGTERM (sent after
              the server has stopped), take a consistent snapshot with SQLite's online
              backup API and upload it when it differs from the last copy in S3
    alive     liveness probe of the sidecar: its loop has completed an iteration recently

Environment:

    BACKUP_URI                s3://bucket/key of the copy; empty disables backups (the store
                              then lives and dies with the pod, as in the local overlay)
    BACKUP_DB                 the database file (default /data/mlflow.db)
    BACKUP_STATE_DIR          snapshot, digest of the last copy, heartbeat
                              (default /data/.backup, on the same volume)
    BACKUP_INTERVAL_SECONDS   default 300: what a crash (not a pause) can lose

A failed restore exits 1, so the pod does not start: starting on an empty database would
upload it over the real copy at the first snapshot.
"""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("mlflow-backup")

DIGEST_FILE = "last-copy.sha256"
HEARTBEAT_FILE = "heartbeat"
SNAPSHOT_FILE = "snapshot.db"


class Config:
    def __init__(self, env: dict[str, str]) -> None:
        self.uri = env.get("BACKUP_URI", "").strip()
        self.db = Path(env.get("BACKUP_DB", "/data/mlflow.db"))
        self.state = Path(env.get("BACKUP_STATE_DIR", "/data/.backup"))
        self.interval = float(env.get("BACKUP_INTERVAL_SECONDS", "300"))
        if self.interval <= 0:
            raise ValueError(f"BACKUP_INTERVAL_SECONDS must be positive: {self.interval}")
        self.bucket, self.key = split_s3_uri(self.uri) if self.uri else ("", "")

    @property
    def enabled(self) -> bool:
        return bool(self.uri)


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/path/to/key`` -> ``("bucket", "path/to/key")``."""
    scheme, _, rest = uri.partition("://")
    bucket, _, key = rest.partition("/")
    if scheme != "s3" or not bucket or not key or key.endswith("/"):
        raise ValueError(f"BACKUP_URI must be s3://bucket/key, not {uri!r}")
    return bucket, key


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_database(path: Path) -> None:
    """Raise unless ``path`` is a sound SQLite database."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        (result,) = connection.execute("PRAGMA quick_check").fetchone()
    except sqlite3.DatabaseError as exc:
        raise RuntimeError(f"{path} is not a usable SQLite database: {exc}") from exc
    finally:
        connection.close()
    if result != "ok":
        raise RuntimeError(f"{path} failed PRAGMA quick_check: {result}")


def snapshot(db: Path, target: Path) -> str:
    """A consistent copy of the live database at ``target``, and its SHA-256.

    SQLite's online backup API copies the pages under a read lock, so the copy is a state
    some transaction committed, whatever the server is writing meanwhile; copying the file
    could catch a half-written page. The output is byte-for-byte the same for the same
    content, so an unchanged store is never uploaded again.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    # mode=rw: never create the database (the server does), but allow SQLite to roll back a
    # hot journal left by a crash, which a read-only connection could not.
    source = sqlite3.connect(f"file:{db}?mode=rw", uri=True, timeout=30)
    copy = sqlite3.connect(partial)
    try:
        source.backup(copy)
    finally:
        copy.close()
        source.close()
    check_database(partial)
    os.replace(partial, target)
    return sha256_of(target)


def read_digest(state: Path) -> str | None:
    try:
        return (state / DIGEST_FILE).read_text().strip() or None
    except FileNotFoundError:
        return None


def write_digest(state: Path, digest: str) -> None:
    state.mkdir(parents=True, exist_ok=True)
    (state / DIGEST_FILE).write_text(digest + "\n")


def s3_client() -> Any:
    import boto3  # in the MLflow image (mlflow[extras]); imported late for the probe's sake

    return boto3.client("s3")


def copy_exists(client: Any, bucket: str, key: str) -> bool:
    """Whether the copy exists, by listing its exact key. A GetObject of a missing key answers
    403, not 404, unless the role may list the bucket; a list is unambiguous either way."""
    response = client.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
    return any(item["Key"] == key for item in response.get("Contents", []))


def restore(config: Config, client: Any | None = None) -> str:
    """Put the copy from S3 at ``config.db``. Returns what happened: ``disabled``, ``kept``
    (a database is already there: the pod restarted, and its volume is newer than S3),
    ``empty`` (no copy yet: the server creates a new store) or ``restored``."""
    if not config.enabled:
        log.info("BACKUP_URI is empty: no restore, the store lives on this pod's volume only")
        return "disabled"
    if config.db.exists():
        log.info("%s already exists (the pod restarted): keeping it", config.db)
        return "kept"
    client = client or s3_client()
    if not copy_exists(client, config.bucket, config.key):
        log.info("no copy at %s yet: the server starts an empty store", config.uri)
        return "empty"
    config.db.parent.mkdir(parents=True, exist_ok=True)
    partial = config.db.with_name(config.db.name + ".restore")
    partial.unlink(missing_ok=True)
    client.download_file(config.bucket, config.key, str(partial))
    check_database(partial)
    write_digest(config.state, sha256_of(partial))
    os.replace(partial, config.db)
    log.info("restored %s from %s", config.db, config.uri)
    return "restored"


def back_up(config: Config, client: Any, last: str | None) -> str | None:
    """One snapshot, uploaded when it differs from the last copy. Returns the digest of the
    copy now in S3 (``last`` when nothing was uploaded)."""
    if not config.db.exists():
        log.info("no database at %s yet: nothing to back up", config.db)
        return last
    digest = snapshot(config.db, config.state / SNAPSHOT_FILE)
    if digest == last:
        return last
    with (config.state / SNAPSHOT_FILE).open("rb") as body:
        # One PUT: the copy in S3 is replaced whole or not at all. The bucket's versioning
        # keeps the replaced copy (noncurrent versions expire after 30 days).
        client.put_object(
            Bucket=config.bucket, Key=config.key, Body=body, Metadata={"sha256": digest}
        )
    write_digest(config.state, digest)
    log.info("uploaded a snapshot to %s (sha256 %s)", config.uri, digest[:12])
    return digest


def beat(config: Config) -> None:
    config.state.mkdir(parents=True, exist_ok=True)
    (config.state / HEARTBEAT_FILE).write_text(f"{time.time():.0f}\n")


def run(config: Config, stop: threading.Event, client: Any | None = None) -> int:
    """Back up now, then every interval, then once more when ``stop`` is set. Returns the
    exit status: 1 when the last (shutdown) backup failed."""
    if not config.enabled:
        log.info("BACKUP_URI is empty: backups are off")
    client = client or (s3_client() if config.enabled else None)
    last = read_digest(config.state)
    wait = 0.0
    while True:
        stopping = stop.wait(wait)
        wait = config.interval
        ok = True
        if config.enabled:
            try:
                last = back_up(config, client, last)
            except Exception:
                # Keep going: S3 or the network may come back before the next interval.
                log.exception("backup to %s failed", config.uri)
                ok = False
        beat(config)
        if stopping:
            return 0 if ok else 1


def alive(config: Config, now: float | None = None) -> bool:
    """The loop beat within two intervals plus a minute (a slow upload is not a hang)."""
    try:
        last = float((config.state / HEARTBEAT_FILE).read_text())
    except (FileNotFoundError, ValueError):
        return False
    return (now or time.time()) - last <= 2 * config.interval + 60


def main(argv: list[str], env: dict[str, str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    command = argv[1] if len(argv) == 2 else ""
    config = Config(env)
    if command == "restore":
        restore(config)
        return 0
    if command == "run":
        stop = threading.Event()
        # The kubelet sends SIGTERM to this sidecar after the server container has exited
        # (native sidecar ordering), so the last snapshot sees the final state.
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        return run(config, stop)
    if command == "alive":
        return 0 if alive(config) else 1
    log.error("usage: %s restore|run|alive", argv[0])
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv, dict(os.environ)))
