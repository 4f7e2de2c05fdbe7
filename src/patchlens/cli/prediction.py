"""`patchlens eval-predict` in the terminal: the model against the baselines, per landmark,
and the calibration table (docs/PREDICTION.md says what each figure means)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

FIGURES = (
    ("concordance", "C-index"),
    ("auc_30d", "AUC 30d"),
    ("brier_30d", "Brier 30d"),
    ("auc_90d", "AUC 90d"),
    ("brier_90d", "Brier 90d"),
    ("points", "points"),
)


def _day(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def _fmt(v: Any) -> str:
    return "-" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)


def evaluation(r: dict[str, Any], console: Console) -> None:
    """The evaluation's figures as tables."""
    tr, te = r["train"], r["test"]
    console.print(
        f"Trained on {tr['series']:,} series posted before {_day(r['split'])} "
        f"({tr['points']:,} prediction points, {tr['merges']:,} merged by the split); "
        f"tested on {te['series']:,} series posted from then to {_day(r['end'])} "
        f"({te['points']:,} points at {', '.join(map(str, r['landmarks_days']))} days "
        "after posting while open)."
    )
    if r.get("withheld"):
        console.print(f"No figures: {r['withheld']}.")
        return
    t = Table(title="Held-out series: model against the baselines")
    t.add_column("model")
    for _k, label in FIGURES:
        t.add_column(label, justify="right")
    for name, m in r["models"].items():
        t.add_row(name, *(_fmt(m.get(k)) for k, _ in FIGURES))
    console.print(t)
    t = Table(title="By landmark (days after posting)")
    t.add_column("model")
    t.add_column("landmark", justify="right")
    for _k, label in FIGURES:
        t.add_column(label, justify="right")
    for name, by in r["by_landmark"].items():
        for lm, m in by.items():
            t.add_row(name, lm, *(_fmt(m.get(k)) for k, _ in FIGURES))
    console.print(t)
    t = Table(title="Calibration of P(merged within 30 days), the model")
    for c in ("predicted from", "to", "n", "mean predicted", "observed"):
        t.add_column(c, justify="right")
    for row in r["models"]["model"]["calibration_30d"]:
        t.add_row(
            *(_fmt(row[k]) for k in ("from", "to")),
            str(row["n"]),
            *(_fmt(row[k]) for k in ("predicted", "observed")),
        )
    console.print(t)
