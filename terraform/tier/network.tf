# --- the tier VPC: two AZs, public and private subnets, no NAT gateway by default --------
#
# Cost: a NAT gateway costs about 0.045 USD an hour (plus 0.045 USD per GB processed), one
# per AZ more than the two t4g.medium nodes together (0.067 USD an hour); nodes in private
# subnets without NAT would instead need interface endpoints for ECR (api, dkr), STS, EC2,
# Secrets Manager and CloudWatch Logs, about 0.01 USD an hour each per AZ (0.12 USD an hour
# for the 12 endpoint-AZs here). So by default
# the nodes run in the public subnets with public IPv4 addresses (0.005 USD an hour each) and
# reach AWS APIs directly. Their only security group is the EKS-managed cluster group, which
# admits its own members (control plane and nodes) and, on the tier pods' port 8080 only, the
# AWS Load Balancer Controller's backend group (load_balancer_controller.tf).
#
# Public nodes expose no port of the tier: its Service allocates no NodePort (IP targets,
# spec.allocateLoadBalancerNodePorts: false, k8s/overlays/aws), so nothing opens a node port
# to 0.0.0.0/0, as Kubernetes' built-in service controller did for an NLB with instance
# targets. var.private_nodes = true still moves the nodes to the private subnets behind a
# single NAT gateway (one AZ: if that AZ fails, the nodes lose egress), for about 0.05 USD an
# hour more while the tier runs, for those who want no public address on a node at all.
#
# The private subnets always hold the EKS control plane's network interfaces.
resource "aws_vpc" "tier" {
  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = { Name = var.cluster_name }
}

# The default security group of the VPC, stripped of every rule: nothing may use it.
resource "aws_default_security_group" "default" {
  vpc_id = aws_vpc.tier.id

  tags = { Name = "${var.cluster_name}-default-deny" }
}

resource "aws_internet_gateway" "tier" {
  vpc_id = aws_vpc.tier.id

  tags = { Name = var.cluster_name }
}

resource "aws_subnet" "public" {
  #checkov:skip=CKV_AWS_130:By default the nodes run in the public subnets to avoid a NAT gateway (see the comment above), and EKS managed node groups in public subnets need public IPs on launch; with var.private_nodes the subnets stop assigning them.
  count = 2

  vpc_id                  = aws_vpc.tier.id
  availability_zone       = local.azs[count.index]
  cidr_block              = cidrsubnet(var.vpc_cidr, 4, count.index)
  map_public_ip_on_launch = !var.private_nodes

  tags = {
    Name                                        = "${var.cluster_name}-public-${local.azs[count.index]}"
    "kubernetes.io/role/elb"                    = "1"
    "kubernetes.io/cluster/${var.cluster_name}" = "shared"
  }
}

resource "aws_subnet" "private" {
  count = 2

  vpc_id            = aws_vpc.tier.id
  availability_zone = local.azs[count.index]
  cidr_block        = cidrsubnet(var.vpc_cidr, 4, count.index + 8)

  tags = {
    Name                                        = "${var.cluster_name}-private-${local.azs[count.index]}"
    "kubernetes.io/role/internal-elb"           = "1"
    "kubernetes.io/cluster/${var.cluster_name}" = "shared"
  }
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.tier.id

  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.tier.id
  }

  tags = { Name = "${var.cluster_name}-public" }
}

resource "aws_route_table_association" "public" {
  count = 2

  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public.id
}

# Local routes, plus the NAT gateway when the nodes run here (var.private_nodes).
resource "aws_route_table" "private" {
  vpc_id = aws_vpc.tier.id

  tags = { Name = "${var.cluster_name}-private" }
}

resource "aws_eip" "nat" {
  count = var.private_nodes ? 1 : 0

  domain = "vpc"

  tags = { Name = "${var.cluster_name}-nat" }

  depends_on = [aws_internet_gateway.tier]
}

resource "aws_nat_gateway" "tier" {
  count = var.private_nodes ? 1 : 0

  allocation_id = aws_eip.nat[0].id
  subnet_id     = aws_subnet.public[0].id

  tags = { Name = var.cluster_name }

  depends_on = [aws_internet_gateway.tier]
}

resource "aws_route" "private_nat" {
  count = var.private_nodes ? 1 : 0

  route_table_id         = aws_route_table.private.id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.tier[0].id
}

resource "aws_route_table_association" "private" {
  count = 2

  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private.id
}

# --- VPC flow logs, to the KMS-encrypted log group of persistent/ ---------------------------
resource "aws_flow_log" "tier" {
  vpc_id                   = aws_vpc.tier.id
  traffic_type             = "ALL"
  log_destination_type     = "cloud-watch-logs"
  log_destination          = var.flow_log_group_arn
  iam_role_arn             = aws_iam_role.flow_logs.arn
  max_aggregation_interval = 600

  tags = { Name = var.cluster_name }
}

data "aws_iam_policy_document" "flow_logs_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["vpc-flow-logs.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:ec2:${var.region}:${local.account_id}:vpc-flow-log/*"]
    }
  }
}

resource "aws_iam_role" "flow_logs" {
  name               = "${local.iam_prefix}-flow-logs"
  assume_role_policy = data.aws_iam_policy_document.flow_logs_trust.json
}

data "aws_iam_policy_document" "flow_logs" {
  statement {
    sid       = "WriteFlowLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = [var.flow_log_group_arn, "${var.flow_log_group_arn}:*"]
  }

  statement {
    sid       = "DescribeLogGroups"
    actions   = ["logs:DescribeLogGroups"]
    resources = ["arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:*"]
  }
}

resource "aws_iam_role_policy" "flow_logs" {
  name   = "write-flow-logs"
  role   = aws_iam_role.flow_logs.id
  policy = data.aws_iam_policy_document.flow_logs.json
}
