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
