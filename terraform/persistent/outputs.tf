output "documents_bucket_name" {
  description = "The documents bucket (RAGOPS_S3_BUCKET)."
  value       = aws_s3_bucket.documents.id
}

output "documents_bucket_arn" {
  description = "ARN of the documents bucket."
  value       = aws_s3_bucket.documents.arn
}

output "access_log_bucket_name" {
  description = "Bucket receiving the documents bucket's S3 server access logs."
  value       = aws_s3_bucket.access_logs.id
}

output "ecr_repository_url" {
  description = "ECR repository of the tier service image (push <url>:<tag>, tags are immutable)."
  value       = aws_ecr_repository.tier.repository_url
}

output "ecr_repository_arn" {
  description = "ARN of the tier image repository."
  value       = aws_ecr_repository.tier.arn
}

output "tier_secret_arn" {
  description = "Secrets Manager ARN of the tier bearer token (SAM TierSecretArn, RAGOPS_TIER_SECRET_ARN)."
  value       = aws_secretsmanager_secret.tier_token.arn
}

output "tier_state_parameter_name" {
  description = "SSM parameter holding the tier state (RAGOPS_TIER_STATE_PARAMETER)."
  value       = aws_ssm_parameter.tier_state.name
}

output "kms_key_arn" {
  description = "The stage's KMS key; callers of the bucket need kms:Decrypt and kms:GenerateDataKey on it."
  value       = aws_kms_key.ragops.arn
}

output "eks_log_group_name" {
  description = "Log group of the tier's EKS control-plane logs."
  value       = aws_cloudwatch_log_group.eks_cluster.name
}

output "flow_log_group_arn" {
  description = "Log group of the tier VPC's flow logs (tier/ var.flow_log_group_arn)."
  value       = aws_cloudwatch_log_group.vpc_flow_logs.arn
}

output "image_cache_ecr_public" {
  description = "Where ECR Public's images are cached (<registry>/<prefix>): Redis is <this>/docker/library/redis (IMAGE_CACHE_ECR_PUBLIC of scripts/tier/render.sh)."
  value       = "${split("/", aws_ecr_repository.tier.repository_url)[0]}/${aws_ecr_pull_through_cache_rule.ecr_public.ecr_repository_prefix}"
}

output "image_cache_docker_hub" {
  description = "Where Docker Hub's images are cached, empty without credentials: Chroma is <this>/chromadb/chroma (IMAGE_CACHE_DOCKER_HUB of scripts/tier/render.sh)."
  value       = join("", [for rule in aws_ecr_pull_through_cache_rule.docker_hub : "${split("/", aws_ecr_repository.tier.repository_url)[0]}/${rule.ecr_repository_prefix}"])
}
