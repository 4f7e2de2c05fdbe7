"""What was known of a series at a moment T, as numbers a model can weigh. Pure.

Every feature is computed from events dated at or before T only: the versions posted by T,
the replies sent by T, the commits committed by T; the author's earlier series count as
merged only when their merge date is <= T; the subsystem's queue is the series open at T.
That is what makes a prediction "as of" T honest, and what tests/test_predict_leak.py
checks by building the same features from a store cut at T (docs/PREDICTION.md).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from patchlens.metrics.backlog import merge_changes
from patchlens.metrics.model import SeriesFacts, VersionFacts, current_version
from patchlens.metrics.roles import MAINTAINER, REVIEWER

DAY = 86400
# The moments of a series' life a prediction is made at: days after its first posting.
LANDMARKS = (0, 7, 30)


def week_start(ts: int) -> int:
    """Monday 00:00 UTC of the ISO week holding `ts` (1970-01-01 was a Thursday): the cut a
    model is fitted at (metrics/prediction.py). Here, without numpy, for the update that
    only reads whether the stored model is still at it."""
    day = ts // DAY
    return (day - (day + 3) % 7) * DAY


# A series idle this long at T is not counted in the queue it waits in (the backlog's
# "abandoned" threshold, docs/METRICS.md).
QUEUE_IDLE_DAYS = 180
# The window of earlier series a subsystem's merge rate is taken over.
RATE_WINDOW_DAYS = 365
# Prior weight of the smoothed rates: an author with no history gets the project's rate.
PRIOR_WEIGHT = 2.0

CATCH_ALL = "THE REST"
# The features, in the order the model takes them. docs/PREDICTION.md defines each.
FEATURES = (
    "log_patches",
    "log_lines",
    "log_files",
    "versions",
    "has_cover",
    "log_age_days",
    "log_idle_days",
    "reviewer_replies",
    "reviewers",
    "reviewed_share",
    "reviewer_spoke_last",
    "maintainer_answered",
    "expected_known",
    "partly_merged",
    "author_prior_series",
    "author_merge_rate",
    "new_contributor",
    "queue_open",
    "subsystem_merge_rate",
)
# The size-only baseline's features.
SIZE_FEATURES = ("log_patches", "log_lines", "log_files")
# The features read from the author's other series and the queues (`History`); the rest are
# the series' own, which the metrics stage stores at each landmark (`stored_landmarks`).
HISTORY_FEATURES = (
    "author_prior_series",
    "author_merge_rate",
    "new_contributor",
    "queue_open",
    "subsystem_merge_rate",
)
OWN_FEATURES = tuple(f for f in FEATURES if f not in HISTORY_FEATURES)
# Features that measure one fact in several ways, said and weighed as one fact on the page: a
# model's weights on correlated features can push opposite ways, and "the author's first
# series (later)" beside "the author posted 0 earlier series (sooner)" reads as a
# contradiction. Each group's push is the sum of its members'; its words are the key's.
FACT_GROUPS: dict[str, tuple[str, ...]] = {
    "author_history": ("author_prior_series", "author_merge_rate", "new_contributor"),
    "size": ("log_patches", "log_lines", "log_files"),
    "review_replies": ("reviewer_replies", "reviewers"),
}
# Bump when `own_features_at` (or `_versions_at`) computes otherwise: stored landmarks of other
# code are then read as absent, and the metrics stage rewrites every row (stages/context.py
# puts LANDMARKS_KEY in the metrics' version). tests/test_predict_stored.py pins the code.
# 2: a patch laid over another version keeps its title when its commit is after T (it was
#    placed as patch 1), and a version laid over after a reviewer spoke answers them.
OWN_FEATURES_VERSION = 2
# What stored landmarks were computed by: the version, the features' names and order, the
# landmarks.
LANDMARKS_KEY = (
    f"{OWN_FEATURES_VERSION}."
    + hashlib.sha1(repr((OWN_FEATURES, LANDMARKS)).encode()).hexdigest()[:8]
)
# The own features that read MAINTAINERS' roles: 0 when the roles were not known at posting.
ROLE_FEATURES = ("maintainer_answered", "expected_known")


@dataclass(frozen=True, slots=True)
class SeriesRecord:
    """What other series' features need of one series: who, when posted, where, and its merge
    state through time. `changes` are the dates at which "fully merged" (metrics/backlog.py
    `facts`) turned on or off, with the new value: whether it was merged at T is read from
    the changes up to T, never from how the series ended (a series merged by T and re-rolled
    after T is merged at T)."""

    key: str
    author: str
    first_date: int
    groups: tuple[str, ...]  # subsystems, or ("",) for the whole project
    events: tuple[int, ...]  # sorted dates of its postings and replies
    changes: tuple[tuple[int, bool], ...] = ()

    @property
    def merged(self) -> int | None:
        """The first date it was fully merged, or None: the outcome predictions are about."""
        return next((d for d, on in self.changes if on), None)

    def merged_by(self, t: int) -> bool:
        state = False
        for d, on in self.changes:
            if d > t:
                break
            state = on
        return state


@dataclass
class History:
    """Every series of the store as `SeriesRecord`s, indexed by author and by subsystem, so
    that the author's record and a subsystem's queue at any T are a few lookups."""

    records: dict[str, SeriesRecord]
    by_author: dict[str, list[SeriesRecord]] = field(default_factory=dict)
    by_group: dict[str, list[SeriesRecord]] = field(default_factory=dict)
    _group_dates: dict[str, list[int]] = field(default_factory=dict)
    _all: list[SeriesRecord] = field(default_factory=list)
    _all_dates: list[int] = field(default_factory=list)
    # Span counters built on first use (`_counter`), shared by `with_author` copies.
    _counters: dict[tuple[str, str | None], _SpanCount] = field(default_factory=dict)

    def __post_init__(self) -> None:
        authors: dict[str, list[SeriesRecord]] = defaultdict(list)
        groups: dict[str, list[SeriesRecord]] = defaultdict(list)
        for r in self.records.values():
            authors[r.author].append(r)
            for g in r.groups:
                groups[g].append(r)
        self.by_author = {a: sorted(rs, key=_order) for a, rs in authors.items()}
        self.by_group = {g: sorted(rs, key=_order) for g, rs in groups.items()}
        self._group_dates = {g: [r.first_date for r in rs] for g, rs in self.by_group.items()}
        self._all = sorted(self.records.values(), key=_order)
        self._all_dates = [r.first_date for r in self._all]

    def project_rate(self, t: int) -> float:
        """The share merged by T of the series posted in the year before T (0.5 without any)."""
        return self.rate(None, t, 0.5)

    def rate(self, group: str | None, t: int, prior: float) -> float:
        """The smoothed share merged by T of `group`'s series (None: every series) posted in
        the year before T: `_rate` over that window, counted in a few bisections."""
        dates = self._all_dates if group is None else self._group_dates.get(group, [])
        seen = bisect_right(dates, t) - bisect_right(dates, t - RATE_WINDOW_DAYS * DAY)
        merged = self._counter("merged", group)(t)
        return (merged + PRIOR_WEIGHT * prior) / (seen + PRIOR_WEIGHT)

    def open_count(self, group: str, t: int) -> int:
        """How many of `group`'s series posted in the queue's window before T are open at T
        (`_open_at`), counted in two bisections."""
        return self._counter("open", group)(t)

    def _counter(self, kind: str, group: str | None) -> _SpanCount:
        """Every series as the spans of time it counts in (open in a queue, or merged in a
        rate's window), built once per kind and group: a count at T is then two bisections
        instead of a pass over the window's series for every prediction point."""
        found = self._counters.get((kind, group))
        if found is None:
            rs = self._all if group is None else self.by_group.get(group, [])
            spans = _open_spans if kind == "open" else _merged_window_spans
            found = self._counters[(kind, group)] = _SpanCount([x for r in rs for x in spans(r)])
        return found

    def earlier(self, author: str, first_date: int, key: str) -> list[SeriesRecord]:
        """`author`'s series before (first_date, key), by bisection: a prolific author's
        records are thousands long, and every prediction point asks for them."""
        rs = self.by_author.get(author, [])
        return rs[: bisect_left(rs, (first_date, key), key=_order)]

    def window(self, group: str, start: int, end: int) -> list[SeriesRecord]:
        """The series of `group` posted in (start, end]."""
        dates = self._group_dates.get(group, [])
        rs = self.by_group.get(group, [])
        return rs[bisect_right(dates, start) : bisect_right(dates, end)]

    def with_older(self, older: Iterable[SeriesRecord]) -> History:
        """This history with `older` (series posted before every series it holds) added to
        their authors' records only. A refit reads its window's series and, for the authors'
        records, their earlier ones: counting those in the queues and rates would only
        compute spans that end before any T the window's points ask about."""
        out = copy.copy(self)
        extra: dict[str, list[SeriesRecord]] = defaultdict(list)
        for r in older:
            extra[r.author].append(r)
        out.by_author = dict(self.by_author)
        for author, rs in extra.items():
            out.by_author[author] = sorted([*rs, *self.by_author.get(author, ())], key=_order)
        return out

    def with_author(self, author: str, records: list[SeriesRecord]) -> History:
        """This history with `records` as every series of `author`: a page adds the one
        author's whole record to a history of the recent window kept for all pages, without
        re-indexing the window (the other lists are shared, not copied)."""
        out = copy.copy(self)
        out.by_author = {
            **self.by_author,
            author: sorted(records, key=_order),
        }
        return out


def _order(r: SeriesRecord) -> tuple[int, str]:
    """The order every list of records in a History is kept in."""
    return (r.first_date, r.key)


# A feature at T reads, besides its author's earlier series, only the series posted in
# (T - LOOKBACK_DAYS, T]: the queue's window (QUEUE_IDLE_DAYS * 4, the longest) covers the
# rates' year. What a History for features at T must hold (queries/prediction.py).
LOOKBACK_DAYS = QUEUE_IDLE_DAYS * 4


def record_of(se: SeriesFacts, subsystems: tuple[str, ...]) -> SeriesRecord:
    """`se` as other series' features see it."""
    events = sorted(
        {v.date for v in se.versions} | {r.date for v in se.versions for r in v.replies}
    )
    # The merge may come with a pull request that lists the series (VersionFacts.pulled).
    dates = sorted(
        set(events)
        | {p.commit_date for v in se.versions for p in v.patches.values() if p.commit_date}
        | {r.date for v in se.versions for r in v.pulled}
    )
    changes = merge_changes(se, dates)
    return SeriesRecord(
        se.key, se.author, se.first_date, tuple(subsystems) or ("",), tuple(events), tuple(changes)
    )


def stored_record(se: SeriesFacts) -> dict[str, str]:
    """The parts of `record_of(se)` series_metrics does not hold already (author, first date
    and subsystems it does), as the metrics stage stores them: JSON of the event dates and of
    the merge changes ([date, 0|1])."""
    rec = record_of(se, ())
    return {
        "event_dates": json.dumps(list(rec.events)),
        "merge_changes": json.dumps([[d, int(on)] for d, on in rec.changes]),
    }


def records_from_stored(
    rows: Sequence[tuple[str, str, int, tuple[str, ...], str, str]],
) -> list[SeriesRecord]:
    """The records `stored_record` wrote, one per row (key, author, first date, the
    subsystems the reader knew at posting, event dates, merge changes), the JSON of all rows
    parsed in one call per field: a refit reads some 50,000 records at a million messages,
    and one call per field and row cost twice the parse itself."""
    events = json.loads("[" + ",".join(r[4] for r in rows) + "]")
    changes = json.loads("[" + ",".join(r[5] for r in rows) + "]")
    return [
        SeriesRecord(
            key,
            author,
            first_date,
            tuple(groups) or ("",),
            tuple(ev),
            tuple((int(d), bool(on)) for d, on in ch),
        )
        for (key, author, first_date, groups, _e, _c), ev, ch in zip(
            rows, events, changes, strict=True
        )
    ]


class _SpanCount:
    """How many of a set of half-open spans [start, end) contain T: the starts up to T less
    the ends up to T (a span ended by T also started by T)."""

    def __init__(self, spans: list[tuple[int, int]]) -> None:
        self.starts = sorted(a for a, _b in spans)
        self.ends = sorted(b for _a, b in spans)

    def __call__(self, t: int) -> int:
        return bisect_right(self.starts, t) - bisect_right(self.ends, t)


FOREVER = 2**62


def _merged_spans(r: SeriesRecord) -> list[tuple[int, int]]:
    """The spans of T at which `r.merged_by(T)`."""
    out, start = [], None
    for d, on in r.changes:
        if on and start is None:
            start = d
        elif not on and start is not None:
            out.append((start, d))
            start = None
    if start is not None:
        out.append((start, FOREVER))
    return out


def _intersect(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The intersection of two sorted lists of disjoint half-open spans."""
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo < hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def _open_spans(r: SeriesRecord) -> list[tuple[int, int]]:
    """The spans of T at which `r` is in a queue at T: posted in (T - QUEUE_IDLE_DAYS * 4, T]
    (the queue's window), not merged at T, and its last event by T less than QUEUE_IDLE_DAYS
    before T (`_open_at`)."""
    idle = QUEUE_IDLE_DAYS * DAY
    active: list[tuple[int, int]] = []
    for e in r.events:  # sorted: overlapping [e, e + idle) merge into one span
        if active and e <= active[-1][1]:
            active[-1] = (active[-1][0], max(active[-1][1], e + idle))
        else:
            active.append((e, e + idle))
    lo, hi = r.first_date, r.first_date + QUEUE_IDLE_DAYS * 4 * DAY
    unmerged, start = [], lo
    for a, b in _merged_spans(r):
        if a > start:
            unmerged.append((start, a))
        start = max(start, b)
    if start < hi:
        unmerged.append((start, hi))
    return _intersect(active, [(a, min(b, hi)) for a, b in unmerged if a < min(b, hi)])


def _merged_window_spans(r: SeriesRecord) -> list[tuple[int, int]]:
    """The spans of T at which `r` is merged and posted in (T - RATE_WINDOW_DAYS, T]."""
    window = [(r.first_date, r.first_date + RATE_WINDOW_DAYS * DAY)]
    return _intersect(_merged_spans(r), window)


def _rate(rs: list[SeriesRecord], t: int, prior: float) -> tuple[float, int]:
    """Smoothed share of `rs` posted in the year before T that were merged by T, and n."""
    seen = [r for r in rs if t - RATE_WINDOW_DAYS * DAY < r.first_date <= t]
    merged = sum(1 for r in seen if r.merged_by(t))
    return (merged + PRIOR_WEIGHT * prior) / (len(seen) + PRIOR_WEIGHT), len(seen)


def _open_at(r: SeriesRecord, t: int) -> bool:
    if r.first_date > t or r.merged_by(t):
        return False
    last = r.events[bisect_right(r.events, t) - 1]
    return t - last < QUEUE_IDLE_DAYS * DAY


def _versions_at(se: SeriesFacts, t: int) -> list[VersionFacts]:
    """The versions posted by T, each without the replies and commits dated after T."""
    out = []
    for v in se.versions:
        if v.date > t:
            continue
        # A commit after T is not known at T; the rest of the patch is (its title places it
        # when it is laid over another version: review/model.py place_of).
        patches = {
            i: p if (p.commit_date or 0) <= t else replace(p, commit_date=None)
            for i, p in v.patches.items()
        }
        out.append(
            VersionFacts(
                v.key,
                v.seq,
                v.version,
                v.date,
                v.has_cover,
                patches,
                [r for r in v.replies if r.date <= t],
                v.title,
                v.partial,
                v.pull,
                v.backport,
                v.committed,
            )
        )
    return out


def features_at(
    se: SeriesFacts,
    t: int,
    history: History,
    expected: dict[str, str] | None = None,
    subsystems: tuple[str, ...] = (),
) -> dict[str, float] | None:
    """The features of `se` as of T (None if it was not posted by T). `expected` maps the
    identities MAINTAINERS named for its files at posting to their role (metrics/roles.py);
    `subsystems` are its MAINTAINERS sections (empty: the whole project is one queue)."""
    own = own_features_at(se, t, expected)
    if own is None:
        return None
    other = history_features_at(se.key, se.author, se.first_date, t, history, subsystems)
    return combined(own, other)


def combined(own: dict[str, float], other: dict[str, float]) -> dict[str, float]:
    """The own and the history features as one dict, in the order of FEATURES."""
    both = {**own, **other}
    return {f: both[f] for f in FEATURES}


def own_features_at(
    se: SeriesFacts, t: int, expected: dict[str, str] | None = None
) -> dict[str, float] | None:
    """The OWN_FEATURES of `se` as of T: what its own versions, replies and commits dated by T
    say (None if it was not posted by T)."""
    versions = _versions_at(se, t)
    if not versions:
        return None
    cur = current_version(versions)
    patches = list(cur.patches.values())
    lines = sum(p.lines_added + p.lines_removed for p in patches)
    files = {f for p in patches for f in p.files}
    replies = [r for v in versions for r in v.replies]
    reviewer = [r for r in replies if r.reviewer]
    cover_reviewed = any(r.review and r.patch_idx == 0 for r in cur.replies if r.reviewer)
    reviewed = sum(
        1
        for i, p in cur.patches.items()
        if p.carried_review
        or cover_reviewed
        or any(r.review and r.patch_idx == i for r in cur.replies if r.reviewer)
    )
    spoke = sorted((r for r in cur.replies if not r.is_bot), key=lambda r: (r.date, r.message_id))
    # A version laid over the current one after a reviewer spoke answers them, as the state's
    # facts have it (metrics/backlog.py facts).
    rerolled = max((v.date for v in versions if v.partial and v.date > cur.date), default=0)
    events = [v.date for v in versions] + [r.date for r in replies]
    expected = expected or {}
    maintainers = {w for w, role in expected.items() if role in (MAINTAINER, REVIEWER)}
    merged_patches = sum(1 for v in versions for p in v.patches.values() if p.commit_date)
    return {
        "log_patches": math.log1p(len(patches)),
        "log_lines": math.log1p(lines),
        "log_files": math.log1p(len(files)),
        "versions": float(len(versions)),
        "has_cover": float(cur.has_cover),
        "log_age_days": math.log1p((t - se.first_date) / DAY),
        "log_idle_days": math.log1p((t - max(events)) / DAY),
        "reviewer_replies": float(min(len(reviewer), 20)),
        "reviewers": float(len({r.who for r in reviewer})),
        "reviewed_share": reviewed / len(patches) if patches else 0.0,
        "reviewer_spoke_last": float(
            bool(spoke) and not spoke[-1].is_author and spoke[-1].date >= rerolled
        ),
        "maintainer_answered": float(
            any(r.who in maintainers or f"addr:{r.addr.lower()}" in maintainers for r in reviewer)
        ),
        "expected_known": float(bool(maintainers)),
        "partly_merged": float(merged_patches > 0),
    }


def history_features_at(
    key: str,
    author: str,
    first_date: int,
    t: int,
    history: History,
    subsystems: tuple[str, ...] = (),
) -> dict[str, float]:
    """The HISTORY_FEATURES of the series `key` (by `author`, first posted at `first_date`)
    as of T: its author's earlier series and the queues of its subsystems, from `history`."""
    earlier = history.earlier(author, first_date, key)
    prior = history.project_rate(t)
    author_merged = sum(1 for r in earlier if r.merged_by(t))
    groups = tuple(subsystems) or ("",)
    rates = [history.rate(g, t, prior) for g in groups]
    return {
        "author_prior_series": math.log1p(len(earlier)),
        "author_merge_rate": (author_merged + PRIOR_WEIGHT * prior) / (len(earlier) + PRIOR_WEIGHT),
        "new_contributor": float(not earlier),
        "queue_open": math.log1p(_queue(history, key, groups, t)),
        "subsystem_merge_rate": min(rates),
    }


def stored_landmarks(se: SeriesFacts, expected: dict[str, str]) -> str:
    """The own features of `se` at each landmark (its first posting + LANDMARKS days), as the
    metrics stage stores them: JSON of the code's key (LANDMARKS_KEY) and one list of
    OWN_FEATURES' values per landmark (null: not posted by then). They depend on the
    series' own facts dated by each landmark alone, and the metrics stage rewrites a series'
    row whenever its facts change (everything, when the identities move), so a refit reads
    them instead of every training series' facts. `expected`: the roles as if known at
    posting; `landmarks_from_stored` clears them when they were not."""
    out = []
    for days in LANDMARKS:
        own = own_features_at(se, se.first_date + days * DAY, expected)
        out.append(None if own is None else [own[f] for f in OWN_FEATURES])
    return json.dumps({"key": LANDMARKS_KEY, "at": out})


def landmarks_from_stored(text: str, roles_known: bool) -> list[dict[str, float] | None] | None:
    """What `stored_landmarks` wrote, per landmark, the role features 0 when MAINTAINERS'
    roles were not known at posting (as `own_features_at` without `expected` gives them);
    None when other code wrote it (another LANDMARKS_KEY): the caller reads the facts."""
    stored = json.loads(text)
    if stored["key"] != LANDMARKS_KEY:
        return None
    out: list[dict[str, float] | None] = []
    for values in stored["at"]:
        if values is None:
            out.append(None)
            continue
        own = dict(zip(OWN_FEATURES, values, strict=True))
        if not roles_known:
            own.update(dict.fromkeys(ROLE_FEATURES, 0.0))
        out.append(own)
    return out


def _queue(history: History, key: str, groups: tuple[str, ...], t: int) -> int:
    """The other series open at T in the queues of `groups`, posted in the queue's window: by
    the span counters for one group; by reading the windows for several (a series in two of
    them counts once)."""
    start = t - QUEUE_IDLE_DAYS * DAY * 4
    if len(groups) > 1:
        return len(
            {
                r.key
                for g in groups
                for r in history.window(g, start, t)
                if r.key != key and _open_at(r, t)
            }
        )
    (g,) = groups
    own = history.records.get(key)
    counted = (
        own is not None and g in own.groups and start < own.first_date <= t and _open_at(own, t)
    )
    return history.open_count(g, t) - int(counted)


def facts_in_words(
    feats: dict[str, float],
    raw: SeriesFacts,
    t: int,
    history: History,
    expected: dict[str, str] | None,
    subsystems: tuple[str, ...],
) -> dict[str, str]:
    """Each feature of `raw` at T said in words, and each of FACT_GROUPS, for the page's
    "what weighs most" list."""
    versions = _versions_at(raw, t)
    cur = current_version(versions)
    n = len(cur.patches)
    reviewed = round(feats["reviewed_share"] * n)
    earlier = history.earlier(raw.author, raw.first_date, raw.key)
    merged = sum(1 for r in earlier if r.merged_by(t))
    # Linux's and Xen's catch-all section names everything: a specific one says more.
    named = [s for s in subsystems if s != CATCH_ALL] or list(subsystems)
    where = ", ".join(named) if named else "the project"
    idle = (t - _last_event(versions)) / DAY
    maint = "a maintainer" if not named else f"a maintainer of {named[0]}"
    queue = round(math.expm1(feats["queue_open"]))
    words = {
        "log_patches": f"{n} patch{'es' if n != 1 else ''} in the current version",
        "log_lines": f"{round(math.expm1(feats['log_lines']))} lines changed",
        "log_files": f"{round(math.expm1(feats['log_files']))} files touched",
        "versions": f"{len(versions)} version{'s' if len(versions) != 1 else ''} posted so far",
        "has_cover": "has a cover letter" if feats["has_cover"] else "no cover letter",
        "log_age_days": f"posted {(t - raw.first_date) / DAY:.0f} days ago",
        "log_idle_days": f"last activity {idle:.0f} days ago",
        "reviewer_replies": f"{int(feats['reviewer_replies'])} replies from reviewers",
        "reviewers": f"{int(feats['reviewers'])} reviewers have replied",
        "reviewed_share": f"{reviewed} of {n} patches reviewed",
        "reviewer_spoke_last": "a reviewer spoke last"
        if feats["reviewer_spoke_last"]
        else "the author spoke last (or nobody answered)",
        "maintainer_answered": f"{maint} has answered"
        if feats["maintainer_answered"]
        else f"no maintainer of {named[0] if named else 'the project'} has answered yet",
        "expected_known": "MAINTAINERS names who reviews its files"
        if feats["expected_known"]
        else "MAINTAINERS names nobody for its files",
        "partly_merged": "some of its patches are merged"
        if feats["partly_merged"]
        else "none of its patches merged yet",
        "author_prior_series": f"the author posted {len(earlier)} earlier series",
        # The feature's own count (all earlier series, smoothed toward the project's rate),
        # not a sample of the last few, which could say "0 merged" of a 60% author.
        "author_merge_rate": f"{merged} of the author's {len(earlier)} earlier series merged "
        f"by then ({feats['author_merge_rate']:.0%}, smoothed toward the project's rate)"
        if earlier
        else "the author's first series",
        "new_contributor": "the author's first series"
        if feats["new_contributor"]
        else "the author has posted before",
        "queue_open": f"{queue} other open series in {where}",
        "subsystem_merge_rate": f"{feats['subsystem_merge_rate']:.0%} of {where}'s series "
        "of the past year merged",
    }
    words["author_history"] = words["author_merge_rate"]
    words["size"] = ", ".join(words[f] for f in FACT_GROUPS["size"])
    replies, people = int(feats["reviewer_replies"]), int(feats["reviewers"])
    words["review_replies"] = (
        f"{replies} repl{'ies' if replies != 1 else 'y'} from {people} "
        f"reviewer{'s' if people != 1 else ''}"
    )
    return words


def _last_event(versions: list[VersionFacts]) -> int:
    return max([v.date for v in versions] + [r.date for v in versions for r in v.replies])
