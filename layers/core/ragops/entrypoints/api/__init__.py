"""The HTTP API (FastAPI): ``create_app`` in ``app.py``, a router per resource in
``routers/``, dependencies (the container, the caller's tenant) in ``deps.py``, the error
table in ``errors.py`` and the bodies in ``schemas.py``."""

from ragops.entrypoints.api.app import create_app

__all__ = ["create_app"]
