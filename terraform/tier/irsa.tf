# --- IAM roles for service accounts (IRSA) ------------------------------------------------
resource "aws_iam_openid_connect_provider" "eks" {
  url            = aws_eks_cluster.tier.identity[0].oidc[0].issuer
  client_id_list = ["sts.amazonaws.com"]
  # No thumbprint_list: IAM trusts the EKS OIDC issuer's certificate authority itself.
}

locals {
  # namespace/service account of each IRSA role.
  irsa_service_accounts = {
    tier    = { namespace = var.k8s_namespace, name = var.k8s_service_account }
    mlflow  = { namespace = var.k8s_namespace, name = var.mlflow_service_account }
    ebs_csi = { namespace = "kube-system", name = "ebs-csi-controller-sa" }
    vpc_cni = { namespace = "kube-system", name = "aws-node" }
    # The AWS Load Balancer Controller (load_balancer_controller.tf): the chart creates this
    # service account with the role's annotation.
    load_balancer_controller = { namespace = "kube-system", name = "aws-load-balancer-controller" }
  }

  # MLflow's part of the documents bucket: the copy of its SQLite store (mlflow/mlflow.db)
  # and the run artifacts (mlflow/artifacts/). k8s/ names the same keys.
  documents_bucket_arn = "arn:${local.partition}:s3:::${var.documents_bucket_name}"
  mlflow_prefix        = "mlflow"
  # What the product trains and serves (ragops/domain/keys.py: models/{name}/...).
  models_prefix = "models"
}

data "aws_iam_policy_document" "irsa_trust" {
  for_each = local.irsa_service_accounts

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.eks.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.oidc_issuer}:sub"
      values   = ["system:serviceaccount:${each.value.namespace}:${each.value.name}"]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.oidc_issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

# The tier service (namespace ragops, service account ragops-tier): reads its bearer token
# and the models the product trains (the cache's duplicate model, published under models/ in
# the documents bucket by `ragops cache train`), and nothing else: no document, no chunk.
resource "aws_iam_role" "tier" {
  name               = "${local.iam_prefix}-service"
  assume_role_policy = data.aws_iam_policy_document.irsa_trust["tier"].json
}

data "aws_iam_policy_document" "tier" {
  statement {
    sid       = "ReadTierToken"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.tier_secret_arn]
  }

  # The token and the models are both under the stage's key: decrypting through either
  # service, never directly.
  statement {
    sid       = "DecryptTokenAndModels"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${var.region}.amazonaws.com", "s3.${var.region}.amazonaws.com"]
    }
  }

  # Listing tells "no model published" (the cache's verifier serves) from "no access".
  statement {
    sid       = "ListTrainedModels"
    actions   = ["s3:ListBucket"]
    resources = [local.documents_bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.models_prefix}/", "${local.models_prefix}/*"]
    }
  }

  statement {
    sid       = "ReadTrainedModels"
    actions   = ["s3:GetObject"]
    resources = ["${local.documents_bucket_arn}/${local.models_prefix}/*"]
  }

}

resource "aws_iam_role_policy" "tier" {
  name   = "read-tier-token"
  role   = aws_iam_role.tier.id
  policy = data.aws_iam_policy_document.tier.json
}

# The MLflow tracking server (namespace ragops, service account mlflow): its prefix of the
# documents bucket and nothing else. It may replace the store's copy but not delete it (the
# bucket's versioning keeps the replaced copies), and may delete artifacts (runs deleted in
# MLflow); it reads no document, chunk or secret.
resource "aws_iam_role" "mlflow" {
  name               = "${local.iam_prefix}-mlflow"
  assume_role_policy = data.aws_iam_policy_document.irsa_trust["mlflow"].json
}

data "aws_iam_policy_document" "mlflow" {
  # Listing is what tells "no copy yet" (a new stage: start an empty store) from "no access"
  # (fail): without it a missing key answers 403, as a forbidden one does.
  statement {
    sid       = "ListMlflowPrefix"
    actions   = ["s3:ListBucket"]
    resources = [local.documents_bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.mlflow_prefix}/", "${local.mlflow_prefix}/*"]
    }
  }

  statement {
    sid       = "ReadWriteMlflowObjects"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"]
    resources = ["${local.documents_bucket_arn}/${local.mlflow_prefix}/*"]
  }

  statement {
    sid       = "DeleteMlflowArtifacts"
    actions   = ["s3:DeleteObject"]
    resources = ["${local.documents_bucket_arn}/${local.mlflow_prefix}/artifacts/*"]
  }

  # The bucket is encrypted with the stage's key (SSE-KMS): through S3 only.
  statement {
    sid       = "EncryptThroughS3"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${var.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "mlflow" {
  name   = "mlflow-prefix"
  role   = aws_iam_role.mlflow.id
  policy = data.aws_iam_policy_document.mlflow.json
}

# The EBS CSI driver's controller: creates and attaches Chroma's volumes.
resource "aws_iam_role" "ebs_csi" {
  name               = "${local.iam_prefix}-ebs-csi"
  assume_role_policy = data.aws_iam_policy_document.irsa_trust["ebs_csi"].json
}

resource "aws_iam_role_policy_attachment" "ebs_csi" {
  role       = aws_iam_role.ebs_csi.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
}

# The VPC CNI (aws-node): assigns pod IPs; kept off the node role.
resource "aws_iam_role" "vpc_cni" {
  name               = "${local.iam_prefix}-vpc-cni"
  assume_role_policy = data.aws_iam_policy_document.irsa_trust["vpc_cni"].json
}

resource "aws_iam_role_policy_attachment" "vpc_cni" {
  role       = aws_iam_role.vpc_cni.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AmazonEKS_CNI_Policy"
}
