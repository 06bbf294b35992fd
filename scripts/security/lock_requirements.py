"""Regenerate the dependency locks of what ragops deploys (needs PyPI; run it by hand, then
review and commit the diff):

- ``layers/api-deps/requirements.lock``: the ApiDepsLayer;
- ``layers/ingest-deps/requirements.lock``: the IngestDepsLayer (api-deps and ingest-deps
  together, as the layer installs them);
- ``vector_tier/requirements.lock``: the tier service image (the ragops core's dependencies,
  vector_tier/requirements.txt, and the build backend that installs the package itself).

    python3 scripts/security/lock_requirements.py        # or: make -C layers lock

**The layers** are built on any machine for another one: ``layers/Makefile`` installs
manylinux arm64 wheels (glibc up to 2.34) for CPython 3.13 with ``pip --platform``. A lock
resolved for the machine that runs pip-compile (x86_64, its own Python) is not that set: a
release may require a newer patch release than ``--python-version`` promises, or ship arm64
wheels only for a newer glibc, and would be pinned and then fail the build. So the layers
are resolved by pip itself with the Makefile's own target flags (``pip install --dry-run
--report``), and each pin carries the sha256 of the one wheel that ``sam build`` installs for
the runtime. What the Lambda runtime provides (the AWS SDK with its dependencies, SnapStart's
hook library) is left out.

**The tier image** is built natively (``docker build --platform linux/arm64``, or on x86_64 by
tests/infra/test_tier_image.py), so it is locked with pip-compile: every file of each pinned
release is hashed, whichever platform installs it. The lock is then checked against a
resolution for arm64 Linux (glibc 2.17 to 2.36, Debian bookworm's) with wheels only: the same
packages at the same versions, each with a wheel the image can install.

pip runs with no configuration file and no PIP_* variables, so only PyPI answers: a local
mirror or find-links folder cannot leak into a lock.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ROOT / "layers"

# The Lambda runtime as layers/Makefile targets it (LAMBDA_TARGET there must say the same;
# tests/infra/test_locks.py compares them).
# The python3.13 runtime is Amazon Linux 2023 (glibc 2.34).
LAMBDA_PLATFORMS = [f"manylinux_2_{minor}_aarch64" for minor in range(34, 23, -1)] + [
    "manylinux_2_17_aarch64",
    "manylinux2014_aarch64",
]
LAMBDA_TARGET = [
    "--only-binary=:all:",
    *[arg for platform in LAMBDA_PLATFORMS for arg in ("--platform", platform)],
    "--implementation",
    "cp",
    "--python-version",
    "3.13",
]
# The runtime's AWS SDK with its dependencies, and SnapStart's hook library.
RUNTIME_PROVIDED = {
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "urllib3",
    "python-dateutil",
    "six",
    "snapshot-restore-py",
}

# Debian bookworm (the tier image's base) has glibc 2.36: every manylinux tag from 2.17 on.
TIER_PLATFORMS = [f"manylinux_2_{minor}_aarch64" for minor in range(36, 16, -1)] + [
    "manylinux2014_aarch64"
]
PIP_TOOLS = "pip-tools==7.6.2"

REGENERATE = "make -C layers lock"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pip_env() -> dict[str, str]:
    """No pip configuration at all: PyPI only, no mirror, no constraints file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


@dataclass
class Pin:
    name: str
    version: str
    hashes: set[str] = field(default_factory=set)
    via: set[str] = field(default_factory=set)
    requested: bool = False


def _requirement_name(spec: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", spec)
    return canonical(match.group(1)) if match else ""


def resolve(requirements: list[Path], target: list[str], constraints: dict[str, str]) -> dict:
    """What pip would install for ``target`` (name -> Pin), with each file's sha256."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        args = [arg for path in requirements for arg in ("-r", str(path))]
        if constraints:
            constraint_file = Path(tmp) / "constraints.txt"
            constraint_file.write_text("".join(f"{n}=={v}\n" for n, v in constraints.items()))
            args += ["-c", str(constraint_file)]
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--dry-run",
                "--ignore-installed",
                "--report",
                str(report),
                *target,
                "--target",
                str(Path(tmp) / "site"),
                *args,
            ],
            check=True,
            env=pip_env(),
        )
        data = json.loads(report.read_text())
    pins: dict[str, Pin] = {}
    requires: dict[str, list[str]] = {}
    for item in data["install"]:
        meta = item["metadata"]
        info = item["download_info"]["archive_info"]
        sha256 = info.get("hashes", {}).get("sha256") or info["hash"].split("=", 1)[1]
        name = canonical(meta["name"])
        pins[name] = Pin(name, meta["version"], {sha256}, requested=bool(item.get("requested")))
        requires[name] = [_requirement_name(r) for r in meta.get("requires_dist", [])]
    for parent, children in requires.items():
        for child in children:
            if child in pins:
                pins[child].via.add(parent)
    return pins


def render(pins: dict[str, Pin], header: list[str]) -> str:
    lines = [f"# {line}".rstrip() for line in header]
    for name in sorted(pins):
        pin = pins[name]
        hashes = sorted(pin.hashes)
        lines.append(f"{pin.name}=={pin.version} \\")
        lines += [f"    --hash=sha256:{h} \\" for h in hashes[:-1]]
        lines.append(f"    --hash=sha256:{hashes[-1]}")
        via = sorted(pin.via)
        if pin.requested:
            via.insert(0, "requirements.txt")
        lines.append(f"    # via {', '.join(via)}")
    return "\n".join(lines) + "\n"


def lock_layers() -> None:
    api_txt = LAYERS / "api-deps" / "requirements.txt"
    ingest_txt = LAYERS / "ingest-deps" / "requirements.txt"
    ingest = resolve([api_txt, ingest_txt], LAMBDA_TARGET, {})
    for name in RUNTIME_PROVIDED:
        ingest.pop(name, None)
    # The API layer at the ingest layer's versions: both functions run the same pydantic.
    api = resolve([api_txt], LAMBDA_TARGET, {n: p.version for n, p in ingest.items()})
    for name in RUNTIME_PROVIDED:
        api.pop(name, None)
    for layer, inputs, pins, path in (
        ("ApiDepsLayer", "api-deps/requirements.txt", api, api_txt.with_suffix(".lock")),
        (
            "IngestDepsLayer",
            "api-deps/requirements.txt + ingest-deps/requirements.txt",
            ingest,
            ingest_txt.with_suffix(".lock"),
        ),
    ):
        header = [
            f"Generated by `{REGENERATE}` (scripts/security/lock_requirements.py): do not edit.",
            f"Every package {layer} installs, resolved from",
            f"  {inputs}",
            "and pinned with the sha256 of the wheel `sam build` installs (layers/Makefile:",
            "--require-hashes --no-deps) for the python3.13 arm64 runtime, as pip resolves",
            "it for:",
            f"  target: {' '.join(LAMBDA_TARGET)}",
            f"Left out, provided by the Lambda runtime: {', '.join(sorted(RUNTIME_PROVIDED))}.",
            "",
        ]
        path.write_text(render(pins, header))
        sys.stdout.write(f"{path.relative_to(ROOT)}: {len(pins)} packages\n")


def lock_tier() -> None:
    lock = ROOT / "vector_tier" / "requirements.lock"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    service = [
        line.strip()
        for line in (ROOT / "vector_tier" / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    sources = {
        "core.in": project["project"]["dependencies"],
        "build.in": project["build-system"]["requires"],
        "service.in": service,
    }
    labels = {
        "-r core.in": "pyproject.toml",
        "-r build.in": "pyproject.toml [build-system]",
        "-r service.in": "vector_tier/requirements.txt",
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, lines in sources.items():
            (Path(tmp) / name).write_text("\n".join(lines) + "\n")
        (Path(tmp) / "tier.in").write_text("".join(f"-r {name}\n" for name in sources))
        env = {**pip_env(), "CUSTOM_COMPILE_COMMAND": REGENERATE}
        try:
            import piptools  # noqa: F401
        except ImportError:
            sys.exit(f"pip-compile is needed for the tier's lock: pip install '{PIP_TOOLS}'")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "piptools",
                "compile",
                "--quiet",
                "--generate-hashes",
                "--allow-unsafe",
                "--strip-extras",
                "--no-emit-index-url",
                "--no-emit-find-links",
                "--no-header",
                "--output-file",
                "tier.lock",
                "tier.in",
            ],
            check=True,
            cwd=tmp,
            env=env,
        )
        body = (Path(tmp) / "tier.lock").read_text()
        for raw, label in labels.items():
            body = body.replace(raw, label)
        aarch64 = resolve(
            [Path(tmp) / name for name in sources],
            [
                "--only-binary=:all:",
                *[arg for p in TIER_PLATFORMS for arg in ("--platform", p)],
                "--implementation",
                "cp",
                "--python-version",
                ".".join(map(str, sys.version_info[:3])),
            ],
            {},
        )
    pinned = {canonical(m[1]): m[2] for m in re.finditer(r"^([A-Za-z0-9_.-]+)==(\S+)", body, re.M)}
    arm = {name: pin.version for name, pin in aarch64.items()}
    if pinned != arm:
        differ = sorted(
            f"{n}: lock {pinned.get(n)}, arm64 {arm.get(n)}"
            for n in set(pinned) | set(arm)
            if pinned.get(n) != arm.get(n)
        )
        sys.exit("the tier's lock differs from its arm64 resolution:\n  " + "\n  ".join(differ))
    header = [
        f"Generated by `{REGENERATE}` (scripts/security/lock_requirements.py): do not edit.",
        "Every package the tier image installs (vector_tier/Dockerfile: --require-hashes",
        "--no-deps, then the ragops package itself with --no-deps --no-build-isolation): the",
        "ragops core's dependencies (pyproject.toml), its build backend, and",
        "vector_tier/requirements.txt. pip-compile hashes every file of each release (any",
        "platform); the set was checked to resolve the same, with wheels only, for arm64",
        f"Linux (bookworm) on Python {'.'.join(map(str, sys.version_info[:3]))}.",
        "",
    ]
    lock.write_text("\n".join(f"# {h}".rstrip() for h in header) + "\n" + body)
    sys.stdout.write(f"{lock.relative_to(ROOT)}: {len(pinned)} packages\n")


def main() -> None:
    which = set(sys.argv[1:]) or {"layers", "tier"}
    if "layers" in which:
        lock_layers()
    if "tier" in which:
        lock_tier()


if __name__ == "__main__":
    main()
