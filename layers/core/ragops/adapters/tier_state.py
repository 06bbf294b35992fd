"""Where the tier state is declared: a file under the data directory locally, an SSM
parameter in the cloud (read through Powertools Parameters with a short cache)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from ragops.domain.tier import TierState
from ragops.errors import ConfigurationError, StoreUnavailable


def _parse(value: str, where: str) -> TierState:
    try:
        return TierState(value.strip().lower())
    except ValueError as exc:
        raise ConfigurationError(
            f"{where} holds {value!r}; expected one of {[s.value for s in TierState]}"
        ) from exc


class FileTierState:
    """The state in a one-line file; a missing file means ``active`` (nothing to pause
    locally unless someone says so)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def get(self) -> TierState:
        try:
            return _parse(self.path.read_text(), str(self.path))
        except FileNotFoundError:
            return TierState.ACTIVE

    def set(self, state: TierState) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".tier-")
        with os.fdopen(fd, "w") as handle:
            handle.write(f"{TierState(state).value}\n")
        os.replace(tmp, self.path)


class SsmTierState:
    """The state in an SSM String parameter, cached for ``max_age`` seconds per process so
    the API does not call SSM on every request. A missing parameter means ``active``."""

    def __init__(self, name: str, *, client: Any | None = None, max_age: int = 5) -> None:
        self.name = name
        self.max_age = max_age
        self._client = client
        self._provider: Any | None = None

    @property
    def provider(self) -> Any:
        if self._provider is None:
            from aws_lambda_powertools.utilities.parameters import SSMProvider

            self._provider = SSMProvider(boto3_client=self._client)
        return self._provider

    def get(self) -> TierState:
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

        try:
            value = self.provider.get(self.name, max_age=self.max_age)
        except GetParameterError as exc:
            if "ParameterNotFound" in str(exc):
                return TierState.ACTIVE
            raise StoreUnavailable(f"could not read the tier state {self.name}: {exc}") from exc
        return _parse(str(value), self.name)

    def set(self, state: TierState) -> None:
        from aws_lambda_powertools.utilities.parameters.exceptions import SetParameterError

        try:
            self.provider.set(self.name, TierState(state).value, overwrite=True)
        except SetParameterError as exc:
            raise StoreUnavailable(f"could not write the tier state {self.name}: {exc}") from exc
        self.provider.clear_cache()
