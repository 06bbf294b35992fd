provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project   = "ragops"
      Stage     = var.stage
      Component = "tier"
      ManagedBy = "terraform"
    }
  }
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  azs        = var.availability_zones

  # IAM is global and the cluster name unique per region: role names carry both.
  iam_prefix = "${var.cluster_name}-${var.region}"

  # IRSA: the OIDC issuer without its scheme, the prefix of the trust policy's condition keys.
  oidc_issuer = replace(aws_eks_cluster.tier.identity[0].oidc[0].issuer, "https://", "")
}
