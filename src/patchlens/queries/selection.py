"""The one selection of series: which series a `Filters` keeps, with each one's state. The
dashboard pages, the JSON API, `patchlens report` and every export call `select_series`, so a
filter names the same series set everywhere (tests/test_one_filter.py checks it).

SQL narrows the rows where it can say the same thing exactly (the day bounds, the
organisation, the list); then `Filters.keep`, the whole definition, decides every row. A
narrowing that dropped a row `keep` would keep is a bug; one that keeps too many costs only
time.
"""

from __future__ import annotations

import contextlib
import gc
import json
import threading
import time
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from sqlalchemy import Connection, Select, func, select

from patchlens.metrics.backlog import BacklogRules, Facts, decide
from patchlens.queries import searchsql
from patchlens.queries.filters import SERIES_PARAMS, Filters
from patchlens.queries.search import q_text
from patchlens.store import schema

T = TypeVar("T")

BRIEF = (
    "series_key",
    "title",
    "author_addr",
    "org",
    "first_date",
    "last_date",
    "versions",
    "patches",
    "reviewers",
    "review_replies",
    "state",
    "time_to_first_response",
    "time_to_merge",
)


def brief(r: dict[str, Any]) -> dict[str, Any]:
    """A series in a list: what the report's and the dashboard's tables show of it."""
    return {k: r.get(k) for k in BRIEF}


def data_date(conn: Connection) -> int:
    """The date of the newest message or commit: the default "as of" for states, so that an
    archive that stopped (a mirror not updated, a sample) is not all stale by now. A date
    after the present is a wrong clock, not the data's end: such messages and commits are left
    out of it (five of a million-message store's, dated 2040 to 2077, had made its "as of" the
    day of the query, five months after its mail ends, and every open series older)."""
    return _dates(conn)[0]


def mail_end(conn: Connection) -> int | None:
    """The date of the newest message not dated after the present (None without mail): a
    series is idle only up to it (metrics/backlog.py `decide`), and a queue waits up to it,
    since what happened on the list after it cannot be seen. A repository that goes on after
    the archive (LTP's, five months) still sets the data's date, its merges counting."""
    m = schema.messages
    now = int(time.time())
    return conn.execute(select(func.max(m.c.date_utc)).where(m.c.date_utc <= now)).scalar()


def _dates(conn: Connection) -> tuple[int, int | None]:
    """(the data's date, the mail's end): `data_date` and `mail_end` in one reading."""
    c = schema.commits
    now = int(time.time())
    end = mail_end(conn)
    commits = conn.execute(
        select(func.max(c.c.committer_date)).where(c.c.committer_date <= now)
    ).scalar()
    dates = [d for d in (end, commits) if d]
    return (max(dates) if dates else now), end


def review_date(conn: Connection) -> int:
    """The date review is seen up to: the data's date, or the mail's end when a repository
    goes on after it. What waits (queues, review load, a series' estimate) counts to it."""
    return seen_dates(conn)[1]


def seen_dates(conn: Connection) -> tuple[int, int]:
    """(`data_date`, `review_date`) in one reading."""
    when, end = _dates(conn)
    return when, when - review_lag(when, end)


def review_lag(data: int, end: int | None) -> int:
    """How far the data's date `data` lies past the mail's end `end` (0 when it does not):
    time in which nothing on the list can be seen, which no idleness or wait counts. Pure."""
    return 0 if end is None or end >= data else data - end


def idle_until(when: int, data: int, end: int | None) -> int:
    """The date idleness counts to for states asked at `when`, the data's date being `data`
    and the mail's end `end`: `when`, but no later than the mail's end up to the data's date
    (nothing after it can be seen), and after the data's date as many days past the mail's
    end as `when` is past the data's date (what turns stale if nothing happens, a day later
    one day older, with no jump). Pure."""
    lag = review_lag(data, end)
    if not lag:
        return when
    return min(when, data - lag) if when <= data else when - lag


def _list_members(name: str | None) -> Select[Any]:
    """(series key, list name) of every series with a posting seen on a list (or on `name`)."""
    q = searchsql.list_members()
    return q.where(schema.mailing_lists.c.name == name) if name is not None else q


def series_in_list(conn: Connection, name: str) -> set[str]:
    """The series with a posting (of any version) seen on the list `name`."""
    return {k for k, _n in conn.execute(_list_members(name))}


def stored_facts(r: Any) -> Facts:
    """The facts a state is decided from, as a series_metrics row stores them."""
    return Facts(
        r["merged"],
        r["nearly_complete"],
        r["has_reviewer_reply"],
        r["reviewer_spoke_last"],
        r["last_date"],
        r["in_repo"],
        merged_by=r["merged_by"] or "",
        repo_registered=r["repo_registered"],
        blocked_until=r.get("blocked_until"),
        fixed_at=r.get("fixed_at"),
    )


def decode(
    r: dict[str, Any],
    when: int,
    rules: BacklogRules,
    parsed: dict[str, Any] | None = None,
    idle_to: int | None = None,
) -> dict[str, Any]:
    """A series_metrics row as the read model gives it: its JSON lists decoded and its state
    as of `when` (metrics/backlog.py decides it from the stored facts). `parsed`: the lists
    already decoded, by their JSON text, shared between the rows of one reading (most rows
    hold the same few lists; nobody changes a row's lists). `idle_to`: the date idleness
    counts to (`idle_until`), by default `when`."""
    for name in ("subsystems", "anomalies"):
        text = r[name]
        if parsed is None:
            r[name] = json.loads(text)
            continue
        value = parsed.get(text)
        if value is None:
            value = parsed[text] = json.loads(text)
        r[name] = value
    r["state"] = decide(stored_facts(r), when, rules, idle_to)
    return r


_GC_LOCK = threading.Lock()
_gc_pausing = 0  # loads under _gc_paused now; the first turns the collector off, the last on
_gc_was_on = False


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a bulk of rows is built: each row is a container
    the collector tracks, so building 86k of them (a million-message store) set off
    collections that walked every row built so far, again and again: 3.2-4.7 s to read them,
    2.4-2.6 s paused. Loads in several threads count under a lock: the first one in turns
    the collector off, the last one out restores it as the first found it."""
    global _gc_pausing, _gc_was_on
    with _GC_LOCK:
        if _gc_pausing == 0:
            _gc_was_on = gc.isenabled()
            gc.disable()
        _gc_pausing += 1
    try:
        yield
    finally:
        with _GC_LOCK:
            _gc_pausing -= 1
            if _gc_pausing == 0 and _gc_was_on:
                gc.enable()


def _load(conn: Connection, f: Filters, rules: BacklogRules, as_of: int | None) -> list[dict]:
    """series_metrics rows, narrowed by SQL where SQL says exactly what `f.keep` says, each
    with its state at `as_of` (default: the data's date), its lists and its author's name."""
    with _gc_paused():
        return _load_rows(conn, f, rules, as_of)


def _load_rows(conn: Connection, f: Filters, rules: BacklogRules, as_of: int | None) -> list[dict]:
    sm, se = schema.series_metrics, schema.series
    q = select(sm, se.c.author_name).outerjoin(se, se.c.key == sm.c.series_key)
    if f.since_ts is not None:
        q = q.where(sm.c.first_date >= f.since_ts)
    if f.until_ts is not None:
        q = q.where(sm.c.first_date < f.until_ts)
    if f.org:
        q = q.where(sm.c.org == f.org)
    result = conn.execute(q)
    keys = list(result.keys())  # once, not a mapping per row (a third of reading 86k rows)
    rows = [dict(zip(keys, r, strict=True)) for r in result]
    lists: dict[str, list[str]] = {}
    for key, name in conn.execute(_list_members(f.list or None)):
        lists.setdefault(key, []).append(name)
    data, end = _dates(conn)
    when = as_of or data
    idle_to = idle_until(when, data, end)
    parsed: dict[str, Any] = {}
    for r in rows:
        # Every list of the series (only `f.list`, when SQL was asked about that one alone).
        r["lists"] = sorted(lists.get(r["series_key"], ()))
        r["author_name"] = r["author_name"] or ""
        decode(r, when, rules, parsed, idle_to)
    return rows


# Every series row with its state, per store and data version: the dashboard filters the same
# rows on every request, and they change only when an update finishes (stage_state says when).
_CACHE: dict[tuple[str, Any, BacklogRules], list[dict[str, Any]]] = {}
# Held while the rows of a new version are computed: concurrent requests after an update
# wait for one computation instead of each running it (seconds of CPU each).
_CACHE_LOCK = threading.Lock()


def data_version(conn: Connection) -> Any:
    """What changes when an update finishes: the pages and rows kept for a store are valid
    as long as this is the same. The inputs digest of the last finished run and when it
    finished (not any row of stage_state: the first one read was a mark that another
    configuration or a forced rebuild leaves as it was)."""
    st = schema.stage_state
    row = conn.execute(
        select(st.c.inputs, st.c.finished_at).where(st.c.stage == schema.PIPELINE_DIGEST)
    ).first()
    return tuple(row) if row else None


def all_series(conn: Connection, rules: BacklogRules) -> list[dict[str, Any]]:
    """Every series with its state as of the data's date, kept per store and data version."""
    key = (str(conn.engine.url), data_version(conn), rules)
    rows = _CACHE.get(key)
    if rows is None:
        with _CACHE_LOCK:
            rows = _CACHE.get(key)
            if rows is None:
                rows = _load(conn, Filters(), rules, None)
                _CACHE.clear()  # one version per store is enough; old ones are stale
                _CACHE[key] = rows
    return rows


# Other results that are a function of the store alone (no filter), kept per store and data
# version like the rows above: (url, data version) -> name -> value. One version per store.
_MEMO: dict[tuple[str, Any], dict[Any, Any]] = {}
_MEMO_LOCK = threading.Lock()


def per_version(conn: Connection, name: Any, compute: Callable[[], T]) -> T:
    """`compute()` once per store and data version, kept under `name` until an update
    finishes (stage_state says when): what every request would otherwise read again from the
    whole store (a filter form's choices, unfiltered aggregates). Callers must not change
    what they get back; two requests may both compute a missing value (the same one)."""
    url = str(conn.engine.url)
    store = (url, data_version(conn))
    with _MEMO_LOCK:
        memo = _MEMO.get(store)
        if memo is None:
            for old in [k for k in _MEMO if k[0] == url]:
                del _MEMO[old]  # an older version of this store: stale
            memo = _MEMO[store] = {}
    if name in memo:
        return memo[name]  # type: ignore[no-any-return]
    value = compute()
    with _MEMO_LOCK:
        memo[name] = value
    return value


def select_series(
    conn: Connection, f: Filters, rules: BacklogRules, as_of: int | None = None, kept: bool = False
) -> list[dict[str, Any]]:
    """The series `f` keeps, each with its state at `as_of` (default: the data's date).

    `kept`: start from every series kept in memory for this data version (the dashboard,
    which answers many requests over one version) rather than from rows SQL narrowed (a
    command, which answers one). Either way `f.keep` decides, so the set is the same."""
    whole = kept and as_of is None
    exact = False
    if f.search and f.parsed_search.wants_pulls():
        rows = _pulls(conn, kept=whole)
    elif whole:
        rows, exact = _candidates(conn, f, rules)
    else:
        rows = _load(conn, f, rules, as_of)
    if f.selects_all() or exact:
        # `keep` says yes to every row when no filter selects, and to every candidate when
        # the index that narrowed them applied the only filters given.
        return list(rows)
    keep = keeper(conn, f, as_of)
    return [r for r in rows if keep(r)]


def keeper(conn: Connection, f: Filters, as_of: int | None = None) -> Callable[[dict], bool]:
    """`f.keep` with what a search needs from the store: the date its ages count to (`as_of`,
    by default the data's date, as for states) and the series of its store terms."""
    if not f.search:
        return f.keep
    now = as_of or data_date(conn)
    found = searchsql.found(conn, f.parsed_search)
    return lambda r: f.keep(r, now, found)


def _pulls(conn: Connection, kept: bool) -> list[dict[str, Any]]:
    """Pull requests as rows the filters test (`is:pull`), each with its lists; kept per
    data version for the dashboard."""

    def load() -> list[dict[str, Any]]:
        rows = searchsql.pull_rows(conn)
        lists: dict[str, list[str]] = {}
        for key, name in conn.execute(_list_members(None)):
            lists.setdefault(key, []).append(name)
        for r in rows:
            r["lists"] = sorted(lists.get(r["series_key"], ()))
        return rows

    return per_version(conn, "pull_rows", load) if kept else load()


def _candidates(
    conn: Connection, f: Filters, rules: BacklogRules
) -> tuple[list[dict[str, Any]], bool]:
    """The kept series rows `f` may keep, in their kept order: narrowed by the day bounds (a
    sorted index of first dates), the organisation (an index by organisation) or the words
    of `q` (a TextIndex), whichever leaves fewest, each kept per data version; `keep` still
    decides each row, unless the second value says the index applied every filter given
    (the day bounds alone: the index makes `keep`'s comparisons; or the organisation
    alone), so that `keep` would say yes to each row."""
    rows = all_series(conn, rules)
    since, until = f.since_ts, f.until_ts
    if since is None and until is None and not f.org and not f.q:
        return rows, False
    given = {name for name in SERIES_PARAMS if getattr(f, name)}
    best: list[int] | None = None
    exact = False
    if f.q:
        best = text_index(conn, rules, rows).rows_with(f.q.casefold())
    if since is None and until is None and not f.org:
        return [rows[i] for i in best or ()], False
    dates, order, by_org = of_rows(conn, ("series_indexes", rules), rows, _indexes)
    if dates is not None and (since is not None or until is not None):
        lo = bisect_left(dates, since) if since is not None else 0
        hi = bisect_left(dates, until) if until is not None else len(dates)
        if best is None or hi - lo < len(best):
            best = order[lo:hi]
            exact = given <= {"since", "until"}
    if f.org:
        in_org = by_org.get(f.org, [])
        if best is None or len(in_org) < len(best):
            best = in_org
            exact = given == {"org"}
    if best is None:
        return rows, False
    return [rows[i] for i in sorted(best)], exact


def text_index(
    conn: Connection, rules: BacklogRules, rows: list[dict[str, Any]] | None = None
) -> TextIndex:
    """The TextIndex of the kept series rows (`rows`, default all_series), kept per data
    version (the server's warm-up builds it: 0.3 s on a million messages)."""
    rows = all_series(conn, rules) if rows is None else rows
    return of_rows(conn, ("series_text", rules), rows, TextIndex)


def of_rows(
    conn: Connection, name: Any, rows: list[dict[str, Any]], build: Callable[[Any], T]
) -> T:
    """`build(rows)`, kept per data version like `per_version`, for an index whose positions
    are positions in `rows`: when an update finished between reading `rows` and this, the
    kept one is of another version's rows, and one is built for these (not kept)."""
    value, of = per_version(conn, name, lambda: (build(rows), rows))
    return value if of is rows else build(rows)


class TextIndex:
    """The text `q` looks in (search.q_text) of every kept row, joined by newlines in pieces
    of PIECE rows, so that one C-level `str.find` per match finds the rows that may hold a
    word rather than a casefolded string built per row per request (250 ms over 86k series
    on a million messages). Pieces keep a row of wide characters from widening the whole
    text. A match across the newline between two rows makes the first a candidate that
    `keep` then refuses: the positions are never fewer than the rows that hold the word."""

    PIECE = 2048

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.pieces: list[tuple[int, str, list[int]]] = []
        for lo in range(0, len(rows), self.PIECE):
            texts = [q_text(r) for r in rows[lo : lo + self.PIECE]]
            starts, at = [], 0
            for t in texts:
                starts.append(at)
                at += len(t) + 1
            self.pieces.append((lo, "\n".join(texts), starts))

    def rows_with(self, needle: str) -> list[int]:
        """The positions, in order, of the rows whose text may contain `needle`."""
        out: list[int] = []
        for lo, text, starts in self.pieces:
            at = text.find(needle)
            while at >= 0:
                i = bisect_right(starts, at) - 1
                out.append(lo + i)
                if i + 1 == len(starts):
                    break
                at = text.find(needle, starts[i + 1])
        return out


def _indexes(
    rows: list[dict[str, Any]],
) -> tuple[list[int] | None, list[int], dict[str, list[int]]]:
    """The first dates in order with each one's row position (None when a row has no first
    date: no narrowing by day then), and each organisation's row positions."""
    by_org: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        by_org.setdefault(r["org"], []).append(i)
    if any(r["first_date"] is None for r in rows):
        return None, [], by_org
    order = sorted(range(len(rows)), key=lambda i: rows[i]["first_date"])
    return [rows[i]["first_date"] for i in order], order, by_org


def selected_keys(
    conn: Connection, f: Filters, rules: BacklogRules, kept: bool = False
) -> set[str] | None:
    """The keys of the series `f` keeps, or None when no filter narrows them: a caller may
    then skip the series set, where "every series" reads the same over its rows (review
    events, for one, exist for series only). A caller whose rows include pull requests or
    the groupings the metrics leave out wants `export_keys`."""
    if f.selects_all():
        return None
    return {r["series_key"] for r in select_series(conn, f, rules, kept=kept)}


def export_keys(conn: Connection, f: Filters, rules: BacklogRules) -> set[str]:
    """The keys of the series `f` keeps; without a filter, of every series the metrics
    count. So an export (or a page) without a filter holds what it holds with a filter that
    keeps every series: pull requests and the groupings the metrics leave out are not
    series, and `is:pull` is how they are selected."""
    keys = selected_keys(conn, f, rules)
    if keys is None:
        sm = schema.series_metrics
        keys = set(conn.execute(select(sm.c.series_key)).scalars())
    return keys
