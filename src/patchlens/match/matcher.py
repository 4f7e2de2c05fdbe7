"""Which commit each posted patch became: layers of evidence, strongest first.

1. pointer: the commit names the posting (Link: lore URL, Message-ID: trailer);
2. patch-id: the same `git patch-id --stable` as the posted diff;
3. subject: the same author and normalised subject, committed within a year of posting;
4. diff: commits touching the same files after the posting, compared by the changed lines
   (white space and context ignored), the subject a weaker signal.

"The same files" is up to a rename: a commit's files carry the names they had before the
renames git recorded (`match.renames`), and an old name counts for a posting sent before
that rename.

Each commit gets at most one posting and each posting at most one commit. Among postings
carrying the same change, the one whose author and subject agree with the commit's comes
first: the same diff posted by two people (a colleague's re-send, an independent identical
fix) is credited to the commit's author, and the others are recorded as `twins` in the
link's evidence. Then (v1 and v2 alike, a RESEND) the last one sent before the commit
wins; the earlier ones are superseded through the version chain, not merges of their own.

The same lines are not enough on their own: a revert is matched only to a revert of the
same commit, and a posting by someone else than the commit's author needs its subject and
a short time window (and, by diff, the same files) to agree, at a lower score. Reverts
of one commit posted a year apart and code moved twice have the same lines.
When another series' posting scores (nearly) as high, the link is kept but flagged as
ambiguous rather than silently picked. Candidates come from indexes (by patch-id, subject,
file), so the work grows with the number of commits, not with commits x postings.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from patchlens.mail.fingerprint import similarity
from patchlens.mail.subject import title_similarity

DAY = 86400
# Commits may predate their posting: maintainers post what they applied, clocks drift.
EARLY = 7 * DAY
SUBJECT_WINDOW = 400 * DAY
DIFF_WINDOW = 2 * 365 * DAY
# Chosen on the EROFS data: see docs/MATCHING.md for the sweep.
DIFF_THRESHOLD = 0.55
W_LINES, W_TITLE, W_AUTHOR = 0.6, 0.25, 0.15
AMBIGUITY_MARGIN = 0.05
MAX_FILE_CANDIDATES = 400
RANK = {"pointer": 4, "patch-id": 3, "subject": 2, "diff": 1}
# A posting by someone else than the commit's author is taken on the same diff only when
# the commit follows it within this window (a colleague's re-send, a maintainer applying a
# patch under another identity); a year later it is someone's independent change.
OTHER_AUTHOR_WINDOW = 60 * DAY
OTHER_AUTHOR_TITLE = 0.8  # the subject similarity a diff link by another author needs
OTHER_AUTHOR_PID_SCORE = 0.9  # patch-id by another author: weaker than a subject match


@dataclass(slots=True)
class Posting:
    pk: int
    message_id: str
    series_key: str
    version: int
    resend: bool
    author: str  # identity key
    date: int
    title: str  # normalised
    patch_id: str | None
    files: frozenset[str]
    # The diff's line hashes: a frozenset, or packed as stored (`fingerprint.unpack_packed`,
    # sorted and distinct, ~10x smaller): a full match holds every posting's at once.
    hashes: Collection[int]


@dataclass(slots=True)
class CommitInfo:
    pk: int
    repo_id: int
    author: str  # identity key
    date: int  # committer date
    title: str  # normalised subject
    patch_id: str | None
    files: frozenset[str]
    hashes: Collection[int]  # as Posting.hashes; made a set only while the commit is matched
    pointers: frozenset[str] = frozenset()
    # Earlier names of its files (renames git recorded before it): name -> rename date.
    aliases: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class Match:
    posting: int
    commit: int
    repo_id: int
    method: str
    score: float
    evidence: dict[str, object] = field(default_factory=dict)
    ambiguous: bool = False


_PREFIXES = re.compile(r"^(?:[\w./-]+:\s*)+")


@lru_cache(maxsize=1 << 18)
def core_title(title: str) -> str:
    """A title without its subsystem prefixes ("erofs-utils: lib: x" -> "x"): maintainers
    add or reword them when applying."""
    core = _PREFIXES.sub("", title)
    return core if len(core) >= 8 else title


_PREFIX_PARTS = re.compile(r"[^\s:/]+")


def prefixes_agree(a: str, b: str) -> bool:
    """Whether two titles' subsystem prefixes can name one change: either has none, or the
    last part of one's prefix is a part of the other's ("lib: x" and "erofs-utils: lib: x",
    "xfs: x" and "xfs/scrub: x"). Maintainers add or reword prefixes; they do not turn one
    test into another: LTP's "pread01: convert to new API" is not "pwrite01: convert to new
    API" by the same author, nor "syscalls/pread01" "syscalls/pwrite01". Pure."""
    pa, pb = _PREFIXES.match(a), _PREFIXES.match(b)
    if pa is None or pb is None:
        return True
    parts_a, parts_b = _PREFIX_PARTS.findall(pa.group(0)), _PREFIX_PARTS.findall(pb.group(0))
    return parts_a[-1] in parts_b or parts_b[-1] in parts_a


_REVERT = re.compile(r"^revert(?![a-z0-9])[\s:]*[\"'“]?(.*?)[\"'”]?$")


@lru_cache(maxsize=1 << 18)
def revert_target(title: str) -> str | None:
    """The reverted commit's (core) title when a normalised title is a revert, else None:
    `revert"erofs:fix x"` and `erofs:revert "fix x"` both give "fix x"."""
    m = _REVERT.match(title) or _REVERT.match(core_title(title))
    return core_title(m.group(1)) if m else None


def _revert_ok(c: CommitInfo, p: Posting) -> bool:
    """A revert only for a revert of the same commit; a change never for a revert."""
    a, b = revert_target(c.title), revert_target(p.title)
    return a == b


def _agreement(c: CommitInfo, p: Posting) -> tuple[bool, bool]:
    """(same author, same subject): which of the postings of one diff the commit is."""
    return (
        p.author == c.author,
        p.title == c.title or core_title(p.title) == core_title(c.title),
    )


class PostingIndex:
    """Postings by Message-ID, patch-id, title, core title and file. A file's postings are
    kept in date order so that a commit examines those of its window only (`in_window`)."""

    def __init__(self, postings: Iterable[Posting] = ()) -> None:
        self.by_pk: dict[int, Posting] = {}
        self.by_msgid: dict[str, Posting] = {}
        self.by_pid: dict[str, list[Posting]] = {}
        self.by_title: dict[str, list[Posting]] = {}
        self.by_core: dict[str, list[Posting]] = {}
        self.by_file: dict[str, list[Posting]] = {}
        self._dates: dict[str, list[int]] = {}
        self._unsorted: set[str] = set()
        for p in postings:
            self.add(p)

    def add(self, p: Posting) -> None:
        """Index one more posting (a second add of the same pk is ignored)."""
        if p.pk in self.by_pk:
            return
        self.by_pk[p.pk] = p
        self.by_msgid[p.message_id] = p
        if p.patch_id:
            self.by_pid.setdefault(p.patch_id, []).append(p)
        if p.title:
            self.by_title.setdefault(p.title, []).append(p)
            core = core_title(p.title)
            if core != p.title:
                self.by_core.setdefault(core, []).append(p)
        for f in p.files:
            self.by_file.setdefault(f, []).append(p)
            self._unsorted.add(f)

    def in_window(self, f: str, lo: int, hi: int) -> list[Posting]:
        """The postings touching `f` sent in [lo, hi], oldest first."""
        if f in self._unsorted:
            self.by_file[f].sort(key=lambda p: (p.date, p.pk))
            self._dates[f] = [p.date for p in self.by_file[f]]
            self._unsorted.discard(f)
        dates = self._dates.get(f)
        if not dates:
            return []
        return self.by_file[f][bisect_left(dates, lo) : bisect_right(dates, hi)]


def _preference(c: CommitInfo, p: Posting) -> tuple[bool, bool, int, int, int]:
    """Among equal candidates: the one whose author and subject agree with the commit's (the
    same diff posted by two people), then one posted before the commit, then the last one
    sent (the maintainer applies the latest re-send, or the second of a double send), then
    the highest version."""
    before = p.date <= c.date + DAY
    return (*_agreement(c, p), 1 if before else 0, p.date if before else -p.date, p.version)


def renamed_files(c: CommitInfo, p: Posting) -> list[str]:
    """The posting's paths that are earlier names of the commit's files, renamed after the
    posting was sent (git's renames between the two dates)."""
    return sorted(f for f in p.files - c.files if f in c.aliases and c.aliases[f] >= p.date - EARLY)


def _shares_file(c: CommitInfo, p: Posting) -> bool:
    """At least one file in common, up to a rename; true when either has no file list."""
    return bool(c.files & p.files or not (c.files and p.files) or renamed_files(c, p))


def _same_files(c: CommitInfo, p: Posting) -> bool:
    """The same set of files, up to renames."""
    renamed = renamed_files(c, p)
    moved_to = {g for g in c.files if g not in p.files}
    return (p.files - c.files) == set(renamed) and len(moved_to) <= len(renamed)


def _same_work(c: CommitInfo, p: Posting) -> bool:
    return (
        p.author == c.author
        and -EARLY <= c.date - p.date <= SUBJECT_WINDOW
        and _shares_file(c, p)
        and _revert_ok(c, p)
    )


def _with_renames(c: CommitInfo, p: Posting, ev: dict[str, object]) -> dict[str, object]:
    renamed = renamed_files(c, p)
    if renamed and not c.files & p.files:
        return {**ev, "renamed": renamed}
    return ev


def as_set(hashes: Collection[int]) -> frozenset[int]:
    """`hashes` as a set (packed hashes are distinct: the set has the same size)."""
    return hashes if isinstance(hashes, frozenset) else frozenset(hashes)


def diff_offer(
    c: CommitInfo, p: Posting, c_hashes: frozenset[int] | None = None
) -> tuple[float, dict[str, object]] | None:
    """(score, evidence) of the diff layer for one pair, None when it does not fit;
    `c_hashes` the commit's hashes as a set when the caller made it once for many pairs."""
    if not (c.files and c.hashes and p.hashes) or not -EARLY <= c.date - p.date <= DIFF_WINDOW:
        return None
    sim = similarity(p.hashes, as_set(c.hashes) if c_hashes is None else c_hashes)
    if sim < 0.2 or not _shares_file(c, p) or not _revert_ok(c, p):
        return None
    t = title_similarity(c.title, p.title)
    same = p.author == c.author
    # Shared lines alone are weak (reverts, code moved twice): another author's posting
    # needs the subject, the files and a short window to agree as well.
    if not same and not (
        t >= OTHER_AUTHOR_TITLE
        and -EARLY <= c.date - p.date <= OTHER_AUTHOR_WINDOW
        and _same_files(c, p)
    ):
        return None
    score = round(W_LINES * sim + W_TITLE * t + (W_AUTHOR if same else 0.0), 4)
    if score < DIFF_THRESHOLD:
        return None
    ev = {"lines": round(sim, 3), "title": round(t, 3), "same_author": same}
    return score, _with_renames(c, p, ev)


def pointer_contradicted(c: CommitInfo, p: Posting, idx: PostingIndex) -> bool:
    """Whether a posting the commit's pointer names is the wrong one: it agrees with the
    commit neither by diff nor by subject, and the commit's author posted the commit's very
    patch (its patch-id and its subject) as another message, sent with the named one
    (within a day of it) and before the commit: a sibling. A maintainer who applies two
    patches sent together can copy one's `Link:` into the other (LTP's "madvise11: Replace
    /etc/mtab with /proc/mounts" names its sibling "madvise11: Allow test to skip ..."); the
    pointer then yields to the patch-id. A posting of the commit's patch-id is in the
    commit's neighbourhood, so incremental matching still sees what matching everything
    does (stages/matchclosure.py). Pure."""
    if not c.patch_id or p.patch_id == c.patch_id or _agreement(c, p)[1]:
        return False
    return any(
        q.pk != p.pk
        and q.author == c.author
        and _agreement(c, q)[1]
        and abs(q.date - p.date) <= DAY
        and q.date <= c.date
        for q in idx.by_pid.get(c.patch_id, ())
    )


def may_be_candidate(
    c: CommitInfo,
    p: Posting,
    use_pointers: bool = True,
    c_hashes: frozenset[int] | None = None,
) -> bool:
    """Whether `p` can be among `c`'s candidates: every layer's test on the pair alone (the
    cap on the postings a commit examines by file can only remove it). A superset of
    `candidates`, used to close incremental matching over the pairs that can compete.
    `c_hashes`: the commit's hashes as a set, when the caller tests it against many postings
    (made from packed hashes otherwise, for each pair)."""
    if use_pointers and p.message_id in c.pointers:
        return True
    same_pid = c.patch_id and p.patch_id == c.patch_id and _revert_ok(c, p)
    if same_pid and (p.author == c.author or -EARLY <= c.date - p.date <= OTHER_AUTHOR_WINDOW):
        return True
    if p.title:
        core = core_title(c.title)
        same_title = p.title == c.title or p.title == core or core_title(p.title) == core
        if same_title and _same_work(c, p):
            return True
    return diff_offer(c, p, c_hashes) is not None


def candidates(
    c: CommitInfo, idx: PostingIndex, use_pointers: bool = True
) -> list[tuple[int, float, Posting, dict[str, object]]]:
    """(rank, score, posting, evidence) for every plausible posting of commit c."""
    out: dict[int, tuple[int, float, Posting, dict[str, object]]] = {}

    def offer(rank: int, score: float, p: Posting, ev: dict[str, object]) -> None:
        cur = out.get(p.pk)
        if cur is None or (rank, score) > (cur[0], cur[1]):
            out[p.pk] = (rank, score, p, ev)

    if use_pointers:
        for mid in c.pointers:
            p = idx.by_msgid.get(mid)
            if p is not None and not pointer_contradicted(c, p, idx):
                offer(RANK["pointer"], 1.0, p, {"message_id": mid})
    if c.patch_id:
        for p in idx.by_pid.get(c.patch_id, ()):
            if not _revert_ok(c, p):
                continue
            if p.author == c.author:
                offer(RANK["patch-id"], 0.98, p, {"patch_id": c.patch_id})
            elif -EARLY <= c.date - p.date <= OTHER_AUTHOR_WINDOW:
                # Someone else's posting of the same diff: a re-send for the author, or an
                # independent identical change; weaker, and never across a year.
                ev = {"patch_id": c.patch_id, "same_author": False}
                offer(RANK["patch-id"], OTHER_AUTHOR_PID_SCORE, p, ev)
    # The same subject counts only for a change to the same files: the same fix is often
    # posted for two trees (the kernel and erofs-utils, say) under one title.
    for p in idx.by_title.get(c.title, ()):
        if _same_work(c, p):
            offer(RANK["subject"], 0.9, p, _with_renames(c, p, {"author": c.author}))
    core = core_title(c.title)
    for p in (*idx.by_core.get(core, ()), *idx.by_title.get(core, ())):
        if _same_work(c, p) and prefixes_agree(c.title, p.title):
            ev = {"author": c.author, "subject": "without prefixes"}
            offer(RANK["subject"], 0.85, p, _with_renames(c, p, ev))
    if c.files and c.hashes:
        # Only postings of the diff window are examined (and counted against the cap), so
        # that what a commit's candidates are depends on the postings of its window alone:
        # incremental matching (stages/match.py) relies on it.
        lo, hi = c.date - DIFF_WINDOW, c.date + EARLY
        windows = {f: idx.in_window(f, lo, hi) for f in {*c.files, *c.aliases}}
        c_hashes = as_set(c.hashes)
        seen: set[int] = set()
        for f in sorted(windows, key=lambda f: (len(windows[f]), f)):
            for p in windows[f]:
                if p.pk in seen or p.pk in out or not p.hashes:
                    continue
                seen.add(p.pk)
                found = diff_offer(c, p, c_hashes)
                if found is not None:
                    offer(RANK["diff"], found[0], p, found[1])
            if len(seen) >= MAX_FILE_CANDIDATES:
                break
    # Equal candidates in the order of their keys, whatever order the index was filled in.
    return sorted(
        out.values(), key=lambda x: (x[0], x[1], _preference(c, x[2]), -x[2].pk), reverse=True
    )


def twin_postings(c: CommitInfo, p: Posting, idx: PostingIndex) -> list[str]:
    """Message-IDs of the other people's postings of the commit's diff (its patch-id) than
    the linked one, outside its series (an earlier version is superseded, not a twin):
    credited to nobody, listed in the link's evidence as `twins`."""
    if not c.patch_id:
        return []
    return sorted(
        x.message_id
        for x in idx.by_pid.get(c.patch_id, ())
        if x.pk != p.pk and x.author != p.author and x.series_key != p.series_key
    )


Candidates = list[tuple[int, float, Posting, dict[str, object]]]


def match(
    postings: Iterable[Posting], commits: Iterable[CommitInfo], use_pointers: bool = True
) -> list[Match]:
    """Final links, one per commit and per posting. Pure."""
    idx = PostingIndex(postings)
    return assign([(c, candidates(c, idx, use_pointers)) for c in commits], idx)


def assign(proposed: Iterable[tuple[CommitInfo, Candidates]], idx: PostingIndex) -> list[Match]:
    """The links from each commit's candidates: commits with the strongest best candidate
    choose first, each taking its best posting not yet taken. Pure.

    A commit's choice depends only on the commits that share a candidate with it, directly
    or through others: matching a set of commits closed under that relation, with the
    candidates of all its postings, gives their links as matching everything does."""
    proposals: list[tuple[tuple[int, float, tuple[int, int, int]], CommitInfo, Candidates]] = []
    for c, cands in proposed:
        if cands:
            best = cands[0]
            proposals.append(((best[0], best[1], _preference(c, best[2])), c, cands))
    proposals.sort(key=lambda x: (x[0], -x[1].pk), reverse=True)
    taken: set[int] = set()
    links = []
    for _key, c, cands in proposals:
        free = [x for x in cands if x[2].pk not in taken]
        if not free:
            continue
        rank, score, p, ev = free[0]
        method = next(k for k, v in RANK.items() if v == rank)
        # A rival is another series' posting that fits as well: for diffs, a score within
        # the margin; for patch-ids and subjects (equal scores), one sent within a day of
        # the pick, so that no order of posting tells them apart.
        # One whose author and subject agree less with the commit's is a twin, not a rival.
        agree = _agreement(c, p)
        rivals = [
            x
            for x in free[1:]
            if x[0] == rank
            and x[2].series_key != p.series_key
            and x[1] >= score - AMBIGUITY_MARGIN
            and (rank == RANK["diff"] or abs(x[2].date - p.date) <= DAY)
            and _agreement(c, x[2]) == agree
        ]
        ambiguous = bool(rivals) and rank != RANK["pointer"]
        if ambiguous:
            ev = {**ev, "rivals": [x[2].message_id for x in rivals[:5]]}
        twins = twin_postings(c, p, idx)
        if twins:
            ev = {**ev, "twins": twins}
        taken.add(p.pk)
        links.append(Match(p.pk, c.pk, c.repo_id, method, score, ev, ambiguous))
    return links
