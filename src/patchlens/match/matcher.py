"""Which commit each posted patch became: layers of evidence, strongest first.

1. pointer: the commit names the posting (Link: lore URL, Message-ID: trailer);
2. patch-id: the same `git patch-id --stable` as the posted diff;
3. subject: the same author and normalised subject, committed within a year of posting;
4. diff: commits touching the same files after the posting, compared by the changed lines
   (white space and context ignored), the subject a weaker signal.

Each commit gets at most one posting and each posting at most one commit. Among postings
carrying the same change (v1 and v2 alike, a RESEND) the last one sent before the commit
wins; the earlier ones are superseded through the version chain, not merges of their own.
When another series' posting scores (nearly) as high, the link is kept but flagged as
ambiguous rather than silently picked. Candidates come from indexes (by patch-id, subject,
file), so the work grows with the number of commits, not with commits x postings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from patchlens.match.fingerprint import similarity

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
    hashes: frozenset[int]


@dataclass(slots=True)
class CommitInfo:
    pk: int
    repo_id: int
    author: str  # identity key
    date: int  # committer date
    title: str  # normalised subject
    patch_id: str | None
    files: frozenset[str]
    hashes: frozenset[int]
    pointers: frozenset[str] = frozenset()


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


def core_title(title: str) -> str:
    """A title without its subsystem prefixes ("erofs-utils: lib: x" -> "x"): maintainers
    add or reword them when applying."""
    core = _PREFIXES.sub("", title)
    return core if len(core) >= 8 else title


def _title_sim(a: str, b: str) -> float:
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    return SequenceMatcher(None, a, b, autojunk=False).ratio()


class PostingIndex:
    def __init__(self, postings: Iterable[Posting]) -> None:
        self.by_pk: dict[int, Posting] = {}
        self.by_msgid: dict[str, Posting] = {}
        self.by_pid: dict[str, list[Posting]] = {}
        self.by_title: dict[str, list[Posting]] = {}
        self.by_core: dict[str, list[Posting]] = {}
        self.by_file: dict[str, list[Posting]] = {}
        for p in postings:
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


def _preference(c: CommitInfo, p: Posting) -> tuple[int, int, int]:
    """Among equal candidates: one posted before the commit, then the last one sent (the
    maintainer applies the latest re-send, or the second of a double send), then the
    highest version."""
    before = p.date <= c.date + DAY
    return (1 if before else 0, p.date if before else -p.date, p.version)


def _same_work(c: CommitInfo, p: Posting) -> bool:
    return (
        p.author == c.author
        and -EARLY <= c.date - p.date <= SUBJECT_WINDOW
        and bool(c.files & p.files or not (c.files and p.files))
    )


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
            if p is not None:
                offer(RANK["pointer"], 1.0, p, {"message_id": mid})
    if c.patch_id:
        for p in idx.by_pid.get(c.patch_id, ()):
            offer(RANK["patch-id"], 0.98, p, {"patch_id": c.patch_id})
    # The same subject counts only for a change to the same files: the same fix is often
    # posted for two trees (the kernel and erofs-utils, say) under one title.
    for p in idx.by_title.get(c.title, ()):
        if _same_work(c, p):
            offer(RANK["subject"], 0.9, p, {"author": c.author})
    core = core_title(c.title)
    for p in (*idx.by_core.get(core, ()), *idx.by_title.get(core, ())):
        if _same_work(c, p):
            offer(RANK["subject"], 0.85, p, {"author": c.author, "subject": "without prefixes"})
    if c.files and c.hashes:
        seen: set[int] = set()
        files = sorted(c.files, key=lambda f: len(idx.by_file.get(f, ())))
        for f in files:
            for p in idx.by_file.get(f, ()):
                if p.pk in seen or p.pk in out or not p.hashes:
                    continue
                seen.add(p.pk)
                if not -EARLY <= c.date - p.date <= DIFF_WINDOW:
                    continue
                sim = similarity(c.hashes, p.hashes)
                if sim < 0.2:
                    continue
                t = _title_sim(c.title, p.title)
                same = p.author == c.author
                score = round(W_LINES * sim + W_TITLE * t + (W_AUTHOR if same else 0.0), 4)
                if score >= DIFF_THRESHOLD:
                    ev = {"lines": round(sim, 3), "title": round(t, 3), "same_author": same}
                    offer(RANK["diff"], score, p, ev)
            if len(seen) >= MAX_FILE_CANDIDATES:
                break
    return sorted(out.values(), key=lambda x: (x[0], x[1], _preference(c, x[2])), reverse=True)


def match(
    postings: Iterable[Posting], commits: Iterable[CommitInfo], use_pointers: bool = True
) -> list[Match]:
    """Final links, one per commit and per posting. Pure."""
    idx = PostingIndex(postings)
    proposals: list[tuple[tuple[int, float, tuple[int, int, int]], CommitInfo, list]] = []
    for c in commits:
        cands = candidates(c, idx, use_pointers)
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
        rivals = [
            x
            for x in free[1:]
            if x[0] == rank
            and x[2].series_key != p.series_key
            and x[1] >= score - AMBIGUITY_MARGIN
            and (rank == RANK["diff"] or abs(x[2].date - p.date) <= DAY)
        ]
        ambiguous = bool(rivals) and rank != RANK["pointer"]
        if ambiguous:
            ev = {**ev, "rivals": [x[2].message_id for x in rivals[:5]]}
        taken.add(p.pk)
        links.append(Match(p.pk, c.pk, c.repo_id, method, score, ev, ambiguous))
    return links
