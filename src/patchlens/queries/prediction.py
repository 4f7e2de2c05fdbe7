"""Predictions of time to merge read from the store: the corpus and the evaluation
(`patchlens eval-predict`), the stored records and model (written by `update`:
stages/metrics.py, stages/prediction.py), and the series page's estimate
(docs/PREDICTION.md).

A page never fits: it reads the model `update` stored, and computes only its own series'
features as of the data's end, from that series' facts and the stored records of the series
its features can see (its author's, and those posted in the LOOKBACK_DAYS before the end,
kept per store, data version and day for every page). Predictions are made as of the store's
newest data, not the wall clock, so results repeat.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, func, literal, or_, select

from patchlens.identity.people import Identities
from patchlens.metrics.backlog import OPEN_STATES
from patchlens.metrics.model import SeriesFacts
from patchlens.metrics.prediction import (
    MIN_EVENTS,
    Corpus,
    evaluate,
    predict,
)
from patchlens.metrics.prediction_features import (
    DAY,
    LOOKBACK_DAYS,
    History,
    SeriesRecord,
    landmarks_from_stored,
    records_from_stored,
)
from patchlens.metrics.prediction_model import HazardModel, model_from_json
from patchlens.queries.evidence import load_series
from patchlens.queries.formats import iso
from patchlens.queries.selection import data_date, data_version, per_version, review_date
from patchlens.queries.sql import chunks
from patchlens.store import schema

MAINTAINERS_SEEN = schema.MAINTAINERS_SEEN


def oldest_maintainers(conn: Connection) -> int | None:
    """The date of the oldest MAINTAINERS version the metrics stage used: it also decided the
    roles of the series posted before it (stages/metrics.py), which were not known then; a
    file given in the configuration (dated 0) was. None without MAINTAINERS."""
    st = schema.stage_state
    text = conn.execute(select(st.c.inputs).where(st.c.stage == MAINTAINERS_SEEN)).scalar()
    return min(
        (schema.maintainers_seen(k)[1] for k in (json.loads(text) if text else [])), default=None
    )


def _known(oldest: int | None, first_date: int) -> bool:
    return oldest is not None and oldest <= first_date


def seen_clause() -> Any:
    """The series whose merge can be seen: under review in a registered repository's files,
    or merged by a maintainer's notice. Predictions are about these."""
    sm = schema.series_metrics
    return or_(and_(sm.c.repo_registered, sm.c.in_repo), sm.c.merged_by == "notice")


def load_corpus(conn: Connection, end: int | None = None) -> Corpus:
    """Every series whose merge can be seen with its facts, and every series under review for
    the records: what `eval-predict` scores on (an offline command; a page or an update reads
    only the stored records). `end` the date the data end (default: the store's newest
    message or commit)."""
    sm = schema.series_metrics
    rows = {
        r.series_key: r
        for r in conn.execute(
            select(
                sm.c.series_key,
                sm.c.in_repo,
                sm.c.repo_registered,
                sm.c.merged_by,
                sm.c.subsystems,
                sm.c.expected_roles,
            )
        )
    }
    everyone = {se.key: se for se in load_series(conn) if se.key in rows and se.kind == "series"}
    oldest = oldest_maintainers(conn)

    def known(key: str) -> bool:
        return _known(oldest, everyone[key].first_date)

    seen = {
        k
        for k, r in rows.items()
        if k in everyone and ((r.repo_registered and r.in_repo) or r.merged_by == "notice")
    }
    return Corpus(
        {k: everyone[k] for k in sorted(seen)},
        {k: json.loads(rows[k].expected_roles or "{}") if known(k) else {} for k in everyone},
        {k: tuple(json.loads(rows[k].subsystems or "[]")) if known(k) else () for k in everyone},
        data_date(conn) if end is None else end,
        everyone,
    )


def evaluation(conn: Connection, split: int | None = None, bounded: bool = False) -> dict[str, Any]:
    """`patchlens eval-predict`: the time split's figures for the model and both baselines
    (`bounded`: the model trained as `update` trains the stored one)."""
    return evaluate(load_corpus(conn), split, bounded)


# --- the stored records ---------------------------------------------------------------------


def _record_query(merges_only: bool = False) -> Any:
    """The columns of a stored record; with `merges_only`, empty event dates and subsystems
    instead of the stored ones (see `records_of_authors`)."""
    sm = schema.series_metrics
    empty = literal("[]")
    return select(
        sm.c.series_key,
        sm.c.author,
        sm.c.first_date,
        (empty if merges_only else sm.c.subsystems).label("subsystems"),
        (empty if merges_only else sm.c.event_dates).label("event_dates"),
        sm.c.merge_changes,
    )


def _records(rows: Iterable[Any], oldest: int | None) -> dict[str, SeriesRecord]:
    got = [
        (
            r.series_key,
            r.author,
            r.first_date,
            tuple(json.loads(r.subsystems or "[]")) if _known(oldest, r.first_date) else (),
            r.event_dates,
            r.merge_changes,
        )
        for r in rows
    ]
    return {rec.key: rec for rec in records_from_stored(got)}


def records_between(
    conn: Connection, lo: int, hi: int, oldest: int | None
) -> dict[str, SeriesRecord]:
    """The stored records of the series first posted in (lo, hi] (by the first-date index)."""
    sm = schema.series_metrics
    query = _record_query().where(sm.c.first_date > lo, sm.c.first_date <= hi)
    return _records(conn.execute(query), oldest)


def records_of_authors(
    conn: Connection,
    authors: Iterable[str],
    hi: int,
    oldest: int | None,
    *,
    merges_only: bool = False,
) -> dict[str, SeriesRecord]:
    """The stored records of every series of `authors` first posted by `hi` (by the author
    index): their earlier series, whatever their age. `merges_only`: without their event
    dates and subsystems, which only the queues and rates read, for records that count in
    their authors' records alone (`History.with_older`): at a million messages, a third of a
    refit's records, and most of the text it read."""
    sm = schema.series_metrics
    out: dict[str, SeriesRecord] = {}
    for chunk in chunks(sorted(set(authors))):
        query = _record_query(merges_only).where(sm.c.author.in_(chunk), sm.c.first_date <= hi)
        out.update(_records(conn.execute(query), oldest))
    return out


def stored_landmarks_of(
    conn: Connection, keys: Iterable[str], oldest: int | None
) -> dict[str, list[dict[str, float] | None]]:
    """The own features the metrics stage stored at each landmark of the series of `keys`
    (those whose row has them, written by this code), with MAINTAINERS' roles as known at
    posting."""
    sm = schema.series_metrics
    out: dict[str, list[dict[str, float] | None]] = {}
    for chunk in chunks(sorted(set(keys))):
        query = select(sm.c.series_key, sm.c.first_date, sm.c.landmark_features).where(
            sm.c.series_key.in_(chunk), sm.c.landmark_features.is_not(None)
        )
        for key, first_date, text in conn.execute(query):
            got = landmarks_from_stored(text, _known(oldest, first_date))
            if got is not None:  # None: written by other code, so its facts are read
                out[key] = got
    return out


class _NotAsked(dict[str, int]):
    """The first dates `load_series` decides the new-contributor flag from, which no feature
    reads (an author's earlier series come from the records): every author's is unknown, so
    no series is flagged and no series' first version is read."""

    def __missing__(self, key: str) -> int:
        return -1


def target_facts(
    conn: Connection, keys: list[str], people: Identities, oldest: int | None
) -> tuple[dict[str, SeriesFacts], dict[str, dict[str, str]], dict[str, tuple[str, ...]]]:
    """The facts of the series of `keys` (by indexed queries), with what MAINTAINERS said of
    each at posting (nothing when it was not known then)."""
    facts = {se.key: se for se in load_series(conn, people, keys, first=_NotAsked())}
    sm = schema.series_metrics
    expected: dict[str, dict[str, str]] = {}
    subsystems: dict[str, tuple[str, ...]] = {}
    for chunk in chunks(sorted(keys)):
        for r in conn.execute(
            select(sm.c.series_key, sm.c.first_date, sm.c.subsystems, sm.c.expected_roles).where(
                sm.c.series_key.in_(chunk)
            )
        ):
            known = _known(oldest, r.first_date)
            expected[r.series_key] = json.loads(r.expected_roles or "{}") if known else {}
            subsystems[r.series_key] = tuple(json.loads(r.subsystems or "[]")) if known else ()
    return facts, expected, subsystems


# --- the stored model -----------------------------------------------------------------------


@dataclass(frozen=True)
class StoredModel:
    """The prediction_model row: the cut, the model (None: too few merges) and its counts."""

    cut: int
    model: HazardModel | None
    series: int
    points: int
    merges: int
    corpus: int


def stored_model(conn: Connection) -> StoredModel | None:
    """The model `update` stored, or None when no update with this code has run."""
    pm = schema.prediction_model
    r = conn.execute(select(pm)).first()
    if r is None:
        return None
    model = model_from_json(r.model) if r.model else None
    return StoredModel(r.cut, model, r.series, r.points, r.merges, r.corpus)


# The last page window of each store: (data version, day, History). One per store, not one per
# day a server stays up on the same data (a window of a million-message store is some 17,000
# records with their span counters).
_WINDOWS: dict[str, tuple[Any, int, History]] = {}
_WINDOWS_LOCK = threading.Lock()


def _window(conn: Connection, end: int) -> History:
    """The records every page's features at `end` read besides the author's: the series
    posted in the LOOKBACK_DAYS before `end`, taken for the whole day of `end` (a superset,
    which changes nothing: every window is bounded by T), kept per store for its data version
    and that day."""
    day = end - end % DAY
    url, version = str(conn.engine.url), data_version(conn)
    with _WINDOWS_LOCK:
        kept = _WINDOWS.get(url)
    if kept is not None and kept[0] == version and kept[1] == day:
        return kept[2]
    oldest = oldest_maintainers(conn)
    history = History(records_between(conn, day - LOOKBACK_DAYS * DAY, day + DAY, oldest))
    with _WINDOWS_LOCK:
        _WINDOWS[url] = (version, day, history)
    return history


def warm(conn: Connection) -> None:
    """Read what every series page's estimate reads first in a data version (the stored model
    and the window of records at the data's end): the dashboard's warm-up asks it, so that
    the first page of a version does not wait for it (about 0.3 s on a million messages)."""
    if per_version(conn, "prediction-model", lambda: stored_model(conn)) is not None:
        _window(conn, review_date(conn))


def series_prediction(conn: Connection, key: str, state: str | None) -> dict[str, Any]:
    """The series page's estimate for an open series, as of the date review is seen up to
    (the data's end, or the mail's end before it: queries/selection.py review_date), from
    the stored model; otherwise why there is none (`reason`)."""
    if state not in OPEN_STATES:
        return {"reason": f"the series is {state or 'not tracked'}: nothing to predict"}
    sm = schema.series_metrics
    row = conn.execute(
        select(sm.c.author, sm.c.first_date).where(sm.c.series_key == key, seen_clause())
    ).first()
    if row is None:
        return {"reason": "no registered repository could show this series merged"}
    kept = per_version(conn, "prediction-model", lambda: stored_model(conn))
    if kept is None:
        return {"reason": "no model stored yet: the next `patchlens update` fits it"}
    if kept.model is None:
        return {"reason": f"too few merged series to fit a model (fewer than {MIN_EVENTS})"}
    end = review_date(conn)
    if row.first_date > end:
        return {"reason": "the series was posted after the data's end"}
    oldest = per_version(conn, "prediction-maintainers", lambda: oldest_maintainers(conn))
    history = _window(conn, end).with_author(
        row.author, list(records_of_authors(conn, [row.author], end, oldest).values())
    )
    facts, expected, subsystems = target_facts(conn, [key], Identities(), oldest)
    se = facts[key]
    _as_stored(conn, se, row.author)
    out = predict(Corpus(facts, expected, subsystems, end, records=history), kept.model, key, end)
    if out is None:
        return {"reason": "the series was posted after the data's end"}
    out["as_of"] = iso(out["as_of"])
    out["cut"] = iso(kept.cut)
    return out


def _as_stored(conn: Connection, se: SeriesFacts, author: str) -> None:
    """Give the series loaded without the store's people (which a page does not build: it
    reads every sender) the identities the metrics stage gave it: the author's from its
    row, each reviewer reply's from review_events (what `reviewers` and `maintainer_answered`
    compare)."""
    se.author = author
    ev = schema.review_events
    query = select(ev.c.message_pk, ev.c.who).where(ev.c.series_key == se.key)
    who = {pk: w for pk, w in conn.execute(query)}
    for v in se.versions:
        for r in v.replies:
            r.who = who.get(r.pk, r.who)


def seen_between(conn: Connection, lo: int, hi: int) -> list[tuple[str, int, str]]:
    """(key, first date, author) of the series whose merge can be seen, first posted in
    [lo, hi) (by the first-date index)."""
    sm = schema.series_metrics
    return [
        (k, d, a)
        for k, d, a in conn.execute(
            select(sm.c.series_key, sm.c.first_date, sm.c.author).where(
                seen_clause(), sm.c.first_date >= lo, sm.c.first_date < hi
            )
        )
    ]


def seen_before(conn: Connection, hi: int) -> int:
    """How many series whose merge can be seen were first posted before `hi`."""
    sm = schema.series_metrics
    query = select(func.count()).select_from(sm).where(seen_clause(), sm.c.first_date < hi)
    return int(conn.execute(query).scalar() or 0)


def newest_seen_before(conn: Connection, hi: int) -> int | None:
    """The first date of the newest series whose merge can be seen posted before `hi`."""
    sm = schema.series_metrics
    query = select(func.max(sm.c.first_date)).where(seen_clause(), sm.c.first_date < hi)
    return conn.execute(query).scalar()
