"""Cost of hostile messages (issue 12): peak memory and time of parsing a large message nested
25 levels deep, and time of threading a long References chain and of finding diffs.

    .venv/bin/python bench/limits.py            # --size-mb 52 (the issue's message)

Peak memory is tracemalloc's peak during `parse_message`, also given as a multiple of the
message's size (the bound is `PEAK_MEMORY_FACTOR` in `patchlens/mail/limits.py`). To compare
with an older commit, run it against an exported copy (see README.md in this folder).
"""

from __future__ import annotations

import argparse
import base64
import time
import tracemalloc

from patchlens.mail import limits
from patchlens.mail.diff import split_diff
from patchlens.mail.parse import parse_message
from patchlens.review.threads import MessageRef, build_threads


def nested_message(size: int, depth: int) -> bytes:
    """About `size` bytes, `depth` multipart levels, a text part and a base64 part at each."""
    per = max(64, size // (2 * depth))
    text = (b"some text line of a long message body\n" * (per // 38 + 1))[:per]
    blob = base64.encodebytes(bytes(range(256)) * (per * 3 // 4 // 256 + 1))[:per]
    inner = b"Content-Type: text/plain\n\n" + text
    for level in range(depth - 1, -1, -1):
        b = f"bnd{level}z".encode()
        inner = (
            b'Content-Type: multipart/mixed; boundary="' + b + b'"\n\n'
            b"--" + b + b"\nContent-Type: text/plain\n\n" + text + b"\n"
            b"--" + b + b"\nContent-Type: application/octet-stream\n"
            b"Content-Transfer-Encoding: base64\n\n" + blob + b"\n"
            b"--" + b + b"\n" + inner + b"\n--" + b + b"--\n"
        )
    head = b"From: A <a@example.org>\nSubject: nested\nMessage-ID: <n@example.org>\n"
    return head + inner


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=float, default=52)
    ap.add_argument("--depth", type=int, default=25)
    args = ap.parse_args()

    raw = nested_message(int(args.size_mb * 1e6), args.depth)
    tracemalloc.start()
    t = time.perf_counter()
    parse_message(raw)
    elapsed = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(
        f"parse {len(raw) / 1e6:.1f} MB nested {args.depth} deep: peak {peak / 1e6:.0f} MB "
        f"({peak / len(raw):.2f}x, bound {limits.PEAK_MEMORY_FACTOR}x), {elapsed:.2f} s traced"
    )

    for n in (5_000, 10_000, 20_000):
        ids = tuple(f"r{i}@example.org" for i in range(n))
        t = time.perf_counter()
        build_threads([MessageRef(1, "m@example.org", ids[-1], ids, "Re: x", 1)])
        print(f"threads: {n} References {time.perf_counter() - t:.3f} s")

    one = "words\ndiff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n"
    t = time.perf_counter()
    split_diff(one * 16_000)
    print(f"split_diff: 16,000 diffs between text {time.perf_counter() - t:.3f} s")
    b85 = "zcmV-BAQmQ4xQ2fU1e2aaaaaaaaaaaaaaaaaaaaaaaaaa\n" * 20_000
    t = time.perf_counter()
    split_diff("diff --git a/f b/f\nGIT binary patch\nliteral 100\n" + b85)
    print(f"split_diff: 20,000-line GIT binary patch {time.perf_counter() - t:.3f} s")


if __name__ == "__main__":
    main()
