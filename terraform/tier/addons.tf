# EKS managed add-ons, at the default version for the cluster's Kubernetes version.
# vpc-cni and kube-proxy are DaemonSets the nodes need to become Ready, so they come before
# the node group; CoreDNS, the EBS CSI driver and metrics-server run as Deployments and need
# the nodes. (The AWS Load Balancer Controller is no EKS add-on: load_balancer_controller.tf.)

resource "aws_eks_addon" "vpc_cni" {
  cluster_name                = aws_eks_cluster.tier.name
  addon_name                  = "vpc-cni"
  service_account_role_arn    = aws_iam_role.vpc_cni.arn
  resolve_conflicts_on_create = "OVERWRITE"
  resolve_conflicts_on_update = "OVERWRITE"

  # Enforce NetworkPolicy objects (k8s/ ships one): without this the VPC CNI ignores them.
  configuration_values = jsonencode({
    enableNetworkPolicy = "true"
  })
}

resource "aws_eks_addon" "kube_proxy" {
  cluster_name                = aws_eks_cluster.tier.name
  addon_name                  = "kube-proxy"
  resolve_conflicts_on_create = "OVERWRITE"
  resolve_conflicts_on_update = "OVERWRITE"
}

resource "aws_eks_addon" "coredns" {
  cluster_name                = aws_eks_cluster.tier.name
  addon_name                  = "coredns"
  resolve_conflicts_on_create = "OVERWRITE"
  resolve_conflicts_on_update = "OVERWRITE"

  depends_on = [aws_eks_node_group.tier]
}

resource "aws_eks_addon" "ebs_csi" {
  cluster_name                = aws_eks_cluster.tier.name
  addon_name                  = "aws-ebs-csi-driver"
  service_account_role_arn    = aws_iam_role.ebs_csi.arn
  resolve_conflicts_on_create = "OVERWRITE"
  resolve_conflicts_on_update = "OVERWRITE"

  depends_on = [aws_eks_node_group.tier]
}

# metrics-server (an EKS community add-on): the resource metrics API that the tier's
# HorizontalPodAutoscaler (k8s/base/tier.yaml, CPU 70 %) reads; without it the HPA cannot
# compute a utilisation and holds its minimum of 2 pods.
resource "aws_eks_addon" "metrics_server" {
  cluster_name                = aws_eks_cluster.tier.name
  addon_name                  = "metrics-server"
  resolve_conflicts_on_create = "OVERWRITE"
  resolve_conflicts_on_update = "OVERWRITE"

  depends_on = [aws_eks_node_group.tier]
}
