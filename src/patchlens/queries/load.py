"""Review load over time, per person and per subsystem: how many series awaited them at the
end of each period, how many they answered in it, and how long those had waited (docs/
METRICS.md, "Review load"). A community manager reads who is overloaded from it.

A series "awaits" a person from its first posting until the first of: their answer, its
merge, or the day it went quiet for the abandoned threshold (its last activity plus
`abandoned_days`). A version posted after their answer awaits them again, as their queue lists
it "back again" (queries/queue.py): "their answer" is the queue's, a reply to the version in
force (the latest full version and the partial re-rolls after it) sent after its newest
posting. For a subsystem, a series awaits until one of the people MAINTAINERS named for it
answers (the stored first responses by role), with the same end dates. A series that is never
in the backlog (of another tree, a pull request) awaits nobody: no queue ever lists it.
"""

from __future__ import annotations

import json
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, or_, select

from patchlens.mail.keys import key_hash
from patchlens.mail.listid import named_on
from patchlens.metrics.backlog import DAY, BacklogRules
from patchlens.metrics.distributions import is_partial, period_bounds, period_of, summary, timeline
from patchlens.queries.queue import maintainer_identities, people_names
from patchlens.queries.selection import all_series, data_date, per_version, seen_dates
from patchlens.queries.sql import chunks
from patchlens.store import schema

HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class Wait:
    """One series waiting on someone: from `start` until `answered` (their answer, None:
    never), `ends` (merged or gone quiet: it no longer waits on anybody) or never; `wait` the
    hours it had waited when answered. `key`: the series (a page tells which series the last
    row counts apart from the queue's); a series back again has a wait per return."""

    start: int
    answered: int | None
    ends: int | None
    wait: float | None
    key: str = ""


def never_in_backlog(r: dict[str, Any]) -> bool:
    """Whether a series row is never in the backlog at any date, so never awaits anyone: its
    files are in no registered repository ("other tree": its merge cannot be seen, docs/
    METRICS.md) or it is a pull request (a batch of reviewed patches). No queue lists it, and
    a load that counted it would say more than the queue (13 of 46 series on EROFS)."""
    return bool(r.get("is_pull")) or bool(r["repo_registered"] and not r["in_repo"])


def _end_of_wait(r: dict[str, Any], rules: BacklogRules, quiet: Quiet = (0, 0)) -> int | None:
    """When a series stopped waiting on anybody: merged, fixed elsewhere, or quiet for the
    abandoned threshold after its last activity (later, when that falls after the mail's
    end: `quiet_clock`)."""
    ends = []
    if r["merged"] != "none" and r["time_to_merge"] is not None:
        ends.append(r["first_date"] + int(r["time_to_merge"] * HOUR))
    elif r["merged"] != "none":
        # No time to merge (a commit dated before its posting): the date the backlog's states
        # say it turned merged and stayed so (a version posted after the person's answer
        # would otherwise await them for ever, while no queue lists a merged series).
        changes = json.loads(r.get("merge_changes") or "[]")
        if changes and changes[-1][1]:
            ends.append(int(changes[-1][0]))
    if r.get("fixed_at") is not None:
        # Fixed elsewhere (metrics/backlog.py): closed by the reply that says so.
        ends.append(int(r["fixed_at"]))
    gone = r["last_date"] + rules.abandoned_days * DAY
    end, shift = quiet
    ends.append(gone + shift if shift and gone > end else gone)
    return min(ends)


def load_over_time(
    waits: Iterable[Wait], period: str, since: int | None, until: int | None
) -> list[dict[str, Any]]:
    """Per period (oldest first, none skipped, up to `until`): `awaiting` at its end,
    `answered` in it, and the median and 90th percentile of how long those answered had
    waited (hours). Pure.

    The period `until` falls in is counted at `until` (the data's end or the filter's): at
    the period's own end, still to come, a series quiet now would already count as gone
    quiet for good, and the row would say less than the person's queue says today."""
    items = list(waits)
    if not items:
        return []
    labels = [period_of(w.start, period) for w in items]
    if until is not None:
        labels.append(period_of(max(until - 1, 0), period))
    # A series awaits at a period's end e when start < e <= its stop (the first of its answer
    # and its end): those started before e less those with both start and stop before e.
    # Sorted once, each period is a few bisections (not a pass over every series: a person
    # of a million-message store has thousands of series over thousands of periods).
    starts = sorted(w.start for w in items)
    gone = sorted(max(w.start, s) for w in items if (s := _stop(w)) is not None)
    answered = sorted(
        ((w.answered, w.wait) for w in items if w.answered is not None), key=lambda x: x[0]
    )
    answer_dates = [a for a, _ in answered]
    out = []
    for p in timeline(labels, period):
        start, end = period_bounds(p, period)
        if until is not None and start < until < end:
            end = until  # the period the data ends in (a misdated series may lie beyond)
        awaiting = bisect_left(starts, end) - bisect_left(gone, end)
        done = [
            w
            for _, w in answered[bisect_left(answer_dates, start) : bisect_left(answer_dates, end)]
        ]
        s = summary(done)
        out.append(
            {
                "period": p,
                "awaiting": awaiting,
                "answered": len(done),
                "median_wait_hours": s["median"],
                "p90_wait_hours": s["p90"],
                "partial": is_partial(p, period, since, until),
            }
        )
    return out


def _stop(w: Wait) -> int | None:
    """When `w` stopped awaiting: the first of its answer and its end (None: neither yet)."""
    stops = [d for d in (w.answered, w.ends) if d is not None]
    return min(stops) if stops else None


def awaiting_at(waits: Iterable[Wait], when: int) -> set[str]:
    """The series of `waits` awaiting at `when` (as `load_over_time` counts a period's end):
    what a page compares with the queue at the data's date."""
    return {w.key for w in waits if w.start < when and ((s := _stop(w)) is None or s >= when)}


def person_waits(
    conn: Connection, who: str, rows: list[dict[str, Any]], rules: BacklogRules
) -> list[Wait]:
    """The series (of `rows`, series_metrics rows with their state) that named `who` (by
    MAINTAINERS at posting, or To/Cc of any version) or that they answered, each with its
    waits: from the first posting, and again from each version posted after their answer
    (back again, as the queue has it), each until their answer, with how long after the
    version they answered was posted. A bot awaits nothing: bots are never named, and a
    person's load counts as the queue does; nor does a series never in the backlog."""
    if people_names(conn).get(who, ("", "", False))[2]:
        return []
    named = _named_series(conn, who)
    answers = _answer_waits(conn, who)
    expected = _expected_people(conn, rules)
    quiet = quiet_clock(conn)
    out = []
    for r in rows:
        key = r["series_key"]
        if r["author"] == who or never_in_backlog(r):
            continue
        if key not in named and who not in expected.get(key, ()) and key not in answers:
            continue
        ends = _end_of_wait(r, rules, quiet)
        for i, (start, answered, version_date) in enumerate(answers.get(key, [(None, None, None)])):
            if i and ends is not None and start is not None and start >= ends:
                break  # posted again after it was merged or went quiet: it awaited nobody
            wait = None
            if answered is not None and version_date is not None:
                wait = round(max(0, answered - version_date) / HOUR, 3)
            out.append(Wait(r["first_date"] if i == 0 else start or 0, answered, ends, wait, key))
    return out


def candidate_keys(conn: Connection, who: str, rules: BacklogRules) -> set[str]:
    """Every series `person_waits` could keep for `who` (named by To:/Cc: or MAINTAINERS,
    or answered): a person page passes only those rows, not every selected series."""
    return (
        set(_named_series(conn, who))
        | set(_answer_waits(conn, who))
        | _expecting(conn, rules).get(who, set())
    )


def _expecting(conn: Connection, rules: BacklogRules) -> dict[str, set[str]]:
    """Per person, the series MAINTAINERS named them for, per data version."""

    def compute() -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for key, people in _expected_people(conn, rules).items():
            for p in people:
                out.setdefault(p, set()).add(key)
        return out

    return per_version(conn, ("expecting", rules), compute)


def _expected_people(conn: Connection, rules: BacklogRules) -> dict[str, frozenset[str]]:
    """Each series' people named by MAINTAINERS, decoded once per data version."""

    def compute() -> dict[str, frozenset[str]]:
        return {
            r["series_key"]: frozenset(json.loads(r.get("expected_roles") or "{}"))
            for r in all_series(conn, rules)
        }

    return per_version(conn, ("expected_people", rules), compute)


def subsystem_waits(
    rows: list[dict[str, Any]], rules: BacklogRules, quiet: Quiet = (0, 0)
) -> list[Wait]:
    """The series of a subsystem (`rows`), each waiting until a maintainer or listed reviewer
    of its files first answered (stored first responses by role); `quiet`: `quiet_clock`."""
    out = []
    for r in rows:
        if never_in_backlog(r):
            continue  # no maintainer's queue ever lists it
        hours = [
            h
            for h in (r["time_to_first_response_maintainer"], r["time_to_first_response_reviewer"])
            if h is not None
        ]
        wait = min(hours) if hours else None
        answered = r["first_date"] + int(wait * HOUR) if wait is not None else None
        out.append(
            Wait(r["first_date"], answered, _end_of_wait(r, rules, quiet), wait, r["series_key"])
        )
    return out


def _named_series(conn: Connection, who: str) -> frozenset[str]:
    """The series whose postings (any version) have one of `who`'s addresses in To:/Cc:."""

    def compute() -> frozenset[str]:
        pe = schema.people
        row = conn.execute(select(pe.c.address, pe.c.addresses).where(pe.c.identity == who)).first()
        addresses = {who.removeprefix("addr:")} if who.startswith("addr:") else set()
        if row is not None:
            addresses |= {a.lower() for a in [row[0], *json.loads(row[1] or "[]")] if a}
        # MAINTAINERS addresses nobody sent from that name them, as the queue counts them.
        addresses |= {a for a, i in maintainer_identities(conn).items() if i == who}
        if _recipient_keys_complete(conn):
            return frozenset(_named_by_keys(conn, addresses))
        return frozenset(_named_by_scan(conn, addresses))

    return per_version(conn, ("named_series", who), compute)


def _named_by_scan(conn: Connection, addresses: set[str]) -> set[str]:
    """`_named_series` by a pattern over every posting's To:/Cc: (a store whose recipient keys
    are not filled yet)."""
    m, vm, sv = schema.messages, schema.version_members, schema.series_versions
    out: set[str] = set()
    for chunk in chunks(sorted(addresses), 20):
        cond = or_(
            *(c.contains(a, autoescape=True) for a in chunk for c in (m.c.to_addrs, m.c.cc_addrs))
        )
        q = (
            select(sv.c.series_key, m.c.to_addrs, m.c.cc_addrs, m.c.list_id_header)
            .join(vm, vm.c.version_key == sv.c.key)
            .join(m, m.c.id == vm.c.message_pk)
            .where(cond)
        )
        for key, to, cc, header in conn.execute(q):
            # A whole address, not a longer one containing it; never the list's own.
            if named_on(to, cc, header) & addresses:
                out.add(key)
    return out


# stages/recipients.py: the mark up to which recipient keys (message_keys kind "a") exist.
RECIPIENTS_MARK = "mark:recipients"


def _recipient_keys_complete(conn: Connection) -> bool:
    """Whether every message has its recipient keys (a store updated since they exist)."""
    st, m = schema.stage_state, schema.messages
    mark = conn.execute(select(st.c.inputs).where(st.c.stage == RECIPIENTS_MARK)).scalar()
    newest = conn.execute(select(func.max(m.c.id))).scalar()
    return newest is None or (mark is not None and int(mark) >= newest)


def _named_by_keys(conn: Connection, addresses: set[str]) -> set[str]:
    """`_named_series` through the recipient keys: the series of the postings carrying a key
    of one of `addresses`, each kept once one of its postings has one of them in To:/Cc: (a
    hash may collide). The database joins the keys to the series and names one posting per
    series (a busy maintainer is named by 150,000 messages of a million-message store, in
    some 20,000 series); only a series whose posting fails the check has its others read."""
    mk, m = schema.message_keys, schema.messages
    vm, sv = schema.version_members, schema.series_versions
    hashes = sorted({key_hash(a) for a in addresses})
    if not hashes:
        return set()
    keyed = (
        select(sv.c.series_key, vm.c.message_pk)
        .select_from(mk)
        .join(vm, vm.c.message_pk == mk.c.message_pk)
        .join(sv, sv.c.key == vm.c.version_key)
        .where(mk.c.kind == "a", mk.c.hash.in_(hashes))
    )
    first = dict(
        conn.execute(
            select(sv.c.series_key, func.max(vm.c.message_pk))
            .select_from(mk)
            .join(vm, vm.c.message_pk == mk.c.message_pk)
            .join(sv, sv.c.key == vm.c.version_key)
            .where(mk.c.kind == "a", mk.c.hash.in_(hashes))
            .group_by(sv.c.series_key)
        ).all()
    )

    def named(pks: set[int]) -> set[int]:
        """Those of `pks` that have one of the addresses in To:/Cc: (not only its hash), the
        list's own that their List-Id tells aside (mail/listid.py)."""
        out: set[int] = set()
        for chunk in chunks(sorted(pks)):
            q = select(m.c.id, m.c.to_addrs, m.c.cc_addrs, m.c.list_id_header)
            out |= {
                pk
                for pk, to, cc, header in conn.execute(q.where(m.c.id.in_(chunk)))
                if named_on(to, cc, header) & addresses
            }
        return out

    confirmed = named(set(first.values()))
    out = {key for key, pk in first.items() if pk in confirmed}
    doubtful = sorted(set(first) - out)  # a collision on their newest posting: check the rest
    for chunk in chunks(doubtful):
        rest: dict[int, set[str]] = {}
        for key, pk in conn.execute(keyed.where(sv.c.series_key.in_(chunk))):
            rest.setdefault(pk, set()).add(key)
        for pk in named(set(rest)):
            out |= rest[pk]
    return out


# A wait of a series answered by the person: (its start, None for the first posting; their
# answer that ended it, None: never; the date of the version that answer replied to).
Segment = tuple[int | None, int | None, int | None]


def _answer_waits(conn: Connection, who: str) -> dict[str, list[Segment]]:
    """series key -> its waits on `who`, for each series they answered (`answer_segments`),
    per data version (a person page asks it twice)."""
    return per_version(conn, ("answer_waits", who), lambda: _read_answer_waits(conn, who))


def _read_answer_waits(conn: Connection, who: str) -> dict[str, list[Segment]]:
    """Their replies and the versions of the series they replied to, read in two passes
    (their series alone: a busy reviewer answered thousands, of a store's hundred thousand)."""
    ev, rp, sv = schema.review_events, schema.replies, schema.series_versions
    q = (
        select(ev.c.series_key, ev.c.date, rp.c.version_key)
        .join(rp, rp.c.message_pk == ev.c.message_pk)
        .where(ev.c.who == who)
    )
    replies: dict[str, list[tuple[int, str]]] = {}
    for key, date, vkey in conn.execute(q):
        replies.setdefault(key, []).append((date, vkey))
    versions: dict[str, list[tuple[int, str, int, bool]]] = {}
    for chunk in chunks(sorted(replies)):
        q2 = select(sv.c.series_key, sv.c.seq, sv.c.key, sv.c.date, sv.c.partial).where(
            sv.c.series_key.in_(chunk)
        )
        for skey, seq, vkey, date, partial in conn.execute(q2):
            versions.setdefault(skey, []).append((seq, vkey, date, bool(partial)))
    return {
        key: answer_segments(versions.get(key, []), answers) for key, answers in replies.items()
    }


def answer_segments(
    versions: list[tuple[int, str, int, bool]], answers: list[tuple[int, str]]
) -> list[Segment]:
    """The waits of one series on a person who answered it, as their queue would have listed
    it at each date (queries/queue.py): `versions` (seq, key, date, partial), `answers`
    (date, the version key replied to). At any date the version in force is the one
    review/model.py in_force picks among those posted by then (by seq), with the partial
    re-rolls after it; the person has
    answered it when they replied to one of its postings at or after the newest of them.
    They are awaited whenever they have not: from the first posting, and again from each
    posting after their answer (back again). Pure."""
    seq_of = {k: seq for seq, k, _d, _p in versions}
    date_of = {k: d for _s, k, d, _p in versions}
    # Postings before replies of the same second: a reply at a posting's date answers it.
    events = sorted(
        [(d, 0, seq, partial, "") for seq, _k, d, partial in versions]
        + [(d, 1, seq_of[k], False, k) for d, k in answers if k in seq_of]
    )
    posted: list[tuple[int, int]] = []  # (seq, date) of the postings so far
    base: int | None = None  # seq of the latest full version posted so far
    current_date = 0  # the newest posting of the version in force
    out: list[Segment] = []
    start: int | None = None  # the open wait's start (None: the first posting)
    waiting = False
    for date, kind, seq, partial, vkey in events:
        if kind == 0:
            posted.append((seq, date))
            if not partial and (base is None or seq > base):
                base = seq
            if base is None or seq >= base:  # a posting of the version in force
                current_date = max(d for s, d in posted if base is None or s >= base)
                if not waiting:  # the first posting, or back again after their answer
                    waiting, start = True, (date if len(posted) > 1 else None)
            continue  # a partial re-roll of a version no longer in force changes nothing
        if waiting and (base is None or seq >= base) and date >= current_date:
            out.append((start, date, date_of[vkey]))
            waiting = False
    if waiting:
        out.append((start, None, None))
    return out


def span_until(conn: Connection, until: int | None) -> int:
    """The end of the data a load table covers: a date filter's end, else the data's date."""
    return until if until is not None else data_date(conn) + 1


Quiet = tuple[int, int]  # (the mail's end, how much later a series goes quiet after it)


def quiet_clock(conn: Connection) -> Quiet:
    """Where a repository goes on after the mail ends, idleness stops at the mail's end and
    goes on from the data's date (queries/selection.py idle_until): a series goes quiet that
    much later when its abandoned threshold falls after the mail's end, so that one quiet by
    the data's date is one quiet by the mail's end, as the queue has it. (0, 0): no shift."""
    data, seen = seen_dates(conn)
    return (seen, data - seen) if data > seen else (0, 0)
