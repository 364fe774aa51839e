"""The platform: one state (store, clock, ids, data lake folder) shared by every service and every front door."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Protocol

from .ids import Clock, Ids
from .store import Store, Tenant

#: Well-known development credentials, Azurite-style: they work out of the box and are documented in the README.
DEV_CLIENT_ID = "aep-local-dev"
DEV_CLIENT_SECRET = "aep-local-dev-secret"
DEV_ORG_ID = "AEPLOCAL000000000000000@AdobeOrg"
TENANT_ID = "aeplocal"
DEFAULT_SANDBOX = "prod"


class FlowScheduler(Protocol):
    """What the services tell the engine's scheduler about (``Platform.scheduler``)."""

    def flow_changed(self, tenant: Tenant, flow_id: str) -> None: ...

    def run_requested(self, tenant: Tenant, run_id: str) -> None: ...


class Platform:
    """Everything AEP Local knows, rooted at ``data_dir``."""

    def __init__(self, data_dir: Path | str, seed: int | None = None):
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if seed is None and os.environ.get("AEP_LOCAL_SEED"):
            seed = int(os.environ["AEP_LOCAL_SEED"])
        self.seed = seed
        self.store = Store(self.data_dir / "state.sqlite3")
        # A seeded platform reopened on existing state must not replay the ids it already handed out: mix the
        # store's sequence number into the seed (a fresh data dir keeps the plain seed, so runs stay reproducible).
        self.ids = Ids(seed if seed is None or self.store._seq == 0 else seed * 1_000_003 + self.store._seq)
        self.clock = Clock(deterministic=seed is not None)
        saved = self.store.get_meta("clock")
        if saved is not None:
            self.clock.set_offset(int(saved))
        if seed is not None and self.store._seq:
            # ... and its deterministic clock resumes after the newest stored resource instead of going back.
            latest = self.store._conn().execute("SELECT COALESCE(MAX(updated), 0) FROM resources").fetchone()[0]
            self.clock.set_offset(int(latest))
        self.tenant_id = TENANT_ID
        #: Set by the engine: gets ``flow_changed(tenant, flow_id)`` and ``run_requested(tenant, run_id)`` calls.
        self.scheduler: FlowScheduler | None = None
        #: Options of the sample store: ``orders`` (set by ``local.start(store_orders=N)``) sizes its first generation.
        self.shop_options: dict = {}
        #: Set by ``local.start``: the server's own URL, for the links in run manifests (engine/runner.py).
        self.base_url: str | None = None
        #: Set by the PostgreSQL door (``pgwire.PgServer.start``): the (host, port) ``connection_parameters`` reports;
        #: None without a door.
        self.pg_address: tuple[str, int] | None = None

    @property
    def lake_dir(self) -> Path:
        """Root of the data lake (Parquet batch files)."""
        return self.data_dir / "lake"

    @cached_property
    def shop(self):
        """The sample Shopify store behind the Shopify connection spec, generated on first use so that its
        history ends at the platform's "now" (data appears as the clock moves on, never ahead of it).

        Its content has a seed of its own (``shop_options["seed"]``, default the store's ``DEFAULT_SEED``), apart
        from the platform's id seed: notebooks that sign in with different seeds on one data dir share one store."""
        from datetime import UTC, datetime

        from .shopify import default_store
        from .shopify.store import DEFAULT_ORDERS, DEFAULT_SEED

        seed = int(self.shop_options.get("seed", DEFAULT_SEED))
        now_s = self.clock.peek_ms() // 1000
        start = datetime.fromtimestamp(now_s - now_s % 60, tz=UTC)
        return default_store(self.data_dir, seed=seed, orders=int(self.shop_options.get("orders") or DEFAULT_ORDERS),
                             start=start)

    def save_clock(self) -> None:
        self.store.set_meta("clock", str(self.clock.offset_ms))

    def close(self) -> None:
        self.store.close()
