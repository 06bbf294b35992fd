"""SnapStart runtime hooks of the API function.

With SnapStart, Lambda runs the function's initialisation once per published version,
snapshots the execution environment, and starts new environments from that snapshot. A
cold start then costs the restore, not the imports. ``register_api_hooks`` (called by
``functions/api/app.py``) asks the runtime to run, before the snapshot:

- ``prepare_snapshot``: import FastAPI and build the app and the container, and build the
  AWS clients the configuration uses (botocore's service models and endpoint rules are
  most of a client's cost). No request is sent: a connection opened now would be dead
  after the restore, and a value read now (the tier's state, its token) could be stale.

and after each restore:

- ``after_restore``: reseed what every environment restored from one snapshot would
  otherwise share (Python's ``random`` state; ``uuid4`` and ``secrets`` read the OS), and
  read the pipeline registry's champion again: a snapshot lives as long as its function
  version, and a champion promoted since must not wait for the next deployment. When it
  changed, the container and app are dropped and the first request builds them anew
  (the slow path, once); when the registry cannot be read, the snapshot's is kept.

Outside Lambda, or without SnapStart, nothing calls the hooks and registering them costs
an import of the runtime's small ``snapshot_restore_py`` (absent: nothing is registered).
"""

from __future__ import annotations

import random

from ragops.bootstrap import champion_reader
from ragops.entrypoints.lambdas import api_app, container, logger, use_container
from ragops.services.pipeline import served_settings
from ragops.settings import Settings


def prepare_snapshot() -> None:
    """Everything a first request would build, built before the snapshot: the app, the
    container, and each AWS client the configuration uses, through the adapters that
    own them (each builds its client with its own timeouts and retries)."""
    c = container()
    api_app()
    s = c.settings
    built = []
    if s.object_store == "s3":
        built.append(c.store.client)
    if s.tier_state_source == "ssm":
        built.append(c.tier_state.provider)
    if s.tier_url:
        built.append(c.tier_token_source)  # the Secrets Manager client, when it is one
    if s.embedder == "bedrock":
        built.append(c.embedder.client)
    if s.llm == "bedrock":
        built.append(getattr(c.chat_model, "client", None))
    if c.reranker is not None:
        built.append(c.reranker.client)
    logger.info("snapshot prepared", extra={"clients": len(built)})


def after_restore() -> None:
    """What each restored environment must not share with its siblings, or must not
    take from the snapshot unchecked."""
    random.seed()
    changed = champion_changed()
    if changed:
        use_container(None)
    logger.info("restored from snapshot", extra={"champion_changed": changed})


def champion_changed() -> bool:
    """Whether the registry's champion now differs from the one the snapshot serves."""
    base = Settings()
    reader = champion_reader(base)
    if reader is None:
        return False
    _, now = served_settings(base, reader)
    if now.degraded:
        return False  # unreadable now: the snapshot's champion was valid when published
    then = container().served_pipeline
    return (now.source, now.version) != (then.source, then.version)


def register_api_hooks() -> bool:
    """Registers the hooks with the runtime; False where the runtime library is absent."""
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:
        return False
    register_before_snapshot(prepare_snapshot)
    register_after_restore(after_restore)
    return True
