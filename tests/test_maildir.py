"""Tests for patchlens.sources.maildir: Maildir folders and single .eml files."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from patchlens.mail.parse import parse_message
from patchlens.sources.base import SourceError
from patchlens.sources.maildir import EmlSource, MaildirSource
from tests.conftest import data_path


def mail(i: int) -> bytes:
    return (
        f"From: User {i} <u{i}@example.org>\nSubject: message {i}\n"
        f"Message-ID: <{i}@example.org>\nDate: Mon, 2 Jan 2023 10:00:{i:02d} +0000\n\nbody {i}\n"
    ).encode()


def make_maildir(root: Path) -> Path:
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    return root


def put(root: Path, sub: str, name: str, i: int, mtime: int = 1_600_000_000) -> Path:
    p = root / sub / name
    p.write_bytes(mail(i))
    os.utime(p, (mtime, mtime))
    return p


def consume(plan) -> tuple[list, dict | None]:
    msgs, cursor = [], None
    for batch in plan.batches:
        msgs.extend(batch.messages)
        if batch.cursor is not None:
            cursor = batch.cursor
    return msgs, cursor


def subjects(msgs: list) -> list[str]:
    return [parse_message(m.raw).subject for m in msgs]


def test_maildir_cur_and_new_with_flags(tmp_path: Path) -> None:
    md = make_maildir(tmp_path / "Mail")
    put(md, "cur", "1600000001.M1P1.host:2,S", 1, mtime=1_600_000_001)
    put(md, "cur", "1600000002.M2P1.host:2,RS", 2)
    put(md, "new", "1600000003.M3P1.host", 3)
    put(md, "tmp", "1600000004.M4P1.host", 4)  # still being delivered: not read
    (md / "cur" / "subdir").mkdir()  # not a file: reported (issue 12), not read
    plan = MaildirSource(str(md)).plan(None, 10)
    assert plan.total == 4
    batches = list(plan.batches)
    assert [(d.position, d.reason) for b in batches for d in b.damage] == [
        (f"{md}: cur/subdir", "not a regular file (a folder)")
    ]
    msgs, cursor = consume(type(plan)(plan.total, iter(batches)))
    assert subjects(msgs) == ["message 1", "message 2", "message 3"]
    # Positions are the unique names without the flags.
    assert [m.position for m in msgs] == [
        "1600000001.M1P1.host",
        "1600000002.M2P1.host",
        "1600000003.M3P1.host",
    ]
    assert msgs[0].archive_date == 1_600_000_001
    assert cursor == {"seen": [m.position for m in msgs]}


def test_maildir_incremental(tmp_path: Path) -> None:
    md = make_maildir(tmp_path / "Mail")
    for i in range(5):
        put(md, "new", f"16000000{i:02d}.M{i}P1.host", i)
    src = MaildirSource(str(md))
    plan = src.plan(None, 2)
    assert plan.total == 5
    batches = list(plan.batches)
    assert [len(b.messages) for b in batches] == [2, 2, 1]
    # Each batch's cursor covers everything read so far.
    assert [len(b.cursor["seen"]) for b in batches] == [2, 4, 5]
    cursor = batches[-1].cursor

    # Nothing new.
    plan = src.plan(cursor, 2)
    assert plan.total == 0
    msgs, same = consume(plan)
    assert msgs == []
    assert same is None  # the stored cursor is kept

    # The client moves mail from new/ to cur/ and sets flags: not new mail.
    for p in sorted((md / "new").iterdir())[:3]:
        p.rename(md / "cur" / (p.name + ":2,S"))
    (md / "cur" / "1600000000.M0P1.host:2,S").rename(md / "cur" / "1600000000.M0P1.host:2,RS")
    assert src.plan(cursor, 2).total == 0

    # Two deliveries: only they are read.
    put(md, "new", "1600000099.M99P1.host", 99)
    put(md, "cur", "1600000050.M50P1.host:2,", 50)
    plan = src.plan(cursor, 10)
    assert plan.total == 2
    msgs, cursor2 = consume(plan)
    assert subjects(msgs) == ["message 50", "message 99"]
    assert len(cursor2["seen"]) == 7
    assert src.plan(cursor2, 10).total == 0

    # Resuming from an intermediate batch cursor reads the rest.
    rest, _c = consume(src.plan(batches[0].cursor, 10))
    assert len(rest) == 5


def test_not_a_maildir(tmp_path: Path) -> None:
    (tmp_path / "new").mkdir()
    with pytest.raises(SourceError, match=re.escape(str(tmp_path))):
        MaildirSource(str(tmp_path)).plan(None, 10)
    with pytest.raises(SourceError, match=r"missing"):
        MaildirSource(str(tmp_path / "missing")).plan(None, 10)


def test_maildir_with_only_cur(tmp_path: Path) -> None:
    (tmp_path / "cur").mkdir()
    put(tmp_path, "cur", "a:2,S", 1)
    msgs, _c = consume(MaildirSource(str(tmp_path)).plan(None, 10))
    assert subjects(msgs) == ["message 1"]


def test_eml_source(tmp_path: Path) -> None:
    path = tmp_path / "one.eml"
    path.write_bytes(mail(7))
    src = EmlSource(str(path))
    plan = src.plan(None, 10)
    assert plan.total == 1
    msgs, cursor = consume(plan)
    assert len(msgs) == 1
    assert msgs[0].raw == mail(7)
    assert msgs[0].position == "one.eml"
    assert msgs[0].archive_date == int(path.stat().st_mtime)
    # Unchanged: nothing to read.
    plan = src.plan(cursor, 10)
    assert plan.total == 0
    assert list(plan.batches) == []
    # Changed: read again.
    path.write_bytes(mail(8) + b"more\n")
    plan = src.plan(cursor, 10)
    assert plan.total == 1
    (msg,), _c = consume(plan)
    assert subjects([msg]) == ["message 8"]


def test_eml_source_real_fixture() -> None:
    path = data_path("fixtures", "public-inbox", "t", "utf8.eml")
    (msg,), cursor = consume(EmlSource(str(path)).plan(None, 10))
    assert msg.raw == path.read_bytes()
    assert parse_message(msg.raw).subject == "Testing for Eléanor"
    assert cursor == {"mtime": path.stat().st_mtime_ns, "size": path.stat().st_size}


def test_eml_source_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"nope\.eml"):
        EmlSource(str(tmp_path / "nope.eml")).plan(None, 10)


def test_maildir_message_moved_while_reading(tmp_path: Path) -> None:
    md = make_maildir(tmp_path / "Mail")
    for i in range(4):
        put(md, "new", f"16000000{i:02d}.M{i}P1.host", i)
    src = MaildirSource(str(md))
    plan = src.plan(None, 2)
    moved = md / "new" / "1600000003.M3P1.host"
    moved.rename(md / "cur" / (moved.name + ":2,S"))
    msgs, cursor = consume(plan)
    later, _c = consume(src.plan(cursor, 10))
    assert sorted(subjects(msgs + later)) == [f"message {i}" for i in range(4)]


def test_maildir_is_listed_once_however_many_files(tmp_path: Path, monkeypatch) -> None:
    """Reading lists the folder once for the plan and again only for a file that moved:
    listing it for every file made a Maildir of thousands of messages take minutes."""
    md = make_maildir(tmp_path / "Mail")
    for i in range(60):
        put(md, "cur", f"16000000{i:02d}.M{i}P1.host:2,S", i)
    listed = []
    files = MaildirSource._files
    monkeypatch.setattr(MaildirSource, "_files", lambda self: listed.append(1) or files(self))
    src = MaildirSource(str(md))
    plan = src.plan(None, 25)
    moved = md / "cur" / "1600000007.M7P1.host:2,S"
    moved.rename(md / "cur" / "1600000007.M7P1.host:2,RS")
    msgs, _cursor = consume(plan)
    assert sorted(subjects(msgs)) == sorted(f"message {i}" for i in range(60))
    assert len(listed) == 2  # the plan, and the one file that moved
