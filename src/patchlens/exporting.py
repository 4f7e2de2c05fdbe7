"""Writing rows out as CSV, TSV, JSON or Parquet: every export goes through here."""

from __future__ import annotations

import csv
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

FORMATS = ("csv", "tsv", "json", "parquet")


def _cell(v: Any) -> Any:
    if isinstance(v, list | tuple | dict):
        return json.dumps(v, separators=(",", ":"))
    return "" if v is None else v


def write_rows(rows: Sequence[dict[str, Any]], fmt: str, output: Path | None) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} ({', '.join(FORMATS)})")
    if fmt == "parquet":
        if output is None:
            raise ValueError("Parquet is binary: give --output FILE")
        _write_parquet(rows, output)
        return
    out = output.open("w", newline="", encoding="utf-8") if output else sys.stdout
    try:
        if fmt == "json":
            json.dump(list(rows), out, indent=1, ensure_ascii=False)
            out.write("\n")
            return
        cols = list(rows[0]) if rows else []
        w = csv.writer(out, delimiter="\t" if fmt == "tsv" else ",")
        w.writerow(cols)
        for r in rows:
            w.writerow([_cell(r[c]) for c in cols])
    finally:
        if output:
            out.close()


def _write_parquet(rows: Sequence[dict[str, Any]], output: Path) -> None:
    """Through DuckDB, which types the columns from the data (lists stay lists)."""
    import duckdb

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "rows.json"
        src.write_text(json.dumps(list(rows), ensure_ascii=False), encoding="utf-8")
        con = duckdb.connect()
        try:
            target = str(output.resolve()).replace("'", "''")
            con.execute(
                f"COPY (SELECT * FROM read_json_auto(?)) TO '{target}' (FORMAT parquet)",
                [str(src)],
            )
        finally:
            con.close()
