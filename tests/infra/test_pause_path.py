"""The pause path, offline (issue 19, point 3): scripts/tier/pause.sh (and resume.sh) run
against fake `aws`, `kubectl`, `terraform` and `curl` executables on PATH.

The fakes share one small model of the account (a JSON "world" in tmp_path): the cluster and
its public endpoint, load balancers, target groups, network interfaces, security groups and
EBS volumes with their tags, the namespace, and the Terraform state. Each call is appended to
a log (tool and argv), in order. They behave as AWS does where it matters here:

- kubectl gets through only when the cluster's endpoint admits the caller's address, and an
  endpoint change (`eks update-cluster-config`) only takes effect once `describe-update`
  has reported it Successful: a script that does not open the endpoint, or does not wait,
  fails to reach Kubernetes;
- `--filters`, `--query` (JMESPath, with the jmespath package the AWS CLI uses) and
  `--output text` are evaluated, so the scripts' own selections are what is tested;
- deleting the namespace deletes what the controllers made for it (the NLB, Chroma's volume);
- `terraform destroy` of the whole root fails (DependencyViolation) while a load balancer, an
  unattached network interface or a Kubernetes security group is left in the VPC.

The environment is the workflow's: its job env, and what its "admit this runner" step writes
to GITHUB_ENV, run here with a fake checkip answer.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jmespath
import pytest
import yaml

# The package the AWS CLI evaluates --query with (a dependency of boto3 in .venv).
JMESPATH_PATH = str(Path(jmespath.__file__).resolve().parent.parent)

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts" / "tier"
WORKFLOW = ROOT / ".github" / "workflows" / "pause-resume.yml"

CLUSTER = "ragops-tier"
VPC = "vpc-0tier"
ADMIN_CIDR = "203.0.113.0/24"  # the operators' (vars.TIER_ADMIN_CIDRS)
CREATED_FROM = "192.0.2.10/32"  # the address that created the cluster, admitted today
RUNNER_IP = "198.51.100.7"  # what checkip answers the runner
RUNNER_CIDR = f"{RUNNER_IP}/32"
REGION = "eu-west-1"
ACCOUNT = "123456789012"


def lb_arn(name: str, kind: str = "net") -> str:
    prefix = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}"
    return f"{prefix}:loadbalancer/{kind}/{name}/0123456789abcdef"


def tg_arn(name: str) -> str:
    return f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/{name}/0123456789abcdef"


def tags(**pairs: str) -> list[dict]:
    return [{"Key": k, "Value": v} for k, v in pairs.items()]


def tag_list(*pairs: tuple[str, str]) -> list[dict]:
    return [{"Key": k, "Value": v} for k, v in pairs]


OWNED = ("kubernetes.io/cluster/" + CLUSTER, "owned")
SERVICE_NLB = lb_arn("a1b2c3-ragops-tier")  # the Service's NLB (in-tree controller)
LBC_NLB = lb_arn("k8s-ragops-ragopsti-0a1b2c")  # one the AWS Load Balancer Controller made
STRAY_NLB_IN_VPC = lb_arn("untagged-in-tier-vpc")  # untagged, but in the tier VPC
OTHER_NLB = lb_arn("someone-elses")  # another VPC, no Kubernetes tag
OTHER_CLUSTER_NLB = lb_arn("other-cluster-nlb")  # tagged for another cluster
CHROMA_VOLUME = "vol-0chroma"
OLD_VOLUME = "vol-0earlier"  # Chroma's volume of an earlier pause that could not drain


def base_world() -> dict:
    """A running tier, the namespace live, and leftovers of earlier runs next to things that
    are not the tier's."""
    return {
        "caller_cidr": RUNNER_CIDR,
        "clusters": {
            CLUSTER: {
                "status": "ACTIVE",
                "endpointPublicAccess": True,
                "endpointPrivateAccess": True,
                "publicAccessCidrs": [CREATED_FROM, ADMIN_CIDR],
                "vpcId": VPC,
            }
        },
        "updates": {},
        "update_polls": 2,  # describe-update answers InProgress this many times first
        "contexts": {},
        "namespace": {
            "exists": True,
            "pv_volumes": [CHROMA_VOLUME],
            # What the service controller and the CSI driver delete with the namespace.
            "on_delete": {"load_balancers": [SERVICE_NLB], "volumes": [CHROMA_VOLUME]},
        },
        "kubectl_fail": [],
        "load_balancers": [
            {
                "LoadBalancerArn": SERVICE_NLB,
                "VpcId": VPC,
                "Type": "network",
                "Tags": tag_list(OWNED, ("kubernetes.io/service-name", "ragops/ragops-tier")),
            },
            {
                "LoadBalancerArn": LBC_NLB,
                "VpcId": VPC,
                "Type": "network",
                "Tags": tag_list(
                    ("elbv2.k8s.aws/cluster", CLUSTER),
                    ("service.k8s.aws/stack", "ragops/ragops-tier"),
                ),
            },
            {"LoadBalancerArn": STRAY_NLB_IN_VPC, "VpcId": VPC, "Type": "network", "Tags": []},
            {
                "LoadBalancerArn": OTHER_NLB,
                "VpcId": "vpc-0other",
                "Type": "network",
                "Tags": tags(team="web"),
            },
            {
                "LoadBalancerArn": OTHER_CLUSTER_NLB,
                "VpcId": "vpc-0other",
                "Type": "network",
                "Tags": tag_list(
                    ("kubernetes.io/cluster/another", "owned"), ("elbv2.k8s.aws/cluster", "another")
                ),
            },
        ],
        "classic_load_balancers": [],
        "target_groups": [
            {
                "TargetGroupArn": tg_arn("k8s-ragops-ragopsti"),
                "VpcId": VPC,
                "Tags": tag_list(OWNED),
            },
            {"TargetGroupArn": tg_arn("web"), "VpcId": "vpc-0other", "Tags": tags(team="web")},
        ],
        "network_interfaces": [
            {
                "NetworkInterfaceId": "eni-0cni",
                "Status": "available",
                "VpcId": VPC,
                "Description": "aws-K8S-i-0123",
                "TagSet": tag_list(
                    ("cluster.k8s.amazonaws.com/name", CLUSTER),
                    ("node.k8s.amazonaws.com/instance_id", "i-0123"),
                ),
            },
            {
                "NetworkInterfaceId": "eni-0cniold",
                "Status": "available",
                "VpcId": VPC,
                "Description": "aws-K8S-i-0456",
                "TagSet": tag_list(("node.k8s.amazonaws.com/instance_id", "i-0456")),
            },
            {
                "NetworkInterfaceId": "eni-0inuse",
                "Status": "in-use",
                "VpcId": VPC,
                "Description": "aws-K8S-i-0789",
                "TagSet": tag_list(("cluster.k8s.amazonaws.com/name", CLUSTER)),
            },
            {
                "NetworkInterfaceId": "eni-0other",
                "Status": "available",
                "VpcId": "vpc-0other",
                "Description": "someone else's",
                "TagSet": tags(team="web"),
            },
        ],
        "security_groups": [
            {
                "GroupId": "sg-0default",
                "GroupName": "default",
                "VpcId": VPC,
                "Tags": tag_list(OWNED),
            },
            {
                "GroupId": "sg-0lbc",
                "GroupName": "k8s-ragops-ragopsti-0a1b2c",
                "VpcId": VPC,
                "Tags": tag_list(("elbv2.k8s.aws/cluster", CLUSTER)),
            },
            {
                "GroupId": "sg-0other",
                "GroupName": "web",
                "VpcId": "vpc-0other",
                "Tags": tag_list(("elbv2.k8s.aws/cluster", CLUSTER)),
            },
        ],
        "volumes": [
            {
                "VolumeId": CHROMA_VOLUME,
                "State": "available",
                "Tags": tag_list(
                    ("ebs.csi.aws.com/cluster", "true"),
                    ("kubernetes.io/created-for/pvc/namespace", "ragops"),
                    ("kubernetes.io/created-for/pvc/name", "data-chroma-0"),
                ),
            },
            {
                "VolumeId": OLD_VOLUME,
                "State": "available",
                "Tags": tag_list(
                    ("ebs.csi.aws.com/cluster", "true"),
                    ("kubernetes.io/created-for/pvc/namespace", "ragops"),
                    ("kubernetes.io/created-for/pvc/name", "data-chroma-0"),
                ),
            },
            {"VolumeId": "vol-0owned", "State": "available", "Tags": tag_list(OWNED)},
            {"VolumeId": "vol-0ownedinuse", "State": "in-use", "Tags": tag_list(OWNED)},
            {
                "VolumeId": "vol-0othernamespace",
                "State": "available",
                "Tags": tag_list(
                    ("ebs.csi.aws.com/cluster", "true"),
                    ("kubernetes.io/created-for/pvc/namespace", "web"),
                ),
            },
            {"VolumeId": "vol-0untagged", "State": "available", "Tags": []},
        ],
        "ssm": {},
        "terraform": {
            "tier_exists": True,
            "helm_release": True,
            "persistent": {
                "kms_key_arn": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/abcd",
                "tier_secret_arn": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:t-AbCd",
                "flow_log_group_arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/flow",
                "documents_bucket_name": "ragops-dev-documents",
                "ecr_repository_url": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/ragops-tier",
                "image_cache_ecr_public": (
                    f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/ragops-dev-ecr-public"
                ),
                "image_cache_docker_hub": "",
            },
            "tier": {
                "cluster_name": CLUSTER,
                "vpc_id": VPC,
                "vpc_cidr": "10.40.0.0/16",
                "tier_role_arn": f"arn:aws:iam::{ACCOUNT}:role/tier",
                "mlflow_role_arn": f"arn:aws:iam::{ACCOUNT}:role/mlflow",
            },
        },
    }


# --- the fakes ---------------------------------------------------------------------------

FAKE = r'''
import fnmatch, json, os, re, sys

sys.path.insert(0, os.environ["FAKE_JMESPATH_PATH"])
import jmespath

WORLD = os.environ["FAKE_WORLD"]
tool, args = sys.argv[1], sys.argv[2:]
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps({"tool": tool, "args": args}) + "\n")
world = json.load(open(WORLD))


def save():
    json.dump(world, open(WORLD, "w"), indent=1)


def fail(message, code=254):
    print(message, file=sys.stderr)
    sys.exit(code)


def options(words):
    """--key value... -> {key: [values]}; positional words under None."""
    out, key = {None: []}, None
    for word in words:
        if word.startswith("--"):
            key, _, inline = word[2:].partition("=")
            out[key] = [inline] if inline else []
        else:
            out.setdefault(key, []).append(word)
    return out


def text(value):
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, list):
        if all(not isinstance(v, (list, dict)) for v in value):
            return "\t".join(text(v) for v in value)
        return "\n".join(text(v) for v in value)
    if isinstance(value, dict):
        return "\t".join(text(v) for _, v in sorted(value.items()))
    return str(value)


def answer(opts, result):
    query = opts.get("query", [None])[0]
    if query is not None:
        result = jmespath.search(query, result)
    if opts.get("output", ["json"])[0] == "text":
        out = text(result)
        if out:
            print(out)
    else:
        print(json.dumps(result, indent=2))
    sys.exit(0)


def matches(resource, filters, tag_key, status_key):
    for spec in filters:
        m = re.fullmatch(r"Name=([^,]+),Values=(.*)", spec)
        if not m:
            fail(f"fake aws: bad filter {spec!r}", 252)
        name, values = m.group(1), m.group(2).split(",")
        tag_pairs = {t["Key"]: t["Value"] for t in resource.get(tag_key, [])}
        if name.startswith("tag:"):
            value = tag_pairs.get(name[4:])
            ok = value is not None and any(fnmatch.fnmatchcase(value, v) for v in values)
        elif name == "tag-key":
            ok = any(k in tag_pairs for k in values)
        elif name == "status":
            ok = resource[status_key] in values
        elif name == "vpc-id":
            ok = resource.get("VpcId") in values
        elif name == "volume-id":
            ok = resource.get("VolumeId") in values
        elif name == "group-name":
            ok = any(fnmatch.fnmatchcase(resource["GroupName"], v) for v in values)
        else:
            fail(f"An error occurred (InvalidParameterValue): The filter '{name}' is invalid", 252)
        if not ok:
            return False
    return True


def public(resource, drop):
    return {k: v for k, v in resource.items() if k not in drop}


def elbv2(op, opts):
    lbs, tgs = world["load_balancers"], world["target_groups"]
    if op == "describe-load-balancers":
        answer(opts, {"LoadBalancers": [public(lb, {"Tags"}) for lb in lbs]})
    if op == "describe-target-groups":
        answer(opts, {"TargetGroups": [public(tg, {"Tags"}) for tg in tgs]})
    if op == "describe-tags":
        arns = opts["resource-arns"]
        if len(arns) > 20:
            fail("An error occurred (ValidationError): at most 20 resource ARNs", 252)
        by_arn = {r.get("LoadBalancerArn") or r["TargetGroupArn"]: r for r in lbs + tgs}
        missing = [a for a in arns if a not in by_arn]
        if missing:
            fail(f"An error occurred (LoadBalancerNotFound): {missing}")
        answer(opts, {"TagDescriptions": [
            {"ResourceArn": a, "Tags": by_arn[a]["Tags"]} for a in arns]})
    if op == "delete-load-balancer":
        arn = opts["load-balancer-arn"][0]
        world["load_balancers"] = [lb for lb in lbs if lb["LoadBalancerArn"] != arn]
        save()
        sys.exit(0)
    if op == "delete-target-group":
        arn = opts["target-group-arn"][0]
        world["target_groups"] = [tg for tg in tgs if tg["TargetGroupArn"] != arn]
        save()
        sys.exit(0)
    if op == "wait":
        sys.exit(0)
    fail(f"fake aws: unsupported elbv2 {op}", 2)


def ec2(op, opts):
    filters = opts.get("filters", [])
    if op == "describe-volumes":
        answer(opts, {"Volumes": [v for v in world["volumes"]
                                  if matches(v, filters, "Tags", "State")]})
    if op == "describe-network-interfaces":
        answer(opts, {"NetworkInterfaces": [e for e in world["network_interfaces"]
                                            if matches(e, filters, "TagSet", "Status")]})
    if op == "describe-security-groups":
        answer(opts, {"SecurityGroups": [g for g in world["security_groups"]
                                         if matches(g, filters, "Tags", None)]})
    for operation, kind, key, option in (
        ("delete-volume", "volumes", "VolumeId", "volume-id"),
        ("delete-network-interface", "network_interfaces", "NetworkInterfaceId",
         "network-interface-id"),
        ("delete-security-group", "security_groups", "GroupId", "group-id"),
    ):
        if op == operation:
            wanted = opts[option][0]
            found = [r for r in world[kind] if r[key] == wanted]
            if not found:
                fail(f"An error occurred (NotFound): {wanted}")
            if found[0].get("State", found[0].get("Status", "available")) != "available":
                fail(f"An error occurred (IncorrectState): {wanted} is in use")
            world[kind] = [r for r in world[kind] if r[key] != wanted]
            save()
            sys.exit(0)
    fail(f"fake aws: unsupported ec2 {op}", 2)


def eks(op, opts):
    name = (opts.get("name") or [None])[0]
    clusters = world["clusters"]
    if op == "list-clusters":
        answer(opts, {"clusters": sorted(clusters)})
    if name not in clusters:
        fail(f"An error occurred (ResourceNotFoundException): No cluster found for name: {name}.")
    cluster = clusters[name]
    if op == "describe-cluster":
        answer(opts, {"cluster": {
            "name": name,
            "status": cluster["status"],
            "resourcesVpcConfig": {
                "vpcId": cluster["vpcId"],
                "endpointPublicAccess": cluster["endpointPublicAccess"],
                "endpointPrivateAccess": cluster["endpointPrivateAccess"],
                "publicAccessCidrs": cluster["publicAccessCidrs"],
            },
        }})
    if op == "update-kubeconfig":
        world["contexts"][opts["alias"][0]] = name
        save()
        print(f"Updated context {opts['alias'][0]}")
        sys.exit(0)
    if op == "update-cluster-config":
        config = json.loads(opts["resources-vpc-config"][0])
        current = {k: cluster[k] for k in config}
        if current == config:
            fail("An error occurred (InvalidParameterException): Cluster is already at the "
                 "desired configuration", 252)
        if world.get("fail_update"):
            fail("An error occurred (AccessDeniedException): eks:UpdateClusterConfig denied")
        update_id = f"upd-{len(world['updates']) + 1}"
        world["updates"][update_id] = {"cluster": name, "config": config,
                                       "polls": world["update_polls"]}
        cluster["status"] = "UPDATING"
        save()
        answer(opts, {"update": {"id": update_id, "status": "InProgress",
                                 "type": "EndpointAccessUpdate"}})
    if op == "describe-update":
        update = world["updates"][opts["update-id"][0]]
        if update["polls"] > 0:
            update["polls"] -= 1
            status = "InProgress"
        else:
            status = "Successful"
            cluster.update(update["config"])
            cluster["status"] = "ACTIVE"
        save()
        answer(opts, {"update": {"id": opts["update-id"][0], "status": status, "errors": []}})
    if op == "wait":
        sys.exit(0)
    fail(f"fake aws: unsupported eks {op}", 2)


def aws():
    service, op, rest = args[0], args[1], args[2:]
    if service == "eks" and op == "wait":
        rest = rest[1:]
    opts = options(rest)
    if service == "elbv2":
        elbv2(op, opts)
    if service == "elb":
        if op == "describe-load-balancers":
            answer(opts, {"LoadBalancerDescriptions": world["classic_load_balancers"]})
        if op == "delete-load-balancer":
            name = opts["load-balancer-name"][0]
            world["classic_load_balancers"] = [
                lb for lb in world["classic_load_balancers"] if lb["LoadBalancerName"] != name]
            save()
            sys.exit(0)
    if service == "ec2":
        ec2(op, opts)
    if service == "eks":
        eks(op, opts)
    if service == "ssm" and op == "put-parameter":
        world["ssm"][opts["name"][0]] = opts["value"][0]
        save()
        answer(opts, {"Version": 2})
    if service == "ecr" and op == "describe-images":
        answer(opts, {"imageDetails": [{"imageTags": ["20260101-abc"], "imagePushedAt": 1}]})
    if service == "lambda" and op == "get-function":
        fail("An error occurred (ResourceNotFoundException): Function not found")
    if service == "route53" and op == "change-resource-record-sets":
        answer(opts, {"ChangeInfo": {"Id": "/change/C1", "Status": "PENDING"}})
    if service == "route53" and op == "wait":
        sys.exit(0)
    fail(f"fake aws: unsupported {service} {op}", 2)


def kubectl():
    words = list(args)
    context = None
    if words[:1] == ["--context"]:
        context, words = words[1], words[2:]
    cluster = world["clusters"].get(world["contexts"].get(context))
    if (cluster is None or cluster["status"] != "ACTIVE" or not cluster["endpointPublicAccess"]
            or world["caller_cidr"] not in cluster["publicAccessCidrs"]):
        fail("Unable to connect to the server: dial tcp 192.0.2.1:443: i/o timeout", 1)
    line = " ".join(words)
    for needle in world["kubectl_fail"]:
        if needle in line:
            fail(f"error: {needle}: the server has asked for the client to provide credentials", 1)
    ns = world["namespace"]
    if "get --raw /readyz" in line:
        print("ok")
    elif "get pv" in line:
        if ns["exists"]:
            if "volumeHandle" in line:
                print("".join(v + "," for v in ns["pv_volumes"]), end="")
            else:
                print("pvc-0chroma", end="")
    elif "delete namespace" in line:
        if ns["exists"]:
            ns["exists"] = False
            gone_lbs = set(ns["on_delete"]["load_balancers"])
            gone_vols = set(ns["on_delete"]["volumes"])
            world["load_balancers"] = [
                lb for lb in world["load_balancers"] if lb["LoadBalancerArn"] not in gone_lbs]
            world["volumes"] = [v for v in world["volumes"] if v["VolumeId"] not in gone_vols]
            save()
        print('namespace "ragops" deleted')
    elif "get deployment/mlflow" in line or "scale deployment/mlflow" in line:
        if not ns["exists"]:
            fail('Error from server (NotFound): deployments.apps "mlflow" not found', 1)
    elif "get pods" in line:
        pass
    elif words[:1] == ["apply"]:
        ns["exists"] = True
        save()
    elif "rollout status" in line:
        pass
    elif "get service ragops-tier" in line:
        print("a1b2c3.elb.eu-west-1.amazonaws.com", end="")
    else:
        fail(f"fake kubectl: unsupported {line}", 2)
    sys.exit(0)


def terraform():
    words = list(args)
    chdir = words.pop(0).split("=", 1)[1] if words[0].startswith("-chdir=") else "."
    root = chdir.rsplit("/", 1)[-1]
    command = words[0]
    tf = world["terraform"]
    if command == "init":
        sys.exit(0)
    if command == "output":
        name = words[-1]
        if root == "tier" and not tf["tier_exists"]:
            fail("Warning: No outputs found", 1)
        print(tf[root][name], end="")
        sys.exit(0)
    if command == "state":
        held = ["helm_release.aws_load_balancer_controller"] if tf.get("helm_release") else []
        if words[1] == "list":
            print("\n".join(held))
            sys.exit(0)
        if words[1] == "rm" and words[-1] in held:
            tf["helm_release"] = False
            save()
            sys.exit(0)
        fail(f"Error: Invalid target address {words[-1]}", 1)
    if command == "destroy":
        if "-target=aws_eks_cluster.tier" in words:
            if tf.get("fail_cluster_destroy"):
                fail("Error: waiting for EKS Cluster (ragops-tier) delete: timeout", 1)
            if tf.get("helm_release") and tf.get("kubernetes_api_unreachable"):
                # Destroying the release first needs the Kubernetes API.
                fail("Error: uninstall: Kubernetes cluster unreachable", 1)
            world["clusters"].pop(tf["tier"]["cluster_name"], None)
            save()
            sys.exit(0)
        vpc = tf["tier"]["vpc_id"]
        blockers = [lb["LoadBalancerArn"] for lb in world["load_balancers"] if lb["VpcId"] == vpc]
        blockers += [lb["LoadBalancerName"] for lb in world["classic_load_balancers"]]
        blockers += [e["NetworkInterfaceId"] for e in world["network_interfaces"]
                     if e["VpcId"] == vpc and e["Status"] == "available"]
        blockers += [g["GroupId"] for g in world["security_groups"]
                     if g["VpcId"] == vpc and g["GroupName"] != "default"]
        if tf["tier_exists"] and blockers:
            fail(f"Error: deleting EC2 Subnet: DependencyViolation: {blockers}", 1)
        world["clusters"].pop(tf["tier"]["cluster_name"], None)
        world["security_groups"] = [g for g in world["security_groups"] if g["VpcId"] != vpc]
        world["network_interfaces"] = [
            e for e in world["network_interfaces"] if e["VpcId"] != vpc]
        tf["tier_exists"] = False
        save()
        sys.exit(0)
    if command == "apply":
        cidrs = next(json.loads(w.split("=", 1)[1]) for w in words
                     if w.startswith("cluster_endpoint_public_access_cidrs="))
        world["clusters"][tf["tier"]["cluster_name"]] = {
            "status": "ACTIVE", "endpointPublicAccess": True, "endpointPrivateAccess": True,
            "publicAccessCidrs": cidrs, "vpcId": tf["tier"]["vpc_id"]}
        tf["tier_exists"] = True
        save()
        sys.exit(0)
    fail(f"fake terraform: unsupported {words}", 2)


def curl():
    url = args[-1]
    if url == "https://checkip.amazonaws.com":
        print(os.environ["FAKE_CHECKIP"])
    elif url.endswith("/readyz"):
        print("ok")
    else:
        fail(f"fake curl: unexpected {url}", 6)
    sys.exit(0)


def ragops():
    print('{"restored": 3, "missing": []}')
    sys.exit(0)


{"aws": aws, "kubectl": kubectl, "terraform": terraform, "curl": curl, "ragops": ragops}[tool]()
'''


class Cloud:
    """The fake tools in tmp_path/bin, the world they share and the log of their calls."""

    def __init__(self, tmp_path: Path, world: dict):
        self.tmp = tmp_path
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        fake = tmp_path / "fake_cloud.py"
        fake.write_text(FAKE)
        for tool in ("aws", "kubectl", "terraform", "curl", "ragops"):
            path = self.bin / tool
            # -S: no site import (each call starts faster); jmespath is put on sys.path.
            path.write_text(f'#!/bin/sh\nexec "{sys.executable}" -S "{fake}" {tool} "$@"\n')
            path.chmod(0o755)
        self.world_path = tmp_path / "world.json"
        self.world_path.write_text(json.dumps(world))
        self.log = tmp_path / "calls.jsonl"
        self.log.touch()
        self.summary = tmp_path / "step-summary.md"

    @property
    def world(self) -> dict:
        return json.loads(self.world_path.read_text())

    def calls(self) -> list[tuple[str, list[str]]]:
        lines = self.log.read_text().splitlines()
        return [(c["tool"], c["args"]) for c in map(json.loads, lines)]

    def env(self, extra: dict[str, str]) -> dict[str, str]:
        return {
            "PATH": f"{self.bin}{os.pathsep}/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.tmp),
            "TMPDIR": str(self.tmp),
            "LANG": "C.UTF-8",
            "FAKE_WORLD": str(self.world_path),
            "FAKE_LOG": str(self.log),
            "FAKE_CHECKIP": RUNNER_IP,
            "FAKE_JMESPATH_PATH": JMESPATH_PATH,
            "GITHUB_ACTIONS": "true",
            "GITHUB_STEP_SUMMARY": str(self.summary),
            "TIER_POLL_SECONDS": "0",
            **workflow_env(self, extra.get("ACTION", "pause")),
            **extra,
        }

    def run(self, script: str, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(SCRIPTS / script)],
            cwd=ROOT,
            env=self.env(extra),
            capture_output=True,
            text=True,
            timeout=120,
        )


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def tier_steps() -> list[dict]:
    return workflow()["jobs"]["tier"]["steps"]


def workflow_env(cloud: Cloud, action: str) -> dict[str, str]:
    """The job's env with the stage's variables filled in, plus what the step that admits
    the runner writes to GITHUB_ENV, run as GitHub runs it with checkip answering
    RUNNER_IP."""
    values = {
        "inputs.action": action,
        "inputs.stage": "dev",
        "vars.AWS_REGION || 'us-east-1'": REGION,
        "vars.RAGOPS_TF_STATE_BUCKET": "my-tf-state",
        "vars.TIER_HOSTNAME": "tier.dev.example.com",
        "vars.TIER_CERTIFICATE_ARN": f"arn:aws:acm:{REGION}:{ACCOUNT}:certificate/0000",
        "vars.TIER_ROUTE53_ZONE_ID": "Z0123456789",
        "vars.TIER_IMAGE_TAG": "",
        "vars.TIER_ADMIN_CIDRS": ADMIN_CIDR,
        "vars.TIER_CLUSTER_ADMIN_PRINCIPAL_ARNS": "",
    }

    def fill(value: str) -> str:
        def expression(m):
            key = m.group(1).strip()
            assert key in values, f"the test does not know ${{{{ {key} }}}}: add it"
            return values[key]

        return re.sub(r"\$\{\{(.*?)\}\}", expression, str(value))

    env = {k: fill(v) for k, v in workflow()["jobs"]["tier"]["env"].items()}
    step = next(s for s in tier_steps() if s.get("name") == "admit this runner to the cluster API")
    github_env = cloud.tmp / "github-env"
    github_env.write_text("")
    result = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", step["run"]],
        env={
            "PATH": f"{cloud.bin}{os.pathsep}/usr/bin:/bin",
            "GITHUB_ENV": str(github_env),
            "FAKE_WORLD": str(cloud.world_path),
            "FAKE_LOG": str(cloud.tmp / "workflow-calls.jsonl"),
            "FAKE_CHECKIP": RUNNER_IP,
            "FAKE_JMESPATH_PATH": JMESPATH_PATH,
            **env,
            **{k: fill(v) for k, v in step.get("env", {}).items()},
        },
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for line in github_env.read_text().splitlines():
        key, _, value = line.partition("=")
        env[key] = value
    return env


def first(calls: list[tuple[str, list[str]]], tool: str, *words: str) -> int:
    """Index of the first call of `tool` whose argv contains every word, in order of the log."""
    for i, (t, args) in enumerate(calls):
        if t == tool and all(w in args for w in words):
            return i
    raise AssertionError(f"no call {tool} {' '.join(words)} in:\n" + render(calls))


def indexes(calls, tool: str, *words: str) -> list[int]:
    return [i for i, (t, a) in enumerate(calls) if t == tool and all(w in a for w in words)]


def render(calls) -> str:
    return "\n".join(f"{i:3} {t} {' '.join(a)}" for i, (t, a) in enumerate(calls))


def deleted(calls, operation: str, option: str) -> set[str]:
    return {
        args[args.index(option) + 1]
        for tool, args in calls
        if tool == "aws" and operation in args and option in args
    }


@pytest.fixture
def cloud(tmp_path: Path) -> Cloud:
    return Cloud(tmp_path, base_world())


# --- the workflow ----------------------------------------------------------------------


def test_the_workflow_admits_the_runner_before_the_scripts_run():
    names = [step.get("name", step.get("uses", "")) for step in tier_steps()]
    admit = names.index("admit this runner to the cluster API")
    assert names.index("aws-actions/configure-aws-credentials@v4.1.0") < admit
    assert admit < names.index("make pause") and admit < names.index("make resume")


def test_the_runner_cidr_joins_the_operators_cidrs(cloud: Cloud):
    env = workflow_env(cloud, "pause")
    assert env["TIER_ADMIN_CIDRS"].split(",") == [ADMIN_CIDR, RUNNER_CIDR]


# --- pause -----------------------------------------------------------------------------


def test_pause_opens_the_endpoint_to_the_runner_and_waits_before_any_kubectl_call(cloud: Cloud):
    result = cloud.run("pause.sh")
    calls = cloud.calls()
    assert result.returncode == 0, result.stderr[-6000:] + "\n" + render(calls)

    update = first(calls, "aws", "eks", "update-cluster-config")
    args = calls[update][1]
    assert args[args.index("--name") + 1] == CLUSTER
    config = json.loads(args[args.index("--resources-vpc-config") + 1])
    assert config["endpointPublicAccess"] is True
    assert config["endpointPrivateAccess"] is True  # unchanged
    # The runner added, nobody removed: the operators' CIDRs and those admitted already.
    assert set(config["publicAccessCidrs"]) == {CREATED_FROM, ADMIN_CIDR, RUNNER_CIDR}

    kubectl = [i for i, (tool, _) in enumerate(calls) if tool == "kubectl"]
    assert kubectl, render(calls)
    polls = indexes(calls, "aws", "eks", "describe-update")
    # Polled until Successful (the fake answers InProgress twice), all before kubectl.
    assert len(polls) == 3 and update < polls[0] and polls[-1] < kubectl[0], render(calls)
    assert "update upd-1: Successful" in result.stderr


def test_pause_deletes_the_namespace_then_the_cluster_then_sweeps_then_destroys_the_rest(
    cloud: Cloud,
):
    result = cloud.run("pause.sh")
    calls = cloud.calls()
    assert result.returncode == 0, result.stderr[-6000:] + "\n" + render(calls)
    assert cloud.world["ssm"] == {"/ragops/dev/tier/state": "paused"}
    assert not cloud.world["namespace"]["exists"]

    namespace = first(calls, "kubectl", "delete", "namespace", "ragops")
    mlflow = first(calls, "kubectl", "scale", "deployment/mlflow", "--replicas=0")
    destroys = indexes(calls, "terraform", "destroy")
    assert len(destroys) == 2, render(calls)
    cluster_destroy, full_destroy = destroys
    assert "-target=aws_eks_cluster.tier" in calls[cluster_destroy][1]
    assert "-target=aws_eks_cluster.tier" not in calls[full_destroy][1]
    sweep = [
        i
        for i, (tool, args) in enumerate(calls)
        if tool == "aws" and any(a.startswith("delete-") for a in args)
    ]
    assert sweep, render(calls)
    assert mlflow < namespace < cluster_destroy < min(sweep) and max(sweep) < full_destroy
    assert not any(tool == "kubectl" for tool, _ in calls[cluster_destroy:])
    assert not cloud.world["terraform"]["tier_exists"]
    assert not cloud.world["clusters"]


def test_the_sweep_deletes_what_kubernetes_made_for_the_cluster_and_nothing_else(cloud: Cloud):
    result = cloud.run("pause.sh")
    calls = cloud.calls()
    assert result.returncode == 0, result.stderr[-6000:] + "\n" + render(calls)

    # The Service's NLB went with the namespace; these were left behind.
    assert deleted(calls, "delete-load-balancer", "--load-balancer-arn") == {
        LBC_NLB,
        STRAY_NLB_IN_VPC,
    }
    assert deleted(calls, "delete-target-group", "--target-group-arn") == {
        tg_arn("k8s-ragops-ragopsti")
    }
    assert deleted(calls, "delete-network-interface", "--network-interface-id") == {
        "eni-0cni",
        "eni-0cniold",
    }
    assert deleted(calls, "delete-security-group", "--group-id") == {"sg-0lbc"}
    # No cluster is left in the region: the namespace's volumes of an earlier pause go too.
    assert deleted(calls, "delete-volume", "--volume-id") == {OLD_VOLUME, "vol-0owned"}

    world = cloud.world
    assert {lb["LoadBalancerArn"] for lb in world["load_balancers"]} == {
        OTHER_NLB,
        OTHER_CLUSTER_NLB,
    }
    assert [tg["TargetGroupArn"] for tg in world["target_groups"]] == [tg_arn("web")]
    assert [e["NetworkInterfaceId"] for e in world["network_interfaces"]] == ["eni-0other"]
    assert {v["VolumeId"] for v in world["volumes"]} == {
        "vol-0ownedinuse",
        "vol-0othernamespace",
        "vol-0untagged",
    }
    assert [g["GroupId"] for g in world["security_groups"]] == ["sg-0other"]


@pytest.mark.parametrize(
    "failure",
    ["kubectl delete namespace", "endpoint update refused"],
)
def test_a_failure_to_drain_fails_the_pause_visibly_but_destroys_and_sweeps(
    tmp_path: Path, failure: str
):
    world = base_world()
    if failure == "kubectl delete namespace":
        world["kubectl_fail"] = ["delete namespace"]
    else:
        world["fail_update"] = True
        # The API out of reach: Terraform could not uninstall the controller's Helm release.
        world["terraform"]["kubernetes_api_unreachable"] = True
    cloud = Cloud(tmp_path, world)
    result = cloud.run("pause.sh")
    calls = cloud.calls()

    assert result.returncode != 0, result.stderr[-6000:]
    # The release is forgotten before the cluster's destroy, which then needs no API.
    forget = first(calls, "terraform", "state", "rm")
    assert forget < indexes(calls, "terraform", "destroy")[0], render(calls)
    # Said where the workflow shows it: an error annotation and the job summary.
    assert "::error title=pause.sh::" in result.stdout, result.stdout
    expected = {
        "kubectl delete namespace": "namespace ragops of ragops-tier was not deleted",
        "endpoint update refused": "could not open the API endpoint of ragops-tier",
    }[failure]
    assert expected in result.stdout and expected in cloud.summary.read_text()
    assert "MLflow's last snapshot was not taken" in result.stderr
    # ...and nothing left billing: both destroys ran, and the sweep removed what the
    # namespace deletion would have (the Service's NLB, Chroma's volume).
    assert len(indexes(calls, "terraform", "destroy")) == 2, render(calls)
    assert SERVICE_NLB in deleted(calls, "delete-load-balancer", "--load-balancer-arn")
    assert CHROMA_VOLUME in deleted(calls, "delete-volume", "--volume-id")
    assert not cloud.world["terraform"]["tier_exists"]
    assert cloud.world["ssm"] == {"/ragops/dev/tier/state": "paused"}


def test_volumes_that_name_no_cluster_are_kept_while_another_cluster_could_own_them(
    tmp_path: Path,
):
    """The EBS CSI driver tags a volume with its namespace, not its cluster: with another
    cluster in the region, only the volumes read from this cluster's PersistentVolumes (and
    those tagged with its name) are deleted."""
    world = base_world()
    world["clusters"]["another"] = dict(world["clusters"][CLUSTER], vpcId="vpc-0other")
    world["kubectl_fail"] = ["delete namespace"]  # so that Chroma's volume stays behind
    cloud = Cloud(tmp_path, world)
    result = cloud.run("pause.sh")
    calls = cloud.calls()
    assert result.returncode != 0  # the namespace deletion failed
    assert deleted(calls, "delete-volume", "--volume-id") == {CHROMA_VOLUME, "vol-0owned"}
    assert OLD_VOLUME in {v["VolumeId"] for v in cloud.world["volumes"]}
    assert f"volumes {OLD_VOLUME} were made for a namespace ragops" in result.stderr
    assert "::warning title=pause.sh::" in result.stdout


def test_an_endpoint_that_admits_the_runner_already_is_left_alone(tmp_path: Path):
    world = base_world()
    world["clusters"][CLUSTER]["publicAccessCidrs"] = [ADMIN_CIDR, RUNNER_CIDR]
    cloud = Cloud(tmp_path, world)
    result = cloud.run("pause.sh")
    calls = cloud.calls()
    assert result.returncode == 0, result.stderr[-6000:] + "\n" + render(calls)
    assert not indexes(calls, "aws", "update-cluster-config")
    first(calls, "kubectl", "delete", "namespace", "ragops")


def test_pause_on_a_paused_tier_sweeps_and_succeeds(tmp_path: Path):
    """Run again after a pause that could not finish: no cluster, no state, leftovers swept."""
    world = base_world()
    world["clusters"] = {}
    world["terraform"]["tier_exists"] = False
    world["load_balancers"] = [lb for lb in world["load_balancers"] if lb["VpcId"] != VPC]
    world["load_balancers"].append(
        {
            "LoadBalancerArn": SERVICE_NLB,
            "VpcId": "vpc-0gone",
            "Type": "network",
            "Tags": tag_list(OWNED),
        }
    )
    cloud = Cloud(tmp_path, world)
    result = cloud.run("pause.sh")
    calls = cloud.calls()
    assert result.returncode == 0, result.stderr[-6000:] + "\n" + render(calls)
    assert not any(tool == "kubectl" for tool, _ in calls)
    assert deleted(calls, "delete-load-balancer", "--load-balancer-arn") == {SERVICE_NLB}
    assert CHROMA_VOLUME in deleted(calls, "delete-volume", "--volume-id")


# --- resume ----------------------------------------------------------------------------


def test_resume_admits_the_runner_through_terraform_before_any_kubectl_call(tmp_path: Path):
    """resume.sh talks to no live cluster before `terraform apply`, which sets the endpoint's
    CIDRs from TIER_ADMIN_CIDRS (the runner's included): no update-cluster-config needed."""
    world = base_world()
    world["clusters"] = {}
    world["terraform"]["tier_exists"] = False
    world["namespace"]["exists"] = False
    cloud = Cloud(tmp_path, world)
    result = cloud.run("resume.sh", ACTION="resume", RAGOPS_CLI="ragops")
    calls = cloud.calls()
    assert result.returncode == 0, result.stderr[-6000:] + "\n" + render(calls)
    apply = first(calls, "terraform", "apply")
    cidrs = next(
        a.split("=", 1)[1]
        for a in calls[apply][1]
        if a.startswith("cluster_endpoint_public_access_cidrs=")
    )
    assert json.loads(cidrs) == [ADMIN_CIDR, RUNNER_CIDR]
    kubectl = [i for i, (tool, _) in enumerate(calls) if tool == "kubectl"]
    assert kubectl and apply < kubectl[0]
    assert not indexes(calls, "aws", "update-cluster-config")
    assert cloud.world["ssm"]["/ragops/dev/tier/state"] == "active"
