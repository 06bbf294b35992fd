#!/usr/bin/env bash
# Print the manifests resume.sh applies, without touching AWS or a cluster:
#   TIER_IMAGE=... TIER_ROLE_ARN=... TIER_SECRET_ARN=... TIER_CERTIFICATE_ARN=... \
#   TIER_VPC_CIDR=10.40.0.0/16 MLFLOW_ROLE_ARN=... DOCUMENTS_BUCKET=... \
#   scripts/tier/render.sh > tier.yaml
# Values: the outputs of terraform/persistent (ecr_repository_url, tier_secret_arn,
# documents_bucket_name) and terraform/tier (tier_role_arn, vpc_cidr, mlflow_role_arn), and the
# ACM certificate of TIER_HOSTNAME. Optional: IMAGE_CACHE_ECR_PUBLIC and IMAGE_CACHE_DOCKER_HUB
# (persistent's image_cache_ecr_public and image_cache_docker_hub) pull Redis and Chroma
# through ECR's pull-through caches.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_commands kubectl
for name in TIER_IMAGE TIER_ROLE_ARN TIER_SECRET_ARN TIER_CERTIFICATE_ARN TIER_VPC_CIDR \
  MLFLOW_ROLE_ARN DOCUMENTS_BUCKET; do
  [[ -n "${!name:-}" ]] || die "$name is required (see the header of $0)"
done

workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT
overlay="$(render_aws_overlay "$workdir" "${TIER_IMAGE:?}" "${TIER_ROLE_ARN:?}" \
  "${TIER_SECRET_ARN:?}" "${TIER_CERTIFICATE_ARN:?}" "${TIER_VPC_CIDR:?}" "$AWS_REGION" \
  "${MLFLOW_ROLE_ARN:?}" "${DOCUMENTS_BUCKET:?}" "${IMAGE_CACHE_ECR_PUBLIC:-}" \
  "${IMAGE_CACHE_DOCKER_HUB:-}")"
kubectl kustomize "$overlay"
