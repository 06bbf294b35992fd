#!/usr/bin/env bash
# Pause the vector tier: declare it paused (the API switches to maintenance mode at once:
# queries answer 503, uploads are stored as pending), then destroy terraform/tier (VPC, EKS
# cluster, node group, IAM roles). Nothing of value goes with it: documents, chunk artifacts,
# the tier token, the image and the logs live in terraform/persistent, and resume.sh
# rebuilds the index from the chunk artifacts. Safe to run again, and on a paused tier.
#
#   STAGE=dev AWS_REGION=us-east-1 RAGOPS_TF_STATE_BUCKET=my-tf-state scripts/tier/pause.sh
#
# Environment: see scripts/tier/lib.sh, and
#   TIER_DELETE_ORPHAN_VOLUMES=1   delete (instead of listing) EBS volumes of the ragops
#                                  namespace left unattached when the cluster could not be
#                                  drained first
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CLUSTER_NAME="${TF_VAR_cluster_name:-ragops-tier}"

# Delete the tier's namespace while the cluster still runs, so that Kubernetes removes what
# it created in AWS: the Service's load balancer and the volumes of the PersistentVolumeClaims
# (StorageClass gp3, reclaimPolicy Delete). Chroma's index goes too: resume rehydrates it.
release_kubernetes_resources() {
  use_cluster "$CLUSTER_NAME"
  if ! kube --request-timeout=20s get --raw /readyz >/dev/null 2>&1; then
    note "warning: the Kubernetes API of $CLUSTER_NAME does not answer this caller (is this"
    note "address in cluster_endpoint_public_access_cidrs, and this principal a cluster admin,"
    note "see cluster_admin_principal_arns?); the load balancer sweep below deletes what the"
    note "service controller created, and leftover volumes are listed at the end"
    return 0
  fi
  # MLflow first, while its NetworkPolicy and IRSA role still exist: its backup sidecar
  # uploads a last snapshot of the store to S3 when the pod stops. Deleting the namespace
  # could remove the policy that lets it reach S3 before that upload.
  if kube -n "$K8S_NAMESPACE" get deployment/mlflow >/dev/null 2>&1; then
    step "stopping MLflow (a last copy of its store goes to S3)"
    run kube -n "$K8S_NAMESPACE" scale deployment/mlflow --replicas=0
    local stop_deadline=$((SECONDS + 300))
    while [[ -n "$(kube -n "$K8S_NAMESPACE" get pods -l app.kubernetes.io/name=mlflow -o name)" ]]; do
      ((SECONDS < stop_deadline)) || {
        note "warning: the MLflow pod is still stopping; its store in S3 may miss up to the"
        note "last 5 minutes of runs"
        break
      }
      sleep 5
    done
  fi
  step "deleting namespace $K8S_NAMESPACE (its load balancer and volumes go with it)"
  run kube delete namespace "$K8S_NAMESPACE" --ignore-not-found --wait=true --timeout=15m
  step "waiting for the volumes of namespace $K8S_NAMESPACE to be deleted"
  local deadline=$((SECONDS + 600)) left
  while :; do
    left="$(kube get pv -o jsonpath="{.items[?(@.spec.claimRef.namespace==\"$K8S_NAMESPACE\")].metadata.name}")"
    [[ -z "$left" ]] && break
    ((SECONDS < deadline)) || {
      note "warning: volumes still present after 10 minutes: $left"
      break
    }
    note "still deleting: $left"
    sleep 15
  done
}

# EBS volumes the CSI driver created for the namespace and nobody deleted (cluster
# unreachable at pause time): they cost money until deleted.
orphan_volumes() {
  step "unattached EBS volumes of namespace $K8S_NAMESPACE"
  local volumes volume
  volumes="$(aws ec2 describe-volumes --region "$AWS_REGION" \
    --filters Name=status,Values=available \
    "Name=tag:kubernetes.io/created-for/pvc/namespace,Values=$K8S_NAMESPACE" \
    "Name=tag-key,Values=ebs.csi.aws.com/cluster" \
    --query 'Volumes[].VolumeId' --output text)"
  if [[ -z "$volumes" || "$volumes" == "None" ]]; then
    note "none"
    return 0
  fi
  for volume in $volumes; do
    if [[ "${TIER_DELETE_ORPHAN_VOLUMES:-0}" == 1 ]]; then
      run aws ec2 delete-volume --region "$AWS_REGION" --volume-id "$volume"
    else
      note "left over: $volume (delete: aws ec2 delete-volume --volume-id $volume, or rerun"
      note "with TIER_DELETE_ORPHAN_VOLUMES=1); the index is rebuilt from S3 on resume"
    fi
  done
}

require_commands aws terraform kubectl curl
step "pausing the ragops tier: stage $STAGE, region $AWS_REGION, cluster $CLUSTER_NAME"

# First, so that no request reaches a tier that is going away.
set_tier_state paused

tf_init persistent
tf_init tier
tier_tf_args

if cluster_exists "$CLUSTER_NAME"; then
  release_kubernetes_resources
else
  note "cluster $CLUSTER_NAME not found: nothing to drain"
fi
sweep_load_balancers "$CLUSTER_NAME"

step "terraform destroy (terraform/tier)"
run terraform -chdir="$TF_TIER" destroy -auto-approve -input=false "${TIER_TF_ARGS[@]}"

orphan_volumes

step "tier paused"
note "what remains (terraform/persistent): documents bucket, KMS key, ECR image, tier token,"
note "SSM state ($TIER_STATE_PARAMETER = paused) and the tier's log groups"
note "resume with: STAGE=$STAGE scripts/tier/resume.sh"
