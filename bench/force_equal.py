#!/usr/bin/env python3
"""Does a store kept up to date by incremental updates equal the same store rebuilt from
scratch? (issue 11, target 6, on a store of any size: the test does it on a month of EROFS.)

A copy of STORE (with its cache directory) is rebuilt by `patchlens update --force`, which
redoes everything after ingest from the same messages and commits, and the two are compared
table by table by bench/storediff.py (an order-free digest of each table's logical rows).
One table may differ by design: `prediction_model`. The week's model is fitted by the week's
first update and kept until the next week, so mail or commits dated before its cut that
arrived later are not in it (docs/PREDICTION.md, "Incremental equals from scratch"); a store
without a repository has none.
When that table differs, the model is fitted again in this process on STORE at its cut
(reading only) and compared with the rebuilt copy's row: equal means the difference is that
rule and nothing else.

    .venv/bin/python bench/force_equal.py /work/stores/day.db [--work DIR] [--keep]

Exit status 0 when every table is equal, or every table but `prediction_model` and its refit
is; 1 otherwise. The copy needs as much free disk as STORE.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# `patchlens update` exit statuses that mean it finished (3: some sources had damaged parts,
# which it read around and reports; the rebuild still ran).
FINISHED = (0, 3)


def copy_store(store: Path, work: Path) -> Path:
    """STORE, its WAL if one is left and its cache directory, copied into `work`."""
    copy = work / f"{store.stem}-force{store.suffix}"
    for path in (copy, Path(f"{copy}-wal"), Path(f"{copy}-shm")):
        path.unlink(missing_ok=True)
    shutil.rmtree(f"{copy}.cache", ignore_errors=True)
    shutil.copyfile(store, copy)
    if Path(f"{store}-wal").exists():
        shutil.copyfile(f"{store}-wal", f"{copy}-wal")
    if Path(f"{store}.cache").is_dir():
        shutil.copytree(f"{store}.cache", f"{copy}.cache")
    return copy


def refit_equal(store: Path, rebuilt: Path) -> bool:
    """Whether the model fitted now on `store` at its stored cut equals `rebuilt`'s row."""
    from sqlalchemy import select

    from patchlens.queries.evidence import people_of
    from patchlens.stages.prediction import fitted_at
    from patchlens.stages.progress import Reporter
    from patchlens.store import schema
    from patchlens.store.db import open_store

    def stored(db: Path) -> dict | None:
        engine = open_store(str(db), readonly=True)
        with engine.connect() as conn:
            row = conn.execute(select(schema.prediction_model)).mappings().first()
        return None if row is None else dict(row)

    ours, theirs = stored(store), stored(rebuilt)
    if ours is None or theirs is None:  # a store without a repository keeps no model
        print(
            f"  a model row in STORE: {ours is not None}, in the rebuilt copy: {theirs is not None}"
        )
        return False
    engine = open_store(str(store), readonly=True)
    with engine.connect() as conn:
        row = fitted_at(conn, ours["cut"], people_of(conn), Reporter(quiet=True))
    for key in ("cut", "series", "points", "merges", "corpus"):
        got = (ours[key], row[key], theirs[key])
        print(f"  {key:<8} stored {got[0]!s:>12}  refitted {got[1]!s:>12}  rebuilt {got[2]!s:>12}")
    return all(row[k] == theirs[k] for k in row)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("store", type=Path, help="an SQLite store kept by incremental updates")
    ap.add_argument("--work", type=Path, help="where to put the copy (default: beside STORE)")
    ap.add_argument("--keep", action="store_true", help="keep the rebuilt copy")
    args = ap.parse_args()
    store = args.store.resolve()
    if not store.is_file():
        sys.exit(f"{store}: no such store")
    sys.path.insert(0, str(ROOT / "bench"))
    from storediff import compare

    t0 = time.perf_counter()
    copy = copy_store(store, (args.work or store.parent).resolve())
    print(f"copied to {copy} ({time.perf_counter() - t0:.0f} s)")
    t1 = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-m", "patchlens", "--db", str(copy), "-q", "update", "--force"],
        cwd=ROOT,
    )
    if run.returncode not in FINISHED:
        sys.exit(f"update --force on the copy failed (exit {run.returncode})")
    print(f"rebuilt with update --force in {time.perf_counter() - t1:.0f} s")
    differ = compare(str(store), str(copy))
    ok = not differ
    if differ == ["prediction_model"]:
        same = refit_equal(store, copy)
        print(
            "prediction_model: the store's model refitted now at its cut "
            + (
                "equals the rebuilt one: the stored one differs only in when it was fitted"
                if same
                else "does NOT equal the rebuilt one"
            )
        )
        ok = same
    if not args.keep:
        for path in (copy, Path(f"{copy}-wal"), Path(f"{copy}-shm")):
            path.unlink(missing_ok=True)
        shutil.rmtree(f"{copy}.cache", ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
