"""Predictions of time to merge, and their measured accuracy on a time split. Pure.

`Corpus` is what the store holds (read by queries/prediction.py); from it this module builds
prediction points (a series as of a moment of its life, while it is still open), fits the
model and the two baselines on the points before a split date with what was known then, and
scores all three on the series posted after it (docs/PREDICTION.md).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from patchlens.metrics.model import SeriesFacts
from patchlens.metrics.prediction_eval import (
    auc,
    brier,
    calibration,
    concordance,
    known_outcome,
)
from patchlens.metrics.prediction_features import (
    FACT_GROUPS,
    FEATURES,
    LANDMARKS,
    SIZE_FEATURES,
    History,
    combined,
    facts_in_words,
    features_at,
    history_features_at,
    record_of,
)
from patchlens.metrics.prediction_model import (
    HazardModel,
    Sample,
    fit,
    quantile,
    restricted_mean,
    within,
)

DAY = 86400
HORIZONS = (30, 90)
# The share of series (by posting date) the default split trains on.
TRAIN_SHARE = 0.7
MODELS = ("model", "size only", "median")
# Fewest merges a model is fitted on; fewer and the figures would say nothing.
MIN_EVENTS = 20
# The stored model (stages/prediction.py) is fitted at a weekly cut on the prediction points
# dated in the TRAIN_DAYS before it, of at most MAX_TRAIN series (an even sample of them): a
# refit then costs the same on a million messages as on fifteen thousand, and the model
# follows the project's recent habits (docs/PREDICTION.md measures both bounds).
TRAIN_DAYS = 365
MAX_TRAIN = 10_000
WEEK = 7 * DAY


def train_since(newest: int | None, cut: int, train_days: int = TRAIN_DAYS) -> int:
    """The first date of the training window at `cut`: `train_days` before the cut, or before
    the newest series posted before it (`newest`) when the mail stopped earlier (an archive
    that ends while its repository goes on: its last year is what there is to learn from)."""
    top = cut if newest is None else min(cut, newest + DAY)
    return top - train_days * DAY


def training_keys(
    candidates: Iterable[tuple[str, int]],
    cut: int,
    since: int,
    max_train: int = MAX_TRAIN,
) -> list[str]:
    """Of (key, first date) pairs, the series with a landmark in [since, cut) (posted before
    the cut, and no more than the last landmark's days before `since`); when there are more
    than `max_train`, an even sample of them: those whose key hashes lowest. Sorted by key.

    Why a sample and not the most recent: the most recent series of a busy list are those
    whose merge is least known at the cut (days of follow-up, not months), and a model fitted
    on them misjudges the long intervals; capped to a third of EROFS' series, the sample
    ranked and scored better (docs/PREDICTION.md). A hash of the key decides, so the set does
    not depend on the order anything was read in."""
    lo = since - LANDMARKS[-1] * DAY
    inside = [k for k, d in candidates if lo <= d < cut]
    if len(inside) > max_train:
        inside = sorted(inside, key=_spread)[:max_train]
    return sorted(inside)


def _spread(key: str) -> str:
    return hashlib.sha1(key.encode()).hexdigest()


@dataclass
class Corpus:
    """The series predictions are about (`series`: those whose merge a registered repository
    or a notice can show), with their MAINTAINERS facts, the date the data end, and every
    series under review (`everyone`, default `series`): the authors' records and the queues
    count them all, since whether a series' files are in a repository is known only from the
    repository's later history."""

    series: dict[str, SeriesFacts]
    expected: dict[str, dict[str, str]]
    subsystems: dict[str, tuple[str, ...]]
    end: int
    everyone: dict[str, SeriesFacts] | None = None
    # The records the features read, when given (the stored ones, stages/prediction.py):
    # then `everyone` need only hold the series features are asked of.
    records: History | None = None

    def __post_init__(self) -> None:
        everyone = self.series if self.everyone is None else self.everyone
        self.all = everyone
        self.history = self.records or History(
            {k: record_of(se, self.subsystems.get(k, ())) for k, se in everyone.items()}
        )

    def features(self, key: str, t: int) -> dict[str, float] | None:
        return features_at(
            self.all[key],
            t,
            self.history,
            self.expected.get(key),
            self.subsystems.get(key, ()),
        )


class FeatureSource(Protocol):
    """What prediction points are made from: the records, and the features of a series at T."""

    history: History

    def features(self, key: str, t: int) -> dict[str, float] | None: ...


@dataclass
class StoredFeatures:
    """The features of training series at their landmarks without their facts: the own part
    as the metrics stage stored it (`own`: per series, one entry per LANDMARKS, from
    `landmarks_from_stored`), the history part from the records. A series without stored
    landmarks (a row written before they were) is asked of `facts`, which must hold it."""

    history: History
    own: dict[str, list[dict[str, float] | None]]
    facts: Corpus | None = None

    def features(self, key: str, t: int) -> dict[str, float] | None:
        own = self.own.get(key)
        if own is None:
            assert self.facts is not None, f"no stored landmarks and no facts for {key}"
            return self.facts.features(key, t)
        rec = self.history.records[key]
        days, rest = divmod(t - rec.first_date, DAY)
        assert rest == 0 and days in LANDMARKS, f"{key}: {t} is not at a landmark"
        feats = own[LANDMARKS.index(days)]
        if feats is None:
            return None
        return combined(
            feats,
            history_features_at(key, rec.author, rec.first_date, t, self.history, rec.groups),
        )


@dataclass(frozen=True)
class Point:
    key: str
    landmark: int
    t: int
    feats: dict[str, float]
    days: float
    event: bool


def points(
    corpus: FeatureSource,
    keys: Sequence[str],
    end: int,
    before: int | None = None,
    since: int | None = None,
) -> list[Point]:
    """Prediction points of `keys` at each landmark while still open, with the outcome as
    seen at `end` (a merge after `end` is not known: censored there); only points dated
    before `before` when given (training takes only what was known at the split), and none
    dated before `since` (a bounded training window)."""
    out = []
    for key in keys:
        rec = corpus.history.records[key]
        for landmark in LANDMARKS:
            t = rec.first_date + landmark * DAY
            if t > end or (before is not None and t >= before):
                break
            if rec.merged_by(t):
                break
            if since is not None and t < since:
                continue
            feats = corpus.features(key, t)
            if feats is None:
                break
            event = rec.merged is not None and rec.merged <= end
            stop = rec.merged if event and rec.merged is not None else end
            out.append(Point(key, landmark, t, feats, (stop - t) / DAY, event))
    return out


def _samples(pts: Sequence[Point], names: Sequence[str]) -> list[Sample]:
    return [Sample(tuple(p.feats[n] for n in names), p.days, p.event) for p in pts]


def training_points(
    corpus: FeatureSource, keys: Sequence[str], cut: int, since: int
) -> list[Point]:
    """The bounded training points at `cut`: dated in [since, cut), outcomes censored at the
    cut (what was known then)."""
    return points(corpus, keys, cut, before=cut, since=since)


def fit_model(train: Sequence[Point]) -> HazardModel:
    """The model (all features) on `train`: what the update stores and pages read."""
    return fit(_samples(train, FEATURES), FEATURES)


def fit_all(train: Sequence[Point]) -> dict[str, HazardModel]:
    """The model and both baselines, fitted on the same points."""
    return {
        "model": fit_model(train),
        "size only": fit(_samples(train, SIZE_FEATURES), SIZE_FEATURES),
        "median": fit(_samples(train, ()), ()),
    }


def split_date(corpus: Corpus, share: float = TRAIN_SHARE) -> int:
    """The posting date below which `share` of the series lie."""
    dates = sorted(corpus.history.records[k].first_date for k in corpus.series)
    return dates[min(len(dates) - 1, int(len(dates) * share))]


def _score(model: HazardModel, pts: Sequence[Point]) -> dict[str, Any]:
    surv = [model.survival([p.feats[n] for n in model.features]) for p in pts]
    days = [p.days for p in pts]
    events = [p.event for p in pts]
    out: dict[str, Any] = {
        "concordance": _round(concordance(days, events, [restricted_mean(s) for s in surv])),
        "points": len(pts),
    }
    for h in HORIZONS:
        known, merged = known_outcome(days, events, h)
        probs = np.asarray([within(s, h) for s in surv])
        out[f"auc_{h}d"] = _round(auc(merged[known], probs[known]))
        out[f"brier_{h}d"] = _round(brier(merged[known], probs[known]))
        out[f"known_{h}d"] = int(known.sum())
        if h == 30:
            out["calibration_30d"] = calibration(merged[known], probs[known])
    return out


def evaluate(corpus: Corpus, split: int | None = None, bounded: bool = False) -> dict[str, Any]:
    """Fit on the series posted before `split` (default: `split_date`) with what was known
    then; score the model and the baselines on the series posted from `split` on, at every
    landmark while open, against what the data show by their end. `bounded`: train as the
    stored model is trained (`training_keys`, `training_points` at the split)."""
    split = split_date(corpus) if split is None else split
    targets = [corpus.history.records[k] for k in corpus.series]
    before = [r.key for r in targets if r.first_date < split]
    after = [r.key for r in targets if r.first_date >= split]
    if bounded:
        newest = max((r.first_date for r in targets if r.first_date < split), default=None)
        since = train_since(newest, split)
        before = training_keys(((r.key, r.first_date) for r in targets), split, since)
        train = training_points(corpus, before, split, since)
    else:
        train = points(corpus, sorted(before), split, before=split)
    test = points(corpus, sorted(after), corpus.end)
    result: dict[str, Any] = {
        "split": split,
        "end": corpus.end,
        "train": {"series": len(before), "points": len(train), "merges": _merges(train)},
        "test": {"series": len(after), "points": len(test), "merges": _merges(test)},
        "landmarks_days": list(LANDMARKS),
        "bounded": {"train_days": TRAIN_DAYS, "max_train": MAX_TRAIN} if bounded else None,
        "models": {},
        "by_landmark": {},
    }
    if _merges(train) < MIN_EVENTS or _merges(test) < MIN_EVENTS:
        result["withheld"] = (
            f"too few merges to fit or score a model (train {_merges(train)}, test "
            f"{_merges(test)}; at least {MIN_EVENTS} each)"
        )
        return result
    models = fit_all(train)
    for name, model in models.items():
        result["models"][name] = _score(model, test)
        result["by_landmark"][name] = {
            str(lm): {
                k: v
                for k, v in _score(model, [p for p in test if p.landmark == lm]).items()
                if not k.startswith("calibration")
            }
            for lm in LANDMARKS
        }
    result["weights"] = dict(
        sorted(zip(FEATURES, models["model"].weights, strict=True), key=lambda kv: -abs(kv[1]))
    )
    return result


def _merges(pts: Sequence[Point]) -> int:
    return sum(1 for p in pts if p.event)


def _round(x: float) -> float | None:
    return None if math.isnan(x) else round(x, 4)


def predict(corpus: Corpus, model: HazardModel, key: str, t: int) -> dict[str, Any] | None:
    """The prediction for one open series as of T: P(merged within 30 and 90 days), the
    median days to merge with a 25%-75% interval (None: beyond a year), and the three facts
    that weigh most for it, in words."""
    feats = corpus.features(key, t)
    if feats is None:
        return None
    x = [feats[n] for n in model.features]
    surv = model.survival(x)
    words = facts_in_words(
        feats,
        corpus.series[key],
        t,
        corpus.history,
        corpus.expected.get(key),
        corpus.subsystems.get(key, ()),
    )
    push = weighed_facts(model.contributions(x))
    top = sorted(push, key=lambda f: -abs(push[f]))[:3]
    return {
        "as_of": t,
        "merged_within_30d": round(within(surv, 30), 3),
        "merged_within_90d": round(within(surv, 90), 3),
        "median_days": _days(quantile(surv, 0.5)),
        "interval_days": [_days(quantile(surv, 0.25)), _days(quantile(surv, 0.75))],
        "facts": [
            {"fact": words[f], "feature": f, "effect": "sooner" if push[f] > 0 else "later"}
            for f in top
        ],
        "trained_on": model.n,
    }


def weighed_facts(push: dict[str, float]) -> dict[str, float]:
    """Each fact's push: a feature's own, or the sum of its group's (FACT_GROUPS), so that
    one fact measured by correlated features is weighed once, in the direction of the whole.
    Pure."""
    grouped = {f: g for g, members in FACT_GROUPS.items() for f in members}
    out: dict[str, float] = {}
    for f, v in push.items():
        g = grouped.get(f, f)
        out[g] = out.get(g, 0.0) + v
    return out


def _days(x: float | None) -> float | None:
    return None if x is None else round(x, 1)
