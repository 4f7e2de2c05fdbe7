#!/usr/bin/env python3
"""Compare two stores table by table without holding either (issue 11, target 5: the
million-message store built locally and on a Dask cluster).

Each table's rows are read as `tests/helpers/storedump.logical_dump` writes them (references
to messages and commits by Message-ID and sha, the stores' own row numbers and wall-clock
columns left out) and summed as an order-free digest (`logical_digest`), so memory is the
Message-ID map, not the store. Prints each table's row counts and whether it is equal; exits 1
when any table differs.

    .venv/bin/python bench/storediff.py /work/corpus/all.db /work/corpus/all-dask.db
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def compare(a: str, b: str) -> list[str]:
    """Print each table's row counts in stores `a` and `b` and whether it is equal; return
    the tables that differ. The two digests are taken side by side, one process each."""
    sys.path.insert(0, str(ROOT))
    from tests.helpers.storedump import logical_digest

    t0 = time.perf_counter()
    with ProcessPoolExecutor(2) as pool:  # one store each
        da, db = pool.map(logical_digest, [a, b])
    differ = [table for table in da if da[table] != db[table]]
    for table in da:
        (na, _), (nb, _) = da[table], db[table]
        print(f"{table:<22} {na:>12,} {nb:>12,}  {'DIFFERENT' if table in differ else 'equal'}")
    print(f"{len(da) - len(differ)} of {len(da)} tables equal ({time.perf_counter() - t0:.0f} s)")
    return differ


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("a", help="a store (SQLite file or SQLAlchemy URL)")
    ap.add_argument("b", help="the store to compare it with")
    args = ap.parse_args()
    sys.exit(1 if compare(args.a, args.b) else 0)


if __name__ == "__main__":
    main()
