#!/usr/bin/env python3
"""How far the review reconstruction of a store could be split into independent partitions
(issue 11, target 5: "the per-partition reconstruction on Dask").

The reconstruction (stages/review.py) decides threads, versions, version links and replies.
Two messages' results can depend on each other only through:

  a thread      replies are attributed, and versions grouped, inside a thread;
  a version     a version can span threads (its patches threaded apart);
  an identity   version linking compares a version with the earlier versions of its author
                and of its sender (review/versions.Linker), and counts each person's title
                words over their history.

So the exact partitions are the connected components of the graph joining each stored thread
to its versions and each version to its author's and sender's identities. Any partition
coarser than them gives the sequential result; any finer one does not. This script reads a
store built by `patchlens update`, builds that graph, and prints the components' sizes in
messages: the largest one is the part no partitioning can spread over workers.

Usage: .venv/bin/python bench/components.py STORE.db [STORE.db ...]
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from sqlalchemy import create_engine, select

from patchlens.queries.evidence import people_of
from patchlens.store import schema


class Components:
    """Union-find over string nodes ("t:<thread>", "v:<version>", "i:<identity>")."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        parent = self.parent
        root = x
        while parent.setdefault(root, root) != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[ra] = rb


def measure(path: Path) -> None:
    engine = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    mt, vm, sv, m = (
        schema.message_threads,
        schema.version_members,
        schema.series_versions,
        schema.messages,
    )
    g = Components()
    with engine.connect() as conn:
        people = people_of(conn)
        thread_of = dict(conn.execute(select(mt.c.message_pk, mt.c.thread_key)).all())
        sizes = Counter(thread_of.values())
        for key, pk in conn.execute(select(vm.c.version_key, vm.c.message_pk)):
            g.union(f"v:{key}", f"t:{thread_of.get(pk, pk)}")
        people_edges = 0
        q = select(sv.c.key, sv.c.author_name, sv.c.author_addr, m.c.from_name, m.c.from_addr).join(
            m, m.c.message_id == sv.c.key
        )
        # Pull requests and backports are never linked (review/versions.linkable).
        q = q.where(sv.c.pull.is_(False), sv.c.backport.is_(False))
        for key, an, aa, fn, fa in conn.execute(q):
            author, sender = people(an, aa), people(fn, fa)
            g.union(f"v:{key}", f"i:{author}")
            g.union(f"v:{key}", f"i:{sender}")
            people_edges += author != sender
    comp: Counter[str] = Counter()
    for thread, n in sizes.items():
        comp[g.find(f"t:{thread}")] += n
    total = sum(comp.values())
    ranked = comp.most_common()
    giant = ranked[0][0] if ranked else None
    idents = sum(1 for x in g.parent if x.startswith("i:") and g.find(x) == giant)
    print(f"{path}: {total:,} messages in {len(sizes):,} threads, {len(ranked):,} partitions")
    if ranked:
        top = ", ".join(f"{n:,}" for _, n in ranked[:5])
        print(f"  largest partitions (messages): {top}")
        print(
            f"  the largest holds {ranked[0][1] / total:.1%} of the messages and {idents:,}"
            f" people; versions sent by someone other than their author: {people_edges:,}"
        )
        print(
            f"  bound on the reconstruction's speed-up from partitions, with as many workers"
            f" as wanted: {total / ranked[0][1]:.1f}x"
        )


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for arg in sys.argv[1:]:
        path = Path(arg)
        if not path.is_file():
            sys.exit(f"{path}: no such store")
        measure(path)


if __name__ == "__main__":
    main()
