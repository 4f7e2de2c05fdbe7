"""The inputs digest (stages/context.py), which lets an update with nothing new skip every
stage, sees a removal that leaves the largest message key and the number of sightings as
they were: it no longer counts the stored messages (a million-row count on each update), and
the sources that saw them tell it instead."""

from __future__ import annotations

from sqlalchemy import func, select

from patchlens.config import Config
from patchlens.stages import ingest
from patchlens.stages.context import inputs_digest
from patchlens.stages.pipeline import run_stages
from patchlens.stages.progress import Reporter
from patchlens.store import schema
from patchlens.store.db import open_store


def _mail(n: int, date: str) -> str:
    return (
        f"From x Mon Jan  1 00:00:00 2001\nFrom: Dev {n} <dev{n}@example.org>\n"
        f"Subject: [PATCH] fix thing {n}\nDate: {date}\nMessage-ID: <m{n}@example.org>\n\n"
        f"body\n---\ndiff --git a/f{n} b/f{n}\n--- a/f{n}\n+++ b/f{n}\n@@ -1 +1 @@\n-a\n+b\n\n"
    )


def test_a_removal_below_the_newest_message_changes_the_digest(tmp_path) -> None:
    old, new = tmp_path / "old.mbox", tmp_path / "new.mbox"
    old.write_text(_mail(1, "Tue, 15 Jan 2019 10:00:00 +0000"))
    new.write_text(
        _mail(2, "Fri, 15 Jan 2021 10:00:00 +0000") + _mail(3, "Sat, 16 Jan 2021 10:00:00 +0000")
    )
    engine = open_store(str(tmp_path / "s.db"))
    ingest.add_list(engine, "old", [str(old)])
    ingest.add_list(engine, "new", [str(new)])
    quiet = Reporter(quiet=True)
    ingest.run_update(engine, tmp_path / "cache", quiet)
    run_stages(engine, Config(), tmp_path / "cache", quiet)
    m, sg = schema.messages, schema.message_sightings
    with engine.connect() as conn:
        before, top = inputs_digest(conn, Config()), conn.execute(select(func.max(m.c.id))).scalar()
        assert inputs_digest(conn, Config()) == before  # nothing happened: the same digest
    removed = ingest.remove_list(engine, "old")
    assert removed.messages == 1
    # The list that stays carries message 2 again, another copy of it (a variant): as many
    # sightings as before and the same largest key; the removed list's source tells.
    new.write_text(
        new.read_text() + _mail(2, "Fri, 15 Jan 2021 10:00:00 +0000").replace("body", "again")
    )
    ingest.run_update(engine, tmp_path / "cache", quiet)
    with engine.connect() as conn:
        assert conn.execute(select(func.max(m.c.id))).scalar() == top
        assert conn.execute(select(func.count()).select_from(sg)).scalar() == 3
        assert inputs_digest(conn, Config()) != before
    rep = run_stages(engine, Config(), tmp_path / "cache", quiet)
    assert not rep.skipped
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.series)).scalar() == 2
    assert run_stages(engine, Config(), tmp_path / "cache", quiet).skipped


def test_a_message_another_list_already_had_changes_the_digest(tmp_path) -> None:
    """A cross-posted message reaching its second list later adds only a sighting: no new
    message, no new source. The digest sees it (in SQLite by the sightings' largest rowid,
    not their count), so the stages run and the series is on both lists."""
    a, b = tmp_path / "a.mbox", tmp_path / "b.mbox"
    a.write_text(_mail(1, "Tue, 15 Jan 2019 10:00:00 +0000"))
    b.write_text(_mail(2, "Wed, 16 Jan 2019 10:00:00 +0000"))
    engine = open_store(str(tmp_path / "s.db"))
    ingest.add_list(engine, "a", [str(a)])
    ingest.add_list(engine, "b", [str(b)])
    quiet = Reporter(quiet=True)
    ingest.run_update(engine, tmp_path / "cache", quiet)
    run_stages(engine, Config(), tmp_path / "cache", quiet)
    m, sg = schema.messages, schema.message_sightings
    with engine.connect() as conn:
        before = inputs_digest(conn, Config())
        top = conn.execute(select(func.max(m.c.id))).scalar()
    b.write_text(b.read_text() + _mail(1, "Tue, 15 Jan 2019 10:00:00 +0000"))
    ingest.run_update(engine, tmp_path / "cache", quiet)
    with engine.connect() as conn:
        assert conn.execute(select(func.max(m.c.id))).scalar() == top  # no new message
        assert conn.execute(select(func.count()).select_from(sg)).scalar() == 3
        assert inputs_digest(conn, Config()) != before
    assert not run_stages(engine, Config(), tmp_path / "cache", quiet).skipped
    assert run_stages(engine, Config(), tmp_path / "cache", quiet).skipped


def test_a_source_replaced_under_the_same_numbers_has_the_stages_run(tmp_path) -> None:
    """`add-list b new.mbox --replace` when b's source was the last registered: SQLite hands
    the removed source's id to the new one, the newest message and the sightings' largest
    rowid may be as they were, and the digest with them. The removal owes every step all
    its work, and an update with work owed does not skip the stages: the replaced source's
    message leaves the series."""
    a, b, b2 = tmp_path / "a.mbox", tmp_path / "b.mbox", tmp_path / "b2.mbox"
    a.write_text(_mail(1, "Tue, 15 Jan 2019 10:00:00 +0000"))
    b.write_text(_mail(3, "Mon, 14 Jan 2019 10:00:00 +0000"))
    engine = open_store(str(tmp_path / "s.db"))
    ingest.add_list(engine, "a", [str(a)])
    ingest.add_list(engine, "b", [str(b)])
    quiet = Reporter(quiet=True)
    ingest.run_update(engine, tmp_path / "cache", quiet)
    a.write_text(a.read_text() + _mail(2, "Wed, 16 Jan 2019 10:00:00 +0000"))
    ingest.run_update(engine, tmp_path / "cache", quiet)
    run_stages(engine, Config(), tmp_path / "cache", quiet)
    sv = schema.series_versions
    with engine.connect() as conn:
        assert len(conn.execute(select(sv.c.key)).all()) == 3
    b2.write_text(_mail(1, "Tue, 15 Jan 2019 10:00:00 +0000"))  # a copy of a's message 1
    ingest.add_list(engine, "b", [str(b2)], replace=True)
    ingest.run_update(engine, tmp_path / "cache", quiet)
    assert not run_stages(engine, Config(), tmp_path / "cache", quiet).skipped
    with engine.connect() as conn:
        keys = sorted(k for (k,) in conn.execute(select(sv.c.key)))
    assert keys == ["m1@example.org", "m2@example.org"]  # message 3 went with b's old source
    assert run_stages(engine, Config(), tmp_path / "cache", quiet).skipped
