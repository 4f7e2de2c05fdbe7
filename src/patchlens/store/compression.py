"""zstd compression of stored bytes and text, shared by the readers that compress in worker
threads or processes and by the store's column types.

A zstd (de)compressor object must not be used by two threads at once, so each thread gets
its own.
"""

from __future__ import annotations

import codecs
import threading

import zstandard

_local = threading.local()


def _zc() -> zstandard.ZstdCompressor:
    c = getattr(_local, "zc", None)
    if c is None:
        c = _local.zc = zstandard.ZstdCompressor(level=3)
    return c


def _zd() -> zstandard.ZstdDecompressor:
    d = getattr(_local, "zd", None)
    if d is None:
        d = _local.zd = zstandard.ZstdDecompressor()
    return d


class Precompressed(bytes):
    """Bytes already compressed (by a worker): stored as they are."""


def compress(data: bytes) -> bytes:
    return _zc().compress(data)


def decompress(data: bytes) -> bytes:
    return _zd().decompress(data)


def compress_text(text: str) -> Precompressed:
    # surrogatepass: diffs read with surrogateescape keep their undecodable bytes.
    return Precompressed(_zc().compress(text.encode("utf-8", "surrogatepass")))


def compress_text_bytes(raw: bytes) -> Precompressed:
    """`compress_text` of `raw.decode("utf-8", "surrogateescape")`, without the text: a
    repository-reading worker has the diff as git's bytes, and decoding a 40 MB diff of
    translations to text (up to 4 bytes a character) only to encode it again cost time and
    memory. Valid UTF-8 is stored as it is; other bytes take the text's round trip. Both
    decode a piece at a time, so no text of the whole diff is ever made."""
    if not raw.isascii() and not _valid_utf8(raw):
        dec = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        view = memoryview(raw)
        out = bytearray()
        for i in range(0, len(raw), _PIECE):
            out += dec.decode(view[i : i + _PIECE]).encode("utf-8", "surrogatepass")
        out += dec.decode(b"", final=True).encode("utf-8", "surrogatepass")
        return Precompressed(_zc().compress(out))
    return Precompressed(_zc().compress(raw))


_PIECE = 1 << 20


def _valid_utf8(raw: bytes) -> bool:
    dec = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(raw)
    try:
        for i in range(0, len(raw), _PIECE):
            dec.decode(view[i : i + _PIECE])
        dec.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def decompress_text(data: bytes) -> str:
    return _zd().decompress(data).decode("utf-8", "surrogatepass")
