"""The repository holds no secret: detect-secrets over every file git knows (tracked, or new
and not ignored), run by scripts/security/secret_scan.py from the test
environment (.venv: detect-secrets comes with the dev extra), with every exception
justified in scripts/security/secret_scan_allowlist.toml. The scan runs offline.

The scan is also shown to catch what it is for: secrets planted in a scratch repository (an
AWS key, a ragops API key, a private key) fail it, an allowlisted fake fails it outside the
paths it is allowed in, and an allowlist entry that no longer matches anything fails it.
The planted values are made when the tests run, so this file holds none.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import string
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SCANNER = ROOT / "scripts" / "security" / "secret_scan.py"
ALLOWLIST = ROOT / "scripts" / "security" / "secret_scan_allowlist.toml"


def run_scan(*paths: str, root: Path = ROOT, allowlist: Path = ALLOWLIST):
    # The test environment's own Python (.venv, the dev extra): .iac holds checkov's
    # bc-detect-secrets fork under the same module name, which flags differently.
    python = sys.executable
    result = subprocess.run(
        [python, SCANNER, "--json", "--root", root, "--allowlist", allowlist, *paths],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.stdout.strip(), result.stderr[-4000:]
    return result.returncode, json.loads(result.stdout), result


def scratch_repo(tmp_path: Path, files: dict[str, str], *, add: bool = True) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    if add:
        subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    return repo


def fake_aws_key_id() -> str:
    return "AKIA" + "".join(
        secrets.choice(string.ascii_uppercase + string.digits) for _ in range(16)
    )


def fake_ragops_key() -> str:
    """A key in ragops' format (ragops.domain.auth.issue_key)."""
    from ragops.domain.auth import issue_key

    return issue_key().key


def fake_private_key() -> str:
    body = base64.encodebytes(secrets.token_bytes(600)).decode()
    kind = "RSA " + "PRIVATE KEY"
    return f"-----BEGIN {kind}-----\n{body}-----END {kind}-----\n"


def findings_of(report: dict) -> set[tuple[str, str]]:
    return {(f["path"], f["type"]) for f in report["findings"]}


def test_the_repository_has_no_secret_outside_the_allowlist():
    code, report, _ = run_scan()
    listed = [f"{f['path']}:{f['line']} {f['type']}" for f in report["findings"]]
    assert listed == [], (
        f"secrets (or values that look like them) outside {ALLOWLIST.relative_to(ROOT)}: {listed}"
    )
    assert report["stale_allowlist_entries"] == [], "allowlist entries that match nothing"
    assert report["allowed"] > 0  # the known fakes were seen, and let through
    assert code == 0


def test_every_allowlist_entry_is_narrow_and_justified():
    entries = tomllib.loads(ALLOWLIST.read_text())["allow"]
    assert entries
    for entry in entries:
        assert set(entry) <= {"type", "paths", "reason", "hashed_secret", "line_regex"}, entry
        assert ("hashed_secret" in entry) != ("line_regex" in entry), entry
        if "hashed_secret" in entry:
            assert re.fullmatch(r"[0-9a-f]{40}", entry["hashed_secret"]), entry
        assert entry["paths"], entry
        for pattern in entry["paths"]:
            # A folder or a file, never "anywhere".
            assert not pattern.startswith("*") and pattern.strip("*/."), pattern
        assert len(entry["reason"]) >= 30, entry


def test_planted_secrets_fail_the_scan_and_are_not_printed(tmp_path):
    aws_key = fake_aws_key_id()
    ragops_key = fake_ragops_key()
    repo = scratch_repo(
        tmp_path,
        {
            "app/settings.py": f'AWS_ACCESS_KEY_ID = "{aws_key}"\n',
            "notes/call.md": f"curl -H 'Authorization: Bearer {ragops_key}' $API/v1/query\n",
            "deploy/id_rsa": fake_private_key(),
            "README.md": "Nothing to see here.\n",
        },
    )
    empty = tmp_path / "allowlist.toml"
    empty.write_text("")
    code, report, result = run_scan(root=repo, allowlist=empty)

    assert code == 1
    found = findings_of(report)
    assert ("app/settings.py", "AWS Access Key") in found
    assert ("notes/call.md", "ragops API key") in found
    assert ("deploy/id_rsa", "Private Key") in found
    assert not [f for f in report["findings"] if f["path"] == "README.md"]
    secret_part = ragops_key[len("rgk") + 16 :]  # rgk{key id}{secret}
    for value in (aws_key, ragops_key, secret_part):
        assert value not in result.stdout + result.stderr


def test_new_files_are_scanned_before_they_are_committed_and_ignored_ones_are_not(tmp_path):
    repo = scratch_repo(
        tmp_path,
        {
            ".gitignore": "local.env\n",
            "draft.py": f'KEY = "{fake_aws_key_id()}"\n',
            "local.env": f"AWS_ACCESS_KEY_ID={fake_aws_key_id()}\n",
        },
        add=False,
    )
    empty = tmp_path / "allowlist.toml"
    empty.write_text("")
    code, report, _ = run_scan(root=repo, allowlist=empty)
    assert code == 1
    assert {path for path, _ in findings_of(report)} == {"draft.py"}


def test_an_allowlisted_fake_passes_only_where_it_is_allowed(tmp_path):
    """moto's dummy credential is allowed in tests/, not in application code."""
    line = 'aws_secret_access_key = "testing"\n'
    repo = scratch_repo(tmp_path, {"tests/test_s3.py": line, "app/config.py": line})
    code, report, _ = run_scan("tests/test_s3.py", "app/config.py", root=repo)
    assert code == 1
    assert findings_of(report) == {("app/config.py", "Secret Keyword")}


def test_a_stale_allowlist_entry_fails_the_scan(tmp_path):
    repo = scratch_repo(tmp_path, {"README.md": "Nothing to see here.\n"})
    allowlist = tmp_path / "allowlist.toml"
    allowlist.write_text(
        "[[allow]]\n"
        'type = "Secret Keyword"\n'
        f'hashed_secret = "{"0" * 40}"\n'
        'paths = ["app/config.py"]\n'
        'reason = "a fixture that has since been removed from the repository"\n'
    )
    code, report, _ = run_scan(root=repo, allowlist=allowlist)
    assert code == 1
    assert report["findings"] == []
    assert [e["paths"] for e in report["stale_allowlist_entries"]] == [["app/config.py"]]


def test_a_secret_committed_and_removed_again_is_caught_in_the_history(tmp_path):
    """What CI scans for a pull request or a push: each commit's versions of the files it
    touched, so removing a secret in a later commit does not hide it."""
    repo = scratch_repo(tmp_path, {"README.md": "Nothing to see here.\n"})
    commit = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid", "commit"]
    subprocess.run([*commit, "-qm", "start"], cwd=repo, check=True)
    (repo / "app.py").write_text(f'AWS_ACCESS_KEY_ID = "{fake_aws_key_id()}"\n')
    subprocess.run(["git", "add", "app.py"], cwd=repo, check=True)
    subprocess.run([*commit, "-qm", "add a key"], cwd=repo, check=True)
    subprocess.run(["git", "rm", "-q", "app.py"], cwd=repo, check=True)
    subprocess.run([*commit, "-qm", "remove it"], cwd=repo, check=True)
    empty = tmp_path / "allowlist.toml"
    empty.write_text("")

    assert run_scan(root=repo, allowlist=empty)[0] == 0  # the tree is clean
    code, report, _ = run_scan("--history", "HEAD~2..HEAD", root=repo, allowlist=empty)
    assert code == 1
    added = subprocess.run(
        ["git", "rev-parse", "HEAD~1"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert [(f["commit"], f["path"], f["type"]) for f in report["findings"]] == [
        (added, "app.py", "AWS Access Key")
    ]
