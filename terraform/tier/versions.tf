terraform {
  required_version = ">= 1.11.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100.0, < 6.0.0"
    }
  }

  # Partial configuration, as persistent/: a different key in the same state bucket
  # (backend.hcl.example, ../README.md).
  backend "s3" {}
}
