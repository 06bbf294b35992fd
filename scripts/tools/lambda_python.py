"""Prints the folder of a Python interpreter of the Lambda runtime's version (3.13), for
``sam build``: SAM checks that the runtime's ``python3.13`` is on PATH, and the layers'
bytecode must be compiled by it (layers/Makefile). Looks on PATH, then in pyenv's and the
usual install folders; exits 1 naming what it looked for when there is none.

    python scripts/tools/lambda_python.py            # -> /root/.pyenv/versions/3.13.0/bin
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

VERSION = "3.13"


def runs(candidate: str) -> bool:
    """True when ``candidate`` starts and is the right version (a pyenv shim of a version
    that is not selected exists on PATH but fails)."""
    try:
        result = subprocess.run(
            [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except OSError:
        return False
    return result.returncode == 0 and result.stdout.strip() == VERSION


def candidates() -> list[str]:
    name = f"python{VERSION}"
    found = [shutil.which(name) or ""]
    pyenv_root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    found += sorted(glob.glob(f"{pyenv_root}/versions/{VERSION}.*/bin/{name}"), reverse=True)
    found += [f"/usr/local/bin/{name}", f"/usr/bin/{name}"]
    return [c for c in found if c]


def lambda_python_dir() -> Path | None:
    for candidate in candidates():
        if runs(candidate):
            return Path(candidate).resolve().parent
    return None


def main() -> None:
    where = lambda_python_dir()
    if where is None:
        sys.exit(f"no Python {VERSION} found (looked in: {', '.join(candidates())})")
    sys.stdout.write(f"{where}\n")


if __name__ == "__main__":
    main()
