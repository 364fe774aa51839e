"""``aep-local``: run AEP Local from a shell.

    aep-local serve [--host 127.0.0.1] [--port 8765] [--pg-port 8766] [--data-dir D] [--seed N]
    aep-local reset [--data-dir D] [--yes]

Other modules add subcommands without touching this file. A module listed in :data:`EXTENSIONS` that exists either

- defines ``register_cli(register)`` and calls ``register(name, configure, run, help="...")``, or
- defines module-level ``configure(parser)`` and ``run(args) -> int``: it becomes the subcommand named in
  :data:`EXTENSIONS` (``aep-local demo`` is ``aep_magics.local.demo``), its help the docstring's first line.

``configure(parser)`` adds arguments to the subparser; ``run(args)`` runs the command and returns the exit status.
``aep-local store`` (regenerate the sample Shopify store) is built in here on top of ``shopify.store_command`` unless
an extension registers its own. Subcommands can also be registered programmatically with :func:`register`.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import importlib.util
import logging
import os
import shutil
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_PG_PORT = 8766
DATA_ENV = "AEP_LOCAL_DATA"
#: Modules that may contribute subcommands, imported when present: module -> default subcommand name.
EXTENSIONS = {"aep_magics.local.demo": "demo", "aep_magics.local.shopify.cli": "store"}


@dataclass
class Command:
    name: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    help: str = ""


COMMANDS: dict[str, Command] = {}


def register(name: str, configure: Callable[[argparse.ArgumentParser], None],
             run: Callable[[argparse.Namespace], int], help: str = "") -> None:
    """Add (or replace) a subcommand."""
    COMMANDS[name] = Command(name, configure, run, help)


def default_data_dir() -> Path:
    """``$AEP_LOCAL_DATA``, else the per-user data folder (``~/.local/share/aep-local`` on Linux)."""
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "aep-local"


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, default=None,
                        help=f"state directory (default: ${DATA_ENV} or {default_data_dir()})")


# -- serve ------------------------------------------------------------------------------------------------------
def _configure_serve(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"interface to listen on (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 = any)")
    parser.add_argument("--pg-port", type=int, default=None,
                        help=f"port of the PostgreSQL endpoint, Query Service's interactive interface, on the same "
                             f"host (default {DEFAULT_PG_PORT}, or any free port with --port 0; 0 = any)")
    add_data_dir(parser)
    parser.add_argument("--seed", type=int, default=None,
                        help="deterministic ids, etags and clock (default: $AEP_LOCAL_SEED or random)")
    parser.add_argument("--store-orders", type=int, default=None, help="size of the sample Shopify store")
    parser.add_argument("--faults", default=None, metavar="SPEC",
                        help="inject faults, e.g. 'seed=7,429=0.05,503=0.05,drop_after=0.02' (default: $AEP_LOCAL_FAULTS;"
                             " see docs/reliability.md)")


def _pg_port(args: argparse.Namespace) -> int:
    """``--pg-port``, else :data:`DEFAULT_PG_PORT`, or any free port when ``--port`` is 0."""
    if getattr(args, "pg_port", None) is not None:
        return int(args.pg_port)
    return 0 if args.port == 0 else DEFAULT_PG_PORT


def _run_serve(args: argparse.Namespace, *, stop: threading.Event | None = None) -> int:
    from . import DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_ORG_ID, DataDirError, start
    from .faults import FaultSpecError
    from .pgwire import PgListenError, psql_command

    data_dir = args.data_dir or default_data_dir()
    try:
        server = start(data_dir=data_dir, seed=args.seed, port=args.port, host=args.host,
                       store_orders=getattr(args, "store_orders", None), faults=getattr(args, "faults", None),
                       pg_port=_pg_port(args))
    except DataDirError as exc:
        print(f"AEP Local cannot write its data dir {exc.path}: {exc.reason} — choose a writable --data-dir",
              file=sys.stderr)
        return 2
    except FaultSpecError as exc:
        print(f"AEP Local cannot use the fault spec: {exc} — see --help for --faults", file=sys.stderr)
        return 2
    except PgListenError as exc:
        print(f"AEP Local cannot listen on {exc.host}:{exc.port} for PostgreSQL: {exc.reason} — choose another "
              "--pg-port", file=sys.stderr)
        return 2
    except OSError as exc:
        if not isinstance(exc, socket.gaierror) and exc.errno not in (errno.EADDRINUSE, errno.EADDRNOTAVAIL,
                                                                      errno.EACCES):
            raise
        print(f"AEP Local cannot listen on {args.host}:{args.port}: {exc.strerror or exc} — choose another --host "
              "or --port", file=sys.stderr)
        return 2
    host, port = server.address
    bound = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    print(f"AEP Local is serving {server.url}  (listening on {bound}; data: {server.data_dir})")
    print(f"  AEP_BASE_URL={server.url} AEP_IMS_URL={server.url}")
    print(f"  AEP_CLIENT_ID={DEV_CLIENT_ID} AEP_CLIENT_SECRET={DEV_CLIENT_SECRET}")
    print(f"  AEP_ORG_ID={DEV_ORG_ID} AEP_SANDBOX=prod")
    print(f"  web console: {server.url}/console/  (sign in with the client id and secret above)")
    if server.pg_port is not None:
        pg_host = server.platform.pg_address[0]  # type: ignore[attr-defined]  # set by the PostgreSQL door
        print(f"  PostgreSQL (Query Service): {psql_command(pg_host, server.pg_port, DEV_ORG_ID)}")
        print("    password: an access token (POST /ims/token/v3 with the client id and secret above)")
    print(f"  control plane (POST, DELETE /aep-local/...): Authorization: Bearer {server.admin_token}"
          "  (or an IMS token)")
    print("Press Ctrl+C to stop.", flush=True)
    stop = stop or threading.Event()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        print("AEP Local stopped.")
    return 0


# -- reset ------------------------------------------------------------------------------------------------------
def _configure_reset(parser: argparse.ArgumentParser) -> None:
    add_data_dir(parser)
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")


def _looks_like_state(path: Path) -> bool:
    names = {p.name for p in path.iterdir()}
    return not names or any(n.startswith("state.sqlite3") for n in names)


def _run_reset(args: argparse.Namespace) -> int:
    path = (args.data_dir or default_data_dir()).expanduser()
    if not path.exists():
        print(f"Nothing to reset: {path} does not exist.")
        return 0
    if not path.is_dir() or not _looks_like_state(path):
        print(f"Refusing to reset {path}: it does not look like an AEP Local data directory "
              "(no state.sqlite3).", file=sys.stderr)
        return 2
    if not args.yes:
        answer = input(f"Delete every resource, dataset file and the sample store in {path}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("Nothing deleted.")
            return 1
    shutil.rmtree(path)
    print(f"Reset {path}.")
    return 0


register("serve", _configure_serve, _run_serve, help="run AEP Local until interrupted")
register("reset", _configure_reset, _run_reset, help="delete the state of AEP Local")


# -- store (built in, over the sample store's own generator) -------------------------------------------------------
def _configure_store(parser: argparse.ArgumentParser) -> None:
    add_data_dir(parser)
    parser.add_argument("--orders", type=int, default=None, help="number of orders to generate")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed of the store's content (default 7, the one AEP Local uses); giving it also "
                             "ends the store's history where deterministic mode's clock starts (2026-03-02 09:00 UTC)")


def _run_store(args: argparse.Namespace) -> int:
    from . import shopify

    from datetime import UTC, datetime

    from .ids import DETERMINISTIC_EPOCH_MS

    kwargs = {k: v for k, v in (("orders", args.orders), ("seed", args.seed)) if v is not None}
    # The store's history ends where the platform's clock starts: a seeded (deterministic) server wakes up at a
    # fixed instant, any other one at the wall clock.
    now_s = DETERMINISTIC_EPOCH_MS // 1000 if args.seed is not None else int(datetime.now(UTC).timestamp())
    start = datetime.fromtimestamp(now_s - now_s % 60, tz=UTC)
    return int(shopify.store_command(args.data_dir or default_data_dir(), start=start, **kwargs) or 0)


def _load_extensions() -> None:
    for name, command in EXTENSIONS.items():
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):
                continue
            raise
        hook = getattr(module, "register_cli", None)
        if callable(hook):
            hook(register)
        elif callable(getattr(module, "configure", None)) and callable(getattr(module, "run", None)):
            summary = (module.__doc__ or "").strip().splitlines()[0].replace("``", "") if module.__doc__ else ""
            summary = summary.removeprefix(f"aep-local {command}:").strip()
            register(command, module.configure, module.run, help=summary)
    if "store" not in COMMANDS and importlib.util.find_spec("aep_magics.local.shopify") is not None:
        register("store", _configure_store, _run_store, help="(re)generate the sample Shopify store")


def build_parser() -> argparse.ArgumentParser:
    _load_extensions()
    parser = argparse.ArgumentParser(prog="aep-local", description="AEP Local: Adobe Experience Platform on your "
                                     "machine, for learning and testing.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for command in COMMANDS.values():
        p = sub.add_parser(command.name, help=command.help, description=command.help)
        command.configure(p)
        p.set_defaults(_run=command.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    return int(args._run(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
