"""``%%aep_query`` and ``%aep_tables``: SQL over the ingested data through Query Service's PostgreSQL interface.

The magics parse their line, turn ``{{var}}`` references of the cell into bound parameters and hand over to
:mod:`aep_magics.sql` (connection, execution) and :mod:`aep_magics.display.query` (rendering). One connection per
sandbox of the notebook's session is kept open here and closed when the session changes or the extension unloads.

This module imports only IPython and the standard library; psycopg and pandas load when a query first runs.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import shlex
import uuid
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments

from ..errors import InputError, Interrupted
from . import state
from .core import _guard, _usage

#: Scalars psycopg binds as they are.
_SCALARS = (str, bool, int, float, decimal.Decimal, _dt.date, _dt.datetime, _dt.time, _dt.timedelta, uuid.UUID,
            bytes)


class _Connections:
    """The SQL connections of the notebook's current session, one per sandbox."""

    def __init__(self) -> None:
        self.session: Any = None
        self.by_sandbox: dict[str, Any] = {}

    def get(self, sandbox: str | None = None) -> Any:
        from ..sql import SqlConnection

        state.current.require()
        session: Any = state.current.session
        if session is not self.session:
            self.close()
            self.session = session
        name = sandbox or session.profile.sandbox
        if name not in self.by_sandbox:
            target = session if name == session.profile.sandbox else session.with_sandbox(name)
            self.by_sandbox[name] = SqlConnection(target)
        return self.by_sandbox[name]

    def close(self) -> None:
        for conn in self.by_sandbox.values():
            conn.close()
        self.by_sandbox = {}
        self.session = None


connections = _Connections()


def current_session() -> Any:
    """The notebook's session (for :func:`aep_magics.sql.engine` and :func:`aep_magics.sql.connect`)."""
    return state.current.session


def statement(sql: str, namespace: dict[str, Any]) -> Any:
    """The cell's SQL as a :class:`~aep_magics.sql.Statement`: each ``{{ref}}`` a bound parameter, never text."""
    from ..sql import Param, Statement
    from .body import PLACEHOLDER, _unwrap, resolve

    pieces: list[Any] = []
    at = 0
    for match in PLACEHOLDER.finditer(sql):
        pieces.append(sql[at:match.start()])
        expr = match.group(1)
        pieces.append(Param(_sql_value(_unwrap(resolve(expr, namespace), expr), expr), match.group(0)))
        at = match.end()
    pieces.append(sql[at:])
    return Statement.from_pieces([p for p in pieces if not isinstance(p, str) or p])


def _sql_value(value: Any, expr: str) -> Any:
    if value is None or isinstance(value, _SCALARS):
        return value
    if (type(value).__module__ or "").split(".")[0] in ("numpy", "pandas"):
        for convert in ("item", "tolist", "to_pydatetime"):
            method = getattr(value, convert, None)
            if callable(method):
                try:
                    return _sql_value(method(), expr)
                except (TypeError, ValueError):
                    continue
    if isinstance(value, (list, tuple)):
        return [_sql_value(item, expr) for item in value]
    raise InputError(f"{{{{{expr}}}}} is a {type(value).__name__}: SQL takes a text, a number, a date, a boolean or "
                     "a list of them (bound as an array: = ANY({{...}}))")


@magics_class
class QueryMagics(Magics):
    """SQL over the data in the lake: ``%%aep_query``, ``%aep_tables``."""

    @property
    def _ns(self) -> dict[str, Any]:
        """The notebook's variables (the magics are always registered on a shell)."""
        assert self.shell is not None
        return self.shell.user_ns

    def _args(self, magic: Any, line: str) -> Any:
        from .body import expand_braces

        parser = magic.parser
        usage = _usage(parser)
        label = usage.split(" ", 1)[0]
        try:
            tokens = [expand_braces(token, self._ns) for token in shlex.split(line)]
            args = parser.parse_args(tokens)
        except (ValueError, UsageError) as exc:
            raise InputError(f"{label}: {exc}; usage: {usage}") from None
        output = getattr(args, "output", None)
        if output is not None and not output.isidentifier():
            raise InputError(f"{label}: -o takes a variable name, not {output!r}; usage: {usage}")
        return args

    @no_var_expand
    @magic_arguments(name="aep_query")
    @argument("--connection", action="store_true",
              help="show how to connect from outside: a psql command and a SQLAlchemy URL (the token as a placeholder)")
    @argument("--limit", type=int, metavar="N", help="keep at most N rows of the answer")
    @argument("--sandbox", metavar="S", help="query the tables of sandbox S (default: the session's)")
    @argument("-o", "--output", metavar="NAME", help="store the rows as a pandas DataFrame in the variable NAME")
    @argument("-q", "--quiet", action="store_true", help="show nothing (with -o: store only)")
    @line_cell_magic
    @_guard
    def aep_query(self, line: str = "", cell: str | None = None) -> Any:
        """Run the SQL of the cell on Query Service (every dataset is a table; ``%aep_tables`` lists them) and show
        the rows as a paged table, with the time it took; ``-o NAME`` stores them as a pandas DataFrame.

        ``{{var}}`` in the SQL is a bound parameter: its value is sent beside the statement, never pasted into it
        (write it outside quotes: ``WHERE email LIKE '%' || {{domain}}``). Without a LIMIT, Query Service returns
        at most 50,000 rows. Ctrl-C cancels the statement on the server. ``%aep_query --connection`` shows how
        psql, SQLAlchemy and jupysql connect.
        Example: ``%%aep_query -o orders`` then ``SELECT * FROM shopify_target_dataset LIMIT 10``
        """
        args = self._args(self.aep_query, line)
        conn = connections.get(args.sandbox)
        if args.connection:
            if cell is not None and cell.strip():
                raise InputError("--connection shows the connection parameters: run it as a line magic, without SQL")
            return self._connection(conn, args)
        if cell is None or not cell.strip():
            raise InputError("write the SQL in the cell, below %%aep_query (or use %aep_query --connection)")
        if args.limit is not None and args.limit < 1:
            raise InputError(f"--limit takes a number of rows, 1 or more, not {args.limit}")
        from ..display import options
        from ..display.query import QueryResult, QueryWait

        stmt = statement(cell, self._ns)
        wait = QueryWait(use_widgets=options.widgets, quiet=args.quiet)
        try:
            outcome = conn.run(stmt, limit=args.limit, on_wait=wait)
        except KeyboardInterrupt:
            raise Interrupted("query cancelled") from None
        note = _note(outcome, args.output)
        result = QueryResult(outcome.columns, outcome.rows, status=outcome.status, rowcount=outcome.rowcount,
                             elapsed=outcome.elapsed, note=note, stored_as=args.output)
        return _finish(self._ns, args, result, result.to_dataframe() if args.output else None)

    def _connection(self, conn: Any, args: Any) -> Any:
        from ..display.query import ConnectionView

        info = conn.info(refresh=True)
        sandbox = f", sandbox={args.sandbox!r}" if args.sandbox else ""
        view = ConnectionView(str(info), info.psql_command(), info.sqlalchemy_url(),
                              f"import aep_magics.sql; engine = aep_magics.sql.engine({sandbox[2:]}) then %sql engine")
        return _finish(self._ns, args, view, info)

    @no_var_expand
    @magic_arguments(name="aep_tables")
    @argument("--sandbox", metavar="S", help="the tables of sandbox S (default: the session's)")
    @argument("-o", "--output", metavar="NAME", help="store the list in the variable NAME (.to_dataframe())")
    @argument("-q", "--quiet", action="store_true", help="show nothing (with -o: store only)")
    @line_magic
    @_guard
    def aep_tables(self, line: str = "") -> Any:
        """The SQL tables of the sandbox: each dataset's name, its table name and the records of its successful
        batches (``SHOW TABLES`` on Query Service, record counts from Catalog).

        Example: ``%aep_tables``
        """
        args = self._args(self.aep_tables, line)
        conn = connections.get(args.sandbox)
        try:
            result = tables(conn)
        except KeyboardInterrupt:
            raise Interrupted("query cancelled") from None
        return _finish(self._ns, args, result, result)


def _finish(namespace: dict[str, Any], args: Any, shown: Any, stored: Any) -> Any:
    """Store ``stored`` under ``-o NAME`` (then display ``shown``), or return ``shown``; nothing with ``-q``."""
    if args.output:
        namespace[args.output] = stored
        if not args.quiet:
            from IPython.display import display

            display(shown)
        return None
    return None if args.quiet else shown


def tables(conn: Any) -> Any:
    """``SHOW TABLES`` joined with Catalog: a list of ``dataset``, ``table``, ``records``, ``dataSetId``."""
    from ..api import AEPClient
    from ..display import ListResult

    listed = conn.tables()
    client = AEPClient(conn.session)
    datasets = client.catalog.list_datasets(properties=["name"]) if listed else {}
    records: dict[str, int] = {}
    if listed:
        for batch in client.catalog.list_batches(properties=["status", "recordCount", "relatedObjects"]).values():
            if str(batch.get("status", "")).lower() != "success":
                continue
            for related in batch.get("relatedObjects") or []:
                if isinstance(related, dict) and related.get("type") == "dataSet":
                    key = str(related.get("id"))
                    records[key] = records.get(key, 0) + int(batch.get("recordCount") or 0)
    rows = []
    for table in listed:
        dataset_id = table.get("dataSetId")
        name = (datasets.get(dataset_id) or {}).get("name") or table.get("dataSet")
        rows.append({"dataset": name, "table": table.get("name"), "records": records.get(dataset_id, 0),
                     "dataSetId": dataset_id})
    rows.sort(key=lambda row: str(row["table"]))
    sandbox = conn.session.profile.sandbox
    return ListResult("tables", rows, columns=["dataset", "table", "records", "dataSetId"],
                      title=f"tables in sandbox {sandbox}")


def _rows(count: int) -> str:
    return f"{count:,} row{'' if count == 1 else 's'}"


def _note(outcome: Any, output: str | None) -> str | None:
    from ..sql import DEFAULT_ROW_CAP

    notes = []
    if output:
        notes.append(f"{output}: the {_rows(len(outcome.rows))} as a pandas DataFrame")
    if outcome.has_rows and outcome.rowcount == DEFAULT_ROW_CAP and outcome.limit is None:
        notes.append(f"Query Service returns at most {DEFAULT_ROW_CAP:,} rows without a LIMIT: add LIMIT n (up to "
                     "100,000), or LIMIT 0 for no cap")
    return "; ".join(notes) or None
