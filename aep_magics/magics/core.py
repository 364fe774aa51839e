"""The ``%aep_*`` magics: parse the line (``@magic_arguments``: usage text and parsing are one thing), read the cell
body, call an ``ops`` function, hand back its result object. Nothing else happens here.

Every magic that calls the platform takes ``-o NAME`` (store the result in the notebook; it is still displayed
unless ``-q``), ``--dry-run`` (show the request; nothing is sent, no token is fetched) and ``--curl`` (show the
equivalent cURL commands beside the result); the create magics take ``--if-exists reuse|fail``. ``{{name}}``,
``{{name.attr}}`` and ``{{name["key"]}}`` in the line or the body refer to notebook variables; in the line,
``{expr}`` is a Python value too, as in IPython's own line magics (``%aep_runs {flow.id}``); what a reference may
read (no property of an arbitrary object, no ``_`` name, never a ``Secret``) is in :mod:`aep_magics.magics.body`.
Ctrl-C ends a magic with one line saying what may already have happened: a create may have created the resource
(run the cell again with ``--if-exists reuse``), ``%aep_runs --wait`` stops waiting while the runs go on.

Settings: ``%config AEPMagics.timeout = 120`` (also ``connect_timeout``, ``display_limit``, ``widgets``,
``wait_poll_interval``, ``wait_timeout``).

This module imports only IPython, traitlets and the standard library; the client, pandas and ipywidgets load when a
magic first runs.
"""

from __future__ import annotations

import contextlib
import functools
import getpass
import keyword
import shlex
from collections.abc import Callable, Iterator
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import (
    Magics,
    cell_magic,
    line_cell_magic,
    line_magic,
    magics_class,
    no_var_expand,
)
from IPython.core.magic_arguments import argument, magic_arguments
from traitlets import Bool, Float, Int, TraitError, observe, validate
from traitlets.config import Configurable

from ..errors import AEPError, InputError, Interrupted
from . import state

IF_EXISTS_HELP = (
    "reuse: return an existing resource with the same name instead of creating one (makes a notebook safe to "
    "re-run); fail (default): send the create call and let the platform decide"
)


def _common(*, create: bool = False) -> Callable[[Any], Any]:
    """The options every API-calling magic takes (listed last in its usage)."""
    options = []
    if create:
        options.append(argument("--if-exists", choices=["reuse", "fail"], default="fail", help=IF_EXISTS_HELP))
    options += [
        argument("-o", "--output", metavar="NAME", help="store the result in the notebook variable NAME"),
        argument("--dry-run", action="store_true", help="show the request without sending it (no token is fetched)"),
        argument("--curl", action="store_true", help="also show the equivalent curl command(s)"),
        argument("-q", "--quiet", action="store_true", help="show nothing (with -o: store only)"),
    ]

    def apply(func: Any) -> Any:
        for option in reversed(options):
            func = option(func)
        return func

    return apply


def _hint(error: AEPError) -> str | None:
    """What to do about a platform error, in notebook terms."""
    name = type(error).__name__
    sandbox = state.current.profile.sandbox if state.current.profile is not None else "?"
    if error.code == "XDM-1521-400":
        return "run the cell with --if-exists reuse to use the existing schema, or give another title"
    if name == "AuthError":
        if error.status == 403:
            return f"these credentials may not reach this org or sandbox ({sandbox}): check the product profile"
        return None if "%aep_auth" in str(error) else "sign in again with %aep_auth"
    if name == "NotFoundError":
        if error.path and not error.path.startswith(("/data/", "/aep-local/", "/ims/")):
            return "platform API paths start with /data/ (e.g. /data/foundation/flowservice/flows)"
        return f"check the id, and that it lives in sandbox {sandbox} (%aep_sandbox lists them)"
    if name == "ConflictError":
        return "it exists already: --if-exists reuse uses it"
    if name == "BadRequestError":
        return "fix the request and run the cell again (--dry-run shows what is sent)"
    if name == "PreconditionFailedError":
        return "the resource changed since it was read: fetch it again"
    if name in ("RateLimitedError", "ServerError"):
        return "the platform is busy or failing: wait a moment and run the cell again"
    if name == "TransportError":
        return "check the network and the base URL (%aep_auth shows it)"
    return None


@contextlib.contextmanager
def _on_ctrl_c(outcome: str) -> Iterator[None]:
    """Ctrl-C inside ends the cell with one line, ``stopped (Ctrl-C): <outcome>``, instead of a traceback."""
    try:
        yield
    except KeyboardInterrupt:
        raise Interrupted(f"stopped (Ctrl-C): {outcome}") from None


def _may_exist(what: str) -> str:
    return (f"the {what} may have been created; run the cell again with --if-exists reuse to find it instead of "
            "creating another")


def _guard(func: Callable[..., Any]) -> Callable[..., Any]:
    """Platform errors leave a magic with one more clause: what to do next (still one line). Ctrl-C leaves it with
    one line too (:class:`~aep_magics.errors.Interrupted`); the magics that change something say what may have
    happened."""

    @functools.wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except KeyboardInterrupt:
            raise Interrupted("stopped (Ctrl-C)") from None
        except AEPError as error:
            hint = _hint(error)
            if not hint:
                raise
            raise type(error)(
                message=f"{error}; {hint}", status=error.status, code=error.code, title=error.title, detail=error.detail,
                method=error.method, path=error.path, request_id=error.request_id, body=error.body,
            ) from None

    return run


@magics_class
class AEPMagics(Magics, Configurable):
    """Adobe Experience Platform ingestion from a notebook: ``%aep_auth``, ``%%aep_source``, ``%aep_runs`` …"""

    timeout = Float(60.0, help="Seconds to wait for an answer to each call (read timeout).").tag(config=True)
    connect_timeout = Float(5.0, help="Seconds to wait for a connection to open.").tag(config=True)
    display_limit = Int(20, help="Table rows shown per page of a list result.").tag(config=True)
    widgets = Bool(True, help="Show interactive ipywidgets views (tabs, trees, progress) when available.").tag(
        config=True
    )
    wait_poll_interval = Float(
        2.0, help="Longest pause, in seconds, between polls of %aep_runs --wait (the first after 0.25 s, doubling)."
    ).tag(config=True)
    wait_timeout = Float(600.0, help="Default --timeout of %aep_runs --wait, in seconds.").tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any):
        super().__init__(shell=shell, **kwargs)  # Magics.__init__ appends self to shell.configurables
        if shell is not None and self not in getattr(shell, "configurables", [self]):
            shell.configurables.append(self)
        self._push_settings()

    # -- settings -------------------------------------------------------------------------------------------------

    @validate("display_limit")
    def _check_limit(self, proposal: Any) -> int:
        if proposal["value"] < 1:
            raise TraitError("display_limit must be at least 1")
        return proposal["value"]

    @validate("timeout", "connect_timeout", "wait_poll_interval", "wait_timeout")
    def _check_positive(self, proposal: Any) -> float:
        if proposal["value"] <= 0:
            raise TraitError(f"{proposal['trait'].name} must be > 0")
        return proposal["value"]

    @observe("timeout", "connect_timeout", "display_limit", "widgets")
    def _settings_changed(self, change: Any) -> None:
        self._push_settings()

    def _push_settings(self) -> None:
        from .. import display

        display.options.display_limit = self.display_limit
        display.options.widgets = self.widgets
        state.current.set_timeout(self.connect_timeout, self.timeout)

    # -- plumbing shared by every magic ---------------------------------------------------------------------------

    def _args(self, magic: Any, line: str, *, interpolate: bool = True) -> Any:
        """Parse ``line`` with the magic's own parser, ``{{refs}}`` and ``{expr}`` filled in; errors carry the usage.

        ``{expr}`` is a Python expression, as IPython expands it in line magics (``%aep_runs {flow.id}``), but per
        token, after splitting, so a value with spaces or quotes stays one argument; ``{{ref}}`` works as ever (see
        :func:`~aep_magics.magics.body.expand_braces`). ``interpolate=False``: the magic fills in its own."""
        from .body import expand_braces

        parser = magic.parser
        usage = _usage(parser)  # "%aep_runs [--wait] ... [flow_id]"
        label = usage.split(" ", 1)[0]
        try:
            tokens = shlex.split(line, comments=False)
        except ValueError as exc:
            raise InputError(f"{label}: {exc}; usage: {usage}") from None
        if interpolate:
            tokens = [expand_braces(token, self._ns) for token in tokens]
        try:
            args = parser.parse_args(tokens)
        except UsageError as exc:
            raise InputError(f"{label}: {exc}; usage: {usage}") from None
        output = getattr(args, "output", None)
        if output is not None and (not output.isidentifier() or keyword.iskeyword(output)):
            raise InputError(f"{label}: -o takes a variable name, not {output!r}; usage: {usage}")
        return args

    def _body(self, cell: str | None, what: str, required: bool = True) -> Any:
        from .body import parse_body

        body = parse_body(cell or "", self._ns)
        if body is None and required:
            raise InputError(f"the cell body is empty: write the {what} request as JSON or YAML below the magic line")
        return body

    @property
    def _ns(self) -> dict[str, Any]:
        """The notebook's variables (the magics are always registered on a shell)."""
        assert self.shell is not None
        return self.shell.user_ns

    def _client(self) -> Any:
        return state.current.require()

    def _finish(self, args: Any, result: Any, remember: str | None = None, calls: Any = None) -> Any:
        """Show ``--curl``, remember the resource, store ``-o``; the magic's return value.

        ``calls`` are the calls behind a result that does not carry them (a DataFrame).
        """
        from IPython.display import display

        from ..display import CurlView, DryRun, Renderable

        calls = calls if calls is not None else getattr(result, "calls", None)
        if getattr(args, "curl", False) and calls:
            shown = not getattr(args, "quiet", False)
            if isinstance(result, Renderable) and getattr(result, "calls", None) and shown:
                result.show_curl = True  # one collapsed block inside the result's own output
            else:  # a DataFrame, or nothing else shown: the commands on their own, collapsed
                display(CurlView(calls))
        if remember and not isinstance(result, DryRun):
            state.current.remember(remember, result)
        if getattr(args, "output", None):
            self._ns[args.output] = result
            if not args.quiet:
                display(result)
            return None
        return None if getattr(args, "quiet", False) else result

    def _create(self, magic: Any, line: str, cell: str, kind: str, what: str) -> Any:
        from . import ops

        args = self._args(magic, line)
        body = self._body(cell, what)
        create = getattr(ops, f"create_{kind}")
        with _on_ctrl_c(_may_exist(what)):
            result = create(self._client(), body, if_exists=args.if_exists, dry_run=args.dry_run)
        return self._finish(args, result, remember=kind)

    # -- session ----------------------------------------------------------------------------------------------------

    @no_var_expand
    @magic_arguments(name="aep_auth")
    @argument("--config", metavar="PATH", help="JSON credentials file (Developer Console export, aepp or kit format)")
    @argument("--sandbox", metavar="NAME", help="sandbox to work in (default: the profile's, else prod)")
    @argument("--profile", metavar="NAME", help="a name for this profile")
    @argument("--local", action="store_true", help="start AEP Local in-process and use its dev credentials")
    @argument("--seed", type=int, metavar="N", help="AEP Local: deterministic ids and clock")
    @argument("--data-dir", metavar="D", help="AEP Local: keep its state in D (default: temporary)")
    @argument("--port", type=int, default=0, metavar="N", help="AEP Local: port (default: any free port)")
    @argument("--token", action="store_true", help="prompt for an access token (read with getpass, never from the cell)")
    @argument("-o", "--output", metavar="NAME", help="store the session card in the notebook variable NAME")
    @argument("-q", "--quiet", action="store_true", help="show nothing")
    @line_magic
    @_guard
    def aep_auth(self, line: str = "") -> Any:
        """Sign in: arguments, then AEP_* environment variables, then the config file (AEP_CONFIG).

        With no credentials configured anywhere, AEP Local (the in-process emulator) is used, and a note says so.
        Shows org, sandbox, base URL and token expiry; never the token.

        Example: ``%aep_auth --local --seed 42``
        """
        args = self._args(self.aep_auth, line)
        if args.token and args.local:  # refused before the prompt, not after it
            raise InputError("--token and --local do not combine: AEP Local issues its own tokens")
        token = getpass.getpass("AEP access token: ") if args.token else None
        card, note = state.current.authenticate(
            config=args.config, sandbox=args.sandbox, local=args.local, seed=args.seed, data_dir=args.data_dir,
            port=args.port, token=token, profile_name=args.profile,
        )
        if note and not args.quiet:
            print(note)
        return self._finish(args, card)

    @no_var_expand
    @magic_arguments(name="aep_sandbox")
    @argument("name", nargs="?", help="sandbox to switch to; leave out to list the sandboxes")
    @_common()
    @line_magic
    @_guard
    def aep_sandbox(self, line: str = "") -> Any:
        """Switch the session to another sandbox, or list the org's sandboxes.

        Example: ``%aep_sandbox dev``
        """
        from ..display import DryRun
        from . import ops

        args = self._args(self.aep_sandbox, line)
        client = self._client()
        if not args.name:
            return self._finish(args, ops.list_sandboxes(client, dry_run=args.dry_run))
        found = ops.get_sandbox(client, args.name, dry_run=args.dry_run)
        if isinstance(found, DryRun):
            return self._finish(args, found)
        state.current.switch_sandbox(args.name)
        args.curl = False
        return self._finish(args, state.current.card(), calls=found.calls)

    @no_var_expand
    @magic_arguments(name="aep_doctor")
    @argument("--config", metavar="PATH", help="JSON credentials file to check (default: the session's, else the "
              "AEP_* variables, else AEP_CONFIG)")
    @argument("--sandbox", metavar="NAME", help="sandbox to check (default: the profile's, else prod)")
    @argument("-o", "--output", metavar="NAME", help="store the report in the notebook variable NAME (.ok, .checks)")
    @argument("-q", "--quiet", action="store_true", help="show nothing")
    @line_magic
    @_guard
    def aep_doctor(self, line: str = "") -> Any:
        """Check the setup before the tutorial, read-only: credentials, token and its expiry, org and sandbox, and
        the permissions each service of the flow needs (Flow Service specs, Schema Registry, Catalog, Data Prep).

        Each line is ok (with the tenant id, sandbox, expiry …) or the one thing to fix: a 403 names the missing
        permission of that service, a 401 the credential. Nothing is created; no secret is shown. It checks the
        signed-in session (``--sandbox``: in another sandbox); before ``%aep_auth``, or with ``--config``, the
        credentials as ``%aep_auth`` finds them (options, then AEP_* variables, then the config file). The shell
        has the same check: ``aep-magics doctor``.
        Example: ``%aep_doctor``; ``%aep_doctor --config ~/aep.json --sandbox dev -o report``
        """
        from ..doctor import check

        args = self._args(self.aep_doctor, line)
        session = state.current.session
        if args.config or session is None:
            report = check(config=args.config, sandbox=args.sandbox, timeout=state.current.timeout)
        elif args.sandbox:
            other = session.with_sandbox(args.sandbox)
            try:
                report = check(other)
            finally:
                other.close()
        else:
            report = check(session)
        return self._finish(args, report)

    # -- exploring ----------------------------------------------------------------------------------------------------

    @no_var_expand
    @magic_arguments(name="aep_explore")
    @argument("connection_id", nargs="?", help="base connection id (default: the last one created here)")
    @argument("--table", metavar="T", help="a table path, e.g. Shopify.Orders: shows its columns")
    @argument("--preview", action="store_true", help="with --table: the table's rows as a pandas DataFrame")
    @argument("--rows", type=int, metavar="N", help="with --preview: at most N rows")
    @_common()
    @line_magic
    @_guard
    def aep_explore(self, line: str = "") -> Any:
        """Browse a source: its tables, a table's columns, or preview rows (a pandas DataFrame).

        Example: ``%aep_explore {{conn.id}} --table Shopify.Orders --preview --rows 5``
        """
        from ..display import DryRun
        from . import ops

        args = self._args(self.aep_explore, line)
        connection_id = state.current.default_id("connection", args.connection_id, "base connection")
        result = ops.explore(self._client(), connection_id, table=args.table, preview=args.preview, rows=args.rows,
                             dry_run=args.dry_run)
        if args.preview and not isinstance(result, DryRun):
            return self._finish(args, result.to_dataframe(), calls=result.calls)
        return self._finish(args, result)

    @no_var_expand
    @magic_arguments(name="aep_flowspec")
    @argument("name", nargs="?", help="flow spec name, e.g. CRMToAEP; leave out to list them all")
    @_common()
    @line_magic
    @_guard
    def aep_flowspec(self, line: str = "") -> Any:
        """Look up a flow spec by name (``GET /flowSpecs?property=name=="NAME"``); ``.id`` goes into ``%%aep_flow``.

        Example: ``%aep_flowspec CRMToAEP -o spec``
        """
        from . import ops

        args = self._args(self.aep_flowspec, line)
        return self._finish(args, ops.flow_spec(self._client(), args.name, dry_run=args.dry_run), "flowspec")

    # -- creating (cell body = the request payload, JSON or YAML) ----------------------------------------------------

    @no_var_expand
    @magic_arguments(name="%aep_connection")
    @_common(create=True)
    @cell_magic
    @_guard
    def aep_connection(self, line: str, cell: str) -> Any:
        """Create a base connection (``POST /flowservice/connections``); the body is the request payload.

        Example: ``%%aep_connection -o conn`` then ``{"name": "Shopify source", "auth": {...}, "connectionSpec": {...}}``
        """
        return self._create(self.aep_connection, line, cell, "connection", "base connection")

    @no_var_expand
    @magic_arguments(name="%aep_source")
    @_common(create=True)
    @cell_magic
    @_guard
    def aep_source(self, line: str, cell: str) -> Any:
        """Create a source connection (``POST /flowservice/sourceConnections``); the body is the request payload.

        Example: ``%%aep_source -o src`` then ``{"name": "...", "baseConnectionId": "{{conn.id}}", ...}``
        """
        return self._create(self.aep_source, line, cell, "source", "source connection")

    @no_var_expand
    @magic_arguments(name="%aep_schema")
    @_common(create=True)
    @cell_magic
    @_guard
    def aep_schema(self, line: str, cell: str) -> Any:
        """Create an XDM schema (``POST /schemaregistry/tenant/schemas``); ``.id`` is its ``$id``.

        Example: ``%%aep_schema -o schema --if-exists reuse`` then ``{"title": "...", "allOf": [...]}``
        """
        return self._create(self.aep_schema, line, cell, "schema", "schema")

    @no_var_expand
    @magic_arguments(name="%aep_dataset")
    @_common(create=True)
    @cell_magic
    @_guard
    def aep_dataset(self, line: str, cell: str) -> Any:
        """Create a dataset (``POST /catalog/dataSets``); ``.id`` is the new dataset id.

        Example: ``%%aep_dataset -o dataset`` then ``{"name": "...", "schemaRef": {"id": "{{schema.id}}", ...}}``
        """
        return self._create(self.aep_dataset, line, cell, "dataset", "dataset")

    @no_var_expand
    @magic_arguments(name="%aep_target")
    @_common(create=True)
    @cell_magic
    @_guard
    def aep_target(self, line: str, cell: str) -> Any:
        """Create a target connection to the data lake (``POST /flowservice/targetConnections``).

        Example: ``%%aep_target -o tgt`` then ``{"name": "...", "params": {"dataSetId": "{{dataset.id}}"}, ...}``
        """
        return self._create(self.aep_target, line, cell, "target", "target connection")

    @no_var_expand
    @magic_arguments(name="%aep_mapping")
    @argument("--validate", action="store_true", help="validate first (/mappingSets/validate); create nothing if a mapping fails")
    @argument("--preview", action="store_true", help="map sample rows (/mappingSets/preview) and show them")
    @argument("--source", metavar="ID", help="with --preview: sample rows from this source connection's table")
    @argument("--rows", metavar="VAR", help="with --preview: sample rows from this variable (list of dicts or DataFrame)")
    @argument("--no-create", action="store_true", help="only run --validate / --preview; create nothing")
    @_common(create=True)
    @cell_magic
    @_guard
    def aep_mapping(self, line: str, cell: str) -> Any:
        """Create a mapping set (``POST /conversion/mappingSets``), optionally validated and previewed first.

        Without ``--source`` or ``--rows``, ``--preview`` uses the last source connection created here.
        Example: ``%%aep_mapping -o mapping --validate --preview --source {{src.id}}``
        """
        from . import ops

        args = self._args(self.aep_mapping, line)
        if args.no_create and not (args.validate or args.preview):
            raise InputError("--no-create only checks: give --validate and/or --preview with it")
        body = self._body(cell, "mapping set")
        rows = source_id = None
        if args.preview:
            if args.rows:
                if args.rows not in self._ns:
                    raise InputError(f"--rows {args.rows}: there is no variable named {args.rows!r} in the notebook")
                rows = ops.rows_from(self._ns[args.rows], args.rows)
            else:
                source_id = state.current.default_id("source", args.source, "source connection (--source)")
        with _on_ctrl_c(_may_exist("mapping set")):
            result = ops.create_mapping(
                self._client(), body, if_exists=args.if_exists, dry_run=args.dry_run, validate=args.validate,
                preview_rows=rows, source_id=source_id, create=not args.no_create,
            )
        return self._finish(args, result, remember=None if args.no_create else "mapping")

    @no_var_expand
    @magic_arguments(name="%aep_flow")
    @argument("--no-validate", action="store_true", help="skip checking scheduleParams against the flow spec")
    @_common(create=True)
    @cell_magic
    @_guard
    def aep_flow(self, line: str, cell: str) -> Any:
        """Create a dataflow (``POST /flowservice/flows``). ``scheduleParams`` are first checked against the flow
        spec's schedule schema, so a bad schedule creates nothing. On AEP Local, a ``startTime`` more than an hour
        ahead of its clock gets a note: how to move the clock (``%aep_clock``), or which start time to use.

        Example: ``%%aep_flow -o flow`` then ``{"name": "...", "flowSpec": {"id": "{{spec.id}}", ...}, ...}``
        """
        from . import ops

        args = self._args(self.aep_flow, line)
        body = self._body(cell, "flow")
        with _on_ctrl_c(_may_exist("flow")):
            result = ops.create_flow(self._client(), body, if_exists=args.if_exists, dry_run=args.dry_run,
                                     validate=not args.no_validate)
        return self._finish(args, result, remember="flow")

    # -- watching and reading -------------------------------------------------------------------------------------

    @no_var_expand
    @magic_arguments(name="aep_runs")
    @argument("flow_id", nargs="?", help="flow id (default: the last flow created here)")
    @argument("--wait", action="store_true", help="poll until every run is finished, with a progress bar")
    @argument("--timeout", type=float, metavar="S", help="with --wait: give up after S seconds (default: wait_timeout)")
    @argument("--last", type=int, metavar="N", help="only the N most recent runs (table, summary, chart and -o result)")
    @argument("--title", metavar="TEXT", help="the title of the runs card")
    @_common()
    @line_magic
    @_guard
    def aep_runs(self, line: str = "") -> Any:
        """The runs of a flow: status, records in/out/failed, duration, errors, and a chart of records per run.

        ``--last N`` keeps the N most recent runs only; ``-o NAME`` stores them (``.finished``, ``.to_dataframe()``),
        oldest first, each a run object: its JSON plus ``.batch_ids`` and ``.promotion`` (``runs[-1].batch_ids``).
        On AEP Local, ``--wait`` on a flow with no run yet whose start time AEP Local's clock will not reach (with
        ``--seed`` it moves only when told) says so at once, and how to move the clock.
        Example: ``%aep_runs {{flow.id}} --wait --timeout 120``; ``%aep_runs {{flow.id}} --last 8 --title "Scheduled runs"``
        """
        from ..display.widgets import Progress
        from . import ops

        args = self._args(self.aep_runs, line)
        ops._check_last(args.last)
        flow_id = state.current.default_id("flow", args.flow_id, "flow")
        client = self._client()
        if not args.wait or args.dry_run:
            return self._finish(args, ops.list_runs(client, flow_id, last=args.last, title=args.title,
                                                    dry_run=args.dry_run))
        progress = Progress("runs", use_widgets=self.widgets, quiet=args.quiet)
        progress.show()
        try:
            result = ops.wait_for_runs(client, flow_id, timeout=args.timeout or self.wait_timeout,
                                       poll_interval=self.wait_poll_interval, on_progress=progress.update)
        except KeyboardInterrupt:
            progress.finish(False)
            raise Interrupted(f"stopped (Ctrl-C) waiting for the runs of flow {flow_id}; they go on on the platform: "
                              f"%aep_runs {flow_id} --wait waits again") from None
        except Exception:
            progress.finish(False)
            raise
        progress.finish(True)
        return self._finish(args, ops.recent_runs(result, args.last, args.title))

    @no_var_expand
    @magic_arguments(name="aep_read")
    @argument("dataset_id", nargs="?", help="dataset id (default: the last dataset created here)")
    @argument("--run", metavar="RUN_ID", help="instead of a dataset: only the batches this flow run wrote")
    @argument("--nested", action="store_true", help="keep XDM objects nested instead of flattened paths")
    @argument("--limit", type=int, metavar="N", help="at most N rows")
    @_common()
    @line_magic
    @_guard
    def aep_read(self, line: str = "") -> Any:
        """The rows ingested into a dataset, as a pandas DataFrame (Data Access API: batches → files → Parquet).

        ``--run RUN_ID`` reads only the batches one flow run wrote (the run's ``.batch_ids``).
        Example: ``%aep_read {{dataset.id}} --limit 100``; ``%aep_read --run {{runs[-1].id}}``
        """
        from . import ops

        args = self._args(self.aep_read, line)
        if args.run is not None and args.dataset_id is not None:
            raise InputError(f"%aep_read: give a dataset id or --run, not both; usage: {_usage(self.aep_read.parser)}")
        dataset_id = None if args.run is not None else state.current.default_id("dataset", args.dataset_id, "dataset")
        frame, calls = ops.read_dataset(self._client(), dataset_id, run=args.run, nested=args.nested,
                                        limit=args.limit, dry_run=args.dry_run, with_calls=True)
        return self._finish(args, frame, calls=calls)

    @no_var_expand
    @magic_arguments(name="aep_lineage")
    @argument("flow_id", nargs="?", help="flow id (default: the last flow created here)")
    @_common()
    @line_magic
    @_guard
    def aep_lineage(self, line: str = "") -> Any:
        """Where a flow's data comes from and lands: source connection → flow → target → dataset → batches.

        Example: ``%aep_lineage {{flow.id}}``
        """
        from . import ops

        args = self._args(self.aep_lineage, line)
        flow_id = state.current.default_id("flow", args.flow_id, "flow")
        return self._finish(args, ops.lineage(self._client(), flow_id, dry_run=args.dry_run))

    @no_var_expand
    @magic_arguments(name="aep_delete")
    @argument("kind", choices=["connection", "source", "target", "flow", "schema", "dataset", "mapping"],
              help="what to delete")
    @argument("id", nargs="?", help="its id (a schema's $id or meta:altId)")
    @argument("--name", metavar="NAME", help="instead of an id: delete every KIND named NAME (a schema: titled)")
    @_common()
    @line_magic
    @_guard
    def aep_delete(self, line: str = "") -> Any:
        """Delete a resource by id, or every resource of a kind with a given name (``--name``; a schema's title).

        ``--name`` shows what was deleted (kind, name, id), or "nothing to delete"; ``-o`` stores that list.
        ``{var}`` in the line is a Python variable, as in IPython's other line magics (``{{ref}}`` works too).
        Example: ``%aep_delete flow {{flow.id}}``; ``for name in NAMES: %aep_delete flow --name "{name}"``
        """
        from . import ops

        args = self._args(self.aep_delete, line)
        if (args.id is None) == (args.name is None):
            usage = _usage(self.aep_delete.parser)
            problem = ("give an id or --name NAME, not both" if args.id is not None
                       else "the following arguments are required: id (or --name NAME)")
            raise InputError(f"%aep_delete: {problem}; usage: {usage}")
        client = self._client()
        if args.name is not None:
            return self._finish(args, ops.delete_by_name(client, args.kind, args.name, dry_run=args.dry_run))
        return self._finish(args, ops.delete(client, args.kind, args.id, dry_run=args.dry_run))

    @no_var_expand
    @magic_arguments(name="aep_clock")
    @argument("--advance", metavar="DURATION", help="move the clock forward: 90, 90s, 15m, 2h or 1d, at most 31d "
              "a call (the scheduler then runs what fell due, at most 100 runs a flow)")
    @_common()
    @line_magic
    @_guard
    def aep_clock(self, line: str = "") -> Any:
        """AEP Local's platform clock: the time in UTC and in epoch ms; ``--advance`` moves it forward.

        AEP Local in deterministic mode keeps its own clock, which moves only when told to; the scheduler then
        creates and runs every run that fell due. ``-o NAME`` stores a dict: ``now`` (epoch ms), ``now_s`` (epoch
        seconds), ``utc``. AEP Local only (``POST /aep-local/clock``): a real sandbox runs on real time.
        Example: ``%aep_clock -o clock``; ``%aep_clock --advance 15m``
        """
        from . import ops

        args = self._args(self.aep_clock, line)
        client = self._client()
        return self._finish(args, ops.clock(client, advance=args.advance, dry_run=args.dry_run))

    @no_var_expand
    @magic_arguments(name="aep")
    @argument("method", help="HTTP method: GET, POST, PUT, PATCH, DELETE")
    @argument("path", help="path under the platform's base URL, query string allowed")
    @argument("-H", "--header", action="append", default=[], metavar="'NAME: VALUE'", help="extra request header")
    @_common()
    @line_cell_magic
    @_guard
    def aep(self, line: str, cell: str | None = None) -> Any:
        """Any platform call; the cell body (JSON or YAML), if any, is the request payload. List answers show as
        tables. ``{{ref}}`` in PATH is percent-encoded; Schema Registry GETs get a default Accept header.

        Example: ``%aep GET /data/foundation/flowservice/connectionSpecs``
        """
        from urllib.parse import quote

        from . import ops
        from .body import expand_braces

        args = self._args(self.aep, line, interpolate=False)
        if args.output:
            args.output = expand_braces(args.output, self._ns)
        path = expand_braces(args.path, self._ns, quote=lambda text: quote(text, safe=""))
        headers = {}
        for header in args.header:
            name, sep, value = expand_braces(header, self._ns).partition(":")
            if not sep or not name.strip():
                raise InputError(f"-H {header!r}: write headers as 'Name: value'")
            headers[name.strip()] = value.strip()
        body = self._body(cell, "request", required=False) if cell is not None else None
        changes = args.method.upper() not in ("GET", "HEAD", "OPTIONS")
        with _on_ctrl_c(f"the {args.method.upper()} may have been applied: check with a GET before sending it again"
                        if changes else "nothing was changed"):
            result = ops.call(self._client(), args.method, path, body, headers=headers, dry_run=args.dry_run)
        return self._finish(args, result)


@functools.lru_cache(maxsize=None)
def _usage(parser: Any) -> str:
    """A magic's one-line usage; argparse builds it from scratch on every call, so it is kept per parser."""
    return " ".join(parser.format_usage().replace("::", " ").split())
