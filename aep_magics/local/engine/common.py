"""What the pieces of a run share: the error a flow that cannot run fails with, the identity a mapping declares,
and epoch milliseconds as datetimes. The lowest module of the engine: it imports none of the others.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

#: Flow-run error code of a configuration error (a missing connection, dataset, schema or mapping).
CONFIG_CODE = "CONNECTOR-1001-400"


class RunSetupError(Exception):
    """The flow cannot run as configured (missing connection, dataset, schema or mapping)."""

    def __init__(self, message: str, code: str = CONFIG_CODE):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class IdentitySpec:
    namespace: str
    primary: bool
    column: str                     # the flattened output column holding the identity value


def ms_to_dt(ms: int) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(ms / 1000, tz=_dt.UTC)
