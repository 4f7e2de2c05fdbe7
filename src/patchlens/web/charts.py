"""Charts as SVG, drawn on the server with pygal, each with the numbers it shows so that the
page can give them as a table too. No script: the SVG is served as an image, and the config
script pygal embeds even without its JavaScript (labels are mail display names) is removed."""

from __future__ import annotations

import re
from typing import Any

import pygal
from pygal.style import Style

STYLE = Style(
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#333333",
    foreground_strong="#111111",
    foreground_subtle="#888888",
    colors=("#2b6cb0", "#dd6b20", "#38a169", "#805ad5", "#e53e3e", "#718096", "#d69e2e"),
    font_family="sans-serif",
    label_font_size=11,
    major_label_font_size=11,
    legend_font_size=12,
    title_font_size=14,
)
_SCRIPT = re.compile(r"<script\b.*?</script>", re.S | re.I)


def _clean(svg: str) -> str:
    return _SCRIPT.sub("", svg)


COMMON = {
    "style": STYLE,
    "js": [],
    "disable_xml_declaration": True,
    "width": 760,
    "height": 300,
    "explicit_size": False,
    "print_values": False,
    "show_minor_x_labels": False,
    "truncate_label": 12,
}


def _hours_to_days(v: float | None) -> float | None:
    return None if v is None else round(v / 24, 2)


def line(title: str, labels: list[str], series: dict[str, list[float | None]], y_title: str) -> str:
    # No dots: they only carry tooltips, which need script (forbidden); 4x faster, 4x smaller.
    chart = pygal.Line(title=title, y_title=y_title, x_label_rotation=30, show_dots=False, **COMMON)
    chart.x_labels = labels
    chart.x_labels_major_every = max(1, len(labels) // 12)
    for name, values in series.items():
        chart.add(name, values)
    return _clean(chart.render(is_unicode=True))


def bars(
    title: str, labels: list[str], series: dict[str, list[float | None]], y_title: str = ""
) -> str:
    chart = pygal.Bar(title=title, y_title=y_title, x_label_rotation=30, **COMMON)
    chart.x_labels = labels
    chart.x_labels_major_every = max(1, len(labels) // 12)
    for name, values in series.items():
        chart.add(name, values)
    return _clean(chart.render(is_unicode=True))


def hbars(title: str, items: list[tuple[str, float]]) -> str:
    chart = pygal.HorizontalBar(title=title, show_legend=False, **COMMON)
    chart.x_labels = [k for k, _v in items]
    chart.add("", [v for _k, v in items])
    return _clean(chart.render(is_unicode=True))


def percentiles_over_time(title: str, rows: list[dict[str, Any]]) -> str:
    """Median, p75 and p90 per period, in days."""
    return line(
        title,
        [r["period"] for r in rows],
        {q: [_hours_to_days(r[q]) for r in rows] for q in ("median", "p75", "p90")},
        "days",
    )
