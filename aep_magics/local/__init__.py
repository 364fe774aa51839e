"""AEP Local: a faithful, self-contained Adobe Experience Platform for learning and testing, on loopback HTTP.

    from aep_magics import local
    with local.start(seed=42) as aep:          # a temporary platform, removed on stop
        profile = aep.profile()                  # dev credentials, base_url = ims_url = aep.url
        ...

One state (a SQLite store in ``data_dir``), one threaded HTTP server, the services of the
AEP APIs (https://developer.adobe.com/experience-platform-apis/) behind the
gateway checks. The well-known development credentials (``platform.DEV_*``) work out of the box. Importing this
package is light: the server, pandas and pyarrow load when something needs them.

What changes the control plane (``POST /aep-local/clock`` ...) takes an IMS token of AEP Local or
``server.admin_token``; requests a web page could send (foreign ``Origin`` or ``Host``) are refused.
"""

from __future__ import annotations

import importlib
import ipaddress
import logging
import secrets
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .platform import DEFAULT_SANDBOX, DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_ORG_ID, Platform

if TYPE_CHECKING:  # pragma: no cover
    from ..config import Profile
    from .server import App, ServerThread

__all__ = ["start", "dev_profile", "LocalServer", "DataDirError", "DEV_CLIENT_ID", "DEV_CLIENT_SECRET", "DEV_ORG_ID"]

log = logging.getLogger("aep_magics.local")

#: Optional module that runs flows: ``attach(platform)`` when it defines one, else ``Scheduler(platform).start()``.
SCHEDULER_MODULE = "aep_magics.local.engine.scheduler"


class DataDirError(OSError):
    """AEP Local cannot create or write its data dir (``.path``; ``.reason`` says why)."""

    def __init__(self, path: Path, reason: str):
        super().__init__(f"AEP Local cannot write its data dir {path}: {reason} — choose a writable data dir")
        self.path = path
        self.reason = reason


class LocalServer:
    """A running AEP Local: ``.url``, ``.port``, ``.data_dir``, ``.platform``; ``.profile()``; ``.stop()``;
    ``.address`` (the address and port it is bound to) and ``.admin_token`` (the credential of the control plane,
    besides an IMS token of AEP Local)."""

    def __init__(self, platform: Platform, app: App, thread: ServerThread, *, temporary: bool):
        self.platform = platform
        self.app = app
        self._thread = thread
        self._temporary = temporary
        self._stopped = False
        self.port: int = thread.port
        self.address: tuple[str, int] = (thread.address, thread.port)
        self.admin_token: str = app.admin_token
        self.faults: Any = None  # the FaultInjector in front of the app (aep_magics.local.faults)
        #: The PostgreSQL door (aep_magics.local.pgwire.PgServer) and its port; None when started with pg_port=None.
        self.pg: Any = None
        self.pg_port: int | None = None
        host = thread.host
        if host in ("0.0.0.0", ""):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        self.url = f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.platform.data_dir

    def profile(self, sandbox: str = DEFAULT_SANDBOX, *, name: str = "aep-local") -> Profile:
        """An :class:`aep_magics.config.Profile` for this server with the well-known dev credentials."""
        return dev_profile(self.url, sandbox, name=name)

    def stop(self) -> None:
        """Stop serving, stop the scheduler (if any), and remove a temporary data dir."""
        if self._stopped:
            return
        self._stopped = True
        if self.pg is not None:
            self.pg.stop()
        scheduler = self.platform.scheduler
        stop = getattr(scheduler, "stop", None) if scheduler is not None else None
        if callable(stop):
            try:
                stop()
            except Exception:  # noqa: BLE001 - stopping must finish
                log.exception("scheduler did not stop cleanly")
        self._thread.stop()
        for service in self.app.services:  # e.g. the Query Service's DuckDB databases
            close = getattr(service, "close", None)
            if callable(close):
                try:
                    close()
                except Exception:  # noqa: BLE001 - stopping must finish
                    log.exception("%s did not close cleanly", type(service).__name__)
        self.platform.close()
        if self._temporary:
            shutil.rmtree(self.platform.data_dir, ignore_errors=True)

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "stopped" if self._stopped else "running"
        return f"<LocalServer {self.url} data_dir={str(self.data_dir)!r} {state}>"


def start(data_dir: str | Path | None = None, seed: int | None = None, port: int = 0, host: str = "127.0.0.1",
          store_orders: int | None = None, *, scheduler: bool = True, faults: str | None = None,
          pg_port: int | None = 0) -> LocalServer:
    """Start AEP Local on ``host:port`` (port 0 = any free port) over the state in ``data_dir``.

    ``data_dir=None`` uses a temporary directory removed on :meth:`LocalServer.stop`. With ``seed`` (or
    ``AEP_LOCAL_SEED``) ids, etags and timestamps are reproducible run to run. ``store_orders`` sizes the sample
    Shopify store. ``scheduler=False`` leaves flows unscheduled (runs stay ``scheduled``; nothing executes).
    ``faults`` (or ``AEP_LOCAL_FAULTS``) turns on fault injection, e.g. ``"seed=7,503=0.05,drop_after=0.02"``
    (see :mod:`aep_magics.local.faults`; ``server.faults`` is the injector, ``GET /aep-local/faults`` its counters).

    ``pg_port`` is the port of the PostgreSQL door (Query Service's interactive interface, on the same host; 0 = any
    free port, None = no door): ``server.pg_port``; :mod:`aep_magics.local.pgwire`.

    A data dir that cannot be created or written raises :class:`DataDirError`. A ``host`` other than a loopback
    address logs a warning: the development credentials are well known.
    """
    from . import gateway
    from .faults import FaultInjector, from_env
    from .server import App, ServerThread

    temporary = data_dir is None
    path = Path(tempfile.mkdtemp(prefix="aep-local-")) if data_dir is None else Path(data_dir).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
        platform = Platform(path, seed=seed)
    except (OSError, sqlite3.Error) as exc:
        raise DataDirError(path, _reason(exc)) from None
    try:
        if store_orders is not None:
            platform.shop_options["orders"] = store_orders
        try:
            gateway.ensure_dev_client(platform)
        except sqlite3.OperationalError as exc:
            raise DataDirError(path, _reason(exc)) from None
        app = App(platform, admin_token=secrets.token_urlsafe(32))
        if scheduler:
            _attach_scheduler(platform)
        injector = FaultInjector(app, from_env(faults), authorize=app.authorize_control)
        thread = ServerThread(injector, host, port)
    except BaseException:
        platform.close()
        if temporary:
            shutil.rmtree(path, ignore_errors=True)
        raise
    pg = None
    if pg_port is not None:
        from .pgwire import PgServer

        try:
            pg = PgServer(platform, app.services, host, pg_port)
        except BaseException:
            thread.server.server_close()
            platform.close()
            if temporary:
                shutil.rmtree(path, ignore_errors=True)
            raise
    thread.start()
    server = LocalServer(platform, app, thread, temporary=temporary)
    server.faults = injector
    if pg is not None:
        server.pg = pg.start()
        server.pg_port = pg.port
    platform.base_url = server.url  # engine: the server's own links in run manifests (engine/runner.py)
    log.info("AEP Local serving %s (data %s)", server.url, path)
    if not _loopback(thread.address):
        log.warning("AEP Local listens on %s:%d, reachable from other machines, and its development credentials "
                    "(%s / %s) are public: anyone who can reach it can read and change its data. Serve on "
                    "127.0.0.1 unless you mean it.", thread.address, thread.port, DEV_CLIENT_ID, DEV_CLIENT_SECRET)
    return server


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False


def _reason(exc: BaseException) -> str:
    """Why a data dir cannot be used, in a few words (``Permission denied``, ``Not a directory: '/x'``)."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename!r}" if exc.filename else exc.strerror
    return str(exc)


def _attach_scheduler(platform: Platform) -> None:
    try:
        module = importlib.import_module(SCHEDULER_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name and SCHEDULER_MODULE.startswith(exc.name):
            return
        raise
    if platform.scheduler is not None:
        return
    attach = getattr(module, "attach", None)
    if callable(attach):
        attach(platform)
    elif hasattr(module, "Scheduler"):
        platform.scheduler = module.Scheduler(platform).start()


def dev_profile(url: str, sandbox: str = DEFAULT_SANDBOX, *, name: str = "aep-local") -> Profile:
    """A profile with the well-known dev credentials for the AEP Local serving at ``url``
    (e.g. one started by ``aep-local serve`` or named by ``AEP_LOCAL_URL``)."""
    from ..auth import Secret
    from ..config import Profile

    return Profile(name=name, base_url=url.rstrip("/"), ims_url=url.rstrip("/"), org_id=DEV_ORG_ID, sandbox=sandbox,
                   client_id=DEV_CLIENT_ID, client_secret=Secret(DEV_CLIENT_SECRET))
