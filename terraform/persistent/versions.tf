terraform {
  # 1.11: write-only arguments (the tier token never lands in the state, see secrets.tf).
  required_version = ">= 1.11.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100.0, < 6.0.0"
    }
  }

  # Partial configuration: the bucket, key and region come from `terraform init
  # -backend-config=backend.hcl` (see backend.hcl.example and ../README.md). The state
  # bucket is created once, by hand, outside Terraform: versioned, encrypted, no public access.
  backend "s3" {}
}
