"""Object store in a local folder, with the same key layout as the S3 bucket."""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ragops.errors import ObjectNotFound, StoreUnavailable, WriteConflict


def version_tag(data: bytes) -> str:
    """An object's version tag: the MD5 of its bytes, quoted, as S3 tags an object written
    in one part (not a security property: it only tells versions apart)."""
    return '"' + hashlib.md5(data, usedforsecurity=False).hexdigest() + '"'


class LocalFsObjectStore:
    """Keys map to files under ``root`` (``a/b/c`` -> ``root/a/b/c``).

    Writes are atomic (a temporary file renamed into place), so a crash never leaves half an
    object. Keys may not escape the root.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        if (
            not key
            or key.startswith("/")
            or "\\" in key
            or "\x00" in key
            or any(part in ("", ".", "..") for part in key.split("/"))
        ):
            raise ValueError(f"invalid object key {key!r}")
        return self.root.joinpath(*key.split("/"))

    def put(self, key: str, data: bytes, content_type: str | None = None) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise StoreUnavailable(f"could not write {key!r}: {exc}") from exc

    def get(self, key: str) -> bytes:
        try:
            path = self._path(key)
        except ValueError as exc:  # no object can be stored under such a key
            raise ObjectNotFound(key) from exc
        try:
            return path.read_bytes()
        except FileNotFoundError as exc:
            raise ObjectNotFound(key) from exc
        except OSError as exc:
            raise StoreUnavailable(f"could not read {key!r}: {exc}") from exc

    def get_tagged(self, key: str) -> tuple[bytes, str]:
        data = self.get(key)
        return data, version_tag(data)

    def put_if(
        self, key: str, data: bytes, content_type: str | None = None, *, tag: str | None
    ) -> None:
        """The compare and the write run under an exclusive lock on the key's folder
        (``flock``, which other processes on this machine honour too)."""
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            folder = os.open(path.parent, os.O_RDONLY)
        except OSError as exc:
            raise StoreUnavailable(f"could not write {key!r}: {exc}") from exc
        try:
            fcntl.flock(folder, fcntl.LOCK_EX)
            try:
                current: str | None = version_tag(path.read_bytes())
            except FileNotFoundError:
                current = None
            if current != tag:
                raise WriteConflict(key)
            self.put(key, data, content_type)
        finally:
            os.close(folder)  # releases the lock

    def exists(self, key: str) -> bool:
        try:
            return self._path(key).is_file()
        except ValueError:  # no object can be stored under such a key
            return False

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise StoreUnavailable(f"could not delete {key!r}: {exc}") from exc
        # Prune empty folders up to the root so listings stay clean.
        parent = path.parent
        while parent != self.root and parent.is_dir():
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent

    def list(self, prefix: str) -> Iterator[str]:
        if not self.root.is_dir():
            return
        # Walk only the deepest folder that the prefix names completely.
        folder_part = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = self.root.joinpath(*folder_part.split("/")) if folder_part else self.root
        if not start.is_dir():
            return
        for dirpath, _dirnames, filenames in os.walk(start):
            for filename in filenames:
                if filename.startswith(".tmp-"):
                    continue
                key = Path(dirpath, filename).relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    yield key
