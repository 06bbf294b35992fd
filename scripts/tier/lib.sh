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
#                             already set as TF_VAR_cluster_endpoint_public_access_cidrs
#   TIER_STATE_PARAMETER      SSM parameter of the tier state (default /ragops/<stage>/tier/state)
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
    local cidrs="${TIER_ADMIN_CIDRS:-}"
    if [[ -z "$cidrs" ]]; then
      local ip
      ip="$(curl -fsS --max-time 10 https://checkip.amazonaws.com | tr -d '[:space:]')" ||
        die "cannot find this machine's public IP: set TIER_ADMIN_CIDRS"
      cidrs="$ip/32"
    fi
    note "public API endpoint open to: $cidrs"
    TIER_TF_ARGS+=(-var "cluster_endpoint_public_access_cidrs=$(hcl_list "$cidrs")")
  fi
}

cluster_exists() {
  aws eks describe-cluster --name "$1" --region "$AWS_REGION" >/dev/null 2>&1
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
#     MLFLOW_ROLE_ARN DOCUMENTS_BUCKET
render_aws_overlay() {
  local workdir="$1" image="$2" role_arn="$3" secret_arn="$4" certificate_arn="$5"
  local vpc_cidr="$6" region="$7" mlflow_role_arn="$8" documents_bucket="$9"
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
YAML
  printf '%s\n' "$wrapper"
}

# Load balancers (and their target groups and security groups) that Kubernetes' service
# controller created for the cluster: they live in the tier VPC but outside Terraform's
# state, so they would block its destruction. Deleting the Service normally removes them;
# this sweep catches what is left when the cluster could not be reached.
sweep_load_balancers() {
  local cluster="$1" tag="kubernetes.io/cluster/$1" arns arn groups group
  step "load balancers the service controller left for $cluster"
  arns="$(aws resourcegroupstaggingapi get-resources --region "$AWS_REGION" \
    --resource-type-filters elasticloadbalancing:loadbalancer \
    --tag-filters "Key=$tag,Values=owned" \
    --query 'ResourceTagMappingList[].ResourceARN' --output text)"
  if [[ -z "$arns" || "$arns" == "None" ]]; then
    note "none"
  fi
  for arn in $arns; do
    [[ "$arn" == "None" ]] && continue
    case "$arn" in
      */loadbalancer/net/* | */loadbalancer/app/*)
        run aws elbv2 delete-load-balancer --region "$AWS_REGION" --load-balancer-arn "$arn"
        run aws elbv2 wait load-balancers-deleted --region "$AWS_REGION" --load-balancer-arns "$arn"
        ;;
      *)
        run aws elb delete-load-balancer --region "$AWS_REGION" --load-balancer-name "${arn##*/}"
        ;;
    esac
  done
  arns="$(aws resourcegroupstaggingapi get-resources --region "$AWS_REGION" \
    --resource-type-filters elasticloadbalancing:targetgroup \
    --tag-filters "Key=$tag,Values=owned" \
    --query 'ResourceTagMappingList[].ResourceARN' --output text)"
  for arn in $arns; do
    [[ "$arn" == "None" ]] && continue
    run aws elbv2 delete-target-group --region "$AWS_REGION" --target-group-arn "$arn" ||
      note "warning: could not delete target group $arn"
  done
  # Classic load balancers get a k8s-elb-* security group; NLBs edit the nodes' group instead
  # (the EKS cluster security group, which goes with the cluster).
  groups="$(aws ec2 describe-security-groups --region "$AWS_REGION" \
    --filters "Name=tag:$tag,Values=owned" "Name=group-name,Values=k8s-elb-*" \
    --query 'SecurityGroups[].GroupId' --output text)"
  for group in $groups; do
    [[ "$group" == "None" ]] && continue
    local attempt
    for attempt in 1 2 3 4 5 6; do
      if run aws ec2 delete-security-group --region "$AWS_REGION" --group-id "$group"; then
        break
      fi
      note "security group $group still in use (attempt $attempt); retrying in 20 s"
      sleep 20
    done
  done
}
