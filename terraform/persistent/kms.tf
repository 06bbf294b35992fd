# One customer managed key for the stage's data at rest: the documents bucket, the ECR
# repository, the tier token secret, the tier's log groups and the EKS cluster's Kubernetes
# secrets (envelope encryption). It lives here so that a paused tier keeps it: the tier
# root only receives its ARN. Principals of the account get access through IAM policies
# (statement EnableIamPolicies); the only service granted directly is CloudWatch Logs, and
# only for the tier's two log groups.
resource "aws_kms_key" "ragops" {
  description             = "ragops ${var.stage}: documents, tier image, tier token, tier logs and Kubernetes secrets"
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = 30

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "EnableIamPolicies"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "TierLogGroups"
        Effect    = "Allow"
        Principal = { Service = "logs.${var.region}.amazonaws.com" }
        Action = [
          "kms:Encrypt*",
          "kms:Decrypt*",
          "kms:ReEncrypt*",
          "kms:GenerateDataKey*",
          "kms:Describe*",
        ]
        Resource = "*"
        Condition = {
          ArnEquals = { "kms:EncryptionContext:aws:logs:arn" = local.log_group_arns }
        }
      },
    ]
  })

  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_kms_alias" "ragops" {
  name          = "alias/${local.name}"
  target_key_id = aws_kms_key.ragops.key_id
}
