"""Property-based fuzzing (hypothesis) of the parsers that read what strangers send.

The message parser, the subject parser, the diff parser and the reply-text classifier are
fed generated hostile input: random bytes, MIME trees with odd boundaries, transfer encodings
and charsets (codec names that are not text encodings, NUL bytes), encoded words, long
reference chains, and text made of diff and reply fragments. Each must either give a result
that keeps its invariants or, for the message parser only, raise `Unparseable`.

Bounded for CI: the "fuzz-ci" profile (the default) is derandomized, so a run is repeatable,
and keeps this whole file under ~30 s. `PATCHLENS_FUZZ=long` runs many more random examples
for a local fuzzing session. Failures found this way are kept below as `@example`s.
"""

from __future__ import annotations

import base64
import os
from datetime import timedelta

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from patchlens.mail import headers as h
from patchlens.mail.diff import file_stats, find_diff, split_diff, unquote_path
from patchlens.mail.limits import MAX_REFERENCES
from patchlens.mail.parse import ParsedMessage, Unparseable, content_hash, parse_message
from patchlens.mail.replytext import analyze_reply
from patchlens.mail.subject import Subject, parse_subject

_COMMON = {
    "database": None,  # no .hypothesis directory in the work tree
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
settings.register_profile(
    "fuzz-ci", max_examples=300, deadline=timedelta(seconds=2), derandomize=True, **_COMMON
)
settings.register_profile("fuzz-long", max_examples=5000, deadline=None, **_COMMON)
FUZZ = settings.get_profile(
    "fuzz-long" if os.environ.get("PATCHLENS_FUZZ") == "long" else "fuzz-ci"
)

# --- strategies ---------------------------------------------------------------------------

CHARSETS = [
    "utf-8", "us-ascii", "iso-8859-1", "windows-1252", "koi8-r", "gb2312", "shift_jis",
    "utf-16", "utf-7", "x-unknown", "", "rot13", "hex", "base64", "zlib", "uu", "punycode",
    "idna", "unicode_escape", "undefined", "utf\0-8", '"utf-8"', "utf-8*en", "x" * 80,
]  # fmt: skip
HEADER_NAMES = [
    "From", "To", "Cc", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
    "List-Id", "Content-Type", "Content-Transfer-Encoding", "Content-Disposition", "Reply-To",
    "X-Original-From", "Received", "X-Junk",
]  # fmt: skip
SPECIALS = "<>@\"'=?;:,()[]\\ \t\r\n\0\x7f\u00e9\u2713\U0001f600\ud83d-_.+/"
short_text = st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from(SPECIALS), max_size=40)


@st.composite
def encoded_word(draw) -> str:
    charset = draw(st.sampled_from(CHARSETS))
    data = draw(st.binary(max_size=30) | short_text.map(lambda t: t.encode("utf-8", "replace")))
    if draw(st.booleans()):
        enc = base64.b64encode(data).decode()
        if draw(st.booleans()):
            enc = enc.rstrip("=")  # padding dropped, as some mailers do
        return f"=?{charset}?B?{enc}?="
    qp = "".join(c if c.isalnum() else f"={ord(c):02X}" for c in data.decode("latin-1"))
    return f"=?{charset}?Q?{qp}?="


msg_id = st.from_regex(r"<[a-z0-9.$%-]{1,20}@[a-z0-9.-]{1,12}>", fullmatch=True)
header_value = st.lists(
    st.one_of(short_text, encoded_word(), msg_id, st.sampled_from(["xn--bcher-kva", "\n\t"])),
    max_size=5,
).map(" ".join)


@st.composite
def mime_part(draw, depth: int = 0) -> bytes:
    """A MIME entity (headers, empty line, body) as bytes, possibly multipart."""
    if depth < 4 and draw(st.integers(0, 3)) == 0:
        boundary = draw(st.sampled_from(["b", "=_x", "zz zz", "-", "a" * 70, ""]))
        children = draw(st.lists(mime_part(depth + 1), max_size=4))
        ct = draw(st.sampled_from(["multipart/mixed", "multipart/alternative", "multipart/signed"]))
        body = b"preamble\n"
        for child in children:
            body += b"--" + boundary.encode() + b"\n" + child + b"\n"
        if draw(st.booleans()):
            body += b"--" + boundary.encode() + b"--\n" + b"epilogue"
        quoted = f'"{boundary}"' if draw(st.booleans()) else boundary
        return f"Content-Type: {ct}; boundary={quoted}\n\n".encode() + body
    ct = draw(
        st.sampled_from(
            ["text/plain", "text/html", "text/x-patch", "text/x-diff", "application/octet-stream",
             "message/rfc822", "image/png", "", "text/plain; format=flowed"]
        )
    )  # fmt: skip
    charset = draw(st.sampled_from(CHARSETS))
    cte = draw(st.sampled_from(["", "7bit", "8bit", "base64", "quoted-printable", "x-uue"]))
    payload = draw(st.binary(max_size=200) | DIFFISH.map(lambda t: t.encode("utf-8", "replace")))
    if cte == "base64" and draw(st.booleans()):
        payload = base64.encodebytes(payload)
    name = draw(st.sampled_from(["", "; name=fix.patch", '; name="a b.diff"', "; name=x.mbox"]))
    head = f"Content-Type: {ct}; charset={charset}{name}\n".encode("utf-8", "replace")
    if cte:
        head += f"Content-Transfer-Encoding: {cte}\n".encode()
    if draw(st.booleans()):
        head += b"Content-Disposition: attachment; filename=fix.patch\n"
    return head + b"\n" + payload


DIFF_LINES = [
    "diff --git a/f.c b/f.c", "diff -u a b", "index 1111111..2222222 100644", "--- a/f.c",
    "+++ b/f.c", "--- ", "+++ ", "@@ -1,3 +1,3 @@", "@@ -1 +1 @@", "@@ -0,0 +1,2 @@ ctx",
    "@@ -5, 7 +5,9 @@", "@@ -99999999999999999999,1 +1 @@", " context", "-old", "+new", "",
    "\\ No newline at end of file", "GIT binary patch", "literal 12", "delta 3",
    "zcmV-BAQmQ4xQ2f", "literal 0", "HcmV?d00001", "Binary files a/x and b/x differ",
    "rename from a", "rename to b", "new file mode 100644", "-- ", "2.40.0", "> +quoted",
    "> -quoted", 'diff --git "a/\\303\\251.txt" "b/\\303\\251.txt"', "---", " f.c | 2 +-",
    '+++ "b/\\777"', '--- "a/\\400x"', "x+2D0-y", "charset=utf-7",
]  # fmt: skip
REPLY_LINES = [
    "On Mon, 1 Jan 2024, A B wrote:", "> quoted", ">> deeper", "> > spaced",
    "Reviewed-by: A B <a@b.c>",
    "Acked-by: X", "Tested-by: <t@x.org>", "Acked.", "NAK.", "Applied, thanks.",
    "I'll queue it.", "Applied to the fixes branch of foo/bar.git", "-----Original Message-----",
    "From: A", "Sent: today", "To: B", "Subject: x", "-- ", "--", "____", "LGTM",
    "From 1234567890abcdef1234567890abcdef12345678 Mon Sep 17 00:00:00 2001", "-- >8 --",
    "Signed-off-by: C D <c@d.e>", "  Reviewed-by: E F <e@f.g>", "# note", "[note]",
    "A B <a@b.c> 于2024年1月1日周一 写道：", "Le lun. 1 janv. 2024, A a écrit :", "\r", "\t",
]  # fmt: skip
line = st.one_of(st.sampled_from(DIFF_LINES), st.sampled_from(REPLY_LINES), short_text)
DIFFISH = st.lists(st.one_of(st.sampled_from(DIFF_LINES), short_text), max_size=30).map("\n".join)
REPLYISH = st.lists(line, max_size=40).map("\n".join)


@st.composite
def message(draw) -> bytes:
    headers = draw(st.lists(st.tuples(st.sampled_from(HEADER_NAMES), header_value), max_size=12))
    head = b"".join(
        f"{name}: {value}\n".encode("utf-8", "surrogatepass") for name, value in headers
    )
    if draw(st.booleans()):
        head = b"From: A <a@example.org>\nMessage-ID: <fuzz@example.org>\n" + head
    if draw(st.booleans()):
        refs = draw(st.integers(0, 2 * MAX_REFERENCES))
        head += b"References: " + b" ".join(b"<r%d@x>" % i for i in range(refs)) + b"\n"
    sep = draw(st.sampled_from([b"\n", b"\r\n"]))
    raw = head + draw(mime_part())
    return raw.replace(b"\n", sep) if sep == b"\r\n" else raw


# --- properties ---------------------------------------------------------------------------


def _check_parsed(raw: bytes) -> None:
    try:
        msg = parse_message(raw)
    except Unparseable:
        return
    assert isinstance(msg, ParsedMessage)
    assert msg.message_id and isinstance(msg.body, str) and isinstance(msg.subject, str)
    assert msg.has_patch == (msg.diff is not None)
    assert (msg.patch_kind is None) == (msg.diff is None)
    assert len(msg.refs.split()) <= MAX_REFERENCES
    assert msg.content_hash == content_hash(raw)
    assert msg.date_source in ("header", "archive", "none")
    # Every text field can be stored: no lone surrogates (UTF-7 made them).
    for value in (msg.message_id, msg.subject, msg.body, msg.diff or "", msg.from_name):
        value.encode("utf-8")
    for value in (msg.to_addrs, msg.cc_addrs, msg.refs, msg.in_reply_to or ""):
        value.encode("utf-8")


@FUZZ
@given(message())
@example(b"From: a@b.c\nSubject: =?rot13?Q?uryyb?=\n\nhi\n")
@example(b"From: =?hex?B?aGk=?= <a@b.c>\nSubject: =?base64?Q?x?=\n\nhi\n")
@example(b'Subject: =?utf\0-8?Q?x?=\nContent-Type: text/plain; charset="utf\0-8"\n\nhi\n')
@example(b"Subject: =?punycode?Q?bcher-kva?= xn--bcher-kva\n\nhi\n")
@example(b"Subject: x\nContent-Type: text/plain; charset=rot13\n\nbody\n")
@example(b"Subject: x\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\n--b--\n")
@example(b"Subject: x\nContent-Type: multipart/mixed\n\nno boundary\n")
# Found here: UTF-7 decoded "+2D0-" to a lone surrogate that SQLite refused to store.
@example(b"Subject: =?utf-7?Q?+2D0-?=\nContent-Type: text/plain; charset=utf-7\n\nx+2D0-y\n")
def test_parse_message_never_fails_but_unparseable(raw: bytes) -> None:
    _check_parsed(raw)


@FUZZ
@given(st.binary(max_size=2000))
@example(b"\n\n")
@example(b"From:\n")
@example(b"Subject: \xff\xfe\n\n\x00")
def test_parse_message_on_random_bytes(raw: bytes) -> None:
    _check_parsed(raw)


@FUZZ
@given(header_value)
def test_header_decoding_never_fails(value: str) -> None:
    raw = value.encode("utf-8", "surrogatepass")
    assert isinstance(h.decode_header(raw), str)
    for cs in ("rot13", "utf\0-8", "punycode", "hex"):
        assert isinstance(h.decode_bytes(raw, cs), str)
    name, addr = h.parse_address(h.decode_bytes(raw))
    assert isinstance(name, str) and addr == addr.lower()


@FUZZ
@given(st.one_of(short_text, header_value, st.lists(line, max_size=3).map(" ".join)))
@example("Re: [PATCH v2 3/7] foo: bar")
@example("[PATCH 99999999999/1] x")
@example("[PATCH v99999999999999999999] x")
@example("Re^99999999999999999999: x")
def test_parse_subject_never_fails(subject: str) -> None:
    s = parse_subject(subject)
    assert isinstance(s, Subject)
    assert isinstance(s.title, str) and isinstance(s.normalized_title, str)
    assert s.index is None or isinstance(s.index, int)
    assert s.total is None or isinstance(s.total, int)
    assert parse_subject(subject) == s  # pure


@FUZZ
@given(DIFFISH)
@example("diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b")
@example("GIT binary patch\nliteral 5\nzcmV-BAQmQ4xQ2f\n\n")
@example("diff --git a/f b/f\nGIT binary patch\ndelta 3\n\n\n")
# Found here: a C-quoted path with "\777" (no byte) raised ValueError in file_stats.
@example('diff --git "a/\\777" "b/\\777"\n--- "a/\\777"\n+++ "b/\\777"\n@@ -1 +1 @@\n-a\n+b\n')
def test_diff_parser_keeps_every_character(text: str) -> None:
    body, diff = split_diff(text)
    if diff is None:
        assert body == text and find_diff(text) is None
        return
    assert find_diff(text) is not None
    # Diffs are cut out whole; only a last diff without a final newline gains one.
    assert len(body) + len(diff) - len(text) in (0, 1)
    for stat in file_stats(diff):
        assert stat.added >= 0 and stat.removed >= 0
        assert isinstance(stat.path, str)
        assert stat.binary_size is None or stat.binary_size >= 0


@FUZZ
@given(short_text.map(lambda t: f'"{t}"'))
@example('"\\"')
@example('"\\777"')  # found here: ValueError, byte must be in range(0, 256)
@example('"\ud83d"')
def test_unquote_path_never_fails(path: str) -> None:
    assert isinstance(unquote_path(path), str)


@FUZZ
@given(REPLYISH)
@example("Acked.\n> point\nAck.")
@example("Reviewed-by:\nReviewed-by: <>\n")
def test_reply_classifier_counts_within_the_lines(body: str) -> None:
    r = analyze_reply(body)
    lines = body.split("\n")
    assert r.lines_written >= 0 and r.lines_quoted >= 0
    assert r.lines_written + r.lines_quoted <= len(lines)
    assert r.first_written_line is None or r.first_written_line in {x.strip() for x in lines}
    assert isinstance(r.notice_tree, str)
