# What this root needs from persistent/ comes in as variables (kms_key_arn, tier_secret_arn,
# flow_log_group_arn, documents_bucket_name) rather than through terraform_remote_state: the
# root validates and plans without access to the other state, and scripts/tier/*.sh pass the
# values from `terraform -chdir=terraform/persistent output`.

variable "stage" {
  description = "Deployment stage (the SAM stack's Stage)."
  type        = string
  default     = "dev"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.stage))
    error_message = "stage must match ^[a-z][a-z0-9-]{1,15}$ (as the SAM template's Stage)."
  }
}

variable "region" {
  description = "AWS region of the stage (the same as persistent/ and the SAM stack)."
  type        = string
  default     = "us-east-1"
}

variable "availability_zones" {
  description = "The two AZs of the tier VPC, in var.region, named explicitly (EKS and t4g are not offered in every AZ)."
  type        = list(string)
  default     = ["us-east-1a", "us-east-1b"]

  validation {
    condition = length(var.availability_zones) == 2 && length(distinct(var.availability_zones)) == 2 && alltrue([
      for az in var.availability_zones : startswith(az, var.region)
    ])
    error_message = "availability_zones must name two distinct AZs of var.region."
  }
}

variable "kms_key_arn" {
  description = "persistent/ output kms_key_arn: encrypts the cluster's Kubernetes secrets."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "tier_secret_arn" {
  description = "persistent/ output tier_secret_arn: the only secret the tier service account may read."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$", var.tier_secret_arn))
    error_message = "tier_secret_arn must be a Secrets Manager secret ARN."
  }
}

variable "flow_log_group_arn" {
  description = "persistent/ output flow_log_group_arn: where the VPC flow logs go."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:logs:[a-z0-9-]+:[0-9]{12}:log-group:[^*]+$", var.flow_log_group_arn))
    error_message = "flow_log_group_arn must be a CloudWatch Logs log group ARN (without :*)."
  }
}

variable "documents_bucket_name" {
  description = "persistent/ output documents_bucket_name: MLflow keeps its store's copy and its artifacts under mlflow/ in it."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.documents_bucket_name))
    error_message = "documents_bucket_name must be an S3 bucket name."
  }
}

variable "cluster_name" {
  description = "EKS cluster name; the SAM stack (EksClusterName) and the scaler expect ragops-tier."
  type        = string
  default     = "ragops-tier"
}

variable "kubernetes_version" {
  description = "Kubernetes version of the cluster. It must be in EKS standard support (upgrade_policy STANDARD; extended support costs six times as much): move to the next version before this one leaves it."
  type        = string
  default     = "1.35"
}

variable "cluster_endpoint_public_access_cidrs" {
  description = "CIDRs allowed to reach the public Kubernetes API endpoint (operators, CI); never 0.0.0.0/0."
  type        = list(string)

  validation {
    condition = length(var.cluster_endpoint_public_access_cidrs) > 0 && alltrue([
      for cidr in var.cluster_endpoint_public_access_cidrs : can(cidrhost(cidr, 0)) && cidr != "0.0.0.0/0"
    ])
    error_message = "cluster_endpoint_public_access_cidrs must list at least one CIDR, and not 0.0.0.0/0."
  }
}

variable "cluster_admin_principal_arns" {
  description = "IAM principals given cluster admin (besides the principal that creates the cluster, which must not be listed)."
  type        = list(string)
  default     = []
}

variable "vpc_cidr" {
  description = "CIDR of the tier VPC (a /16 to /20: pods take VPC addresses with the VPC CNI)."
  type        = string
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && tonumber(split("/", var.vpc_cidr)[1]) <= 20
    error_message = "vpc_cidr must be a CIDR of prefix length 20 or less."
  }
}

variable "private_nodes" {
  description = "Run the nodes in the private subnets behind one NAT gateway (about 0.05 USD an hour more while the tier runs) instead of the public subnets; see network.tf."
  type        = bool
  default     = false
}

variable "node_group_name" {
  description = "Managed node group name; the SAM stack (EksNodegroupName) and the scaler expect ragops-tier-nodes."
  type        = string
  default     = "ragops-tier-nodes"
}

variable "node_instance_types" {
  description = "Instance types of the nodes (ARM, to match node_ami_type)."
  type        = list(string)
  default     = ["t4g.medium"]
}

variable "node_ami_type" {
  description = "EKS AMI type of the nodes."
  type        = string
  default     = "AL2023_ARM_64_STANDARD"
}

variable "node_capacity_type" {
  description = "ON_DEMAND, or SPOT (cheaper; Chroma's pod may then be evicted, and the tier rehydrated)."
  type        = string
  default     = "ON_DEMAND"

  validation {
    condition     = contains(["ON_DEMAND", "SPOT"], var.node_capacity_type)
    error_message = "node_capacity_type must be ON_DEMAND or SPOT."
  }
}

variable "node_desired_size" {
  description = "Nodes after a resume (the SAM stack's TierNodesDesired)."
  type        = number
  default     = 2
}

variable "node_min_size" {
  description = "Minimum node count of the node group."
  type        = number
  default     = 1
}

variable "node_max_size" {
  description = "Maximum node count of the node group."
  type        = number
  default     = 3

  validation {
    condition     = var.node_max_size >= 1
    error_message = "node_max_size must be at least 1."
  }
}

variable "node_disk_size" {
  description = "Root volume size of each node, in GiB (encrypted gp3)."
  type        = number
  default     = 20
}

variable "k8s_namespace" {
  description = "Namespace of the tier workloads (k8s/)."
  type        = string
  default     = "ragops"
}

variable "k8s_service_account" {
  description = "Service account of the tier service, the one allowed to read the tier token."
  type        = string
  default     = "ragops-tier"
}

variable "mlflow_service_account" {
  description = "Service account of the MLflow tracking server (k8s/base/mlflow.yaml), the one allowed under mlflow/ in the documents bucket."
  type        = string
  default     = "mlflow"
}

variable "load_balancer_controller_chart_version" {
  description = "Version of the aws-load-balancer-controller chart (https://aws.github.io/eks-charts; chart and controller versions are the same from 3.0). The IAM policy in load_balancer_controller.tf follows this version's: compare it with the new version's docs/install/iam_policy.json before raising this, and apply the new chart's CRDs on a live cluster (a new cluster gets them with the chart)."
  type        = string
  default     = "3.5.0"
}
