"""The prediction step of `update`: the time-to-merge model, fitted at the start of the data's
last ISO week and stored, so that a page reads it and never fits (docs/PREDICTION.md).

The cut W is the data's end (`data_date`) floored to Monday 00:00 UTC. The model is fitted as
`eval-predict` fits at a split: on the prediction points dated before W, outcomes censored at
W, of the series with a landmark in the TRAIN_DAYS before W (or before the newest series posted
before W, when the mail stopped earlier), at most MAX_TRAIN of them (an even sample). A
training series' own features at its landmarks are those the metrics stage stored with its
row (its facts are loaded only when the row has none); the features that read other series
come from the records the metrics stage stored (the window the features look back over, and
the training authors' earlier series), never from every series' facts. An update whose cut
is the stored one costs four small indexed queries (the data's end, whether a repository is
registered, the stored cut); the model is refitted when the week turns, when none is stored,
or when everything is redone (`update --force`, other code or configuration).

A store without a registered repository (none whose history touched a file, the metrics'
`repo_registered`) has no model: there, the only series whose merge can be seen are those a
maintainer's notice merged, so no open series can be predicted (a series page says so) and a
model fitted on those alone would learn only from series that merged. Migration 0025 drops
the model a store built before this holds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, delete, select

from patchlens.identity.people import Identities
from patchlens.metrics.prediction_features import week_start
from patchlens.queries.selection import data_date
from patchlens.stages.metrics import repo_registered
from patchlens.stages.progress import Reporter, StepReport
from patchlens.store import schema
from patchlens.store.writer import sync_table

if TYPE_CHECKING:
    from patchlens.metrics.prediction_features import History

# Training series whose facts are in memory at a time (the records of the others are small).
BATCH = 2_000


@dataclass
class PredictionReport(StepReport):
    """The cut the stored model is at, whether this update fitted it (and on how much), and
    how long the step took (`update` prints it)."""

    cut: int | None = None
    refitted: bool = False
    series: int = 0
    points: int = 0
    merges: int = 0
    seconds: float = 0.0
    # No repository registered: no open series can be seen merged, so no model (module doc).
    no_repository: bool = False


def run_prediction(
    engine: Engine, reporter: Reporter, people: Identities, force: bool = False
) -> PredictionReport:
    """Refit and store the model when the cut moved, none is stored, or `force`; otherwise
    only read the stored cut. `people` are the identities the metrics stage used."""
    t0 = time.perf_counter()
    rep = PredictionReport()
    with engine.begin() as conn:
        cut = rep.cut = week_start(data_date(conn))
        pm = schema.prediction_model
        if not repo_registered(conn):
            # A model stored while a repository was registered goes with it, so that the
            # store is the one a single update of its sources gives.
            rep.no_repository = True
            rep.changed_rows += conn.execute(delete(pm)).rowcount or 0
            rep.seconds = time.perf_counter() - t0
            return rep
        stored = conn.execute(select(pm.c.cut)).scalar()
        if stored == cut and not force:
            rep.seconds = time.perf_counter() - t0
            return rep
        rep.refitted = True
        row = fitted_at(conn, cut, people, reporter, rep)
        rep.changed_rows += sync_table(conn, pm, ("cut",), [row])
    rep.seconds = time.perf_counter() - t0
    return rep


def training_history(
    conn: Connection, since: int, cut: int, authors: set[str], oldest: int | None
) -> History:
    """The stored records every training point's features read: the series posted in the
    LOOKBACK_DAYS before the earliest training point (`since`) up to the cut, and every
    earlier series of the training series' authors."""
    from patchlens.metrics.prediction_features import DAY, LOOKBACK_DAYS, History
    from patchlens.queries.prediction import records_between, records_of_authors

    lo = since - LOOKBACK_DAYS * DAY
    window = History(records_between(conn, lo, cut - 1, oldest))
    # The authors' series posted after `lo` are in the window: only the older ones are read
    # by author, and they count in the authors' records alone (at a million messages they
    # were 24,000 of the 53,000 records, and were read twice): their merges, not their events
    # or subsystems, which only the queues and rates read.
    older = records_of_authors(conn, authors, lo, oldest, merges_only=True)
    return window.with_older(older.values())


def fitted_at(
    conn: Connection,
    cut: int,
    people: Identities,
    reporter: Reporter,
    rep: PredictionReport | None = None,
) -> dict[str, object]:
    """The prediction_model row fitted at `cut` (its model None with fewer than MIN_EVENTS
    merges among the training points)."""
    # Fitting's modules (numpy among them) are imported here, when a fit is due: an update
    # that finds the stored model at its cut does not load them.
    from patchlens.metrics.prediction import (
        LANDMARKS,
        MAX_TRAIN,
        MIN_EVENTS,
        TRAIN_DAYS,
        Corpus,
        Point,
        StoredFeatures,
        fit_model,
        train_since,
        training_keys,
        training_points,
    )
    from patchlens.metrics.prediction_features import DAY
    from patchlens.metrics.prediction_model import model_to_json
    from patchlens.queries.prediction import (
        newest_seen_before,
        oldest_maintainers,
        seen_before,
        seen_between,
        stored_landmarks_of,
        target_facts,
    )

    rep = rep or PredictionReport()
    oldest = oldest_maintainers(conn)
    since = train_since(newest_seen_before(conn, cut), cut)
    candidates = seen_between(conn, since - LANDMARKS[-1] * DAY, cut)
    keys = training_keys(((k, d) for k, d, _a in candidates), cut, since)
    wanted = set(keys)
    history = training_history(
        conn, since, cut, {a for k, _d, a in candidates if k in wanted}, oldest
    )
    train: list[Point] = []
    with reporter.task("fitting the time-to-merge model (series)", len(keys)) as task:
        for i in range(0, len(keys), BATCH):
            batch = keys[i : i + BATCH]
            own = stored_landmarks_of(conn, batch, oldest)
            # Facts only for series whose row has no stored landmarks (none, once the metrics
            # stage has written every row with this code).
            missing = [k for k in batch if k not in own]
            corpus = None
            if missing:
                facts, expected, subsystems = target_facts(conn, missing, people, oldest)
                corpus = Corpus(facts, expected, subsystems, cut, records=history)
            source = StoredFeatures(history, own, corpus)
            train += training_points(source, batch, cut, since)
            task.advance(len(batch))
    merges = sum(1 for p in train if p.event)
    model = fit_model(train) if merges >= MIN_EVENTS else None
    rep.series, rep.points, rep.merges = len(keys), len(train), merges
    return {
        "cut": cut,
        "model": model_to_json(model) if model is not None else None,
        "series": len(keys),
        "points": len(train),
        "merges": merges,
        "corpus": seen_before(conn, cut),
        "train_days": TRAIN_DAYS,
        "max_train": MAX_TRAIN,
    }
