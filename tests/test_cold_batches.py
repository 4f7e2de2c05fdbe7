"""A store rebuilt from nothing a batch of messages at a time equals one rebuilt at once.

Above `stages.review.COLD_BATCH` messages, reconstruction from an empty store goes in date
order, a batch at a time, each batch an incremental update on those before it, so that its
memory is that of a batch and not of the whole archive (issue 11). Here a copy of the EROFS
store (reconstructed in memory by the session fixture; the copy it kept as it was built) is
reconstructed again from empty in batches of 1,500 messages (a dozen batches), and every table
must agree with the original.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from patchlens.config import Config
from patchlens.stages import changes
from patchlens.stages.context import build_context
from patchlens.stages.progress import Reporter
from patchlens.stages.review import rebuild_structure
from patchlens.store.db import open_store
from tests.conftest import copy_store
from tests.helpers.storedump import logical_dump

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def original(erofs_store_pristine: Path) -> dict[str, list[tuple]]:
    """The logical dump of the EROFS store as the session built it, read once for both
    tests (each takes its own shallow copy of the dict)."""
    return logical_dump(erofs_store_pristine)


def test_batches_equal_one_rebuild(tmp_path: Path, erofs_store_pristine: Path, original) -> None:
    db = erofs_store_pristine
    copy = tmp_path / "copy.db"
    engine, ctx = _owing_everything(db, copy)
    rep = rebuild_structure(engine, Reporter(quiet=True), ctx.people, ctx.is_bot, cold_batch=1500)
    engine.dispose()
    assert rep.fallback == "" and rep.versions > 2500
    a, b = dict(original), logical_dump(copy)
    assert len(a["messages"]) > 15_000
    assert len(a["linker_words"]) > 1000 and len(a["linker_people"]) > 100
    # The copy owes matching and metrics everything (rebuilt from empty): the rest agrees.
    assert sorted(r[1] for r in b.pop("pending_work") if r[0] != "review") == ["full", "full"]
    a.pop("pending_work")
    differing = [t for t in a if a[t] != b[t]]
    assert not differing, f"tables that differ: {differing}"


def test_an_interrupted_rebuild_in_batches_resumes(
    tmp_path: Path, erofs_store_pristine: Path, original, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each batch commits with the count of messages done: a rebuild stopped in its fifth
    batch resumes there (the first four are not redone) and ends as one rebuild would."""

    db = erofs_store_pristine
    copy = tmp_path / "copy.db"
    engine, ctx = _owing_everything(db, copy)
    calls = _stopped_in_fifth_batch(monkeypatch)
    with pytest.raises(Stopped):
        rebuild_structure(engine, Reporter(quiet=True), ctx.people, ctx.is_bot, cold_batch=1500)
    with engine.connect() as conn:
        assert changes.mark(conn, changes.COLD_DONE) == 4 * 1500
        assert changes.pending(conn, changes.STRUCTURE).full
    calls.clear()
    rep = rebuild_structure(engine, Reporter(quiet=True), ctx.people, ctx.is_bot, cold_batch=1500)
    assert rep.fallback == ""
    assert len(calls) >= 6 and sum(calls) == rep_messages(copy) - 4 * 1500  # resumed, not redone
    with engine.connect() as conn:
        assert changes.mark(conn, changes.COLD_DONE) is None
    engine.dispose()
    a, b = dict(original), logical_dump(copy)
    a.pop("pending_work")
    b.pop("pending_work")
    differing = [t for t in a if a[t] != b[t]]
    assert not differing, f"tables that differ: {differing}"


def _owing_everything(db: Path, copy: Path):
    """A copy of the store `db` whose reconstruction is owed everything, and its context."""
    copy_store(db, copy)  # WAL included: what the fixture's engine has committed
    engine = open_store(str(copy))
    with engine.begin() as conn:
        changes.owe(conn, changes.STRUCTURE, changes.Work(full=True))
    with engine.connect() as conn:
        ctx = build_context(conn, Config(), db.with_name("cache"))
    return engine, ctx


class Stopped(Exception):
    pass


def _stopped_in_fifth_batch(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make the reconstruction stop in its fifth batch, once, as a kill or Ctrl-C would;
    the list returned receives the size of each batch begun."""
    from patchlens.stages import review

    real = review.rebuild_part
    calls: list[int] = []
    stops = [5]

    def stopping(*args, **kwargs):
        calls.append(len(args[1]))
        if len(calls) in stops:
            stops.clear()
            raise Stopped
        return real(*args, **kwargs)

    monkeypatch.setattr(review, "rebuild_part", stopping)
    return calls


def rep_messages(db: Path) -> int:
    """Messages with an analysis: what the rebuild goes through."""
    con = sqlite3.connect(db)
    try:
        return con.execute(
            "SELECT count(*) FROM messages m JOIN message_analysis a ON a.message_pk = m.id"
        ).fetchone()[0]
    finally:
        con.close()


def test_a_first_update_stopped_in_its_batches_resumes_there(
    tmp_path: Path, erofs_store_pristine: Path, original, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the pipeline, as `patchlens update` runs it: a store whose first update never
    finished owes everything, and owing it again on the next run cleared the batches' progress,
    so a first build stopped at batch 40 of 56 started again from the first. The next run now
    resumes where the stopped one was, and ends as one clean run."""
    from patchlens.stages import pipeline, review
    from patchlens.store import schema

    db = erofs_store_pristine
    copy = tmp_path / "copy.db"
    copy_store(db, copy)
    engine = open_store(str(copy))
    st = schema.stage_state
    with engine.begin() as conn:  # no update of this store has finished yet
        conn.execute(st.delete().where(st.c.stage == pipeline.STAGE))
    monkeypatch.setattr(review, "COLD_BATCH", 1500)
    calls = _stopped_in_fifth_batch(monkeypatch)
    quiet = Reporter(quiet=True)
    with pytest.raises(Stopped):
        pipeline.run_stages(engine, Config(), db.with_name("cache"), quiet)
    with engine.connect() as conn:
        assert changes.mark(conn, changes.COLD_DONE) == 4 * 1500
    calls.clear()
    rep = pipeline.run_stages(engine, Config(), db.with_name("cache"), quiet)
    assert not rep.skipped and rep.review.fallback == ""
    assert sum(calls) == rep_messages(copy) - 4 * 1500  # resumed, not redone
    with engine.connect() as conn:
        assert pipeline._begun(conn) is None
        assert conn.execute(st.select().where(st.c.stage == pipeline.STAGE)).first()
    # Forced, everything is owed again even though the inputs are the same.
    calls.clear()
    pipeline.run_stages(engine, Config(), db.with_name("cache"), quiet, force=True)
    assert sum(calls) == rep_messages(copy)
    engine.dispose()
    a, b = dict(original), logical_dump(copy)
    differing = [t for t in a if a[t] != b[t]]
    assert not differing, f"tables that differ: {differing}"
