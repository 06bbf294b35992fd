terraform {
  required_version = ">= 1.11.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100.0, < 6.0.0"
    }
    # The AWS Load Balancer Controller's chart (load_balancer_controller.tf). 2.x: the 3.x
    # provider writes its `kubernetes` and `exec` settings as attributes, not blocks.
    helm = {
      source  = "hashicorp/helm"
      version = ">= 2.17.0, < 3.0.0"
    }
  }

  # Partial configuration, as persistent/: a different key in the same state bucket
  # (backend.hcl.example, ../README.md).
  backend "s3" {}
}
