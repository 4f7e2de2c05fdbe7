"""Recipient keys (stages/recipients.py): every message's To:/Cc: addresses hashed into
`message_keys`, filled by the update and resumed after a stop; the series that named a person
found by them equal those a pattern over every posting's headers finds."""

from __future__ import annotations

import shutil
from collections import Counter

import pytest
from sqlalchemy import func, select

from patchlens.mail.keys import recipients
from patchlens.queries import load
from patchlens.stages import changes
from patchlens.stages import recipients as stage
from patchlens.stages.progress import Reporter
from patchlens.store import schema
from patchlens.store.db import open_store


def _people(conn, n: int) -> list[set[str]]:
    """The addresses of the n people most often in To:/Cc:, and an address nobody uses."""
    m = schema.messages
    counts: dict[str, int] = {}
    for to, cc in conn.execute(select(m.c.to_addrs, m.c.cc_addrs)):
        for a in recipients(to, cc):
            counts[a] = counts.get(a, 0) + 1
    top = sorted(counts, key=lambda a: (-counts[a], a))[:n]
    return [{a} for a in top] + [set(top[:3]), {"nobody@example.invalid"}]


def test_named_series_by_keys_equal_the_scan(erofs_store) -> None:
    _db, engine, _ = erofs_store
    with engine.connect() as conn:
        assert load._recipient_keys_complete(conn)  # the update filled them
        for addresses in _people(conn, 8):
            by_keys = load._named_by_keys(conn, addresses)
            assert by_keys == load._named_by_scan(conn, addresses), addresses
        # The comparison says something (the most named address is the list's own, which
        # names nobody: mail/listid.py).
        assert sum(bool(load._named_by_keys(conn, a)) for a in _people(conn, 8)) >= 5
        assert not load._named_by_keys(conn, {"nobody@example.invalid"})


def test_fill_resumes_and_equals_one_pass(erofs_store, tmp_path, monkeypatch) -> None:
    db, engine, _ = erofs_store
    mk = schema.message_keys
    with engine.connect() as conn:
        whole = set(conn.execute(select(mk.c.hash, mk.c.message_pk).where(mk.c.kind == "a")))
        newest = conn.execute(select(func.max(schema.messages.c.id))).scalar()
    assert len(whole) > 10_000
    shutil.copy(db, tmp_path / "copy.db")
    copy = open_store(str(tmp_path / "copy.db"))
    with copy.begin() as conn:  # as a store built before recipient keys
        conn.execute(mk.delete().where(mk.c.kind == "a"))
        changes.clear_mark(conn, stage.MARK)
    with copy.connect() as conn:
        assert not load._recipient_keys_complete(conn)
    monkeypatch.setattr(stage, "BATCH", 1000)
    calls = {"n": 0}
    real = stage.insert_ignore

    def stop_after_three(conn, table, rows):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt  # a stop in the fourth batch: three are committed
        real(conn, table, rows)

    monkeypatch.setattr(stage, "insert_ignore", stop_after_three)
    with pytest.raises(KeyboardInterrupt):
        stage.fill_recipients(copy, Reporter(quiet=True))
    with copy.connect() as conn:
        assert changes.mark(conn, stage.MARK) is not None
        assert not load._recipient_keys_complete(conn)
    monkeypatch.setattr(stage, "insert_ignore", real)
    assert stage.fill_recipients(copy, Reporter(quiet=True)) > 0
    with copy.connect() as conn:
        again = set(conn.execute(select(mk.c.hash, mk.c.message_pk).where(mk.c.kind == "a")))
        assert changes.mark(conn, stage.MARK) == newest
        assert load._recipient_keys_complete(conn)
    assert again == whole
    assert stage.fill_recipients(copy, Reporter(quiet=True)) == 0  # nothing new: nothing done


def test_keys_are_written_a_bounded_number_at_a_time(erofs_store, tmp_path, monkeypatch) -> None:
    """A batch of messages with long Cc: lists makes hundreds of thousands of keys: they are
    written `ROWS` at a time, and come out as one write of the batch gives them."""
    db, _engine, _ = erofs_store
    mk = schema.message_keys
    shutil.copy(db, tmp_path / "copy.db")
    copy = open_store(str(tmp_path / "copy.db"))
    with copy.connect() as conn:
        whole = set(conn.execute(select(mk.c.hash, mk.c.message_pk).where(mk.c.kind == "a")))
    with copy.begin() as conn:
        conn.execute(mk.delete().where(mk.c.kind == "a"))
        changes.clear_mark(conn, stage.MARK)
    monkeypatch.setattr(stage, "ROWS", 50)
    sizes: list[int] = []
    real = stage.insert_ignore

    def counted(conn, table, rows):
        sizes.append(len(rows))
        real(conn, table, rows)

    monkeypatch.setattr(stage, "insert_ignore", counted)
    stage.fill_recipients(copy, Reporter(quiet=True))
    with copy.connect() as conn:
        again = set(conn.execute(select(mk.c.hash, mk.c.message_pk).where(mk.c.kind == "a")))
    assert again == whole
    # At most one message's keys past the bound.
    per_message = Counter(pk for _h, pk in whole)
    assert max(sizes) < 50 + max(per_message.values())
    assert len(sizes) > len(whole) // (50 + max(per_message.values()))
    copy.dispose()
