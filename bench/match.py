"""Benchmark: matching postings to commits, on EROFS and on synthetic load grown from it.

1. EROFS: time to load the matcher's inputs from the store and to match (pointers used, as
   in `update`), and the evaluation run (pointers hidden).
2. Scaling: the real EROFS postings and commits are replicated into a larger project: each
   replica gets its own subsystem (file paths), time (one year later), titles and patch-ids,
   and a share of its diffs is perturbed, so candidates keep realistic overlap. Match time is
   measured at 1/8, 1/4, 1/2 and all of the target size (default 200,000 postings against
   100,000 commits); the time per commit must stay flat, which shows the growth is linear.

    python bench/match.py [--db STORE] [--postings 200000] [--commits 100000]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from patchlens.config import Config
from patchlens.match.evaluate import evaluate
from patchlens.match.matcher import CommitInfo, Posting, match
from patchlens.stages import ingest
from patchlens.stages.match import fingerprint_new, load
from patchlens.stages.pipeline import run_stages
from patchlens.stages.progress import Reporter
from patchlens.store.db import open_store

DATA = Path(
    os.environ.get("PATCHLENS_DATA")
    or Path(__file__).resolve().parents[1].parent / "shared" / "data"
)
YEAR = 365 * 86400


def build_store(tmp: Path) -> Path:
    erofs = DATA / "erofs"
    archive, repo = erofs / "linux-erofs-archive.0.bundle", erofs / "erofs-utils.bundle"
    if not archive.is_file() or not repo.is_file():
        sys.exit(f"missing benchmark data under {erofs}")
    db = tmp / "erofs.db"
    engine = open_store(str(db))
    ingest.add_list(engine, "linux-erofs", [str(archive)])
    ingest.add_repo(engine, "erofs-utils", str(repo), ["dev"])
    quiet = Reporter(quiet=True)
    ingest.run_update(engine, tmp / "cache", quiet)
    run_stages(engine, Config(), tmp / "cache", quiet)  # as `patchlens update` does
    engine.dispose()
    return db


def replicate(
    postings: list[Posting], commits: list[CommitInfo], n_post: int, n_commit: int
) -> tuple[list[Posting], list[CommitInfo]]:
    rng = random.Random(7)
    out_p: list[Posting] = []
    out_c: list[CommitInfo] = []
    k = 0
    while len(out_p) < n_post or len(out_c) < n_commit:
        tag = f"r{k}"

        def files(fs: frozenset[str], tag: str = tag) -> frozenset[str]:
            return frozenset(f"{tag}/{f}" for f in fs)

        def hashes(hs: frozenset[int], k: int = k) -> frozenset[int]:
            if rng.random() < 0.3:  # an edited change: a few lines differ
                keep = [h for h in hs if rng.random() > 0.2]
                return frozenset(keep + [rng.getrandbits(32) for _ in range(3)])
            return frozenset((h * 2654435761 + k) & 0xFFFFFFFF for h in hs)

        for p in postings:
            if len(out_p) >= n_post:
                break
            out_p.append(
                replace(
                    p,
                    pk=len(out_p) + 1,
                    message_id=f"{tag}.{p.message_id}",
                    series_key=f"{tag}.{p.series_key}",
                    date=p.date + k * YEAR,
                    title=f"{p.title} {tag}",
                    patch_id=f"{tag}{p.patch_id}" if p.patch_id else None,
                    files=files(p.files),
                    hashes=hashes(p.hashes),
                )
            )
        for c in commits:
            if len(out_c) >= n_commit:
                break
            out_c.append(
                replace(
                    c,
                    pk=len(out_c) + 1,
                    date=c.date + k * YEAR,
                    title=f"{c.title} {tag}",
                    patch_id=f"{tag}{c.patch_id}" if c.patch_id else None,
                    files=files(c.files),
                    hashes=hashes(c.hashes),
                    pointers=frozenset(),
                    aliases={f"{tag}/{a}": d + k * YEAR for a, d in c.aliases.items()},
                )
            )
        k += 1
    return out_p, out_c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", help="an EROFS store already built (else one is built)")
    ap.add_argument("--postings", type=int, default=200_000)
    ap.add_argument("--commits", type=int, default=100_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(args.db) if args.db else build_store(Path(tmp))
        engine = open_store(str(db))
        if args.db:  # a store of an older FINGERPRINT_VERSION gets current fingerprints
            fingerprint_new(engine, Reporter(quiet=True), everything=True)
        with engine.connect() as conn:
            t0 = time.perf_counter()
            postings, commits = load(conn)
            t_load = time.perf_counter() - t0
        t0 = time.perf_counter()
        links = match(postings, commits)
        t_match = time.perf_counter() - t0
        t0 = time.perf_counter()
        ev = evaluate(postings, commits)
        t_eval = time.perf_counter() - t0
        print(f"EROFS: {len(postings)} postings, {len(commits)} commits, {len(links)} links")
        print(f"  load {t_load:.2f} s, match {t_match:.2f} s, evaluation {t_eval:.2f} s")
        print(f"  precision {ev.precision:.4f}, recall {ev.recall:.4f} ({ev.labelled} labelled)")

        print("scaling (synthetic, from the real diffs):")
        print(f"  {'postings':>9} {'commits':>8} {'links':>7} {'seconds':>8} {'us/commit':>10}")
        for frac in (8, 4, 2, 1):
            n_p, n_c = args.postings // frac, args.commits // frac
            big_p, big_c = replicate(postings, commits, n_p, n_c)
            t0 = time.perf_counter()
            got = match(big_p, big_c)
            dt = time.perf_counter() - t0
            print(f"  {n_p:>9} {n_c:>8} {len(got):>7} {dt:>8.2f} {dt / n_c * 1e6:>10.1f}")


if __name__ == "__main__":
    main()
