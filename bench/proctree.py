"""The process tree of a benchmarked command, read from /proc: the benches sample the memory
and CPU of a command's whole tree (parse workers and git included), not only its first
process."""

from __future__ import annotations

import os
from pathlib import Path


def descendants(root: int) -> list[int]:
    """Every live process under `root` (by parent pid, read from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        kids = children.get(todo.pop(), [])
        out.extend(kids)
        todo.extend(kids)
    return out


def pss_mb(pid: int) -> float:
    """Proportional set size in MB of a live process (0 if it is gone or unreadable): its
    private pages plus its share of the pages it shares (forked workers' copy-on-write pages,
    libraries, git's mapped packs). Summed over a tree, it counts each page once, where the
    sum of RSS counts a shared page in every process that maps it."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0.0
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return 0.0
