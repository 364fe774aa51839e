"""The state store's query plans: every filter on an indexed column searches its index, whatever the store holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from aep_magics.local.store import Store, Tenant

TENANT = Tenant("AEPLOCAL000000000000000@AdobeOrg", "prod")


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "state.db")
    for i in range(2_000):
        store.insert(TENANT, "flows", f"flow-{i}", {"n": i}, created=i, name=f"name-{i % 500}",
                     state="enabled" if i % 2 else "disabled", parent=f"parent-{i // 40}")
    return store


def plan(store: Store, where: str, params: list, order: str = "seq ASC") -> str:
    sql = ("SELECT id, doc FROM resources WHERE org=? AND sandbox=? AND kind=?"
           + (f" AND ({where})" if where else "") + f" ORDER BY {order} LIMIT ? OFFSET ?")
    rows = store._conn().execute("EXPLAIN QUERY PLAN " + sql, [*TENANT, "flows", *params, 100, 0]).fetchall()
    return " | ".join(row[3] for row in rows)


@pytest.mark.parametrize(("where", "params", "order", "index"), [
    ("name IN (?)", ["name-1"], "seq ASC", "ix_res_name_seq"),
    ("name IN (?,?)", ["name-1", "name-2"], "seq ASC", "ix_res_name_seq"),
    ("name IN (?)", ["name-1"], "created DESC, seq ASC", "ix_res_name_seq"),
    ("state IN (?)", ["enabled"], "seq DESC", "ix_res_state_seq"),
    ("parent IN (?,?)", ["parent-1", "parent-2"], "seq ASC", "ix_res_parent"),
    ("", [], "seq ASC", "ix_res_seq"),
    ("", [], "created DESC, seq ASC", "ix_res_created"),
])
def test_filters_search_their_index(store, where, params, order, index):
    found = plan(store, where, params, order)
    assert f"USING INDEX {index}" in found or f"USING COVERING INDEX {index}" in found, found


def test_plans_survive_reopening_and_answers_are_right(store, tmp_path):
    again = Store(tmp_path / "state.db")
    assert "ix_res_name_seq" in plan(again, "name IN (?,?)", ["name-1", "name-2"])
    found = again.select(TENANT, "flows", where="name IN (?,?)", params=["name-1", "name-2"], order="seq DESC")
    assert [r.id for r in found] == [f"flow-{i}" for i in range(1999, -1, -1) if i % 500 in (1, 2)]
