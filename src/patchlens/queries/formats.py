"""Writing rows out as CSV, TSV, JSON or Parquet: every export goes through here, and so
does every JSON API response, so that both give units the same way:

- an instant is an ISO 8601 UTC string, `2024-03-01T12:00:00Z` (the store keeps Unix seconds);
- a duration carries its unit in its name: `time_to_merge_hours` (the store keeps hours
  under `time_to_merge`), and so does a table of them (`time_to_merge_hours_by_bucket`).
"""

from __future__ import annotations

import csv
import json
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from patchlens.metrics.distributions import DURATIONS
from patchlens.metrics.roles import ROLE_DURATIONS

FORMATS = ("csv", "tsv", "json", "parquet")

# Fields that hold an instant (Unix seconds in the store).
DATE_FIELDS = frozenset(
    {
        "as_of",
        "first_date",
        "last_date",
        "date",
        "last",
        "author_date",
        "committer_date",
        "created_at",
        "last_update",
        "merged_date",
        "ingested_at",
        "finished_at",
        "current_date",  # a queue's series: when its current version was posted
        "fixed_at",  # a series fixed elsewhere: the reply that says so (metrics/backlog.py)
    }
)
# Fields that hold hours, and the name that says so.
DURATION_FIELDS = {
    name: f"{name}_hours" for name in (*DURATIONS, "median_time_to_merge", *ROLE_DURATIONS)
}
# Tables of durations keyed by something else: named after the duration they hold.
RENAMED = {
    **DURATION_FIELDS,
    "by_bucket": "time_to_merge_hours_by_bucket",
    "by_contributor": "time_to_first_response_hours_by_contributor",
    "per_bucket": "time_to_merge_hours_per_bucket",  # report --json
    "new_vs_established": "time_to_first_response_hours_new_vs_established",
}


def iso(ts: int | None) -> str | None:
    """Unix seconds as `2024-03-01T12:00:00Z`."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def printable(text: str) -> str:
    """Text any output can encode: a commit's diff or message keeps the bytes git gave that
    are not UTF-8 as lone surrogates (so its patch-id stays exact), which no page, JSON or
    CSV can encode; each such byte is shown as U+FFFD. Pure; the same object when clean."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # a lone surrogate that no byte became
        return text.encode("utf-8", "replace").decode("utf-8")


def with_units(value: Any, key: str = "") -> Any:
    """A value as the API and the exports give it: instants as ISO 8601 UTC strings, durations
    under names that carry their unit (see the module's docstring), text made printable. Pure."""
    if isinstance(value, str):
        return value if value.isascii() else printable(value)
    if isinstance(value, dict):
        return {RENAMED.get(k, k): with_units(v, k) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [with_units(v, key) for v in value]
    if key in DATE_FIELDS and isinstance(value, int) and not isinstance(value, bool):
        return iso(value)
    return value


def column_names(columns: Sequence[str]) -> list[str]:
    """Export column names as `with_units` renames them (for the header of an empty export)."""
    return [RENAMED.get(c, c) for c in columns]


def _cell(v: Any) -> Any:
    if isinstance(v, list | tuple | dict):
        return json.dumps(v, separators=(",", ":"))
    return "" if v is None else v


def write_rows(
    rows: Sequence[dict[str, Any]],
    fmt: str,
    output: Path | None,
    columns: Sequence[str] | None = None,
) -> None:
    """Rows (already `with_units`) in a format; `columns` names the header that an empty CSV
    or TSV export still writes."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} ({', '.join(FORMATS)})")
    if fmt == "parquet":
        if output is None:
            raise ValueError("Parquet is binary: give --output FILE")
        _write_parquet(rows, output, columns)
        return
    out = output.open("w", newline="", encoding="utf-8") if output else sys.stdout
    try:
        if fmt == "json":
            json.dump(list(rows), out, indent=1, ensure_ascii=False)
            out.write("\n")
            return
        cols = list(rows[0]) if rows else list(columns or [])
        w = csv.writer(out, delimiter="\t" if fmt == "tsv" else ",")
        w.writerow(cols)
        for r in rows:
            w.writerow([_cell(r[c]) for c in cols])
    finally:
        if output:
            out.close()


def _write_parquet(
    rows: Sequence[dict[str, Any]], output: Path, columns: Sequence[str] | None = None
) -> None:
    """Through DuckDB, which types the columns from the data (lists stay lists); with no rows,
    the named columns as text, so that the file still says what it would hold."""
    import duckdb

    target = str(output.resolve()).replace("'", "''")
    if not rows:
        names = ", ".join(
            'NULL::VARCHAR AS "' + c.replace('"', '""') + '"' for c in columns or ["empty"]
        )
        con = duckdb.connect()
        try:
            con.execute(f"COPY (SELECT {names} LIMIT 0) TO '{target}' (FORMAT parquet)")
        finally:
            con.close()
        return
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "rows.json"
        src.write_text(json.dumps(list(rows), ensure_ascii=False), encoding="utf-8")
        con = duckdb.connect()
        try:
            con.execute(
                f"COPY (SELECT * FROM read_json_auto(?)) TO '{target}' (FORMAT parquet)",
                [str(src)],
            )
        finally:
            con.close()
