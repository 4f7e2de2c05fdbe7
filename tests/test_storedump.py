"""The order-free digest that compares two stores too big to hold (bench/storediff.py): equal
for a copy, different in the one table where one value changed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.helpers.storedump import logical_digest


def _copy(src: Path, dst: Path) -> None:
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)


def test_digest_equal_for_a_copy_and_different_where_a_value_changed(
    xen_store, tmp_path: Path
) -> None:
    _, db, _ = xen_store
    copy = tmp_path / "copy.db"
    _copy(db, copy)
    base = logical_digest(db)
    assert base["messages"][0] > 1000 and base["series"][0] > 100
    assert logical_digest(copy) == base
    with sqlite3.connect(copy) as con:
        # Rows stored in another order: the digest does not see the order.
        con.execute("CREATE TABLE s2 AS SELECT * FROM series ORDER BY random()")
        con.execute("DELETE FROM series")
        con.execute("INSERT INTO series SELECT * FROM s2")
        con.execute("DROP TABLE s2")
    assert logical_digest(copy) == base
    with sqlite3.connect(copy) as con:
        con.execute(
            "UPDATE series SET title = title || '!' WHERE rowid = (SELECT min(rowid) FROM series)"
        )
    changed = logical_digest(copy)
    assert {t for t in base if changed[t] != base[t]} == {"series"}
    assert changed["series"][0] == base["series"][0]
