"""The served copies of models the product trains, in the object store.

The MLflow registry is the record of every trained version (run, figures, artifacts);
promotion also copies the champion's files here, under ``models/{name}/v{version}/``, with
``models/{name}/champion.json`` naming it. Whatever serves the model (the embedded cache,
the tier service) reads it from here: one small GET, no MLflow in the serving process.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragops.domain import keys
from ragops.errors import ObjectNotFound
from ragops.ports import ObjectStore


@dataclass(frozen=True)
class ServedModel:
    """A published version: its files and what it was promoted with (threshold, figures)."""

    name: str
    version: int
    files: tuple[str, ...]
    metadata: dict[str, Any] = field(default_factory=dict)


class ServedModels:
    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def publish(self, model: ServedModel, folder: Path) -> None:
        """Copies the files from ``folder``, then names the version champion (in that order:
        a reader never finds a champion whose files are not there yet)."""
        for name in model.files:
            self.store.put(
                keys.served_model_file_key(model.name, model.version, name),
                (folder / name).read_bytes(),
            )
        record = {"version": model.version, "files": list(model.files), **model.metadata}
        self.store.put(
            keys.served_model_champion_key(model.name),
            json.dumps(record, sort_keys=True).encode(),
            "application/json",
        )

    def champion(self, name: str) -> ServedModel | None:
        try:
            record = json.loads(self.store.get(keys.served_model_champion_key(name)))
        except ObjectNotFound:
            return None
        version = int(record.pop("version"))
        files = tuple(record.pop("files"))
        return ServedModel(name, version, files, record)

    def fetch(self, model: ServedModel, folder: Path) -> Path:
        """The version's files in ``folder`` (downloaded unless already there)."""
        folder.mkdir(parents=True, exist_ok=True)
        for name in model.files:
            target = folder / name
            if not target.exists():
                data = self.store.get(keys.served_model_file_key(model.name, model.version, name))
                partial = target.with_suffix(target.suffix + ".part")
                partial.write_bytes(data)
                partial.replace(target)
        return folder
