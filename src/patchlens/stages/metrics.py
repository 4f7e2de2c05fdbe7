"""The metrics stage of `update`: one row of metrics per series, rewritten where it changed."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from patchlens.identity.people import Identities
from patchlens.metrics.backlog import facts, merge_notice
from patchlens.metrics.compute import series_metrics
from patchlens.metrics.model import ReplyFacts, SeriesFacts
from patchlens.queries.evidence import load_series, people_of
from patchlens.stages import changes
from patchlens.stages.progress import Reporter, StepReport, advancing
from patchlens.store import schema
from patchlens.store.writer import sync_table

OrgOf = Callable[[str, int], str]
SubsystemsOf = Callable[[SeriesFacts], tuple[tuple[str, ...], frozenset[str]] | None]


@dataclass
class MetricsReport(StepReport):
    """How many series got a metrics row, and how long the step took (`update` prints it)."""

    series: int = 0
    seconds: float = 0.0


def repo_paths(conn: Connection) -> set[str]:
    """Every path a registered repository's history touched."""
    cf = schema.commit_files
    paths = {p for (p,) in conn.execute(select(cf.c.path).distinct())}
    paths |= {p for (p,) in conn.execute(select(cf.c.old_path).distinct()) if p}
    return paths


def metric_rows(
    all_series: Iterable[SeriesFacts],
    now: int,
    paths: set[str],
    org_of: OrgOf,
    subsystems_of: SubsystemsOf,
) -> list[dict[str, Any]]:
    """Pure: the series_metrics rows, one per series under review (pull requests and stable
    backports are not: see `pull_rows`)."""
    rows = []
    for se in all_series:
        if se.kind != "series":
            continue
        files = {f for v in se.versions for p in v.patches.values() for f in p.files}
        in_repo = not paths or not files or bool(files & paths)
        f = facts(se, max(now, se.first_date), in_repo, repo_registered=bool(paths))
        assert f is not None
        notice = merge_notice(se.versions) if f.merged_by == "notice" else None
        m = series_metrics(se)
        subs = subsystems_of(se)
        unanswered = None
        if subs is not None and subs[0]:
            who = {r.who for v in se.versions for r in v.replies if r.reviewer}
            unanswered = not (who & subs[1])
        rows.append(
            {
                "series_key": se.key,
                "title": se.current.title or se.title,
                "author": se.author,
                "author_addr": se.author_addr,
                "org": org_of(se.author_addr, se.first_date),
                "new_contributor": se.new_contributor,
                "in_repo": in_repo,
                "subsystems": json.dumps(list(subs[0]) if subs else []),
                "unanswered_by_subsystem": unanswered,
                **{k: v for k, v in m.items() if k not in ("series_key", "anomalies")},
                "anomalies": json.dumps(m["anomalies"]),
                "merged": f.merged,
                "nearly_complete": f.nearly_complete,
                "has_reviewer_reply": f.has_reviewer_reply,
                "reviewer_spoke_last": f.reviewer_spoke_last,
                "merged_by": f.merged_by or None,
                "merge_evidence": _evidence(notice),
                "repo_registered": f.repo_registered,
                "search_text": search_text(se),
            }
        )
    return rows


def _evidence(r: ReplyFacts | None) -> str | None:
    """The notice a merge by notice rests on, as stored JSON, traceable to its message by its
    Message-ID (not the store's row number, which depends on the order mail was read)."""
    if r is None:
        return None
    return json.dumps(
        {
            "message_id": r.message_id,
            "who": r.who,
            # ISO 8601 UTC, as the API and the exports give every instant.
            "date": datetime.fromtimestamp(r.date, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "kind": r.notices[0],
            "tree": r.notice_tree or None,
        },
        sort_keys=True,
    )


def search_text(se: SeriesFacts) -> str:
    """Every version's title and every patch subject, casefolded, one per line: what a search
    of the series matches, so that an old title or one patch's subject finds it."""
    seen = dict.fromkeys(
        t.casefold()
        for t in [se.title]
        + [v.title for v in se.versions]
        + [p.subject for v in se.versions for p in v.patches.values()]
        if t
    )
    return "\n".join(seen)


def pull_rows(all_series: list[SeriesFacts]) -> list[dict[str, Any]]:
    """Pure: one row per pull request, merged when a notice (pr-tracker-bot's "has been merged
    into ...", a maintainer's "Applied, thanks") says so."""
    rows = []
    for se in all_series:
        if se.kind != "pull":
            continue
        notice = merge_notice(se.versions)
        replies = [r for v in se.versions for r in v.replies]
        rows.append(
            {
                "series_key": se.key,
                "title": se.title,
                "author": se.author,
                "author_addr": se.author_addr,
                "first_date": se.first_date,
                "last_date": max([v.date for v in se.versions] + [r.date for r in replies]),
                "versions": len(se.versions),
                "replies": sum(1 for r in replies if not r.is_author),
                "merged_by": "notice" if notice else None,
                "merged_date": notice.date if notice else None,
                "merge_evidence": _evidence(notice),
            }
        )
    return rows


def run_metrics(
    engine: Engine,
    reporter: Reporter,
    org_of: OrgOf,
    subsystems_of: SubsystemsOf,
    now: int | None = None,
    people: Identities | None = None,
    is_bot: Callable[[str, str], bool] = lambda name, addr: False,
    sections: list[Any] | None = None,
) -> MetricsReport:
    """Every series' metrics, review events, people and subsystems; writes what changed.

    One transaction. Its progress counts the series as their metrics are computed."""
    t0 = time.perf_counter()
    rep = MetricsReport()
    with engine.begin() as conn:
        total = conn.execute(select(func.count()).select_from(schema.series)).scalar_one()
        with reporter.task("computing metrics (series)", total) as task:
            people = people or people_of(conn)
            all_series = load_series(conn, people)
            rep.changed_rows += sync_table(
                conn, schema.review_events, ("message_pk",), event_rows(all_series, org_of)
            )
            rep.changed_rows += sync_table(
                conn, schema.people, ("identity",), people_rows(conn, people, org_of, is_bot)
            )
            rep.changed_rows += sync_table(
                conn, schema.subsystems, ("title",), subsystem_rows(sections or [])
            )
            rows = metric_rows(
                advancing(all_series, task),
                now or int(time.time()),
                repo_paths(conn),
                org_of,
                subsystems_of,
            )
            rep.changed_rows += sync_table(conn, schema.series_metrics, ("series_key",), rows)
            rep.changed_rows += sync_table(
                conn, schema.pull_requests, ("series_key",), pull_rows(all_series)
            )
            changes.done(conn, changes.METRICS)  # everything redone
    rep.series = len(rows)
    rep.seconds = time.perf_counter() - t0
    return rep


def event_rows(all_series: list[SeriesFacts], org_of: OrgOf) -> list[dict[str, Any]]:
    """Pure: one row per reviewer reply."""
    return [
        {
            "message_pk": r.pk,
            "series_key": se.key,
            "who": r.who,
            "org": org_of(r.addr, r.date),
            "date": r.date,
            "review": r.review,
            "substantive": r.substantive,
            "lines_written": r.lines_written,
        }
        for se in all_series
        if se.kind == "series"
        for v in se.versions
        for r in v.replies
        if r.reviewer
    ]


def people_rows(
    conn: Connection, people: Identities, org_of: OrgOf, is_bot: Callable[[str, str], bool]
) -> list[dict[str, Any]]:
    """One row per identity seen sending mail: display name, addresses, organisation."""
    m = schema.messages
    acc: dict[str, dict[str, Any]] = {}
    for name, addr, date in conn.execute(
        select(m.c.from_name, m.c.from_addr, m.c.date_utc).order_by(m.c.date_utc, m.c.message_id)
    ):
        who = people(name, addr)
        a = acc.setdefault(
            who, {"names": Counter(), "addrs": Counter(), "first": None, "last": None, "bot": False}
        )
        if name:
            a["names"][name] += 1
        a["addrs"][addr] += 1
        if date is not None:
            a["first"] = date if a["first"] is None else min(a["first"], date)
            if a["last"] is None or date >= a["last"]:
                a["last"], a["last_addr"] = date, addr
        a["bot"] = a["bot"] or is_bot(name, addr)
    rows = []
    for who, a in acc.items():
        address = a["addrs"].most_common(1)[0][0]
        rows.append(
            {
                "identity": who,
                "name": a["names"].most_common(1)[0][0] if a["names"] else "",
                "address": address,
                "addresses": json.dumps(sorted(a["addrs"])),
                "org": org_of(a.get("last_addr", address), a["last"] or 0),
                "messages": sum(a["addrs"].values()),
                "first_date": a["first"],
                "last_date": a["last"],
                "is_bot": a["bot"],
            }
        )
    return rows


def subsystem_rows(sections: list[Any]) -> list[dict[str, Any]]:
    rows = {}
    for sec in sections:
        rows[sec.title] = {
            "title": sec.title,
            "status": sec.status,
            "maintainers": json.dumps([[p.name, p.email] for p in sec.maintainers]),
            "reviewers": json.dumps([[p.name, p.email] for p in sec.reviewers]),
            "lists": json.dumps(list(sec.lists)),
            "files": json.dumps(list(sec.files)),
        }
    return list(rows.values())
