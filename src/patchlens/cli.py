"""The `patchlens` command: a thin layer that parses options and calls the stages."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import Connection, Engine, select

from patchlens.config import Config, ConfigError, load_config
from patchlens.match.evaluate import evaluate
from patchlens.metrics.backlog import BacklogRules
from patchlens.queries.exports import (
    LINK_COLUMNS,
    METRICS_COLUMNS,
    PATCH_COLUMNS,
    PEOPLE_COLUMNS,
    links_export,
    metrics_rows,
    patch_rows,
    people_rows,
)
from patchlens.queries.formats import with_units, write_rows
from patchlens.queries.report import ReportFilter, build_report, render
from patchlens.queries.series import (
    EXPORT_COLUMNS,
    SeriesFilter,
    export_rows,
    find_series,
    review_status,
    series_list,
    versions_detail,
)
from patchlens.queries.status import health_status, list_status, repo_status
from patchlens.sources.base import SourceError
from patchlens.stages import ingest
from patchlens.stages.match import fingerprint_new
from patchlens.stages.match import load as load_match_inputs
from patchlens.stages.parallel import stop_workers
from patchlens.stages.pipeline import StagesReport, run_stages
from patchlens.stages.progress import Reporter
from patchlens.store import schema
from patchlens.store.db import cache_dir, database_url, open_store
from patchlens.store.lock import StoreBusy, update_lock

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Make the code review of mailing-list-driven projects visible.",
)
console = Console()
err = Console(stderr=True)


class State:
    db: str | None = None
    quiet: bool = False
    config: str | None = None


state = State()


@app.callback()
def _global(
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            envvar="PATCHLENS_DB",
            help="SQLite file (default ./patchlens.db) or a SQLAlchemy URL.",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
    config: Annotated[
        str | None,
        typer.Option(
            "--config", envvar="PATCHLENS_CONFIG", help="Settings file (default ./patchlens.toml)."
        ),
    ] = None,
) -> None:
    state.db = db
    state.quiet = quiet
    state.config = config


def _fail(message: str, code: int = 2) -> NoReturn:
    # soft_wrap: one line however long, so that scripts and people see one error line.
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


# --- options accepted after the subcommand too ----------------------------------------------
# `patchlens update --db X -q` works like `patchlens --db X -q update`: people type options
# where they think of them. The subcommand's spelling wins when both are given.

_DB_OPT = typer.Option("--db", help="SQLite file (default ./patchlens.db) or a SQLAlchemy URL.")
_QUIET_OPT = typer.Option("--quiet", "-q", help="No progress bars.")
_CONFIG_OPT = typer.Option("--config", help="Settings file (default ./patchlens.toml).")
_GLOBALS = {
    "global_db": (Annotated[str | None, _DB_OPT], None),
    "global_quiet": (Annotated[bool, _QUIET_OPT], False),
    "global_config": (Annotated[str | None, _CONFIG_OPT], None),
}


def with_global_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` as a command that also takes --db, --quiet and --config (typer reads the
    signature and the annotations, so both are extended)."""
    sig = inspect.signature(fn, eval_str=True)  # the Annotated[...] objects, not strings
    extra = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=ann)
        for name, (ann, default) in _GLOBALS.items()
    ]

    @functools.wraps(fn)
    def command(*args: Any, **kwargs: Any) -> Any:
        db, quiet, config = (kwargs.pop(name) for name in _GLOBALS)
        if db is not None:
            state.db = db
        if quiet:
            state.quiet = True
        if config is not None:
            state.config = config
        return fn(*args, **kwargs)

    command.__signature__ = sig.replace(parameters=[*sig.parameters.values(), *extra])  # type: ignore[attr-defined]
    return command


@app.command("add-list")
def add_list(
    name: Annotated[str, typer.Argument(help="A name for the mailing list.")],
    sources: Annotated[list[str], typer.Argument(help="Archive files, folders or URLs.")],
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="These become the list's only sources; messages only the others had go.",
        ),
    ] = False,
) -> None:
    """Register a mailing list and its archive source(s); the format is detected.

    Each source is checked before anything is registered."""
    engine = open_store(state.db)
    try:
        # Replacing removes rows: not under an update that is writing them.
        with _store_lock(engine, wait=True) if replace else nullcontext():
            found = ingest.add_list(engine, name, sources, replace=replace)
    except SourceError as e:
        _fail(str(e))
    for loc, fmt in found:
        console.print(f"{name}: {loc} ({fmt})", highlight=False)


@app.command("add-repo")
def add_repo(
    name: Annotated[str, typer.Argument(help="A name for the repository.")],
    source: Annotated[str, typer.Argument(help="A path, bundle or URL git can clone.")],
    branch: Annotated[
        list[str] | None,
        typer.Option("--branch", "-b", help="Branch to follow (repeatable; default: HEAD's)."),
    ] = None,
    replace: Annotated[
        bool,
        typer.Option("--replace", help="Change the source of a registered repository."),
    ] = False,
) -> None:
    """Register a git repository whose commits patches are matched against.

    Git must be able to read it now."""
    engine = open_store(state.db)
    try:
        with _store_lock(engine, wait=True) if replace else nullcontext():
            ingest.add_repo(engine, name, source, branch or [], replace=replace)
    except SourceError as e:
        _fail(str(e))
    console.print(f"{name}: {source} ({', '.join(branch or ['default branch'])})")


@app.command("remove-list")
def remove_list(name: Annotated[str, typer.Argument(help="The list's name.")]) -> None:
    """Unregister a mailing list; messages no other list has go with all derived from them.

    The next update rebuilds review, matching and metrics."""
    engine = open_store(state.db)
    try:
        with _store_lock(engine, wait=True):
            rem = ingest.remove_list(engine, name)
    except SourceError as e:
        _fail(str(e))
    console.print(
        f"{name}: removed ({rem.sources} sources, {rem.messages} messages removed,"
        f" {rem.kept} kept as another list has them); run update to rebuild",
        highlight=False,
        soft_wrap=True,
    )


@app.command("remove-repo")
def remove_repo(name: Annotated[str, typer.Argument(help="The repository's name.")]) -> None:
    """Unregister a repository and its commits; the next update matches again."""
    engine = open_store(state.db)
    try:
        with _store_lock(engine, wait=True):
            rem = ingest.remove_repo(engine, name)
    except SourceError as e:
        _fail(str(e))
    console.print(
        f"{name}: removed ({rem.commits} commits); run update to rebuild",
        highlight=False,
        soft_wrap=True,
    )


def _store_lock(engine: Engine, wait: bool) -> AbstractContextManager[None]:
    def waiting(holder: str) -> None:
        err.print(
            f"another update is running on this store ({holder}); waiting...",
            highlight=False,
            soft_wrap=True,
        )

    return update_lock(engine, wait=wait, on_wait=waiting)


def _config() -> Config:
    try:
        return load_config(state.config)
    except ConfigError as e:
        _fail(str(e))
        raise  # unreachable: _fail exits


# sysexits.h EX_TEMPFAIL: the store is busy, try again later.
EXIT_BUSY = 75
EXIT_INTERRUPTED = 130
# `update`: every source read whole (0); done, but some sources damaged (read around parts
# that could not be read) or unreadable while the others were updated (3); failed: no
# registered source could be read at all (1). `status` lists what could not be read.
EXIT_DONE = 0
EXIT_FAILED = 1
EXIT_PARTIAL = 3


def update_exit_code(reports: Sequence[ingest.SourceReport]) -> int:
    """The exit status of an update from its per-source reports (see EXIT_*)."""
    if reports and all(r.error for r in reports):
        return EXIT_FAILED
    if any(r.error or r.damage for r in reports):
        return EXIT_PARTIAL
    return EXIT_DONE


def _run_update(
    force: bool = False, wait: bool = True
) -> tuple[list[ingest.SourceReport], StagesReport]:
    url = database_url(state.db)
    cfg = _config()
    engine = open_store(state.db)
    reporter = Reporter(quiet=state.quiet, console=err)
    try:
        with _store_lock(engine, wait):
            reports = ingest.run_update(engine, cache_dir(url), reporter)
            return reports, run_stages(engine, cfg, cache_dir(url), reporter, force=force)
    except StoreBusy as e:
        _fail(
            f"another update is running on this store ({e.holder}); not waiting (--no-wait)",
            EXIT_BUSY,
        )


@app.command()
def update(
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Rebuild review, matching and metrics even if nothing is new."
        ),
    ] = False,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait/--no-wait",
            help="When another update is running on the store: wait for it, or exit with 75.",
        ),
    ] = True,
) -> None:
    """Ingest everything new, then rebuild what depends on it: review, matching, metrics."""
    t0 = time.perf_counter()
    try:
        reports, st = _run_update(force, wait)
    except KeyboardInterrupt:
        # Ctrl-C reaches this process (worker processes ignore it; typer would turn it into
        # "Aborted!" later). The transaction in flight has been rolled back and every batch
        # committed is kept, so a re-run resumes: say that, once.
        _interrupted()
    failed = [r for r in reports if r.error]
    damaged = [r for r in reports if r.damage and not r.error]
    if not state.quiet:
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
            err.print(
                f"review: {st.analysed} messages analysed; {rec.threads} threads,"
                f" {rec.versions} versions in {rec.series} series ({rec.links} version links),"
                f" {rec.replies} replies; {rec.changed_rows} rows changed",
                highlight=False,
            )
            err.print(
                f"matching: {mat.links} postings linked to commits ({mat.ambiguous} ambiguous)"
                f" among {mat.postings} postings and {mat.commits} commits",
                highlight=False,
            )
            err.print(
                f"metrics: {met.series} series in {met.seconds:.2f} s; "
                f"{met.changed_rows} rows changed",
                highlight=False,
            )
        err.print(f"update took {time.perf_counter() - t0:.2f} s")
    for r in damaged:
        err.print(
            f"[yellow]damaged:[/yellow] {escape(f'{r.name}: {r.location}')}:"
            f" {len(r.damage)} parts could not be read and were read around"
            " (see 'patchlens status')",
            highlight=False,
            soft_wrap=True,
        )
    for r in failed:
        err.print(
            f"[red]failed:[/red] {escape(f'{r.name}: {r.error}')}", highlight=False, soft_wrap=True
        )
    code = update_exit_code(reports)
    if code != EXIT_DONE:
        raise typer.Exit(code)


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Per source: counts, date range, last update, quarantined messages."""
    engine = open_store(state.db)
    with engine.connect() as conn:
        lists, repos, review = list_status(conn), repo_status(conn), review_status(conn)
        health = health_status(conn, limit=None if as_json else STATUS_ITEMS)
    if as_json:
        print(
            json.dumps(
                {"lists": lists, "repos": repos, "review": review, "health": health}, indent=2
            )
        )
        return
    _print_status(lists, repos)
    _print_health(health)
    _print_review(review)


# How many unreadable parts per source, and quarantined messages, `status` prints (all of
# them with --json).
STATUS_ITEMS = 20


def _print_health(health: dict) -> None:
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


def _print_review(review: dict) -> None:
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


def _print_status(lists: list[dict], repos: list[dict]) -> None:
    t = Table(title="Mailing lists", title_justify="left")
    for col, just in (
        ("list", "left"),
        ("messages", "right"),
        ("patches", "right"),
        ("from", "left"),
        ("to", "left"),
    ):
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for li in lists:
        t.add_row(
            escape(li["list"]),
            f"{li['messages']:,}",
            f"{li['patches']:,}",
            (li["first_date"] or "")[:10],
            (li["last_date"] or "")[:10],
        )
    console.print(t)
    src = Table(title="Archive sources", title_justify="left")
    for col, just in (
        ("list", "left"),
        ("source", "left"),
        ("format", "left"),
        ("read", "right"),
        ("variants", "right"),
        ("quarantined", "right"),
        ("updated", "left"),
    ):
        src.add_column(col, justify=just, overflow="fold")  # type: ignore[arg-type]
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
    r = Table(title="Repositories", title_justify="left")
    for col, just in (
        ("repo", "left"),
        ("commits", "right"),
        ("branches", "left"),
        ("from", "left"),
        ("to", "left"),
        ("updated", "left"),
    ):
        r.add_column(col, justify=just)  # type: ignore[arg-type]
    for repo in repos:
        branches = ", ".join(f"{b} ({n:,})" for b, n in sorted(repo["commits_per_branch"].items()))
        r.add_row(
            escape(repo["repo"]),
            f"{repo['commits']:,}",
            escape(branches or ", ".join(repo["branches"])),
            (repo["first_date"] or "")[:10],
            (repo["last_date"] or "")[:10],
            (repo["last_update"] or "never")[:16],
        )
    console.print(r)


def _until_arg(value: str | None) -> int | None:
    """`--until DAY` keeps that whole day: the bound is the next midnight (exclusive); a full
    date and time is taken as given."""
    ts = _date_arg(value)
    if ts is not None and value is not None and len(value.strip()) == 10:
        ts += 86400
    return ts


def _date_arg(value: str | None) -> int | None:
    if not value:
        return None
    try:
        d = datetime.fromisoformat(value)
    except ValueError:
        _fail(f"not a date: {value!r} (use YYYY-MM-DD)")
    if d.tzinfo is None:
        d = d.replace(tzinfo=UTC)
    return int(d.timestamp())


def _day(ts: int | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d") if ts else ""


@app.command("series")
def series_cmd(
    author: Annotated[str | None, typer.Option(help="Author name or address contains.")] = None,
    since: Annotated[str | None, typer.Option(help="Active on or after (YYYY-MM-DD).")] = None,
    until: Annotated[
        str | None, typer.Option(help="Started on or before (YYYY-MM-DD, the day included).")
    ] = None,
    search: Annotated[str | None, typer.Option(help="Title contains.")] = None,
    list_name: Annotated[str | None, typer.Option("--list", help="Mailing list name.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many rows.")] = 50,
) -> None:
    """List series, most recently active first."""
    engine = open_store(state.db)
    f = SeriesFilter(author, _date_arg(since), _until_arg(until), search, list_name, limit)
    with engine.connect() as conn:
        rows = series_list(conn, f)
    t = Table(title=f"Series ({len(rows)} shown)", title_justify="left")
    for col in ("last activity", "title", "author", "versions", "patches", "replies", "key"):
        t.add_column(col, overflow="fold" if col in ("title", "key") else "ellipsis")
    for r in rows:
        t.add_row(
            _day(r["last_date"]),
            escape(r["title"]),
            escape(r["author_name"] or r["author_addr"]),
            str(r["n_versions"]),
            str(r["patches"]),
            str(r["replies"]),
            escape(r["key"]),
        )
    console.print(t)


@app.command()
def show(
    ident: Annotated[str, typer.Argument(help="A series key or any Message-ID in it.")],
) -> None:
    """A series' timeline: versions, patches, replies, trailers, notices."""
    engine = open_store(state.db)
    with engine.connect() as conn:
        key = find_series(conn, ident)
        if key is None:
            _fail(f"no series contains {ident!r}")
        versions = versions_detail(conn, [key])
    for v in versions:
        flags = " ".join(f for f, on in (("RFC", v["rfc"]), ("RESEND", v["resend"])) if on)
        head = f"v{v['version_str'] or v['version']} {flags}".strip()
        console.print(
            f"\n[bold]{escape(head)}[/bold]  {_day(v['date'])}  {escape(v['title'])}"
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
            tags = []
            if rep["is_author"]:
                tags.append("author")
            if rep["is_bot"]:
                tags.append("bot")
            tr = "; ".join(f"{t['key']}: {t['name'] or t['email']}" for t in rep["trailers"])
            line = (
                f"    {_day(rep['date'])}  {escape(who)}"
                f"{' (' + ', '.join(tags) + ')' if tags else ''} on #{rep['patch_idx']}:"
                f" {rep['lines_written']} lines written"
            )
            if tr:
                line += f"  [green]{escape(tr)}[/green]"
            if rep["notices"]:
                line += f"  [cyan]{escape(', '.join(rep['notices']))}[/cyan]"
            console.print(line, highlight=False)


export_app = typer.Typer(help="Export what patchlens reconstructed, for use elsewhere.")
app.add_typer(export_app, name="export")


@app.command("eval-match")
def eval_match(
    errors: Annotated[int, typer.Option(help="List at most this many errors.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Precision and recall of matching, against commits whose Link:/Message-ID: trailers
    name their posting (the trailers are hidden from the matcher)."""
    engine = open_store(state.db)
    fingerprint_new(engine, Reporter(quiet=state.quiet, console=err))
    with engine.connect() as conn:
        postings, commits = load_match_inputs(conn)
        shas = dict(conn.execute(select(schema.commits.c.id, schema.commits.c.sha)).all())
    ev = evaluate(postings, commits, describe=shas)
    result = {
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
    if as_json:
        print(json.dumps(result, indent=2))
        return
    if not ev.labelled:
        console.print("no commit names a posting in this store: nothing to measure")
        return
    console.print(
        f"{ev.labelled} labelled commits: precision {ev.precision:.4f}, recall {ev.recall:.4f},"
        f" F1 {ev.f1:.4f} ({ev.tp} right, {ev.fp} wrong, {ev.fn} missed of which"
        f" {ev.ambiguous} ambiguous)",
        highlight=False,
    )
    t = Table(title="Per layer", title_justify="left")
    for col in ("layer", "right", "wrong", "precision"):
        t.add_column(col, justify="left" if col == "layer" else "right")
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


@app.command()
def report(
    since: Annotated[str | None, typer.Option(help="Series first posted on or after.")] = None,
    until: Annotated[
        str | None, typer.Option(help="Series first posted on or before (the day included).")
    ] = None,
    list_name: Annotated[str | None, typer.Option("--list", help="Mailing list name.")] = None,
    subsystem: Annotated[str | None, typer.Option(help="MAINTAINERS section title.")] = None,
    org: Annotated[str | None, typer.Option(help="Organisation of the author.")] = None,
    as_of: Annotated[str | None, typer.Option(help="Backlog as of this date.")] = None,
    bucket: Annotated[
        str | None, typer.Option(help="Size: patches:2-5, lines:100-999, versions:3-4, ...")
    ] = None,
    contributor: Annotated[str | None, typer.Option(help="new or established.")] = None,
    top: Annotated[int, typer.Option(help="Rows in each top list.")] = 15,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """The three use cases in the terminal: backlog, performance, community."""
    cfg = _config()
    engine = open_store(state.db)
    f = ReportFilter(
        _date_arg(since),
        _until_arg(until),
        list_name,
        subsystem,
        org,
        _date_arg(as_of),
        BacklogRules(cfg.stale_days, cfg.abandoned_days),
        bucket,
        contributor,
    )
    with engine.connect() as conn:
        try:
            rep = build_report(conn, f, top)
        except ValueError as e:
            _fail(str(e))
    if as_json:
        print(json.dumps(with_units(dataclasses.asdict(rep)), indent=1, default=str))
        return
    render(rep, console)


def _register_export(
    name: str,
    rows: Callable[[Connection], list[dict]],
    columns: Sequence[str],
    default: str,
    doc: str,
) -> None:
    """One `patchlens export NAME` command: the rows, in any format write_rows knows."""

    def command(
        fmt: Annotated[str, typer.Option("--format", help="csv, tsv, json or parquet.")] = default,
        output: Annotated[
            Path | None, typer.Option("--output", "-o", help="File (default stdout).")
        ] = None,
    ) -> None:
        engine = open_store(state.db)
        with engine.connect() as conn:
            data = rows(conn)
        _write(data, fmt, output, columns)

    command.__doc__ = doc
    export_app.command(name)(command)


for _name, _rows, _columns, _default, _doc in (
    (
        "series",
        export_rows,
        EXPORT_COLUMNS,
        "json",
        "Per series version: cover, patches in order, previous/next version, every reply.",
    ),
    (
        "links",
        links_export,
        LINK_COLUMNS,
        "tsv",
        "Every posting-to-commit link: message_id, repo, commit, method, score.",
    ),
    (
        "metrics",
        metrics_rows,
        METRICS_COLUMNS,
        "csv",
        "One row per series: every metric of docs/METRICS.md, the state facts, anomalies.",
    ),
    (
        "patches",
        patch_rows,
        PATCH_COLUMNS,
        "csv",
        "One row per posted patch: its version, metrics, and the commit it became.",
    ),
    (
        "people",
        people_rows,
        PEOPLE_COLUMNS,
        "csv",
        "One row per person: review given against contributions received, organisation.",
    ),
):
    _register_export(_name, _rows, _columns, _default, _doc)


def _write(
    rows: list[dict], fmt: str, output: Path | None, columns: Sequence[str] | None = None
) -> None:
    try:
        write_rows(rows, fmt, output, columns)
    except ValueError as e:
        _fail(str(e))


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="Server processes (each keeps its own rendered pages); about one per core.",
        ),
    ] = 1,
) -> None:
    """The dashboard, read-only over the store: pages, charts and the JSON API."""
    import uvicorn

    from patchlens.web.app import create_app

    url = database_url(state.db)
    try:
        web = create_app(url, _config())
    except FileNotFoundError as e:
        _fail(str(e))
    console.print(f"patchlens dashboard on http://{host}:{port}/ (Ctrl-C to stop)")
    if workers == 1:
        uvicorn.run(web, host=host, port=port, log_level="warning")
        return
    # Several processes: uvicorn starts each from an import string, and each builds the app
    # from the store and configuration named in its environment.
    os.environ["PATCHLENS_SERVE_DB"] = url
    os.environ["PATCHLENS_SERVE_CONFIG"] = str(state.config or "")
    uvicorn.run(
        "patchlens.web.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
    )


def shared_data_dir() -> Path:
    """`../shared/data` beside the project, or $PATCHLENS_DATA."""
    env = os.environ.get("PATCHLENS_DATA")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        cand = parent / "shared" / "data"
        if cand.is_dir():
            return cand
    return Path.cwd().parent / "shared" / "data"


@app.command()
def demo(
    serve_after: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the dashboard afterwards.")
    ] = True,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
) -> None:
    """Ingest the real EROFS sample (../shared/data/erofs), print the status, and serve the
    dashboard."""
    data = shared_data_dir() / "erofs"
    archive = data / "linux-erofs-archive.0.bundle"
    repo = data / "erofs-utils.bundle"
    if not archive.is_file() or not repo.is_file():
        _fail(f"the EROFS sample is missing: expected {archive} and {repo} (set PATCHLENS_DATA)")
    engine = open_store(state.db)
    ingest.add_list(engine, "linux-erofs", [str(archive)])
    ingest.add_repo(engine, "erofs-utils", str(repo), ["dev"])
    update(force=False)
    status(as_json=False)
    if serve_after:
        serve(host=host, port=port)


def _interrupted() -> NoReturn:
    """Stop the workers and exit at once: waiting for the process pools' threads could
    hang on a queue a killed worker left half-written, and would say nothing useful."""
    stop_workers()
    sys.stdout.flush()
    sys.stderr.write("interrupted; run update again to resume\n")
    sys.stderr.flush()
    os._exit(EXIT_INTERRUPTED)


for _app in (app, export_app):
    for _info in _app.registered_commands:
        if _info.callback is not None:
            _info.callback = with_global_options(_info.callback)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted: what was committed is kept; run the same command again")
        sys.exit(EXIT_INTERRUPTED)


if __name__ == "__main__":
    main()
