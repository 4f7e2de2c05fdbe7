"""Charts as SVG, drawn on the server with pygal, each with the numbers it shows so that the
page can give them as a table too. No script: the SVG is served as an image, and the config
script pygal embeds even without its JavaScript (labels are mail display names) is removed.

Two kinds of figures mislead when drawn plainly, and are drawn differently here:

- durations over time: one slow series makes a 90th percentile of 250 days, and a linear axis
  then flattens the median and p75 (days, hours) onto the floor. They are drawn on a
  logarithmic axis whose ticks are plain durations (1 h, 1 d, 1 wk, 30 d, 1 yr), above a small
  panel of how many series each period rests on: a period of 2 series is not a trend. An
  empty period is a gap in the lines.
- bars where one value dwarfs the rest (one reviewer with 1,824 replies against tens): the
  axis is fitted to the others and the long bar is cut, with its value written on it; every
  bar carries its value.
"""

from __future__ import annotations

import math
import re
from typing import Any

import pygal
from pygal.style import Style

# What every chart shares: white ground, grey text, one font.
_BASE_STYLE: dict[str, Any] = {
    "background": "#ffffff",
    "plot_background": "#ffffff",
    "foreground": "#333333",
    "foreground_strong": "#111111",
    "foreground_subtle": "#888888",
    "font_family": "sans-serif",
    "label_font_size": 11,
    "major_label_font_size": 11,
    "legend_font_size": 12,
}
STYLE = Style(
    **_BASE_STYLE,
    colors=("#2b6cb0", "#dd6b20", "#38a169", "#805ad5", "#e53e3e", "#718096", "#d69e2e"),
    title_font_size=14,
    value_font_size=10,
)
# The panel of counts under a time chart: grey, so that it reads as context, not as a metric.
COUNT_STYLE = Style(
    **_BASE_STYLE,
    colors=("#cbd5e0", "#718096"),
    opacity=".8",
    opacity_hover=".8",
    title_font_size=12,
)
_SCRIPT = re.compile(r"<script\b.*?</script>", re.S | re.I)
_PLOT = re.compile(
    r'<g transform="translate\(([\d.]+), [\d.]+\)" class="plot">'
    r'<rect x="0" y="0" width="([\d.]+)"'
)

WIDTH = 760
HEIGHT = 300
TIME_HEIGHT = 260  # the durations panel of a time chart
COUNT_HEIGHT = 200  # the counts panel under it (with the period labels)
PARTIAL = " (partial)"
# A bar more than this many times the next one is cut, and the axis fitted to the others.
DOMINANCE = 3.0

# Log-axis ticks, in hours, with the words a reader uses.
TICKS: tuple[tuple[float, str], ...] = (
    (1 / 60, "1 min"),
    (10 / 60, "10 min"),
    (1, "1 h"),
    (6, "6 h"),
    (24, "1 d"),
    (24 * 7, "1 wk"),
    (24 * 30, "30 d"),
    (24 * 90, "90 d"),
    (24 * 365, "1 yr"),
    (24 * 365 * 3, "3 yr"),
)


def _clean(svg: str) -> str:
    return _SCRIPT.sub("", svg)


COMMON = {
    "style": STYLE,
    "js": [],
    "disable_xml_declaration": True,
    "width": WIDTH,
    "height": HEIGHT,
    "explicit_size": False,
    "print_values": False,
    "show_minor_x_labels": False,
    "truncate_label": 12,
}


def _hours_to_days(v: float | None) -> float | None:
    return None if v is None else round(v / 24, 2)


def _majors(labels: list[str]) -> list[str]:
    """At most about a dozen period labels, always the first and the last (which may be the
    partial one and must be seen)."""
    every = max(1, len(labels) // 12)
    majors = labels[::every]
    if labels and labels[-1] not in majors:
        majors = [*majors[:-1], labels[-1]] if len(majors) > 1 else [*majors, labels[-1]]
    return majors


def period_labels(rows: list[dict[str, Any]]) -> list[str]:
    """The x labels of a time chart: the period, and '(partial)' for a period the data covers
    only in part (the running one, or one cut by a date filter)."""
    return [r["period"] + (PARTIAL if r.get("partial") else "") for r in rows]


def line(title: str, labels: list[str], series: dict[str, list[float | None]], y_title: str) -> str:
    # No dots: they only carry tooltips, which need script (forbidden); 4x faster, 4x smaller.
    chart = pygal.Line(title=title, y_title=y_title, x_label_rotation=30, show_dots=False, **COMMON)
    chart.x_labels = labels
    chart.x_labels_major = _majors(labels)
    for name, values in series.items():
        chart.add(name, values)
    return _clean(chart.render(is_unicode=True))


def bars(
    title: str, labels: list[str], series: dict[str, list[float | None]], y_title: str = ""
) -> str:
    chart = pygal.Bar(title=title, y_title=y_title, x_label_rotation=30, **COMMON)
    chart.x_labels = labels
    chart.x_labels_major = _majors(labels)
    chart.truncate_label = -1
    for name, values in series.items():
        chart.add(name, values)
    return _clean(chart.render(is_unicode=True))


def fitted_axis(values: list[float]) -> float | None:
    """The axis maximum fitted to the other values when the largest dwarfs the next (more
    than DOMINANCE times), else None: the largest bar is then cut at the end of the axis."""
    ranked = sorted((v for v in values if v > 0), reverse=True)
    if len(ranked) >= 2 and ranked[0] > DOMINANCE * ranked[1]:
        return ranked[1] * 1.25
    return None


_VALUE = re.compile(r'<text text-anchor="middle" x="([\d.]+)" (y="[\d.]+" class="value">[^<]*)')
CUT = " (bar cut)"


def _values_beside(svg: str) -> str:
    """Bar values written just past the end of their bar (pygal centres them on it, half over
    the bar), and a cut bar's inside its end, where the axis stops."""

    def place(m: re.Match[str]) -> str:
        x, rest = float(m.group(1)), m.group(2)
        if rest.endswith(CUT):
            return f'<text text-anchor="end" x="{x - 6:.1f}" {rest}'
        return f'<text text-anchor="start" x="{x + 4:.1f}" {rest}'

    return _VALUE.sub(place, svg)


def hbars(title: str, items: list[tuple[str, float]]) -> str:
    """Horizontal bars, the first item on top, each with its value written beside it. When
    the largest value dwarfs the next, the axis is fitted to the others and that bar is cut
    at the end of the axis, drawn light with a dashed edge and labelled 'N (bar cut)'."""
    cap = fitted_axis([v for _k, v in items])
    chart = pygal.HorizontalBar(
        title=title,
        show_legend=False,
        print_values_position="top",
        **{**COMMON, "print_values": True, "truncate_label": 24},
    )
    if cap is not None:
        chart.range = (0, cap)
    # pygal draws the first value at the bottom; a ranking reads from the top.
    rows = list(reversed(items))
    chart.x_labels = [k for k, _v in rows]
    shown: list[Any] = []
    for _k, v in rows:
        if cap is not None and v > cap:
            shown.append(
                {
                    "value": cap,
                    "formatter": lambda _x, v=v: f"{v:,.0f}{CUT}",
                    "style": "fill: #c3d6ee; stroke: #2b6cb0; stroke-dasharray: 6 3; "
                    "stroke-width: 2",
                }
            )
        else:
            shown.append({"value": v, "formatter": lambda x: f"{x:,.0f}"})
    chart.add("", shown)
    return _values_beside(_clean(chart.render(is_unicode=True)))


def _human(hours: float) -> str:
    """A duration as the dashboard writes it (min, h, d)."""
    if hours < 1:
        return f"{hours * 60:.0f} min"
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} d"


def _log_ticks(values: list[float]) -> tuple[float, float, list[dict[str, Any]]]:
    """Axis bounds and ticks covering the values (hours > 0)."""
    lo_v, hi_v = (min(values), max(values)) if values else (1.0, 24.0)
    lo = max([t for t, _ in TICKS if t <= lo_v], default=TICKS[0][0])
    hi = min([t for t, _ in TICKS if t >= hi_v], default=TICKS[-1][0])
    if hi <= lo:
        hi = next((t for t, _ in TICKS if t > lo), lo * 10)
    ticks = [{"value": t, "label": name} for t, name in TICKS if lo <= t <= hi]
    return lo, hi, ticks


def _plot_box(svg: str) -> tuple[float, float]:
    """Where pygal put the plot of a chart: its left edge and its width."""
    m = _PLOT.search(svg)
    if m is None:
        return 0.0, float(WIDTH)
    return float(m.group(1)), float(m.group(2))


def _few_ticks(top: float) -> list[float]:
    """0 and one or two round values up to `top`: a small panel has room for no more."""
    if top <= 0:
        return [0, 1]
    step = 10 ** math.floor(math.log10(top))
    for k in (1, 2, 5, 10):
        if top / (k * step) <= 2:
            step *= k
            break
    return [i * step for i in range(int(top // step) + 1)]


def _nest(svg: str, y: int, height: int) -> str:
    """A pygal SVG placed as a panel inside another SVG, at `y`."""
    return svg.replace("<svg ", f'<svg x="0" y="{y}" width="{WIDTH}" height="{height}" ', 1)


def percentiles_over_time(title: str, rows: list[dict[str, Any]]) -> str:
    """Median, p75 and p90 per period on a log axis of durations, above a panel of the series
    per period (posted, and how many of them have the duration: the `n` the percentiles rest
    on). Empty periods stay on the axis as gaps; a partial period is labelled so."""
    labels = period_labels(rows)
    qs = ("median", "p75", "p90")
    positive = [r[q] for r in rows for q in qs if r.get(q) is not None and r[q] > 0]
    lo, hi, ticks = _log_ticks(positive)

    # The axis is logarithmic, drawn as log10(duration / lo) on a linear axis whose ticks are
    # placed at the same log of round durations: pygal's own log axis joins the line over an
    # empty period instead of leaving a gap. The floor of the axis (lo) is 0.
    def at(v: float | None) -> float | None:
        # Durations of zero (or under the lowest tick) sit on the floor of the axis.
        return None if v is None else math.log10(max(v, lo) / lo)

    top = pygal.Line(
        title=title,
        y_title="log scale",
        # pygal leaves out a tick at the very top of the plot: a little room above the last.
        range=(0, math.log10(hi / lo) + 0.08),
        allow_interruptions=True,
        show_dots=True,
        dots_size=2,
        show_x_labels=False,
        show_x_guides=True,
        legend_at_bottom=True,
        legend_at_bottom_columns=3,
        value_formatter=lambda y: _human(lo * 10**y),
        **{**COMMON, "height": TIME_HEIGHT},
    )
    top.y_labels = [{"value": math.log10(t["value"] / lo), "label": t["label"]} for t in ticks]
    top.x_labels = labels
    top.x_labels_major = _majors(labels)
    for q in qs:
        top.add(q, [at(r.get(q)) for r in rows])

    posted = [r.get("series", r.get("n", 0)) for r in rows]
    # A filled line, not bars: its points sit right under the points of the durations.
    low = pygal.Line(
        title="series per period: posted (light), with this duration (n, dark)",
        y_title="series",
        x_label_rotation=30,
        fill=True,
        show_dots=False,
        show_legend=False,
        include_x_axis=True,
        show_x_guides=True,
        **{**COMMON, "height": COUNT_HEIGHT, "style": COUNT_STYLE, "truncate_label": -1},
    )
    low.x_labels = labels
    low.x_labels_major = _majors(labels)
    low.y_labels = _few_ticks(max(posted, default=0))
    low.add("posted", posted)
    low.add("n", [r.get("n", 0) for r in rows])

    charts = [top, low]
    svgs = [_clean(c.render(is_unicode=True)) for c in charts]
    # Line the two plots up: both start where the wider y labels end and stop where the
    # narrower plot stops.
    boxes = [_plot_box(s) for s in svgs]
    left = max(b[0] for b in boxes)
    right = min(b[0] + b[1] for b in boxes)
    for i, (c, (x, w)) in enumerate(zip(charts, boxes, strict=True)):
        if abs(x - left) > 0.5 or abs(x + w - right) > 0.5:
            c.margin_left = 20 + (left - x)
            c.margin_right = 20 + (x + w - right)
            svgs[i] = _clean(c.render(is_unicode=True))
    upper, lower = svgs
    height = TIME_HEIGHT + COUNT_HEIGHT
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" class="panels log-scale">'
        f"{_nest(upper, 0, TIME_HEIGHT)}{_nest(lower, TIME_HEIGHT, COUNT_HEIGHT)}</svg>"
    )


def review_load(title: str, rows: list[dict[str, Any]]) -> str:
    """Review load over time (queries/load.py): series awaiting at each period's end as bars
    beside those answered in it, with the median wait (days) as a line on a second axis. A
    rising awaiting bar over flat answered ones is the picture of an overloaded reviewer."""
    chart = pygal.Bar(title=title, y_title="series", x_label_rotation=30, **COMMON)
    labels = period_labels(rows)
    chart.x_labels = labels
    chart.x_labels_major = _majors(labels)
    chart.truncate_label = -1
    chart.add("awaiting at the end", [r["awaiting"] for r in rows])
    chart.add("answered", [r["answered"] for r in rows])
    waits = [_hours_to_days(r["median_wait_hours"]) for r in rows]
    if any(w is not None for w in waits):  # pygal cannot draw an axis of no values
        chart.add("median wait (days)", waits, secondary=True)
    return _clean(chart.render(is_unicode=True))
