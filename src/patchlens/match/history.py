"""What happened to the earlier versions of a merged series: superseded by the merged version.

Each commit is linked to one posting, the last send of the change (see `matcher`), so a
series merged as v4 has links on v4's patches only, and its v1-v3 have none. Read alone,
v3 looks abandoned; it was not: its work went in as v4. `superseded_by_merged` says so for
every version that precedes, in its series, a whole version with a merged patch, naming that
version (the latest merged one after it), so that the series page, the states and the
patches and series exports can say "superseded by the merged v4" instead of nothing.

Only a whole version supersedes. A version laid over another (`partial`: a partial re-roll,
or one patch split out of a bigger version and sent alone, review/versions.py) replaces some
of its patches, not the version: its merge leaves the others standing (the series is partly
merged, metrics/model.py current_version), so the versions before it are not called
superseded by it. The first version of a series is laid over nothing, so it counts as whole
even when partial (metrics/model.py laid_places, review/model.py in_force). A merged
version laid over another does supersede an earlier version all of whose patches it sends
again, by title (v2 re-sends patch 2 alone, v3 re-sends it again and is merged: v2 is
superseded by v3; so is a one-patch v1 by its merged v1.1), when no whole merged version
after it says so first.

Ambiguous links (another series' posting fitted as well) are not merges and count for
nothing here, as everywhere. `as_of` gives the answer as it stood on a date: only versions
posted and commits committed by then.
"""

from __future__ import annotations

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
    # The normalised titles of its patches (needed only of the versions of a series with a
    # merged partial version: see `superseded_by_merged`).
    titles: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class MergedAs:
    """The merged version that supersedes an earlier one."""

    key: str
    version: int
    version_str: str


def superseded_by_merged(
    versions: Iterable[VersionRef], merged: dict[str, int], as_of: int | None = None
) -> dict[str, MergedAs]:
    """version key -> the latest later whole version of its series with a merged patch.

    `merged` maps the key of each version with a (non-ambiguous) link to the date of its
    first linked commit. A version merged itself is still superseded when a later one is
    merged too (v2 1/3 applied, the rest in v3). Pure."""
    by_series: dict[str, list[VersionRef]] = {}
    for v in versions:
        if as_of is None or v.date <= as_of:
            by_series.setdefault(v.series_key, []).append(v)
    out: dict[str, MergedAs] = {}
    for vs in by_series.values():
        vs.sort(key=lambda v: v.seq)
        whole = [not v.partial or i == 0 for i, v in enumerate(vs)]
        last: MergedAs | None = None
        for v, is_whole in zip(reversed(vs), reversed(whole), strict=True):
            if last is not None:
                out[v.key] = last
            when = merged.get(v.key)
            if last is None and is_whole and when is not None and (as_of is None or when <= as_of):
                last = MergedAs(v.key, v.version, v.version_str)
        # A merged partial version supersedes the earlier versions it sends again whole.
        for i in range(len(vs) - 1, 0, -1):
            w, when = vs[i], merged.get(vs[i].key)
            if whole[i] or when is None or (as_of is not None and when > as_of) or not w.titles:
                continue
            for v in vs[:i]:
                if v.key not in out and v.titles and v.titles <= w.titles:
                    out[v.key] = MergedAs(w.key, w.version, w.version_str)
    return out
