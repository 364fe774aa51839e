"""AEP Local's state: one SQLite database (WAL) holding every resource, keyed by (org, sandbox, kind, id).

Services store JSON documents here and never see SQL beyond the ``where``/``order`` fragments that
``listing.py`` builds. A handful of columns are lifted out of the document and indexed (name, state, parent,
created, updated) so that the common filters of every list call use an index instead of scanning.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
    org      TEXT NOT NULL,
    sandbox  TEXT NOT NULL,
    kind     TEXT NOT NULL,
    id       TEXT NOT NULL,
    name     TEXT,
    state    TEXT,
    parent   TEXT,
    created  INTEGER NOT NULL,
    updated  INTEGER NOT NULL,
    seq      INTEGER NOT NULL,
    etag     TEXT,
    doc      TEXT NOT NULL,
    PRIMARY KEY (org, sandbox, kind, id)
) WITHOUT ROWID;
-- name/state end in seq (like parent and created): a filter on them then also yields the list's default order
-- (seq), so the planner searches them instead of walking ix_res_seq over every resource of the kind.
DROP INDEX IF EXISTS ix_res_name;
DROP INDEX IF EXISTS ix_res_state;
CREATE INDEX IF NOT EXISTS ix_res_name_seq  ON resources (org, sandbox, kind, name, seq);
CREATE INDEX IF NOT EXISTS ix_res_state_seq ON resources (org, sandbox, kind, state, seq);
CREATE INDEX IF NOT EXISTS ix_res_parent  ON resources (org, sandbox, kind, parent, seq);
-- a flow's runs newest (or oldest) first, one page at a time: walked in order, not sorted
CREATE INDEX IF NOT EXISTS ix_res_parent_created ON resources (org, sandbox, kind, parent, created, seq);
CREATE INDEX IF NOT EXISTS ix_res_parent_created_desc ON resources (org, sandbox, kind, parent, created DESC, seq);
CREATE INDEX IF NOT EXISTS ix_res_created ON resources (org, sandbox, kind, created, seq);
CREATE INDEX IF NOT EXISTS ix_res_seq     ON resources (org, sandbox, kind, seq);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

INDEXED = ("id", "name", "state", "parent", "created", "updated", "seq")

#: Planner statistics (``sqlite_stat1``) of a representative store, installed once instead of measured: a large kind,
#: names unique, a few states, tens of runs per flow. With them the planner searches the name/state/parent index for
#: any filter on those columns (multi-value ``IN`` and other orders too) and sorts the few rows found, rather than
#: walking the whole kind in the requested order; the plans do not depend on what the store holds when it opens.
PLANNER_STATS = {
    "resources": "100000 10000 10000 1000 1",
    "ix_res_seq": "100000 10000 10000 1000 1",
    "ix_res_created": "100000 10000 10000 1000 1 1",
    "ix_res_parent": "100000 10000 10000 1000 50 1",
    "ix_res_parent_created": "100000 10000 10000 1000 50 1 1",
    "ix_res_parent_created_desc": "100000 10000 10000 1000 50 1 1",
    "ix_res_state_seq": "100000 10000 10000 1000 300 1",
    "ix_res_name_seq": "100000 10000 10000 1000 1 1",
}


class Tenant(NamedTuple):
    org: str
    sandbox: str


#: Platform-wide records (IMS clients, tokens, the sandbox list of an org) live under this pseudo sandbox.
GLOBAL_SANDBOX = ""
#: The pseudo tenant of records that belong to no org: IMS clients and tokens, connection specs.
PLATFORM = Tenant("", GLOBAL_SANDBOX)


@dataclass
class Record:
    id: str
    doc: dict[str, Any]
    etag: str | None
    created: int
    updated: int
    seq: int


def _install_planner_stats(conn: sqlite3.Connection) -> None:
    conn.execute("ANALYZE meta")            # creates sqlite_stat1 when missing (meta is tiny)
    have = {row[0] for row in conn.execute("SELECT idx FROM sqlite_stat1 WHERE tbl='resources'")}
    if have != set(PLANNER_STATS):
        conn.execute("DELETE FROM sqlite_stat1 WHERE tbl='resources'")
        conn.executemany("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES ('resources', ?, ?)",
                         list(PLANNER_STATS.items()))
    conn.execute("ANALYZE sqlite_schema")   # load the statistics into this connection's planner


class Store:
    """Thread-safe access to the state database; one connection per thread."""

    def __init__(self, path: Path | str):
        self.path = str(path)
        self._local = threading.local()
        self._seq_lock = threading.Lock()
        conn = self._conn()
        conn.executescript(SCHEMA)  # executescript commits on its own: it cannot run inside transaction()
        _install_planner_stats(conn)
        self._seq = self._open_seq()

    # -- connections -------------------------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE); nested uses join the outer one."""
        conn = self._conn()
        if conn.in_transaction:
            yield conn
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _open_seq(self) -> int:
        """The sequence number this opening starts from: 0 for a new store, else one past both the newest resource
        and every earlier opening (persisted as ``meta.seq_floor``), so that no two openings of one store start at
        the same number even when nothing was inserted in between or the newest resources were deleted. A seeded
        platform mixes it into its id seed: etags never repeat across restarts."""
        with self.transaction() as db:
            newest = db.execute("SELECT COALESCE(MAX(seq), 0) FROM resources").fetchone()[0]
            floor = db.execute("SELECT value FROM meta WHERE key='seq_floor'").fetchone()
            seq = newest if floor is None and newest == 0 else max(newest, int(floor[0]) if floor else 0) + 1
            db.execute("INSERT INTO meta (key, value) VALUES ('seq_floor', ?) "
                       "ON CONFLICT(key) DO UPDATE SET value=excluded.value", (str(seq),))
        return seq

    def _next_seq(self) -> int:
        with self._seq_lock:
            self._seq += 1
            return self._seq

    # -- resources ---------------------------------------------------------------------------------------------
    def insert(self, tenant: Tenant, kind: str, id: str, doc: dict[str, Any], *, created: int, etag: str | None = None,
               name: str | None = None, state: str | None = None, parent: str | None = None) -> Record:
        seq = self._next_seq()
        with self.transaction() as db:
            db.execute(
                "INSERT INTO resources (org, sandbox, kind, id, name, state, parent, created, updated, seq, etag, doc)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (tenant.org, tenant.sandbox, kind, id, name, state, parent, created, created, seq, etag, _dump(doc)),
            )
        return Record(id, doc, etag, created, created, seq)

    def get(self, tenant: Tenant, kind: str, id: str) -> Record | None:
        row = self._conn().execute(
            "SELECT id, doc, etag, created, updated, seq FROM resources WHERE org=? AND sandbox=? AND kind=? AND id=?",
            (tenant.org, tenant.sandbox, kind, id),
        ).fetchone()
        return _record(row) if row else None

    def replace(self, tenant: Tenant, kind: str, id: str, doc: dict[str, Any], *, updated: int,
                etag: str | None = None, expected_etag: str | None = None, name: str | None = None,
                state: str | None = None, parent: str | None = None) -> bool:
        """Replace a document; with ``expected_etag`` only when the stored etag still matches (optimistic lock)."""
        sql = ("UPDATE resources SET doc=?, etag=COALESCE(?, etag), updated=?, name=?, state=?, parent=COALESCE(?, parent)"
               " WHERE org=? AND sandbox=? AND kind=? AND id=?")
        args: list[Any] = [_dump(doc), etag, updated, name, state, parent, tenant.org, tenant.sandbox, kind, id]
        if expected_etag is not None:
            sql += " AND etag=?"
            args.append(expected_etag)
        with self.transaction() as db:
            return db.execute(sql, args).rowcount == 1

    def delete(self, tenant: Tenant, kind: str, id: str) -> bool:
        with self.transaction() as db:
            return db.execute(
                "DELETE FROM resources WHERE org=? AND sandbox=? AND kind=? AND id=?",
                (tenant.org, tenant.sandbox, kind, id),
            ).rowcount == 1

    def delete_tenant(self, tenant: Tenant) -> int:
        with self.transaction() as db:
            return db.execute("DELETE FROM resources WHERE org=? AND sandbox=?", tenant).rowcount

    def select(self, tenant: Tenant, kind: str, *, where: str = "", params: Sequence[Any] = (),
               order: str = "seq ASC", limit: int | None = None, offset: int = 0) -> list[Record]:
        """Resources of one kind in one tenant. ``where``/``order`` are SQL fragments over the indexed columns
        and ``json_extract(doc, ...)``; values always travel as bound parameters."""
        sql = "SELECT id, doc, etag, created, updated, seq FROM resources WHERE org=? AND sandbox=? AND kind=?"
        if where:
            sql += f" AND ({where})"
        sql += f" ORDER BY {order}"
        args: list[Any] = [tenant.org, tenant.sandbox, kind, *params]
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            args += [limit, offset]
        return [_record(r) for r in self._conn().execute(sql, args)]

    def count(self, tenant: Tenant, kind: str, *, where: str = "", params: Sequence[Any] = ()) -> int:
        sql = "SELECT COUNT(*) FROM resources WHERE org=? AND sandbox=? AND kind=?"
        if where:
            sql += f" AND ({where})"
        return self._conn().execute(sql, [tenant.org, tenant.sandbox, kind, *params]).fetchone()[0]

    def find_by_name(self, tenant: Tenant, kind: str, name: str) -> list[Record]:
        return self.select(tenant, kind, where="name = ?", params=[name])

    def held_elsewhere(self, tenant: Tenant, kind: str, id: str) -> bool:
        """True when a resource of ``kind`` with ``id`` exists in another tenant (another org or sandbox): a
        reference to it from ``tenant`` is refused."""
        return self._conn().execute(
            "SELECT 1 FROM resources WHERE kind=? AND id=? AND NOT (org=? AND sandbox=?) LIMIT 1",
            (kind, id, tenant.org, tenant.sandbox)).fetchone() is not None

    # -- small key/value settings (clock offset, seed, ...) ----------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self._conn().execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                       (key, value))


def _dump(doc: dict[str, Any]) -> str:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


def _record(row: tuple) -> Record:
    return Record(row[0], json.loads(row[1]), row[2], row[3], row[4], row[5])
