output "cluster_name" {
  description = "EKS cluster name (aws eks update-kubeconfig --name)."
  value       = aws_eks_cluster.tier.name
}

output "cluster_arn" {
  description = "EKS cluster ARN."
  value       = aws_eks_cluster.tier.arn
}

output "cluster_endpoint" {
  description = "Kubernetes API endpoint."
  value       = aws_eks_cluster.tier.endpoint
}

output "node_group_name" {
  description = "Managed node group the scaler resizes (SAM EksNodegroupName)."
  value       = aws_eks_node_group.tier.node_group_name
}

output "oidc_provider_arn" {
  description = "IAM OIDC provider of the cluster (IRSA)."
  value       = aws_iam_openid_connect_provider.eks.arn
}

output "tier_role_arn" {
  description = "IRSA role of ServiceAccount ragops/ragops-tier (annotation eks.amazonaws.com/role-arn)."
  value       = aws_iam_role.tier.arn
}

output "mlflow_role_arn" {
  description = "IRSA role of ServiceAccount ragops/mlflow (k8s/ params.env mlflowRoleArn): mlflow/ in the documents bucket."
  value       = aws_iam_role.mlflow.arn
}

output "ebs_csi_role_arn" {
  description = "IRSA role of the EBS CSI driver controller."
  value       = aws_iam_role.ebs_csi.arn
}

output "vpc_id" {
  description = "The tier VPC."
  value       = aws_vpc.tier.id
}

output "vpc_cidr" {
  description = "CIDR of the tier VPC (k8s/ NetworkPolicy placeholder)."
  value       = aws_vpc.tier.cidr_block
}

output "public_subnet_ids" {
  description = "Public subnets (internet-facing load balancers; the nodes unless private_nodes)."
  value       = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  description = "Private subnets (EKS control-plane network interfaces; the nodes with private_nodes)."
  value       = aws_subnet.private[*].id
}

output "k8s_namespace" {
  description = "Namespace of the tier workloads."
  value       = var.k8s_namespace
}

output "k8s_service_account" {
  description = "Service account bound to tier_role_arn."
  value       = var.k8s_service_account
}

output "load_balancer_controller_role_arn" {
  description = "IRSA role of the AWS Load Balancer Controller (kube-system/aws-load-balancer-controller)."
  value       = aws_iam_role.load_balancer_controller.arn
}

output "nlb_security_group_id" {
  description = "Frontend security group of the tier's NLB (named by its Name tag in k8s/overlays/aws)."
  value       = aws_security_group.nlb.id
}
