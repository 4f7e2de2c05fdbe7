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
        if until is not None and start < until < end:
            end = until  # the period the data ends in: counted at the data's end
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


def test_the_period_the_data_ends_in_is_counted_at_the_data_end() -> None:
    """A series still waiting when the data ends counts as awaiting in the last row, even
    when it would go quiet for good before the period itself ends (the person page's last
    quarter said 126 where the queue said 181)."""
    q_start, q_end = period_bounds("2020-Q4", "quarter")
    data_end = q_start + 50 * DAY
    waiting = Wait(q_start - 100 * DAY, None, data_end + 10 * DAY, None)  # quiet after
    answered_late = Wait(q_start + DAY, None, None, None)
    rows = load_over_time([waiting, answered_late], "quarter", None, data_end)
    assert rows[-1]["period"] == "2020-Q4" and rows[-1]["partial"]
    assert rows[-1]["awaiting"] == 2
    assert data_end + 10 * DAY < q_end  # at the quarter's own end it would have been 1


def test_a_series_dated_after_the_data_end_is_counted_in_its_own_period() -> None:
    """Only the period the data ends in is cut at that end: a misdated series of a later
    period is counted there, not dropped while its period repeats the last count."""
    q_start, _q_end = period_bounds("2020-Q4", "quarter")
    later, _ = period_bounds("2021-Q3", "quarter")
    data_end = q_start + 50 * DAY
    rows = load_over_time(
        [Wait(q_start - 100 * DAY, None, None, None), Wait(later + DAY, None, None, None)],
        "quarter",
        None,
        data_end,
    )
    by = {r["period"]: r["awaiting"] for r in rows}
    assert by["2020-Q4"] == 1 and by["2021-Q2"] == 1 and by["2021-Q3"] == 2
