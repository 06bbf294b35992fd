# --- the AWS Load Balancer Controller: the tier's NLB, IP targets, a security group --------
#
# The tier's Service (k8s/overlays/aws) names this controller's class (service.k8s.aws/nlb)
# and asks for no node ports, so Kubernetes' built-in service controller leaves it alone and
# no NodePort exists: the controller creates an internet-facing NLB whose TLS listener (443)
# forwards to the tier pods' own addresses (IP targets), with the security group below as
# its frontend. It adds one rule to the nodes' (EKS cluster) security group: the
# controller's shared backend group may reach the pods' port 8080. Nothing else is opened.
#
# Installed from its Helm chart by Terraform (rather than by the scripts, or as manifests in
# k8s/): the chart generates the webhook's certificate, which plain manifests would need
# cert-manager for; its CRDs, RBAC and webhooks stay the chart's; and `terraform apply`
# returns only once the controller is ready, before resume.sh applies the Service. The chart
# version is pinned; the IAM policy below follows that version's documented policy
# (docs/install/iam_policy.json of kubernetes-sigs/aws-load-balancer-controller).

locals {
  load_balancer_controller = local.irsa_service_accounts.load_balancer_controller

  # The tag the controller puts on every security group, load balancer, listener and target
  # group it creates (value: the cluster name). Its role may change only what carries it.
  elbv2_cluster_tag = "elbv2.k8s.aws/cluster"

  elb_arn_prefix = "arn:${local.partition}:elasticloadbalancing:${var.region}:${local.account_id}"
  ec2_arn_prefix = "arn:${local.partition}:ec2:${var.region}:${local.account_id}"
  tier_vpc_arn   = "${local.ec2_arn_prefix}:vpc/${aws_vpc.tier.id}"

  # The frontend security group of the tier's NLB, found by the controller through its Name
  # tag in the cluster's VPC: k8s/overlays/aws names it in the Service's
  # aws-load-balancer-security-groups annotation.
  nlb_security_group_name = "${var.cluster_name}-nlb"
}

resource "aws_iam_role" "load_balancer_controller" {
  name               = "${local.iam_prefix}-lb-controller"
  assume_role_policy = data.aws_iam_policy_document.irsa_trust["load_balancer_controller"].json
}

# The controller's documented policy, narrowed: ARNs of this account and region only; what it
# changes must carry elbv2.k8s.aws/cluster = this cluster's name (not merely some value);
# security groups and their rules only in the tier VPC; the ALB-only add-ons it is run
# without (Shield, WAF, WAFv2, Cognito: values/aws-load-balancer-controller.yaml) and
# Outposts' customer-owned address pools left out. The Describe calls take no resource-level
# permissions.
data "aws_iam_policy_document" "load_balancer_controller" {
  statement {
    sid       = "CreateElbServiceLinkedRole"
    actions   = ["iam:CreateServiceLinkedRole"]
    resources = ["arn:${local.partition}:iam::${local.account_id}:role/aws-service-role/elasticloadbalancing.amazonaws.com/AWSServiceRoleForElasticLoadBalancing"]

    condition {
      test     = "StringEquals"
      variable = "iam:AWSServiceName"
      values   = ["elasticloadbalancing.amazonaws.com"]
    }
  }

  statement {
    sid = "Describe"
    actions = [
      "ec2:DescribeAccountAttributes",
      "ec2:DescribeAddresses",
      "ec2:DescribeAvailabilityZones",
      "ec2:DescribeInternetGateways",
      "ec2:DescribeVpcs",
      "ec2:DescribeVpcPeeringConnections",
      "ec2:DescribeSubnets",
      "ec2:DescribeSecurityGroups",
      "ec2:DescribeInstances",
      "ec2:DescribeNetworkInterfaces",
      "ec2:DescribeTags",
      "ec2:DescribeIpamPools",
      "ec2:DescribeRouteTables",
      "elasticloadbalancing:DescribeLoadBalancers",
      "elasticloadbalancing:DescribeLoadBalancerAttributes",
      "elasticloadbalancing:DescribeListeners",
      "elasticloadbalancing:DescribeListenerCertificates",
      "elasticloadbalancing:DescribeSSLPolicies",
      "elasticloadbalancing:DescribeRules",
      "elasticloadbalancing:DescribeTargetGroups",
      "elasticloadbalancing:DescribeTargetGroupAttributes",
      "elasticloadbalancing:DescribeTargetHealth",
      "elasticloadbalancing:DescribeTags",
      "elasticloadbalancing:DescribeTrustStores",
      "elasticloadbalancing:DescribeListenerAttributes",
      "elasticloadbalancing:DescribeCapacityReservation",
      "acm:ListCertificates",
      "iam:ListServerCertificates",
    ]
    resources = ["*"]
  }

  statement {
    sid       = "SecurityGroupsOfTheTierVpc"
    actions   = ["ec2:GetSecurityGroupsForVpc"]
    resources = [local.tier_vpc_arn]
  }

  statement {
    sid       = "ReadCertificates"
    actions   = ["acm:DescribeCertificate", "iam:GetServerCertificate"]
    resources = ["arn:${local.partition}:acm:${var.region}:${local.account_id}:certificate/*", "arn:${local.partition}:iam::${local.account_id}:server-certificate/*"]
  }

  # The backend rule on the nodes' security group, which the controller did not create:
  # only security groups of the tier VPC.
  statement {
    sid       = "SecurityGroupRulesInTheTierVpc"
    actions   = ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"]
    resources = ["${local.ec2_arn_prefix}:security-group/*"]

    condition {
      test     = "ArnEquals"
      variable = "ec2:Vpc"
      values   = [local.tier_vpc_arn]
    }
  }

  # CreateSecurityGroup is authorised on the VPC and on the new group: the VPC must be the
  # tier's, and the group must be tagged for this cluster as it is created.
  statement {
    sid       = "CreateSecurityGroupsInTheTierVpc"
    actions   = ["ec2:CreateSecurityGroup"]
    resources = [local.tier_vpc_arn]
  }

  statement {
    sid       = "CreateOwnSecurityGroups"
    actions   = ["ec2:CreateSecurityGroup"]
    resources = ["${local.ec2_arn_prefix}:security-group/*"]

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/${local.elbv2_cluster_tag}"
      values   = [var.cluster_name]
    }
  }

  statement {
    sid       = "TagSecurityGroupsAsCreated"
    actions   = ["ec2:CreateTags"]
    resources = ["${local.ec2_arn_prefix}:security-group/*"]

    condition {
      test     = "StringEquals"
      variable = "ec2:CreateAction"
      values   = ["CreateSecurityGroup"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/${local.elbv2_cluster_tag}"
      values   = [var.cluster_name]
    }
  }

  # Other tags of its own groups, never the cluster tag itself.
  statement {
    sid       = "RetagOwnSecurityGroups"
    actions   = ["ec2:CreateTags", "ec2:DeleteTags"]
    resources = ["${local.ec2_arn_prefix}:security-group/*"]

    condition {
      test     = "Null"
      variable = "aws:RequestTag/${local.elbv2_cluster_tag}"
      values   = ["true"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/${local.elbv2_cluster_tag}"
      values   = [var.cluster_name]
    }
  }

  statement {
    sid       = "DeleteOwnSecurityGroups"
    actions   = ["ec2:DeleteSecurityGroup"]
    resources = ["${local.ec2_arn_prefix}:security-group/*"]

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/${local.elbv2_cluster_tag}"
      values   = [var.cluster_name]
    }
  }

  statement {
    sid       = "CreateOwnLoadBalancers"
    actions   = ["elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup"]
    resources = ["${local.elb_arn_prefix}:loadbalancer/*", "${local.elb_arn_prefix}:targetgroup/*"]

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/${local.elbv2_cluster_tag}"
      values   = [var.cluster_name]
    }
  }

  statement {
    sid = "Listeners"
    actions = [
      "elasticloadbalancing:CreateListener",
      "elasticloadbalancing:DeleteListener",
      "elasticloadbalancing:CreateRule",
      "elasticloadbalancing:DeleteRule",
    ]
    resources = ["${local.elb_arn_prefix}:*"]
  }

  statement {
    sid     = "RetagOwnLoadBalancers"
    actions = ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"]
    resources = [
      "${local.elb_arn_prefix}:targetgroup/*/*",
      "${local.elb_arn_prefix}:loadbalancer/net/*/*",
      "${local.elb_arn_prefix}:loadbalancer/app/*/*",
    ]

    condition {
      test     = "Null"
      variable = "aws:RequestTag/${local.elbv2_cluster_tag}"
      values   = ["true"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/${local.elbv2_cluster_tag}"
      values   = [var.cluster_name]
    }
  }

  statement {
    sid     = "TagListeners"
    actions = ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"]
    resources = [
      "${local.elb_arn_prefix}:listener/net/*/*/*",
      "${local.elb_arn_prefix}:listener/app/*/*/*",
      "${local.elb_arn_prefix}:listener-rule/net/*/*/*",
      "${local.elb_arn_prefix}:listener-rule/app/*/*/*",
    ]
  }

  statement {
    sid     = "TagLoadBalancersAsCreated"
    actions = ["elasticloadbalancing:AddTags"]
    resources = [
      "${local.elb_arn_prefix}:targetgroup/*/*",
      "${local.elb_arn_prefix}:loadbalancer/net/*/*",
      "${local.elb_arn_prefix}:loadbalancer/app/*/*",
    ]

    condition {
      test     = "StringEquals"
      variable = "elasticloadbalancing:CreateAction"
      values   = ["CreateTargetGroup", "CreateLoadBalancer"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/${local.elbv2_cluster_tag}"
      values   = [var.cluster_name]
    }
  }

  statement {
    sid = "ManageOwnLoadBalancers"
    actions = [
      "elasticloadbalancing:ModifyLoadBalancerAttributes",
      "elasticloadbalancing:SetIpAddressType",
      "elasticloadbalancing:SetSecurityGroups",
      "elasticloadbalancing:SetSubnets",
      "elasticloadbalancing:DeleteLoadBalancer",
      "elasticloadbalancing:ModifyTargetGroup",
      "elasticloadbalancing:ModifyTargetGroupAttributes",
      "elasticloadbalancing:DeleteTargetGroup",
      "elasticloadbalancing:ModifyListenerAttributes",
      "elasticloadbalancing:ModifyCapacityReservation",
      "elasticloadbalancing:ModifyIpPools",
    ]
    resources = ["${local.elb_arn_prefix}:*"]

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/${local.elbv2_cluster_tag}"
      values   = [var.cluster_name]
    }
  }

  # Pod addresses into its own target groups only.
  statement {
    sid       = "RegisterTargetsInOwnTargetGroups"
    actions   = ["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"]
    resources = ["${local.elb_arn_prefix}:targetgroup/*/*"]

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/${local.elbv2_cluster_tag}"
      values   = [var.cluster_name]
    }
  }

  statement {
    sid = "ModifyListenersAndRules"
    actions = [
      "elasticloadbalancing:ModifyListener",
      "elasticloadbalancing:AddListenerCertificates",
      "elasticloadbalancing:RemoveListenerCertificates",
      "elasticloadbalancing:ModifyRule",
      "elasticloadbalancing:SetRulePriorities",
    ]
    resources = ["${local.elb_arn_prefix}:*"]
  }
}

# Inline: the policy is longer than a managed policy may be (6,144 characters).
resource "aws_iam_role_policy" "load_balancer_controller" {
  name   = "aws-load-balancer-controller"
  role   = aws_iam_role.load_balancer_controller.id
  policy = data.aws_iam_policy_document.load_balancer_controller.json
}

resource "helm_release" "aws_load_balancer_controller" {
  name       = "aws-load-balancer-controller"
  namespace  = local.load_balancer_controller.namespace
  repository = "https://aws.github.io/eks-charts"
  chart      = "aws-load-balancer-controller"
  version    = var.load_balancer_controller_chart_version

  # Until the controller's pods are ready: resume.sh applies the Service right after.
  wait    = true
  timeout = 600

  # The fixed settings, then this cluster's. The pods cannot read the region and VPC from
  # the instance metadata (IMDS hop limit 1, eks.tf), so both are given.
  values = [
    file("${path.module}/values/aws-load-balancer-controller.yaml"),
    yamlencode({
      clusterName = aws_eks_cluster.tier.name
      region      = var.region
      vpcId       = aws_vpc.tier.id
      serviceAccount = {
        create = true
        name   = local.load_balancer_controller.name
        annotations = {
          "eks.amazonaws.com/role-arn" = aws_iam_role.load_balancer_controller.arn
        }
      }
    }),
  ]

  # Nodes to run on, DNS, and its permissions before its first call.
  depends_on = [
    aws_eks_node_group.tier,
    aws_eks_addon.coredns,
    aws_iam_role_policy.load_balancer_controller,
  ]
}

# --- the NLB's frontend security group ------------------------------------------------------
# Clients reach the NLB on 443 only (TLS, terminated by the NLB); the functions run outside
# any VPC with no fixed address, so from anywhere. The NLB sends to the pods' port 8080 in
# the VPC: the controller's backend group, attached beside this one, is what the nodes'
# group admits. Not tagged for the cluster: the controller neither changes nor deletes it,
# and pause.sh's sweep leaves it to `terraform destroy`.
resource "aws_security_group" "nlb" {
  #checkov:skip=CKV2_AWS_5:Attached to the tier's NLB by the AWS Load Balancer Controller, which creates that NLB from the Service in k8s/overlays/aws (annotation aws-load-balancer-security-groups names this group); Terraform never sees the attachment.
  name        = local.nlb_security_group_name
  description = "Frontend of the tier NLB: TLS on 443 in, the tier pods on 8080 out"
  vpc_id      = aws_vpc.tier.id

  tags = { Name = local.nlb_security_group_name }
}

resource "aws_vpc_security_group_ingress_rule" "nlb_tls" {
  security_group_id = aws_security_group.nlb.id
  description       = "TLS to the tier API (the Lambda functions have no fixed address)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "nlb_to_tier" {
  security_group_id = aws_security_group.nlb.id
  description       = "Traffic and health checks to the tier pods (IP targets)"
  ip_protocol       = "tcp"
  from_port         = 8080
  to_port           = 8080
  cidr_ipv4         = aws_vpc.tier.cidr_block
}
