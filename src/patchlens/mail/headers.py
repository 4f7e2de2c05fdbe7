"""Header decoding for hostile, decades-old mail: never raises, always returns text.

A byte-level scan of the header block is ~10x cheaper than building an `email.message`
object, and the headers are all most messages need.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import email.utils
import re
from datetime import datetime

_FOLD = re.compile(rb"\r?\n[ \t]+")
_MSGID = re.compile(r"<([^<>\s]+)>")
_ENCODED_WORD = "=?"


def split_header_block(raw: bytes) -> tuple[bytes, bytes]:
    """Header block and body, split at the first empty line (LF or CRLF)."""
    i = raw.find(b"\n\n")
    j = raw.find(b"\r\n\r\n")
    if j != -1 and (i == -1 or j < i):
        return raw[:j], raw[j + 4 :]
    if i == -1:
        return raw, b""
    return raw[:i], raw[i + 2 :]


# The headers patchlens reads. Looking only for these skips the long Received:/DKIM chains.
WANTED = (
    "from",
    "to",
    "cc",
    "subject",
    "date",
    "message-id",
    "in-reply-to",
    "references",
    "list-id",
    "content-type",
    "content-transfer-encoding",
    "content-disposition",
    "reply-to",
    "x-original-from",
)
_WANTED_RE = re.compile(rb"\n(" + b"|".join(n.encode() for n in WANTED) + rb"):")


def scan_headers(block: bytes) -> dict[str, list[bytes]]:
    """The WANTED headers (lower-case name to raw values, in order), folded lines joined.

    One scan of a lower-cased copy is several times faster than parsing every header of
    blocks that are mostly Received: and DKIM lines.
    """
    src = b"\n" + block
    size = len(src)
    out: dict[str, list[bytes]] = {}
    for m in _WANTED_RE.finditer(src.lower()):
        start = m.end()
        end = src.find(b"\n", start)
        while end != -1 and end + 1 < size and src[end + 1] in (32, 9):
            end = src.find(b"\n", end + 1)
        if end == -1:
            end = size
        value = src[start:end]
        if b"\n" in value:
            value = _FOLD.sub(b" ", value)
        out.setdefault(m.group(1).decode("ascii"), []).append(value.strip())
    return out


# Codecs that Python can look up but that are not mail charsets: domain-name and escape
# encodings read backslashes or dashes as syntax (punycode decoding is also quadratic), and
# "undefined" always fails. Non-text codecs (rot13, hex, base64, zlib...) are refused by
# `_is_text_encoding`.
_NOT_CHARSETS = frozenset(
    {"punycode", "idna", "unicode-escape", "raw-unicode-escape", "undefined", "unicode-internal"}
)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _charset_codec(charset: str) -> str | None:
    """The codec name for a declared charset, or None when it is unknown or not a text charset.

    Never raises: charset names come from mail, and a NUL byte or a codec name such as
    `rot13` or `hex` made `bytes.decode` raise ValueError/LookupError (a "parser error").
    """
    cs = charset.strip().strip('"').strip().lower()
    if not cs or len(cs) > 64 or "\0" in cs:
        return None
    try:
        info = codecs.lookup(cs)
    except (LookupError, ValueError, TypeError):
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_CHARSETS:
        return None
    return info.name


def decode_bytes(data: bytes, charset: str | None = None) -> str:
    """Bytes to text by the declared charset, then UTF-8, then Latin-1: never fails."""
    if charset:
        cs = _charset_codec(charset)
        if cs:
            try:
                text = data.decode(cs)
            except (UnicodeError, ValueError, LookupError):
                pass
            else:
                # UTF-7 decodes "+2D0-" to a lone surrogate, which no store can encode.
                return _SURROGATE.sub("\ufffd", text) if cs != "utf-8" else text
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252" if charset is None else "latin-1", "replace")


_EW = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_EW_GAP = re.compile(r"(\?=)\s+(?==\?)")


def _decode_word(m: re.Match[str]) -> str:
    charset, enc, text = m.group(1), m.group(2).upper(), m.group(3)
    charset = charset.split("*", 1)[0]  # RFC 2231 language suffix
    try:
        if enc == "B":
            data = base64.b64decode(text + "=" * (-len(text) % 4))
        else:
            data = binascii.a2b_qp(text.replace("_", " ").encode("ascii", "replace"), header=True)
    except (binascii.Error, ValueError):
        return m.group(0)
    return decode_bytes(data, charset)


def decode_header(value: bytes | None) -> str:
    """RFC 2047 decoding of one header value; raw 8-bit headers are taken as UTF-8.

    Our own decoder rather than email.header's: that one raises on bad base64 and escapes
    raw non-ASCII text that sits next to an encoded word.
    """
    if value is None:
        return ""
    text = decode_bytes(value)
    if _ENCODED_WORD not in text:
        return text
    # White space between two encoded words is not part of the text (RFC 2047, 6.2).
    return _EW.sub(_decode_word, _EW_GAP.sub(r"\1", text))


def first_value(headers: dict[str, list[bytes]], name: str) -> bytes | None:
    vals = headers.get(name)
    return vals[0] if vals else None


def message_ids(value: str | None) -> list[str]:
    """Every <id> in a header value, in order (References, In-Reply-To, Message-ID)."""
    if not value:
        return []
    return _MSGID.findall(value)


def normalize_message_id(value: str | None) -> str | None:
    """The id without angle brackets; a bracket-less id is taken whole if it has no spaces."""
    if not value:
        return None
    ids = message_ids(value)
    if ids:
        return ids[0]
    v = value.strip().strip("<>").strip()
    if v and " " not in v and len(v) < 998:
        return v
    return None


# The name ends at the earliest place where `"?\s*<` follows, which is never between two
# blanks (the first of them would do): `(?!(?<=\s)\s)` says so, and keeps a long run of
# blanks in a name from being rescanned from each of them (quadratic). `^\s*+`: a shorter
# run of leading blanks never matches where the longest fails.
_SIMPLE_FROM = re.compile(r'^\s*+(?:"?([^"<>@,;]*?)(?!(?<=\s)\s)"?\s*)?<([^<>\s@]+@[^<>\s]+)>\s*$')
_BARE_FROM = re.compile(r"^\s*([^\s<>@()]+@[^\s<>()]+)\s*(?:\(([^()]*)\))?\s*$")


def parse_address(value: str) -> tuple[str, str]:
    """(display name, lower-cased address); handles pipermail's 'user at host (Name)'."""
    m = _SIMPLE_FROM.match(value)
    if m:
        return (m.group(1) or "").strip(), m.group(2).lower()
    m = _BARE_FROM.match(value)
    if m:
        return (m.group(2) or "").strip(), m.group(1).lower()
    name, addr = email.utils.parseaddr(value)
    if not addr or "@" not in addr:
        # Mailman 2 obfuscates: "jdoe at example.com (John Doe)"
        m = re.match(r"^\s*([^\s@()]+) at ([^\s@()]+)\s*(?:\((.*)\))?\s*$", value)
        if m:
            return (m.group(3) or name or "").strip(), f"{m.group(1)}@{m.group(2)}".lower()
        if not addr:
            return value.strip(), ""
    return name.strip().strip('"'), addr.strip().lower()


# A bare address's local part is read up to 256 characters (RFC 5321 allows 64; reply
# addresses of web services run longer): each start in a long run of such characters read to
# the run's end, and a Cc: of 128 KB of "!" took 12 s.
_ADDR = re.compile(
    r"<\s*([^<>@\s]+@[^<>\s]+?)\s*>"  # name <addr>
    r"|(?<![\w.+=<-])([\w.+=!#$%&'*/?^`{|}~-]{1,256}+@[\w-]+(?:\.[\w-]+)+)"  # bare addr
    r"|([\w.+=-]++) at ([\w-]+(?:\.[\w-]+)+)"  # pipermail's "user at host"
)
# _ADDR where a "user at host" starts at the start of its word. Past the first position of a
# search, that is where _ADDR finds it too: a match inside a word is also one from the
# character before, tried first. Without it, every character of a long word was the start of
# a scan to the end of the word (quadratic).
_ADDR_AT_WORD = re.compile(
    r"<\s*([^<>@\s]+@[^<>\s]+?)\s*>"
    r"|(?<![\w.+=<-])([\w.+=!#$%&'*/?^`{|}~-]{1,256}+@[\w-]+(?:\.[\w-]+)+)"
    r"|(?<![\w.+=-])([\w.+=-]++) at ([\w-]+(?:\.[\w-]+)+)"
)


def parse_address_list(value: str) -> list[str]:
    """Lower-cased addresses of a To/Cc value, in order, without repeats.

    A regex rather than email.utils.getaddresses: kernel lists carry Cc headers with dozens
    of addresses, and the stdlib parser spent more time on them than on everything else.
    """
    if not value:
        return []
    seen: dict[str, None] = {}
    # _ADDR.findall(value), except that only the first position of each search is tried with
    # _ADDR (where a match may start inside a word: just after the previous one).
    pos = 0
    while True:
        m = _ADDR.match(value, pos) or _ADDR_AT_WORD.search(value, pos + 1)
        if m is None:
            break
        angle, bare, user, host = m.groups()
        addr = angle or bare or (f"{user}@{host}" if user else "")
        if addr:
            seen.setdefault(addr.lower(), None)
        pos = m.end()
    return list(seen)


# The last second a signed 32-bit date holds (2038-01-19): the store's date columns are
# INTEGER, which PostgreSQL keeps in 32 bits (store.schema.DATE_MAX, which this pure layer
# may not import; tests/test_hostile_numbers.py keeps the two equal).
LATEST_DATE = 2**31 - 1
# The widest offset a Date: can write (RFC 5322's four digits, +99:59), in seconds.
MAX_OFFSET = 99 * 3600 + 59 * 60


def parse_date(value: str | None) -> tuple[int, int] | None:
    """(UTC seconds, offset in minutes) or None when the Date header is unusable."""
    if not value:
        return None
    try:
        tup = email.utils.parsedate_tz(value)
    except (ValueError, TypeError, IndexError):
        return None
    if tup is None:
        return None
    offset = tup[9] or 0
    if abs(offset) > MAX_OFFSET:  # "+6997719400": not a zone, and too large for the store
        return None
    try:
        ts = email.utils.mktime_tz(tup)
    except (ValueError, OverflowError, TypeError):
        return None
    # Dates outside this range are broken clocks or parse errors, not mail (real archives
    # hold mail dated 2040, 2042 and 2077), and would not fit a PostgreSQL INTEGER column.
    if not (0 < ts <= LATEST_DATE):
        return None
    return int(ts), offset // 60


def format_utc(ts: int | None) -> str:
    if ts is None:
        return ""
    return datetime.utcfromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")
