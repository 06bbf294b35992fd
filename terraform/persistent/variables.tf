variable "stage" {
  description = "Deployment stage (the SAM stack's Stage): names the bucket, secret and SSM parameter."
  type        = string
  default     = "dev"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.stage))
    error_message = "stage must match ^[a-z][a-z0-9-]{1,15}$ (as the SAM template's Stage)."
  }
}

variable "region" {
  description = "AWS region of the stage (the same as the SAM stack and the tier)."
  type        = string
  default     = "us-east-1"
}

variable "documents_bucket_name" {
  description = "Name of the documents bucket; null for ragops-<stage>-documents-<account id>."
  type        = string
  default     = null

  validation {
    condition     = var.documents_bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,49}[a-z0-9]$", var.documents_bucket_name))
    error_message = "documents_bucket_name must be a valid S3 bucket name of at most 51 characters (the access-log bucket appends -access-logs)."
  }
}

variable "upload_cors_origins" {
  description = "Origins of the web UI (https://host, no path: the API's invoke URL host, or its custom domain) whose browsers may POST files straight to the documents bucket with a presigned POST, and read a cited document through a presigned GET. Empty: no CORS rule (the UI then cannot open originals stored on S3)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for origin in var.upload_cors_origins : can(regex("^https://[A-Za-z0-9.-]+(:[0-9]+)?$", origin))])
    error_message = "upload_cors_origins must be origins such as https://abc123.execute-api.us-east-1.amazonaws.com (https, no path, no wildcard)."
  }
}

variable "raw_archive_after_days" {
  description = "Days after which uploaded originals under raw/ move to the archive storage class."
  type        = number
  default     = 90

  validation {
    condition     = var.raw_archive_after_days >= 30
    error_message = "raw_archive_after_days must be at least 30."
  }
}

variable "raw_archive_storage_class" {
  description = "Storage class for old originals: GLACIER_IR keeps them readable at once (re-ingestion); GLACIER needs a restore first."
  type        = string
  default     = "GLACIER_IR"

  validation {
    condition     = contains(["GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"], var.raw_archive_storage_class)
    error_message = "raw_archive_storage_class must be GLACIER_IR, GLACIER or DEEP_ARCHIVE."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which replaced or deleted object versions are removed."
  type        = number
  default     = 30
}

variable "conversation_retention_days" {
  description = "Days a conversation is kept after its last turn (the API's ConversationRetentionDays)."
  type        = number
  default     = 30

  validation {
    condition     = var.conversation_retention_days >= 1
    error_message = "conversation_retention_days must be 1 or more."
  }
}

variable "access_log_expiration_days" {
  description = "Days the documents bucket's S3 server access logs are kept."
  type        = number
  default     = 365
}

variable "ecr_repository_name" {
  description = "ECR repository of the tier service image."
  type        = string
  default     = "ragops-tier"
}

variable "ecr_keep_images" {
  description = "How many tagged tier images the ECR lifecycle policy keeps (older ones expire)."
  type        = number
  default     = 10

  validation {
    condition     = var.ecr_keep_images >= 1
    error_message = "ecr_keep_images must be at least 1."
  }
}

variable "tier_token_version" {
  description = "Version of the tier bearer token: raise it by one to generate and store a new token (rotation)."
  type        = number
  default     = 1
}

variable "tier_cluster_name" {
  description = "Name of the tier's EKS cluster (tier/ var.cluster_name): names its control-plane log group."
  type        = string
  default     = "ragops-tier"
}

variable "control_plane_log_retention_days" {
  description = "Retention of the EKS control-plane logs (the audit log is most of their volume)."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.control_plane_log_retention_days)
    error_message = "control_plane_log_retention_days must be a retention CloudWatch Logs accepts."
  }
}

variable "log_retention_days" {
  description = "Retention of the tier's VPC flow logs (the control plane's: control_plane_log_retention_days)."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch Logs accepts."
  }
}

variable "docker_hub_credentials_secret_arn" {
  description = "Secrets Manager secret (named ecr-pullthroughcache/...) with Docker Hub credentials, for caching Chroma's image through ECR; empty: Chroma is pulled from Docker Hub directly."
  type        = string
  default     = ""

  validation {
    condition     = var.docker_hub_credentials_secret_arn == "" || can(regex("^arn:[^:]+:secretsmanager:[^:]+:[0-9]{12}:secret:ecr-pullthroughcache/", var.docker_hub_credentials_secret_arn))
    error_message = "ECR only takes pull-through credentials from a secret named ecr-pullthroughcache/..."
  }
}
