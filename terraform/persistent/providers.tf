provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project   = "ragops"
      Stage     = var.stage
      Component = "persistent"
      ManagedBy = "terraform"
    }
  }
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  name       = "ragops-${var.stage}"

  documents_bucket_name  = coalesce(var.documents_bucket_name, "${local.name}-documents-${local.account_id}")
  access_log_bucket_name = "${local.documents_bucket_name}-access-logs"

  tier_state_parameter   = "/ragops/${var.stage}/tier/state"
  tier_token_secret_name = "ragops/${var.stage}/tier-token"

  # The tier's log groups live here, not in tier/: a pause must not delete the audit trail.
  eks_log_group_name  = "/aws/eks/${var.tier_cluster_name}/cluster"
  flow_log_group_name = "/ragops/${var.stage}/tier/vpc-flow-logs"
  log_group_arns = [
    for name in [local.eks_log_group_name, local.flow_log_group_name] :
    "arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:${name}"
  ]
}
