# --- the EKS cluster ----------------------------------------------------------------------
data "aws_iam_policy_document" "cluster_trust" {
  statement {
    actions = ["sts:AssumeRole", "sts:TagSession"]

    principals {
      type        = "Service"
      identifiers = ["eks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "cluster" {
  name               = "${local.iam_prefix}-cluster"
  assume_role_policy = data.aws_iam_policy_document.cluster_trust.json
}

resource "aws_iam_role_policy_attachment" "cluster" {
  role       = aws_iam_role.cluster.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AmazonEKSClusterPolicy"
}

# Envelope encryption of Kubernetes secrets with the persistent key.
data "aws_iam_policy_document" "cluster_encryption" {
  statement {
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "cluster_encryption" {
  name   = "kubernetes-secrets-encryption"
  role   = aws_iam_role.cluster.id
  policy = data.aws_iam_policy_document.cluster_encryption.json
}

resource "aws_eks_cluster" "tier" {
  #checkov:skip=CKV_AWS_38:checkov cannot resolve var.cluster_endpoint_public_access_cidrs (no default, on purpose); its validation rejects 0.0.0.0/0 and an empty list.
  #checkov:skip=CKV_AWS_39:The public endpoint is how operators and scripts/tier/resume.sh reach the API without a VPN, bastion or NAT; it is limited to var.cluster_endpoint_public_access_cidrs (validated: never 0.0.0.0/0), and the nodes use the private endpoint.
  name     = var.cluster_name
  version  = var.kubernetes_version
  role_arn = aws_iam_role.cluster.arn

  # vpc-cni, kube-proxy and CoreDNS come as managed add-ons (addons.tf), not self-managed.
  bootstrap_self_managed_addons = false

  vpc_config {
    subnet_ids              = aws_subnet.private[*].id
    endpoint_private_access = true
    endpoint_public_access  = true
    public_access_cidrs     = var.cluster_endpoint_public_access_cidrs
  }

  encryption_config {
    resources = ["secrets"]

    provider {
      key_arn = var.kms_key_arn
    }
  }

  # To the persistent log group /aws/eks/<cluster>/cluster (KMS, retention): it outlives
  # the cluster. The audit log is the largest of the five.
  enabled_cluster_log_types = ["api", "audit", "authenticator", "controllerManager", "scheduler"]

  access_config {
    authentication_mode                         = "API"
    bootstrap_cluster_creator_admin_permissions = true
  }

  # Extended support costs six times the standard control-plane price: stay on standard.
  upgrade_policy {
    support_type = "STANDARD"
  }

  # The bootstrap flag only matters when the cluster is created; some provider versions read
  # it back differently and would otherwise plan a replacement of the whole cluster.
  lifecycle {
    ignore_changes = [access_config[0].bootstrap_cluster_creator_admin_permissions]
  }

  depends_on = [
    aws_iam_role_policy_attachment.cluster,
    aws_iam_role_policy.cluster_encryption,
  ]
}

resource "aws_eks_access_entry" "admins" {
  for_each = toset(var.cluster_admin_principal_arns)

  cluster_name  = aws_eks_cluster.tier.name
  principal_arn = each.value
  type          = "STANDARD"
}

resource "aws_eks_access_policy_association" "admins" {
  for_each = toset(var.cluster_admin_principal_arns)

  cluster_name  = aws_eks_cluster.tier.name
  principal_arn = aws_eks_access_entry.admins[each.value].principal_arn
  policy_arn    = "arn:${local.partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"

  access_scope {
    type = "cluster"
  }
}

# --- the managed node group -----------------------------------------------------------------
data "aws_iam_policy_document" "node_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "node" {
  name               = "${local.iam_prefix}-node"
  assume_role_policy = data.aws_iam_policy_document.node_trust.json
}

# The node role gets only what the kubelet needs; the VPC CNI's permissions go to its own
# service account (IRSA, irsa.tf), and with IMDS limited to one hop pods cannot borrow them.
resource "aws_iam_role_policy_attachment" "node" {
  for_each = toset(["AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly"])

  role       = aws_iam_role.node.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/${each.value}"
}

# The first pull of an image through the pull-through caches (terraform/persistent,
# ecr_cache.tf) imports it from upstream and creates its repository: the kubelet may do both
# for the caches' repositories of this stage, and nothing else.
data "aws_iam_policy_document" "node_image_cache" {
  statement {
    sid       = "PullThroughTheStagesImageCaches"
    actions   = ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"]
    resources = [
      "arn:${local.partition}:ecr:${var.region}:${local.account_id}:repository/ragops-${var.stage}-ecr-public/*",
      "arn:${local.partition}:ecr:${var.region}:${local.account_id}:repository/ragops-${var.stage}-docker-hub/*",
    ]
  }
}

resource "aws_iam_role_policy" "node_image_cache" {
  name   = "image-cache"
  role   = aws_iam_role.node.id
  policy = data.aws_iam_policy_document.node_image_cache.json
}

resource "aws_launch_template" "node" {
  name                   = var.node_group_name
  description            = "Nodes of ${var.cluster_name}: IMDSv2 only, encrypted gp3 root volume"
  update_default_version = true

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  block_device_mappings {
    device_name = "/dev/xvda"

    ebs {
      volume_size           = var.node_disk_size
      volume_type           = "gp3"
      encrypted             = true
      delete_on_termination = true
    }
  }

  tag_specifications {
    resource_type = "instance"
    tags          = { Name = var.node_group_name }
  }

  tag_specifications {
    resource_type = "volume"
    tags          = { Name = var.node_group_name }
  }
}

resource "aws_eks_node_group" "tier" {
  cluster_name    = aws_eks_cluster.tier.name
  node_group_name = var.node_group_name
  node_role_arn   = aws_iam_role.node.arn
  subnet_ids      = var.private_nodes ? aws_subnet.private[*].id : aws_subnet.public[*].id
  ami_type        = var.node_ami_type
  capacity_type   = var.node_capacity_type
  instance_types  = var.node_instance_types

  launch_template {
    id      = aws_launch_template.node.id
    version = aws_launch_template.node.latest_version
  }

  scaling_config {
    desired_size = var.node_desired_size
    min_size     = var.node_min_size
    max_size     = var.node_max_size
  }

  update_config {
    max_unavailable = 1
  }

  labels = {
    "ragops.io/tier" = var.stage
  }

  # The scaler function (SAM) resizes the group on its schedule, minimum included (zero
  # nodes needs a minimum of zero): do not undo either.
  lifecycle {
    ignore_changes = [scaling_config[0].desired_size, scaling_config[0].min_size]
  }

  # Nodes become Ready only once the CNI runs (bootstrap_self_managed_addons = false), and
  # private nodes join only with a route out.
  depends_on = [
    aws_iam_role_policy_attachment.node,
    aws_route.private_nat,
    aws_eks_addon.vpc_cni,
    aws_eks_addon.kube_proxy,
  ]
}
