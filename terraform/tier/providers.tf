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

# Installs the AWS Load Balancer Controller's chart into the cluster this root creates
# (load_balancer_controller.tf), as the principal that runs Terraform (the cluster's
# creator, or one of cluster_admin_principal_arns). The token comes from `aws eks get-token`
# on every call: one read at plan time would expire during a resume's 15 to 20 minutes.
provider "helm" {
  kubernetes {
    host                   = aws_eks_cluster.tier.endpoint
    cluster_ca_certificate = base64decode(aws_eks_cluster.tier.certificate_authority[0].data)

    exec {
      api_version = "client.authentication.k8s.io/v1beta1"
      command     = "aws"
      args        = ["eks", "get-token", "--cluster-name", aws_eks_cluster.tier.name, "--region", var.region]
    }
  }
}
