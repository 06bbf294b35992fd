#!/usr/bin/env bash
# Resume the vector tier: declare it resuming (the API stays in maintenance mode), create
# terraform/tier (VPC, EKS cluster, node group, add-ons, the AWS Load Balancer Controller,
# IRSA roles), apply k8s/overlays/aws with this environment's values, wait for the tier,
# rebuild its index from the chunk artifacts in S3 (ragops tier rehydrate), then activate
# it. Safe to run again: Terraform and kubectl apply converge, and rehydration skips what
# the index already holds.
#
#   STAGE=dev AWS_REGION=us-east-1 RAGOPS_TF_STATE_BUCKET=my-tf-state \
#   TIER_HOSTNAME=tier.dev.example.com TIER_ROUTE53_ZONE_ID=Z0123456789 \
#   TIER_CERTIFICATE_ARN=arn:aws:acm:us-east-1:123456789012:certificate/... \
#   scripts/tier/resume.sh
#
# Environment: see scripts/tier/lib.sh, and
#   TIER_CERTIFICATE_ARN  (required) ACM certificate for TIER_HOSTNAME, on the NLB's TLS listener
#   TIER_HOSTNAME         (required) the tier's stable DNS name, a CNAME to the load balancer.
#                         The load balancer's own name changes on every resume and no ACM
#                         certificate can cover it, so clients use this name (SAM TierEndpoint).
#   TIER_ROUTE53_ZONE_ID  hosted zone of TIER_HOSTNAME: the CNAME is upserted there; without
#                         it, point the CNAME yourself when the script prints the target
#   TIER_IMAGE_TAG        tier image tag in ECR (default: the most recently pushed tag)
#   RAGOPS_CLI            the ragops command (default: ragops on PATH, else .venv/bin/ragops)
#   SCALER_FUNCTION       the SAM stack's scaler (default ragops-<stage>-scaler): when it
#                         exists, its "activate" action indexes the uploads pending since the
#                         pause and then sets the state active; otherwise the state is set
#                         active directly
#   TIER_WAIT_SECONDS     how long to wait for the load balancer, DNS and readiness (default 900)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TIER_WAIT_SECONDS="${TIER_WAIT_SECONDS:-900}"
SCALER_FUNCTION="${SCALER_FUNCTION:-ragops-${STAGE}-scaler}"

require_commands aws terraform kubectl curl
[[ -n "${TIER_CERTIFICATE_ARN:-}" ]] || die "TIER_CERTIFICATE_ARN is required (ACM certificate of TIER_HOSTNAME)"
[[ -n "${TIER_HOSTNAME:-}" ]] || die "TIER_HOSTNAME is required (the tier's DNS name; see the header of $0)"
if [[ -z "${RAGOPS_CLI:-}" ]]; then
  if command -v ragops >/dev/null 2>&1; then
    RAGOPS_CLI="ragops"
  elif [[ -x "$REPO_ROOT/.venv/bin/ragops" ]]; then
    RAGOPS_CLI="$REPO_ROOT/.venv/bin/ragops"
  else
    die "the ragops CLI was not found: pip install -e '.[aws]' or set RAGOPS_CLI"
  fi
fi
TIER_URL="https://$TIER_HOSTNAME"

# The most recently pushed tag of the tier image.
latest_image_tag() {
  local repository="$1" tag
  tag="$(aws ecr describe-images --region "$AWS_REGION" --repository-name "$repository" \
    --filter tagStatus=TAGGED \
    --query 'sort_by(imageDetails, &imagePushedAt)[-1].imageTags[0]' --output text)"
  [[ -n "$tag" && "$tag" != "None" ]] ||
    die "no tagged image in ECR repository $repository: build and push the tier image first"
  printf '%s' "$tag"
}

# Wait until a command succeeds, TIER_WAIT_SECONDS at most.
wait_for() {
  local what="$1"
  shift
  local deadline=$((SECONDS + TIER_WAIT_SECONDS))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "timed out after ${TIER_WAIT_SECONDS}s waiting for $what"
    note "waiting for $what"
    sleep 15
  done
}

load_balancer_hostname() {
  kube -n "$K8S_NAMESPACE" get service ragops-tier \
    -o jsonpath='{.status.loadBalancer.ingress[0].hostname}'
}

has_load_balancer() {
  [[ -n "$(load_balancer_hostname)" ]]
}

point_dns() {
  local target="$1" change change_id
  if [[ -z "${TIER_ROUTE53_ZONE_ID:-}" ]]; then
    step "DNS: point $TIER_HOSTNAME at the load balancer"
    note "CNAME $TIER_HOSTNAME -> $target (TTL 60): create or update it now;"
    note "the script waits for $TIER_URL/readyz to answer"
    return 0
  fi
  step "DNS: CNAME $TIER_HOSTNAME -> $target (Route 53 zone $TIER_ROUTE53_ZONE_ID)"
  change="$(printf '{"Comment":"ragops tier %s","Changes":[{"Action":"UPSERT","ResourceRecordSet":{"Name":"%s","Type":"CNAME","TTL":60,"ResourceRecords":[{"Value":"%s"}]}}]}' \
    "$STAGE" "$TIER_HOSTNAME" "$target")"
  change_id="$(run aws route53 change-resource-record-sets --hosted-zone-id "$TIER_ROUTE53_ZONE_ID" \
    --change-batch "$change" --query ChangeInfo.Id --output text)"
  run aws route53 wait resource-record-sets-changed --id "$change_id"
}

tier_ready() {
  curl -fsS --max-time 10 "$TIER_URL/readyz"
}

rehydrate() {
  step "rehydrating the index from the chunk artifacts in s3://$DOCUMENTS_BUCKET"
  printf '    $ RAGOPS_OBJECT_STORE=s3 RAGOPS_S3_BUCKET=%s RAGOPS_TIER_URL=%s RAGOPS_TIER_SECRET_ARN=%s %s tier rehydrate --json\n' \
    "$DOCUMENTS_BUCKET" "$TIER_URL" "$TIER_SECRET_ARN" "$RAGOPS_CLI" >&2
  local report rc=0
  report="$(RAGOPS_OBJECT_STORE=s3 RAGOPS_S3_BUCKET="$DOCUMENTS_BUCKET" RAGOPS_TIER_URL="$TIER_URL" \
    RAGOPS_TIER_SECRET_ARN="$TIER_SECRET_ARN" RAGOPS_AWS_REGION="$AWS_REGION" \
    "$RAGOPS_CLI" tier rehydrate --json)" || rc=$?
  [[ -n "$report" ]] && note "$report"
  if ((rc == 0)); then
    return 0
  fi
  # Exit 1 with a report: every document was restored except those whose chunk artifact is
  # missing; they need re-ingesting, which does not hold the tier back.
  if ((rc == 1)) && [[ "$report" == *'"missing"'* ]]; then
    note "warning: some documents have no chunk artifact (\"missing\" above): re-ingest them"
    return 0
  fi
  die "rehydration failed (exit $rc); the state stays resuming: run $0 again to continue"
}

activate() {
  if ! aws lambda get-function --function-name "$SCALER_FUNCTION" --region "$AWS_REGION" >/dev/null 2>&1; then
    note "no function $SCALER_FUNCTION: setting the state directly"
    set_tier_state active
    return 0
  fi
  local configured
  configured="$(aws lambda get-function-configuration --function-name "$SCALER_FUNCTION" \
    --region "$AWS_REGION" --query 'Environment.Variables.RAGOPS_TIER_URL' --output text)"
  if [[ "${configured%/}" != "$TIER_URL" ]]; then
    print_sam_hint
    die "$SCALER_FUNCTION reaches the tier at '$configured', not $TIER_URL: deploy the SAM stack as above, then run: aws lambda invoke --function-name $SCALER_FUNCTION --cli-binary-format raw-in-base64-out --payload '{\"action\": \"activate\"}' /dev/stdout"
  fi
  step "activating through $SCALER_FUNCTION (indexes pending uploads, then sets the state active)"
  local response error
  response="$(mktemp)"
  # A long read timeout: indexing may take minutes, and a CLI retry would invoke it twice.
  error="$(run aws lambda invoke --function-name "$SCALER_FUNCTION" --region "$AWS_REGION" \
    --cli-read-timeout 900 --cli-binary-format raw-in-base64-out --payload '{"action": "activate"}' \
    --query FunctionError --output text "$response")"
  note "$(cat "$response")"
  rm -f "$response"
  [[ "$error" == "None" || -z "$error" ]] ||
    die "activate failed ($error); the state stays resuming: invoke it again (it continues with what is pending)"
}

print_sam_hint() {
  step "pointing the API at the tier"
  note "the SAM stack reaches the tier through TierEndpoint and reads its token from TierSecretArn;"
  note "TIER_HOSTNAME is stable across pauses, so this is needed once per stage:"
  note "  .tools/bin/sam deploy --parameter-overrides Stage=$STAGE TierEndpoint=$TIER_URL TierSecretArn=$TIER_SECRET_ARN"
}

step "resuming the ragops tier: stage $STAGE, region $AWS_REGION"
set_tier_state resuming

tf_init persistent
tf_init tier
tier_tf_args
DOCUMENTS_BUCKET="$(persistent_output documents_bucket_name)"
TIER_SECRET_ARN="$(persistent_output tier_secret_arn)"
ECR_URL="$(persistent_output ecr_repository_url)"
IMAGE_CACHE_ECR_PUBLIC="$(persistent_output image_cache_ecr_public)"
IMAGE_CACHE_DOCKER_HUB="$(persistent_output image_cache_docker_hub)"
TIER_IMAGE="$ECR_URL:${TIER_IMAGE_TAG:-$(latest_image_tag "${ECR_URL##*/}")}"
note "tier image: $TIER_IMAGE"

# On a tier that is up already (resume run again), Terraform reads the AWS Load Balancer
# Controller's Helm release from the cluster before it applies anything: the cluster's API
# endpoint must admit this machine first (a GitHub runner has a new address on every run).
if cluster_exists "${TF_VAR_cluster_name:-ragops-tier}"; then
  open_cluster_endpoint "${TF_VAR_cluster_name:-ragops-tier}" ||
    die "cannot open the API endpoint of the running cluster to this machine (above); terraform apply would fail to read the controller's Helm release"
fi

step "terraform apply (terraform/tier)"
run terraform -chdir="$TF_TIER" apply -auto-approve -input=false "${TIER_TF_ARGS[@]}"
CLUSTER_NAME="$(tier_output cluster_name)"
TIER_ROLE_ARN="$(tier_output tier_role_arn)"
VPC_CIDR="$(tier_output vpc_cidr)"
MLFLOW_ROLE_ARN="$(tier_output mlflow_role_arn)"

use_cluster "$CLUSTER_NAME"

step "applying k8s/overlays/aws"
workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT
overlay="$(render_aws_overlay "$workdir" "$TIER_IMAGE" "$TIER_ROLE_ARN" "$TIER_SECRET_ARN" \
  "$TIER_CERTIFICATE_ARN" "$VPC_CIDR" "$AWS_REGION" "$MLFLOW_ROLE_ARN" "$DOCUMENTS_BUCKET" \
  "$IMAGE_CACHE_ECR_PUBLIC" "$IMAGE_CACHE_DOCKER_HUB")"
run kube apply -k "$overlay"

step "waiting for the workloads"
run kube -n "$K8S_NAMESPACE" rollout status statefulset/chroma --timeout=15m
run kube -n "$K8S_NAMESPACE" rollout status deployment/ragops-tier --timeout=15m
# MLflow (restored from s3://$DOCUMENTS_BUCKET/mlflow/mlflow.db) is not on the query path: a
# failure here is reported, and the tier is activated all the same.
if ! run kube -n "$K8S_NAMESPACE" rollout status deployment/mlflow --timeout=10m; then
  note "warning: MLflow is not ready; see kubectl -n $K8S_NAMESPACE logs deployment/mlflow -c restore"
fi

step "waiting for the load balancer of Service ragops-tier"
wait_for "the load balancer's hostname" has_load_balancer
LB_HOSTNAME="$(load_balancer_hostname)"
note "load balancer: $LB_HOSTNAME"

point_dns "$LB_HOSTNAME"
step "waiting for $TIER_URL/readyz"
wait_for "$TIER_URL/readyz" tier_ready

rehydrate
print_sam_hint
activate

step "tier active at $TIER_URL"
