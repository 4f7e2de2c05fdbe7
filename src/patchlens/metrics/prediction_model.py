"""Time to merge as a discrete-time survival model: a logistic hazard per interval. Pure.

Why this model (docs/PREDICTION.md has the measurements): series still open when the data
end are censored, not "never merged", and a discrete-time hazard model handles that exactly
as the Kaplan-Meier estimate does, while giving for each series the whole curve of "merged by
day d" (P within 30 and 90 days, the median and an interval) from one fit. It is a logistic
regression on one row per series and interval survived, fitted by Newton's method with a
ridge penalty: deterministic (no seeds, no sampling), fast (a few thousand rows), needs only
numpy, and its weights say in words which facts moved a prediction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Interval edges in days after the moment of prediction. Merges later than the last edge
# count as "not within a year" (censored there).
EDGES = (0.0, 2.0, 7.0, 14.0, 30.0, 60.0, 90.0, 180.0, 365.0)
RIDGE = 1.0
ITERATIONS = 50


@dataclass(frozen=True)
class Sample:
    """One prediction point: features as of T, days from T to the merge (event) or to the
    end of what is known (censored)."""

    x: tuple[float, ...]
    days: float
    event: bool


@dataclass(frozen=True)
class HazardModel:
    """A fitted model: per-interval baselines, feature weights, and the scaling the features
    were standardised with."""

    features: tuple[str, ...]
    base: tuple[float, ...]  # log-odds of a merge in each interval, at average features
    weights: tuple[float, ...]  # per standardised feature
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    n: int  # prediction points it was fitted on
    events: int

    def survival(self, x: Sequence[float]) -> np.ndarray:
        """P(not merged yet) at each edge of EDGES (the first is 1)."""
        z = (np.asarray(x, float) - np.asarray(self.mean)) / np.asarray(self.scale)
        push = float(z @ np.asarray(self.weights)) if len(z) else 0.0
        h = 1.0 / (1.0 + np.exp(-(np.asarray(self.base) + push)))
        return np.concatenate([[1.0], np.cumprod(1.0 - h)])

    def contributions(self, x: Sequence[float]) -> dict[str, float]:
        """Each feature's push on the log-odds of a merge in any interval, against a series
        with average features: positive speeds the merge up."""
        z = (np.asarray(x, float) - np.asarray(self.mean)) / np.asarray(self.scale)
        return {f: float(w * v) for f, w, v in zip(self.features, self.weights, z, strict=True)}


def within(surv: np.ndarray, days: float) -> float:
    """P(merged within `days`) from a survival curve over EDGES (linear between edges)."""
    return 1.0 - float(np.interp(days, EDGES, surv))


def quantile(surv: np.ndarray, p: float) -> float | None:
    """The day by which the merge has probability p, or None if after the last edge."""
    target = 1.0 - p
    for i in range(1, len(EDGES)):
        if surv[i] <= target:
            lo, hi = surv[i - 1], surv[i]
            frac = 0.0 if lo == hi else (lo - target) / (lo - hi)
            return EDGES[i - 1] + frac * (EDGES[i] - EDGES[i - 1])
    return None


def restricted_mean(surv: np.ndarray) -> float:
    """Expected days to merge, counting a merge after the last edge as at it: the risk
    score concordance is measured on (lower: merged sooner)."""
    return float(np.trapezoid(surv, EDGES))


def _expand(samples: Sequence[Sample]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Person-period rows: (sample index, interval, merged in it) for every interval a
    sample was seen through. A sample censored inside an interval is counted in it when it was
    seen through at least half of it."""
    idx, interval, y = [], [], []
    for i, s in enumerate(samples):
        for k in range(len(EDGES) - 1):
            lo, hi = EDGES[k], EDGES[k + 1]
            if s.days < lo:
                break
            if s.event and s.days < hi:
                idx.append(i)
                interval.append(k)
                y.append(1.0)
                break
            if s.days < hi and s.days - lo < (hi - lo) / 2:
                break
            idx.append(i)
            interval.append(k)
            y.append(0.0)
            if s.days < hi:
                break
    return np.asarray(idx, int), np.asarray(interval, int), np.asarray(y, float)


def fit(samples: Sequence[Sample], features: Sequence[str], ridge: float = RIDGE) -> HazardModel:
    """Fit the hazard model on `samples` (their x in the order of `features`)."""
    k = len(EDGES) - 1
    x = np.asarray([s.x for s in samples], float).reshape(len(samples), len(features))
    mean = x.mean(axis=0) if len(samples) else np.zeros(len(features))
    scale = x.std(axis=0) if len(samples) else np.ones(len(features))
    scale = np.where(scale > 1e-9, scale, 1.0)
    z = (x - mean) / scale
    idx, interval, y = _expand(samples)
    design = np.hstack([np.eye(k)[interval], z[idx]])
    p = design.shape[1]
    beta = np.zeros(p)
    # Interval baselines start at the empirical hazard (faster, and finite for empty bins).
    for j in range(k):
        at = interval == j
        rate = (y[at].sum() + 0.5) / (at.sum() + 1.0)
        beta[j] = np.log(rate / (1 - rate))
    penalty = np.concatenate([np.full(k, 1e-4), np.full(p - k, ridge)])
    # The products are `einsum`'s own loops, not BLAS: a threaded BLAS splits the sums as it
    # sees fit, so two runs on the same points (a local update and one on a cluster) stored
    # weights differing in their last bits. The model stored must be the same in every run.
    for _ in range(ITERATIONS):
        eta = np.einsum("ij,j->i", design, beta)
        mu = 1.0 / (1.0 + np.exp(-eta))
        grad = np.einsum("ij,i->j", design, y - mu) - penalty * beta
        hess = np.einsum("ij,ik->jk", design * (mu * (1 - mu))[:, None], design) + np.diag(penalty)
        step = np.linalg.solve(hess, grad)
        beta += step
        if np.max(np.abs(step)) < 1e-8:
            break
    return HazardModel(
        tuple(features),
        tuple(float(b) for b in beta[:k]),
        tuple(float(b) for b in beta[k:]),
        tuple(float(m) for m in mean),
        tuple(float(s) for s in scale),
        len(samples),
        int(sum(1 for s in samples if s.event)),
    )


def model_to_json(model: HazardModel) -> str:
    """The model as stored (stages/prediction.py): JSON floats are written exactly (repr),
    so the model read back predicts what the fitted one does, to the last bit."""
    return json.dumps(
        {
            "features": list(model.features),
            "base": list(model.base),
            "weights": list(model.weights),
            "mean": list(model.mean),
            "scale": list(model.scale),
            "n": model.n,
            "events": model.events,
        }
    )


def model_from_json(text: str) -> HazardModel:
    d = json.loads(text)
    return HazardModel(
        tuple(d["features"]),
        tuple(d["base"]),
        tuple(d["weights"]),
        tuple(d["mean"]),
        tuple(d["scale"]),
        int(d["n"]),
        int(d["events"]),
    )
