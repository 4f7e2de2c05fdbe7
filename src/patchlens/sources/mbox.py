"""mbox files (mboxo, mboxrd; plain, .gz, .xz), which also covers Mailman 2 pipermail
monthly `.txt(.gz)` archives and HyperKitty exports.

Incremental by byte offset in the uncompressed stream: the cursor remembers how far the last
run read and a hash of the bytes just before that point. If those bytes are unchanged the file
only grew, and reading resumes there; otherwise the whole file is read again and the store's
Message-ID dedup keeps it from doubling anything.
"""

from __future__ import annotations

import bz2
import email.utils
import gzip
import hashlib
import lzma
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from patchlens.sources.base import Batch, Plan, RawMessage, SourceError

CHUNK = 8 << 20
_TAIL = 4096
# A separator is a "From " line at the start of the file or after an empty line. mboxrd and
# mboxo writers escape body lines that start with "From ", so this is safe; requiring the
# empty line as well keeps unescaped "From " lines of sloppy writers inside their message.
_SEP = re.compile(rb"(?:\A\r?\n?|\n\r?\n)(From [^\n]*\n)")
# Some writers (Patchew's export, for one) do not escape "From " in bodies, so a body line
# "From the TRM documents ..." after an empty line looks like a separator. Real From_ lines
# end with an asctime date; when a file's first line does, only such lines separate.
_DATED = (
    rb"From [^\n]*?[A-Z][a-z]{2} [A-Z][a-z]{2} +\d{1,2} \d{1,2}:\d\d(?::\d\d)?"
    rb"(?: [^\n]*?)? \d{4}[^\n]*\n"
)
_SEP_DATED = re.compile(rb"(?:\A\r?\n?|\n\r?\n)(" + _DATED + rb")")
_FIRST_DATED = re.compile(rb"\A\r?\n?" + _DATED)
_UNESCAPE = re.compile(rb"^>(>*From )", re.M)
_ASCTIME = re.compile(rb"(\w{3} \w{3} [ \d]\d \d\d:\d\d(?::\d\d)? \d{4})")


def open_maybe_compressed(path: Path) -> IO[bytes]:
    with path.open("rb") as f:
        magic = f.read(6)
    if magic[:2] == b"\x1f\x8b":
        return gzip.open(path, "rb")
    if magic[:6] == b"\xfd7zXZ\x00":
        return lzma.open(path, "rb")
    if magic[:3] == b"BZh":
        return bz2.open(path, "rb")
    return path.open("rb")


def _from_line_date(line: bytes) -> int | None:
    m = _ASCTIME.search(line)
    if not m:
        return None
    t = email.utils.parsedate_tz(m.group(1).decode("ascii", "replace"))
    if t is None:
        return None
    try:
        return int(email.utils.mktime_tz(t))
    except (OverflowError, ValueError):
        return None


def iter_mbox(stream: IO[bytes], start: int = 0) -> Iterator[tuple[int, int, bytes, int | None]]:
    """(offset, end offset, raw message, From_ line date) for each message from `start`.

    Offsets are in the uncompressed stream; `start` must be a message boundary.
    """
    if start:
        _skip(stream, start)
    buf = b""
    base = start  # offset of buf[0]
    eof = False
    sep: re.Pattern[bytes] | None = None
    while not eof:
        chunk = stream.read(CHUNK)
        eof = not chunk
        buf += chunk
        if sep is None:
            sep = _SEP_DATED if _FIRST_DATED.match(buf.lstrip(b"\r\n")) else _SEP
        seps = list(sep.finditer(buf))
        # Keep the last separator's message in the buffer until it is known to be complete.
        limit = len(seps) if eof else len(seps) - 1
        for i in range(limit):
            m = seps[i]
            msg_start = m.start(1)
            msg_end = seps[i + 1].start(1) if i + 1 < len(seps) else len(buf)
            body = buf[m.end(1) : msg_end]
            if body.endswith(b"\n\n"):
                body = body[:-1]  # the empty line that precedes the next separator
            elif body.endswith(b"\r\n\r\n"):
                body = body[:-2]
            yield (
                base + msg_start,
                base + msg_end,
                _UNESCAPE.sub(rb"\1", body),
                _from_line_date(m.group(1)),
            )
        if not eof and seps:
            cut = seps[-1].start(1) if len(seps) >= 1 else 0
            # Back up to include the "\n\n" that makes the kept separator recognisable.
            cut = max(0, cut - 2)
            base += cut
            buf = buf[cut:]
        elif not seps and buf and eof and base == start:
            # No separator at all: not an mbox.
            return


def _skip(stream: IO[bytes], n: int) -> None:
    try:
        stream.seek(n)
        return
    except (OSError, ValueError):
        pass
    while n > 0:
        got = stream.read(min(n, CHUNK))
        if not got:
            break
        n -= len(got)


def _digest(path: Path, start: int, length: int) -> str:
    with open_maybe_compressed(path) as f:
        _skip(f, start)
        return hashlib.sha1(f.read(length)).hexdigest()


class MboxSource:
    def __init__(self, location: str, fmt: str = "mbox") -> None:
        self.location = location
        self.path = Path(location)
        self.format = fmt

    def _resume_offset(self, cursor: dict[str, Any] | None) -> tuple[int, list[str]]:
        if not cursor:
            return 0, []
        st = self.path.stat()
        if cursor.get("file_size") == st.st_size and cursor.get("mtime") == st.st_mtime_ns:
            return -1, []  # untouched since the last run
        offset = int(cursor.get("offset", 0))
        if offset and cursor.get("tail") == _digest(
            self.path, max(0, offset - _TAIL), min(offset, _TAIL)
        ):
            return offset, []
        return 0, [f"{self.location}: changed before the last offset read; reading it all again"]

    def plan(self, cursor: dict[str, Any] | None, batch_size: int) -> Plan:
        if not self.path.is_file():
            raise SourceError(f"{self.location}: not a file")
        start, notes = self._resume_offset(cursor)
        st = self.path.stat()
        if start < 0:
            return Plan(total=0, batches=iter(()), notes=notes)
        return Plan(total=None, batches=self._batches(start, batch_size, st), notes=notes)

    def _batches(self, start: int, batch_size: int, st: Any) -> Iterator[Batch]:
        batch: list[RawMessage] = []
        end = start
        found = False
        with open_maybe_compressed(self.path) as f:
            try:
                for off, end, raw, when in iter_mbox(f, start):
                    found = True
                    batch.append(RawMessage(raw, str(off), when))
                    if len(batch) >= batch_size:
                        yield Batch(batch, self._cursor(end, None))
                        batch = []
            except (OSError, EOFError, lzma.LZMAError) as e:
                raise SourceError(f"{self.location}: cannot read: {e}") from e
        if not found and start == 0 and st.st_size > 0:
            raise SourceError(f"{self.location}: no mbox 'From ' separator found; not an mbox")
        yield Batch(batch, self._cursor(end, st))

    def _cursor(self, offset: int, st: Any) -> dict[str, Any]:
        cur: dict[str, Any] = {
            "offset": offset,
            "tail": _digest(self.path, max(0, offset - _TAIL), min(offset, _TAIL)),
        }
        if st is not None:
            cur["file_size"] = st.st_size
            cur["mtime"] = st.st_mtime_ns
        return cur
