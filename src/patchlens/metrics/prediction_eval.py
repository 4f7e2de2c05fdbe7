"""How good predictions of time to merge are: concordance, AUC, Brier score, calibration. Pure.

Censoring-aware where it must be: concordance (Harrell's C) compares only pairs whose order
is known (the earlier time is a merge); AUC, Brier and calibration of "merged within H days"
use only the prediction points whose outcome at H is known (merged within H, or seen open
for at least H days).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np


def concordance(days: Sequence[float], events: Sequence[bool], predicted: Sequence[float]) -> float:
    """Harrell's C: of the pairs where one merged before the other was last seen, the share
    where the model predicted the earlier merge (a shorter predicted time); ties count half.
    0.5 is chance, 1 is perfect. NaN without a comparable pair."""
    t = np.asarray(days, float)
    e = np.asarray(events, bool)
    p = np.asarray(predicted, float)
    good = 0.0
    total = 0.0
    for i in np.flatnonzero(e):
        later = t > t[i]
        n = int(later.sum())
        if not n:
            continue
        total += n
        good += float((p[later] > p[i]).sum()) + 0.5 * float((p[later] == p[i]).sum())
    return good / total if total else float("nan")


def known_outcome(
    days: Sequence[float], events: Sequence[bool], horizon: float
) -> tuple[np.ndarray, np.ndarray]:
    """Which prediction points have a known outcome at `horizon`, and that outcome."""
    t = np.asarray(days, float)
    e = np.asarray(events, bool)
    merged = e & (t <= horizon)
    known = merged | (t >= horizon)
    return known, merged


def auc(labels: Sequence[bool], scores: Sequence[float]) -> float:
    """Area under the ROC curve (Mann-Whitney, ties half); NaN with one class only."""
    y = np.asarray(labels, bool)
    s = np.asarray(scores, float)
    pos, neg = s[y], s[~y]
    if not len(pos) or not len(neg):
        return float("nan")
    order = np.sort(neg)
    below = np.searchsorted(order, pos, side="left")
    equal = np.searchsorted(order, pos, side="right") - below
    return float((below + 0.5 * equal).sum() / (len(pos) * len(neg)))


def brier(labels: Sequence[bool], probs: Sequence[float]) -> float:
    """Mean squared difference between the predicted probability and what happened (0 or 1)."""
    y = np.asarray(labels, float)
    p = np.asarray(probs, float)
    return float(np.mean((p - y) ** 2)) if len(y) else float("nan")


CALIBRATION_BINS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def calibration(labels: Sequence[bool], probs: Sequence[float]) -> list[dict[str, float | int]]:
    """Fixed bins of predicted probability: the mean predicted and the share observed."""
    y = np.asarray(labels, float)
    p = np.asarray(probs, float)
    rows: list[dict[str, float | int]] = []
    for lo, hi in itertools.pairwise(CALIBRATION_BINS):
        at = (p >= lo) & ((p < hi) if hi < 1.0 else (p <= hi))
        n = int(at.sum())
        if n:
            rows.append(
                {
                    "from": lo,
                    "to": hi,
                    "n": n,
                    "predicted": round(float(p[at].mean()), 3),
                    "observed": round(float(y[at].mean()), 3),
                }
            )
    return rows
