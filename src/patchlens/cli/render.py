"""Terminal rendering of what the commands compute: rich tables and lines. The commands
(cli/__init__.py) parse options and call stages/ and queries/; queries/ return plain data;
this module alone turns that data into text. Everything from mail is escaped for rich
markup (a subject may hold `[red]`)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from patchlens.match.evaluate import Evaluation
from patchlens.stages.ingest import SourceReport
from patchlens.stages.pipeline import StagesReport

if TYPE_CHECKING:  # the report's modules (numpy among them) only for the command that prints it
    from patchlens.queries.report import Report


def day(ts: int | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d") if ts else ""


def _table(
    title: str, columns: tuple[str, ...], right: tuple[str, ...] = (), fold: bool = False
) -> Table:
    """A table with a left-aligned title; the `right` columns right-aligned (numbers); with
    `fold`, long cells wrap instead of being cut."""
    t = Table(title=title, title_justify="left")
    for col in columns:
        t.add_column(
            col,
            justify="right" if col in right else "left",
            overflow="fold" if fold else "ellipsis",
        )
    return t


def health(health: dict[str, Any], console: Console) -> None:
    """Damaged and failed sources with what could not be read, and quarantined messages;
    nothing when the store read everything."""
    if health["damaged_sources"]:
        t = Table(title="Damaged sources", title_justify="left")
        for col in ("source", "state", "where", "reason"):
            t.add_column(col, overflow="fold")
        for src in health["damaged_sources"]:
            label = escape(f"{src['kind']} {src['name']}: {src['location']}")
            if src["error"]:
                t.add_row(label, "failed", "(whole source)", escape(src["error"]))
            for item in src["unreadable"]:
                t.add_row(label, src["state"], escape(item["position"]), escape(item["reason"]))
            more = src["unreadable_count"] - len(src["unreadable"])
            if more > 0:
                t.add_row(label, src["state"], f"... {more} more", "patchlens status --json")
        console.print(t)
    if health["quarantined"]:
        q = Table(
            title=f"Quarantined messages ({health['quarantined_count']:,})", title_justify="left"
        )
        for col in ("list", "where", "reason"):
            q.add_column(col, overflow="fold")
        for item in health["quarantined"]:
            q.add_row(
                escape(item["list"]),
                escape(f"{Path(item['location']).name}: {item['position']}"),
                escape(item["reason"]),
            )
        more = health["quarantined_count"] - len(health["quarantined"])
        if more > 0:
            q.add_row("", f"... {more} more", "patchlens status --json")
        console.print(q)


def review(review: dict[str, Any], console: Console) -> None:
    t = Table(title="Review reconstructed", title_justify="left", show_header=False)
    t.add_column("what")
    t.add_column("count", justify="right")
    for label, key in (
        ("threads", "threads"),
        ("series", "series"),
        ("versions", "versions"),
        ("versions linked to a previous one", "versions_linked"),
        ("patches", "patches"),
        ("cover letters", "cover_letters"),
        ("review replies", "review_replies"),
        ("author replies", "author_replies"),
        ("bot replies", "bot_replies"),
    ):
        t.add_row(label, f"{review[key]:,}")
    for key, count in sorted(review["trailers_given"].items(), key=lambda kv: -kv[1]):
        t.add_row(f"{escape(key)} given", f"{count:,}")
    for kind, count in sorted(review["notices"].items()):
        t.add_row(f"'{kind}' notices", f"{count:,}")
    console.print(t)


def sources(lists: list[dict[str, Any]], repos: list[dict[str, Any]], console: Console) -> None:
    t = _table(
        "Mailing lists", ("list", "messages", "patches", "from", "to"), ("messages", "patches")
    )
    for li in lists:
        t.add_row(
            escape(li["list"]),
            f"{li['messages']:,}",
            f"{li['patches']:,}",
            (li["first_date"] or "")[:10],
            (li["last_date"] or "")[:10],
        )
    console.print(t)
    src = _table(
        "Archive sources",
        ("list", "source", "format", "read", "variants", "quarantined", "updated"),
        ("read", "variants", "quarantined"),
        fold=True,
    )
    for li in lists:
        for s_ in li["sources"]:
            src.add_row(
                escape(li["list"]),
                escape(Path(s_["location"]).name),
                s_["format"],
                f"{s_['messages_read']:,}",
                str(s_["variants"]),
                str(s_["quarantined"]),
                (s_["last_update"] or "never")[:16],
            )
    console.print(src)
    r = _table(
        "Repositories",
        ("repo", "commits", "without diffs", "branches", "from", "to", "updated"),
        ("commits", "without diffs"),
    )
    for repo in repos:
        branches = ", ".join(f"{b} ({n:,})" for b, n in sorted(repo["commits_per_branch"].items()))
        skipped = (
            f"{repo['diff_skipped']:,} (before {repo['horizon'][:10]})" if repo["horizon"] else "0"
        )
        r.add_row(
            escape(repo["repo"]),
            f"{repo['commits']:,}",
            skipped,
            escape(branches or ", ".join(repo["branches"])),
            (repo["first_date"] or "")[:10],
            (repo["last_date"] or "")[:10],
            (repo["last_update"] or "never")[:16],
        )
    console.print(r)


def update_summary(
    reports: list[SourceReport], st: StagesReport, seconds: float, quiet: bool, err: Console
) -> None:
    """What an update read and rebuilt (not with --quiet), then every damaged or failed
    source (always: a source that could not be read is never silent)."""
    if not quiet:
        for r in reports:
            if r.error:
                continue
            what = "commits" if r.kind == "repo" else "messages"
            extra = ""
            if r.kind == "list":
                extra = (
                    f", {r.duplicates} duplicates, {r.variants} variants,"
                    f" {r.quarantined} quarantined"
                )
            if r.damage:
                extra += f", {len(r.damage)} unreadable parts (see 'patchlens status')"
            err.print(
                escape(f"{r.name}: {r.read} {what} read, {r.new} new{extra}"), highlight=False
            )
        if not st.skipped:
            rec, mat, met = st.review, st.matching, st.metrics
            how = "what new mail changed:" if rec.incremental else "everything:"
            if rec.fallback:
                how = f"everything ({rec.fallback}):"
            err.print(
                f"review: {st.analysed} messages analysed; rebuilt {how} {rec.threads}"
                f" threads, {rec.versions} versions in {rec.series} series ({rec.links} version"
                f" links), {rec.replies} replies; {rec.changed_rows} rows changed",
                highlight=False,
            )
            scope = "of what changed" if mat.incremental else "in all"
            if mat.fallback:
                scope += f" ({mat.fallback})"
            err.print(
                f"matching: {mat.links} postings linked to commits ({mat.ambiguous} ambiguous)"
                f" among {mat.postings} postings and {mat.commits} commits {scope}",
                highlight=False,
            )
            err.print(
                f"metrics: {met.series} series in {met.seconds:.2f} s; "
                f"{met.changed_rows} rows changed",
                highlight=False,
            )
            pre = st.prediction
            fitted = (
                f"fitted on {pre.series} series ({pre.points} points, {pre.merges} merged)"
                if pre.refitted
                else "none: no repository is registered, so no open series can be seen merged"
                if pre.no_repository
                else "kept (same week)"
            )
            err.print(f"prediction model: {fitted} in {pre.seconds:.2f} s", highlight=False)
        err.print(f"update took {seconds:.2f} s")
    for r in reports:
        if r.damage and not r.error:
            err.print(
                f"[yellow]damaged:[/yellow] {escape(f'{r.name}: {r.location}')}:"
                f" {len(r.damage)} parts could not be read and were read around"
                " (see 'patchlens status')",
                highlight=False,
                soft_wrap=True,
            )
    for r in reports:
        if r.error:
            err.print(
                f"[red]failed:[/red] {escape(f'{r.name}: {r.error}')}",
                highlight=False,
                soft_wrap=True,
            )


def series_table(rows: list[dict[str, Any]], console: Console) -> None:
    """Selected series, one a row (`select_series` rows)."""
    t = Table(title=f"Series ({len(rows)} shown)", title_justify="left")
    for col in ("last activity", "title", "author", "versions", "patches", "replies", "key"):
        t.add_column(col, overflow="fold" if col in ("title", "key") else "ellipsis")
    for r in rows:
        t.add_row(
            day(r["last_date"]),
            escape(r["title"]),
            escape(r["author_name"] or r["author_addr"]),
            str(r["versions"]),
            str(r["patches"]),
            str(r["review_replies"]),
            escape(r["series_key"]),
        )
    console.print(t)


def timeline(versions: list[dict[str, Any]], console: Console) -> None:
    """A series' versions (`versions_detail`), each with its patches, replies, trailers."""
    from patchlens.queries.series import given_by

    for v in versions:
        flags = " ".join(f for f, on in (("RFC", v["rfc"]), ("RESEND", v["resend"])) if on)
        head = f"v{v['version_str'] or v['version']} {flags}".strip()
        console.print(
            f"\n[bold]{escape(head)}[/bold]  {day(v['date'])}  {escape(v['title'])}"
            f"  ({escape(v['author_name'] or v['author_addr'])})",
            highlight=False,
        )
        if v["prev_key"]:
            ev = ", ".join(f"{k} {w:g}" for k, w in (v["link_evidence"] or {}).items())
            console.print(f"  follows {escape(v['prev_key'])} ({escape(ev)})", highlight=False)
        if v["missing"]:
            console.print(f"  [yellow]missing patches: {v['missing']}[/yellow]")
        for mm in v["members"]:
            console.print(
                f"  {mm['idx']:>2}  {escape(mm['subject'])}  <{escape(mm['message_id'])}>",
                highlight=False,
            )
        for rep in v["replies"]:
            who = rep["from_name"] or rep["from_addr"]
            tags = [t for t, on in (("author", rep["is_author"]), ("bot", rep["is_bot"])) if on]
            tr = "; ".join(f"{t['key']}: {given_by(t, rep)}" for t in rep["trailers"])
            line = (
                f"    {day(rep['date'])}  {escape(who)}"
                f"{' (' + ', '.join(tags) + ')' if tags else ''} on #{rep['patch_idx']}:"
                f" {rep['lines_written']} lines written"
            )
            if tr:
                line += f"  [green]{escape(tr)}[/green]"
            if rep["notices"]:
                line += f"  [cyan]{escape(', '.join(rep['notices']))}[/cyan]"
            console.print(line, highlight=False)


def evaluation_json(ev: Evaluation, errors: int) -> dict[str, Any]:
    """`eval-match --json`: the scores rounded to 4 places, the first `errors` errors."""
    return {
        "labelled_commits": ev.labelled,
        "true_positives": ev.tp,
        "false_positives": ev.fp,
        "false_negatives": ev.fn,
        "ambiguous": ev.ambiguous,
        "precision": round(ev.precision, 4),
        "recall": round(ev.recall, 4),
        "f1": round(ev.f1, 4),
        "layers": {
            k: {"tp": v.tp, "fp": v.fp, "precision": round(v.precision, 4)}
            for k, v in sorted(ev.layers.items())
        },
        "errors": ev.errors[:errors],
    }


def evaluation(ev: Evaluation, errors: int, console: Console) -> None:
    """Matching's precision and recall, per layer, and its first `errors` errors."""
    if not ev.labelled:
        console.print("no commit names a posting in this store: nothing to measure")
        return
    console.print(
        f"{ev.labelled} labelled commits: precision {ev.precision:.4f}, recall {ev.recall:.4f},"
        f" F1 {ev.f1:.4f} ({ev.tp} right, {ev.fp} wrong, {ev.fn} missed of which"
        f" {ev.ambiguous} ambiguous)",
        highlight=False,
    )
    t = _table(
        "Per layer", ("layer", "right", "wrong", "precision"), ("right", "wrong", "precision")
    )
    for k, v in sorted(ev.layers.items()):
        t.add_row(k, str(v.tp), str(v.fp), f"{v.precision:.4f}")
    console.print(t)
    if ev.errors:
        e = Table(title=f"Errors ({len(ev.errors)})", title_justify="left")
        for col in ("commit", "expected posting", "matched", "why"):
            e.add_column(col, overflow="fold")
        for row in ev.errors[:errors]:
            e.add_row(
                str(row["commit"])[:12],
                escape(str(row["expected"])),
                escape(str(row["got"] or "-")),
                escape(f"{row['why']}" + (f" ({row['method']})" if "method" in row else "")),
            )
        console.print(e)


def _h(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.1f} h" if v < 48 else f"{v / 24:.1f} d"


def _percentiles(
    console: Console, title: str, first: str, rows: list[tuple[str, dict[str, Any]]]
) -> None:
    """A table of duration summaries (n, median, p75, p90), one labelled row each."""
    t = _table(title, (first, "n", "median", "p75", "p90"), ("n", "median", "p75", "p90"))
    for label, sm in rows:
        t.add_row(label, str(sm["n"]), _h(sm["median"]), _h(sm["p75"]), _h(sm["p90"]))
    console.print(t)


def report(rep: Report, console: Console) -> None:
    """The report (`build_report`) as the three use cases: backlog, performance, community."""
    console.rule("[bold]Backlog")
    t = Table(title=f"{rep.series:,} series by state, as of {day(rep.as_of)}", title_justify="left")
    t.add_column("state")
    t.add_column("series", justify="right")
    for st, n in rep.states.items():
        t.add_row(st, f"{n:,}")
    t.add_row("[bold]all", f"[bold]{sum(rep.states.values()):,}")
    console.print(t)
    for title, items in (
        ("Oldest waiting for a first response", rep.oldest_new),
        ("Nearly complete: every patch reviewed, not merged", rep.nearly_complete),
        ("Stale", rep.stale),
    ):
        if not items:
            continue
        t = Table(title=title, title_justify="left")
        for col in ("posted", "last activity", "title", "author", "v", "patches"):
            t.add_column(col, overflow="fold" if col == "title" else "ellipsis")
        for r in items:
            t.add_row(
                day(r["first_date"]),
                day(r["last_date"]),
                escape(r["title"]),
                escape(r["author_addr"]),
                str(r["versions"]),
                str(r["patches"]),
            )
        console.print(t)
    if rep.unanswered_by_subsystem is not None:
        console.print(
            f"open series no maintainer or reviewer of their subsystem answered: "
            f"{rep.unanswered_by_subsystem:,}"
        )
    else:
        console.print("no MAINTAINERS file: series are in no subsystem")

    console.rule("[bold]Performance")
    _percentiles(
        console,
        "Durations over all series (nearest-rank percentiles)",
        "metric",
        [(m.replace("_", " "), sm) for m, sm in rep.durations.items()],
    )
    for m, per in rep.per_quarter.items():
        rows = [(p["period"], p) for p in per[-12:]]
        _percentiles(console, f"{m.replace('_', ' ')} per quarter", "quarter", rows)
    for name, groups in rep.per_bucket.items():
        rows = [(g["group"], g) for g in groups]
        _percentiles(console, f"time to merge by {name}", name, rows)
    rows = [(g["group"], g) for g in rep.new_vs_established]
    _percentiles(console, "time to first response: new vs established", "contributor", rows)

    console.rule("[bold]Community")
    common = (
        ("review replies", "review_replies"),
        ("reviews", "reviews"),
        ("lines", "lines_written"),
        ("series", "series_authored"),
        ("replies received", "replies_received"),
        ("given/received", "given_per_received"),
    )
    for title, items, extra in (
        (
            "People: review given against contributions received",
            rep.people,
            (("tag-only", "flag_only"),),
        ),
        (
            "Organisations (each message by its address and date)",
            rep.orgs,
            (("reviewers", "reviewers"),),
        ),
    ):
        t = Table(title=title, title_justify="left")
        columns = (*common[:2], *extra, *common[2:])
        t.add_column("who")
        for head, _key in columns:
            t.add_column(head, justify="right")
        for r in items:
            who = (
                r.get("org")
                if "identity" not in r
                else (f"{r['name']} <{r['address']}>" if r["name"] else r["address"])
            )
            t.add_row(
                escape(str(who)),
                *(escape(str(r[k] if r[k] is not None else "-")) for _h, k in columns),
            )
        console.print(t)
    if rep.maintainer_load:
        t = Table(
            title="Maintainer and reviewer load (replies to their subsystems' series)",
            title_justify="left",
        )
        for col in ("subsystem", "who", "role", "series", "replies"):
            t.add_column(col, justify="right" if col in ("series", "replies") else "left")
        for r in rep.maintainer_load:
            t.add_row(
                escape(r["subsystem"]),
                escape(r["person"]),
                r["role"],
                str(r["series"]),
                str(r["replies"]),
            )
        console.print(t)
    cur = rep.to_curate
    if cur["people"]:
        console.print(
            f"organisation unknown for {cur['people']:,} people ({cur['messages']:,} messages),"
            " e.g. "
            + ", ".join(escape(x["address"]) for x in cur["top"][:5])
            + ": name their domains or addresses in a domain map (see patchlens.toml)"
        )
    if rep.anomalies:
        console.print(
            "anomalies: " + ", ".join(f"{k} {v}" for k, v in sorted(rep.anomalies.items()))
        )


def queue(d: dict[str, Any], console: Console) -> None:
    """A person's queue (`queries.queue.person_queue`): what awaits them, then what is back
    again, each oldest first."""
    who = escape(f"{d['name']} <{d['address']}>" if d["name"] else d["address"])
    console.print(f"Queue of {who}: {d['total']} open series, as of {day(d['as_of'])}")
    for rows, title in ((d["awaiting"], "Awaiting their answer"), (d["again"], "Back again")):
        t = _table(
            f"{title} ({len(rows)})",
            ("waiting", "title", "author", "version", "patches", "why", "answered by", "state"),
            ("waiting", "patches"),
            fold=True,
        )
        for r in rows:
            t.add_row(
                _h(r["waiting_hours"]),
                escape(r["title"]),
                escape(r["author_name"] or r["author_addr"]),
                escape(r["current_version"]),
                str(r["patches"]),
                ", ".join(r["reasons"]),
                escape(", ".join(p["name"] or p["address"] for p in r["answered_by"]) or "-"),
                r["state"],
            )
        console.print(t)


def conformance(d: dict[str, Any], console: Console, limit: int) -> None:
    """The conformance report (`queries.conformance.conformance`): coverage, counts, then
    the first `limit` rows of each list (every row is in `--json`)."""
    if d.get("unmeasured"):
        console.print(f"[yellow]{escape(d['unmeasured'])}[/yellow]")
        return
    for cov in d["coverage"]:
        console.print(
            f"archive {escape(cov['list'])}: {day(cov['first_date'])} to {day(cov['last_date'])}"
        )
    if not d["coverage"]:
        console.print("no list has enough dated messages: no commit can be judged")
    c = d["counts"]
    nj = ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in c["not_judged"].items() if v)
    console.print(
        f"{c['commits']:,} commits, {c['judged']:,} judged"
        + (f" (not judged: {nj})" if nj else "")
        + f"; {c['posted']:,} posted, {c['off_list']:,} off-list, {c['no_review']:,} merged"
        f" with no review, {c['changed_after_review']:,} of {c['compared']:,} compared changed"
        f" after review, {c['self_reviews']:,} self-given reviews"
    )
    titles = {
        "off_list": "Off-list commits",
        "no_review": "Merged with no review",
        "changed_after_review": "Changed after review",
        "self_reviews": "Self-given reviews",
    }
    for name, title in titles.items():
        rows = d[name]
        t = _table(
            f"{title} ({len(rows[:limit])} of {c[name]:,})",
            ("committed", "commit", "subject", "author", "detail"),
            fold=True,
        )
        for r in rows[:limit]:
            if name == "no_review":
                detail = "posted" if r["posted"] else "not posted"
            elif name == "changed_after_review":
                detail = f"{len(r['interdiff'])} lines differ from {r['reviewed_version']}"
            elif name == "self_reviews":
                detail = f"{r['trailer']} on the {r['where']}"
            else:
                detail = ""
            t.add_row(
                day(r["date"]),
                r["sha"][:12],
                escape(r["subject"]),
                escape(r["author_email"]),
                escape(detail),
            )
        console.print(t)
