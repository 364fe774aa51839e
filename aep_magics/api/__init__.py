"""Thin typed wrappers, one per AEP service, bundled by :class:`AEPClient`. Every method returns plain JSON."""

from __future__ import annotations

from ..http import AEPSession
from .catalog import Catalog
from .dataaccess import DataAccess
from .dataprep import DataPrep
from .flowservice import FlowService
from .queryservice import QueryService
from .sandboxes import Sandboxes
from .schemaregistry import SchemaRegistry

__all__ = ["AEPClient", "Catalog", "DataAccess", "DataPrep", "FlowService", "QueryService", "Sandboxes", "SchemaRegistry"]


class AEPClient:
    """Every service for one :class:`~aep_magics.http.AEPSession`."""

    def __init__(self, session: AEPSession):
        self.session = session
        self.flow = FlowService(session)
        self.schemas = SchemaRegistry(session)
        self.catalog = Catalog(session)
        self.dataprep = DataPrep(session)
        self.data = DataAccess(session)
        self.sandboxes = Sandboxes(session)
        self.query = QueryService(session)

    def __repr__(self) -> str:
        return f"<AEPClient {self.session!r}>"
