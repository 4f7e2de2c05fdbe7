"""Tests for patchlens.mail.headers and patchlens.mail.parse.

Inputs are built inline as bytes, plus the real public-inbox test mails in the shared data.
Known bugs are pinned as strict xfails: each one is the behaviour the code should have.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from patchlens.mail import headers as h
from patchlens.mail.parse import ParsedMessage, Unparseable, content_hash, parse_message
from tests.conftest import data_path


def public_inbox(*parts: str) -> Path:
    return data_path("fixtures", "public-inbox", "t", *parts)


# A hunk with correct counts: -1,3 (a, b, d) +1,3 (a, c, d).
PATCH = (
    "diff --git a/fs/erofs/super.c b/fs/erofs/super.c\n"
    "index 1111111..2222222 100644\n"
    "--- a/fs/erofs/super.c\n"
    "+++ b/fs/erofs/super.c\n"
    "@@ -10,3 +10,3 @@ static int erofs_fill_super(void)\n"
    " int a;\n"
    "-int b;\n"
    "+int c = 1;\n"
    " int d;\n"
)


def mail(headers: str, body: str | bytes) -> bytes:
    """Header lines (one per line) + empty line + body, as bytes."""
    b = body.encode("utf-8") if isinstance(body, str) else body
    return headers.strip("\n").encode("utf-8") + b"\n\n" + b


STD = (
    "From: Gao Xiang <xiang@kernel.org>\n"
    "To: linux-erofs@lists.ozlabs.org\n"
    "Subject: [PATCH v2 1/2] erofs: fix foo\n"
    "Date: Mon, 2 Jan 2023 10:00:00 +0800\n"
    "Message-Id: <20230102020000.1234-1-xiang@kernel.org>\n"
)

FORMAT_PATCH_BODY = (
    "The foo is broken.\n"
    "\n"
    "Signed-off-by: Gao Xiang <xiang@kernel.org>\n"
    "---\n"
    " fs/erofs/super.c | 2 +-\n"
    " 1 file changed, 1 insertion(+), 1 deletion(-)\n"
    "\n" + PATCH + "-- \n"
    "2.39.0\n"
    "\n"
)


# --------------------------------------------------------------------------------------------
# headers.decode_header


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"plain subject", "plain subject"),
        (b"=?utf-8?q?Hello?= world", "Hello world"),
        (b"[PATCH] =?UTF-8?q?f=C3=B8o?= bar", "[PATCH] føo bar"),
        (b"=?iso-8859-1?q?caf=E9?= au lait", "café au lait"),
        (b"=?UTF-8?B?w6k=?=", "é"),
        # Adjacent encoded words: the whitespace between them is not text (RFC 2047 6.2).
        (b"=?utf-8?q?a?=  =?utf-8?q?b?=", "ab"),
        (b"Re: =?UTF-8?B?w6k=?= =?UTF-8?B?w6k=?= x", "Re: éé x"),
        (b"=?utf-8?q?Gr=C3=BC=C3=9F?=\n =?utf-8?q?e?=", "Grüße"),
        (b"a =?utf-8?q?x?= b =?utf-8?q?y?= c", "a x b y c"),
        # The q encoding's underscore is a space.
        (b"=?utf-8?q?two_words?=", "two words"),
        # Raw 8-bit headers: UTF-8 when valid, else a single-byte fallback.
        ("naïve".encode(), "naïve"),
        (b"plain \xe9t\xe9", "plain été"),
        # RFC 2231 language suffix.
        (b"=?utf-8*en?q?hi?=", "hi"),
        (None, ""),
        (b"", ""),
    ],
)
def test_decode_header(raw: bytes | None, expected: str) -> None:
    assert h.decode_header(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        b"=?x-bogus-charset?q?abc?=",
        b"=?utf-8?q?unterminated",
        b"=?utf-8?x?unknown-encoding?=",
        b"=?=",
        b"=??=",
        b"=?utf-8?q?=ZZ?=",
        b"=?utf-8?b?!!!?=",
        b"=?utf-8?q?caf=E9?=",  # declared UTF-8, is Latin-1
        b"=?unknown-8bit?q?caf=E9?=",
        b"=?utf-8?q?\xff\xfe?=",
        b"\x00\x01\x02 =?",
    ],
)
def test_decode_header_malformed_never_raises(raw: bytes) -> None:
    out = h.decode_header(raw)
    assert isinstance(out, str)


def test_decode_header_bad_charset_keeps_the_text() -> None:
    assert h.decode_header(b"=?x-bogus-charset?q?abc?=") == "abc"
    assert h.decode_header(b"=?utf-8?q?caf=E9?=") == "café"
    assert h.decode_header(b"=?utf-8?q?unterminated") == "=?utf-8?q?unterminated"


@pytest.mark.parametrize("raw", [b"=?utf-8?b?a?=", b"Re: =?UTF-8?B?abcde?= x"])
def test_decode_header_bad_base64_length_never_raises(raw: bytes) -> None:
    assert isinstance(h.decode_header(raw), str)


def test_parse_message_survives_bad_base64_subject() -> None:
    raw = mail("From: a@example.org\nSubject: =?utf-8?b?a?=\nMessage-ID: <x@y>", "hi\n")
    assert isinstance(parse_message(raw).subject, str)


def test_decode_header_raw_latin_text_next_to_encoded_word() -> None:
    assert h.decode_header("Re: Größe =?iso-8859-1?q?caf=E9?=".encode()) == "Re: Größe café"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("テスト =?utf-8?q?x?= end".encode(), "テスト x end"),
        ("€ =?utf-8?q?x?=".encode(), "€ x"),
    ],
)
def test_decode_header_raw_utf8_next_to_encoded_word(raw: bytes, expected: str) -> None:
    assert h.decode_header(raw) == expected


# --------------------------------------------------------------------------------------------
# headers.scan_headers / split_header_block


def test_scan_headers_case_folding_and_only_wanted() -> None:
    block = (
        b"Received: from x\n\tby y with ESMTP\n"
        b"FROM: A <a@b.org>\n"
        b"subject: hello\n"
        b"X-Subject: not this\n"
        b"X-Mailer: not this either\n"
        b"Content-type: text/plain\n"
        b"Sender: z@z.org\n"
        b"Resent-From: r@z.org\n"
        b"DKIM-Signature: v=1; a=rsa-sha256;\n\tb=abc\n"
        b"MESSAGE-ID: <m@x>"
    )
    out = h.scan_headers(block)
    assert out == {
        "from": [b"A <a@b.org>"],
        "subject": [b"hello"],
        "content-type": [b"text/plain"],
        "message-id": [b"<m@x>"],
    }
    assert set(out) <= set(h.WANTED)


def test_scan_headers_folded_lines_and_repeats() -> None:
    block = (
        b"To: a@b.org,\n c@d.org,\n\td@e.org\n"
        b"Cc: e@f.org\n"
        b"Cc: g@h.org\n"
        b"References: <1@x>\n <2@x>\n\t<3@x>\n"
        b"Subject: one\n  two"
    )
    out = h.scan_headers(block)
    assert out["to"] == [b"a@b.org, c@d.org, d@e.org"]
    assert out["cc"] == [b"e@f.org", b"g@h.org"]
    assert out["references"] == [b"<1@x> <2@x> <3@x>"]
    assert out["subject"] == [b"one two"]


def test_scan_headers_crlf() -> None:
    block = b"From: a@b.org\r\nSubject: folded\r\n\tline\r\nMessage-ID: <m@x>\r\nDate: x\r\n"
    assert h.scan_headers(block) == {
        "from": [b"a@b.org"],
        "subject": [b"folded line"],
        "message-id": [b"<m@x>"],
        "date": [b"x"],
    }


def test_scan_headers_empty_value_and_no_headers() -> None:
    assert h.scan_headers(b"Subject:\nFrom: a@b") == {"subject": [b""], "from": [b"a@b"]}
    assert h.scan_headers(b"just text\nno headers here") == {}
    assert h.scan_headers(b"") == {}


def test_split_header_block() -> None:
    assert h.split_header_block(b"A: b\nC: d\n\nbody\n\nmore") == (b"A: b\nC: d", b"body\n\nmore")
    assert h.split_header_block(b"A: b\r\nC: d\r\n\r\nbody\r\n") == (b"A: b\r\nC: d", b"body\r\n")
    # The first empty line wins, whatever its line ending.
    assert h.split_header_block(b"A: b\n\nbody\r\n\r\nx") == (b"A: b", b"body\r\n\r\nx")
    assert h.split_header_block(b"A: b\n") == (b"A: b\n", b"")


# --------------------------------------------------------------------------------------------
# headers.parse_address / parse_address_list


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Foo Bar <Foo@Example.COM>", ("Foo Bar", "foo@example.com")),
        ('"Bar, Foo" <foo@example.com>', ("Bar, Foo", "foo@example.com")),
        ('"Foo \\"x\\" Bar" <f@e.com>', ('Foo "x" Bar', "f@e.com")),
        ("foo at example.com (Foo Bar)", ("Foo Bar", "foo@example.com")),
        ("foo at example.com", ("", "foo@example.com")),
        ("foo@example.com", ("", "foo@example.com")),
        ("<foo@example.com>", ("", "foo@example.com")),
        ("foo@example.com (Foo Bar)", ("Foo Bar", "foo@example.com")),
        ("  Foo  <foo@example.com>  ", ("Foo", "foo@example.com")),
        # RFC 2047 names come back still encoded: parse.py decodes them.
        ("=?utf-8?q?El=C3=A9anor?= <e@example.com>", ("=?utf-8?q?El=C3=A9anor?=", "e@example.com")),
        (
            '"=?utf-8?q?El=C3=A9anor?=" <e@example.com>',
            ("=?utf-8?q?El=C3=A9anor?=", "e@example.com"),
        ),
        ("", ("", "")),
    ],
)
def test_parse_address(value: str, expected: tuple[str, str]) -> None:
    assert h.parse_address(value) == expected


def test_parse_address_list_dozens_with_duplicates() -> None:
    people = [(f"Dev Number{i}", f"dev{i}@lists.example.org") for i in range(40)]
    parts = []
    for i, (name, addr) in enumerate(people):
        if i % 4 == 0:
            parts.append(f'"{name.split()[1]}, {name.split()[0]}" <{addr}>')
        elif i % 4 == 1:
            parts.append(f"{name} <{addr.upper()}>")
        elif i % 4 == 2:
            parts.append(addr)
        else:
            parts.append(f"<{addr}>")
    # Repeats in another spelling, and a folded continuation.
    parts += [people[0][1].upper(), f"Again <{people[5][1]}>", people[39][1]]
    value = ",\n ".join(parts)
    assert h.parse_address_list(value) == [addr for _name, addr in people]


def test_parse_address_list_pipermail_and_mixed() -> None:
    value = (
        'a@x.org, Foo <B@X.org>, "Last, First" <c@x.org>, a@x.org, '
        "d at y.org (D), <e@x.org>, f.g+tag@sub.example.co.uk"
    )
    assert h.parse_address_list(value) == [
        "a@x.org",
        "b@x.org",
        "c@x.org",
        "d@y.org",
        "e@x.org",
        "f.g+tag@sub.example.co.uk",
    ]
    assert h.parse_address_list("") == []
    assert h.parse_address_list("undisclosed-recipients:;") == []


# --------------------------------------------------------------------------------------------
# headers.parse_date / normalize_message_id


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Mon, 2 Jan 2023 10:00:00 +0800", (1672624800, 480)),
        ("Mon, 24 Sep 2018 09:46:40 -0700 (PDT)", (1537807600, -420)),
        ("Wed, 1 Jan 2003 00:00:00 +0530", (1041359400, 330)),
        ("Sat, 13 Aug 2016 12:14:15 +0200 (CEST)", (1471083255, 120)),
        # Two-digit year (1997, as in the public-inbox ISO-2022-JP fixture).
        ("Tue, 29 Jul 97 00:08:29 +0900", (870102509, 540)),
        ("Mon, 1 Jan 2001 00:00:00 GMT", (978307200, 0)),
        ("Mon, 1 Jan 2001 00:00:00 -0000", (978307200, 0)),
        ("1 Jan 2001 00:00:00 +0000", (978307200, 0)),
        ("Tue, 19 Jan 2038 03:14:07 +0000", (2**31 - 1, 0)),
    ],
)
def test_parse_date_valid(value: str, expected: tuple[int, int]) -> None:
    assert h.parse_date(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "   ",
        "garbage",
        "yesterday at noon",
        "32 Foo 2020 99:99:99 +0000",
        # Zero epochs and far futures are broken clocks, not mail.
        "Thu, 01 Jan 1970 00:00:00 +0000",
        "Fri, 31 Dec 9999 23:59:59 +0000",
        "Sat, 1 Jan 2100 00:00:00 +0000",
        # Past 2038-01-19 03:14:07 UTC: real mail from broken clocks (2040, 2077), which a
        # PostgreSQL store's INTEGER dates cannot hold.
        "Tue, 19 Jan 2038 03:14:08 +0000",
        "Wed, 15 Sep 2077 10:00:00 +0200",
    ],
)
def test_parse_date_garbage(value: str | None) -> None:
    assert h.parse_date(value) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<a@b>", "a@b"),
        ("  <20230102.1234-1-x@kernel.org>  ", "20230102.1234-1-x@kernel.org"),
        ("a@b", "a@b"),
        ("<a@b> <c@d>", "a@b"),
        ("junk <x@y> junk", "x@y"),
        ("a b", None),
        ("", None),
        (None, None),
        ("x" * 1000, None),
    ],
)
def test_normalize_message_id(value: str | None, expected: str | None) -> None:
    assert h.normalize_message_id(value) == expected


def test_normalize_message_id_empty_brackets() -> None:
    assert h.normalize_message_id("<>") is None


def test_message_ids_in_order() -> None:
    assert h.message_ids("<a@x> junk <b@x>\t<c@x>") == ["a@x", "b@x", "c@x"]
    assert h.message_ids(None) == []


# --------------------------------------------------------------------------------------------
# parse_message: patches


def test_format_patch_mail() -> None:
    raw = mail(
        STD + 'Cc: LKML <linux-kernel@vger.kernel.org>, "Hu, Yue" <huyue2@coolpad.com>\n',
        FORMAT_PATCH_BODY,
    )
    p = parse_message(raw)
    assert isinstance(p, ParsedMessage)
    assert p.message_id == "20230102020000.1234-1-xiang@kernel.org"
    assert not p.synthetic_id
    assert (p.date_utc, p.date_offset, p.date_source) == (1672624800, 480, "header")
    assert (p.from_name, p.from_addr) == ("Gao Xiang", "xiang@kernel.org")
    assert p.to_addrs == "linux-erofs@lists.ozlabs.org"
    assert p.cc_addrs == "linux-kernel@vger.kernel.org,huyue2@coolpad.com"
    assert p.subject == "[PATCH v2 1/2] erofs: fix foo"
    assert p.has_patch
    assert p.patch_kind == "format-patch"
    assert p.diff == PATCH
    assert "-- \n2.39.0" not in p.diff
    assert p.body == (
        "The foo is broken.\n\nSigned-off-by: Gao Xiang <xiang@kernel.org>\n---\n"
        " fs/erofs/super.c | 2 +-\n 1 file changed, 1 insertion(+), 1 deletion(-)\n\n"
        "-- \n2.39.0\n\n"
    )
    assert "diff --git" not in p.body


def test_inline_diff_without_separator() -> None:
    body = "How about this?\n\n" + PATCH + "\nThanks,\nA\n"
    p = parse_message(mail(STD, body))
    assert p.has_patch
    assert p.patch_kind == "inline"
    assert p.diff == PATCH
    assert p.body == "How about this?\n\n\nThanks,\nA\n"


def test_reply_quoting_a_patch_is_not_a_patch() -> None:
    quoted = "".join("> " + line + "\n" for line in PATCH.splitlines())
    body = "On Mon, Gao Xiang wrote:\n" + quoted + ">\n> +foo\n\nLooks good to me.\n"
    p = parse_message(mail(STD.replace("Subject: [", "Subject: Re: ["), body))
    assert not p.has_patch
    assert p.patch_kind is None
    assert p.diff is None
    assert p.body == body


def test_quoted_printable_patch() -> None:
    qp_body = (
        "Fix.\n---\n"
        + PATCH.replace("=", "=3D").replace("erofs_fill_super(void)", "erofs_fill_=\nsuper(void)")
        + "-- =\n\n2.39.0\n"
    )
    raw = mail(
        STD + "Content-Type: text/plain\nContent-Transfer-Encoding: Quoted-Printable", qp_body
    )
    p = parse_message(raw)
    assert p.patch_kind == "format-patch"
    assert p.diff == PATCH
    assert p.body == "Fix.\n---\n-- \n2.39.0\n"


def test_base64_patch() -> None:
    text = "Fix \u00e9t\u00e9.\n---\n" + PATCH + "-- \n2.1\n"
    encoded = base64.encodebytes(text.encode("utf-8")).decode("ascii")
    raw = mail(
        STD + "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64", encoded
    )
    p = parse_message(raw)
    assert p.patch_kind == "format-patch"
    assert p.diff == PATCH
    assert p.body == "Fix été.\n---\n-- \n2.1\n"


def test_crlf_mail() -> None:
    raw = mail(STD, FORMAT_PATCH_BODY).replace(b"\n", b"\r\n")
    p = parse_message(raw)
    assert p.subject == "[PATCH v2 1/2] erofs: fix foo"
    assert p.patch_kind == "format-patch"
    assert p.diff == PATCH


def test_iso_8859_1_body_and_subject() -> None:
    raw = (
        b"From: =?ISO-8859-1?Q?G=F6ran_Lastname?= <goran@example.com>\n"
        b"Subject: =?iso-8859-1?q?R=E9sum=E9?= du patch\n"
        b"Message-ID: <latin1@x>\n"
        b"Content-Type: text/plain; charset=ISO-8859-1\n"
        b"Content-Transfer-Encoding: 8bit\n\n"
        b"Voil\xe0 le r\xe9sum\xe9, G\xf6ran\n"
    )
    p = parse_message(raw)
    assert p.from_name == "Göran Lastname"
    assert p.from_addr == "goran@example.com"
    assert p.subject == "Résumé du patch"
    assert p.body == "Voilà le résumé, Göran\n"


def test_iso_2022_jp_body() -> None:
    text = "パッチです\n"
    raw = mail(
        "From: a@example.jp\nSubject: =?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=\nMessage-ID: <jp@x>\n"
        "Content-Type: text/plain; charset=ISO-2022-JP",
        text.encode("iso-2022-jp"),
    )
    p = parse_message(raw)
    assert p.body == text
    assert p.subject == "テスト"


def test_unknown_charset_decodes() -> None:
    hdrs = (
        "From: a@example.com\nSubject: x\nMessage-ID: <u@x>\nContent-Type: text/plain; "
        "charset=X-UNKNOWN\nContent-Transfer-Encoding: quoted-printable"
    )
    # Unknown charset: UTF-8 when the bytes are UTF-8 ...
    assert parse_message(mail(hdrs, "=E2=80=A2 bullet\n")).body == "\u2022 bullet\n"
    # ... else a single-byte decoding, never an error.
    p = parse_message(mail(hdrs, "=E2=80=A2 bullet\n=E9t=E9\n"))
    assert p.body.endswith(" bullet\n\u00e9t\u00e9\n")


def _multipart(ctype: str, parts: list[tuple[str, str]], preamble: str = "") -> bytes:
    out = STD + "MIME-Version: 1.0\n" + f'Content-Type: {ctype}; boundary="==b=="\n\n' + preamble
    for hdrs, body in parts:
        out += "--==b==\n" + hdrs.strip("\n") + "\n\n" + body + "\n"
    return (out + "--==b==--\n").encode("utf-8")


def test_multipart_text_x_patch_attachment() -> None:
    raw = _multipart(
        "multipart/mixed",
        [
            ("Content-Type: text/plain; charset=utf-8", "Please see the attached patch.\n"),
            (
                'Content-Type: text/x-patch; name="0001-fix.patch"\n'
                'Content-Disposition: attachment; filename="0001-fix.patch"',
                "From 1234 Mon Sep 17 00:00:00 2001\nSubject: fix\n\nmsg\n---\n" + PATCH,
            ),
        ],
        preamble="This is a multi-part message in MIME format.\n",
    )
    p = parse_message(raw)
    assert p.patch_kind == "attachment"
    assert p.diff == PATCH
    assert p.body == "Please see the attached patch.\n"


def test_multipart_signed_inline_patch() -> None:
    text_part = (
        "Commit msg.\n\nSigned-off-by: A <a@x.org>\n---\n f.c | 2 +-\n\n"
        + PATCH.replace("=", "=3D")
        + "-- =\n\n2.39.0\n"
    )
    raw = _multipart(
        'multipart/signed; micalg=pgp-sha256; protocol="application/pgp-signature"',
        [
            (
                "Content-Type: text/plain; charset=us-ascii\n"
                "Content-Transfer-Encoding: quoted-printable",
                text_part,
            ),
            (
                'Content-Type: application/pgp-signature; name="signature.asc"',
                "-----BEGIN PGP SIGNATURE-----\n\niQEzBAEBCAAdFiEE\n-----END PGP SIGNATURE-----",
            ),
        ],
    )
    p = parse_message(raw)
    assert p.patch_kind == "format-patch"
    assert p.diff == PATCH
    assert p.body.startswith("Commit msg.\n")
    assert "PGP SIGNATURE" not in p.body


def test_multipart_signed_inline_patch_without_separator() -> None:
    raw = _multipart(
        'multipart/signed; protocol="application/pgp-signature"',
        [
            ("Content-Type: text/plain", "Try this:\n\n" + PATCH),
            ("Content-Type: application/pgp-signature", "-----BEGIN PGP SIGNATURE-----"),
        ],
    )
    p = parse_message(raw)
    assert p.patch_kind == "inline"
    assert p.diff == PATCH


def test_octet_stream_attachment_named_patch() -> None:
    raw = _multipart(
        "multipart/mixed",
        [
            ("Content-Type: text/plain", "attached\n"),
            (
                "Content-Type: application/octet-stream\n"
                'Content-Disposition: attachment; filename="fix.patch"\n'
                "Content-Transfer-Encoding: base64",
                base64.encodebytes(("msg\n---\n" + PATCH).encode()).decode(),
            ),
        ],
    )
    p = parse_message(raw)
    assert p.patch_kind == "attachment"
    assert p.diff == PATCH
    assert p.body == "attached\n"


def test_octet_stream_binary_attachment_is_ignored() -> None:
    raw = _multipart(
        "multipart/mixed",
        [
            ("Content-Type: text/plain", "a picture\n"),
            (
                'Content-Type: application/octet-stream; name="x.bin"\n'
                "Content-Transfer-Encoding: base64",
                base64.encodebytes(b"\x00\x01diff --git \x00" * 10).decode(),
            ),
        ],
    )
    p = parse_message(raw)
    assert not p.has_patch
    assert p.body == "a picture\n"


def test_nested_multipart_with_alternative_and_named_patch() -> None:
    raw = (
        STD + "Content-Type: multipart/mixed; boundary=outer\n\n"
        '--outer\nContent-Type: multipart/alternative; boundary="inner"\n\n'
        "--inner\nContent-Type: text/plain\n\nplain text\n"
        "--inner\nContent-Type: text/html\n\n<p>html</p>\n--inner--\n\n"
        # No Content-Disposition: the name= parameter alone marks the patch.
        "--outer\nContent-Type: text/plain; name=fix.patch\n\n" + PATCH + "\n--outer--\n"
    ).encode()
    p = parse_message(raw)
    assert p.patch_kind == "attachment"
    assert p.diff == PATCH
    assert p.body == "plain text"


def test_single_part_text_x_diff_is_an_attachment() -> None:
    raw = mail(STD + "Content-Type: text/x-diff; charset=us-ascii", PATCH)
    p = parse_message(raw)
    assert p.patch_kind == "attachment"
    assert p.diff == PATCH
    assert p.body == ""


def test_quoted_printable_crlf_soft_breaks() -> None:
    qp = "msg\n---\n" + PATCH.replace("=", "=3D").replace("c =3D 1;", "c =3D=\n 1;")
    raw = mail(STD + "Content-Transfer-Encoding: quoted-printable", qp + "-- \n2.1\n")
    p = parse_message(raw.replace(b"\n", b"\r\n"))
    assert p.patch_kind == "format-patch"
    assert p.diff == PATCH
    assert p.body == "msg\n---\n-- \n2.1\n"


def test_attached_mbox_of_two_patches_keeps_both_diffs() -> None:
    patch2 = PATCH.replace("int c = 1;", "int c = 2;").replace("super.c", "inode.c")
    mbox = (
        "From 1111 Mon Sep 17 00:00:00 2001\nFrom: A <a@x.org>\nSubject: [PATCH 1/2] one\n\n"
        "one\n---\n" + PATCH + "-- \n2.39.0\n\n"
        "From 2222 Mon Sep 17 00:00:00 2001\nFrom: A <a@x.org>\nSubject: [PATCH 2/2] two\n\n"
        "two\n---\n" + patch2 + "-- \n2.39.0\n"
    )
    raw = _multipart(
        "multipart/mixed",
        [
            ("Content-Type: text/plain", "series attached\n"),
            (
                "Content-Type: application/octet-stream\n"
                'Content-Disposition: attachment; filename="series.mbox"\n'
                "Content-Transfer-Encoding: base64",
                base64.encodebytes(mbox.encode()).decode(),
            ),
        ],
    )
    p = parse_message(raw)
    assert p.patch_kind == "attachment"
    assert p.diff == PATCH + patch2


# --------------------------------------------------------------------------------------------
# parse_message: ids, dates, threading, errors, content hash


def test_synthetic_message_id_is_stable_and_content_derived() -> None:
    hdrs = "From: a@example.org\nSubject: no id\nDate: Mon, 2 Jan 2023 10:00:00 +0800"
    raw = mail(hdrs, "hello\n")
    p1, p2 = parse_message(raw), parse_message(bytes(raw))
    assert p1.synthetic_id
    assert p1.message_id == p2.message_id
    assert p1.message_id.startswith("patchlens.")
    assert p1.message_id.endswith("@synthetic.invalid")
    digest = p1.message_id[len("patchlens.") : -len("@synthetic.invalid")]
    assert len(digest) == 40
    int(digest, 16)
    assert parse_message(mail(hdrs, "hello again\n")).message_id != p1.message_id
    assert (
        parse_message(mail(hdrs.replace("no id", "other"), "hello\n")).message_id != p1.message_id
    )
    # A transport header does not change it: the id follows the content.
    assert parse_message(b"Received: from x\n" + raw).message_id == p1.message_id


def test_empty_or_blank_message_id_is_synthetic() -> None:
    for mid in ("Message-ID:", "Message-ID:   ", "Message-ID: two words"):
        p = parse_message(mail(f"From: a@b.org\nSubject: s\n{mid}", "x\n"))
        assert p.synthetic_id, mid
        assert p.message_id.endswith("@synthetic.invalid")


def test_date_fallbacks() -> None:
    base = "From: a@b.org\nSubject: s\nMessage-ID: <d@x>"
    for date_line in (
        "",
        "\nDate: not a date",
        "\nDate:  ",
        "\nDate: Thu, 01 Jan 1970 00:00:00 +0000",
    ):
        raw = mail(base + date_line, "x\n")
        p = parse_message(raw, archive_date=1600000000)
        assert (p.date_utc, p.date_offset, p.date_source) == (1600000000, None, "archive")
        p = parse_message(raw)
        assert (p.date_utc, p.date_offset, p.date_source) == (None, None, "none")
    p = parse_message(mail(base + "\nDate: Mon, 2 Jan 2023 10:00:00 +0800", "x\n"), 1)
    assert (p.date_utc, p.date_offset, p.date_source) == (1672624800, 480, "header")


def test_in_reply_to_and_references() -> None:
    raw = mail(
        "From: a@b.org\nSubject: Re: s\nMessage-ID: <r@x>\n"
        "In-Reply-To: <cover.1@kernel.org> <other@x> (Gao Xiang's message of Mon)\n"
        "References: <a@x>\n <b@x> <cover.1@kernel.org>\n"
        "References: <late@x>",
        "x\n",
    )
    p = parse_message(raw)
    assert p.in_reply_to == "cover.1@kernel.org"
    assert p.refs == "a@x b@x cover.1@kernel.org late@x"
    bare = parse_message(mail("From: a@b.org\nSubject: s\nMessage-ID: <n@x>", "x\n"))
    assert bare.in_reply_to is None
    assert bare.refs == ""


def test_dmarc_rewritten_from_is_undone() -> None:
    via = (
        "From: Jane Doe via Linux-erofs <linux-erofs@lists.ozlabs.org>\n"
        "Subject: s\nMessage-ID: <v@x>"
    )
    p = parse_message(mail(via + "\nX-Original-From: Jane Doe <Jane@Example.com>", "x\n"))
    assert (p.from_name, p.from_addr) == ("Jane Doe", "jane@example.com")
    p = parse_message(
        mail(via.replace("Jane Doe via", "'Jane Doe' via") + "\nReply-To: jane@example.com", "x\n")
    )
    assert (p.from_name, p.from_addr) == ("Jane Doe", "jane@example.com")
    # Nothing to recover it from: the list's address stays.
    p = parse_message(mail(via, "x\n"))
    assert (p.from_name, p.from_addr) == (
        "Jane Doe via Linux-erofs",
        "linux-erofs@lists.ozlabs.org",
    )


def test_list_id_header() -> None:
    raw = mail(STD + "List-Id: <linux-erofs.lists.ozlabs.org>", "x\n")
    assert parse_message(raw).list_id_header == "<linux-erofs.lists.ozlabs.org>"
    assert parse_message(mail(STD, "x\n")).list_id_header is None


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"   \n\n\r\n",
        b"just some text\nwithout any header at all\n",
        b"\x00\x01\x02\xff binary junk",
        b"To: a@b.org\nX-Foo: bar\n\nbody without From/Subject/Date/Message-ID\n",
    ],
)
def test_unparseable(raw: bytes) -> None:
    with pytest.raises(Unparseable):
        parse_message(raw)


def test_multipart_without_boundary_is_unparseable() -> None:
    raw = mail(STD + "Content-Type: multipart/mixed", "--x\n\nhi\n--x--\n")
    with pytest.raises(Unparseable):
        parse_message(raw)


def test_content_hash_ignores_transport_headers_and_line_endings() -> None:
    raw = mail(STD, FORMAT_PATCH_BODY)
    ref = content_hash(raw)
    assert len(ref) == 40
    variants = [
        b"Received: from mx.example.org by x; Mon, 2 Jan 2023\n\tmore\n" + raw,
        raw.replace(b"Message-Id:", b"X-Mailing-List: erofs\nX-Spam-Score: 1.0\nMessage-Id:"),
        raw.replace(b"\n", b"\r\n"),
        raw + b"\n\n",  # trailing blank lines
        raw.replace(b"To: linux-erofs@lists.ozlabs.org", b"To: other@lists.example.org"),
        raw.replace(b"Message-Id: <20230102020000", b"Message-Id: <other"),
    ]
    for v in variants:
        assert content_hash(v) == ref
    assert parse_message(raw).content_hash == ref


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"The foo is broken.", b"The foo is fixed."),
        (b"From: Gao Xiang <xiang@kernel.org>", b"From: Gao Xiang <hsiangkao@aol.com>"),
        (b"Subject: [PATCH v2 1/2]", b"Subject: [PATCH v3 1/2]"),
        (b"Date: Mon, 2 Jan 2023 10:00:00", b"Date: Mon, 2 Jan 2023 10:00:01"),
        (b"+int c = 1;", b"+int c = 2;"),
    ],
)
def test_content_hash_changes_with_content(old: bytes, new: bytes) -> None:
    raw = mail(STD, FORMAT_PATCH_BODY)
    assert old in raw
    assert content_hash(raw.replace(old, new)) != content_hash(raw)


def test_content_hash_definition() -> None:
    raw = b"From: a@b\nSubject: s\nDate: d\nX-Other: y\n\nbody\r\n\r\n"
    expected = hashlib.sha1(b"a@b\0s\0d\0body").hexdigest()
    assert content_hash(raw) == expected


# --------------------------------------------------------------------------------------------
# The real public-inbox test mails


def _public_inbox_mails() -> list[Path]:
    root = public_inbox()
    files = sorted(root.glob("*.eml")) + sorted((root / "data").glob("*.eml"))
    assert len(files) >= 15, root
    return files


def test_every_public_inbox_fixture_parses() -> None:
    for path in _public_inbox_mails():
        p = parse_message(path.read_bytes())
        assert p.message_id, path
        assert isinstance(p.body, str), path
        assert p.has_patch == (p.diff is not None), path


def test_public_inbox_iso_2022_jp() -> None:
    p = parse_message(public_inbox("iso-2202-jp.eml").read_bytes())
    assert p.message_id == "199707281508.AAA24167@hoyogw.example"
    assert p.body == "|けいじゅ＠今はフリー(^^;;;です.\n"
    assert p.subject == "[ruby-dev:4]"
    # Date: Tue, 29 Jul 97 00:08:29 +0900
    assert (p.date_utc, p.date_offset, p.date_source) == (870102509, 540, "header")


def test_public_inbox_x_unknown_alpine() -> None:
    p = parse_message(public_inbox("x-unknown-alpine.eml").read_bytes())
    assert "bullet point" in p.body
    assert p.body == "\thttps://example.com/\n\n  • bullet point\n"
    assert (p.from_name, p.from_addr) == ("Alpine User", "a@example.com")
    # "Date:<TAB>Sat, 13 Aug 2016 12:14:15 +0200 (CEST)"
    assert (p.date_utc, p.date_offset) == (1471083255, 120)
    assert not p.has_patch


def test_public_inbox_plack_qp() -> None:
    p = parse_message(public_inbox("plack-qp.eml").read_bytes())
    assert p.body == "hi = bye"
    assert p.subject == "QP"
    assert p.message_id == "qp@example.com"


def test_public_inbox_psgi_attach() -> None:
    p = parse_message(public_inbox("psgi_attach.eml").read_bytes())
    assert p.message_id == "Z@B"
    # The QP part decoded, the mistyped "appication/octet-stream" base64 part left out.
    assert p.body == "abcdef=g\n==blah\n\nplain\ntext\npass\nthrough\n\ndotfile\n"
    assert not p.has_patch


def test_public_inbox_attached_patch() -> None:
    p = parse_message(public_inbox("plack-attached-patch.eml").read_bytes())
    assert p.patch_kind == "attachment"
    # "@@ -49, 7 +49,34 @@": the stray space some mailers leave is tolerated.
    assert p.diff == "--- a/file\n+++ b/file\n@@ -49, 7 +49,34 @@\n"
    assert p.body == "hi, see attached"


def test_public_inbox_attached_mbox_with_utf8() -> None:
    p = parse_message(public_inbox("data", "attached-mbox-with-utf8.eml").read_bytes())
    assert p.patch_kind == "attachment"
    assert p.body == "hello world\n"
    assert p.diff is not None
    # The attachment is an mbox of two copies of the same patch: both diffs are kept.
    assert p.diff.count("diff --git a/foo.c b/foo.c\n") == 2
    assert p.diff.count("+\tunless (foo)\n") == 2


def test_public_inbox_utf8_and_two_bodies() -> None:
    p = parse_message(public_inbox("utf8.eml").read_bytes())
    assert p.from_name == "Eléanor"
    assert p.subject == "Testing for Eléanor"
    assert p.body == "This is a test message for Eléanor\n"
    # Date: Thu, 01 Jan 1970 00:00:00 +0000 is a broken clock.
    assert p.date_source == "none"
    p = parse_message(public_inbox("plack-2-txt-bodies.eml").read_bytes())
    assert p.body == "hi\nbye"
    assert p.in_reply_to == "irp@example.com"


def test_public_inbox_nested_multipart_and_embedded_message() -> None:
    p = parse_message(public_inbox("msg_iter-nested.eml").read_bytes())
    assert p.body == "a\nb\nsig"
    assert p.synthetic_id
    p = parse_message(public_inbox("data", "message_embed.eml").read_bytes())
    assert p.body == "testing embedded message harder\n"
    assert p.in_reply_to == "20200418222020.GA2745@dcvr"
    assert p.refs == "20200418222020.GA2745@dcvr"


def test_public_inbox_html_before_plain_alternative() -> None:
    p = parse_message(public_inbox("mda-mime.eml").read_bytes())
    assert p.body == 'hi = "bye"'
