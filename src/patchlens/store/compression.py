"""zstd compression of stored bytes and text, shared by the readers that compress in worker
threads or processes and by the store's column types.

A zstd (de)compressor object must not be used by two threads at once, so each thread gets
its own.
"""

from __future__ import annotations

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
    memory. Valid UTF-8 is stored as it is; other bytes take the text's round trip."""
    if not raw.isascii():
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            raw = raw.decode("utf-8", "surrogateescape").encode("utf-8", "surrogatepass")
    return Precompressed(_zc().compress(raw))


def decompress_text(data: bytes) -> str:
    return _zd().decompress(data).decode("utf-8", "surrogatepass")
