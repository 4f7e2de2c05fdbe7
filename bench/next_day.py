#!/usr/bin/env python3
"""Benchmark: one more day of mail on a store too big to rebuild with a day held back.

bench/new_day.py holds a day back, builds the store, then reads the day: right, but it costs
a cold build, which on a million-message store takes hours here. This script instead appends
to a public-inbox epoch registered in the store a copy of that list's last real day as the
next day: every Message-ID is replaced by a fresh one (and In-Reply-To/References with it),
every Date moved on by one day; bodies, senders and subjects stay as they were. Replies to
mail older than the copied day keep their references, so they land in existing threads, and
the senders' earlier series are there to link to: the day costs what a real one costs. Then
`patchlens update` is timed through the command line (a fresh process, as a user runs it),
followed by a no-op update.

Pick an epoch whose last mail is the store's newest: copies of an older epoch's last day are
dated inside the store's history (mail arriving years late), which relinks every version of
their people since then, a different and rarer case. Runs with different `--ago` copy
different real days; copying the same day again attaches more copies to the same threads.

    .venv/bin/python bench/next_day.py --db /work/corpus/all.db \\
        --epoch /work/corpus/lists/linux-gpio/git/0.git [--days 14] [--ago 0] [--messages N] \\
        [--same-week]

The copies move the data's end by `--days` (whatever `--ago`), often into another week: the
timed update then refits the time-to-merge model, as the first update of every week does
(docs/PREDICTION.md); `--same-week` has an untimed update take that refit first.

The epoch's branch keeps the appended commits (the store has read them); the previous tip is
printed, to undo both with `git update-ref` and a store copy. Never run it on an archive you
did not make for benchmarking.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path

from new_day import _cli as cli  # the same fresh `patchlens` process new_day.py times
from userenv import user_environment  # bench/

DAY = 86400
BENCH_SUBJECT = "bench: next day"
ID = re.compile(rb"<([^<>\s]+)>")
ID_HEADERS = (b"message-id", b"in-reply-to", b"references")


def _git(repo: Path, *args: str, data: bytes | None = None) -> bytes:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, input=data
    ).stdout


def last_day(epoch: Path, days: int, ago: int = 0) -> tuple[str, list[bytes]]:
    """The epoch's branch tip and the raw messages of its last `days` days (by message date,
    capped at the commit time, as bench/scale.py's hold-back does), oldest first, copies
    appended by earlier runs left out; with `ago`, the `days` days ending `ago` days before
    its last real message."""
    tip = _git(epoch, "rev-parse", "HEAD").decode().strip()
    log = _git(epoch, "log", "--format=%H %at %ct %s", "-n", "200000", tip).decode().split("\n")
    newest: int | None = None
    shas = []
    for line in filter(None, log):
        sha, at, ct, *subject = line.split()
        if " ".join(subject) == BENCH_SUBJECT:
            continue
        when = min(int(at), int(ct))
        newest = when if newest is None else newest
        if when > newest - ago * DAY:
            continue
        if when < newest - (ago + days) * DAY:
            break
        shas.append(sha)
    out = []
    for sha in reversed(shas):
        try:
            out.append(_git(epoch, "cat-file", "blob", f"{sha}:m"))
        except subprocess.CalledProcessError:  # a deletion commit ("d"), or none
            continue
    return tip, out


def rewrite(raw: bytes, ids: dict[bytes, bytes], shift: int) -> bytes:
    """The message with its ids mapped through `ids` and its Date moved on by `shift` s."""
    head, sep, body = raw.partition(b"\n\n")
    lines = head.split(b"\n")
    current = b""
    for i, line in enumerate(lines):
        if line[:1] not in (b" ", b"\t"):
            current = line.split(b":", 1)[0].strip().lower()
            if current == b"date":
                try:
                    when = parsedate_to_datetime(line.split(b":", 1)[1].strip().decode())
                    stamp = int(when.timestamp()) + shift
                    moved = when.fromtimestamp(stamp, when.tzinfo)
                    lines[i] = b"Date: " + format_datetime(moved).encode()
                except (ValueError, TypeError, IndexError, UnicodeDecodeError):
                    pass
                continue
        if current in ID_HEADERS:
            lines[i] = ID.sub(lambda m: b"<" + ids.get(m.group(1), m.group(1)) + b">", line)
    return b"\n".join(lines) + sep + body


def append(epoch: Path, messages: list[bytes], when: int) -> str:
    """Commit `messages` on the epoch's branch the way public-inbox does (a tree holding `m`),
    with git fast-import; returns the new tip."""
    branch = _git(epoch, "symbolic-ref", "HEAD").decode().strip()
    tip = _git(epoch, "rev-parse", branch).decode().strip()
    stream = []
    for n, raw in enumerate(messages):
        stream.append(b"blob\nmark :%d\ndata %d\n%s\n" % (2 * n + 1, len(raw), raw))
        msg = BENCH_SUBJECT.encode()
        stream.append(
            b"commit %s\nmark :%d\ncommitter bench <bench@localhost> %d +0000\n"
            b"data %d\n%s\n%sM 100644 :%d m\n\n"
            % (
                branch.encode(),
                2 * n + 2,
                when + n,
                len(msg),
                msg,
                b"from %s\n" % tip.encode() if n == 0 else b"",
                2 * n + 1,
            )
        )
    _git(epoch, "fast-import", "--quiet", data=b"".join(stream))
    return _git(epoch, "rev-parse", branch).decode().strip()


def _refit(log: str) -> list[str]:
    """The update's line saying it refitted the time-to-merge model (the week's first
    update does: seconds on a million messages), if any."""
    lines = (ln.strip() for ln in log.splitlines())
    return [ln for ln in lines if ln.startswith("prediction model: fitted")]


def main() -> None:
    user_environment()
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--epoch", type=Path, required=True, help="a public-inbox epoch in the store")
    ap.add_argument("--days", type=int, default=1)
    ap.add_argument(
        "--ago",
        type=int,
        default=0,
        help="copy the real day(s) ending this many days before the epoch's last real message "
        "instead of its last day(s): runs with 1, 2, 3... copy different real days, while "
        "copying the last day again and again attaches ever more copies to the same threads",
    )
    ap.add_argument(
        "--messages",
        type=int,
        default=0,
        help="copy only the last N messages of those days (a day of a chosen size: each run "
        "copies the day the run before appended, so without it days double)",
    )
    ap.add_argument(
        "--same-week",
        action="store_true",
        help="first copy the day's newest message alone and update (untimed): the weekly "
        "refit of the time-to-merge model happens then, at the week the day moves the data "
        "to, and the timed update is one of the six days of a week that do not refit",
    )
    ap.add_argument(
        "--append-only",
        action="store_true",
        help="append the copies and stop (to run the update under a profiler)",
    )
    args = ap.parse_args()
    tip, day = last_day(args.epoch, args.days, args.ago)
    if args.messages:
        day = day[-args.messages :]
    if not day:
        sys.exit(f"{args.epoch}: no message in the last {args.days} day(s)")
    tag = f"next{int(time.time())}".encode()
    ids: dict[bytes, bytes] = {}
    for raw in day:
        head = raw.partition(b"\n\n")[0]
        m = re.search(rb"(?im)^message-id:\s*<([^<>\s]+)>", head)
        if m:
            left, _, right = m.group(1).partition(b"@")
            ids[m.group(1)] = left + b"." + tag + b"@" + (right or b"bench")
    copies = [rewrite(raw, ids, (args.ago + args.days) * DAY) for raw in day]
    if args.same_week:
        # The newest copy, under an id of its own, read first: the data's end moves to where
        # the day takes it, and that update refits the model at its week.
        first = copies[-1].replace(b"." + tag + b"@", b"." + tag + b"w@")
        append(args.epoch, [first], int(time.time()))
        _wall, log = cli(args.db, "update")
        print("same week: " + " ".join(_refit(log) or ["the model was not refitted"]))
    new_tip = append(args.epoch, copies, int(time.time()))
    print(f"{args.epoch}: {len(copies)} messages appended (tip was {tip}, now {new_tip})")
    if args.append_only:
        return
    wall, log = cli(args.db, "update")
    noop, _ = cli(args.db, "update")
    print(f"next day update  {wall:7.2f} s  ({' '.join(_refit(log)) or 'no refit'})")
    print(f"no-op update     {noop:7.2f} s")
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.1f}")
    print("--- next day ---\n" + log[-3000:])


if __name__ == "__main__":
    main()
