"""Tests for patchlens.sources.mbox: splitting mbox files and reading them incrementally."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import re
from pathlib import Path

import pytest

from patchlens.mail.parse import parse_message
from patchlens.sources import mbox as mbox_mod
from patchlens.sources.base import SourceError
from patchlens.sources.mbox import MboxSource, iter_mbox, open_maybe_compressed
from tests.conftest import data_path

FROM_DATE = 978307200  # Mon Jan  1 00:00:00 2001 UTC


def message(i: int, body: str = "") -> bytes:
    return (
        f"From user{i}@example.org Mon Jan  1 00:00:{i % 60:02d} 2001\n"
        f"From: User {i} <user{i}@example.org>\n"
        f"Subject: message {i}\n"
        f"Message-ID: <{i}@example.org>\n"
        "\n"
        f"{body or f'body of message {i}'}\n"
    ).encode()


def mbox_of(*msgs: bytes) -> bytes:
    """format-patch / mutt layout: each message followed by an empty line."""
    return b"".join(m + b"\n" for m in msgs)


def read_all(data: bytes, start: int = 0) -> list[tuple[int, int, bytes, int | None]]:
    return list(iter_mbox(io.BytesIO(data), start))


def subjects(raws: list[bytes]) -> list[str]:
    return [parse_message(r).subject for r in raws]


# --------------------------------------------------------------------------------------------
# iter_mbox


def test_separators_offsets_and_unescaping() -> None:
    first = (
        b"From a@b Mon Jan  1 00:00:00 2001\n"
        b"From: a@b\nSubject: one\n\n"
        b"body\n"
        b"From here on it is not a separator (no empty line before it)\n"
        b">From escaped by mboxrd\n"
        b">>From escaped twice\n"
        b"> From a quote, not an escape\n"
    )
    second = b"From b@c Tue Jan  2 00:00:00 2001\nFrom: b@c\nSubject: two\n\nlast line"
    data = first + b"\n" + second  # no newline at the very end
    got = read_all(data)
    assert len(got) == 2
    (o1, e1, raw1, d1), (o2, e2, raw2, d2) = got
    assert (o1, e1) == (0, len(first) + 1)
    assert (o2, e2) == (len(first) + 1, len(data))
    assert data[o2 : o2 + 5] == b"From "
    assert raw1 == (
        b"From: a@b\nSubject: one\n\nbody\n"
        b"From here on it is not a separator (no empty line before it)\n"
        b"From escaped by mboxrd\n"
        b">From escaped twice\n"
        b"> From a quote, not an escape\n"
    )
    assert raw2 == b"From: b@c\nSubject: two\n\nlast line"
    assert (d1, d2) == (FROM_DATE, FROM_DATE + 86400)


def test_offsets_are_byte_offsets_with_multibyte_text() -> None:
    msgs = [message(i, body="h\u00e9h\u00e9 \u30c6\u30b9\u30c8 " * i) for i in range(5)]
    data = mbox_of(*msgs)
    got = read_all(data)
    assert [o for o, *_ in got] == [sum(len(m) + 1 for m in msgs[:i]) for i in range(5)]
    for (off, end, raw, _d), m in zip(got, msgs, strict=True):
        assert data[off:end] == m + b"\n"
        assert raw == m.split(b"\n", 1)[1]


def test_from_line_date_variants() -> None:
    data = (
        b"From x@y  Wed Dec  1 08:26:40 2010\nSubject: a\n\nx\n\n"
        b"From MAILER-DAEMON Thu Jan 15 13:22 2015\nSubject: b\n\nx\n\n"
        b"From 1234abcd Mon Sep 17 00:00:00 2001\nSubject: c\n\nx\n\n"
        b"From nobody-without-a-date\nSubject: d\n\nx\n"
    )
    # Dated From_ lines: an undated "From " line after an empty line is body text (writers
    # that do not escape "From " in bodies produce exactly this).
    got = read_all(data)
    assert [d for *_x, d in got] == [1291192000, 1421328120, 1000684800]
    assert b"From nobody-without-a-date" in got[-1][2]
    undated = b"From nobody\nSubject: d\n\nx\n\nFrom somebody\nSubject: e\n\ny\n"
    assert [d for *_x, d in read_all(undated)] == [None, None]


def test_unescaped_from_in_bodies_of_a_real_export() -> None:
    """The Xen patches exported by Patchew: six bodies have lines "From the TRM ..." after an
    empty line; the file holds 3,744 messages."""
    with gzip.open(data_path("xen", "xen-devel-posted-patches-2019-2020.mbox.gz")) as f:
        assert sum(1 for _ in iter_mbox(f)) == 3744


def test_not_an_mbox_and_empty() -> None:
    assert read_all(b"") == []
    assert read_all(b"Subject: a mail, not an mbox\n\nbody\n") == []
    assert read_all(b"\x00\x01 binary") == []


def test_resume_from_each_message_boundary() -> None:
    data = mbox_of(*(message(i) for i in range(6)))
    full = read_all(data)
    for k, (off, *_rest) in enumerate(full):
        assert read_all(data, off) == full[k:]
    assert read_all(data, len(data)) == []


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 16, 61, 100, 1000])
def test_small_read_chunks_give_the_same_messages(
    chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = mbox_of(*(message(i, body="text\nFrom the middle\n>From x\n\nmore") for i in range(12)))
    expected = read_all(data)
    assert len(expected) == 12
    monkeypatch.setattr(mbox_mod, "CHUNK", chunk)
    assert read_all(data) == expected
    assert read_all(data, expected[5][0]) == expected[5:]


@pytest.mark.parametrize(
    ("name", "compress"),
    [
        ("m.mbox.gz", gzip.compress),
        ("m.mbox.xz", lzma.compress),
        ("m.mbox.bz2", bz2.compress),
        ("m.mbox", lambda b: b),
    ],
)
def test_compressed_files_give_the_same_messages(tmp_path: Path, name: str, compress) -> None:
    data = mbox_of(*(message(i) for i in range(7))) + message(7).rstrip(b"\n")
    plain = read_all(data)
    assert len(plain) == 8
    path = tmp_path / name
    path.write_bytes(compress(data))
    with open_maybe_compressed(path) as f:
        assert list(iter_mbox(f)) == plain
    with open_maybe_compressed(path) as f:
        assert list(iter_mbox(f, plain[3][0])) == plain[3:]


def test_crlf_mbox_is_split() -> None:
    data = mbox_of(message(1), message(2)).replace(b"\n", b"\r\n")
    assert len(read_all(data)) == 2


# --------------------------------------------------------------------------------------------
# The perceval fixtures: counts established by reading each file (see PERCEVAL_COUNTS).

# Message counts per file, from reading the files: every `^From ` line in them is at the file
# start or after an empty line (checked with grep -n '^From ' and awk on the previous line),
# no `>From ` escapes occur, and no other line starts with "From ".
PERCEVAL_COUNTS = {
    "mbox/mbox_complex.mbox": 2,  # lines 1, 62
    "mbox/mbox_iso8859_encoding.mbox": 1,  # Latin-1 byte in the From_ line
    "mbox/mbox_multipart.mbox": 2,  # lines 1, 193
    "mbox/mbox_no_fields.mbox": 6,  # lines 1, 13, 25, 36, 48, 60
    "mbox/mbox_single.mbox": 1,
    "mbox/mbox_unixfrom_encoding.mbox": 1,  # UTF-8 quotes in the From_ line
    "mbox/mbox_unknown_encoding.mbox": 1,
    "pipermail/pipermail_2015_november.mbox": 4,  # lines 1, 27, 66, 119
    "pipermail/pipermail_2016_april.mbox": 3,  # lines 1, 42, 102
    "pipermail/pipermail_2016_march.mbox": 1,
    "hyperkitty/hyperkitty_2016_april.mbox": 3,  # lines 1, 42, 102
    "hyperkitty/hyperkitty_2016_march.mbox": 1,
}


def _perceval(rel: str) -> Path:
    return data_path("fixtures", "perceval", "tests", "data", *rel.split("/"))


def test_perceval_fixture_list_is_complete() -> None:
    root = data_path("fixtures", "perceval", "tests", "data")
    found = {
        p.relative_to(root).as_posix()
        for sub in ("mbox", "pipermail", "hyperkitty")
        for p in (root / sub).glob("*.mbox")
    }
    assert found == set(PERCEVAL_COUNTS)


@pytest.mark.parametrize(("rel", "count"), sorted(PERCEVAL_COUNTS.items()))
def test_perceval_message_counts(rel: str, count: int) -> None:
    path = _perceval(rel)
    with open_maybe_compressed(path) as f:
        got = list(iter_mbox(f))
    assert len(got) == count
    data = path.read_bytes()
    for off, _end, raw, _date in got:
        assert data[off : off + 5] == b"From "
        assert off == 0 or data[off - 2 : off] == b"\n\n"
        assert raw.strip()
    # Contiguous: each message ends where the next starts, the last at the end of the file.
    assert [e for _o, e, *_ in got[:-1]] == [o for o, *_ in got[1:]]
    assert got[-1][1] == len(data)
    # MboxSource yields the same messages.
    msgs = [m for b in MboxSource(str(path)).plan(None, 2).batches for m in b.messages]
    assert [m.raw for m in msgs] == [r for _o, _e, r, _d in got]
    assert [m.position for m in msgs] == [str(o) for o, *_ in got]


def test_perceval_messages_parse() -> None:
    path = _perceval("mbox/mbox_no_fields.mbox")
    msgs = [m for b in MboxSource(str(path)).plan(None, 100).batches for m in b.messages]
    parsed = [parse_message(m.raw, m.archive_date) for m in msgs]
    assert [p.message_id for p in parsed][:3] == ["4CF64D10.9020206@domain.com"] * 3
    assert parsed[3].synthetic_id  # "Message-Id:" with nothing after it
    # No Date header (3rd), a blank one (5th), "RANDOM_Wed, ..." (6th, still readable).
    assert [p.date_source for p in parsed] == [
        "header",
        "header",
        "archive",
        "header",
        "archive",
        "header",
    ]
    assert parsed[2].date_utc == 1291192000  # from the From_ line
    assert parsed[0].from_name == "Göran Lastname"
    assert parsed[0].from_addr == "goran@domain.com"


# --------------------------------------------------------------------------------------------
# MboxSource


def consume(plan) -> tuple[list, dict | None]:
    msgs, cursor = [], None
    for batch in plan.batches:
        msgs.extend(batch.messages)
        if batch.cursor is not None:
            cursor = batch.cursor
    return msgs, cursor


def _touch_later(path: Path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))


def test_incremental_resume(tmp_path: Path) -> None:
    path = tmp_path / "list.mbox"
    path.write_bytes(mbox_of(*(message(i) for i in range(5))))
    src = MboxSource(str(path))
    plan = src.plan(None, 2)
    assert plan.notes == []
    msgs, cursor = consume(plan)
    assert subjects([m.raw for m in msgs]) == [f"message {i}" for i in range(5)]
    assert [m.archive_date for m in msgs] == [FROM_DATE + i for i in range(5)]
    assert cursor is not None and cursor["offset"] == path.stat().st_size

    # Untouched: nothing to do.
    plan = src.plan(cursor, 2)
    assert plan.total == 0
    assert list(plan.batches) == []

    # Two messages appended: only those are read, at their byte offsets.
    size = path.stat().st_size
    with path.open("ab") as f:
        f.write(mbox_of(message(5), message(6)))
    _touch_later(path)
    plan = src.plan(cursor, 2)
    assert plan.notes == []
    new, cursor2 = consume(plan)
    assert subjects([m.raw for m in new]) == ["message 5", "message 6"]
    assert new[0].position == str(size)
    assert cursor2["offset"] == path.stat().st_size
    assert src.plan(cursor2, 2).total == 0

    # The start rewritten (same size): everything is read again, with a note.
    data = path.read_bytes()
    path.write_bytes(data.replace(b"body of message 0", b"BODY OF MESSAGE 0"))
    _touch_later(path)
    plan = src.plan(cursor2, 2)
    again, _c = consume(plan)
    assert len(again) == 7
    assert len(plan.notes) == 1
    assert str(path) in plan.notes[0]
    assert "again" in plan.notes[0]


def test_resume_from_an_intermediate_batch_cursor(tmp_path: Path) -> None:
    path = tmp_path / "list.mbox"
    path.write_bytes(mbox_of(*(message(i) for i in range(7))))
    src = MboxSource(str(path))
    batches = list(src.plan(None, 3).batches)
    assert [len(b.messages) for b in batches][:2] == [3, 3]
    cursor = batches[0].cursor  # after messages 0..2: only an offset, no size/mtime
    assert cursor is not None and "file_size" not in cursor
    rest, _c = consume(src.plan(cursor, 3))
    assert subjects([m.raw for m in rest]) == [f"message {i}" for i in range(3, 7)]


def test_incremental_resume_gzip_appended_member(tmp_path: Path) -> None:
    path = tmp_path / "list.mbox.gz"
    path.write_bytes(gzip.compress(mbox_of(message(0), message(1))))
    src = MboxSource(str(path))
    _msgs, cursor = consume(src.plan(None, 10))
    with path.open("ab") as f:  # gzip streams may be concatenated
        f.write(gzip.compress(mbox_of(message(2), message(3))))
    _touch_later(path)
    plan = src.plan(cursor, 10)
    new, _c = consume(plan)
    assert plan.notes == []
    assert subjects([m.raw for m in new]) == ["message 2", "message 3"]


def test_resume_when_the_empty_line_comes_with_the_appended_message(tmp_path: Path) -> None:
    path = tmp_path / "list.mbox"
    path.write_bytes(message(0) + b"\n" + message(1))  # no empty line after the last one
    src = MboxSource(str(path))
    msgs, cursor = consume(src.plan(None, 10))
    assert len(msgs) == 2
    with path.open("ab") as f:
        f.write(b"\n" + message(2))
    _touch_later(path)
    new, cursor = consume(src.plan(cursor, 10))
    assert subjects([m.raw for m in new]) == ["message 2"]


def test_not_an_mbox_raises_source_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"Subject: not an mbox\n\njust a mail\n")
    with pytest.raises(SourceError, match=r"notes\.txt"):
        consume(MboxSource(str(path)).plan(None, 10))
    binary = tmp_path / "blob.bin"
    binary.write_bytes(bytes(range(256)) * 10)
    with pytest.raises(SourceError, match=r"blob\.bin"):
        consume(MboxSource(str(binary)).plan(None, 10))


def test_empty_file_is_an_empty_mbox(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mbox"
    empty.write_bytes(b"")
    msgs, cursor = consume(MboxSource(str(empty)).plan(None, 10))
    assert msgs == []
    assert cursor is not None


def test_missing_file_and_directory_raise_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"nope\.mbox"):
        MboxSource(str(tmp_path / "nope.mbox")).plan(None, 10)
    with pytest.raises(SourceError, match=re.escape(str(tmp_path))):
        MboxSource(str(tmp_path)).plan(None, 10)


def test_truncated_gzip_is_read_around(tmp_path: Path) -> None:
    """Issue 12: the complete messages before the cut are read, the cut is reported with the
    file and offset (it was a SourceError that lost them all)."""
    path = tmp_path / "cut.mbox.gz"
    blob = gzip.compress(mbox_of(*(message(i, body="x" * 5000) for i in range(20))), 1)
    path.write_bytes(blob[: len(blob) // 2])
    batches = list(MboxSource(str(path)).plan(None, 10).batches)
    got = [m for b in batches for m in b.messages]
    damage = [d for b in batches for d in b.damage]
    assert 0 < len(got) < 20
    (d,) = damage
    assert d.position.startswith(f"{path}: offset ") and "cut short" in d.reason
