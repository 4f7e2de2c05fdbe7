"""Perceval items as a list source: the JSON lines that `perceval mbox|pipermail|hyperkitty|
nntp|groupsio ... --json-line` writes, and items dumped from a GrimoireLab raw index (each
line an Elasticsearch/OpenSearch hit with the item in `_source`, or the item itself).

A GrimoireLab deployment has already fetched its lists; this reads what it holds instead of
fetching again. Perceval keeps a message as a dictionary (`data`): its headers, decoded, one
value per name, and `body`, the decoded text parts joined per MIME subtype (`plain`, `html`,
`x-patch`, ...). The message is rebuilt from that, so the rest of the pipeline is unchanged.
What cannot come back (docs/OPENSEARCH.md lists it too):

- the exact bytes: the raw message, its transfer encodings and original charsets (the
  rebuilt one is UTF-8, 8bit; bytes Perceval could not decode come back as they were, as
  Perceval keeps them with `surrogateescape`);
- repeated headers: Perceval keeps the last value of each name (one `Received`, one
  `Cc` if a message had two Cc lines);
- runs of blanks inside a header (collapsed to one here, because Perceval's decoding adds
  a space between encoded words: "Alex  Bennée");
- mboxo escaping: Perceval (Python's `mailbox`) leaves ">From " in bodies as written,
  where patchlens's mbox reader unescapes mboxrd ">>From " to ">From ";
- the MIME structure: every text part of one subtype is joined with a newline; non-text
  attachments are dropped by Perceval; header folding and encoded words are undone;
- messages Perceval refused (no Message-ID, no usable Date) are not in the items at all.

Incremental like the mbox reader: the cursor holds the byte offset after the last complete
line read and a digest of the bytes before it; a file that only grew is read from there.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from patchlens.sources.base import Batch, Damage, Plan, RawMessage, SourceError
from patchlens.sources.mbox import open_maybe_compressed

_TAIL = 4096
_HEADER_NAME = re.compile(r"^[!-9;-~]+$")
_SPACES = re.compile(r"[ \t]{2,}")
# Perceval's own keys in `data`, not headers of the message.
_NOT_HEADERS = {"body", "unixfrom", "offset"}
# Headers that describe the original encoding of the body, which the rebuilt message
# replaces with its own.
_MIME = {"content-type", "content-transfer-encoding", "mime-version", "content-disposition"}
_BACKENDS = {"mbox", "pipermail", "hyperkitty", "nntp", "groupsio", "mailinglist"}


class BadItem(ValueError):
    """A line that is not a Perceval message item: the reason, for the damage report."""


def item_of(obj: Any) -> dict[str, Any]:
    """The Perceval item of a parsed line: a raw-index hit's `_source`, or the line itself."""
    if isinstance(obj, dict) and isinstance(obj.get("_source"), dict):
        obj = obj["_source"]
    if not isinstance(obj, dict) or not isinstance(obj.get("data"), dict):
        raise BadItem("not a Perceval item (a JSON object with a 'data' object)")
    return obj


def looks_like_items(head: bytes) -> bool:
    """Whether the first line of a file is a Perceval item (or a raw-index hit holding one):
    detection reads the data, never the file name."""
    line = head.split(b"\n", 1)[0].strip()
    if not line.startswith(b"{"):
        return False
    try:
        item = item_of(json.loads(line))
    except (ValueError, UnicodeDecodeError):
        return False
    return "backend_name" in item or "perceval_version" in item or _has_message_id(item["data"])


def _has_message_id(data: dict[str, Any]) -> bool:
    return any(k.lower() == "message-id" and v for k, v in data.items())


def _clean(value: Any) -> str:
    """A header value on one line: folding undone, and no CR/LF left, so a value can never
    end the header block early (an item is hostile input like any mail). Runs of blanks
    become one: Perceval joins the decoded pieces of a header with a space, so
    `Alex =?utf-8?q?Benn=C3=A9e?=` comes as "Alex  Bennée"."""
    lines = re.split(r"\r?\n|\r", str(value))
    # Unfolded as patchlens's own parser does (a line break and the blank after it become
    # one space, further blanks stay), and blanks collapsed only inside a line, where
    # Perceval's join put them.
    out = _SPACES.sub(" ", lines[0])
    for ln in lines[1:]:
        body = ln.lstrip(" \t")
        lead = ln[: len(ln) - len(body)]
        out += (" " + lead[1:] if lead else "") + _SPACES.sub(" ", body)
    return out.strip()


def _encode(text: str) -> bytes:
    # Perceval decodes with errors='surrogateescape': the undecodable bytes come back as
    # they were.
    return text.encode("utf-8", errors="surrogateescape")


def rebuild_message(data: dict[str, Any]) -> bytes:
    """The RFC 822 bytes of a Perceval message dictionary. Pure.

    Headers in Perceval's order (the message's), the MIME ones replaced; the body is the
    `plain` text (or `html` if that is all there is) as one text/plain UTF-8 part, and
    other text subtypes (attached patches: `x-patch`, `x-diff`) as further parts of a
    multipart/mixed message, so an attached patch is still found as an attachment."""
    if not _has_message_id(data):
        raise BadItem("the item's data has no Message-ID")
    lines: list[bytes] = []
    for name, value in data.items():
        if name.lower() in _NOT_HEADERS or name.lower() in _MIME or value is None:
            continue
        if not isinstance(name, str) or not _HEADER_NAME.match(name):
            continue
        if isinstance(value, (dict, list)):
            continue
        lines.append(_encode(f"{name}: {_clean(value)}"))
    body = data.get("body") or {}
    if not isinstance(body, dict):
        raise BadItem("the item's data.body is not an object")
    parts: list[tuple[str, str]] = []
    main = body.get("plain")
    if main is None and "html" in body:
        main = body.get("html")
        parts.append(("html", str(main)))
    else:
        parts.append(("plain", str(main or "")))
    parts += [(k, str(v)) for k, v in body.items() if k not in ("plain", "html") and v]
    lines.append(b"MIME-Version: 1.0")
    if len(parts) == 1:
        sub, text = parts[0]
        lines.append(f"Content-Type: text/{sub}; charset=utf-8".encode())
        lines.append(b"Content-Transfer-Encoding: 8bit")
        return b"\n".join(lines) + b"\n\n" + _body_bytes(text)
    boundary = (
        "patchlens-perceval-" + hashlib.sha1(b"".join(_encode(t) for _s, t in parts)).hexdigest()
    )
    lines.append(f'Content-Type: multipart/mixed; boundary="{boundary}"'.encode())
    out = b"\n".join(lines) + b"\n\n"
    for sub, text in parts:
        out += (
            f"--{boundary}\nContent-Type: text/{sub}; charset=utf-8\n"
            "Content-Transfer-Encoding: 8bit\n\n"
        ).encode() + _body_bytes(text)
    return out + f"--{boundary}--\n".encode()


def _body_bytes(text: str) -> bytes:
    raw = _encode(text.replace("\r\n", "\n"))
    return raw if raw.endswith(b"\n") else raw + b"\n"


def _when(item: dict[str, Any]) -> int | None:
    """The archive's time for the message: Perceval's `updated_on` (from the Date header
    for mail backends), used only when the Date header is unusable."""
    v = item.get("updated_on")
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    # JSON from elsewhere: Python's reader takes Infinity and NaN, and any size of number;
    # parse_message holds what it gets to the store's date range.
    return int(v) if math.isfinite(v) and abs(v) < 2**62 else None


def parse_line(line: bytes) -> tuple[bytes, int | None]:
    """The rebuilt message and archive time of one JSON line; BadItem says why not."""
    try:
        obj = json.loads(line)
    except UnicodeDecodeError:
        raise BadItem("not UTF-8 text") from None
    except ValueError as e:
        raise BadItem(f"not valid JSON ({e})") from None
    item = item_of(obj)
    backend = str(item.get("backend_name") or "").lower()
    if backend and backend not in _BACKENDS:
        raise BadItem(f"an item of Perceval's {item.get('backend_name')!r} backend, not mail")
    return rebuild_message(item["data"]), _when(item)


class PercevalSource:
    format = "perceval"

    def __init__(self, location: str) -> None:
        self.location = location
        self.path = Path(location)

    def _open(self) -> IO[bytes]:
        try:
            return open_maybe_compressed(self.path)
        except OSError as e:
            raise SourceError(f"{self.location}: cannot read: {e.strerror}") from e

    def _digest(self, offset: int) -> str:
        start = max(0, offset - _TAIL)
        with self._open() as f:
            f.read(start)
            return hashlib.sha1(f.read(offset - start)).hexdigest()

    def _resume(self, cursor: dict[str, Any] | None) -> tuple[int, int, list[str]]:
        """(byte offset, line number) to read from; -1 if nothing changed since."""
        if not cursor:
            return 0, 1, []
        st = self.path.stat()
        if cursor.get("file_size") == st.st_size and cursor.get("mtime") == st.st_mtime_ns:
            return -1, 0, []
        offset = int(cursor.get("offset", 0))
        if offset and cursor.get("tail") == self._digest(offset):
            return offset, int(cursor.get("line", 1)), []
        return 0, 1, [f"{self.location}: changed before the last line read; reading it all again"]

    def plan(self, cursor: dict[str, Any] | None, batch_size: int) -> Plan:
        if not self.path.is_file():
            raise SourceError(f"{self.location}: not a file")
        start, line_no, notes = self._resume(cursor)
        if start < 0:
            return Plan(total=0, batches=iter(()), notes=notes)
        return Plan(total=None, batches=self._batches(start, line_no, batch_size), notes=notes)

    def _batches(self, start: int, line_no: int, batch_size: int) -> Iterator[Batch]:
        st = self.path.stat()
        batch: list[RawMessage] = []
        damage: list[Damage] = []
        offset = start
        tail = b""
        with self._open() as f:
            if start:
                f.read(max(0, start - _TAIL))
                tail = f.read(start - max(0, start - _TAIL))
            for line in f:
                if not line.endswith(b"\n"):
                    # A last line still being written: left for the next update.
                    damage.append(
                        Damage(
                            f"{self.location}: line {line_no}",
                            "the last line has no newline (cut short or still being "
                            "written); read again at the next update",
                        )
                    )
                    yield Batch(batch, self._cursor(offset, line_no, tail, None), damage)
                    return
                here = offset
                offset += len(line)
                tail = (tail + line)[-_TAIL:]
                if line.strip():
                    try:
                        raw, when = parse_line(line)
                    except BadItem as e:
                        damage.append(Damage(f"{self.location}: line {line_no}", str(e)))
                    else:
                        batch.append(RawMessage(raw, str(here), when))
                line_no += 1
                if len(batch) >= batch_size:
                    yield Batch(batch, self._cursor(offset, line_no, tail, None), damage)
                    batch, damage = [], []
        yield Batch(batch, self._cursor(offset, line_no, tail, st), damage)

    def _cursor(self, offset: int, line_no: int, tail: bytes, st: Any) -> dict[str, Any]:
        cur: dict[str, Any] = {
            "offset": offset,
            "line": line_no,
            "tail": hashlib.sha1(tail).hexdigest(),
        }
        if st is not None:
            cur["file_size"] = st.st_size
            cur["mtime"] = st.st_mtime_ns
        return cur
