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
import zlib
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from patchlens.sources.base import Batch, Damage, Plan, RawMessage, SourceError

CHUNK = 8 << 20
_TAIL = 4096
# A separator is a "From " line at the start of the file or after an empty line. mboxrd and
# mboxo writers escape body lines that start with "From ", so this is safe; requiring the
# empty line as well keeps unescaped "From " lines of sloppy writers inside their message.
_SEP = re.compile(rb"\n\r?\n(From [^\n]*\n)")
# At the start of the buffer no empty line is needed. Kept apart from _SEP: with `\A|` in
# front, the regex engine tried every position of the buffer (13x slower on 30 MB).
_SEP_START = re.compile(rb"\A\r?\n?(From [^\n]*\n)")
# Some writers (Patchew's export, for one) do not escape "From " in bodies, so a body line
# "From the TRM documents ..." after an empty line looks like a separator. Real From_ lines
# end with an asctime date; when a file's first line does, only such lines separate.
_DATED = (
    rb"From [^\n]*?[A-Z][a-z]{2} [A-Z][a-z]{2} +\d{1,2} \d{1,2}:\d\d(?::\d\d)?"
    rb"(?: [^\n]*?)? \d{4}[^\n]*\n"
)
_SEP_DATED = re.compile(rb"\n\r?\n(" + _DATED + rb")")
_SEP_DATED_START = re.compile(rb"\A\r?\n?(" + _DATED + rb")")
_FIRST_DATED = re.compile(rb"\A\r?\n?" + _DATED)
_UNESCAPE = re.compile(rb"^>(>*From )", re.M)
_ASCTIME = re.compile(rb"(\w{3} \w{3} [ \d]\d \d\d:\d\d(?::\d\d)? \d{4})")


class DamageTolerantReader:
    """The uncompressed bytes of a plain, .gz, .xz or .bz2 file, as a stream that ends,
    instead of raising, where the data becomes unreadable (a file cut short, corrupt bytes,
    a read error): every byte before is returned (the decompressor is fed directly, so
    nothing decoded before the damage is dropped), `error` says why it ended there and
    `offset` counts the bytes returned."""

    _STEP = 1 << 16

    def __init__(self, path: Path) -> None:
        self._file = path.open("rb")
        magic = self._file.read(6)
        self._file.seek(0)
        self._kind = (
            "gz"
            if magic[:2] == b"\x1f\x8b"
            else "xz"
            if magic[:6] == b"\xfd7zXZ\x00"
            else "bz2"
            if magic[:3] == b"BZh"
            else "plain"
        )
        self._dec: Any = self._new_decoder()
        self._fed = False  # bytes given to the current decoder (a member begun)
        # Decoded bytes not yet returned, as pieces joined once per read(): appending to one
        # bytes object copied it whole at every 64 KiB step (quadratic in the read size).
        self._pieces: list[bytes] = []
        self._have = 0
        self._done = False
        self.error: str | None = None
        self.offset = 0

    def _new_decoder(self) -> Any:
        if self._kind == "gz":
            return zlib.decompressobj(31)
        if self._kind == "xz":
            return lzma.LZMADecompressor()
        if self._kind == "bz2":
            return bz2.BZ2Decompressor()
        return None

    def _fill(self) -> None:
        """Decode one more step of the file into `_pieces`, or end the stream."""
        try:
            raw = self._file.read(self._STEP)
        except OSError as e:
            self.error, self._done = f"read error: {e.strerror or e}", True
            return
        if self._dec is None:
            self._put(raw)
            self._done = not raw
            return
        if not raw:
            if self._fed and not self._dec.eof:
                self.error = "the compressed data ends before its end marker (file cut short)"
            self._done = True
            return
        try:
            while raw:
                self._fed = True
                self._put(self._dec.decompress(raw))
                if not self._dec.eof:
                    break
                # Concatenated members (gzip -c a >> b, pigz): go on with the next.
                raw = self._dec.unused_data
                self._dec, self._fed = self._new_decoder(), False
        except (zlib.error, lzma.LZMAError, OSError, EOFError) as e:
            self.error, self._done = f"corrupt compressed data: {e}", True

    def _put(self, data: bytes) -> None:
        if data:
            self._pieces.append(data)
            self._have += len(data)

    def read(self, n: int = -1) -> bytes:
        while (n < 0 or self._have < n) and not self._done:
            self._fill()
        pending = b"".join(self._pieces) if len(self._pieces) != 1 else self._pieces[0]
        if n < 0 or n >= len(pending):
            data, rest = pending, b""
        else:
            data, rest = pending[:n], pending[n:]
        self._pieces, self._have = ([rest], len(rest)) if rest else ([], 0)
        self.offset += len(data)
        return data

    def seek(self, n: int) -> int:
        """Only plain files seek; a compressed one raises, and is read up to `n` instead."""
        if self._dec is not None:
            raise OSError("not seekable: compressed")
        self._file.seek(n)
        self._pieces, self._have, self._done, self.offset = [], 0, False, n
        return n

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> DamageTolerantReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _TailKeeper:
    """A stream that remembers the bytes it last returned, so that the cursor's tail digest
    (the _TAIL bytes before an offset) is taken from what was just read: taking it from the
    file decompressed it again from its start at every batch (quadratic on a .gz file).
    It keeps the chunks that end within `keep` bytes of the current offset."""

    def __init__(self, stream: DamageTolerantReader, keep: int = 2 * CHUNK + _TAIL) -> None:
        self._stream = stream
        self._keep = keep
        self._chunks: deque[tuple[int, bytes]] = deque()  # (offset of data[0], data)
        self._pos = 0

    @property
    def error(self) -> str | None:
        return self._stream.error

    def seek(self, n: int) -> int:
        self._stream.seek(n)  # raises on a compressed file, as the reader does
        self._chunks.clear()
        self._pos = n
        return n

    def read(self, n: int = -1) -> bytes:
        data = self._stream.read(n)
        if data:
            self._chunks.append((self._pos, data))
            self._pos += len(data)
            while (
                self._chunks
                and sum(len(d) for _, d in self._chunks) - len(self._chunks[0][1]) >= self._keep
            ):
                self._chunks.popleft()
        return data

    def tail(self, end: int) -> bytes | None:
        """The bytes [end - _TAIL, end) of the stream, or None when they are not kept."""
        start = max(0, end - _TAIL)
        if not self._chunks or self._chunks[0][0] > start or end > self._pos:
            return None
        parts = []
        for at, data in self._chunks:
            lo, hi = max(start, at), min(end, at + len(data))
            if lo < hi:
                parts.append(data[lo - at : hi - at])
        return b"".join(parts)


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
    sep_start: re.Pattern[bytes] | None = None
    while not eof:
        chunk = stream.read(CHUNK)
        eof = not chunk
        buf += chunk
        if sep is None or sep_start is None:
            dated = _FIRST_DATED.match(buf.lstrip(b"\r\n"))
            sep, sep_start = (_SEP_DATED, _SEP_DATED_START) if dated else (_SEP, _SEP_START)
        seps = _separators(buf, sep, sep_start)
        # Keep the last separator's message in the buffer until it is known to be complete;
        # a stream that ended on damage (DamageTolerantReader.error) cut the last one short.
        cut_short = eof and getattr(stream, "error", None) is not None
        limit = len(seps) if eof and not cut_short else len(seps) - 1
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
                _UNESCAPE.sub(rb"\1", body) if b">From " in body else body,
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


def _separators(
    buf: bytes, sep: re.Pattern[bytes], sep_start: re.Pattern[bytes]
) -> list[re.Match[bytes]]:
    """The separator matches of `buf`, as one finditer of `(?:\\A...|\\n\\r?\\n)From ...`
    would find them: one at the very start, then those that begin after it."""
    first = sep_start.match(buf)
    if first is None:
        return list(sep.finditer(buf))
    return [first, *sep.finditer(buf, first.end())]


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
    with DamageTolerantReader(path) as f:
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
        damage: list[Damage] = []
        end = start
        found = False
        with DamageTolerantReader(self.path) as reader:
            kept = _TailKeeper(reader)
            try:
                for off, end, raw, when in iter_mbox(kept, start):  # type: ignore[arg-type]
                    found = True
                    parts = split_run_together(raw)
                    if len(parts) > 1:
                        damage.append(
                            Damage(
                                f"{self.location}: offset {off}",
                                f"{len(parts)} messages run together without 'From ' "
                                "separators (one header block with a Message-ID each); "
                                "split and stored as separate messages",
                            )
                        )
                    for at, part in parts:
                        pos = str(off) if at == 0 else f"{off}+{at}"
                        batch.append(RawMessage(part, pos, when))
                    if len(batch) >= batch_size:
                        yield Batch(batch, self._cursor(end, None, kept), damage)
                        batch, damage = [], []
            except OSError as e:
                raise SourceError(f"{self.location}: cannot read: {e}") from e
        if reader.error is not None:
            # Everything before the damage is stored; the message it cut short (from `end`,
            # the end of the last complete one) is not. The cursor stops there, without the
            # file's size and time, so every update reads from there again and reports it
            # again until the file is whole.
            damage.append(
                Damage(
                    f"{self.location}: offset {end}",
                    f"the file ({st.st_size:,} bytes) cannot be read past this message:"
                    f" {reader.error}; the message at uncompressed offset {end} is cut short"
                    " and is not stored",
                )
            )
            yield Batch(batch, self._cursor(end, None, kept), damage)
            return
        if not found and start == 0 and st.st_size > 0:
            raise SourceError(f"{self.location}: no mbox 'From ' separator found; not an mbox")
        yield Batch(batch, self._cursor(end, st, kept), damage)

    def _cursor(self, offset: int, st: Any, kept: _TailKeeper) -> dict[str, Any]:
        tail = kept.tail(offset)
        cur: dict[str, Any] = {
            "offset": offset,
            "tail": hashlib.sha1(tail).hexdigest()
            if tail is not None
            else _digest(self.path, max(0, offset - _TAIL), min(offset, _TAIL)),
        }
        if st is not None:
            cur["file_size"] = st.st_size
            cur["mtime"] = st.st_mtime_ns
        return cur


# A header block inside a message's body: after an empty line, lines of `Name: value` (with
# continuation lines) that hold a Message-ID, a From and a Date or Subject. A quoted or
# forwarded message rarely has all three at the start of a line; a message whose "From "
# separator was lost always does.
_HEADER_LINE = re.compile(rb"[!-9;-~]+:[^\n]*\n(?:[ \t][^\n]*\n)*")
_BLOCK_START = re.compile(rb"\n\r?\n(?=(?:[!-9;-~]+:[^\n]*\n(?:[ \t][^\n]*\n)*){3})")


def _is_header_block(raw: bytes, pos: int) -> bool:
    names = set()
    while m := _HEADER_LINE.match(raw, pos):
        names.add(m.group(0).split(b":", 1)[0].lower())
        pos = m.end()
    ends = raw[pos : pos + 1] == b"\n" or raw[pos : pos + 2] == b"\r\n" or pos == len(raw)
    return ends and {b"message-id", b"from"} <= names and bool(names & {b"date", b"subject"})


def split_run_together(raw: bytes) -> list[tuple[int, bytes]]:
    """(offset, message) for each message in `raw`: one per header block when several ran
    together (their "From " separators lost); [(0, raw)] otherwise. Pure: the reader
    reports every split."""
    head_end = raw.find(b"\n\n")
    if head_end < 0 or not re.search(rb"(?im)^message-id:", raw[: head_end + 1]):
        return [(0, raw)]
    cuts = [
        m.start() + 1
        for m in _BLOCK_START.finditer(raw, head_end)
        if _is_header_block(raw, m.end())
    ]
    if not cuts:
        return [(0, raw)]
    parts, prev = [], 0
    for c in cuts:
        parts.append((prev, raw[prev:c]))
        prev = c + (2 if raw[c : c + 2] == b"\r\n" else 1)
    parts.append((prev, raw[prev:]))
    return parts
