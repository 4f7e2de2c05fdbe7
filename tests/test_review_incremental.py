"""Reconstruction is incremental: new mail changes only the rows it touches, and the result
equals a reconstruction from scratch."""

from __future__ import annotations

from pathlib import Path

from patchlens.config import Config
from patchlens.stages import ingest
from patchlens.stages.pipeline import StagesReport, run_stages
from patchlens.stages.progress import Reporter
from patchlens.store import schema
from patchlens.store.db import open_store
from tests.helpers.publicinbox import add_message, init
from tests.helpers.storedump import TIME_COLUMNS, dump


def mail(
    mid: str, subject: str, body: str, date: str, irt: str | None = None, sender: str = "A Author"
) -> bytes:
    addr = sender.split()[0].lower()
    head = f"From: {sender} <{addr}@example.com>\nSubject: {subject}\nMessage-ID: <{mid}>\n"
    if irt:
        head += f"In-Reply-To: <{irt}>\nReferences: <{irt}>\n"
    return f"{head}Date: {date}\n\n{body}".encode()


PATCH = (
    "Fix it.\n\nSigned-off-by: A Author <a@example.com>\n---\n"
    "diff --git a/x.c b/x.c\n--- a/x.c\n+++ b/x.c\n@@ -1 +1 @@\n-a\n+b\n"
)
DAY1 = [
    mail("c1@x", "[PATCH 0/2] fix things", "cover\n", "Mon, 1 Jan 2024 10:00:00 +0000"),
    mail("p1@x", "[PATCH 1/2] fix a", PATCH, "Mon, 1 Jan 2024 10:00:01 +0000", "c1@x"),
    mail("p2@x", "[PATCH 2/2] fix b", PATCH, "Mon, 1 Jan 2024 10:00:02 +0000", "c1@x"),
    mail("s1@x", "[PATCH] other", PATCH, "Mon, 1 Jan 2024 11:00:00 +0000"),
]
DAY2 = [
    mail(
        "r1@x",
        "Re: [PATCH 1/2] fix a",
        "> x\nok\n\nReviewed-by: R Reviewer <r@example.com>\n",
        "Tue, 2 Jan 2024 09:00:00 +0000",
        "p1@x",
    ),
    mail("c2@x", "[PATCH v2 0/2] fix things", "v2: fix\n", "Wed, 3 Jan 2024 10:00:00 +0000"),
    mail("q1@x", "[PATCH v2 1/2] fix a", PATCH, "Wed, 3 Jan 2024 10:00:01 +0000", "c2@x"),
    mail("q2@x", "[PATCH v2 2/2] fix b", PATCH, "Wed, 3 Jan 2024 10:00:02 +0000", "c2@x"),
]


def _build(tmp: Path, days: list[list[bytes]]) -> tuple[Path, list[StagesReport]]:
    """A store updated once a day, as `patchlens update` does (ingest, then the pipeline)."""
    repo = init(tmp / "inbox.git")
    db = tmp / "s.db"
    engine = open_store(str(db))
    ingest.add_list(engine, "l", [str(repo)])
    reports = []
    for day in days:
        for raw in day:
            add_message(repo, raw)
        ingest.run_update(engine, tmp / "cache", Reporter(quiet=True), jobs=1)
        reports.append(run_stages(engine, Config(), tmp / "cache", Reporter(quiet=True), jobs=1))
    engine.dispose()
    return db, reports


def test_new_day_equals_from_scratch(tmp_path: Path) -> None:
    step_db, reports = _build(tmp_path / "a", [DAY1, DAY2])
    full_db, _ = _build(tmp_path / "b", [DAY1 + DAY2])
    first, second = reports
    assert first.review.versions == 2 and not first.review.incremental
    # Day two is rebuilt alone: the series "fix things" with its two versions; "other" is not
    # touched. The store then holds three versions in two series.
    assert second.review.incremental
    assert (second.review.versions, second.review.series, second.review.links) == (2, 1, 1)
    a = _by_message_id(step_db)
    assert len(a["series_versions"]) == 3 and len(a["series"]) == 2
    assert second.analysed == 0  # ingest's workers analysed the 4 new messages as they read them
    # Day two adds 4 threads rows, 3 members, 1 version, 1 reply; the series row of "fix
    # things" changes (2 versions now) and nothing about "other" is rewritten.
    assert second.review.changed_rows < 20
    a, b = _by_message_id(step_db), _by_message_id(full_db)
    for table in (
        "message_threads",
        "series",
        "series_versions",
        "link_features",
        "version_members",
        "replies",
    ):
        assert a[table] == b[table], table


def _by_message_id(db: Path) -> dict[str, list]:
    """The dump with message primary keys (which depend on reading order) as Message-IDs."""
    d = dump(db)
    ids = {row[0]: row[1] for row in dump(db)["messages"]}
    out = {}
    for table, rows in d.items():
        names = [
            c.name for c in schema.metadata.tables[table].columns if c.name not in TIME_COLUMNS
        ]
        cols = {i for i, n in enumerate(names) if n in ("message_pk", "addressed_pk", "cover_pk")}
        out[table] = sorted(
            (tuple(ids.get(v, v) if i in cols else v for i, v in enumerate(r)) for r in rows),
            key=repr,
        )
    return out


def test_nothing_new_changes_nothing(tmp_path: Path) -> None:
    _db, reports = _build(tmp_path, [DAY1, []])
    assert reports[1].analysed == 0 and reports[1].review.changed_rows == 0
    assert reports[1].skipped


def test_sender_postings_read_a_range_of_the_sender_date_index(tmp_path: Path) -> None:
    """A day's postings pull in their senders' postings within the grouping window: read as a
    range of the (sender, date) index, not every message of each sender (which `coalesce` on
    the date made SQLite do: a maintainer's thousands at a million messages, for each day).
    A window around the epoch still takes the messages without a date (dated 0)."""
    from sqlalchemy import and_, or_, select

    from patchlens.queries.sql import dated_between

    engine = open_store(str(tmp_path / "s.db"))
    m = schema.messages

    def near(lo: int, hi: int):
        return or_(*(and_(m.c.from_addr == a, dated_between(m.c.date_utc, lo, hi)) for a in "xy"))

    with engine.connect() as conn:
        day = select(m.c.id).where(near(1_600_000_000, 1_600_086_400))
        sql = day.compile(conn, compile_kwargs={"literal_binds": True})
        plan = " ".join(r[-1] for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
        assert "from_addr=? AND date_utc>? AND date_utc<?" in plan, plan
        assert "IS NULL" not in str(sql)
        assert "IS NULL" in str(select(m.c.id).where(near(-5, 5)).compile(conn))
    engine.dispose()


def _patch(title: str) -> str:
    path = title.split(":")[0]
    return (
        f"{title}.\n\nSigned-off-by: A Author <a@example.com>\n---\n"
        f"diff --git a/{path}.c b/{path}.c\n--- a/{path}.c\n+++ b/{path}.c\n"
        "@@ -1 +1 @@\n-a\n+b\n"
    )


def _dated(day: int, hour: int) -> str:
    weekday = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][day % 7]  # 1 Jan 2024: Monday
    return f"{weekday}, {day + 1} Jan 2024 {hour:02d}:00:00 +0000"


# Grouping across threads (review/series.py): patches whose threading broke join the version
# of their key sent shortly before; a patch re-rolled alone, in a thread of its own, replaces
# its patch of the earlier version of its total. Around them, the same sender's postings of
# other totals, which grouping never reads beside them.
CROSS = [
    [
        mail("w0@x", "[PATCH 0/3] widget: things", "cover\n", _dated(0, 9)),
        mail("w1@x", "[PATCH 1/3] widget: one", _patch("widget: one"), _dated(0, 10), "w0@x"),
        mail("g0@x", "[PATCH 0/2] gadget: stuff", "cover\n", _dated(0, 11)),
        mail("g1@x", "[PATCH 1/2] gadget: x", _patch("gadget: x"), _dated(0, 11), "g0@x"),
        mail("g2@x", "[PATCH 2/2] gadget: y", _patch("gadget: y"), _dated(0, 11), "g0@x"),
        mail("s1@x", "[PATCH] single: one", _patch("single: one"), _dated(0, 12)),
    ],
    [  # the rest of the widget series, its threading broken
        mail("w2@x", "[PATCH 2/3] widget: two", _patch("widget: two"), _dated(0, 14)),
        mail("w3@x", "[PATCH 3/3] widget: three", _patch("widget: three"), _dated(0, 14)),
        mail("s2@x", "[PATCH] single: two", _patch("single: two"), _dated(1, 8)),
        mail("t1@x", "[PATCH 1/4] thing: a", _patch("thing: a"), _dated(1, 9)),
    ],
    [  # one gadget patch re-rolled in a thread of its own
        mail("h2@x", "[PATCH v2 2/2] gadget: y", _patch("gadget: y"), _dated(3, 9)),
    ],
]


def test_grouping_across_threads_equals_from_scratch(tmp_path: Path) -> None:
    """New postings that grouping joins to versions in other threads (broken threading, a
    partial re-roll sent alone) change those versions as a rebuild of everything does, in
    date order and with the days arriving in reverse (the re-roll before what it re-rolls: a
    stored version changes that no new message belongs to). The windows of a sender's
    postings read around new ones (review_incremental._classes) must reach them."""
    full_db, rerolled = _daily_equals_at_once(tmp_path, CROSS)
    assert rerolled["h2@x"] == (1, "g0@x")
    members = _rows(
        full_db,
        "SELECT m.message_id FROM version_members v JOIN messages m ON m.id = v.message_pk"
        " WHERE v.version_key = 'w0@x'",
    )
    assert {r[0] for r in members} == {"w0@x", "w1@x", "w2@x", "w3@x"}


def _daily_equals_at_once(
    tmp: Path, days: list[list[bytes]]
) -> tuple[Path, dict[str, tuple[int, str | None]]]:
    """Asserts that the days read one update each, in order and reversed, each update after
    the first incremental, give the structural tables of one update over all of them.
    Returns that store and its versions' (partial, rerolls_key) by key."""
    full_db, _ = _build(tmp / "full", [[m for day in days for m in day]])
    b = _by_message_id(full_db)
    for order, these in (("in order", days), ("reversed", days[::-1])):
        step_db, reports = _build(tmp / order.replace(" ", "-"), these)
        assert all(r.review.incremental for r in reports[1:]), order
        a = _by_message_id(step_db)
        for table in ("message_threads", "series", "series_versions", "version_members", "replies"):
            assert a[table] == b[table], (order, table)
    rows = _rows(full_db, "SELECT key, partial, rerolls_key FROM series_versions")
    return full_db, {r[0]: r[1:] for r in rows}


def _rows(db: Path, sql: str) -> list[tuple]:
    import sqlite3

    con = sqlite3.connect(db)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _at(stamp: str) -> str:
    return f"{stamp} +0000"


def _bar_version(sender: str = "A Author") -> list[bytes]:
    """A cover "0/3" and its first patch "1/4", dated 40 minutes before it (a clock's skew):
    a version of total 4 dated by its cover."""
    return [
        mail(
            "b0@x",
            "[PATCH 0/3] bar: add",
            "cover\n",
            _at("Wed, 31 Jan 2024 10:30:00"),
            None,
            sender,
        ),
        mail(
            "b1@x",
            "[PATCH 1/4] bar: first",
            _patch("bar: first"),
            _at("Wed, 31 Jan 2024 09:50:00"),
            "b0@x",
            sender,
        ),
    ]


# A version whose members say different totals: a cover "0/3" whose first patch says "1/4"
# (the version takes 4). A patch "2/3" whose threading broke joins it by the cover's total,
# and a patch re-rolled alone in another thread ("v2 2/4") re-rolls it by the version's: the
# window around the late "2/3" must read the postings of the version's total too. And a
# cover dated after its first patch (a clock's skew) at the far end of the re-roll window:
# the window around the re-roll reads the sender's covers whatever their total.
MIXED = [
    [
        mail("c0@x", "[PATCH 0/3] foo: add", "cover\n", _at("Wed, 10 Jan 2024 09:00:00")),
        mail(
            "c1@x",
            "[PATCH 1/4] foo: first",
            _patch("foo: first"),
            _at("Wed, 10 Jan 2024 09:01:00"),
            "c0@x",
        ),
        mail(
            "r2@x",
            "[PATCH v2 2/4] foo: second",
            _patch("foo: second"),
            _at("Mon, 15 Jan 2024 09:00:00"),
        ),
        *_bar_version(),
    ],
    [  # late: the broken "2/3" of foo
        mail(
            "c2@x",
            "[PATCH 2/3] foo: second",
            _patch("foo: second"),
            _at("Wed, 10 Jan 2024 09:02:00"),
        ),
    ],
    [  # bar's "1/4" re-rolled alone, thirty days less half an hour after its cover
        mail(
            "q1@x",
            "[PATCH v2 1/4] bar: first",
            _patch("bar: first"),
            _at("Fri, 1 Mar 2024 10:00:00"),
        ),
    ],
]


def test_versions_of_mixed_totals_equal_from_scratch(tmp_path: Path) -> None:
    """The windows an incremental rebuild reads (review_incremental._sender_postings) reach
    what grouping reads across threads when a version's members say different totals, and
    when its cover is dated after its patches at the window's far end."""
    _full_db, rerolled = _daily_equals_at_once(tmp_path, MIXED)
    assert rerolled["r2@x"] == (1, "c0@x")
    assert rerolled["q1@x"] == (1, "b0@x")


# Grouping measures a re-roll from the version it re-rolls, not from the patch that joined
# that version: the windows around a late patch must reach around its version's date too.
# bar: a late "2/3" (threading broken) joins a version dated by its cover, 35 minutes after
# the patch; the "v2 2/4" re-rolled alone 30 days less 10 minutes after that cover re-rolls
# it. baz: a late "v2 3/4" joins, 23 hours after, a "v2 2/4" sent alone, which then re-rolls
# the first version sent 30 days less an hour before it.
BAR, BAZ = "Bea Bar", "Cid Baz"
DATED = [
    [
        *_bar_version(BAR),
        mail(
            "bq@x",
            "[PATCH v2 2/4] bar: second",
            _patch("bar: second"),
            _at("Fri, 1 Mar 2024 10:20:00"),
            None,
            BAR,
        ),
        mail(
            "u1@x",
            "[PATCH 1/4] baz: one",
            _patch("baz: one"),
            _at("Mon, 1 Jan 2024 10:00:00"),
            None,
            BAZ,
        ),
        mail(
            "u3@x",
            "[PATCH 3/4] baz: three",
            _patch("baz: three"),
            _at("Mon, 1 Jan 2024 10:01:00"),
            "u1@x",
            BAZ,
        ),
        mail(
            "v2@x",
            "[PATCH v2 2/4] baz: two",
            _patch("baz: two"),
            _at("Wed, 31 Jan 2024 09:00:00"),
            None,
            BAZ,
        ),
    ],
    [
        mail(
            "b2@x",
            "[PATCH 2/3] bar: second",
            _patch("bar: second"),
            _at("Wed, 31 Jan 2024 09:55:00"),
            None,
            BAR,
        ),
        mail(
            "v3@x",
            "[PATCH v2 3/4] baz: three",
            _patch("baz: three"),
            _at("Thu, 1 Feb 2024 08:00:00"),
            None,
            BAZ,
        ),
    ],
]


def test_windows_reach_around_the_dates_of_the_versions_joined(tmp_path: Path) -> None:
    """A late patch joins a version dated before it; what re-rolls that version is dated
    from the version, beyond the window around the patch (review_incremental._version_reach)."""
    _full_db, rerolled = _daily_equals_at_once(tmp_path, DATED)
    assert rerolled["bq@x"] == (1, "b0@x")
    assert rerolled["v2@x"] == (1, "u1@x")


def test_a_partial_reroll_names_its_base_by_the_bases_key() -> None:
    """A version without a cover is keyed by its first patch, whichever patch began it (a
    "2/2" dated before the "1/2" that answers it); a partial re-roll of it names that key
    (review/series.py): it named the patch that began the version, a key no version has."""
    from patchlens.review.series import group_versions
    from tests.helpers.postings import posting

    versions = group_versions(
        [
            posting("w2@x", "[PATCH 2/2] w: two", 1_000_000),
            posting("w1@x", "[PATCH 1/2] w: one", 1_000_060, "w2@x"),
            posting("v2@x", "[PATCH v2 2/2] w: two", 1_000_000 + 5 * 86400),
        ]
    )
    by_key = {v.key: v for v in versions}
    assert set(by_key) == {"w1@x", "v2@x"}
    assert by_key["v2@x"].partial and by_key["v2@x"].rerolls == "w1@x"
