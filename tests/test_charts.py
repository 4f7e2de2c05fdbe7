"""Charts a reader can read: durations per period on a log axis above the series each period
rests on, empty periods kept, the partial period labelled, a dominant bar cut with its value.

The pure parts are checked on small made-up rows; the charts themselves on the EROFS store,
where one 2021-Q1 series makes a p90 of 258 days while the medians are hours to days.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

import pytest

from patchlens.metrics.distributions import (
    by_period,
    fill_periods,
    is_partial,
    period_bounds,
    period_of,
    timeline,
)
from patchlens.web import charts


def ts(y: int, m: int, d: int = 1) -> int:
    return int(datetime(y, m, d, tzinfo=UTC).timestamp())


# --- periods ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "period", "start", "end"),
    [
        ("2024-12", "month", ts(2024, 12), ts(2025, 1)),
        ("2024-02", "month", ts(2024, 2), ts(2024, 3)),
        ("2024-Q4", "quarter", ts(2024, 10), ts(2025, 1)),
        ("2024-Q1", "quarter", ts(2024, 1), ts(2024, 4)),
        ("2024", "year", ts(2024, 1), ts(2025, 1)),
    ],
)
def test_period_bounds(label, period, start, end):
    assert period_bounds(label, period) == (start, end)
    assert period_of(start, period) == label
    assert period_of(end - 1, period) == label
    assert period_of(end, period) != label


def test_timeline_keeps_empty_periods():
    assert timeline(["2019-Q4", "2020-Q3"], "quarter") == [
        "2019-Q4",
        "2020-Q1",
        "2020-Q2",
        "2020-Q3",
    ]
    assert timeline(["2020-01", "2019-11"], "month") == ["2019-11", "2019-12", "2020-01"]
    assert timeline([], "month") == []


def test_by_period_gaps_counts_and_partial():
    rows = [
        {"first_date": ts(2023, 11, 5), "time_to_merge": 10.0},
        {"first_date": ts(2023, 12, 5), "time_to_merge": None},
        {"first_date": ts(2024, 7, 2), "time_to_merge": 30.0},
        {"first_date": ts(2024, 7, 9), "time_to_merge": 50.0},
    ]
    # The data ends on 2024-08-04: 2024-Q3 is the running, partial quarter.
    out = by_period(rows, "time_to_merge", "quarter", None, ts(2024, 8, 4))
    assert [r["period"] for r in out] == ["2023-Q4", "2024-Q1", "2024-Q2", "2024-Q3"]
    assert [r["series"] for r in out] == [2, 0, 0, 2]
    assert [r["n"] for r in out] == [1, 0, 0, 2]
    assert out[1]["median"] is None and out[1]["p90"] is None
    assert out[3]["median"] == 30.0 and out[3]["p90"] == 50.0
    assert [r["partial"] for r in out] == [False, False, False, True]
    # A `since` in the middle of the first quarter makes it partial too.
    out = by_period(rows, "time_to_merge", "quarter", ts(2023, 11, 1), ts(2025, 1, 1))
    assert [r["partial"] for r in out] == [True, False, False, False]


def test_is_partial_at_the_edges():
    assert not is_partial("2024-Q3", "quarter", None, ts(2024, 10, 1))
    assert is_partial("2024-Q3", "quarter", None, ts(2024, 10, 1) - 1)
    assert not is_partial("2024-Q3", "quarter", ts(2024, 7, 1), None)
    assert is_partial("2024-Q3", "quarter", ts(2024, 7, 1) + 1, None)


def test_fill_periods():
    rows = [{"period": "2024-01", "series": 3}, {"period": "2024-04", "series": 1}]
    out = fill_periods(rows, "month", {"series": 0})
    assert [(r["period"], r["series"]) for r in out] == [
        ("2024-01", 3),
        ("2024-02", 0),
        ("2024-03", 0),
        ("2024-04", 1),
    ]


# --- reading the SVG ----------------------------------------------------------------------


def panels(svg: str) -> list[str]:
    """The nested pygal charts of a panel chart, top first."""
    return re.findall(r'<svg x="0" y="\d+".*?</svg>', svg, re.S)


def series_points(panel: str, index: int) -> list[tuple[float, float, str]]:
    """(x, y, period label) of the dots of series `index` in a pygal line chart (drawn in its
    overlay)."""
    overlay = panel.split('class="plot overlay">', 1)[1].split('class="plot text-overlay"')[0]
    parts = overlay.split('<g class="series serie-')
    part = next(p for p in parts if p.startswith(f'{index} color-{index}"'))
    return [
        (float(x), float(y), label)
        for x, y, label in re.findall(
            r'<circle cx="([\d.]+)" cy="([\d.]+)".*?<desc class="x_label">([^<]*)</desc>',
            part,
            re.S,
        )
    ]


def series_dots(panel: str, index: int) -> list[float]:
    return [y for _x, y, _label in series_points(panel, index)]


def plot_height(panel: str) -> float:
    m = re.search(r'class="plot"><rect x="0" y="0" width="[\d.]+" height="([\d.]+)"', panel)
    assert m
    return float(m.group(1))


def assert_each_period_in_place(panel: str, rows: list[dict]) -> None:
    """The dots stand at the place of their period among all `rows` (none skipped): evenly
    spaced by their index among all periods, the empty ones counted."""
    index = {r["period"]: i for i, r in enumerate(rows)}
    points = sorted(
        (index[label.split()[0]], x) for k in range(3) for x, _y, label in series_points(panel, k)
    )
    (i0, x0), (i1, x1) = points[0], points[-1]
    assert i1 > i0
    step = (x1 - x0) / (i1 - i0)
    for i, x in points:
        assert x == pytest.approx(x0 + (i - i0) * step, abs=0.05), rows[i]["period"]


def y_ticks(panel: str) -> dict[str, float]:
    """The y axis ticks of a pygal chart: label -> y."""
    return {
        label: float(y)
        for y, label in re.findall(r'<text x="-5" y="([\d.]+)" class="[^"]*">([^<]+)</text>', panel)
    }


def assert_log_axis(ticks: dict[str, float]) -> None:
    """The ticks stand at distances proportional to the log of the durations: 1 h to 1 d is
    log(24), 1 d to 1 wk is log(7)."""
    h, d, wk = ticks["1 h"], ticks["1 d"], ticks["1 wk"]
    assert (h - d) / (d - wk) == pytest.approx(math.log(24) / math.log(7), rel=0.01)


def x_labels(panel: str) -> list[str]:
    m = re.search(r'<g class="axis x[^"]*">(.*?)</g></g>', panel, re.S)
    assert m
    return re.findall(r"<text[^>]*>([^<]*)</text>", m.group(1))


def test_percentiles_chart_made_up_rows():
    rows = [
        {"period": "2024-Q1", "series": 10, "n": 8, "median": 2.0, "p75": 30, "p90": 6000},
        {"period": "2024-Q2", "series": 0, "n": 0, "median": None, "p75": None, "p90": None},
        {"period": "2024-Q3", "series": 4, "n": 1, "median": 0.0, "p75": 0.0, "p90": 0.0},
    ]
    rows[2]["partial"] = True
    svg = charts.percentiles_over_time("t", rows)
    assert "<script" not in svg
    top, low = panels(svg)
    ticks = y_ticks(top)
    assert {"1 h", "1 d", "1 wk", "1 yr"} <= set(ticks)
    assert_log_axis(ticks)
    # Three periods on both axes, the empty one too; the last labelled partial.
    assert x_labels(low) == ["2024-Q1", "2024-Q2", "2024-Q3 (partial)"]
    # The empty quarter is a gap (no dot); the zero durations sit on the lowest tick.
    median = series_dots(top, 0)
    assert len(median) == 2
    floor = min(ticks, key=lambda k: -ticks[k])
    assert floor == "1 h"
    # (pygal writes a tick's text 0.35 font sizes below its line)
    assert median[1] == pytest.approx(ticks[floor] - 0.35 * 11, abs=0.5)


def test_dominant_bar_is_cut_and_labelled():
    items = [("Gao Xiang", 1824), ("Chao Yu", 500), ("Christoph Hellwig", 211), ("Yue Hu", 137)]
    assert charts.fitted_axis([v for _k, v in items]) == pytest.approx(625)
    svg = charts.hbars("Review replies given", items)
    values = re.findall(
        r'<text text-anchor="(\w+)" x="[\d.]+" y="[\d.]+" class="value">([^<]*)<', svg
    )
    # Bottom to top (pygal's order): the first item is on top, cut, its value inside its end;
    # the others' values beside their bars.
    assert values == [
        ("start", "137"),
        ("start", "211"),
        ("start", "500"),
        ("end", "1,824 (bar cut)"),
    ]
    names = re.findall(r'<text x="-5" y="[\d.]+" class="[^"]*">([^<]*)</text>', svg)
    assert names[-1] == "Gao Xiang" and names[0] == "Yue Hu"
    # Without a dominant value nothing is cut.
    assert charts.fitted_axis([852, 647, 208, 92]) is None
    assert "bar cut" not in charts.hbars("Series by state", [("a", 852), ("b", 647)])


# --- on the EROFS store -------------------------------------------------------------------


def spread(values: list[float]) -> float:
    """The range of the middle 80% of the values (outliers left out)."""
    xs = sorted(values)
    return xs[math.ceil(0.9 * len(xs)) - 1] - xs[math.ceil(0.1 * len(xs)) - 1]


def test_time_to_merge_medians_are_readable(client):
    """On a linear axis the largest p90 (more than 60 days) squeezes most medians (the
    middle 80% of them) into a small part of the plot's height (14% since merges by pull
    request count, 6% before, 258 days' p90 before merges by notice); on the log axis they
    spread over a good part of it, half as far again at least."""
    over = client.get("/api/performance").json()["over_time"]["time_to_merge_hours"]
    p90 = max(r["p90"] for r in over if r["p90"] is not None)
    medians = [r["median"] for r in over if r["median"] is not None]
    assert p90 / 24 > 60, "EROFS has a p90 of more than 60 days"
    linear_share = spread(medians) / p90
    assert linear_share < 0.2

    svg = client.get("/charts/perf-time_to_merge.svg").text
    top, low = panels(svg)
    assert "series per period" in low
    ys = series_dots(top, 0)
    assert len(ys) == len(medians)
    share = spread(ys) / plot_height(top)
    assert share > max(0.25, 1.5 * linear_share), f"medians spread over {share:.0%} of the plot"
    assert_log_axis(y_ticks(top))
    # Every period of the table is on the axis, each at its own place.
    assert [p[2] for p in series_points(top, 0)] == [
        r["period"] + (" (partial)" if r["partial"] else "") for r in over if r["median"]
    ]
    assert_each_period_in_place(top, over)
    assert "log-scale" in svg and "panels" in svg


def test_partial_and_empty_periods_on_erofs(client):
    """The archive ends in August 2026: its quarter is partial, in the API, the table and the
    chart. An organisation that posted in some quarters only keeps the others as gaps."""
    perf = client.get("/api/performance").json()
    rows = perf["over_time"]["time_to_first_response_hours"]
    assert rows[-1]["period"] == "2026-Q3" and rows[-1]["partial"] is True
    assert not any(r["partial"] for r in rows[:-1])
    html = client.get("/performance").text
    assert re.search(r'<tr class="partial"><td>2026-Q3 <a class="partial"', html)
    assert "2026-Q3 (partial)" in client.get("/charts/perf-time_to_merge.svg").text
    trend = client.get("/api/overview").json()["trend"]
    assert trend[-1]["partial"] and trend[-1]["period"] == "2026-Q3"

    # Find an organisation whose series leave quarters empty between the first and the last.
    orgs = client.get("/api/community").json()["orgs"]
    for o in orgs:
        got = client.get("/api/performance", params={"org": o["org"]}).json()
        rows = got["over_time"]["time_to_merge_hours"]
        dotted = [i for i, r in enumerate(rows) if r["n"]]
        gaps = [i for i, r in enumerate(rows) if r["series"] == 0]
        if dotted and any(dotted[0] < i < dotted[-1] for i in gaps):
            break
    else:
        pytest.fail("no organisation with an empty quarter between its first and last")
    labels = [r["period"] for r in rows]
    assert labels == timeline(labels, "quarter"), "no quarter skipped"
    assert sum(r["series"] for r in rows) == got["series"]
    svg = client.get("/charts/perf-time_to_merge.svg", params={"org": o["org"]}).text
    assert_each_period_in_place(panels(svg)[0], rows)
    # A date filter cutting a quarter makes it partial.
    cut = client.get("/api/performance", params={"until": "2024-02-15"}).json()
    assert cut["over_time"]["time_to_merge_hours"][-1] == {
        **cut["over_time"]["time_to_merge_hours"][-1],
        "period": "2024-Q1",
        "partial": True,
    }


def test_community_chart_cuts_the_dominant_reviewer(client):
    top = client.get("/api/community").json()["reviewers"][:15]
    first, second = top[0]["review_replies"], top[1]["review_replies"]
    assert first > 3 * second, "one reviewer dominates on EROFS"
    svg = client.get("/charts/reviewers.svg").text
    assert f"{first:,} (bar cut)" in svg
    # The bars, bottom to top: the last is the dominant one, cut at the end of the axis; the
    # second reaches 80% of the axis (it reached 27% of 1,824 when the axis was not fitted).
    lengths = [
        float(w)
        for w in re.findall(
            r'<rect x="[\d.]+" y="[\d.]+" rx="0" ry="0" '
            r'width="([\d.]+)" height="[\d.]+" class="rect',
            svg,
        )
    ]
    assert len(lengths) == len(top)
    full = lengths[-1]
    assert lengths[-2] / full == pytest.approx(second / (second * 1.25), abs=0.01)
    assert lengths[0] / full == pytest.approx(top[-1]["review_replies"] / (second * 1.25), abs=0.01)
    assert math.isclose(charts.fitted_axis([p["review_replies"] for p in top]), second * 1.25)


def test_an_empty_period_breaks_the_lines():
    def row(p: str, v: float | None) -> dict:
        return {
            "period": p,
            "series": int(v is not None),
            "n": int(v is not None),
            "median": v,
            "p75": v,
            "p90": v,
        }

    rows = [
        row("2024-01", 2.0),
        row("2024-02", 30.0),
        row("2024-03", None),
        row("2024-04", 300.0),
        row("2024-05", 5.0),
    ]
    top = panels(charts.percentiles_over_time("t", rows))[0]
    plot = top.split('class="plot">', 1)[1].split('class="plot overlay"')[0]
    median = plot.split('<g class="series serie-0 color-0">', 1)[1].split("</g>", 1)[0]
    lines = re.findall(r'<path d="M([^"]*)" class="line reactive nofill"', median)
    assert len(lines) == 2, "two pieces of line, none across the empty month"
    assert all(len(re.findall(r"[\d.]+ [\d.]+", d)) == 2 for d in lines)
