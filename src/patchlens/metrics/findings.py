"""Findings: the questions of the Xen Project's 2016 review study, each tested on a selection
of series as two groups with an effect size and a bootstrap interval (metrics/bootstrap.py).
Pure: series rows (series_metrics as the read model gives them) in, findings as plain data out.

The questions: does time to merge grow with the size of a series (patches, changed lines,
files)? Do new contributors wait longer than established ones? Did time to merge, time to
first response or the never-answered share change from the previous period to this one? Does
an organisation or a subsystem merge slower than the others?

Choices, stated once (docs/METRICS.md, "Findings"):
- The series considered are those whose merge can be seen, as the merge rate's base has them
  (metrics/backlog.py merge_rate): not "other tree" (files in no registered repository), and
  not a series without a diff (a question, a cover letter alone) unless it is merged; with no
  repository registered, every series but other trees. The period findings on first
  response and on the never-answered share consider every series.
- Censoring: an open series has no time to merge. Time-to-merge statistics stand on the merged
  series only; each group also shows its merged share, so that a group whose slow series are
  still open is seen to be flattered. Time to first response likewise stands on the answered
  series, with the answered share shown.
- Size split: at the median size of the series considered (small: at most the median; large:
  more). When every series has the median size there is no split and the finding is withheld.
- A new contributor is one whose series' first posting is their first posting in the store
  (the stored `new_contributor`: known at posting time).
- Effect: the ratio of the medians (nearest rank) of the group of interest to the reference
  group; for a share, the difference in share points. Interval: percentile bootstrap, 95%,
  RESAMPLES resamples of each group, seeded by the finding's id.
- Withheld: a group with fewer than MIN_SERIES series that the statistic stands on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from patchlens.identity.orgs import UNKNOWN
from patchlens.metrics.bootstrap import (
    LEVEL,
    RESAMPLES,
    Interval,
    median,
    ratio_interval,
    share_interval,
)

MIN_SERIES = 10
DEFAULT_DAYS = 365  # no period in the filters: 365 days to the newest series, and the 365 before
MAX_GROUPS = 8  # organisations and subsystems shown, those with the most series first
OTHER_TREE = "other tree"

Row = dict[str, Any]


@dataclass(frozen=True)
class Spec:
    """One question: what it measures and how it splits the series into a reference group
    (a) and a group of interest (b)."""

    id: str
    question: str
    measure: str  # time_to_merge | time_to_first_response | never_answered_share
    split: str  # how the groups are made, in words


def seen(r: Row, registered: bool = True) -> bool:
    """Whether the merge of a series could be seen: its files are in a registered repository
    and it has a diff (`repo_registered` is false without one: no commit can show it), or it
    is merged (a notice, a commit); when no repository is `registered`, any series not in
    another tree (a notice may show it)."""
    if r.get("state") == OTHER_TREE:
        return False
    if registered and r.get("repo_registered") and not r.get("in_repo", True):
        # Another tree's series fixed elsewhere (its state says so, not "other tree"): out
        # of the merge rate's base all the same, unless merged.
        return r.get("merged_by") == "notice" or r.get("merged") not in (None, "none")
    return (
        not registered
        or bool(r.get("repo_registered"))
        or r.get("merged_by") == "notice"
        or r.get("merged") not in (None, "none")
    )


def considered(rows: Sequence[Row]) -> list[Row]:
    """The rows whose merge could be seen (`seen`), a repository being registered when any
    row says so (as metrics/backlog.py merge_rate reads it)."""
    registered = any(r.get("repo_registered") for r in rows)
    return [r for r in rows if seen(r, registered)]


def changed_lines(r: Row) -> int:
    return int(r["lines_added"] or 0) + int(r["lines_removed"] or 0)


SIZES: dict[str, tuple[str, Callable[[Row], int], str]] = {
    "size-patches": ("patches", lambda r: int(r["patches"] or 0), "patch"),
    "size-lines": ("changed lines", changed_lines, "changed line"),
    "size-files": ("files changed", lambda r: int(r["files_changed"] or 0), "file"),
}


def _plural(n: float, word: str) -> str:
    return f"{n:g} {word}" + ("" if n == 1 else "s")


def size_split(rows: Sequence[Row], finding: str) -> tuple[float | None, dict[str, list[Row]]]:
    """The median size of the series considered and the two groups it splits them into."""
    _name, size, _unit = SIZES[finding]
    seen_rows = considered(rows)
    cut = median([size(r) for r in seen_rows])
    if cut is None:
        return None, {"small": [], "large": []}
    return cut, {
        "small": [r for r in seen_rows if size(r) <= cut],
        "large": [r for r in seen_rows if size(r) > cut],
    }


def merged_values(rows: Sequence[Row], measure: str = "time_to_merge") -> list[float]:
    return [r[measure] for r in rows if r.get(measure) is not None]


def group_stats(rows: Sequence[Row], measure: str) -> dict[str, Any]:
    """A group's figures: how many series, how many the statistic stands on, the statistic
    (a median in hours, or a share) and the share that reached the end event."""
    if measure == "never_answered_share":
        flags = sample(rows, measure)
        return {
            "series": len(rows),
            "n": len(flags),
            "statistic": sum(flags) / len(flags) if flags else None,
            "reached_share": None,
        }
    values = merged_values(rows, measure)
    return {
        "series": len(rows),
        "n": len(values),
        "statistic": median(values),
        "reached_share": len(values) / len(rows) if rows else None,
    }


def sample(rows: Sequence[Row], measure: str) -> list[float]:
    if measure == "never_answered_share":
        return [0.0 if r["has_reviewer_reply"] else 1.0 for r in rows]
    return merged_values(rows, measure)


def hours_text(h: float | None) -> str:
    """A duration in words for a sentence: minutes, hours or days."""
    if h is None:
        return "–"
    if h < 1:
        return f"{h * 60:.0f} min"
    if h < 48:
        return f"{h:.1f} h"
    return f"{h / 24:.1f} d"


MEASURE_WORDS = {"time_to_merge": "to merge", "time_to_first_response": "to a first response"}


def sentence(spec: Spec, labels: tuple[str, str], stats: list[dict], iv: Interval) -> str:
    """The finding in words: what the effect is, and whether its interval excludes 'no
    difference'."""
    a, b = labels
    pct = f"{iv.level:.0%}"
    if spec.measure == "never_answered_share":
        sa, sb = stats[0]["statistic"], stats[1]["statistic"]
        direction = "higher" if iv.low > 0 else "lower" if iv.high < 0 else "not clearly different"
        return (
            f"Never answered: {sb:.0%} of {b} against {sa:.0%} of {a}, a difference of "
            f"{iv.value * 100:+.1f} points ({pct} interval {iv.low * 100:+.1f} to "
            f"{iv.high * 100:+.1f}): {direction}."
        )
    to = MEASURE_WORDS[spec.measure]
    if iv.low > 1:
        verdict = "longer, and the whole interval is above 1"
    elif iv.high < 1:
        verdict = "shorter, and the whole interval is below 1"
    else:
        verdict = "the interval includes 1: no clear difference"
    return (
        f"{b[:1].upper()}{b[1:]} took {iv.value:.2f}× as long {to} as {a} (median "
        f"{hours_text(stats[1]['statistic'])} against {hours_text(stats[0]['statistic'])}; "
        f"{pct} interval {iv.low:.2f}× to {iv.high:.2f}×): {verdict}."
    )


def withheld_reason(stats: list[dict], labels: tuple[str, str], measure: str) -> str | None:
    """Why a finding is not shown: the first group with fewer than MIN_SERIES series for its
    statistic."""
    what = {
        "time_to_merge": "merged series",
        "time_to_first_response": "answered series",
        "never_answered_share": "series",
    }[measure]
    for s, label in zip(stats, labels, strict=True):
        if s["n"] < MIN_SERIES:
            return f"only {s['n']} {what} for {label}; need {MIN_SERIES}"
    return None


def finding(
    spec: Spec,
    groups: dict[str, list[Row]],
    labels: dict[str, str],
    resamples: int = RESAMPLES,
) -> dict[str, Any]:
    """One finding from its two groups (reference first): the groups' figures, the effect
    with its interval and a sentence, or the reason it is withheld."""
    names = list(groups)
    pair = (labels[names[0]], labels[names[1]])
    stats = [group_stats(groups[g], spec.measure) for g in names]
    out: dict[str, Any] = {
        "id": spec.id,
        "question": spec.question,
        "measure": spec.measure,
        "unit": "share" if spec.measure == "never_answered_share" else "hours",
        "split": spec.split,
        "groups": [
            {"group": g, "label": labels[g], **s} for g, s in zip(names, stats, strict=True)
        ],
        "effect": None,
        "sentence": "",
        "stands_on": sum(s["n"] for s in stats),
        "withheld": withheld_reason(stats, pair, spec.measure),
    }
    if out["withheld"]:
        return out
    share = spec.measure == "never_answered_share"
    a, b = (sample(groups[g], spec.measure) for g in names)
    iv = (share_interval if share else ratio_interval)(a, b, spec.id, resamples)
    if iv is None:
        out["withheld"] = f"the median of {pair[0]} is 0: no ratio"
        return out
    out["effect"] = {
        "kind": "difference of shares" if share else "ratio of medians",
        "value": iv.value,
        "low": iv.low,
        "high": iv.high,
        "level": iv.level,
        "resamples": iv.resamples,
        "used": iv.used,
    }
    out["sentence"] = sentence(spec, pair, stats, iv)
    return out


# --- the questions ------------------------------------------------------------------------


def size_finding(rows: Sequence[Row], fid: str, resamples: int = RESAMPLES) -> dict[str, Any]:
    name, _size, unit = SIZES[fid]
    cut, groups = size_split(rows, fid)
    spec = Spec(
        fid,
        f"Do larger series take longer to merge? (size: {name})",
        "time_to_merge",
        f"split at the median size in {name} of the series considered"
        + (f" ({_plural(cut, unit)})" if cut is not None else ""),
    )
    if cut is None or not groups["large"]:
        labels = {"small": "small series", "large": "large series"}
        out = finding(spec, groups, labels, resamples)
        out["withheld"] = (
            "no series to split"
            if cut is None
            else f"every series has at most {_plural(cut, unit)}: no larger group"
        )
        out["effect"], out["sentence"] = None, ""
        return out
    labels = {
        "small": f"series of at most {_plural(cut, unit)}",
        "large": f"series of more than {_plural(cut, unit)}",
    }
    return finding(spec, groups, labels, resamples)


def contributor_groups(rows: Sequence[Row]) -> dict[str, list[Row]]:
    seen_rows = considered(rows)
    return {
        "established": [r for r in seen_rows if not r["new_contributor"]],
        "new": [r for r in seen_rows if r["new_contributor"]],
    }


def contributor_finding(rows: Sequence[Row], resamples: int = RESAMPLES) -> dict[str, Any]:
    spec = Spec(
        "contributor",
        "Do new contributors wait longer for a merge than established ones?",
        "time_to_merge",
        "new: the series' first posting is its author's first posting in the store",
    )
    labels = {"established": "established contributors", "new": "new contributors"}
    return finding(spec, contributor_groups(rows), labels, resamples)


PERIOD_SPECS = (
    Spec(
        "period-merge",
        "Did time to merge change from the previous period to this one?",
        "time_to_merge",
        "series first posted in this period against the previous period of the same length",
    ),
    Spec(
        "period-response",
        "Did time to first response change from the previous period to this one?",
        "time_to_first_response",
        "series first posted in this period against the previous period of the same length",
    ),
    Spec(
        "period-unanswered",
        "Did the share of series nobody answered change from the previous period to this one?",
        "never_answered_share",
        "series first posted in this period against the previous period of the same length",
    ),
)


def period_groups(spec: Spec, this: Sequence[Row], previous: Sequence[Row]) -> dict[str, list]:
    if spec.measure == "time_to_merge":
        registered = any(r.get("repo_registered") for r in (*this, *previous))
        return {
            "previous": [r for r in previous if seen(r, registered)],
            "this": [r for r in this if seen(r, registered)],
        }
    return {"previous": list(previous), "this": list(this)}


def period_findings(
    this: Sequence[Row], previous: Sequence[Row], labels: dict[str, str], resamples: int = RESAMPLES
) -> list[dict[str, Any]]:
    return [finding(s, period_groups(s, this, previous), labels, resamples) for s in PERIOD_SPECS]


def _per(rows: Sequence[Row], names: Callable[[Row], Sequence[str]]) -> Counter[str]:
    return Counter(
        n for r in considered(rows) if r.get("time_to_merge") is not None for n in names(r)
    )


def group_vs_rest(
    rows: Sequence[Row], name: str, names: Callable[[Row], Sequence[str]]
) -> dict[str, list[Row]]:
    seen_rows = considered(rows)
    return {
        "others": [r for r in seen_rows if name not in names(r)],
        "members": [r for r in seen_rows if name in names(r)],
    }


GROUPINGS: dict[str, tuple[str, Callable[[Row], Sequence[str]], str]] = {
    "org": ("organisation", lambda r: [r["org"]], "other organisations"),
    "subsystem": ("subsystem", lambda r: list(r.get("subsystems") or ()), "other subsystems"),
}


def grouping_findings(
    rows: Sequence[Row], kind: str, resamples: int = RESAMPLES, maintainers: bool | None = None
) -> list[dict[str, Any]]:
    """One finding per organisation (or subsystem) with the most merged series, against all
    the others; a single withheld finding when none has enough. `maintainers`: whether a
    MAINTAINERS file is configured (None: whether a series of `rows` is in a subsystem), so
    that a withheld subsystem finding says which of its reasons holds."""
    word, names, others = GROUPINGS[kind]
    counts = _per(rows, names)
    # "(unknown)" gathers free-mail and personal domains: no organisation to compare (its
    # series still count among "the others").
    unknown = counts.pop(UNKNOWN, 0)
    article = "an" if word[:1] in "aeiou" else "a"
    question = f"Does {article} {word} wait longer for a merge than the others?"
    ranked = [n for n, c in counts.most_common() if c >= MIN_SERIES][:MAX_GROUPS]
    out = []
    for name in ranked:
        spec = Spec(
            f"{kind}:{name}",
            question,
            "time_to_merge",
            f"series of this {word} against the series of every other",
        )
        labels = {"others": others, "members": name}
        out.append(finding(spec, group_vs_rest(rows, name, names), labels, resamples))
    if out:
        return out
    if not counts:
        why = (
            _no_subsystem_merged(rows, maintainers)
            if kind == "subsystem"
            else f"no organisation is known for the {unknown:,} merged series of the selection"
            if unknown
            else "no merged series in the selection"
        )
    else:
        top, n = counts.most_common(1)[0]
        why = (
            f"no {word} has {MIN_SERIES} merged series in the selection (the most: "
            f"{top}, {n}); need {MIN_SERIES}"
        )
    return [
        {
            "id": kind,
            "question": question,
            "measure": "time_to_merge",
            "unit": "hours",
            "split": f"series of each {word} against the series of every other",
            "groups": [],
            "effect": None,
            "sentence": "",
            "stands_on": sum(counts.values()) + unknown,
            "withheld": why,
        }
    ]


def _no_subsystem_merged(rows: Sequence[Row], maintainers: bool | None) -> str:
    """Why no subsystem has a merged series to compare: no MAINTAINERS file, or none of the
    selection's series in a subsystem was merged (seen merged)."""
    in_one = sum(1 for r in rows if r.get("subsystems"))
    if maintainers is None:
        maintainers = in_one > 0
    if not maintainers:
        return "no subsystem is known: no MAINTAINERS file is configured"
    if not in_one:
        return "no series of the selection is in a subsystem"
    return f"no series of a subsystem was merged in the selection ({in_one:,} are in one)"


def all_findings(
    rows: Sequence[Row],
    this: Sequence[Row],
    previous: Sequence[Row],
    period_labels: dict[str, str],
    resamples: int = RESAMPLES,
    maintainers: bool | None = None,
) -> list[dict[str, Any]]:
    """Every finding: over `rows` (the selection) for size, contributors, organisations and
    subsystems; over `this` and `previous` (the selection in two periods) for the periods.
    `maintainers`: whether a MAINTAINERS file is configured (`grouping_findings`)."""
    return [
        *(size_finding(rows, fid, resamples) for fid in SIZES),
        contributor_finding(rows, resamples),
        *period_findings(this, previous, period_labels, resamples),
        *grouping_findings(rows, "org", resamples),
        *grouping_findings(rows, "subsystem", resamples, maintainers),
    ]


def groups_of(
    fid: str, rows: Sequence[Row], this: Sequence[Row], previous: Sequence[Row]
) -> dict[str, list[Row]] | None:
    """The series of each group of the finding `fid`, as the finding splits them (None: no
    such finding): what the list of a group's series shows."""
    if fid in SIZES:
        return size_split(rows, fid)[1]
    if fid == "contributor":
        return contributor_groups(rows)
    for spec in PERIOD_SPECS:
        if spec.id == fid:
            return period_groups(spec, this, previous)
    kind, sep, name = fid.partition(":")
    if sep and kind in GROUPINGS and name:
        return group_vs_rest(rows, name, GROUPINGS[kind][1])
    return None


__all__ = ["LEVEL", "MIN_SERIES", "RESAMPLES", "all_findings", "groups_of"]
