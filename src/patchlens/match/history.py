"""What happened to the earlier versions of a merged series: superseded by the merged version.

Each commit is linked to one posting, the last send of the change (see `matcher`), so a
series merged as v4 has links on v4's patches only, and its v1-v3 have none. Read alone,
v3 looks abandoned; it was not: its work went in as v4. `superseded_by_merged` says so for
every version followed in its series by a merged version that replaces it, naming the latest
such version, so that the series page, the states and the patches and series exports can
say "superseded by the merged v4" instead of nothing.

What replaces a version:
- a whole version with a merged patch replaces every version before it (a version merged
  itself is still superseded when a later one is merged too: v2 1/3 applied, the rest in
  v3);
- a version laid over another (`partial`: a partial re-roll, or one patch split out of a
  bigger version and sent alone, review/versions.py) replaces only what it sends again: it
  supersedes an earlier version when every patch of that version not merged itself is among
  its patches, by normalised title, and at least one is (v2 re-sends patch 2 alone, v3
  re-sends it once more and is merged: v2 is superseded by v3; v2's patches 1, 2 and 4
  applied and patch 3 re-sent alone as v3 and merged: v2 is superseded by v3; a patch of a
  19-patch v1 split out and merged leaves v1 standing, the series partly merged,
  metrics/model.py current_version). Titles count with their repeats, and a version with an
  untitled patch is never replaced so. A whole version it replaces passes the answer on to
  the versions before it. The first version of a series is laid over nothing, so it counts
  as whole even when partial (metrics/model.py laid_places, review/model.py in_force).

Ambiguous links (another series' posting fitted as well) are not merges and count for
nothing here, as everywhere. `as_of` gives the answer as it stood on a date: only versions
posted and commits committed by then.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class VersionRef:
    """A version of a series, as far as its history needs it."""

    key: str
    series_key: str
    seq: int  # 1 for the first version of its series
    version: int
    version_str: str
    date: int
    partial: bool = False  # laid over the version before (series_versions.partial)
    # Its patches' normalised titles in order ("" for an untitled one), and (title, date of
    # its merge) of those merged themselves: needed only of the versions of a series with a
    # merged partial version (`superseded_by_merged`).
    titles: tuple[str, ...] = ()
    merged_titles: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class MergedAs:
    """The merged version that supersedes an earlier one."""

    key: str
    version: int
    version_str: str


def sends_again(v: VersionRef, w: VersionRef, as_of: int | None = None) -> bool:
    """Whether `w`, laid over an earlier version, sends again every patch of `v` not merged
    itself (by `as_of`), and at least one of `v`'s patches, by title. Pure."""
    if not v.titles or "" in v.titles or not w.titles:
        return False
    mine = Counter(t for t, when in v.merged_titles if as_of is None or when <= as_of)
    rest = Counter(v.titles) - mine
    again = Counter(w.titles)
    return bool(set(v.titles) & set(again)) and all(again[t] >= n for t, n in rest.items())


def superseded_by_merged(
    versions: Iterable[VersionRef], merged: dict[str, int], as_of: int | None = None
) -> dict[str, MergedAs]:
    """version key -> the latest later version of its series that replaces it and has a
    merged patch (see the module's docstring).

    `merged` maps the key of each version with a (non-ambiguous) link to the date of its
    first linked commit. Pure."""
    by_series: dict[str, list[VersionRef]] = {}
    for v in versions:
        if as_of is None or v.date <= as_of:
            by_series.setdefault(v.series_key, []).append(v)
    out: dict[str, MergedAs] = {}
    for vs in by_series.values():
        vs.sort(key=lambda v: v.seq)
        for key, i in _replaced_by(vs, merged, as_of).items():
            out[key] = MergedAs(vs[i].key, vs[i].version, vs[i].version_str)
    return out


def _replaced_by(vs: list[VersionRef], merged: dict[str, int], as_of: int | None) -> dict[str, int]:
    """Of a series' versions in order, version key -> the index of the latest later merged
    version that replaces it (`superseded_by_merged`). Pure."""
    whole = [not v.partial or i == 0 for i, v in enumerate(vs)]
    best: dict[str, int] = {}

    def offer(v: VersionRef, i: int) -> None:
        best[v.key] = max(best.get(v.key, i), i)

    for i, w in enumerate(vs):
        when = merged.get(w.key)
        if when is None or (as_of is not None and when > as_of):
            continue
        if whole[i]:
            for v in vs[:i]:
                offer(v, i)
            continue
        for j, v in enumerate(vs[:i]):
            if sends_again(v, w, as_of):
                offer(v, i)
                if whole[j]:
                    for u in vs[:j]:
                        offer(u, i)
    return best
