"""SQL over Query Service's PostgreSQL interface, the way Adobe tells clients to connect
(https://experienceleague.adobe.com/en/docs/experience-platform/query/clients/overview).

:class:`SqlConnection` reads the connection parameters from ``GET /data/foundation/query/connection_parameters``
(host, port, ``dbName`` ``{sandbox}:all``, username = the org id), connects with psycopg 3 with ``sslmode=require``
(https://experienceleague.adobe.com/en/docs/experience-platform/query/clients/ssl-modes) and the current access token
as the password, and reconnects with a fresh token before the old one expires. The same code reaches AEP Local and a
real sandbox. :func:`engine` hands out a SQLAlchemy engine on the same parameters (``%sql engine`` in jupysql).

Values never become SQL text: a :class:`Statement` holds ``%s`` placeholders and the values beside them, which
psycopg sends as bound parameters. Errors are one line: the SQLSTATE, the server's message and, for a syntax error,
the line and column in the statement as written.

Importing this module loads neither psycopg, pandas nor SQLAlchemy: each loads on first use.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .errors import AEPKitError, ConfigError, InputError

if TYPE_CHECKING:  # pragma: no cover
    from .http import AEPSession

#: Where the token goes in the commands :class:`ConnectionInfo` prints (never the token itself).
TOKEN_PLACEHOLDER = "{ACCESS_TOKEN}"
#: Rows Query Service returns to a PostgreSQL client without a LIMIT
#: (https://experienceleague.adobe.com/en/docs/experience-platform/query/guardrails).
DEFAULT_ROW_CAP = 50_000
DOCS_CLIENTS = "https://experienceleague.adobe.com/en/docs/experience-platform/query/clients/overview"


class QueryError(AEPKitError):
    """The server refused a statement, or the connection failed: one line with the SQLSTATE and the message."""

    def __init__(self, message: str = "", *, sqlstate: str | None = None, position: int | None = None):
        self.sqlstate = sqlstate
        self.position = position
        super().__init__(message)


# -- connection parameters --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConnectionInfo:
    """Where and as whom to connect: everything but the password (the access token)."""

    host: str
    port: int
    dbname: str
    user: str
    sslmode: str = "require"

    @classmethod
    def from_parameters(cls, parameters: dict[str, Any], table: str | None = None) -> ConnectionInfo:
        """From a ``connection_parameters`` answer; ``table`` narrows ``dbName`` to ``{sandbox}:{table}``."""
        dbname = str(parameters.get("dbName") or "prod:all")
        if table:
            dbname = f"{dbname.split(':', 1)[0]}:{table}"
        return cls(host=str(parameters["host"]), port=int(parameters["port"]), dbname=dbname,
                   user=str(parameters["username"]))

    def psql_command(self) -> str:
        """A psql command line (``PGGSSENCMODE=disable`` as Adobe documents for psql 12 and later), token as a
        placeholder (https://experienceleague.adobe.com/en/docs/experience-platform/query/clients/psql)."""
        return (f"PGGSSENCMODE=disable psql 'sslmode={self.sslmode} host={self.host} port={self.port} "
                f"dbname={self.dbname} user={self.user} password={TOKEN_PLACEHOLDER}'")

    def sqlalchemy_url(self) -> str:
        """A SQLAlchemy URL (psycopg 3 driver), token as a placeholder
        (https://experienceleague.adobe.com/en/docs/experience-platform/query/use-cases/sqlalchemy)."""
        return (f"postgresql+psycopg://{quote(self.user, safe='')}:{TOKEN_PLACEHOLDER}@{self.host}:{self.port}/"
                f"{quote(self.dbname, safe=':')}?sslmode={self.sslmode}")

    def __str__(self) -> str:
        return f"{self.host}:{self.port}, database {self.dbname}, user {self.user}"


# -- statements ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """A value bound to a placeholder; ``source`` is how the statement spelled it (``{{domain}}``)."""

    value: Any
    source: str = "%s"


@dataclass
class Statement:
    """One SQL statement for psycopg: ``text`` with ``%s`` placeholders, ``params`` their values (None: no
    placeholder, the text goes as written).

    ``source`` is the statement as the user wrote it; :meth:`source_position` turns a position the server reports
    in what it received (placeholders as ``$1``, ``$2`` …) into a position in ``source``.
    """

    text: str
    params: list[Any] | None
    source: str
    #: (offset in what the server receives, offset in source, length) of each literal piece
    _pieces: list[tuple[int, int, int]] = field(default_factory=list, repr=False)

    @classmethod
    def plain(cls, sql: str) -> Statement:
        return cls(sql, None, sql, [(0, 0, len(sql))])

    @classmethod
    def from_pieces(cls, pieces: Sequence[str | Param]) -> Statement:
        """SQL text and :class:`Param` values in order. A value inside a quoted string is refused; one inside a
        comment stays as written."""
        text: list[str] = []
        source: list[str] = []
        params: list[Any] = []
        marks: list[tuple[int, int, int]] = []
        slots: set[int] = set()
        sent = src = 0
        state: str | None = None
        for piece in pieces:
            if isinstance(piece, Param) and state in ("--", "/*"):
                piece = piece.source  # a reference inside a comment stays as written
            if isinstance(piece, Param):
                if state is not None:
                    where = "a quoted identifier" if state == '"' else "a quoted string"
                    raise InputError(
                        f"{piece.source} is inside {where}: a value is sent as a bound parameter, never pasted into "
                        f"the SQL text; write it outside the quotes, e.g. LIKE '%' || {piece.source}")
                params.append(piece.value)
                slots.add(len(text))
                text.append("%s")
                marker = f"${len(params)}"
                sent += len(marker)
                source.append(piece.source)
                src += len(piece.source)
                continue
            state = _scan(piece, state)
            marks.append((sent, src, len(piece)))
            text.append(piece)
            source.append(piece)
            sent += len(piece)
            src += len(piece)
        if not params:
            joined = "".join(source)
            return cls(joined, None, joined, [(0, 0, len(joined))])
        escaped = [t if i in slots else t.replace("%", "%%") for i, t in enumerate(text)]
        return cls("".join(escaped), params, "".join(source), marks)

    def source_position(self, position: int) -> int:
        """The 1-based character position in :attr:`source` of a 1-based ``position`` the server reported."""
        offset = position - 1
        for sent, src, length in self._pieces:
            if sent <= offset < sent + length:
                return src + (offset - sent) + 1
        before = [src + length for sent, src, length in self._pieces if sent + length <= offset]
        return (max(before) if before else 0) + 1

    def line_column(self, position: int) -> tuple[int, int]:
        """Line and column (1-based) of a server-reported ``position`` in :attr:`source`."""
        at = self.source_position(position) - 1
        head = self.source[:at]
        return head.count("\n") + 1, at - (head.rfind("\n") + 1) + 1


def _scan(text: str, state: str | None) -> str | None:
    """The lexical state at the end of ``text`` starting in ``state``: None (plain SQL), ``'`` or ``"`` (inside a
    quoted string or identifier), ``--`` or ``/*`` (inside a comment)."""
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if state is None:
            if c in ("'", '"'):
                state = c
            elif text.startswith("--", i):
                state, i = "--", i + 1
            elif text.startswith("/*", i):
                state, i = "/*", i + 1
        elif state in ("'", '"'):
            if c == state:
                if i + 1 < n and text[i + 1] == state:  # '' or "" inside: an escaped quote
                    i += 1
                else:
                    state = None
        elif state == "--":
            if c == "\n":
                state = None
        elif state == "/*" and text.startswith("*/", i):
            state, i = None, i + 1
        i += 1
    return state


# -- results ------------------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What a statement gave: its column names and rows (none for a statement without a result), the command tag
    (``SELECT 3``), the number of rows the server sent, and how long it took."""

    columns: list[str]
    rows: list[tuple[Any, ...]]
    status: str
    rowcount: int
    elapsed: float
    limit: int | None = None

    @property
    def has_rows(self) -> bool:
        return bool(self.columns)

    @property
    def truncated(self) -> bool:
        return self.rowcount > len(self.rows)

    def to_dataframe(self) -> Any:
        """The rows as a pandas DataFrame (pandas loads now)."""
        import pandas as pd

        return pd.DataFrame.from_records(self.rows, columns=self.columns, nrows=len(self.rows)) if self.rows else \
            pd.DataFrame({name: [] for name in unique_names(self.columns)})


def unique_names(names: Sequence[str]) -> list[str]:
    """Column names made unique (``count``, ``count_2``), as a DataFrame or a row mapping needs them."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        count = seen.get(name, 0)
        seen[name] = count + 1
        out.append(name if count == 0 else f"{name}_{count + 1}")
    return out


# -- the connection -----------------------------------------------------------------------------------------------


class SqlConnection:
    """One PostgreSQL connection to Query Service for one session (org, sandbox, credentials).

    Opened on first use; reopened when the session's token changed (the token provider refreshes it before it
    expires) or the connection was lost. Autocommit: Query Service has no transactions to keep open.
    """

    def __init__(self, session: AEPSession, *, table: str | None = None, connect_timeout: float = 10.0,
                 poll: float = 0.1):
        self.session = session
        self.table = table
        self.connect_timeout = connect_timeout
        self.poll = poll
        self._conn: Any = None
        self._token_used: str | None = None
        self._info: ConnectionInfo | None = None
        self._lock = threading.Lock()
        #: connections opened so far (a reconnect adds one)
        self.connects = 0

    # -- connecting ---------------------------------------------------------------------------------------------

    def info(self, *, refresh: bool = False) -> ConnectionInfo:
        """The connection parameters (``GET /connection_parameters``, read once per connection)."""
        if self._info is None or refresh:
            from .api.queryservice import QueryService

            self._info = ConnectionInfo.from_parameters(QueryService(self.session).connection_parameters(), self.table)
        return self._info

    def connection(self) -> Any:
        """The open psycopg connection, (re)opened with the current token when needed."""
        token = self.session.tokens.token()  # a fresh one when the cached one is about to expire
        conn = self._conn
        if conn is not None and not conn.closed and token == self._token_used:
            return conn
        self._drop()
        info = self.info(refresh=True)
        if not info.port:
            raise QueryError(f"{self.session.profile.base_url} serves no PostgreSQL endpoint (connection_parameters "
                             "answered port 0): start AEP Local with `aep-local serve` or %aep_auth --local")
        psycopg = _psycopg()
        try:
            conn = psycopg.connect(host=info.host, port=info.port, dbname=info.dbname, user=info.user,
                                   password=token, sslmode=info.sslmode, connect_timeout=max(1, int(self.connect_timeout)),
                                   autocommit=True, application_name="aep-magics")
        except psycopg.Error as exc:
            raise _connect_error(exc, info) from None
        _text_parameters(conn)
        self._conn, self._token_used = conn, token
        self.connects += 1
        return conn

    def _drop(self) -> None:
        conn, self._conn, self._token_used = self._conn, None, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # a broken connection may fail to close: it is gone either way
                pass

    def close(self) -> None:
        self._drop()

    # -- running ------------------------------------------------------------------------------------------------

    def run(self, statement: str | Statement, params: Sequence[Any] | None = None, *, limit: int | None = None,
            on_wait: Callable[[float], None] | None = None) -> Outcome:
        """Run one statement; its rows (at most ``limit`` of them kept).

        ``statement`` is SQL text (``%s`` placeholders with ``params``), or a :class:`Statement`. The statement runs
        on a worker thread while this one waits, calling ``on_wait(elapsed_seconds)`` every ``poll`` seconds; Ctrl-C
        (``KeyboardInterrupt``) cancels it on the server (``connection.cancel``) and is raised again once the server
        has stopped it.
        """
        if not isinstance(statement, Statement):
            statement = Statement.plain(statement) if params is None else Statement(
                statement, list(params), statement, [(0, 0, len(statement))])
        if not statement.text.strip():
            raise InputError("the SQL statement is empty: write it below %%aep_query")
        if limit is not None and limit < 1:
            raise InputError(f"--limit takes a number of rows, 1 or more, not {limit}")
        with self._lock:
            conn = self.connection()
            started = time.monotonic()
            box: dict[str, Any] = {}
            worker = threading.Thread(target=self._execute, args=(conn, statement, limit, box),
                                      name="aep-magics-sql", daemon=True)
            worker.start()
            try:
                while worker.is_alive():
                    worker.join(self.poll)
                    if worker.is_alive() and on_wait is not None:
                        on_wait(time.monotonic() - started)
            except KeyboardInterrupt:
                self._cancel(conn)
                worker.join(30)
                if worker.is_alive():
                    self._drop()
                raise
            elapsed = time.monotonic() - started
        if "error" in box:
            raise self._error(box["error"], statement) from None
        columns, rows, status, rowcount = box["result"]
        return Outcome(columns, rows, status, rowcount, elapsed, limit)

    @staticmethod
    def _execute(conn: Any, statement: Statement, limit: int | None, box: dict[str, Any]) -> None:
        try:
            with conn.cursor() as cur:
                cur.execute(statement.text, statement.params)
                if cur.description is None:
                    box["result"] = ([], [], cur.statusmessage or "", max(cur.rowcount, 0))
                    return
                columns = [d.name for d in cur.description]
                rows = cur.fetchall() if limit is None else cur.fetchmany(limit)
                total = cur.rowcount if cur.rowcount >= 0 else len(rows)
                box["result"] = (columns, rows, cur.statusmessage or "", total)
        except BaseException as exc:  # handed to the waiting thread, which raises it
            box["error"] = exc

    def _cancel(self, conn: Any) -> None:
        try:
            conn.cancel_safe(timeout=10)
        except Exception:
            try:
                conn.cancel()
            except Exception:  # nothing more can be done: the statement runs out on the server
                pass

    def _error(self, exc: BaseException, statement: Statement) -> BaseException:
        psycopg = _psycopg()
        if not isinstance(exc, psycopg.Error):
            return exc
        if getattr(exc, "sqlstate", None) == "57014":
            return KeyboardInterrupt()
        conn = self._conn
        if conn is not None and conn.closed:
            self._drop()
        return self._query_error(exc, statement)

    def _query_error(self, exc: Any, statement: Statement) -> QueryError:
        sqlstate = getattr(exc, "sqlstate", None)
        diag = getattr(exc, "diag", None)
        message = (getattr(diag, "message_primary", None) or _first_line(str(exc)) or type(exc).__name__).strip()
        text = f"{sqlstate} {message.rstrip('.')}" if sqlstate else message.rstrip(".")
        position = None
        raw = getattr(diag, "statement_position", None)
        if raw and str(raw).isdigit():
            position = statement.source_position(int(raw))
            line, column = statement.line_column(int(raw))
            text += f" (line {line}, column {column})"
        if sqlstate == "42P01" and not re.search(r"(?i)\btables\b", message):  # unless the server lists them
            names = self._table_names()
            text += f"; the tables are: {', '.join(names)}" if names else "; there is no table yet"
        elif sqlstate in ("28P01", "28000"):
            text += "; sign in again with %aep_auth"
        elif sqlstate is None and self._conn is None:
            text += "; the connection was lost: run the cell again to reconnect"
        return QueryError(text, sqlstate=sqlstate, position=position)

    def _table_names(self) -> list[str]:
        try:
            return sorted(str(row["name"]) for row in self.tables())
        except Exception:  # the listing is a courtesy: the original error matters
            return []

    # -- conveniences -------------------------------------------------------------------------------------------

    def tables(self) -> list[dict[str, Any]]:
        """``SHOW TABLES``: ``name``, ``dataSetId``, ``dataSet``, ``description``, ``resolved`` per table."""
        outcome = self.run("SHOW TABLES")
        return [dict(zip(outcome.columns, row)) for row in outcome.rows]

    def dataframe(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        """The rows of a query as a pandas DataFrame."""
        return self.run(sql, params).to_dataframe()

    def __enter__(self) -> SqlConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = str(self._info) if self._info is not None else self.session.profile.base_url
        return f"<SqlConnection {where} {'open' if self._conn is not None and not self._conn.closed else 'closed'}>"


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise ConfigError("SQL needs psycopg 3: pip install 'aep-magics[sql]' (or pip install 'psycopg[binary]')") from None
    return psycopg


def _text_parameters(conn: Any) -> None:
    """Send every parameter in PostgreSQL's text format (psycopg picks binary for numbers and dates by default):
    the format every PostgreSQL server takes, AEP Local's included."""
    import datetime
    import uuid

    from psycopg.types import bool as pg_bool
    from psycopg.types import datetime as pg_datetime
    from psycopg.types import numeric, string
    from psycopg.types import uuid as pg_uuid

    for cls, dumper in ((int, numeric.IntDumper), (float, numeric.FloatDumper), (bool, pg_bool.BoolDumper),
                        (datetime.date, pg_datetime.DateDumper), (datetime.datetime, pg_datetime.DatetimeDumper),
                        (datetime.time, pg_datetime.TimeDumper), (datetime.timedelta, pg_datetime.TimedeltaDumper),
                        (bytes, string.BytesDumper), (uuid.UUID, pg_uuid.UUIDDumper)):
        conn.adapters.register_dumper(cls, dumper)


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _connect_error(exc: Any, info: ConnectionInfo) -> QueryError:
    sqlstate = getattr(exc, "sqlstate", None)
    message = _first_line(str(exc)) or type(exc).__name__
    # psycopg: 'connection failed: connection to server at "h" (addr), port N failed: FATAL:  message'
    message = re.sub(r'^(connection failed: )?(connection to server at "[^"]*"( \([^)]*\))?, port \d+ failed: )?'
                     r'((FATAL|ERROR): +)?', "", message)
    if sqlstate in ("28P01", "28000"):
        hint = "the access token was refused: sign in again with %aep_auth"
    else:
        hint = f"check that the PostgreSQL endpoint is up (%aep_query --connection shows the parameters; {DOCS_CLIENTS})"
    head = f"{sqlstate} " if sqlstate else ""
    return QueryError(f"cannot connect to Query Service at {info.host}:{info.port}: {head}{message}; {hint}",
                      sqlstate=sqlstate)


# -- jupysql and SQLAlchemy ---------------------------------------------------------------------------------------

#: What :func:`engine` and :func:`connect` use when no session is given: set by the IPython extension to the
#: notebook's current session; without it, a session on ``load_profile()`` (AEP_* variables, AEP_CONFIG).
session_provider: Callable[[], AEPSession | None] | None = None


def _default_session(sandbox: str | None) -> AEPSession:
    session = session_provider() if session_provider is not None else None
    if session is None:
        from .config import load_profile
        from .http import AEPSession

        session = AEPSession(load_profile())
    return session.with_sandbox(sandbox) if sandbox and sandbox != session.profile.sandbox else session


def connect(session: AEPSession | None = None, *, sandbox: str | None = None, table: str | None = None) -> SqlConnection:
    """A :class:`SqlConnection` for ``session`` (default: the notebook's, see :data:`session_provider`)."""
    return SqlConnection(session or _default_session(sandbox), table=table)


def engine(session: AEPSession | None = None, *, sandbox: str | None = None, table: str | None = None,
           **kwargs: Any) -> Any:
    """A SQLAlchemy engine on Query Service: ``%sql engine`` in jupysql, ``pandas.read_sql(sql, engine)``.

    Its URL holds no password: each new connection gets the session's current token (refreshed before expiry), so
    the engine can be shown and kept. ``kwargs`` go to ``sqlalchemy.create_engine``.
    """
    try:
        import sqlalchemy
    except ImportError:
        raise ConfigError("engine() needs SQLAlchemy: pip install 'aep-magics[sql]'") from None
    _psycopg()
    session = session or _default_session(sandbox)
    from .api.queryservice import QueryService

    info = ConnectionInfo.from_parameters(QueryService(session).connection_parameters(), table)
    url = sqlalchemy.URL.create("postgresql+psycopg", username=info.user, host=info.host, port=info.port,
                                database=info.dbname, query={"sslmode": info.sslmode})
    kwargs.setdefault("pool_pre_ping", True)
    made = sqlalchemy.create_engine(url, **kwargs)

    @sqlalchemy.event.listens_for(made, "do_connect")
    def _token(dialect: Any, conn_rec: Any, cargs: Any, cparams: dict[str, Any]) -> None:
        cparams["password"] = session.tokens.token()

    return made
