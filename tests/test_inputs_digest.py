"""The inputs digest (stages/context.py), which lets an update with nothing new skip every
stage, sees a removal that leaves the largest message key and the number of sightings as
they were: it no longer counts the stored messages (a million-row count on each update), and
the sources that saw them tell it instead."""

from __future__ import annotations

from sqlalchemy import func, select

from patchlens.config import Config
from patchlens.stages import changes, ingest
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


QUIET = Reporter(quiet=True)


def _two_lists(tmp_path, first: tuple[str, str], second: tuple[str, str]):
    """A store with two mbox lists, (name, text) each, read and built once; the engine."""
    engine = open_store(str(tmp_path / "s.db"))
    for name, text in (first, second):
        (tmp_path / f"{name}.mbox").write_text(text)
        ingest.add_list(engine, name, [str(tmp_path / f"{name}.mbox")])
    _update(engine, tmp_path)
    return engine


def _update(engine, tmp_path, stages: bool = True):
    ingest.run_update(engine, tmp_path / "cache", QUIET)
    return run_stages(engine, Config(), tmp_path / "cache", QUIET) if stages else None


def test_a_removal_below_the_newest_message_changes_the_digest(tmp_path) -> None:
    engine = _two_lists(
        tmp_path,
        ("old", _mail(1, "Tue, 15 Jan 2019 10:00:00 +0000")),
        (
            "new",
            _mail(2, "Fri, 15 Jan 2021 10:00:00 +0000")
            + _mail(3, "Sat, 16 Jan 2021 10:00:00 +0000"),
        ),
    )
    new = tmp_path / "new.mbox"
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
    _update(engine, tmp_path, stages=False)
    with engine.connect() as conn:
        assert conn.execute(select(func.max(m.c.id))).scalar() == top
        assert conn.execute(select(func.count()).select_from(sg)).scalar() == 3
        assert inputs_digest(conn, Config()) != before
    rep = run_stages(engine, Config(), tmp_path / "cache", QUIET)
    assert not rep.skipped
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.series)).scalar() == 2
    assert run_stages(engine, Config(), tmp_path / "cache", QUIET).skipped


def test_a_message_another_list_already_had_changes_the_digest(tmp_path) -> None:
    """A cross-posted message reaching its second list later adds only a sighting: no new
    message, no new source. The digest sees it (in SQLite by the sightings' largest rowid,
    not their count), so the stages run and the series is on both lists."""
    engine = _two_lists(
        tmp_path,
        ("a", _mail(1, "Tue, 15 Jan 2019 10:00:00 +0000")),
        ("b", _mail(2, "Wed, 16 Jan 2019 10:00:00 +0000")),
    )
    b = tmp_path / "b.mbox"
    m, sg = schema.messages, schema.message_sightings
    with engine.connect() as conn:
        before = inputs_digest(conn, Config())
        top = conn.execute(select(func.max(m.c.id))).scalar()
    b.write_text(b.read_text() + _mail(1, "Tue, 15 Jan 2019 10:00:00 +0000"))
    _update(engine, tmp_path, stages=False)
    with engine.connect() as conn:
        assert conn.execute(select(func.max(m.c.id))).scalar() == top  # no new message
        assert conn.execute(select(func.count()).select_from(sg)).scalar() == 3
        assert inputs_digest(conn, Config()) != before
    assert not run_stages(engine, Config(), tmp_path / "cache", QUIET).skipped
    assert run_stages(engine, Config(), tmp_path / "cache", QUIET).skipped


def test_a_source_replaced_under_the_same_numbers_has_the_stages_run(tmp_path) -> None:
    """`add-list b new.mbox --replace` when b's source was the last registered: SQLite hands
    the removed source's id to the new one, the newest message and the sightings' largest
    rowid may be as they were, and the digest with them. The removal owes every step all
    its work, and an update with work owed does not skip the stages: the replaced source's
    message leaves the series."""
    engine = _two_lists(
        tmp_path,
        ("a", _mail(1, "Tue, 15 Jan 2019 10:00:00 +0000")),
        ("b", _mail(3, "Mon, 14 Jan 2019 10:00:00 +0000")),
    )
    a, b2 = tmp_path / "a.mbox", tmp_path / "b2.mbox"
    a.write_text(a.read_text() + _mail(2, "Wed, 16 Jan 2019 10:00:00 +0000"))
    _update(engine, tmp_path)
    sv = schema.series_versions
    with engine.connect() as conn:
        assert len(conn.execute(select(sv.c.key)).all()) == 3
    b2.write_text(_mail(1, "Tue, 15 Jan 2019 10:00:00 +0000"))  # a copy of a's message 1
    ingest.add_list(engine, "b", [str(b2)], replace=True)
    _update(engine, tmp_path, stages=False)
    assert not run_stages(engine, Config(), tmp_path / "cache", QUIET).skipped
    with engine.connect() as conn:
        keys = sorted(k for (k,) in conn.execute(select(sv.c.key)))
    assert keys == ["m1@example.org", "m2@example.org"]  # message 3 went with b's old source
    assert run_stages(engine, Config(), tmp_path / "cache", QUIET).skipped


def test_work_owed_runs_the_stages_even_with_the_same_digest(tmp_path) -> None:
    """The skip rule also asks whether any step is owed work: a removal owes everything in
    its own transaction, and the digest's numbers may come out as they were."""
    engine = _two_lists(
        tmp_path,
        ("a", _mail(1, "Tue, 15 Jan 2019 10:00:00 +0000")),
        ("b", _mail(2, "Wed, 16 Jan 2019 10:00:00 +0000")),
    )
    assert run_stages(engine, Config(), tmp_path / "cache", QUIET).skipped
    with engine.begin() as conn:
        changes.owe(conn, changes.METRICS, changes.Work(full=True))
    rep = run_stages(engine, Config(), tmp_path / "cache", QUIET)
    assert not rep.skipped and rep.metrics.series == 2
    with engine.connect() as conn:
        assert conn.execute(select(schema.pending_work.c.item)).all() == []
    assert run_stages(engine, Config(), tmp_path / "cache", QUIET).skipped
