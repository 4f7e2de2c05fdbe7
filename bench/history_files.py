"""Whether a repository's commits read without their diffs (`git log --raw`, the history
horizon: match/horizon.py) name the files, renames, metadata and trailers that the same
commits read whole (`git log -p`) give, for every commit of a branch; and how long each
read takes. The store keeps exactly these of a commit before the horizon.

    python bench/history_files.py GITDIR [--branch B] [--limit N]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from patchlens.sources import gitrepo


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("gitdir", type=Path)
    ap.add_argument("--branch", help="default: the repository's default branch")
    ap.add_argument("--limit", type=int, help="only the first N commits (oldest first)")
    args = ap.parse_args()
    branch = args.branch or gitrepo.default_branch(args.gitdir)
    shas = gitrepo.rev_list(args.gitdir, gitrepo.branch_head(args.gitdir, branch), [])
    shas = shas[: args.limit] if args.limit else shas
    t0 = time.perf_counter()
    whole = {}
    for part in gitrepo.slices(shas, 400):
        whole.update(
            (r.sha, gitrepo.history_fields(r)) for r in gitrepo.read_slice(args.gitdir, part)
        )
    t1 = time.perf_counter()
    slim = {}
    for part in gitrepo.slices(shas, 5000):
        slim.update(
            (r.sha, gitrepo.history_fields(r))
            for r in gitrepo.read_history_slice(args.gitdir, part)
        )
    t2 = time.perf_counter()
    differing = [sha for sha in shas if whole[sha] != slim[sha]]
    for sha in differing[:10]:
        print("differs:", sha)
    print(
        f"{len(shas):,} commits, {len(differing)} differing; read whole {t1 - t0:.1f} s, "
        f"without diffs {t2 - t1:.1f} s (one process)"
    )


if __name__ == "__main__":
    main()
