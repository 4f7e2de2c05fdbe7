"""The stated limits of `patchlens.mail.limits`: bounded memory, bounded expansion, linear
threading, and header charsets that are not text encodings.

Every input is generated here; a smaller message of the same structure as the 52 MB one of
issue 12 proves the memory bound (the peak is a multiple of the size, not of size x depth).
"""

from __future__ import annotations

import base64
import time
import tracemalloc

import pytest

from patchlens.mail import limits
from patchlens.mail import parse as parse_mod
from patchlens.mail.diff import file_stats, split_diff
from patchlens.mail.parse import ParsedMessage, parse_message
from patchlens.review.threads import MessageRef, build_threads
from patchlens.sources.base import RawMessage
from patchlens.stages.records import parse_batch

HEAD = (
    b"From: A <a@example.org>\nSubject: nested\nDate: Thu, 1 Jan 2026 00:00:00 +0000\n"
    b"Message-ID: <nested@example.org>\nMIME-Version: 1.0\n"
)


def nested_message(size: int, depth: int = 25, marker: bool = False) -> bytes:
    """A multipart message `depth` levels deep, about `size` bytes: at every level a text part
    (starting with LEVEL<n> when `marker`) and a base64 attachment; a text leaf innermost."""
    per = max(64, size // (2 * depth))
    text = (b"some text line of a long message body\n" * (per // 38 + 1))[:per]
    blob = base64.encodebytes(bytes(range(256)) * (per * 3 // 4 // 256 + 1))[:per]
    inner = b"Content-Type: text/plain\n\n" + (b"INNERMOST\n" if marker else b"") + text
    for level in range(depth - 1, -1, -1):
        b = f"bnd{level}z".encode()  # no boundary is a prefix of another
        tag = f"LEVEL{level}\n".encode() if marker else b""
        inner = (
            b'Content-Type: multipart/mixed; boundary="' + b + b'"\n\n'
            b"--" + b + b"\nContent-Type: text/plain; charset=utf-8\n\n" + tag + text + b"\n"
            b"--" + b + b"\nContent-Type: application/octet-stream\n"
            b"Content-Transfer-Encoding: base64\n\n" + blob + b"\n"
            b"--" + b + b"\n" + inner + b"\n--" + b + b"--\n"
        )
    return HEAD + inner


def peak_of(raw: bytes) -> int:
    tracemalloc.start()
    try:
        parse_message(raw)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("crlf", [False, True])
def test_deeply_nested_message_memory_is_a_bounded_multiple_of_its_size(monkeypatch, crlf):
    # Every level expanded (no depth limit), so the bound is the walker's, not the limit's.
    monkeypatch.setattr(parse_mod, "MAX_MIME_DEPTH", 1000)
    raw = nested_message(1_000_000, depth=25)
    if crlf:
        raw = raw.replace(b"\n", b"\r\n")
    peak = peak_of(raw)
    # Before: 38x (a copy of the message per level); 3.3 GB for 52 MB. Now about 2.5-3x.
    assert peak <= limits.PEAK_MEMORY_FACTOR * len(raw), peak / len(raw)
    assert peak <= 4 * len(raw), peak / len(raw)


def test_memory_bound_for_other_large_shapes():
    h = HEAD.replace(b"MIME-Version: 1.0\n", b"")
    diff = (
        b"diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1,1 +1,40000 @@\n"
        + "+line of added code \u2713\n".encode() * 40_000
    )
    shapes = [
        h + b"Content-Type: text/plain; charset=utf-8\n\n" + "text \U0001f600\n".encode() * 100_000,
        h + b"\nmsg\n---\n f | 1 +\n\n" + diff,
        h + b"Content-Type: multipart/mixed; boundary=zz\n\n--zz\nContent-Type: text/plain\n\nhi\n"
        b"--zz\nContent-Type: text/x-patch; name=a.patch\n\n" + diff + b"\n--zz--\n",
    ]
    for raw in shapes:
        assert peak_of(raw) <= limits.PEAK_MEMORY_FACTOR * len(raw)


def test_parts_nested_beyond_the_depth_limit_are_not_expanded():
    depth = limits.MAX_MIME_DEPTH + 5
    msg = parse_message(nested_message(20_000, depth=depth, marker=True))
    for level in range(limits.MAX_MIME_DEPTH):
        assert f"LEVEL{level}\n" in msg.body
    for level in range(limits.MAX_MIME_DEPTH, depth):
        assert f"LEVEL{level}\n" not in msg.body
    assert "INNERMOST" not in msg.body
    assert msg.message_id == "nested@example.org"


def test_parts_beyond_the_part_limit_are_not_expanded():
    n = limits.MAX_MIME_PARTS + 20
    parts = b"".join(b"--zz\nContent-Type: text/plain\n\nPART%d\n" % i for i in range(n))
    raw = HEAD + b"Content-Type: multipart/mixed; boundary=zz\n\n" + parts + b"--zz--\n"
    words = parse_message(raw).body.split()
    assert words == [f"PART{i}" for i in range(limits.MAX_MIME_PARTS)]


def test_message_over_the_size_limit_keeps_its_header_but_is_not_expanded(monkeypatch):
    monkeypatch.setattr(parse_mod, "MAX_MESSAGE_BYTES", 10_000)
    raw = HEAD + b"References: <root@x> <parent@x>\n\nbig body\n" + b"x" * 20_000
    msg = parse_message(raw)
    assert (msg.body, msg.diff, msg.has_patch) == ("", None, False)
    assert msg.subject == "nested" and msg.from_addr == "a@example.org"
    assert msg.refs == "root@x parent@x"
    small = parse_message(HEAD + b"\nsmall body\n")
    assert small.body == "small body\n"


def test_message_over_the_line_limit_is_not_expanded(monkeypatch):
    """A diff of very short lines costs 25-34 times its size as line objects (a 64 MiB
    message of them, gigabytes): past the line limit a message is read as one past the size
    limit. At the limit it is still parsed whole."""
    monkeypatch.setattr(parse_mod, "MAX_MESSAGE_LINES", 2_000)

    def patch(lines: int) -> bytes:
        head = HEAD.replace(b"Subject: nested", b"Subject: [PATCH] short lines")
        diff = b"diff --git a/a b/a\n--- a/a\n+++ b/a\n@@ -0,0 +1,%d @@\n" % lines
        raw = head + b"\nmsg\n---\n" + diff + b"+ab\n" * lines
        return raw

    at = patch(2_000 - patch(0).count(b"\n"))
    assert at.count(b"\n") == 2_000 and parse_message(at).has_patch
    over = parse_message(patch(2_000))
    assert (over.body, over.diff, over.has_patch) == ("", None, False)
    assert over.subject == "[PATCH] short lines" and over.message_id == "nested@example.org"
    # Encoded, the same lines take a 20th of the raw lines: they count once decoded, in a
    # single part as in an attachment.
    text = patch(2_000).split(b"\n\n", 1)[1]
    b64 = base64.encodebytes(text)
    assert b64.count(b"\n") < 2_000
    single = HEAD + b"Content-Transfer-Encoding: base64\n\n" + b64
    assert (parse_message(single).body, parse_message(single).has_patch) == ("", False)
    attached = (
        HEAD + b"Content-Type: multipart/mixed; boundary=zz\n\n--zz\nContent-Type: text/plain"
        b"\n\nsee the patch\n--zz\nContent-Type: text/x-patch\nContent-Transfer-Encoding: "
        b"base64\n\n" + b64 + b"--zz--\n"
    )
    assert (parse_message(attached).body, parse_message(attached).has_patch) == ("", False)
    # Under the limit once decoded, both are parsed as before.
    small = base64.encodebytes(patch(500).split(b"\n\n", 1)[1])
    assert parse_message(HEAD + b"Content-Transfer-Encoding: base64\n\n" + small).has_patch


def test_references_beyond_the_limit_keep_the_root_and_the_latest():
    ids = [f"r{i}@example.org" for i in range(10_000)]
    raw = HEAD + b"References: " + b" ".join(f"<{i}>".encode() for i in ids) + b"\n\nhi\n"
    refs = parse_message(raw).refs.split()
    assert len(refs) == limits.MAX_REFERENCES
    assert refs[0] == ids[0] and refs[-1] == ids[-1]
    assert refs[1:] == ids[-(limits.MAX_REFERENCES - 1) :]


class CountingId(str):
    """A Message-ID that counts how often it is hashed: each dict or set lookup of an id in
    threading is one hash, so the count is the work done, without timing noise."""

    hashes = 0

    def __hash__(self) -> int:
        CountingId.hashes += 1
        return str.__hash__(self)


def _thread_work(n: int) -> int:
    ids = tuple(CountingId(f"r{i}@example.org") for i in range(n))
    msgs = [
        MessageRef(1, CountingId("m@example.org"), ids[-1], ids, "Re: x", 100),
        MessageRef(2, CountingId("n@example.org"), None, (ids[0], ids[5]), "Re: y", 50),
    ]
    CountingId.hashes = 0
    out = build_threads(msgs)
    assert out[1].thread == ids[0] and out[1].parent == ids[-1]
    assert out[2].thread == ids[0] and out[2].parent == ids[5]
    return CountingId.hashes


def test_threading_is_linear_in_the_references_chain():
    # Quadratic before (5k 1.7 s; 4x the ids, 16x the work). Linear: 4x the ids, ~4x the work.
    small, large = _thread_work(5_000), _thread_work(20_000)
    assert large < 4.5 * small, (small, large)
    t = time.perf_counter()
    _thread_work(20_000)
    assert time.perf_counter() - t < 2.0


@pytest.mark.parametrize("charset", ["rot13", "hex", "base64", "punycode", "utf\0-8", "idna"])
def test_header_and_body_charsets_that_are_not_text_encodings_fall_back(charset):
    cs = charset.encode("latin-1")
    raw = (
        b"From: =?" + cs + b"?Q?J=C3=B6rg?= <j@example.org>\n"
        b"Subject: =?" + cs + b"?B?" + base64.b64encode("caf\u00e9 fix".encode()) + b"?=\n"
        b"Message-ID: <odd@example.org>\n"
        b'Content-Type: text/plain; charset="' + cs + b'"\n\n'
        b"body caf\xc3\xa9\n"
    )
    msg = parse_message(raw)
    assert msg.subject == "caf\u00e9 fix"
    assert msg.from_name == "J\u00f6rg"
    assert msg.body == "body caf\u00e9\n"


def test_punycode_words_decode_without_error():
    raw = b"From: a@example.org\nSubject: =?punycode?Q?bcher-kva?= xn--bcher-kva\n\nhi\n"
    assert parse_message(raw).subject == "bcher-kva xn--bcher-kva"


def test_many_diffs_between_text_are_split_in_linear_time():
    # Each diff split the rest of the text again: 4,000 diffs took 1.4 s, 16,000 about 23 s.
    one = "some words\ndiff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n"
    t = time.perf_counter()
    body, diff = split_diff("hi\n" + one * 16_000)
    assert time.perf_counter() - t < 3.0
    assert body == "hi\n" + "some words\n" * 16_000
    assert diff == one.removeprefix("some words\n") * 16_000


def test_long_git_binary_patch_is_read_in_linear_time():
    # Every base85 line walked back to `GIT binary patch`: 20,000 lines took 105 s.
    b85 = "zcmV-BAQmQ4xQ2fU1e2aaaaaaaaaaaaaaaaaaaaaaaaaa\n" * 20_000
    patch = (
        "diff --git a/f.bin b/f.bin\nindex 1111111..2222222 100644\nGIT binary patch\n"
        "literal 100\n" + b85 + "\nliteral 0\nHcmV?d00001\n\n"
    )
    t = time.perf_counter()
    body, diff = split_diff("msg\n" + patch + "-- \n2.40.0\n")
    assert time.perf_counter() - t < 3.0
    assert diff == patch and body == "msg\n-- \n2.40.0\n"
    assert [(s.path, s.binary, s.binary_size) for s in file_stats(diff)] == [("f.bin", True, 100)]


def test_odd_charsets_are_stored_not_quarantined():
    """The batch parser (what `update` runs) gives a message, not a "parser error" string."""
    odd = [
        b"From: =?rot13?Q?Wbet?= <j@example.org>\nSubject: =?hex?B?aGk=?=\n"
        b"Message-ID: <c1@x>\nContent-Type: text/plain; charset=base64\n\nbody\n",
        b"From: a@example.org\nSubject: =?punycode?Q?bcher-kva?=\nMessage-ID: <c2@x>\n\nhi\n",
        b"From: a@example.org\nSubject: =?utf\0-8?Q?x?=\nMessage-ID: <c3@x>\n\nhi\n",
        b"From: a@example.org\nSubject: =?utf-7?Q?+2D0-?=\nMessage-ID: <c4@x>\n"
        b"Content-Type: text/plain; charset=utf-7\n\nx+2D0-y\n",
    ]
    parsed = parse_batch([RawMessage(raw, f"pos{i}") for i, raw in enumerate(odd)])
    results = [p.result for p in parsed]
    assert all(isinstance(r, ParsedMessage) for r in results), results
    assert [r.message_id for r in results] == ["c1@x", "c2@x", "c3@x", "c4@x"]
    for r in results:
        r.subject.encode("utf-8")  # storable: no lone surrogate
    assert results[3].subject == "\ufffd"


@pytest.mark.parametrize(
    ("newline", "encoding"),
    [("\r", "ascii"), ("\v", "ascii"), ("\x85", "latin-1"), ("\u2028", "utf-8")],
)
def test_every_line_boundary_counts_toward_the_line_limit(monkeypatch, newline, encoding):
    """`str.splitlines`, which the parsers and pages split text with, also breaks at a lone
    CR, VT, NEL or U+2028: a body of them was as many lines to it, and passed the limit by
    counting LF alone (a 6 MB body of "ab\\r" made 2M lines, 21 times its size)."""
    monkeypatch.setattr(parse_mod, "MAX_MESSAGE_LINES", 2_000)
    charset = {"ascii": "us-ascii", "latin-1": "iso-8859-1", "utf-8": "utf-8"}[encoding]
    head = HEAD + f"Content-Type: text/plain; charset={charset}\n".encode()
    body = ("ab" + newline) * 3_000
    over = parse_message(head + b"\n" + body.encode(encoding))
    assert over.body == "", repr(newline)
    under = parse_message(head + b"\n" + (("ab" + newline) * 1_000).encode(encoding))
    assert under.body.count("ab") == 1_000
    # CRLF is one line, raw and decoded.
    crlf = HEAD + b"\n" + b"ab\r\n" * 1_500
    assert parse_message(crlf).body.count("ab") == 1_500


def test_a_binary_attachment_does_not_count_toward_the_line_limit(monkeypatch):
    """Raw, only LF counts: a binary part (never split into lines) holds the other line
    boundaries' bytes at 7 in 256, which turned away a 40 MB attachment's message whole."""
    monkeypatch.setattr(parse_mod, "MAX_MESSAGE_LINES", 2_000)
    blob = b"\v\f\r\x1c" * 3_000 + b"\0"
    raw = (
        HEAD + b"Content-Type: multipart/mixed; boundary=zz\n\n--zz\nContent-Type: text/plain\n\n"
        b"see the blob\n--zz\nContent-Type: application/octet-stream\n"
        b"Content-Transfer-Encoding: binary\n\n" + blob + b"\n--zz--\n"
    )
    assert parse_message(raw).body.strip() == "see the blob"
    # CR CR LF (a CRLF after a lone CR) is two lines, as splitlines makes it.
    assert limits.text_lines("x\r\r\ny\r\r\n") == len("x\r\r\ny\r\r\n".splitlines()) == 4
