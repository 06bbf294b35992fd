#!/usr/bin/env bash
# Pause the vector tier: declare it paused (the API switches to maintenance mode at once:
# queries answer 503, uploads are stored as pending), then destroy terraform/tier (VPC, EKS
# cluster, node group, IAM roles). Nothing of value goes with it: documents, chunk artifacts,
# the tier token, the image and the logs live in terraform/persistent, and resume.sh
# rebuilds the index from the chunk artifacts. Safe to run again, and on a paused tier.
#
#   STAGE=dev AWS_REGION=us-east-1 RAGOPS_TF_STATE_BUCKET=my-tf-state scripts/tier/pause.sh
#
# In order:
#   1. the state parameter -> paused;
#   2. the cluster's public API endpoint is opened to this machine (TIER_ADMIN_CIDRS, kept
#      with the CIDRs it admits already; aws eks update-cluster-config, then the update is
#      waited for), MLflow is stopped (its last snapshot goes to S3) and namespace ragops is
#      deleted, which makes Kubernetes delete the Service's load balancer and Chroma's volume;
#   3. terraform destroy of the cluster alone (-target), so that no controller is left to
#      recreate what the next step deletes;
#   4. the sweep: load balancers, target groups, network interfaces, security groups and EBS
#      volumes that Kubernetes made for the cluster and that are still there (lib.sh);
#   5. terraform destroy of the rest of terraform/tier (the VPC...).
# A failure in 2 to 5 does not stop the later steps (so that nothing keeps billing), but it is
# reported again at the end (and as an annotation on GitHub) and the script exits 1.
#
# Environment: see scripts/tier/lib.sh.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CLUSTER_NAME="${TF_VAR_cluster_name:-ragops-tier}"
# EBS volumes of the namespace's PersistentVolumes, read before the namespace goes
# (comma-separated), for the sweep.
NAMESPACE_VOLUMES=""

# Delete the tier's namespace while the cluster still runs, so that Kubernetes removes what
# it created in AWS: the Service's load balancer and the volumes of the PersistentVolumeClaims
# (StorageClass gp3, reclaimPolicy Delete). Chroma's index goes too: resume rehydrates it.
# Called in a condition (errexit is off in here): every step checks its command, and a
# failure is recorded with problem and returns 1.
release_kubernetes_resources() {
  open_cluster_endpoint "$CLUSTER_NAME" || return 1
  use_cluster "$CLUSTER_NAME" || {
    problem "aws eks update-kubeconfig failed for $CLUSTER_NAME"
    return 1
  }
  # The endpoint change is reported done a little before every address sees it.
  local attempt
  for attempt in 1 2 3 4; do
    kube --request-timeout=20s get --raw /readyz >/dev/null 2>&1 && break
    if ((attempt == 4)); then
      problem "the Kubernetes API of $CLUSTER_NAME does not answer this caller, though its endpoint admits $(endpoint_cidrs): is this principal (aws sts get-caller-identity) a cluster admin (cluster_admin_principal_arns)?"
      return 1
    fi
    note "the Kubernetes API does not answer yet (attempt $attempt)"
    sleep "$TIER_POLL_SECONDS"
  done
  NAMESPACE_VOLUMES="$(kube get pv -o jsonpath="{range .items[?(@.spec.claimRef.namespace==\"$K8S_NAMESPACE\")]}{.spec.csi.volumeHandle}{\",\"}{end}")" ||
    NAMESPACE_VOLUMES=""
  NAMESPACE_VOLUMES="${NAMESPACE_VOLUMES%,}"
  # MLflow first, while its NetworkPolicy and IRSA role still exist: its backup sidecar
  # uploads a last snapshot of the store to S3 when the pod stops. Deleting the namespace
  # could remove the policy that lets it reach S3 before that upload.
  if kube -n "$K8S_NAMESPACE" get deployment/mlflow >/dev/null 2>&1; then
    step "stopping MLflow (a last copy of its store goes to S3)"
    if run kube -n "$K8S_NAMESPACE" scale deployment/mlflow --replicas=0; then
      local stop_deadline=$((SECONDS + 300))
      while [[ -n "$(kube -n "$K8S_NAMESPACE" get pods -l app.kubernetes.io/name=mlflow -o name)" ]]; do
        if ((SECONDS >= stop_deadline)); then
          warn "the MLflow pod is still stopping; its store in S3 may miss up to the last 5 minutes of runs"
          break
        fi
        sleep 5
      done
    else
      warn "could not stop MLflow: its store in S3 may miss up to the last 5 minutes of runs"
    fi
  fi
  step "deleting namespace $K8S_NAMESPACE (its load balancer and volumes go with it)"
  run kube delete namespace "$K8S_NAMESPACE" --ignore-not-found --wait=true --timeout=15m || {
    problem "namespace $K8S_NAMESPACE of $CLUSTER_NAME was not deleted (kubectl delete namespace failed)"
    return 1
  }
  step "waiting for the volumes of namespace $K8S_NAMESPACE to be deleted"
  local deadline=$((SECONDS + 600)) left
  while :; do
    left="$(kube get pv -o jsonpath="{.items[?(@.spec.claimRef.namespace==\"$K8S_NAMESPACE\")].metadata.name}")" || {
      warn "cannot list the PersistentVolumes; the sweep below deletes what is left"
      break
    }
    [[ -z "$left" ]] && break
    if ((SECONDS >= deadline)); then
      warn "volumes still present after 10 minutes: $left; the sweep below deletes what is left"
      break
    fi
    note "still deleting: $left"
    sleep "$TIER_POLL_SECONDS"
  done
}

require_commands aws terraform kubectl curl
step "pausing the ragops tier: stage $STAGE, region $AWS_REGION, cluster $CLUSTER_NAME"

# First, so that no request reaches a tier that is going away.
set_tier_state paused

tf_init persistent
tf_init tier
tier_tf_args
# Read while the state still has it: the sweep looks for load balancers, network interfaces
# and security groups in it. Empty when terraform/tier is destroyed already.
VPC_ID="$(tier_output vpc_id 2>/dev/null)" || VPC_ID=""
[[ "$VPC_ID" == vpc-* ]] || VPC_ID=""

if cluster_exists "$CLUSTER_NAME"; then
  if ! release_kubernetes_resources; then
    warn "namespace $K8S_NAMESPACE was not deleted: MLflow's last snapshot was not taken (runs since its last 5-minute backup are lost) and Kubernetes did not delete its load balancer and volumes; the tier is destroyed all the same, and the sweep deletes those"
  fi
else
  note "cluster $CLUSTER_NAME not found: nothing to drain"
fi

# The cluster first, on its own: once it is gone no controller recreates a load balancer
# that the sweep deletes, and the VPC still stands for the sweep to empty.
# The load balancer controller's Helm release dies with the cluster, but destroying it
# through Terraform needs the Kubernetes API, which may be out of reach now: forget it
# instead, so that an unreachable API never keeps the cluster (and its bill) alive.
if terraform -chdir="$TF_TIER" state list 2>/dev/null | grep -qx 'helm_release.aws_load_balancer_controller'; then
  run terraform -chdir="$TF_TIER" state rm helm_release.aws_load_balancer_controller >/dev/null ||
    problem "could not forget the load balancer controller's Helm release"
fi

step "terraform destroy of the cluster (terraform/tier, -target=aws_eks_cluster.tier)"
run terraform -chdir="$TF_TIER" destroy -auto-approve -input=false \
  -target=aws_eks_cluster.tier "${TIER_TF_ARGS[@]}" ||
  problem "terraform destroy of the cluster $CLUSTER_NAME failed"

if cluster_exists "$CLUSTER_NAME"; then
  problem "cluster $CLUSTER_NAME still exists: what Kubernetes made in AWS was not swept"
else
  sweep_cluster_leftovers "$CLUSTER_NAME" "$VPC_ID" "$NAMESPACE_VOLUMES" || true
fi

step "terraform destroy (terraform/tier)"
run terraform -chdir="$TF_TIER" destroy -auto-approve -input=false "${TIER_TF_ARGS[@]}" ||
  problem "terraform destroy of terraform/tier failed"

exit_on_problems "pause of $STAGE done"
step "tier paused"
note "what remains (terraform/persistent): documents bucket, KMS key, ECR image, tier token,"
note "SSM state ($TIER_STATE_PARAMETER = paused) and the tier's log groups"
note "resume with: STAGE=$STAGE scripts/tier/resume.sh"
