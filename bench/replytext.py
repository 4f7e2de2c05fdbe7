#!/usr/bin/env python3
"""Benchmark: reading replies (`mail.replytext.analyze_reply`) over every reply of the EROFS
archive, in replies per second (tests/test_replytext.py checks what it finds; this measures
how fast). The replies are parsed first, so only the reply analysis is timed; best and median
of --repeat rounds, with a baseline in the same round (splitting the same bodies into lines)
since the machines are shared.

    .venv/bin/python bench/replytext.py [--archive BUNDLE] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from patchlens.mail.parse import parse_message
from patchlens.mail.replytext import analyze_reply

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "erofs"


def _replies(gitdir: Path) -> list[str]:
    log = subprocess.run(
        ["git", "-C", str(gitdir), "log", "--all", "--format=%H%x00%s"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    shas = [
        s
        for s, _, subj in (ln.partition("\0") for ln in log.splitlines())
        if subj[:3].lower() == "re:"
    ]
    batch = subprocess.run(
        ["git", "-C", str(gitdir), "cat-file", "--batch"],
        input="".join(f"{s}:m\n" for s in shas).encode(),
        capture_output=True,
        check=True,
    ).stdout
    bodies, pos = [], 0
    while pos < len(batch):
        header_end = batch.index(b"\n", pos)
        size = int(batch[pos:header_end].split()[2])
        raw = batch[header_end + 1 : header_end + 1 + size]
        pos = header_end + 1 + size + 1
        bodies.append(parse_message(raw).body)
    return bodies


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archive", type=Path, default=DEFAULT / "linux-erofs-archive.0.bundle")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        gitdir = Path(tmp) / "a.git"
        subprocess.run(["git", "clone", "-q", "--bare", str(args.archive), str(gitdir)], check=True)
        bodies = _replies(gitdir)
    rates, base = [], []
    for _ in range(args.repeat):
        t = time.perf_counter()
        for b in bodies:
            analyze_reply(b)
        rates.append(len(bodies) / (time.perf_counter() - t))
        t = time.perf_counter()
        for b in bodies:
            b.splitlines()
        base.append(len(bodies) / (time.perf_counter() - t))
    print(f"{len(bodies)} replies")
    print(f"analyze_reply  best {max(rates):10,.0f}/s  median {statistics.median(rates):10,.0f}/s")
    print(f"splitlines     best {max(base):10,.0f}/s  median {statistics.median(base):10,.0f}/s")
    print(f"ratio (median) {statistics.median(rates) / statistics.median(base):.4f}")


if __name__ == "__main__":
    main()
