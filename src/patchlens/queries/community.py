"""Who reviews and who is reviewed: review given against contributions received, per person
and per organisation, and real comments against flag-only reviews."""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import Connection, Integer, func, select

from patchlens.queries.selection import per_version
from patchlens.queries.sql import chunks
from patchlens.store import schema


def _chunks(series: set[str] | None) -> list[list[str] | None]:
    """The series in groups a query may bind (one group of None: every series)."""
    if series is None:
        return [None]
    return list(chunks(sorted(series)))


def _given(
    conn: Connection, series: set[str] | None
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Review given per person and per organisation, summed by the database in chunks of
    series (the chunks are disjoint, so sums and per-person distinct series add up). Rows are
    read as plain tuples: there are as many as people and (organisation, person) pairs."""
    if series is not None and len(series) > BY_KEY_LIMIT:
        return _given_from_pairs(_pair_sums(conn), series)
    ev = schema.review_events
    given: dict[str, dict[str, Any]] = {}
    org_given: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(series):
        where = ev.c.series_key.in_(chunk) if chunk is not None else True
        person = (
            select(
                ev.c.who,
                func.count(),
                func.sum(ev.c.review.cast(Integer)),
                func.sum((ev.c.review & ~ev.c.substantive).cast(Integer)),
                func.sum(ev.c.substantive.cast(Integer)),
                func.sum(ev.c.lines_written),
                func.count(func.distinct(ev.c.series_key)),
            )
            .where(where)
            .group_by(ev.c.who)
        )
        for who, replies, reviews, flag_only, substantive, lines, n in conn.execute(person):
            g = given.get(who)
            if g is None:
                g = given[who] = {
                    "replies": 0,
                    "reviews": 0,
                    "flag_only": 0,
                    "substantive": 0,
                    "lines": 0,
                    "series": 0,
                }
            g["series"] += n
            g["replies"] += replies
            g["reviews"] += int(reviews or 0)
            g["flag_only"] += int(flag_only or 0)
            g["substantive"] += int(substantive or 0)
            g["lines"] += int(lines or 0)
        per_org = (
            select(
                ev.c.org,
                ev.c.who,
                func.count(),
                func.sum(ev.c.review.cast(Integer)),
                func.sum(ev.c.lines_written),
            )
            .where(where)
            .group_by(ev.c.org, ev.c.who)
        )
        for org, who, replies, reviews, lines in conn.execute(per_org):
            o = org_given.get(org)
            if o is None:
                o = org_given[org] = {"replies": 0, "reviews": 0, "lines": 0, "who": set()}
            o["replies"] += replies
            o["reviews"] += int(reviews or 0)
            o["lines"] += int(lines or 0)
            o["who"].add(who)
    return given, org_given


# Up to this many series, review given is summed by the database, a chunk of series keys at a
# time (by the series_key index); beyond, from the per-series sums kept per data version.
BY_KEY_LIMIT = 2000

# (series_key, who, org, replies, reviews, flag_only, substantive, lines)
Pair = tuple[str, str, str, int, int, int, int, int]


def review_pairs(conn: Connection) -> list[Pair]:
    """Review given summed per series, person and organisation, kept per data version: a
    large selection of series adds these up instead of binding thousands of keys into
    queries on every request."""
    return per_version(conn, "review_pairs", lambda: _review_pairs(conn))


def _review_pairs(conn: Connection) -> list[Pair]:
    ev = schema.review_events
    q = select(
        ev.c.series_key,
        ev.c.who,
        ev.c.org,
        func.count(),
        func.sum(ev.c.review.cast(Integer)),
        func.sum((ev.c.review & ~ev.c.substantive).cast(Integer)),
        func.sum(ev.c.substantive.cast(Integer)),
        func.sum(ev.c.lines_written),
    ).group_by(ev.c.series_key, ev.c.who, ev.c.org)
    return [
        (key, who, org, n, int(rv or 0), int(fo or 0), int(sb or 0), int(ln or 0))
        for key, who, org, n, rv, fo, sb, ln in conn.execute(q)
    ]


class _Sums:
    """Per-series sums as arrays, kept per data version: the rows' series, person and
    organisation as codes (in order of first appearance, None included), their counts as
    columns. A selection of tens of thousands of series is summed by vector operations
    (0.27 s a request over a million-message store's 300,000 (series, person) sums as tuples)."""

    def __init__(self, rows: list[tuple[Any, ...]], counts: int) -> None:
        codes: list[dict[Any, int]] = [{}, {}, {}]
        coded = [[c.setdefault(r[j], len(c)) for r in rows] for j, c in enumerate(codes)]
        self.names = [list(c) for c in codes]
        self.key, self.who, self.org = (np.array(c, dtype=np.int64) for c in coded)
        self.values = np.array([r[3 : 3 + counts] for r in rows], dtype=np.int64).reshape(
            len(rows), counts
        )
        # The first row of each (series, person): a person's series counted once. All rows
        # of a series are selected or none, so the first one stands for the pair.
        seen: set[tuple[int, int]] = set()
        first = []
        for k, w in zip(coded[0], coded[1], strict=True):
            first.append((k, w) not in seen)
            seen.add((k, w))
        self.first = np.array(first, dtype=bool)

    def selected(self, series: set[str] | None) -> np.ndarray:
        """Which rows belong to the selected series (every row for None)."""
        if series is None:
            return np.ones(len(self.key), dtype=bool)
        wanted = np.fromiter((k in series for k in self.names[0]), bool, len(self.names[0]))
        return wanted[self.key]

    def sums(self, by: np.ndarray, chosen: np.ndarray, n: int) -> np.ndarray:
        """Each column's sum per code of `by` over the chosen rows (n codes x columns)."""
        at = by[chosen]
        return np.stack(
            [
                np.bincount(at, weights=self.values[chosen, j], minlength=n)
                for j in range(self.values.shape[1])
            ],
            axis=1,
        ).astype(np.int64)


def _pair_sums(conn: Connection) -> _Sums:
    return per_version(conn, "review_pair_sums", lambda: _Sums(review_pairs(conn), 5))


def reviewers_among(conn: Connection, series: set[str]) -> set[str]:
    """Everyone who replied to one of `series`, from the per-series sums kept per version."""
    sums = _pair_sums(conn)
    chosen = sums.selected(series)
    people = sums.names[1]
    return {people[i] for i in np.flatnonzero(np.bincount(sums.who[chosen], minlength=len(people)))}


def _given_from_pairs(
    sums: _Sums, series: set[str] | None
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """What `_given` sums in SQL, summed over the per-series sums of the selected series."""
    chosen = sums.selected(series)
    people, orgs = sums.names[1], sums.names[2]
    per = sums.sums(sums.who, chosen, len(people))
    n_series = np.bincount(sums.who[chosen & sums.first], minlength=len(people))
    active = np.bincount(sums.who[chosen], minlength=len(people))
    given = {
        people[i]: {
            "replies": int(per[i, 0]),
            "reviews": int(per[i, 1]),
            "flag_only": int(per[i, 2]),
            "substantive": int(per[i, 3]),
            "lines": int(per[i, 4]),
            "series": int(n_series[i]),
        }
        for i in np.flatnonzero(active)
    }
    per_org = sums.sums(sums.org, chosen, len(orgs))
    org_active = np.bincount(sums.org[chosen], minlength=len(orgs))
    org_given: dict[str, dict[str, Any]] = {
        orgs[i]: {
            "replies": int(per_org[i, 0]),
            "reviews": int(per_org[i, 1]),
            "lines": int(per_org[i, 4]),
            "who": set(),
        }
        for i in np.flatnonzero(org_active)
    }
    for pair in np.unique(sums.org[chosen] * len(people) + sums.who[chosen]):
        o, w = divmod(int(pair), len(people))
        org_given[orgs[o]]["who"].add(people[w])
    return given, org_given


def review_balance(
    conn: Connection, top: int | None = 25, series: set[str] | None = None
) -> dict[str, Any]:
    """Review given against contributions received, per person and per organisation, from
    the stored review events and series metrics (made with the run's identities, mailmaps
    and organisation map), over the given series (None: all). Review given is the replies to
    those series, contributions are those series; an organisation is each message's.

    Each list is cut at `top` (None: all); `*_total` says how long the whole list is.

    Over all series the balance is a function of the store alone: it is computed once per
    data version (queries.selection.per_version) rather than from every review event on
    every request. The result is the caller's (the lists are copies)."""
    if series is None:
        whole = per_version(conn, "review_balance", lambda: _balance(conn, None))
    else:
        whole = _balance(conn, series)
    out = dict(whole)
    out["people"] = list(whole["people"])  # never cut
    for k in ("reviewers", "contributors", "orgs"):
        out[k] = whole[k][:top]
    return out


def _balance(conn: Connection, series: set[str] | None) -> dict[str, Any]:
    """review_balance with every list whole."""
    sm, pe = schema.series_metrics, schema.people
    given, org_given = _given(conn, series)
    received: dict[str, dict[str, int]] = {}
    org_received: dict[str, dict[str, int]] = {}

    def contributions() -> list[tuple[str, str, str, int, int]]:
        q = select(sm.c.series_key, sm.c.author, sm.c.org, sm.c.patches, sm.c.review_replies)
        return [tuple(r) for r in conn.execute(q)]  # type: ignore[misc]

    def everyone() -> dict[str, tuple[Any, ...]]:
        q = select(pe.c.identity, pe.c.name, pe.c.address, pe.c.org, pe.c.is_bot)
        return {r[0]: tuple(r) for r in conn.execute(q)}

    # Every series' author and every person's name: the same on every request until an
    # update finishes, so read once per data version.
    authored = per_version(conn, "contribution_sums", lambda: _Sums(contributions(), 2))
    chosen = authored.selected(series)
    authors, author_orgs = authored.names[1], authored.names[2]
    per = authored.sums(authored.who, chosen, len(authors))
    n = np.bincount(authored.who[chosen], minlength=len(authors))
    for i in np.flatnonzero(n):
        received[authors[i]] = {
            "series": int(n[i]),
            "patches": int(per[i, 0]),
            "replies": int(per[i, 1]),
        }
    per_org = authored.sums(authored.org, chosen, len(author_orgs))
    n_org = np.bincount(authored.org[chosen], minlength=len(author_orgs))
    for i in np.flatnonzero(n_org):
        org_received[author_orgs[i]] = {"series": int(n_org[i]), "replies": int(per_org[i, 1])}
    names = per_version(conn, "people_names", everyone)
    people = []
    nobody = (None, None, None, None, False)
    for who in set(given) | set(received):
        _i, name, address, org, is_bot = names.get(who, nobody)
        if is_bot:
            continue
        g = given.get(who, {})
        rc = received.get(who, {})
        replies_received = rc.get("replies", 0)
        replies = g.get("replies", 0)
        people.append(
            {
                "identity": who,
                "name": name or "",
                "address": address or who.removeprefix("addr:"),
                "org": org or "",
                "review_replies": replies,
                "reviews": g.get("reviews", 0),
                "flag_only": g.get("flag_only", 0),
                "substantive": g.get("substantive", 0),
                "lines_written": g.get("lines", 0),
                "series_reviewed": g.get("series", 0),
                "series_authored": rc.get("series", 0),
                "patches_authored": rc.get("patches", 0),
                "replies_received": replies_received,
                "given_per_received": round(replies / replies_received, 2)
                if replies_received
                else None,
            }
        )
    orgs: dict[str, dict[str, Any]] = {}
    for name in set(org_given) | set(org_received):
        og = org_given.get(name, {})
        orc = org_received.get(name, {})
        replies, recv = og.get("replies", 0), orc.get("replies", 0)
        orgs[name] = {
            "org": name,
            "review_replies": replies,
            "reviews": og.get("reviews", 0),
            "lines_written": og.get("lines", 0),
            "reviewers": len(og.get("who", ())),
            "series_authored": orc.get("series", 0),
            "replies_received": recv,
            "given_per_received": round(replies / recv, 2) if recv else None,
        }
    reviewers = sorted(
        (p for p in people if p["review_replies"]),
        key=lambda p: (-p["review_replies"], p["identity"]),
    )
    contributors = sorted(
        (p for p in people if p["series_authored"]),
        key=lambda p: (-p["series_authored"], p["identity"]),
    )
    org_list = sorted(orgs.values(), key=lambda o: (-o["review_replies"], o["org"]))
    total_reviews = sum(p["reviews"] for p in people)
    flag_only = sum(p["flag_only"] for p in people)
    return {
        "people": sorted(people, key=lambda p: (-p["review_replies"], p["identity"])),
        "reviewers": reviewers,
        "reviewers_total": len(reviewers),
        "contributors": contributors,
        "contributors_total": len(contributors),
        "orgs": org_list,
        "orgs_total": len(org_list),
        "reviews": total_reviews,
        "flag_only_reviews": flag_only,
        "substantive_reviews": total_reviews - flag_only,
        "review_replies": sum(p["review_replies"] for p in people),
    }


def busiest_reviewers(conn: Connection, n: int) -> list[str]:
    """The addresses of the `n` people with the most review events (the reviewers whose
    pages are asked for most, and cost most to read first: the dashboard's warm-up reads
    them)."""
    ev, pe = schema.review_events, schema.people
    top = (
        select(ev.c.who, func.count().label("n"))
        .group_by(ev.c.who)
        .order_by(func.count().desc(), ev.c.who)
        .limit(n)
        .subquery()
    )
    return [
        address
        for (address,) in conn.execute(
            select(pe.c.address)
            .join(top, top.c.who == pe.c.identity)
            .where(pe.c.address != "")
            .order_by(top.c.n.desc(), top.c.who)
        )
    ]
