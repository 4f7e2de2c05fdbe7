"""Percentile bootstrap confidence intervals of a two-group effect. Pure, stdlib only.

A finding compares two groups of series (large and small, new and established, this period
and the previous one). Its effect is a number computed from both groups (a ratio of medians,
a difference of shares); how sure we are of it is the spread of that number when each group is
resampled with replacement, independently, many times: the percentile interval of the
resampled effects. The random generator is seeded from a fixed seed and the finding's name,
so that a page shows the same interval every time it is drawn, whatever else is on it.
"""

from __future__ import annotations

import math
import random
import zlib
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

from patchlens.metrics.distributions import percentile

RESAMPLES = 2000
LEVEL = 0.95
SEED = 2016  # the year of the study whose questions the findings ask


@dataclass(frozen=True)
class Interval:
    """An effect with its percentile bootstrap interval. `used` is how many resamples gave a
    defined effect (a ratio whose denominator is 0 has none)."""

    value: float
    low: float
    high: float
    resamples: int
    used: int
    level: float


def median(xs: Sequence[float]) -> float | None:
    """The nearest-rank median, as every other median patchlens shows (a value that
    occurred)."""
    return percentile(list(xs), 50)


def ratio_of_medians(a: Sequence[float], b: Sequence[float]) -> float | None:
    """median(b) / median(a): how many times as long group b took as group a; None when
    a's median is 0 or a group is empty."""
    ma, mb = median(a), median(b)
    if ma is None or mb is None or ma <= 0:
        return None
    return mb / ma


def difference_of_shares(a: Sequence[float], b: Sequence[float]) -> float | None:
    """mean(b) - mean(a) of 0/1 values: the difference of two shares, in share points."""
    if not a or not b:
        return None
    return sum(b) / len(b) - sum(a) / len(a)


def _seed(name: str) -> int:
    return SEED * 1_000_003 + zlib.crc32(name.encode())


def _quantile(sorted_xs: list[float], q: float) -> float:
    """The percentile-method quantile: the value at rank ceil(q * n) (nearest rank)."""
    rank = min(len(sorted_xs), max(1, math.ceil(q * len(sorted_xs))))
    return sorted_xs[rank - 1]


def resampled_medians(xs: Sequence[float], rng: random.Random, count: int) -> list[float]:
    """The nearest-rank medians of `count` resamples of `xs` (with replacement, same size).

    Drawn without building the resamples: a resample's median is the value at index
    floor(n * U) of the sorted sample, U the r-th smallest of n uniforms (floor keeps order),
    and that order statistic is Beta(r, n - r + 1) distributed. So each median costs one
    draw instead of n draws and a sort: the same distribution, at a cost that does not grow
    with the group (tests/test_findings_stats.py compares it with plain resampling)."""
    s = sorted(xs)
    n = len(s)
    r = max(1, math.ceil(n / 2))
    return [s[min(n - 1, int(n * rng.betavariate(r, n - r + 1)))] for _ in range(count)]


def _binomial_cdf(n: int, p: float) -> list[float]:
    """P(X <= k) for k = 0..n, X ~ Binomial(n, p), from the log pmf (no underflow)."""
    if p <= 0 or p >= 1:
        return [1.0 if (p <= 0 or k == n) else 0.0 for k in range(n + 1)]
    lp, lq, top = math.log(p), math.log1p(-p), math.lgamma(n + 1)
    out, total = [], 0.0
    for k in range(n + 1):
        total += math.exp(top - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * lp + (n - k) * lq)
        out.append(total)
    return out


def resampled_shares(flags: Sequence[float], rng: random.Random, count: int) -> list[float]:
    """The shares of 1s in `count` resamples of 0/1 `flags`: a resample holds Binomial(n, p)
    ones, drawn by inverting that distribution's CDF (one draw each)."""
    n = len(flags)
    cdf = _binomial_cdf(n, sum(flags) / n)
    return [min(n, bisect_left(cdf, rng.random() * cdf[-1])) / n for _ in range(count)]


def _interval(value: float, found: list[float], resamples: int, level: float) -> Interval | None:
    """The percentile interval of the defined resampled effects (None when fewer than half
    of the resamples gave one)."""
    if len(found) * 2 < resamples:
        return None
    found.sort()
    tail = (1 - level) / 2
    return Interval(
        value, _quantile(found, tail), _quantile(found, 1 - tail), resamples, len(found), level
    )


def ratio_interval(
    a: Sequence[float],
    b: Sequence[float],
    name: str,
    resamples: int = RESAMPLES,
    level: float = LEVEL,
) -> Interval | None:
    """median(b) / median(a) with its percentile bootstrap interval: each group resampled
    independently `resamples` times, the generator seeded by `name`. None when the ratio is
    not defined on the data, or on fewer than half of the resamples (a median of 0)."""
    value = ratio_of_medians(a, b)
    if value is None:
        return None
    rng = random.Random(_seed(name))
    ma = resampled_medians(a, rng, resamples)
    mb = resampled_medians(b, rng, resamples)
    return _interval(value, [y / x for x, y in zip(ma, mb, strict=True) if x > 0], resamples, level)


def share_interval(
    a: Sequence[float],
    b: Sequence[float],
    name: str,
    resamples: int = RESAMPLES,
    level: float = LEVEL,
) -> Interval | None:
    """share(b) - share(a) of 0/1 values with its percentile bootstrap interval (as above)."""
    value = difference_of_shares(a, b)
    if value is None:
        return None
    rng = random.Random(_seed(name))
    sa = resampled_shares(a, rng, resamples)
    sb = resampled_shares(b, rng, resamples)
    return _interval(value, [y - x for x, y in zip(sa, sb, strict=True)], resamples, level)
