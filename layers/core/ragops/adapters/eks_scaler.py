"""The tier's node group on EKS, scaled through an injected boto3 ``eks`` client."""

from __future__ import annotations

import logging
from typing import Any

from ragops.domain.tier import NodeGroup
from ragops.errors import TierUnavailable

logger = logging.getLogger(__name__)


class EksNodeGroupScaler:
    """A ``NodeGroupScaler`` over ``UpdateNodegroupConfig``: zero nodes also means a
    minimum of zero, any other size a minimum of one."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def set_nodes(self, group: NodeGroup, desired: int) -> int | None:
        try:
            self.client.update_nodegroup_config(
                clusterName=group.cluster,
                nodegroupName=group.name,
                scalingConfig={
                    "minSize": 0 if desired == 0 else 1,
                    "maxSize": max(group.maximum, 1),
                    "desiredSize": desired,
                },
            )
        except Exception as exc:  # botocore's ClientError and transport errors
            code = getattr(exc, "response", {}).get("Error", {}).get("Code")
            if code == "ResourceNotFoundException":
                logger.warning(
                    "tier cluster %s/%s not found; nothing to scale", group.cluster, group.name
                )
                return None
            raise TierUnavailable(f"could not scale the tier node group: {exc}") from exc
        return desired
