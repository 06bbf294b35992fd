"""Secret scan of the repository: detect-secrets (offline: no detector verifies anything over
the network) over every file git knows, tracked or new and not ignored, plus a detector for
ragops' own API keys. A finding passes only if ``secret_scan_allowlist.toml`` (beside this
file) names it, with the reason it is not a secret; inline ``pragma: allowlist secret``
comments are not honoured, so every exception is in that one reviewed file.

    python scripts/security/secret_scan.py            # exit 1 on a finding not allowlisted
    python scripts/security/secret_scan.py --json     # the same, as JSON
    python scripts/security/secret_scan.py --root DIR [PATH ...]
    python scripts/security/secret_scan.py --history BASE..HEAD   # each commit's versions

Used by tests/infra/test_secrets.py (from .venv, the dev extra) and by the secret-scan job
of .github/workflows/security.yml. It never prints a secret: a finding is its file, line,
detector and the SHA-1 detect-secrets records (``hashed_secret``).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import re
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from detect_secrets import SecretsCollection
from detect_secrets.settings import transient_settings

HERE = Path(__file__).resolve()
ALLOWLIST = HERE.with_name("secret_scan_allowlist.toml")
PLUGINS = HERE.with_name("secret_plugins.py")  # ragops API keys

# detect-secrets' default filters, less two: `is_line_allowlisted` (inline pragmas: every
# exception lives in the allowlist instead) and the verification policy (it calls services).
FILTERS = [
    "detect_secrets.filters.heuristic.is_sequential_string",
    "detect_secrets.filters.heuristic.is_potential_uuid",
    "detect_secrets.filters.heuristic.is_likely_id_string",
    "detect_secrets.filters.heuristic.is_templated_secret",
    "detect_secrets.filters.heuristic.is_prefixed_with_dollar_sign",
    "detect_secrets.filters.heuristic.is_indirect_reference",
    "detect_secrets.filters.heuristic.is_lock_file",
    "detect_secrets.filters.heuristic.is_not_alphanumeric_string",
    "detect_secrets.filters.heuristic.is_swagger_file",
]


def plugins() -> list[dict[str, str]]:
    """Every detector detect-secrets ships, with its default settings, and ours."""
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

    names = sorted(cls.__name__ for cls in get_mapping_from_secret_type_to_class().values())
    # Cached: computed again under the settings that name our detector's file.
    get_mapping_from_secret_type_to_class.cache_clear()
    return [{"name": name} for name in names] + [
        {"name": "RagopsApiKeyDetector", "path": f"file://{PLUGINS}"}
    ]


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    type: str
    hashed_secret: str
    commit: str = ""
    """In a history scan, the commit whose version of the file holds it."""


@dataclass(frozen=True)
class Allowed:
    type: str
    paths: tuple[str, ...]
    reason: str
    hashed_secret: str | None = None
    line_regex: str | None = None

    def matches(self, finding: Finding, root: Path) -> bool:
        if finding.type != self.type:
            return False
        if not any(fnmatch.fnmatchcase(finding.path, pattern) for pattern in self.paths):
            return False
        if self.hashed_secret is not None:
            return finding.hashed_secret == self.hashed_secret
        lines = (root / finding.path).read_text(errors="replace").splitlines()
        line = lines[finding.line - 1] if 0 < finding.line <= len(lines) else ""
        return re.fullmatch(self.line_regex or "", line) is not None


def load_allowlist(path: Path = ALLOWLIST) -> list[Allowed]:
    entries = []
    for raw in tomllib.loads(path.read_text()).get("allow", []):
        entries.append(
            Allowed(
                type=raw["type"],
                paths=tuple(raw["paths"]),
                reason=raw["reason"],
                hashed_secret=raw.get("hashed_secret"),
                line_regex=raw.get("line_regex"),
            )
        )
    return entries


def git(root: Path, *args: str) -> bytes:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, check=True).stdout


def allowlist_path() -> str:
    return ALLOWLIST.relative_to(HERE.parents[2]).as_posix()


def git_files(root: Path) -> list[str]:
    """Tracked files and new ones git does not ignore (what a commit could add), less the
    allowlist itself, which is made of the SHA-1 digests and descriptions of what it allows
    (scanning it would flag every entry)."""
    listed = git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").decode()
    return sorted(
        path
        for path in set(listed.split("\0"))
        if path
        and path != allowlist_path()
        and (root / path).is_file()
        and not (root / path).is_symlink()
    )


def scan(root: Path, paths: list[str] | None = None) -> list[Finding]:
    """Everything detect-secrets finds in ``paths`` (default: ``git_files(root)``)."""
    root = root.resolve()
    files = paths if paths is not None else git_files(root)
    config = {"plugins_used": plugins(), "filters_used": [{"path": f} for f in FILTERS]}
    collection = SecretsCollection(root=str(root))
    with transient_settings(config):
        collection.scan_files(*files)
    findings = []
    for filename, secret in collection:
        findings.append(
            Finding(
                path=Path(filename).as_posix(),
                line=secret.line_number or 0,
                type=secret.type,
                hashed_secret=secret.secret_hash,
            )
        )
    return sorted(findings, key=lambda f: (f.path, f.line, f.type))


def check(
    root: Path, allowlist: list[Allowed], paths: list[str] | None = None
) -> tuple[list[Finding], list[Finding], list[Allowed]]:
    """(findings not allowlisted, findings allowlisted, allowlist entries that matched
    nothing: only reported for a whole-repository scan)."""
    bad, good, used = [], [], set()
    for finding in scan(root, paths):
        entry = next((a for a in allowlist if a.matches(finding, root)), None)
        if entry is None:
            bad.append(finding)
        else:
            good.append(finding)
            used.add(entry)
    stale = [a for a in allowlist if a not in used] if paths is None else []
    return bad, good, stale


def check_history(
    root: Path, allowlist: list[Allowed], revisions: str
) -> tuple[list[Finding], list[Finding]]:
    """Every version of a file that a commit of ``revisions`` (``BASE..HEAD``) added or
    changed, as that commit left it: a secret committed and removed again within the range
    is still in the history, and is caught. (findings not allowlisted, allowlisted)"""
    bad, good = [], []
    for commit in git(root, "rev-list", "--reverse", revisions).decode().split():
        changes = ["diff-tree", "--root", "--no-commit-id", "-r", "-z", "--name-only"]
        listed = git(root, *changes, "--diff-filter=AM", commit).decode()
        changed = [p for p in listed.split("\0") if p and p != allowlist_path()]
        with tempfile.TemporaryDirectory() as tmp:
            written = []
            for path in changed:
                shown = subprocess.run(
                    ["git", "show", f"{commit}:{path}"], cwd=root, capture_output=True
                )
                if shown.returncode == 0:  # not a submodule
                    (Path(tmp) / path).parent.mkdir(parents=True, exist_ok=True)
                    (Path(tmp) / path).write_bytes(shown.stdout)
                    written.append(path)
            if not written:
                continue
            found, allowed, _ = check(Path(tmp), allowlist, written)
        bad += [replace(f, commit=commit) for f in found]
        good += allowed
    return bad, good


def say(text: str) -> None:
    sys.stdout.write(text + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", help="files to scan (default: every file git knows)")
    parser.add_argument("--root", type=Path, default=HERE.parents[2])
    parser.add_argument("--allowlist", type=Path, default=ALLOWLIST)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--history",
        metavar="BASE..HEAD",
        help="scan what each commit of this range added or changed, instead of the tree",
    )
    args = parser.parse_args()

    allowlist = load_allowlist(args.allowlist)
    if args.history:
        if args.paths:
            parser.error("--history scans commits, not paths")
        (bad, good), stale = check_history(args.root, allowlist, args.history), []
    else:
        bad, good, stale = check(args.root, allowlist, args.paths or None)
    if args.json:
        report = {
            "findings": [asdict(f) for f in bad],
            "allowed": len(good),
            "stale_allowlist_entries": [asdict(a) for a in stale],
        }
        say(json.dumps(report, indent=2))
    else:
        for f in bad:
            where = f"{f.commit[:12]} " if f.commit else ""
            say(f"{where}{f.path}:{f.line}: {f.type} (hashed_secret {f.hashed_secret})")
        for a in stale:
            say(f"allowlist entry matches nothing any more: {a.type} in {', '.join(a.paths)}")
        say(f"secret scan: {len(bad)} finding(s), {len(good)} allowlisted, {len(stale)} stale")
        if bad:
            say(
                "Remove the secret (and rotate it: it may be in the history), or, if it is not "
                f"one, add it to {ALLOWLIST.relative_to(HERE.parents[2])} with the reason."
            )
    return 1 if bad or stale else 0


if __name__ == "__main__":
    sys.exit(main())
