"""Benchmark: title similarity, difflib's Ratcliff/Obershelp against rapidfuzz's Indel.

Issue 11 asks whether rapidfuzz is worth it. The pairs timed are the real ones: the titles
the matcher compares (a commit with a posting that shares changed lines, in `update` and
in the evaluation run, where pointers are hidden) and the ones version linking compares (a
version with an earlier candidate of the same person), recorded while both run on the EROFS
store. Each measure is timed on the same pairs in the same run, a few rounds, the best kept.

The two are not the same number: Indel is 2·LCS/(|a|+|b|) over the longest common
subsequence, difflib 2·M/(|a|+|b|) over the matches its recursive longest-substring search
finds, so Indel >= difflib on every pair. The agreement section shows where the thresholds
the callers use (0.8 for another author's diff link, 0.75 and 0.999 for version links) give
another answer, and how far the scores move.

    python bench/similarity.py [--db STORE] [--rounds 5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from difflib import SequenceMatcher
from pathlib import Path

from rapidfuzz.distance import Indel

import patchlens.match.matcher as matcher
import patchlens.review.versions as versions
from patchlens.match.evaluate import evaluate
from patchlens.review.series import group_versions
from patchlens.stages.match import fingerprint_new, load
from patchlens.stages.progress import Reporter
from patchlens.stages.review import load_mails

sys.path.insert(0, str(Path(__file__).parent))
from match import build_store  # bench/match.py: the EROFS store the matcher benchmarks use

from patchlens.store.db import open_store

Pair = tuple[str, str, float]  # (title, title, floor the caller passed)


def difflib_ratio(a: str, b: str, floor: float = 0.0) -> float:
    """patchlens' title similarity before issue 11, as it was written."""
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    sm = SequenceMatcher(None, a, b, autojunk=False)
    if floor > 0.0 and (sm.real_quick_ratio() < floor or sm.quick_ratio() < floor):
        return 0.0
    ratio = sm.ratio()
    return ratio if ratio >= floor else 0.0


def indel_ratio(a: str, b: str, floor: float = 0.0) -> float:
    """rapidfuzz's normalised Indel similarity, with the same edge cases and floor."""
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    return Indel.normalized_similarity(a, b, score_cutoff=floor or None)


def record(module: object, into: list[Pair]) -> Callable[[], None]:
    """Wrap module.title_similarity so every call's arguments land in `into`; returns undo."""
    real = module.title_similarity  # type: ignore[attr-defined]

    def recording(a: str, b: str, floor: float = 0.0) -> float:
        into.append((a, b, floor))
        return real(a, b, floor)

    module.title_similarity = recording  # type: ignore[attr-defined]
    return lambda: setattr(module, "title_similarity", real)


def collect(db: Path) -> tuple[list[Pair], list[Pair]]:
    """(matcher pairs, version-linking pairs) compared on the store, in the order compared."""
    engine = open_store(str(db))
    fingerprint_new(engine, Reporter(quiet=True), everything=True)
    match_pairs: list[Pair] = []
    version_pairs: list[Pair] = []
    with engine.connect() as conn:
        postings, commits = load(conn)
        mails, _threads = load_mails(conn)
    undo = record(matcher, match_pairs)
    try:
        matcher.match(postings, commits)
        evaluate(postings, commits)
    finally:
        undo()
    undo = record(versions, version_pairs)
    try:
        versions.link_versions(group_versions(mails))
    finally:
        undo()
    engine.dispose()
    return match_pairs, version_pairs


def best_time(fn: Callable[[str, str, float], float], pairs: list[Pair], rounds: int) -> float:
    """Seconds for one pass over the pairs, the best of `rounds`."""
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for a, b, floor in pairs:
            fn(a, b, floor)
        best = min(best, time.perf_counter() - t0)
    return best


def agreement(name: str, pairs: list[Pair], thresholds: tuple[float, ...]) -> None:
    old = [difflib_ratio(a, b, f) for a, b, f in pairs]
    new = [indel_ratio(a, b, f) for a, b, f in pairs]
    moved = [n - o for o, n in zip(old, new, strict=True)]
    lowest = min(moved, default=0.0)
    print(
        f"  {name}: {len(pairs)} pairs, Indel - difflib: max {max(moved, default=0):.3f}, ", end=""
    )
    print(f"mean {sum(moved) / max(1, len(moved)):.4f}, min {lowest:.1e} (rounding only: ", end="")
    print(f"{lowest > -1e-9})")
    for th in thresholds:
        up = sum(1 for o, n in zip(old, new, strict=True) if o < th <= n)
        down = sum(1 for o, n in zip(old, new, strict=True) if n < th <= o)
        print(f"    at {th}: {up} pairs cross it upwards with Indel, {down} downwards")


def timings(pairs: list[Pair], rounds: int) -> str:
    """One row of the timing table: per call and per whole run, both measures, their ratio."""
    s_old = best_time(difflib_ratio, pairs, rounds)
    s_new = best_time(indel_ratio, pairs, rounds)
    per_old, per_new = s_old / len(pairs) * 1e6, s_new / len(pairs) * 1e6
    return (
        f"{len(pairs):>7} {per_old:>11.2f} {per_new:>9.3f} {per_old / per_new:>7.1f}"
        f" {s_old:>14.4f} {s_new:>12.4f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", help="an EROFS store already built (else one is built)")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    if args.db:
        match_pairs, version_pairs = collect(Path(args.db))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            match_pairs, version_pairs = collect(build_store(Path(tmp)))
    print("title pairs compared on EROFS (matcher: update and evaluation runs):")
    print(f"  {'caller':<9} {'pairs':>7} {'difflib us':>11} {'Indel us':>9} {'ratio':>7}", end="")
    print(f" {'difflib s/run':>14} {'Indel s/run':>12}")
    for name, pairs in (("matcher", match_pairs), ("versions", version_pairs)):
        print(f"  {name:<9} {timings(pairs, args.rounds) if pairs else 0:>7}")
    print("agreement (Indel >= difflib on every pair; thresholds the callers use):")
    agreement("matcher", match_pairs, (matcher.OTHER_AUTHOR_TITLE,))
    agreement("versions", version_pairs, (versions.SIMILAR_TITLE, 0.999))


if __name__ == "__main__":
    main()
