"""Whether a patch without a commit of its own went in inside a larger commit of its author.

The matcher links a commit to the one posting it is: the same diff, the same subject, or
enough of the same lines (a Dice coefficient, symmetric, `mail/fingerprint.similarity`).
A patch its author later folded into a larger change is none of these against the commit
that carries it: "remove useless TST_ERR assignment" squashed into "Convert to new API",
"fix typos" into "syscalls: Fix typo", a v1 re-titled and re-sent in another series ("mem:
Convert shmt03 to new API" as "mem: shmt03: Convert to new API"). The commit is linked to
that later posting, and the patch's own series, with no link, read abandoned although its
change is in the repository.

Containment is the question there, not similarity: how much of the patch's changed lines
(added and removed, each with its sign, so a revert does not count) the commit holds.
Asked only of the author's own commit, committed after the patch was posted and within
the subject window, touching every file the patch touches, and linked to another series'
posting (queries/evidence.py `went_in_elsewhere`), so that a colleague's independent work
never merges someone's patch, and a few common lines alone are not enough (`MIN_LINES`).
Measured on LTP and EROFS: docs/METRICS.md, "went in through another series". Pure.
"""

from __future__ import annotations

from collections.abc import Collection

from patchlens.mail.diff import _header_path, unquote_path
from patchlens.mail.fingerprint import changed_lines
from patchlens.match.matcher import SUBJECT_WINDOW

# The share of a patch's changed lines the commit must hold: a patch revised on review
# keeps most of its lines, a different change by the same author shares few.
INSIDE_SHARE = 0.8
# And of its added lines, when it adds any: a commit deleting the file or block a patch
# edits holds every line the patch removes and none it adds (LTP's "sched: Remove
# process.c" against two patches editing process.c). Rewrites into a new API, re-sent and
# revised, keep every removed line and 50-60% of the added ones.
ADDED_SHARE = 0.5
# Fewer changed lines than this say too little (a one-line fix recurs; "#include" lines).
MIN_LINES = 3
INSIDE_WINDOW = SUBJECT_WINDOW
# The line hashes' share that makes a pair worth reading the diffs of: a cheap filter
# before `held_inside` decides on the text, not a bound of it (the hashes keep the lines a
# patch only re-aligns; a patch most of whose lines are such is missed, as it should be
# taken with care anyway).
HASH_SHARE = 0.5


def share_inside(patch: Collection[int], commit: Collection[int]) -> float:
    """The share of `patch`'s line hashes that `commit` holds (0 for an empty patch)."""
    if not patch:
        return 0.0
    held = commit if isinstance(commit, (set, frozenset)) else frozenset(commit)
    return sum(1 for h in patch if h in held) / len(patch)


def signed_lines(diff: str) -> tuple[set[str], set[str]]:
    """(added, removed) lines of a diff, white space removed (`changed_lines`)."""
    added: set[str] = set()
    removed: set[str] = set()
    for line in changed_lines(diff):
        (added if line[0] == "+" else removed).add(line[1:])
    return added, removed


def deleted_files(diff: str) -> set[str]:
    """The files a commit's diff deletes (its "--- a/NAME" followed by "+++ /dev/null"), as
    git prints them (quoted when odd, ended by a tab when spaced: mail/diff.py)."""
    out: set[str] = set()
    before = ""
    for line in diff.split("\n"):
        if line.startswith("--- "):
            before = unquote_path(_header_path(line))
        elif line.startswith("+++ ") and _header_path(line) == "/dev/null" and before:
            out.add(before.removeprefix("a/"))
    return out


def held_inside(patch_diff: str, commit_diff: str, patch_files: Collection[str] = ()) -> bool:
    """Whether the commit's diff holds the patch's change. A line the patch both removes
    and adds (re-indented, re-aligned, moved: the same once white space is gone) is no
    change of its own: any later re-alignment of the same lines would hold it (EROFS: a
    usage text re-aligned by two unrelated commits). A patch that only removes lines (its
    files `patch_files`, as analysed) is held neither by a commit deleting one of its files,
    which removes every line of them, nor by one moving those lines elsewhere: only the
    commit's lines removed and not added again count."""
    added, removed = signed_lines(patch_diff)
    added, removed = added - removed, removed - added
    total = len(added) + len(removed)
    if total < MIN_LINES:
        return False
    c_added, c_removed = signed_lines(commit_diff)
    if not added:
        if deleted_files(commit_diff) & set(patch_files):
            return False
        c_removed = c_removed - c_added
    kept = len(added & c_added)
    if added and kept < ADDED_SHARE * len(added):
        return False
    return kept + len(removed & c_removed) >= INSIDE_SHARE * total


def may_be_inside(
    patch: Collection[int],
    patch_files: Collection[str],
    patch_date: int,
    commit: Collection[int],
    commit_files: Collection[str],
    commit_date: int,
) -> bool:
    """Whether the pair is worth reading the diffs of: enough lines, every file of the
    patch touched by the commit, committed after the patch and within the window, and
    `HASH_SHARE` of its line hashes held. The caller has checked that the author is the
    same and the commit is linked elsewhere."""
    return (
        len(patch) >= MIN_LINES
        and bool(patch_files)
        and 0 <= commit_date - patch_date <= INSIDE_WINDOW
        and set(patch_files) <= set(commit_files)
        and share_inside(patch, commit) >= HASH_SHARE
    )
