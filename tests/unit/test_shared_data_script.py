"""``scripts/ci/shared_data.py``: how a CI job gets ``../shared/data``, run as ci.yml runs it,
on a small data folder of its own (the real manifest is checked against the real folder
only where that folder exists)."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "ci" / "shared_data.py"
FILES = {"scifact/corpus.jsonl": b'{"_id": "1"}\n', "squad/sample.json": b'{"data": []}'}


@pytest.fixture
def manifest(tmp_path) -> Path:
    path = tmp_path / "shared-data.sha256"
    path.write_text(
        "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in FILES.items())
    )
    return path


def archive(tmp_path: Path, files: dict[str, bytes]) -> str:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path = tmp_path / "shared-data.tar.gz"
    path.write_bytes(buffer.getvalue())
    return path.as_uri()


def run(dest: Path, manifest: Path, *args: str, tmp_path: Path):
    output = tmp_path / "github-output"
    output.write_text("")
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(dest), "--manifest", str(manifest), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "GITHUB_OUTPUT": str(output)},
    )
    return result, output.read_text()


def test_without_data_or_url_the_jobs_are_skipped_with_a_notice(tmp_path, manifest):
    result, output = run(tmp_path / "data", manifest, tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout
    assert "::notice title=shared data unavailable::" in result.stdout
    assert output == "available=false\n"


def test_the_archive_is_fetched_unpacked_and_verified(tmp_path, manifest):
    dest = tmp_path / "shared" / "data"
    url = archive(tmp_path, {f"./{name}": data for name, data in FILES.items()})

    result, output = run(dest, manifest, "--url", url, tmp_path=tmp_path)

    assert result.returncode == 0, result.stdout
    assert output == "available=true\n"
    assert {name: (dest / name).read_bytes() for name in FILES} == FILES
    again, _ = run(dest, manifest, tmp_path=tmp_path)  # present: used as it is
    assert "2 files verified" in again.stdout


def test_other_bytes_than_the_pinned_ones_fail(tmp_path, manifest):
    changed = {**FILES, "squad/sample.json": b'{"data": [1]}'}
    result, output = run(
        tmp_path / "data", manifest, "--url", archive(tmp_path, changed), tmp_path=tmp_path
    )
    assert result.returncode == 1
    assert "::error title=shared data::" in result.stdout
    assert "squad/sample.json: sha256" in result.stdout
    assert "available" not in output


def test_an_archive_reaching_outside_the_folder_is_refused(tmp_path, manifest):
    evil = archive(tmp_path, {"../escaped.txt": b"x", **FILES})
    result, _ = run(tmp_path / "data", manifest, "--url", evil, tmp_path=tmp_path)
    assert result.returncode == 1 and "unsafe path" in result.stdout
    assert not (tmp_path / "escaped.txt").exists()


@pytest.mark.skipif(
    not (ROOT.parent / "shared" / "data").is_dir(), reason="no ../shared/data on this machine"
)
def test_the_manifest_pins_the_data_beside_the_checkout(tmp_path):
    result, output = run(
        ROOT.parent / "shared" / "data", ROOT / ".ci" / "shared-data.sha256", tmp_path=tmp_path
    )
    assert result.returncode == 0, result.stdout
    assert output == "available=true\n"
