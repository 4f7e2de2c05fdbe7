"""The review load over time (queries/load.py) counted by bisection equals the plain
definition: per period, the series started before its end and not yet stopped (answered or
ended) at its end, and the waits of those answered in it."""

from __future__ import annotations

import random

from patchlens.metrics.distributions import period_bounds, period_of, summary, timeline
from patchlens.queries.load import Wait, load_over_time

DAY = 86400


def _plain(waits: list[Wait], period: str, until: int | None) -> list[tuple]:
    labels = [period_of(w.start, period) for w in waits]
    if until is not None:
        labels.append(period_of(until - 1, period))
    out = []
    for p in timeline(labels, period):
        start, end = period_bounds(p, period)
        awaiting = sum(
            1
            for w in waits
            if w.start < end
            and (w.answered is None or w.answered >= end)
            and (w.ends is None or w.ends >= end)
        )
        done = [w.wait for w in waits if w.answered is not None and start <= w.answered < end]
        s = summary(done)
        out.append((p, awaiting, len(done), s["median"], s["p90"]))
    return out


def _random_waits(rng: random.Random, n: int) -> list[Wait]:
    t0 = 1_600_000_000
    out = []
    for _ in range(n):
        start = t0 + rng.randrange(0, 400 * DAY)
        answered = start + rng.randrange(0, 90 * DAY) if rng.random() < 0.6 else None
        ends = start + rng.randrange(-DAY, 200 * DAY) if rng.random() < 0.7 else None
        wait = (answered - start) / 3600 if answered is not None else None
        out.append(Wait(start, answered, ends, wait))
    return out


def test_load_over_time_equals_the_plain_definition() -> None:
    rng = random.Random(11)
    for period in ("month", "quarter", "year"):
        for n in (0, 1, 7, 300):
            waits = _random_waits(rng, n)
            until = 1_600_000_000 + 500 * DAY
            got = [
                (
                    r["period"],
                    r["awaiting"],
                    r["answered"],
                    r["median_wait_hours"],
                    r["p90_wait_hours"],
                )
                for r in load_over_time(waits, period, None, until)
            ]
            assert got == (_plain(waits, period, until) if waits else [])
            if n == 300:
                assert any(r[1] for r in got) and any(r[2] for r in got)
