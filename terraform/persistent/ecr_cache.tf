# Pull-through caches for the tier's third-party images, kept while the tier is paused. Every
# resume starts new nodes that pull Chroma and Redis afresh: from ECR they come from the
# region (no Docker Hub pull-rate limit shared behind the NAT, no outage of another registry
# stopping a resume), and each image is fetched upstream once and then served from the cache.
#
# - Redis: Docker's official image as mirrored on ECR Public (public.ecr.aws/docker/library/
#   redis), which needs no credentials.
# - Chroma (chromadb/chroma) is on Docker Hub, whose pull-through rules need a Docker Hub
#   account: create a Secrets Manager secret named "ecr-pullthroughcache/<anything>" holding
#   {"username": "...", "accessToken": "..."} and set docker_hub_credentials_secret_arn. Left
#   empty, Chroma is pulled from Docker Hub directly.
#
# The cached repositories are created by the first pull (the nodes may: terraform/tier,
# eks.tf, node_image_cache) and follow the creation template below.
locals {
  image_cache_prefix = "ragops-${var.stage}"
}

resource "aws_ecr_pull_through_cache_rule" "ecr_public" {
  ecr_repository_prefix = "${local.image_cache_prefix}-ecr-public"
  upstream_registry_url = "public.ecr.aws"
}

resource "aws_ecr_pull_through_cache_rule" "docker_hub" {
  count = var.docker_hub_credentials_secret_arn == "" ? 0 : 1

  ecr_repository_prefix = "${local.image_cache_prefix}-docker-hub"
  upstream_registry_url = "registry-1.docker.io"
  credential_arn        = var.docker_hub_credentials_secret_arn
}

# What a cached repository is made with: scanned on push, and only the images of the last
# few tags kept (a resume pulls one tag of each).
resource "aws_ecr_repository_creation_template" "image_cache" {
  for_each = toset(concat(
    [aws_ecr_pull_through_cache_rule.ecr_public.ecr_repository_prefix],
    aws_ecr_pull_through_cache_rule.docker_hub[*].ecr_repository_prefix,
  ))

  prefix               = each.value
  description          = "Images the tier pulls through the cache ${each.value}"
  applied_for          = ["PULL_THROUGH_CACHE"]
  image_tag_mutability = "MUTABLE"

  encryption_configuration {
    encryption_type = "AES256"
  }

  lifecycle_policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Keep the images of the last ${var.ecr_keep_images} pulls"
        selection = {
          tagStatus   = "any"
          countType   = "imageCountMoreThan"
          countNumber = var.ecr_keep_images
        }
        action = { type = "expire" }
      },
    ]
  })
}
