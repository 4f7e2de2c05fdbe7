"""Terminal rendering of `patchlens findings`: per finding its question, its groups, the
effect with its interval and the sentence, or why it is withheld. Everything from mail (an
organisation or subsystem name, a label built from one) is escaped for rich markup."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from patchlens.cli.render import day
from patchlens.metrics.findings import hours_text


def _stat(x: dict[str, Any], v: float | None) -> str:
    if v is None:
        return "–"
    return f"{v:.1%}" if x["unit"] == "share" else hours_text(v)


def render(d: dict[str, Any], console: Console) -> None:
    """The findings as `queries.findings.findings` gives them."""
    p = d["period"]
    console.print(
        f"{d['series']:,} series selected, data as of {day(d['as_of'])}; "
        f"{d['level']:.0%} percentile bootstrap intervals, {d['resamples']:,} resamples, "
        f"fixed seed; a group needs {d['min_series']} series."
    )
    default = (
        f" (no period in the filters: the {p['days']} days to the newest series selected)"
        if p["default"]
        else ""
    )
    console.print(
        f"This period {p['this']['since']}..{p['this']['until']} against "
        f"{p['previous']['since']}..{p['previous']['until']}{default}."
    )
    for x in d["findings"]:
        console.print()
        console.print(f"[bold]{escape(x['question'])}[/bold]  ({escape(x['split'])})")
        if x["groups"]:
            t = Table(show_edge=False)
            for col in ("group", "series", "n", "statistic", "reached"):
                t.add_column(col, justify="left" if col == "group" else "right")
            for g in x["groups"]:
                t.add_row(
                    escape(g["label"]),
                    str(g["series"]),
                    str(g["n"]),
                    _stat(x, g["statistic"]),
                    "–" if g["reached_share"] is None else f"{g['reached_share']:.1%}",
                )
            console.print(t)
        if x["withheld"]:
            console.print(f"  withheld: {escape(x['withheld'])}")
        else:
            console.print(f"  {escape(x['sentence'])} Stands on {x['stands_on']:,} series.")
