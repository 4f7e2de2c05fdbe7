"""What changed between two versions of a series, patch by patch, as `git range-diff` shows
it. Pure.

Two steps. `pair` matches the patches of version N-1 with those of version N: equal
patch-ids first (the same change, perhaps rebased), then titles by similarity (rapidfuzz),
then what is left by the share of changed lines they have in common (at least half); what
stays unpaired was dropped or added. `interdiff` is the diff between two patches' diffs
after both are written the way `git range-diff` writes them (`normalize`): one `## path ##`
header per file, hunk headers without line numbers (`@@ path: context`), no index or
---/+++ lines. So a rebase that only moves line numbers shows no difference, as in
range-diff.

The work is bounded: a patch longer than MAX_PATCH_LINES (after normalising) is not diffed
(said so by `too_large`), and an interdiff keeps its first `limit` lines (`truncated`).

The alignment is a longest common subsequence of lines (rapidfuzz's Indel, bit-parallel in C),
as git's diff finds a shortest edit, where `difflib`'s matcher finds longest blocks first and
may show more lines changed than changed. It took the longest series' pages (20-40 versions,
hundreds of interdiffs) from up to 0.8 s to a fraction of that (docs/PERFORMANCE.md).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from rapidfuzz import fuzz
from rapidfuzz.distance import Indel

MAX_PATCH_LINES = 4000
CONTEXT = 3
TITLE_SIMILAR = 80.0  # rapidfuzz ratio (0-100) above which two titles name the same patch
BODY_SIMILAR = 0.5  # share of changed lines two patches must have in common to be paired
MAX_CROSS = 2500  # beyond this many (old, new) candidates, only the same position is tried

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+\d+(?:,\d+)? @@ ?(.*)$")
_GIT_HEADER = re.compile(r"^diff --git (?:a/)?(\S+) (?:b/)?(\S+)")
# First characters of lines that are never headers: context, or added/removed lines other
# than "--- "/"+++ " (which _SKIP drops).
_BODY_FIRST = frozenset(" \\")
_CHANGE_FIRST = frozenset("+-")
_FILE_LINES = ("--- ", "+++ ")
_SKIP = ("index ", "--- ", "+++ ", "similarity index", "dissimilarity index", "Binary files")


@dataclass(frozen=True, slots=True)
class Patch:
    """A patch of one version: its index in the version, title, patch-id and diff."""

    idx: int
    title: str
    patch_id: str | None
    diff: str


@dataclass(slots=True)
class Pair:
    """A patch of the older version and the one it became (either may be None: dropped or
    added)."""

    old: Patch | None
    new: Patch | None
    how: str = ""  # patch-id | title | diff | "" (unpaired)
    renamed: bool = False
    reordered: bool = False
    identical: bool = False
    lines: list[str] = field(default_factory=list)  # the interdiff, range-diff style
    truncated: bool = False
    too_large: bool = False


def normalize(diff: str) -> list[str]:
    """A diff as `git range-diff` compares it (see the module docstring)."""
    return list(_normalized(diff))


# A series page compares each version's diffs with the next one's and with the replies'
# quotes: the same diff is normalised again and again (6,096 times for 24 pages of the
# million-message store's longest series, 2.7 of their 6.1 s). Kept for the last few diffs.
@lru_cache(maxsize=128)
def _normalized(diff: str) -> tuple[str, ...]:
    return tuple(_normalize(diff))


@lru_cache(maxsize=128)
def _changed_sets(diff: str) -> tuple[frozenset[str], frozenset[str]]:
    """The squashed added and removed lines of a diff (`hunk_changed`, `commented_hunks`)."""
    norm = _normalized(diff)
    return (
        frozenset(_squash(x) for x in norm if x[:1] == "+"),
        frozenset(_squash(x) for x in norm if x[:1] == "-"),
    )


def _normalize(diff: str) -> list[str]:
    out: list[str] = []
    current = ""
    header: dict[str, str] = {}
    pending = False

    def flush() -> None:
        nonlocal pending
        if not pending:
            return
        old, new = header.get("old", current), header.get("new", current)
        if header.get("rename_from") and header.get("rename_to"):
            name = f"{header['rename_from']} => {header['rename_to']}"
        elif "new" in header.get("mode", ""):
            name = f"{current} (new)"
        elif "deleted" in header.get("mode", ""):
            name = f"{current} (deleted)"
        else:
            name = new if new != "/dev/null" else old
        if header.get("old_mode") and header.get("new_mode"):
            name += f" (mode change {header['old_mode']} => {header['new_mode']})"
        if out:
            out.append("")  # range-diff sets each file apart with an empty line
        out.append(f" ## {name} ##")
        pending = False

    for line in diff.splitlines():
        # Most lines are +/-/context: test the first character before any pattern.
        first = line[:1]
        if not pending and (
            first in _BODY_FIRST or (first in _CHANGE_FIRST and not line.startswith(_FILE_LINES))
        ):
            out.append(line)
            continue
        m = _GIT_HEADER.match(line) if first == "d" else None
        if m:
            flush()
            current = m.group(2)
            header = {}
            pending = True
            continue
        if pending:
            if line.startswith("new file mode"):
                header["mode"] = "new"
            elif line.startswith("deleted file mode"):
                header["mode"] = "deleted"
            elif line.startswith("old mode "):
                header["old_mode"] = line[len("old mode ") :].strip()
            elif line.startswith("new mode "):
                header["new_mode"] = line[len("new mode ") :].strip()
            elif line.startswith("rename from "):
                header["rename_from"] = line[len("rename from ") :]
            elif line.startswith("rename to "):
                header["rename_to"] = line[len("rename to ") :]
            if not line.startswith("@@"):
                continue
            flush()
        h = _HUNK.match(line) if first == "@" else None
        if h:
            rest = h.group(1)
            out.append(f"@@ {current}: {rest}" if rest else "@@")
            continue
        if line.startswith(_SKIP) or line.startswith("diff "):
            continue
        out.append(line)
    flush()
    return out


def changed_lines(norm: Sequence[str]) -> list[str]:
    """The added and removed lines of a normalised diff."""
    return [x for x in norm if x[:1] in "+-"]


def _opcodes(old: Sequence[str], new: Sequence[str]) -> list[tuple[str, int, int, int, int]]:
    """The alignment of `old` with `new` as (tag, i1, i2, j1, j2) blocks, "equal" or
    "replace" (lines removed then added; either side may be empty), alternating. rapidfuzz
    gives single deletes and inserts in the order it found them; a run of them is one block,
    so removed lines come before added ones, as in a unified diff."""
    # rapidfuzz compares a list's items by hash (a string of one character by its code
    # point): lines that hash alike ("" and "\x00", or a collision built on purpose) would
    # read as equal. Each distinct line gets its own small number first, so equal numbers
    # are equal lines.
    ids: dict[str, int] = {}
    a = [ids.setdefault(x, len(ids)) for x in old]
    b = [ids.setdefault(x, len(ids)) for x in new]
    out: list[tuple[str, int, int, int, int]] = []
    for op in Indel.opcodes(a, b):
        tag = "equal" if op.tag == "equal" else "replace"
        if out and out[-1][0] == tag == "replace":
            out[-1] = (tag, out[-1][1], op.src_end, out[-1][3], op.dest_end)
        else:
            out.append((tag, op.src_start, op.src_end, op.dest_start, op.dest_end))
    return out


def _grouped(
    codes: list[tuple[str, int, int, int, int]], n: int
) -> list[list[tuple[str, int, int, int, int]]]:
    """The blocks cut into hunks with `n` lines of context around each change, as a unified
    diff groups them (the grouping of difflib's `get_grouped_opcodes`)."""
    if not any(c[0] != "equal" for c in codes):
        return []
    codes = list(codes)
    tag, i1, i2, j1, j2 = codes[0]
    if tag == "equal":
        codes[0] = (tag, max(i1, i2 - n), i2, max(j1, j2 - n), j2)
    tag, i1, i2, j1, j2 = codes[-1]
    if tag == "equal":
        codes[-1] = (tag, i1, min(i2, i1 + n), j1, min(j2, j1 + n))
    groups: list[list[tuple[str, int, int, int, int]]] = []
    group: list[tuple[str, int, int, int, int]] = []
    for tag, i1, i2, j1, j2 in codes:
        if tag == "equal" and i2 - i1 > 2 * n:
            group.append((tag, i1, min(i2, i1 + n), j1, min(j2, j1 + n)))
            groups.append(group)
            group = []
            i1, j1 = max(i1, i2 - n), max(j1, j2 - n)
        group.append((tag, i1, i2, j1, j2))
    if group and not (len(group) == 1 and group[0][0] == "equal"):
        groups.append(group)
    return groups


def _span(start: int, end: int) -> str:
    """A hunk header's range, as git writes it: the first line (1-based) and the count; an
    empty side names the line it comes after (0 before the first)."""
    return f"{start + 1 if end > start else start},{end - start}"


def interdiff(old: Sequence[str], new: Sequence[str], limit: int) -> tuple[list[str], bool]:
    """The unified diff (CONTEXT lines, no file headers) from normalised `old` to `new`,
    at most `limit` lines; and whether it was cut. Empty when they are equal."""
    out: list[str] = []
    for group in _grouped(_opcodes(old, new), CONTEXT):
        a0, a1 = group[0][1], group[-1][2]
        b0, b1 = group[0][3], group[-1][4]
        out.append(f"@@ -{_span(a0, a1)} +{_span(b0, b1)} @@")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out.extend(" " + x for x in old[i1:i2])
                continue
            out.extend("-" + x for x in old[i1:i2])
            out.extend("+" + x for x in new[j1:j2])
        if len(out) > limit:
            return out[:limit], True
    return out, False


def _title_key(title: str) -> str:
    return " ".join(title.casefold().split())


def pair(old: Sequence[Patch], new: Sequence[Patch]) -> list[Pair]:
    """The patches of two versions paired (see the module docstring), in the order of the
    new version with the dropped ones after; each pair marked renamed (its title changed) or
    reordered (it moved relative to the other paired patches)."""
    left = {p.idx: p for p in old}
    right = {p.idx: p for p in new}
    found: list[tuple[Patch, Patch, str]] = []

    def take(a: Patch, b: Patch, how: str) -> None:
        found.append((a, b, how))
        del left[a.idx], right[b.idx]

    by_pid: dict[str, list[Patch]] = {}
    for p in old:
        if p.patch_id:
            by_pid.setdefault(p.patch_id, []).append(p)
    for b in new:
        cands = [a for a in by_pid.get(b.patch_id or "", []) if a.idx in left]
        if b.patch_id and cands:
            take(min(cands, key=lambda a: abs(a.idx - b.idx)), b, "patch-id")
    scores = sorted(
        (-fuzz.ratio(_title_key(a.title), _title_key(b.title)), abs(a.idx - b.idx), a.idx, b.idx)
        for a in left.values()
        for b in right.values()
    )
    for neg, _dist, ai, bi in scores:
        if -neg < TITLE_SIMILAR:
            break
        if ai in left and bi in right:
            take(left[ai], right[bi], "title")
    # What is left: by the changed lines they share (as range-diff pairs by diff size), best
    # first, the same position winning ties; only the same position when there are many.
    changed = {("o", p.idx): Counter(changed_lines(normalize(p.diff))) for p in left.values()}
    changed |= {("n", p.idx): Counter(changed_lines(normalize(p.diff))) for p in right.values()}
    if len(left) * len(right) <= MAX_CROSS:
        cands = [(ai, bi) for ai in left for bi in right]
    else:
        cands = [(i, i) for i in left if i in right]
    shared = []
    for ai, bi in cands:
        a, b = changed[("o", ai)], changed[("n", bi)]
        if a and b:
            share = sum((a & b).values()) / max(sum(a.values()), sum(b.values()))
            if share >= BODY_SIMILAR:
                shared.append((-share, abs(ai - bi), ai, bi))
    for _share, _dist, ai, bi in sorted(shared):
        if ai in left and bi in right:
            take(left[ai], right[bi], "diff")
    moved = _moved([(a.idx, b.idx) for a, b, _h in found])
    pairs = [
        Pair(
            a,
            b,
            how,
            renamed=_title_key(a.title) != _title_key(b.title),
            reordered=(a.idx, b.idx) in moved,
        )
        for a, b, how in found
    ]
    pairs += [Pair(None, b) for b in right.values()]
    pairs.sort(key=lambda p: p.new.idx if p.new else 0)
    pairs += [Pair(a, None) for a in sorted(left.values(), key=lambda p: p.idx)]
    return pairs


def _moved(pairs: list[tuple[int, int]]) -> set[tuple[int, int]]:
    """The pairs outside a longest run whose order both versions agree on: the patches that
    moved (as range-diff would show them out of order)."""
    ordered = sorted(pairs)
    n = len(ordered)
    best = [1] * n
    prev = [-1] * n
    for i in range(n):
        for j in range(i):
            if ordered[j][1] < ordered[i][1] and best[j] + 1 > best[i]:
                best[i], prev[i] = best[j] + 1, j
    keep: set[tuple[int, int]] = set()
    if n:
        i = max(range(n), key=lambda k: best[k])
        while i >= 0:
            keep.add(ordered[i])
            i = prev[i]
    return set(ordered) - keep


def compare(
    old: Sequence[Patch], new: Sequence[Patch], limit: int, per_pair: int | None = None
) -> tuple[list[Pair], int]:
    """`pair` the versions and fill in each pair's interdiff, within a budget of `limit`
    lines over all pairs (and `per_pair` lines for one); returns the pairs and the lines
    left of the budget."""
    pairs = pair(old, new)
    for p in pairs:
        if p.old is None or p.new is None:
            continue
        a, b = _normalized(p.old.diff), _normalized(p.new.diff)
        if len(a) > MAX_PATCH_LINES or len(b) > MAX_PATCH_LINES:
            p.too_large = True
            continue
        if a == b:
            p.identical = True
            continue
        if limit <= 0:
            p.truncated = True
            continue
        p.lines, p.truncated = interdiff(a, b, min(limit, per_pair or limit))
        limit -= len(p.lines)
    return pairs, limit


# --- review rounds: was a commented hunk changed in the next version? -----------------------

_QUOTE = re.compile(r"^>[ \t]?(?!>)(.*)$")
HUNK_TAIL = 6  # the quoted lines just above a comment are what it speaks of


def _squash(line: str) -> str:
    return " ".join(line[1:].split())


def commented_hunks(reply_body: str, diff: str) -> list[list[str]]:
    """The hunks of `diff` a reply comments on: for each run of once-quoted lines followed by
    the sender's own text, its last HUNK_TAIL lines that are added or removed lines of
    `diff` (a reviewer quotes down to the lines they speak of, then writes). Runs that quote
    none of the patch's changed lines (prose, the commit message) are left out."""
    added, removed = _changed_sets(diff)
    changed = added | removed
    lines = reply_body.splitlines()
    out: list[list[str]] = []
    run: list[str] = []
    for line in lines:
        m = _QUOTE.match(line)
        if m:
            run.append(m.group(1))
            continue
        if line.startswith(">"):  # deeper quotes: someone else's words
            continue
        if not line.strip():
            continue
        if run and not line.rstrip().endswith("wrote:"):
            hunk = [x for x in run if x[:1] in "+-" and _squash(x) in changed][-HUNK_TAIL:]
            if hunk:
                out.append(hunk)
        run = []
    return out


def hunk_changed(hunk: list[str], new_diff: str | None) -> bool:
    """Whether a commented hunk of version N-1 reads differently in version N: one of its
    added lines is no longer added, or one of its removed lines no longer removed (white
    space aside). A patch that was dropped changed."""
    if new_diff is None:
        return True
    added, removed = _changed_sets(new_diff)
    return any(
        (_squash(x) not in added) if x[:1] == "+" else (_squash(x) not in removed) for x in hunk
    )
