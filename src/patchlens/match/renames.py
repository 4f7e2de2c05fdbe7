"""Earlier names of a commit's files, from the renames git recorded before it.

A patch posted against `tools/libxl/x.c` and committed after the directory moved to
`tools/libs/light/` touches `tools/libs/light/x.c`: its patch-id differs and it shares no path
with its posting, so the subject and diff layers, which need a file in common, would miss it.
`git log -M` stores each rename as `commit_files.old_path`; from those, every path a commit
touches gets the names it had before, each with the date of the (earliest) rename on the way,
so that the matcher can accept an old name only for a posting sent before that rename.

A directory moved as a whole (two or more files of one commit renamed from one directory to
another with the rest of their path unchanged) also renames files that did not exist yet when
it moved: a posting may add `tools/libxl/new.c`, committed as `tools/libs/light/new.c`.
Pure functions; the store is read by `match.stage.load`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

MAX_DEPTH = 4  # renames followed back on one path (a -> b -> c ...)


@dataclass(slots=True)
class Renames:
    """Renames by new name, and directory moves by new prefix, each with its date."""

    files: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    dirs: list[tuple[int, str, str]] = field(default_factory=list)  # (date, old/, new/)

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[int, int, str, str]]) -> Renames:
        """From (commit pk, committer date, path, old path) of renamed files."""
        out = cls()
        per_commit: dict[tuple[int, int], list[tuple[str, str]]] = {}
        for pk, date, new, old in rows:
            if not old or old == new:
                continue
            out.files.setdefault(new, []).append((date, old))
            per_commit.setdefault((pk, date), []).append((old, new))
        for (_pk, date), pairs in per_commit.items():
            moves: dict[tuple[str, str], int] = {}
            for old, new in pairs:
                d = _dir_move(old, new)
                if d:
                    moves[d] = moves.get(d, 0) + 1
            out.dirs.extend((date, o, n) for (o, n), k in moves.items() if k >= 2)
        return out

    def aliases(self, path: str, since: int, until: int) -> dict[str, int]:
        """Earlier names of `path` through renames dated in [since, until]: name -> the date
        of the earliest rename on the way from it (a posting using that name must predate
        it)."""
        found: dict[str, int] = {}
        todo = [(path, until, 0)]
        while todo:
            name, last, depth = todo.pop()
            if depth >= MAX_DEPTH:
                continue
            earlier = [(d, old) for d, old in self.files.get(name, ()) if since <= d <= last]
            earlier += [
                (d, o + name[len(n) :])
                for d, o, n in self.dirs
                if since <= d <= last and name.startswith(n)
            ]
            for d, old in earlier:
                if old == path or found.get(old, -1) >= d:
                    continue
                found[old] = d
                todo.append((old, d, depth + 1))
        return found


def _dir_move(old: str, new: str) -> tuple[str, str] | None:
    """("a/b/", "c/") for "a/b/x/y.c" -> "c/x/y.c": the directories that differ, when the
    rest of the path (at least the file name) is the same."""
    o, n = old.split("/"), new.split("/")
    k = 0
    while k < min(len(o), len(n)) - 1 and o[-1 - k] == n[-1 - k]:
        k += 1
    if k == 0 or o[-1] != n[-1]:
        return None
    op, np_ = o[: len(o) - k], n[: len(n) - k]
    if not op or not np_:
        return None
    return "/".join(op) + "/", "/".join(np_) + "/"


def commit_aliases(
    files: Iterable[str], own: Iterable[tuple[str, str]], renames: Renames, date: int, window: int
) -> dict[str, int]:
    """Every earlier name of a commit's files (its own renames included, dated at the
    commit), within `window` seconds before it."""
    out: dict[str, int] = {}
    for old, _new in own:
        out[old] = date
    for f in files:
        for name, d in renames.aliases(f, date - window, date).items():
            if name not in files and (name not in out or d < out[name]):
                out[name] = d
    return out
