"""Durations and counts of a series, exactly as docs/METRICS.md defines them. Pure."""

from __future__ import annotations

import statistics
from typing import Any

from patchlens.metrics.backlog import merge_notice
from patchlens.metrics.model import ReplyFacts, SeriesFacts, VersionFacts

HOUR = 3600.0


def _first(replies: list[ReplyFacts], pred: Any, after: int) -> ReplyFacts | None:
    for r in replies:
        if pred(r) and r.date >= after:
            return r
    return None


def _hours(start: int, end: int | None) -> float | None:
    return None if end is None else round((end - start) / HOUR, 3)


def _all_replies(s: SeriesFacts) -> list[ReplyFacts]:
    return sorted((r for v in s.versions for r in v.replies), key=lambda r: (r.date, r.message_id))


def version_metrics(v: VersionFacts) -> dict[str, Any]:
    """Per version: first response, review and comment, counted from its own posting."""
    rr = [r for r in v.replies if r.reviewer]
    first = rr[0] if rr else None
    review = next((r for r in rr if r.review), None)
    comment = next((r for r in rr if r.substantive), None)
    commits = [p.commit_date for p in v.patches.values() if p.commit_date and not p.ambiguous]
    return {
        "version_key": v.key,
        "seq": v.seq,
        "time_to_first_response": _hours(v.date, first.date if first else None),
        "time_to_first_review": _hours(v.date, review.date if review else None),
        "time_to_first_comment": _hours(v.date, comment.date if comment else None),
        "time_to_merge": _hours(v.date, max(commits) if commits else None),
        "review_replies": len(rr),
        "reviewers": len({r.who for r in rr}),
    }


def patch_metrics(v: VersionFacts) -> list[dict[str, Any]]:
    """Per patch: replies to it and to the cover letter count for it."""
    out = []
    for idx, p in sorted(v.patches.items()):
        rr = [r for r in v.replies if r.reviewer and r.patch_idx in (0, idx)]
        first = rr[0] if rr else None
        review = next((r for r in rr if r.review), None)
        merged = p.commit_date if p.commit_date and not p.ambiguous else None
        out.append(
            {
                "message_pk": p.pk,
                "version_key": v.key,
                "idx": idx,
                "time_to_first_response": _hours(p.date, first.date if first else None),
                "time_to_first_review": _hours(p.date, review.date if review else None),
                "time_to_merge": _hours(p.date, merged),
                "reviewed": review is not None,
                "merged": merged is not None,
                "lines_added": p.lines_added,
                "lines_removed": p.lines_removed,
                "files_changed": len(p.files),
            }
        )
    return out


def series_metrics(s: SeriesFacts) -> dict[str, Any]:
    """Per series: every duration and count of docs/METRICS.md, and its anomalies."""
    start = s.first_date
    replies = _all_replies(s)
    rr = [r for r in replies if r.reviewer]
    anomalies: list[str] = []
    if any(r.date < start for r in rr):
        anomalies.append("reply_before_posting")
    first = _first(rr, lambda r: True, start)
    review = _first(rr, lambda r: r.review, start)
    comment = _first(rr, lambda r: r.substantive, start)

    patches = [p for v in s.versions for p in v.patches.values()]
    commits = sorted(p.commit_date for p in patches if p.commit_date and not p.ambiguous)
    if any(p.ambiguous for p in patches):
        anomalies.append("ambiguous_merge")
    merged_at = commits[-1] if commits else None
    notice = None if commits else merge_notice(s.versions)
    ttm = ttc = None
    if notice is not None:
        # Merged by notice: the notice's date stands for the merge (a commit would override).
        ttm = _hours(start, notice.date) if notice.date >= start else None
    if merged_at is not None:
        if commits[0] < start:
            anomalies.append("commit_before_posting")
        else:
            ttm = _hours(start, merged_at)
            before = [r for r in rr if r.date <= merged_at]
            if before:
                ttc = _hours(before[-1].date, merged_at)

    rework, cycle = [], []
    for a, b in zip(s.versions, s.versions[1:], strict=False):
        cycle.append((b.date - a.date) / HOUR)
        last = [r.date for r in a.replies if r.reviewer and r.date <= b.date]
        if last:
            rework.append((b.date - last[-1]) / HOUR)

    latest = s.current
    first_review_date = review.date if review else None
    return {
        "series_key": s.key,
        "first_date": start,
        "last_date": max([v.date for v in s.versions] + [r.date for r in replies]),
        "versions": len(s.versions),
        "patches": len(latest.patches),
        "lines_added": sum(p.lines_added for p in latest.patches.values()),
        "lines_removed": sum(p.lines_removed for p in latest.patches.values()),
        "files_changed": len({f for p in latest.patches.values() for f in p.files}),
        "review_replies": len(rr),
        "reviewer_lines": sum(r.lines_written for r in rr),
        "reviewers": len({r.who for r in rr}),
        "reviews": sum(1 for r in rr if r.review),
        "comments_after_first_ack": (
            sum(1 for r in rr if r.date > first_review_date) if first_review_date else 0
        ),
        "merged_patches": len(commits),
        "time_to_first_response": _hours(start, first.date if first else None),
        "time_to_first_review": _hours(start, first_review_date),
        "time_to_first_comment": _hours(start, comment.date if comment else None),
        "time_to_merge": ttm,
        "time_to_commit": ttc,
        "rework_time": round(statistics.median(rework), 3) if rework else None,
        "cycle_time": round(statistics.median(cycle), 3) if cycle else None,
        "anomalies": anomalies,
    }
