"""The Lambda functions' AWS side under moto (S3, SSM, EKS) with embedded Chroma as the
tier: one container that every handler in ``functions/`` uses, as on Lambda."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

from ragops.bootstrap import Container, build_container
from ragops.entrypoints import lambdas
from ragops.settings import Settings

BUCKET = "ragops-documents-test"


@contextmanager
def cloud_container(
    data_dir: Path, *, embedder: Any, chat_model: Any, chroma_client: Any, **settings: Any
) -> Iterator[Container]:
    """A container over moto's S3 bucket ``BUCKET``, the tier state in SSM and an EKS
    cluster with one node group (2 nodes), installed as the handlers' container. The
    container also carries its ``s3`` and ``eks`` clients. ``settings`` override the
    defaults."""
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        eks = boto3.client("eks", region_name="us-east-1")
        eks.create_cluster(
            name="ragops-tier",
            roleArn="arn:aws:iam::123456789012:role/eks",
            resourcesVpcConfig={"subnetIds": ["subnet-1", "subnet-2"]},
        )
        eks.create_nodegroup(
            clusterName="ragops-tier",
            nodegroupName="ragops-tier-nodes",
            nodeRole="arn:aws:iam::123456789012:role/nodes",
            subnets=["subnet-1"],
            scalingConfig={"minSize": 1, "maxSize": 3, "desiredSize": 2},
        )
        defaults: dict[str, Any] = {
            "data_dir": data_dir,
            "object_store": "s3",
            "s3_bucket": BUCKET,
            "tier_state_source": "ssm",
            "tier_state_parameter": "/ragops/test/tier-state",
            "tier_state_cache_seconds": 0,
            "ingest_mode": "async",
            "min_relevance": 0.1,
        }
        container = build_container(
            Settings(**{**defaults, **settings}),
            embedder=embedder,
            chat_model=chat_model,
            chroma_client=chroma_client,
            aws_clients={"s3": s3, "ssm": boto3.client("ssm", region_name="us-east-1"), "eks": eks},
        )
        lambdas.use_container(container)
        container.eks = eks
        container.s3 = s3
        try:
            yield container
        finally:
            lambdas.use_container(None)
