"""Numbers in mail are hostile too: a version, a series length, a date, a zone offset or an
archive's time of any size must neither stop an ingest (SQLite holds 64-bit integers,
PostgreSQL's INTEGER 32 bits) nor make reconstruction allocate by them."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from patchlens.config import Config
from patchlens.mail import headers as h
from patchlens.mail.parse import parse_message
from patchlens.mail.subject import MAX_TOTAL, parse_subject
from patchlens.sources.perceval import _when
from patchlens.stages import ingest
from patchlens.stages.pipeline import run_stages
from patchlens.stages.progress import Reporter
from patchlens.store import schema
from patchlens.store.db import open_store

HOSTILE_SUBJECTS = [
    "[PATCH] v99999999999999999999999: fix the thing",
    "[PATCH v1.2.3.4.5.6.7.8.9.10.11 1/2] many parts",
    "[PATCH 1/999999999] a billion patches",
    "[PATCH v999999999999 2/2] a long major",
    "Fix it (v99999999999999999999)",
]


@pytest.mark.parametrize("subject", HOSTILE_SUBJECTS)
def test_subject_numbers_are_bounded(subject: str) -> None:
    s = parse_subject(subject)
    assert 1 <= s.version < 2**31
    assert len(s.version_str) <= 20
    assert s.total is None or s.total <= MAX_TOTAL


def test_real_long_series_and_versions_are_kept() -> None:
    assert parse_subject("[PATCH 0001/1285] replace 0444").total == 1285
    s = parse_subject("[PATCH v5.1 3/7] x")
    assert (s.version, s.version_str, s.total) == (5, "5.1", 7)
    assert parse_subject("[PATCH v1.2.3] y").version_str == "1.2.3"


def test_dates_offsets_and_archive_times_are_bounded() -> None:
    assert h.parse_date("Fri, 31 Dec 2010 23:59:59 +6997719400") is None
    assert h.parse_date("Fri, 31 Dec 2010 23:59:59 +1400") == (1293789599, 840)
    raw = b"From: a <a@example.org>\nSubject: x\nMessage-ID: <x@example.org>\n\nbody\n"
    for when in (2**31, 3398925600, 10**19, -5):
        m = parse_message(raw, when)
        assert (m.date_utc, m.date_source) == (None, "none"), when
    assert parse_message(raw, 1500000000).date_utc == 1500000000
    for v in (float("inf"), float("nan"), 1e19, True, "1500000000"):
        assert _when({"updated_on": v}) is None, v
    assert _when({"updated_on": 1.5e9}) == 1500000000


def test_an_archive_of_such_mail_is_read_and_reconstructed(tmp_path: Path) -> None:
    mbox = tmp_path / "l.mbox"
    mbox.write_text(
        "".join(
            f"From x Wed Sep 15 10:00:00 2077\nFrom: Dev <dev@example.org>\nSubject: {s}\n"
            f"Date: Mon, 1 Jan 2024 0{i}:00:00 +6997719400\nMessage-ID: <h{i}@example.org>\n\n"
            "body\n---\ndiff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n\n"
            for i, s in enumerate(HOSTILE_SUBJECTS)
        )
    )
    engine = open_store(str(tmp_path / "s.db"))
    ingest.add_list(engine, "l", [str(mbox)])
    quiet = Reporter(quiet=True)
    (rep,) = ingest.run_update(engine, tmp_path / "cache", quiet)
    assert rep.error is None and rep.new == len(HOSTILE_SUBJECTS)
    run_stages(engine, Config(), tmp_path / "cache", quiet)
    sv = schema.series_versions
    with engine.connect() as conn:
        rows = conn.execute(select(sv.c.version, sv.c.version_str, sv.c.total)).all()
    assert rows and all(v < 2**31 and len(vs) <= 20 for v, vs, _t in rows)
    assert all(t is None or t <= MAX_TOTAL for _v, _vs, t in rows)


def test_date_columns_bind_bounds_uncast_on_postgresql() -> None:
    """A bound compared with a date column (a window past 2038, a filter centuries away) is
    sent to PostgreSQL without the `::INTEGER` cast its dialect writes for INTEGER binds, which
    made PostgreSQL refuse a value past 32 bits; uncast, it is compared exactly, as SQLite
    compares it (tests/test_postgres.py runs it). Neither database processes a value per row.
    Every date column has the type, and what the parsers hold dates to is its range."""
    from sqlalchemy import Integer
    from sqlalchemy.dialects import postgresql, sqlite

    from patchlens.sources.gitrepo import _raw_date
    from patchlens.store.schema import DATE_MAX

    pg, lite = postgresql.psycopg.dialect(), sqlite.pysqlite.dialect()
    dated = [
        c
        for t in schema.metadata.sorted_tables
        for c in t.columns
        if c.name in ("date", "date_utc") or c.name.endswith("_date")
    ]
    assert len(dated) >= 14
    for col in dated:
        assert isinstance(col.type, schema.Date), f"{col.table.name}.{col.name}"
        for dialect in (pg, lite):
            assert col.type.dialect_impl(dialect).bind_processor(dialect) is None
        for cond in (col >= 2**40, func.coalesce(col, 0) <= 2**40, col.between(0, 2**40)):
            compiled = cond.compile(dialect=pg)
            (far,) = {n for n, b in compiled.binds.items() if b.value == 2**40 and "%" not in n}
            assert f"%({far})s" in str(compiled)
            assert f"%({far})s::" not in str(compiled)
    # What the type spares: a plain INTEGER bound is cast, and PostgreSQL refuses 2**40 so.
    plain = schema.messages.c.id.cast(Integer) >= 2**40
    assert "::INTEGER" in str(plain.compile(dialect=pg))
    assert h.LATEST_DATE == DATE_MAX
    assert _raw_date(f"{2**40} +0000") == (DATE_MAX, 0)
