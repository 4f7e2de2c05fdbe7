"""Measuring the matcher against the commits that name their posting.

The commits with a Link:/Message-ID: back-pointer to a posting in the store are the ground
truth. The matcher runs with those pointers hidden, and its answers for the labelled commits
are scored: a wrong posting is a false positive and a miss, no posting only a miss. Commits
without a pointer are unknown, not negatives, and are not scored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from patchlens.match.matcher import CommitInfo, Match, Posting, match


@dataclass
class LayerScore:
    tp: int = 0
    fp: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0


@dataclass
class Evaluation:
    labelled: int
    tp: int
    fp: int
    fn: int
    ambiguous: int
    layers: dict[str, LayerScore]
    errors: list[dict[str, object]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / self.labelled if self.labelled else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def ground_truth(postings: list[Posting], commits: list[CommitInfo]) -> dict[int, int]:
    """commit pk -> posting pk named by its pointer (only pointers naming one posting)."""
    by_msgid = {p.message_id: p.pk for p in postings}
    truth = {}
    for c in commits:
        named = {by_msgid[m] for m in c.pointers if m in by_msgid}
        if len(named) == 1:
            truth[c.pk] = named.pop()
    return truth


def evaluate(
    postings: list[Posting], commits: list[CommitInfo], describe: dict[int, str] | None = None
) -> Evaluation:
    truth = ground_truth(postings, commits)
    links: list[Match] = match(postings, commits, use_pointers=False)
    by_commit = {lk.commit: lk for lk in links}
    by_pk = {p.pk: p for p in postings}
    ev = Evaluation(len(truth), 0, 0, 0, 0, {})
    for cpk, ppk in truth.items():
        lk = by_commit.get(cpk)
        if lk is None or lk.ambiguous:
            ev.fn += 1
            if lk is not None:
                ev.ambiguous += 1
            ev.errors.append(
                {
                    "commit": describe.get(cpk, cpk) if describe else cpk,
                    "expected": by_pk[ppk].message_id,
                    "got": by_pk[lk.posting].message_id if lk else None,
                    "why": "ambiguous" if lk else "no match",
                }
            )
            continue
        layer = ev.layers.setdefault(lk.method, LayerScore())
        if lk.posting == ppk:
            ev.tp += 1
            layer.tp += 1
        else:
            ev.fp += 1
            ev.fn += 1
            layer.fp += 1
            got, want = by_pk[lk.posting], by_pk[ppk]
            why = (
                f"another posting of the same series (v{got.version} instead of v{want.version})"
                if got.series_key == want.series_key
                else "a posting of another series"
            )
            ev.errors.append(
                {
                    "commit": describe.get(cpk, cpk) if describe else cpk,
                    "expected": want.message_id,
                    "got": got.message_id,
                    "method": lk.method,
                    "score": lk.score,
                    "why": why,
                }
            )
    return ev
