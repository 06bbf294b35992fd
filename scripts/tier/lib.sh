# shellcheck shell=bash
# Shared by pause.sh and resume.sh (sourced, not run). Every step is echoed to stderr.
#
# Environment (all optional unless a script says otherwise):
#   STAGE                     deployment stage (default dev)
#   AWS_REGION                region (default: AWS_DEFAULT_REGION, else us-east-1)
#   RAGOPS_TF_STATE_BUCKET    when set, both Terraform roots are initialised against this
#                             S3 bucket (keys ragops/<stage>/persistent.tfstate and
#                             ragops/<stage>/tier.tfstate, S3-native locking); when unset,
#                             the roots must have been initialised already (terraform init
#                             -backend-config=backend.hcl, see terraform/README.md)
#   TIER_ADMIN_CIDRS          comma-separated CIDRs allowed to reach the cluster's public API
#                             endpoint (default: this machine's public IPv4 address /32, from
#                             checkip.amazonaws.com); ignored when the Terraform variable is
#                             already set as TF_VAR_cluster_endpoint_public_access_cidrs.
#                             pause.sh adds them to a live cluster's endpoint before kubectl
#   TIER_STATE_PARAMETER      SSM parameter of the tier state (default /ragops/<stage>/tier/state)
#   TIER_POLL_SECONDS         seconds between two polls of AWS while waiting (default 15)
#   TF_VAR_<name>             any other variable of terraform/tier (Terraform reads these
#                             itself), e.g. TF_VAR_node_desired_size=3, TF_VAR_private_nodes=true

set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO_ROOT"

STAGE="${STAGE:-dev}"
AWS_REGION="${AWS_REGION:-${AWS_DEFAULT_REGION:-us-east-1}}"
export STAGE AWS_REGION
export AWS_DEFAULT_REGION="$AWS_REGION"
export TF_IN_AUTOMATION=1
export TF_INPUT=0

TF_PERSISTENT="terraform/persistent"
TF_TIER="terraform/tier"
TIER_STATE_PARAMETER="${TIER_STATE_PARAMETER:-/ragops/${STAGE}/tier/state}"
K8S_NAMESPACE="${K8S_NAMESPACE:-ragops}"
TIER_POLL_SECONDS="${TIER_POLL_SECONDS:-15}"

step() {
  printf '\n==> [%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2
}

note() {
  printf '    %s\n' "$*" >&2
}

die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# A GitHub Actions annotation (error or warning) when run there, so that the line shows on
# the run's page and not only deep in the log. Workflow commands are read from stdout.
annotate() {
  [[ "${GITHUB_ACTIONS:-}" == true ]] || return 0
  local message="${2//%/%25}"
  printf '::%s title=%s::%s\n' "$1" "${0##*/}" "${message//$'\n'/%0A}"
}

warn() {
  note "warning: $*"
  annotate warning "$*"
}

# A failure that must not stop the script (pause goes on destroying what bills): printed at
# once, listed again by exit_on_problems, and the script then exits 1.
PROBLEMS=()
problem() {
  PROBLEMS+=("$*")
  printf 'error: %s\n' "$*" >&2
}

# Exit 1 if problem() was called: each problem once more, as an error annotation and in the
# job summary when run by GitHub Actions.
exit_on_problems() {
  ((${#PROBLEMS[@]} > 0)) || return 0
  local item
  step "$1, with ${#PROBLEMS[@]} problem(s); fix them, then run $0 again:"
  for item in "${PROBLEMS[@]}"; do
    note "- $item"
    annotate error "$item"
  done
  if [[ -n "${GITHUB_STEP_SUMMARY:-}" ]]; then
    {
      printf '### %s, with problems\n\n' "$1"
      printf -- '- %s\n' "${PROBLEMS[@]}"
    } >>"$GITHUB_STEP_SUMMARY"
  fi
  exit 1
}

# Echo a command, then run it.
run() {
  if [[ "$1" == kube ]]; then
    printf '    $ kubectl --context %s %s\n' "$KUBE_CONTEXT" "${*:2}" >&2
  else
    printf '    $ %s\n' "$*" >&2
  fi
  "$@"
}

require_commands() {
  local missing=()
  local cmd
  for cmd in "$@"; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd")
  done
  ((${#missing[@]} == 0)) || die "missing commands: ${missing[*]}"
}

set_tier_state() {
  step "tier state -> $1 ($TIER_STATE_PARAMETER)"
  run aws ssm put-parameter --name "$TIER_STATE_PARAMETER" --type String \
    --value "$1" --overwrite --region "$AWS_REGION" >/dev/null
}

# terraform init of one root ("persistent" or "tier") when a state bucket is given.
tf_init() {
  local root="$1"
  if [[ -z "${RAGOPS_TF_STATE_BUCKET:-}" ]]; then
    note "RAGOPS_TF_STATE_BUCKET unset: using the existing initialisation of terraform/$root"
    [[ -d "terraform/$root/.terraform" ]] ||
      die "terraform/$root is not initialised: set RAGOPS_TF_STATE_BUCKET or run terraform init (terraform/README.md)"
    return 0
  fi
  step "terraform init ($root)"
  run terraform -chdir="terraform/$root" init -input=false -reconfigure \
    -backend-config="bucket=$RAGOPS_TF_STATE_BUCKET" \
    -backend-config="key=ragops/$STAGE/$root.tfstate" \
    -backend-config="region=${RAGOPS_TF_STATE_REGION:-$AWS_REGION}" \
    -backend-config="encrypt=true" \
    -backend-config="use_lockfile=true" >/dev/null
}

persistent_output() {
  terraform -chdir="$TF_PERSISTENT" output -raw "$1"
}

tier_output() {
  terraform -chdir="$TF_TIER" output -raw "$1"
}

# An HCL list of strings from a comma-separated list: "a, b" -> ["a","b"]
hcl_list() {
  local out="" item
  local -a items
  IFS=, read -r -a items <<<"$1"
  for item in "${items[@]}"; do
    item="${item//[[:space:]]/}"
    [[ -n "$item" ]] || continue
    out+="${out:+,}\"$item\""
  done
  printf '[%s]' "$out"
}

# The -var arguments of terraform/tier: persistent outputs, stage, region and the API
# endpoint's allowed CIDRs. Fills the global array TIER_TF_ARGS.
tier_tf_args() {
  step "reading terraform/persistent outputs"
  local kms_key_arn tier_secret_arn flow_log_group_arn documents_bucket_name
  kms_key_arn="$(persistent_output kms_key_arn)"
  tier_secret_arn="$(persistent_output tier_secret_arn)"
  flow_log_group_arn="$(persistent_output flow_log_group_arn)"
  documents_bucket_name="$(persistent_output documents_bucket_name)"
  TIER_TF_ARGS=(
    -var "stage=$STAGE"
    -var "region=$AWS_REGION"
    -var "kms_key_arn=$kms_key_arn"
    -var "tier_secret_arn=$tier_secret_arn"
    -var "flow_log_group_arn=$flow_log_group_arn"
    -var "documents_bucket_name=$documents_bucket_name"
  )
  if [[ -z "${TF_VAR_cluster_endpoint_public_access_cidrs:-}" ]]; then
    resolve_admin_cidrs
    local cidrs="$TIER_ADMIN_CIDRS"
    note "public API endpoint open to: $cidrs"
    TIER_TF_ARGS+=(-var "cluster_endpoint_public_access_cidrs=$(hcl_list "$cidrs")")
  fi
}

# TIER_ADMIN_CIDRS, by default this machine's public IPv4 address /32 (looked up once).
resolve_admin_cidrs() {
  [[ -z "${TIER_ADMIN_CIDRS:-}" ]] || return 0
  local ip
  ip="$(curl -fsS --max-time 10 https://checkip.amazonaws.com | tr -d '[:space:]')" ||
    die "cannot find this machine's public IP: set TIER_ADMIN_CIDRS"
  TIER_ADMIN_CIDRS="$ip/32"
}

# The CIDRs the public API endpoint must admit, comma-separated: those Terraform gives the
# cluster (TF_VAR_cluster_endpoint_public_access_cidrs, else TIER_ADMIN_CIDRS, else this
# machine's address). The workflow puts the runner's /32 into TIER_ADMIN_CIDRS.
endpoint_cidrs() {
  local list
  if [[ -n "${TF_VAR_cluster_endpoint_public_access_cidrs:-}" ]]; then
    list="${TF_VAR_cluster_endpoint_public_access_cidrs//[\[\]\"[:space:]]/}"
  else
    resolve_admin_cidrs
    list="${TIER_ADMIN_CIDRS//[[:space:]]/}"
  fi
  printf '%s' "$list"
}

cluster_exists() {
  aws eks describe-cluster --name "$1" --region "$AWS_REGION" >/dev/null 2>&1
}

# Whether the comma-separated list $1 holds the item $2.
in_list() {
  [[ ",$1," == *",$2,"* ]]
}

# Let this run reach the live cluster's Kubernetes API. The public endpoint admits only the
# CIDRs Terraform last applied (cluster_endpoint_public_access_cidrs), and a GitHub runner
# has a new address on every run, so kubectl would time out. This adds the missing CIDRs of
# endpoint_cidrs to those the endpoint admits (keeping them all: the operators' too), with
# `aws eks update-cluster-config`, and waits until EKS reports the update Successful; only
# then does kubectl get through. Terraform's state does not know of the change: the next
# terraform apply sets the list back (pause destroys the cluster anyway). Returns 1 (after
# problem) when the endpoint could not be opened.
open_cluster_endpoint() {
  local cluster="$1" described status public private current wanted merged absent="" cidr
  step "opening the public API endpoint of $cluster to this run"
  [[ -n "${TF_VAR_cluster_endpoint_public_access_cidrs:-}" ]] || resolve_admin_cidrs
  wanted="$(endpoint_cidrs)"
  [[ -n "$wanted" ]] || {
    problem "no CIDR to admit to the API endpoint of $cluster (TIER_ADMIN_CIDRS is empty)"
    return 1
  }
  local query="cluster.[status, resourcesVpcConfig.endpointPublicAccess, resourcesVpcConfig.endpointPrivateAccess, join(',', resourcesVpcConfig.publicAccessCidrs || \`[]\`)]"
  described="$(aws eks describe-cluster --name "$cluster" --region "$AWS_REGION" \
    --query "$query" --output text)" || {
    problem "cannot describe cluster $cluster"
    return 1
  }
  read -r status public private current <<<"$described"
  case "$status" in
    ACTIVE) ;;
    CREATING | UPDATING)
      note "cluster $cluster is $status: waiting for it to be ACTIVE"
      run aws eks wait cluster-active --name "$cluster" --region "$AWS_REGION" || {
        problem "cluster $cluster did not become ACTIVE"
        return 1
      }
      described="$(aws eks describe-cluster --name "$cluster" --region "$AWS_REGION" \
        --query "$query" --output text)" || {
        problem "cannot describe cluster $cluster"
        return 1
      }
      read -r status public private current <<<"$described"
      ;;
    *)
      problem "cluster $cluster is $status: its Kubernetes API cannot be used"
      return 1
      ;;
  esac
  [[ "$public" == True ]] || current=""
  local -a items
  IFS=, read -r -a items <<<"$wanted"
  for cidr in "${items[@]}"; do
    [[ -n "$cidr" ]] || continue
    in_list "$current" "$cidr" || in_list "$current" 0.0.0.0/0 || in_list "$absent" "$cidr" ||
      absent+="${absent:+,}$cidr"
  done
  if [[ -z "$absent" ]]; then
    note "it already admits $wanted"
    return 0
  fi
  merged="${current:+$current,}$absent"
  note "admitted now: ${current:-none}; adding: $absent"
  local config update_id
  # JSON, not the shorthand syntax, for a list of CIDRs. Private access is passed unchanged.
  config="$(printf '{"endpointPublicAccess":true,"endpointPrivateAccess":%s,"publicAccessCidrs":["%s"]}' \
    "$([[ "$private" == True ]] && echo true || echo false)" "${merged//,/\",\"}")"
  update_id="$(run aws eks update-cluster-config --name "$cluster" --region "$AWS_REGION" \
    --resources-vpc-config "$config" --query update.id --output text)" || {
    problem "could not open the API endpoint of $cluster to $absent (aws eks update-cluster-config)"
    return 1
  }
  wait_for_cluster_update "$cluster" "$update_id"
}

# Poll an EKS update until it is Successful (20 minutes at most; an endpoint change usually
# takes a few). Returns 1 (after problem) when it failed, was cancelled or timed out.
wait_for_cluster_update() {
  local cluster="$1" update_id="$2" status deadline=$((SECONDS + 1200))
  step "waiting for update $update_id of $cluster"
  while :; do
    status="$(aws eks describe-update --name "$cluster" --update-id "$update_id" \
      --region "$AWS_REGION" --query update.status --output text)" || status=unknown
    case "$status" in
      Successful)
        note "update $update_id: Successful"
        return 0
        ;;
      Failed | Cancelled)
        problem "update $update_id of $cluster: $status: $(aws eks describe-update --name "$cluster" \
          --update-id "$update_id" --region "$AWS_REGION" \
          --query 'update.errors[].errorMessage' --output text 2>&1)"
        return 1
        ;;
    esac
    ((SECONDS < deadline)) || {
      problem "update $update_id of $cluster still $status after 20 minutes"
      return 1
    }
    note "update $update_id: $status"
    sleep "$TIER_POLL_SECONDS"
  done
}

# kubeconfig entry for the tier cluster; sets KUBE_CONTEXT.
use_cluster() {
  local cluster="$1"
  KUBE_CONTEXT="ragops-tier-$STAGE"
  step "kubeconfig for $cluster (context $KUBE_CONTEXT)"
  run aws eks update-kubeconfig --name "$cluster" --region "$AWS_REGION" \
    --alias "$KUBE_CONTEXT" >/dev/null
}

kube() {
  kubectl --context "$KUBE_CONTEXT" "$@"
}

# Set KEY=VALUE in an env file, keeping its other lines (and appending a missing key).
set_env_value() {
  local file="$1" key="$2" value="$3" tmp
  tmp="$(mktemp)"
  awk -v key="$key" -v value="$value" '
    BEGIN { done = 0 }
    index($0, key "=") == 1 { print key "=" value; done = 1; next }
    { print }
    END { if (!done) print key "=" value }
  ' "$file" >"$tmp"
  mv "$tmp" "$file"
}

# Render-ready copy of k8s/overlays/aws with this environment's values, without editing k8s/:
# k8s/ is copied to WORKDIR, the copy's overlays/aws/params.env gets the values (kustomize
# `replacements` carry them into the ServiceAccounts, Deployment, Service, NetworkPolicy and
# MLflow's ConfigMap), and a wrapper overlay WORKDIR/k8s/overlays/resume sets the tier image
# on the Deployment's container "tier". Prints the wrapper's path (for kubectl apply -k /
# kubectl kustomize).
#   render_aws_overlay WORKDIR IMAGE ROLE_ARN SECRET_ARN CERTIFICATE_ARN VPC_CIDR REGION \
#     MLFLOW_ROLE_ARN DOCUMENTS_BUCKET [ECR_PUBLIC_CACHE [DOCKER_HUB_CACHE]]
# The caches (terraform/persistent outputs image_cache_ecr_public and image_cache_docker_hub):
# Redis is pulled through the first, Chroma through the second; an empty one leaves that
# image on its upstream registry.
render_aws_overlay() {
  local workdir="$1" image="$2" role_arn="$3" secret_arn="$4" certificate_arn="$5"
  local vpc_cidr="$6" region="$7" mlflow_role_arn="$8" documents_bucket="$9"
  local ecr_public_cache="${10:-}" docker_hub_cache="${11:-}" images=""
  local params="$workdir/k8s/overlays/aws/params.env"
  local wrapper="$workdir/k8s/overlays/resume"

  [[ -f "$REPO_ROOT/k8s/overlays/aws/kustomization.yaml" ]] || die "k8s/overlays/aws not found"
  rm -rf "$workdir/k8s"
  cp -R "$REPO_ROOT/k8s" "$workdir/k8s"
  [[ -f "$params" ]] || : >"$params"
  set_env_value "$params" vpcCidr "$vpc_cidr"
  set_env_value "$params" certificateArn "$certificate_arn"
  set_env_value "$params" tierRoleArn "$role_arn"
  set_env_value "$params" tierSecretArn "$secret_arn"
  set_env_value "$params" awsRegion "$region"
  set_env_value "$params" mlflowRoleArn "$mlflow_role_arn"
  set_env_value "$params" documentsBucket "$documents_bucket"

  if [[ -n "$ecr_public_cache" || -n "$docker_hub_cache" ]]; then
    images="images:"
    [[ -z "$ecr_public_cache" ]] ||
      images+=$'\n'"  - name: redis"$'\n'"    newName: $ecr_public_cache/docker/library/redis"
    [[ -z "$docker_hub_cache" ]] ||
      images+=$'\n'"  - name: chromadb/chroma"$'\n'"    newName: $docker_hub_cache/chromadb/chroma"
  fi

  mkdir -p "$wrapper"
  cat >"$wrapper/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
# Written by scripts/tier/lib.sh (render_aws_overlay): the aws overlay with the tier image.
resources:
  - ../aws
patches:
  - patch: |-
      apiVersion: apps/v1
      kind: Deployment
      metadata:
        name: ragops-tier
        namespace: ${K8S_NAMESPACE}
      spec:
        template:
          spec:
            containers:
              - name: tier
                image: ${image}
${images}
YAML
  printf '%s\n' "$wrapper"
}

# --- what Kubernetes created in AWS, outside Terraform's state -----------------------------
# Deleting the namespace makes Kubernetes delete the Service's load balancer and the volumes
# of its claims. When that could not happen (the API unreachable, the deletion failed or
# timed out) they stay and bill, and the load balancer (its network interfaces, its security
# groups) keeps terraform destroy from deleting the VPC's subnets. pause.sh sweeps them once
# the cluster is gone, so that no controller recreates what it deletes, and before the VPC
# goes. Each function records what it could not do with problem and returns 1.

# The words of "$@" (space, tab or newline separated), one a line, once each, without the
# "None" that `--output text` prints for an empty result.
unique_words() {
  local -a all=()
  IFS=$' \t\n' read -r -d '' -a all <<<"$*" || true
  ((${#all[@]} > 0)) || return 0
  printf '%s\n' "${all[@]}" | awk '$0 != "None" && !seen[$0]++'
}

# IDs from an EC2 describe call: ec2_ids OPERATION QUERY FILTER...
ec2_ids() {
  local operation="$1" query="$2"
  shift 2
  aws ec2 "$operation" --region "$AWS_REGION" --filters "$@" --query "$query" --output text
}

# The ARNs among "$@" (load balancers or target groups) that Kubernetes tagged for cluster
# $1: kubernetes.io/cluster/<name> (the in-tree service controller) or
# elbv2.k8s.aws/cluster=<name> (the AWS Load Balancer Controller). 20 ARNs per call.
elbv2_tagged_for() {
  local cluster="$1" query
  shift
  query="TagDescriptions[?Tags[?Key=='kubernetes.io/cluster/$cluster' || (Key=='elbv2.k8s.aws/cluster' && Value=='$cluster')]].ResourceArn"
  while (($# > 0)); do
    aws elbv2 describe-tags --region "$AWS_REGION" --resource-arns "${@:1:20}" \
      --query "$query" --output text || return 1
    if (($# > 20)); then shift 20; else shift $#; fi
  done
}

# The ARNs of an elbv2 listing (lines "ARN VPC") that are in the VPC $3 or tagged for
# cluster $2.
elbv2_chosen() {
  local listing="$1" cluster="$2" vpc="$3" arn arn_vpc chosen="" tagged
  local -a all=()
  while read -r arn arn_vpc; do
    [[ -n "$arn" && "$arn" != None ]] || continue
    all+=("$arn")
    if [[ -n "$vpc" && "$arn_vpc" == "$vpc" ]]; then
      chosen+=" $arn"
    fi
  done <<<"$listing"
  ((${#all[@]} > 0)) || return 0
  tagged="$(elbv2_tagged_for "$cluster" "${all[@]}")" || return 1
  unique_words "$chosen" "$tagged"
}

# Load balancers (and their target groups) of the cluster: tagged for it, or in its VPC
# (only Kubernetes puts load balancers there).
sweep_load_balancers() {
  local cluster="$1" vpc="$2" listing arns arn name names status=0
  local -a deleted=()
  step "load balancers left for $cluster"
  if ! listing="$(aws elbv2 describe-load-balancers --region "$AWS_REGION" \
    --query 'LoadBalancers[].[LoadBalancerArn, VpcId]' --output text)" ||
    ! arns="$(elbv2_chosen "$listing" "$cluster" "$vpc")"; then
    problem "cannot list the load balancers of $cluster (elbv2 describe-load-balancers, describe-tags)"
    return 1
  fi
  while read -r arn; do
    [[ -n "$arn" ]] || continue
    if run aws elbv2 delete-load-balancer --region "$AWS_REGION" --load-balancer-arn "$arn"; then
      deleted+=("$arn")
    else
      problem "could not delete load balancer $arn"
      status=1
    fi
  done <<<"$arns"
  if ((${#deleted[@]} > 0)); then
    run aws elbv2 wait load-balancers-deleted --region "$AWS_REGION" \
      --load-balancer-arns "${deleted[@]}" || warn "load balancers still being deleted: ${deleted[*]}"
  else
    note "none"
  fi
  # Classic load balancers: only if a Service ever lacked the NLB annotation.
  if [[ -n "$vpc" ]]; then
    if names="$(aws elb describe-load-balancers --region "$AWS_REGION" \
      --query "LoadBalancerDescriptions[?VPCId=='$vpc'].LoadBalancerName" --output text)"; then
      while read -r name; do
        [[ -n "$name" ]] || continue
        run aws elb delete-load-balancer --region "$AWS_REGION" --load-balancer-name "$name" || {
          problem "could not delete classic load balancer $name"
          status=1
        }
      done < <(unique_words "$names")
    else
      problem "cannot list the classic load balancers of VPC $vpc"
      status=1
    fi
  fi
  # Free once their load balancer is gone, but they name the VPC.
  if ! listing="$(aws elbv2 describe-target-groups --region "$AWS_REGION" \
    --query 'TargetGroups[].[TargetGroupArn, VpcId]' --output text)" ||
    ! arns="$(elbv2_chosen "$listing" "$cluster" "$vpc")"; then
    problem "cannot list the target groups of $cluster"
    return 1
  fi
  while read -r arn; do
    [[ -n "$arn" ]] || continue
    run aws elbv2 delete-target-group --region "$AWS_REGION" --target-group-arn "$arn" || {
      problem "could not delete target group $arn"
      status=1
    }
  done <<<"$arns"
  return "$status"
}

# Network interfaces left "available" (attached to nothing): the VPC CNI's, when a node went
# before it could release them. They block the deletion of their subnet.
sweep_network_interfaces() {
  local cluster="$1" vpc="$2" found eni status=0
  step "unattached network interfaces left for $cluster"
  if ! found="$(ec2_ids describe-network-interfaces 'NetworkInterfaces[].NetworkInterfaceId' \
    Name=status,Values=available "Name=tag:cluster.k8s.amazonaws.com/name,Values=$cluster")" ||
    ! found+=" $(ec2_ids describe-network-interfaces 'NetworkInterfaces[].NetworkInterfaceId' \
      Name=status,Values=available "Name=tag-key,Values=kubernetes.io/cluster/$cluster")"; then
    problem "cannot list the network interfaces of $cluster"
    return 1
  fi
  if [[ -n "$vpc" ]]; then
    found+=" $(ec2_ids describe-network-interfaces 'NetworkInterfaces[].NetworkInterfaceId' \
      Name=status,Values=available "Name=vpc-id,Values=$vpc" \
      Name=tag-key,Values=node.k8s.amazonaws.com/instance_id)" || {
      problem "cannot list the network interfaces of VPC $vpc"
      return 1
    }
  fi
  [[ -n "$(unique_words "$found")" ]] || note "none"
  while read -r eni; do
    [[ -n "$eni" ]] || continue
    run aws ec2 delete-network-interface --region "$AWS_REGION" --network-interface-id "$eni" || {
      problem "could not delete network interface $eni"
      status=1
    }
  done < <(unique_words "$found")
  return "$status"
}

# Security groups the load balancer controllers made in the VPC (and the EKS cluster group,
# should it outlive the cluster). One in use by a network interface that is still going
# away is retried for two minutes.
sweep_security_groups() {
  local cluster="$1" vpc="$2" found group attempt status=0
  [[ -n "$vpc" ]] || return 0
  step "security groups left for $cluster in $vpc"
  if ! found="$(ec2_ids describe-security-groups "SecurityGroups[?GroupName!='default'].GroupId" \
    "Name=vpc-id,Values=$vpc" "Name=tag-key,Values=kubernetes.io/cluster/$cluster")" ||
    ! found+=" $(ec2_ids describe-security-groups "SecurityGroups[?GroupName!='default'].GroupId" \
      "Name=vpc-id,Values=$vpc" "Name=tag:elbv2.k8s.aws/cluster,Values=$cluster")"; then
    problem "cannot list the security groups of VPC $vpc"
    return 1
  fi
  [[ -n "$(unique_words "$found")" ]] || note "none"
  while read -r group; do
    [[ -n "$group" ]] || continue
    for attempt in 1 2 3 4 5 6 7 8 9; do
      if run aws ec2 delete-security-group --region "$AWS_REGION" --group-id "$group"; then
        break
      fi
      if ((attempt == 9)); then
        problem "could not delete security group $group"
        status=1
        break
      fi
      note "security group $group still in use (attempt $attempt); retrying"
      sleep "$TIER_POLL_SECONDS"
    done
  done < <(unique_words "$found")
  return "$status"
}

# EBS volumes left "available" by the cluster's claims. The only claim is Chroma's
# (StatefulSet chroma, StorageClass gp3), and its volume holds no data of record: Chroma's
# index is a cache of the object store, rebuilt from the chunk artifacts in S3 by
# `ragops tier rehydrate` on every resume (docs/operations.md, "Known limits"), and a new
# cluster provisions new volumes rather than reattach old ones. MLflow keeps its store on an
# emptyDir, copied to S3. So deleting these loses nothing, while each left behind costs about
# 1.60 USD a month. Chosen: volumes tagged kubernetes.io/cluster/<name> (the EBS CSI driver
# adds it when given the cluster id), the volumes of the namespace's PersistentVolumes read
# before the namespace went ($2, comma-separated), and volumes the EBS CSI driver made for
# the namespace (tags ebs.csi.aws.com/cluster, kubernetes.io/created-for/pvc/namespace),
# which name no cluster: those only when no EKS cluster is left in the region, since they
# could belong to another one's claims.
sweep_volumes() {
  local cluster="$1" known="${2:-}" found candidates clusters volume rest="" status=0
  step "unattached EBS volumes left for $cluster"
  found="$(ec2_ids describe-volumes 'Volumes[].VolumeId' Name=status,Values=available \
    "Name=tag-key,Values=kubernetes.io/cluster/$cluster")" || {
    problem "cannot list the EBS volumes of $cluster"
    return 1
  }
  if [[ -n "$known" ]]; then
    found+=" $(ec2_ids describe-volumes 'Volumes[].VolumeId' Name=status,Values=available \
      "Name=volume-id,Values=$known")" || {
      problem "cannot list the EBS volumes $known"
      return 1
    }
  fi
  candidates="$(ec2_ids describe-volumes 'Volumes[].VolumeId' Name=status,Values=available \
    "Name=tag:kubernetes.io/created-for/pvc/namespace,Values=$K8S_NAMESPACE" \
    Name=tag-key,Values=ebs.csi.aws.com/cluster)" || {
    problem "cannot list the EBS volumes of namespace $K8S_NAMESPACE"
    return 1
  }
  while read -r volume; do
    [[ -n "$volume" ]] || continue
    in_list "$(unique_words "$found" | paste -sd, -)" "$volume" || rest+="${rest:+ }$volume"
  done < <(unique_words "$candidates")
  if [[ -n "$rest" ]]; then
    clusters="$(aws eks list-clusters --region "$AWS_REGION" --query clusters --output text)" || {
      problem "cannot list the EKS clusters of $AWS_REGION: volumes $rest not deleted"
      return 1
    }
    clusters="$(unique_words "$clusters" | paste -sd' ' -)"
    if [[ -z "$clusters" ]]; then
      found+=" $rest"
    else
      warn "volumes $rest were made for a namespace $K8S_NAMESPACE, but EKS clusters remain in $AWS_REGION ($clusters): not deleted, as they may be theirs; delete them by hand if not (aws ec2 delete-volume --volume-id ...)"
    fi
  fi
  [[ -n "$(unique_words "$found")" ]] || note "none"
  while read -r volume; do
    [[ -n "$volume" ]] || continue
    run aws ec2 delete-volume --region "$AWS_REGION" --volume-id "$volume" || {
      problem "could not delete EBS volume $volume"
      status=1
    }
  done < <(unique_words "$found")
  return "$status"
}

# Everything above, once the cluster is gone: load balancers first (their network interfaces
# and security groups go with them), then network interfaces, security groups and volumes.
# Returns 1 if any part failed (each failure was recorded with problem).
sweep_cluster_leftovers() {
  local cluster="$1" vpc="$2" known_volumes="${3:-}" status=0
  sweep_load_balancers "$cluster" "$vpc" || status=1
  sweep_network_interfaces "$cluster" "$vpc" || status=1
  sweep_security_groups "$cluster" "$vpc" || status=1
  sweep_volumes "$cluster" "$known_volumes" || status=1
  return "$status"
}
