#!/usr/bin/env python3
"""Provide ``../shared/data`` (the evaluation data sets) to a CI job, or say it cannot.

The integration tests and the evaluation gate read public data sets from ``../shared/data``
(see that folder's README); ``.ci/run`` runs where they sit beside the checkout. A GitHub
runner has no such folder, and the gate compares against ``.ci/eval-baseline.json``, which
is only meaningful on exactly the same bytes (the suite fingerprints its files). So:

1. if DEST holds every file of the manifest (``.ci/shared-data.sha256``, ``sha256sum``
   format) with the right digest, it is used as it is;
2. otherwise, if ``--url`` (or ``RAGOPS_SHARED_DATA_URL``) names a ``.tar.gz`` of that
   folder (``tar -C ../shared/data -czf shared-data.tar.gz .``), it is downloaded, unpacked
   into DEST and verified: a wrong or missing file is an error (exit 1);
3. otherwise the data is not available: a notice says so and how to provide it (exit 0),
   and the jobs that need it are skipped.

``available=true|false`` goes to ``$GITHUB_OUTPUT`` when that is set. Standard library only.

    python3 scripts/ci/shared_data.py ../shared/data [--url URL] [--manifest FILE]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import sys
import tarfile
from pathlib import Path, PurePosixPath
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MANIFEST = ROOT / ".ci" / "shared-data.sha256"
MAX_DOWNLOAD_BYTES = 2 << 30


class DataError(Exception):
    """The data could not be fetched or is not the pinned data."""


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def read_manifest(path: Path) -> dict[str, str]:
    """``{relative path: sha256}`` from ``sha256sum`` output."""
    entries: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        digest, _, name = line.partition("  ")
        if len(digest) != 64 or not name:
            raise DataError(f"{path}:{number}: expected '<sha256>  <path>'")
        entries[name.strip()] = digest.lower()
    if not entries:
        raise DataError(f"{path}: no files listed")
    return entries


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def problems_in(dest: Path, manifest: dict[str, str]) -> list[str]:
    """What is missing or different in ``dest``, one line per file (empty: all good)."""
    found = []
    for name, expected in sorted(manifest.items()):
        path = dest / name
        if not path.is_file():
            found.append(f"{name}: missing")
        elif (actual := sha256_of(path)) != expected:
            found.append(f"{name}: sha256 {actual[:16]}..., expected {expected[:16]}...")
    return found


def unpack(archive: bytes, dest: Path) -> None:
    """Unpack regular files and folders only, never outside ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        for member in tar.getmembers():
            parts = PurePosixPath(member.name).parts
            if member.name.startswith("/") or ".." in parts:
                raise DataError(f"the archive holds an unsafe path: {member.name!r}")
            if member.isdir():
                continue
            if not member.isfile():
                raise DataError(f"the archive holds a link or device: {member.name!r}")
            target = dest.joinpath(*[p for p in parts if p != "."])
            target.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            assert source is not None
            target.write_bytes(source.read())


def download(url: str) -> bytes:
    try:
        with urlopen(url, timeout=120) as response:
            data = response.read(MAX_DOWNLOAD_BYTES + 1)
    except OSError as error:  # URLError, timeouts
        raise DataError(f"could not download the data archive: {error}") from error
    if len(data) > MAX_DOWNLOAD_BYTES:
        raise DataError("the data archive is larger than 2 GiB")
    return data


def provide(dest: Path, manifest: dict[str, str], url: str | None) -> bool:
    """True when ``dest`` holds the pinned data (fetched from ``url`` if needed), False
    when it does not and there is nowhere to get it; raises ``DataError`` otherwise."""
    problems = problems_in(dest, manifest)
    if not problems:
        say(f"shared data: {len(manifest)} files verified in {dest}")
        return True
    if not url:
        say(f"shared data: not in {dest} ({problems[0]}{', ...' if len(problems) > 1 else ''})")
        say(
            "::notice title=shared data unavailable::the jobs that need ../shared/data are "
            "skipped; set the secret RAGOPS_SHARED_DATA_URL to a .tar.gz of that folder "
            "(its files are pinned in .ci/shared-data.sha256) to run them"
        )
        return False
    say(f"shared data: fetching the archive into {dest}")
    unpack(download(url), dest)
    problems = problems_in(dest, manifest)
    if problems:
        raise DataError("the archive is not the pinned data:\n  " + "\n  ".join(problems))
    say(f"shared data: {len(manifest)} files fetched and verified in {dest}")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dest", type=Path, help="where the data belongs (../shared/data)")
    parser.add_argument("--url", default=os.environ.get("RAGOPS_SHARED_DATA_URL") or None)
    parser.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST)
    args = parser.parse_args(argv)
    try:
        available = provide(args.dest, read_manifest(args.manifest), args.url)
    except DataError as error:
        say(f"::error title=shared data::{error}".replace("\n", "%0A"))
        return 1
    output = os.environ.get("GITHUB_OUTPUT")
    if output:
        with open(output, "a", encoding="utf-8") as handle:
            handle.write(f"available={'true' if available else 'false'}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
