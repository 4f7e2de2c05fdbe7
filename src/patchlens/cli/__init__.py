"""The `patchlens` command: a thin layer that parses options, calls stages/ (writing) and
queries/ (reading), and hands what they return to cli/render.py (the terminal output)."""

from __future__ import annotations

import dataclasses
import functools
import gc
import inspect
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy import Engine, select

from patchlens.cli import render
from patchlens.config import Config, ConfigError, load_config
from patchlens.match.evaluate import evaluate
from patchlens.metrics.backlog import BacklogRules
from patchlens.queries.exports import EXPORTS, Export
from patchlens.queries.filters import PARAMS, SERIES_PARAMS, FilterError, Filters
from patchlens.queries.formats import with_units, write_rows
from patchlens.queries.selection import select_series
from patchlens.queries.series import find_series, review_status, versions_detail
from patchlens.queries.status import health_status, list_status, repo_status
from patchlens.sources.base import SourceError
from patchlens.stages import heap, ingest
from patchlens.stages.cluster import ClusterError
from patchlens.stages.match import fingerprint_new
from patchlens.stages.match import load as load_match_inputs
from patchlens.stages.parallel import stop_workers
from patchlens.stages.pipeline import StagesReport, run_stages
from patchlens.stages.progress import Reporter
from patchlens.store import schema
from patchlens.store.db import cache_dir, database_url, open_store
from patchlens.store.lock import StoreBusy, update_lock

T = TypeVar("T")

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
    # Set by a command that has closed its store and left nothing to tear down: the
    # process then ends without freeing its objects one by one (see `_exit_now`).
    exit_now: bool = False


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
    found = _change_sources(replace, lambda e: ingest.add_list(e, name, sources, replace=replace))
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
    _change_sources(
        replace, lambda e: ingest.add_repo(e, name, source, branch or [], replace=replace)
    )
    console.print(f"{name}: {source} ({', '.join(branch or ['default branch'])})")


@app.command("remove-list")
def remove_list(name: Annotated[str, typer.Argument(help="The list's name.")]) -> None:
    """Unregister a mailing list; messages no other list has go with all derived from them.

    The next update rebuilds review, matching and metrics."""
    rem = _change_sources(True, lambda e: ingest.remove_list(e, name))
    console.print(
        f"{name}: removed ({rem.sources} sources, {rem.messages} messages removed,"
        f" {rem.kept} kept as another list has them); run update to rebuild",
        highlight=False,
        soft_wrap=True,
    )


@app.command("remove-repo")
def remove_repo(name: Annotated[str, typer.Argument(help="The repository's name.")]) -> None:
    """Unregister a repository and its commits; the next update matches again."""
    rem = _change_sources(True, lambda e: ingest.remove_repo(e, name))
    console.print(
        f"{name}: removed ({rem.commits} commits); run update to rebuild",
        highlight=False,
        soft_wrap=True,
    )


def _change_sources(locked: bool, change: Callable[[Engine], T]) -> T:
    """A change to the registered sources; under the update lock when it removes rows (never
    under an update that is writing them). A source that cannot be used: an error, exit 2."""
    engine = open_store(state.db)
    try:
        with _store_lock(engine, wait=True) if locked else nullcontext():
            return change(engine)
    except SourceError as e:
        _fail(str(e))


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


# Allocations between two young collections of the garbage collector during an update.
UPDATE_GC_THRESHOLD = 50_000


def _run_update(
    force: bool = False, wait: bool = True, scheduler: str | None = None
) -> tuple[list[ingest.SourceReport], StagesReport]:
    url = database_url(state.db)
    cfg = _config()
    scheduler = scheduler or cfg.scheduler
    # An update holds tens of thousands of small objects alive at once (a day's mails and
    # versions, the linker's index, rows read back): at the default thresholds the collector
    # scanned them some 800 times in one day's update of the million-message store, 0.3 s
    # of 2, for almost no garbage in cycles. Young collections every 50,000 allocations, not
    # 700 (docs/PERFORMANCE.md). Put back after: a caller in the same process keeps its own.
    thresholds = gc.get_threshold()
    engine = None
    try:
        gc.set_threshold(UPDATE_GC_THRESHOLD, *thresholds[1:])
        engine = open_store(state.db)
        reporter = Reporter(quiet=state.quiet, console=err)
        with _store_lock(engine, wait), _cluster(scheduler):
            _register_configured(engine, cfg)
            reports = ingest.run_update(engine, cache_dir(url), reporter)
            return reports, run_stages(engine, cfg, cache_dir(url), reporter, force=force)
    except ClusterError as e:
        _fail(str(e), EXIT_FAILED)
        raise  # unreachable: _fail exits
    except StoreBusy as e:
        _fail(
            f"another update is running on this store ({e.holder}); not waiting (--no-wait)",
            EXIT_BUSY,
        )
    finally:
        # Closed here, not when the interpreter ends: SQLite checkpoints the WAL as the
        # last connection closes, and `_exit_now` may end the process without closing it.
        if engine is not None:
            engine.dispose()
        gc.set_threshold(*thresholds)


def _register_configured(engine: Engine, cfg: Config) -> None:
    """The lists and repositories the settings file names (`patchlens init`), registered as
    add-list/add-repo would; those already registered as named are left alone (no remote is
    asked again). A source that cannot be used: exit 2."""
    if not cfg.lists and not cfg.repos:
        return
    from patchlens.sources.gitutil import is_url

    def loc(source: str) -> str:
        return source if is_url(source) else str(Path(source).expanduser().resolve())

    ml, ls, rp = schema.mailing_lists, schema.list_sources, schema.repos
    with engine.connect() as conn:
        have = set(conn.execute(select(ml.c.name, ls.c.location).join(ls, ls.c.list_id == ml.c.id)))
        repos = {r.name: (r.location, r.branches) for r in conn.execute(select(rp))}
    try:
        for name, sources in cfg.lists.items():
            new = [s for s in sources if (name, loc(s)) not in have]
            if new:
                ingest.add_list(engine, name, new)
        for name, (source, branches) in cfg.repos.items():
            if repos.get(name) != (loc(source), json.dumps(sorted(set(branches)))):
                ingest.add_repo(engine, name, source, branches)
    except SourceError as e:
        _fail(f"{cfg.path}: {e}")


def _cluster(scheduler: str | None) -> AbstractContextManager[object]:
    """The Dask scheduler's client for the run, or nothing for a local run."""
    if not scheduler:
        return nullcontext()
    from patchlens.stages import cluster

    err.print(f"batch work on the Dask cluster at {scheduler}", highlight=False, soft_wrap=True)
    return cluster.connect(scheduler)


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
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            help="A Dask scheduler (tcp://host:8786) whose workers parse and analyse the "
            "batches; default: [cluster] scheduler in the config, else local processes.",
        ),
    ] = None,
) -> None:
    """Ingest everything new, then rebuild what depends on it: review, matching, metrics."""
    t0 = time.perf_counter()
    try:
        reports, st = _run_update(force, wait, scheduler)
    except KeyboardInterrupt:
        # Ctrl-C reaches this process (worker processes ignore it; typer would turn it into
        # "Aborted!" later). The transaction in flight has been rolled back and every batch
        # committed is kept, so a re-run resumes: say that, once.
        _interrupted()
    render.update_summary(reports, st, time.perf_counter() - t0, state.quiet, err)
    state.exit_now = True
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
    render.sources(lists, repos, console)
    render.health(health, console)
    render.review(review, console)


# How many unreadable parts per source, and quarantined messages, `status` prints (all of
# them with --json).
STATUS_ITEMS = 20


def _date_arg(value: str | None, option: str) -> int | None:
    if not value:
        return None
    try:
        d = datetime.fromisoformat(value)
    except ValueError:
        _fail(f"{option}: not a date: {value!r} (use YYYY-MM-DD)")
    if d.tzinfo is None:
        d = d.replace(tzinfo=UTC)
    return int(d.timestamp())


# --- the one series filter, as options ------------------------------------------------------
# Every command that selects series (report, series, export ...) takes these, and turns them
# into the one filter type the dashboard takes from its query string (queries/filters.py):
# the same names, the same checks, the same series.


def _filter_option(name: str) -> tuple[Any, None]:
    """The option of one series filter: `--NAME` (q is `--q` or `--text`; `--search` is the
    search language), with the description of the query parameter (queries/filters.py
    PARAMS) as its help."""
    flags = ("--q", "--text") if name == "q" else (f"--{name}",)
    schema, text = PARAMS[name]
    if "enum" in schema:
        text += " One of: " + ", ".join(schema["enum"]) + "."
    return Annotated[str | None, typer.Option(*flags, help=text)], None


_FILTER_OPTIONS = {name: _filter_option(name) for name in SERIES_PARAMS}


def with_filter_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn(..., filters: Filters)` as a command that takes the series filter options; an
    option the filter cannot apply is an error naming the option (exit 2)."""
    sig = inspect.signature(fn, eval_str=True)
    params = [p for p in sig.parameters.values() if p.name != "filters"]
    extra = [
        inspect.Parameter(f"filter_{name}", inspect.Parameter.KEYWORD_ONLY, default=d, annotation=a)
        for name, (a, d) in _FILTER_OPTIONS.items()
    ]

    @functools.wraps(fn)
    def command(*args: Any, **kwargs: Any) -> Any:
        given = {name: kwargs.pop(f"filter_{name}") for name in _FILTER_OPTIONS}
        try:
            filters = Filters.from_options(**given)
        except FilterError as e:
            option = "--q" if e.parameter == "q" else f"--{e.parameter}"
            _fail(f"{option}: {e.message.removeprefix(e.parameter + ': ')}")
        return fn(*args, filters=filters, **kwargs)

    command.__signature__ = sig.replace(parameters=[*params, *extra])  # type: ignore[attr-defined]
    return command


def _rules() -> BacklogRules:
    cfg = _config()
    return BacklogRules(cfg.stale_days, cfg.abandoned_days)


@app.command("series")
@with_filter_options
def series_cmd(
    filters: Filters,
    limit: Annotated[int, typer.Option(min=0, help="At most this many rows.")] = 50,
) -> None:
    """List the selected series, most recently active first."""
    rules = _rules()
    engine = open_store(state.db)
    with engine.connect() as conn:
        rows = select_series(conn, filters, rules)
    rows.sort(key=lambda r: (-r["last_date"], r["series_key"]))
    render.series_table(rows[:limit], console)


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
    render.timeline(versions, console)


@app.command("queue")
def queue_cmd(
    person: Annotated[
        str, typer.Argument(help="An identity, one of their addresses, or their name.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """A maintainer's or reviewer's queue: the open series that name them (MAINTAINERS at
    posting, To/Cc) or that they answered in an earlier version, whose current version they
    have not answered, oldest first."""
    from patchlens.queries.formats import with_units
    from patchlens.queries.queue import find_people, person_queue

    rules = _rules()
    engine = open_store(state.db)
    with engine.connect() as conn:
        found = find_people(conn, person)
        if not found:
            _fail(f"nobody is named {person!r}: give an address, an identity or a name")
        if len(found) > 1:
            names = ", ".join(f"{p['name']} <{p['address']}>" for p in found[:10])
            _fail(f"{person!r} names {len(found)} people ({names}): give an address")
        d = person_queue(conn, found[0]["identity"], rules)
    if as_json:
        sys.stdout.write(json.dumps(with_units(d), indent=1, ensure_ascii=False) + "\n")
    else:
        render.queue(d, console)


export_app = typer.Typer(help="Export what patchlens reconstructed, for use elsewhere.")
app.add_typer(export_app, name="export")


@app.command("eval-match")
def eval_match(
    errors: Annotated[int, typer.Option(min=0, help="List at most this many errors.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Precision and recall of matching, against commits whose Link:/Message-ID: trailers
    name their posting (the trailers are hidden from the matcher)."""
    engine = open_store(state.db)
    fingerprint_new(engine, Reporter(quiet=state.quiet, console=err), everything=True)
    with engine.connect() as conn:
        postings, commits = load_match_inputs(conn)
        shas = dict(conn.execute(select(schema.commits.c.id, schema.commits.c.sha)).all())
    ev = evaluate(postings, commits, describe=shas)
    if as_json:
        print(json.dumps(render.evaluation_json(ev, errors), indent=2))
    else:
        render.evaluation(ev, errors, console)


@app.command("eval-predict")
def eval_predict(
    split: Annotated[
        str | None,
        typer.Option(help="Train on series posted before this date (default: 70% of them)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    bounded: Annotated[
        bool,
        typer.Option(
            "--bounded",
            help="Train as `update` trains the stored model: the last year before the split, "
            "at most 10,000 series.",
        ),
    ] = False,
) -> None:
    """Accuracy of the time-to-merge predictions on a time split, against the project's
    median and a size-only model (docs/PREDICTION.md)."""
    from patchlens.cli import prediction as prediction_render
    from patchlens.queries.prediction import evaluation as prediction_evaluation

    engine = open_store(state.db)
    with engine.connect() as conn:
        result = prediction_evaluation(conn, _date_arg(split, "--split"), bounded)
    if as_json:
        print(json.dumps(result, indent=1))
    else:
        prediction_render.evaluation(result, console)


@app.command()
@with_filter_options
def report(
    filters: Filters,
    as_of: Annotated[
        str | None,
        typer.Option(
            help="Backlog as of this date, not before the data's own (what turns stale if "
            "nothing happens)."
        ),
    ] = None,
    top: Annotated[int, typer.Option(min=0, help="Rows in each top list.")] = 15,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """The three use cases in the terminal: backlog, performance, community."""
    rules = _rules()
    engine = open_store(state.db)
    when = _date_arg(as_of, "--as-of")
    with engine.connect() as conn:
        from patchlens.queries.report import build_report  # numpy: for this command alone
        from patchlens.queries.selection import data_date

        # The figures are stored as of the data's date (every merge, reply and series up to
        # it): an earlier date would mix what happened after it into its states.
        newest = data_date(conn)
        if when is not None and when < newest and when // 86400 == newest // 86400:
            when = None  # the data's own day: as of its newest message or commit
        if when is not None and when < newest:
            _fail(
                f"--as-of {as_of}: before the data's date"
                f" ({datetime.fromtimestamp(newest, UTC):%Y-%m-%d}); the report's figures are"
                " kept as of that date, so only a later one can be asked"
            )
        rep = build_report(conn, filters, rules, when, top)
    if as_json:
        print(json.dumps(with_units(dataclasses.asdict(rep)), indent=1, default=str))
        return
    render.report(rep, console)


# Issue 15, part F: findings with confidence (queries/findings.py, cli/findings.py).
@app.command("findings")
@with_filter_options
def findings_cmd(
    filters: Filters,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """The questions of the Xen 2016 review study on the selected series (size, new
    contributors, this period against the previous one, organisations, subsystems): effect
    sizes with 95% bootstrap intervals, withheld when a group has too few series."""
    from patchlens.cli.findings import render as render_findings
    from patchlens.queries.findings import findings

    engine = open_store(state.db)
    with engine.connect() as conn:
        d = findings(conn, filters, _rules())
    if as_json:
        sys.stdout.write(json.dumps(with_units(d), indent=1, ensure_ascii=False) + "\n")
    else:
        render_findings(d, console)


def _register_export(name: str, export: Export) -> None:
    """One `patchlens export NAME` command: the rows of the selected series, in any format
    write_rows knows."""

    @with_filter_options
    def command(
        filters: Filters,
        fmt: Annotated[
            str, typer.Option("--format", help="csv, tsv, json or parquet.")
        ] = export.default_format,
        output: Annotated[
            Path | None, typer.Option("--output", "-o", help="File (default stdout).")
        ] = None,
    ) -> None:
        rules = _rules()
        engine = open_store(state.db)
        with engine.connect() as conn:
            data = export.rows(conn, filters, rules)
        _write(data, fmt, output, export.columns)

    command.__doc__ = export.doc
    export_app.command(name)(command)


for _name, _export in EXPORTS.items():
    _register_export(_name, _export)


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
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port.")] = 8000,
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
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port.")] = 8000,
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
    state.exit_now = False  # the update's store is closed, but not this command's
    status(as_json=False)
    if serve_after:
        serve(host=host, port=port)


class _NoInterruptTracebacks(logging.Filter):
    """Ctrl-C can land while SQLAlchemy returns a connection to its pool; the pool then logs
    the KeyboardInterrupt with a traceback before the one line `update` prints. The rollback
    it reports is what an interrupted transaction needs anyway: drop that record only."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, KeyboardInterrupt)


# On a handler, not the logger: the pools log through child loggers
# (sqlalchemy.pool.impl.QueuePool, ...), whose records reach handlers, not parents' filters.
_pool_log = logging.StreamHandler()
_pool_log.addFilter(_NoInterruptTracebacks())
logging.getLogger("sqlalchemy.pool").addHandler(_pool_log)


def _interrupted() -> NoReturn:
    """Stop the workers and exit at once: waiting for the process pools' threads could
    hang on a queue a killed worker left half-written, and would say nothing useful."""
    stop_workers()
    sys.stdout.flush()
    sys.stderr.write("interrupted; run update again to resume\n")
    sys.stderr.flush()
    os._exit(EXIT_INTERRUPTED)


# --- issue 15 §3: the conformance report ----------------------------------------------------


@app.command("conformance")
def conformance_cmd(
    since: Annotated[
        str | None, typer.Option(help="Commits committed on or after this day (YYYY-MM-DD).")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Commits committed on or before this day (YYYY-MM-DD).")
    ] = None,
    subsystem: Annotated[
        str | None, typer.Option(help="Commits touching a file of this MAINTAINERS section.")
    ] = None,
    limit: Annotated[int, typer.Option(min=0, help="Rows of each list printed.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Every row, machine-readable.")] = False,
) -> None:
    """Whether the commits of the registered repositories went through the lists: off-list
    commits, commits merged with no review, commits changed after review and self-given
    reviews (docs/METRICS.md, "Conformance")."""
    from patchlens.queries.conformance import conformance

    try:
        filters = Filters.from_options(since=since, until=until, subsystem=subsystem)
    except FilterError as e:
        _fail(f"--{e.parameter}: {e.message.removeprefix(e.parameter + ': ')}")
    engine = open_store(state.db)
    with engine.connect() as conn:
        d = conformance(conn, dataclasses.replace(filters, full="1"))
    if as_json:
        sys.stdout.write(json.dumps(with_units(d), indent=1, ensure_ascii=False) + "\n")
    else:
        render.conformance(d, console, limit)


@app.command("datasette")
def datasette_cmd(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port.")] = 8001,
    metadata_only: Annotated[
        Path | None,
        typer.Option(
            "--metadata-only",
            help="Write datasette's metadata JSON for the store to FILE and stop (for "
            "`datasette STORE.db -m FILE`).",
        ),
    ] = None,
) -> None:
    """The store in datasette, read-only, with descriptions, facets and canned queries
    (docs/DATASETTE.md). SQLite stores only."""
    import importlib.util
    import signal
    import subprocess
    import tempfile

    from sqlalchemy.engine import make_url

    from patchlens.web import datasette_meta

    url = database_url(state.db)
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database:
        _fail(
            "datasette opens SQLite files only; this store is "
            f"{u.get_backend_name()} (use `patchlens export` or the API)"
        )
    store = Path(u.database)
    if not store.exists():
        _fail(f"{store}: no patchlens store here (run 'patchlens update')")
    rules = _rules()
    if metadata_only is not None:
        meta = datasette_meta.metadata(store.stem, rules, states_db=False)
        metadata_only.write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
        console.print(f"wrote {metadata_only}: datasette {store} -m {metadata_only}")
        return
    if importlib.util.find_spec("datasette") is None:
        _fail("datasette is not installed: pip install 'patchlens[datasette]'")
    engine = open_store(state.db, readonly=True)
    with tempfile.TemporaryDirectory(prefix="patchlens-datasette-") as tmp:
        states = Path(tmp) / f"{datasette_meta.STATES_DB}.db"
        with engine.connect() as conn:
            n = datasette_meta.write_states_db(conn, states, rules)
        engine.dispose()
        meta_path = Path(tmp) / "metadata.json"
        meta = datasette_meta.metadata(store.stem, rules, states_db=True)
        meta_path.write_text(json.dumps(meta, ensure_ascii=False))
        args = datasette_meta.serve_args(store, states, meta_path, host, port)
        console.print(f"datasette on http://{host}:{port}/ ({n} series states; Ctrl-C to stop)")

        def stop(_sig: int, _frame: object) -> NoReturn:
            # Raised inside subprocess.call, which then kills datasette; the temporary
            # directory (states, metadata) is removed on the way out.
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, stop)
        try:
            code = subprocess.call([sys.executable, "-m", "datasette", *args])
        except KeyboardInterrupt:
            code = 0
    if code:
        raise typer.Exit(code)


# --- export opensearch (issue 16, GrimoireLab out) ----------------------------------------


@export_app.command("opensearch")
@with_filter_options
def export_opensearch(
    filters: Filters,
    out: Annotated[
        Path, typer.Option("--out", help="Folder for the bulk NDJSON, mappings and state.")
    ] = Path("opensearch"),
    url: Annotated[
        str | None,
        typer.Option("--url", help="Load into this OpenSearch/Elasticsearch node too."),
    ] = None,
    prefix: Annotated[str, typer.Option("--prefix", help="Index name prefix.")] = "patchlens",
    full: Annotated[
        bool, typer.Option("--full", help="Every document, not only those changed.")
    ] = False,
) -> None:
    """Series versions, patches, replies with trailers, links and people as OpenSearch bulk
    NDJSON with index mappings (docs/OPENSEARCH.md); only documents changed since the last
    export into --out (ids stable, hashes kept beside the output)."""
    from patchlens.stages import opensearch

    if not opensearch.valid_prefix(prefix):
        _fail("--prefix: lower-case letters, digits, '-' and '_' only")
    load = None
    if url is not None:
        try:
            load = opensearch.opensearch_loader(url)
        except RuntimeError as e:
            _fail(str(e))
    engine = open_store(state.db)
    with engine.connect() as conn:
        try:
            result = opensearch.export(conn, filters, _rules(), out, prefix, full, load)
        except Exception as e:  # the node's refusal or a connection error, in one line
            if load is None:
                raise
            _fail(f"--url {url}: {type(e).__name__}: {e}")
    for name in opensearch.INDEXES:
        console.print(
            f"{prefix}-{name}: {result.sent[name]} documents new or changed, "
            f"{result.deleted[name]} deleted"
        )
    console.print(f"written to {out}" + (f" and loaded into {url}" if url else ""))


# --- issue 16 §2: a series version as an mbox for git am (queries/am.py, review/am.py) -------


@app.command("am")
def am_cmd(
    series: Annotated[
        str, typer.Argument(help="A series or version key, or a Message-ID of one of its mails.")
    ],
    version: Annotated[
        int | None,
        typer.Option(
            "--version",
            "-v",
            help="The version's number in the series (1 = first); default the latest.",
            min=1,
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the mbox here (default stdout).")
    ] = None,
) -> None:
    """Write a series version as an mbox for `git am --patch-format=mboxrd`: patches 1..N in
    order, each with the trailers its replies gave (and the cover letter's) and a Link: to
    the archive (the web.archive_url setting)."""
    from patchlens.queries.am import am_version

    cfg = _config()
    engine = open_store(state.db)
    with engine.connect() as conn:
        v = am_version(conn, series, version, cfg.archive_url)
    if v is None:
        _fail(f"no such series or version: {series}" + (f" v{version}" if version else ""), 1)
    if not v.patches:
        _fail(f"version {v.seq} of {v.series_key} has no patch with a diff to apply", 1)
    data = v.mbox()
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        output.write_bytes(data)
    added = sum(len(p.added) for p in v.patches)
    if v.missing:
        err.print(f"warning: patches missing from the archive: {v.missing}", highlight=False)
    if not state.quiet:
        err.print(
            f"{len(v.patches)} patches of version {v.seq}/{v.n_versions}, {added} trailers added",
            highlight=False,
        )


# --- issue 16 §5: `patchlens init [PRESET]` (cli/init.py, src/patchlens/presets/) -----------


@app.command("init")
def init_cmd(
    preset: Annotated[
        str | None,
        typer.Argument(help="A known project: xen, qemu, linux, ltp, erofs (none: a template)."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="The file to write (default ./patchlens.toml)."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    list_name: Annotated[
        str | None, typer.Option("--list-name", help="Name the (first) list this.")
    ] = None,
    list_source: Annotated[
        list[str] | None,
        typer.Option(
            "--list-source",
            help="The list's archive instead of the preset's (repeatable; a path or URL).",
        ),
    ] = None,
    repo_name: Annotated[
        str | None, typer.Option("--repo-name", help="Name the (first) repository this.")
    ] = None,
    repo_source: Annotated[
        str | None,
        typer.Option("--repo-source", help="The repository instead of the preset's (path or URL)."),
    ] = None,
    branch: Annotated[
        list[str] | None,
        typer.Option("--branch", "-b", help="Branches to follow instead (repeatable)."),
    ] = None,
    no_repo: Annotated[
        bool, typer.Option("--no-repo", help="Register no repository (lists only).")
    ] = False,
    maintainers: Annotated[
        str | None, typer.Option("--maintainers", help="A MAINTAINERS file to use for every date.")
    ] = None,
    archive_url: Annotated[
        str | None,
        typer.Option("--archive-url", help="The archive link template, with {message_id}."),
    ] = None,
    bot: Annotated[
        list[str] | None,
        typer.Option("--bot", help="Another bot sender pattern (regular expression; repeatable)."),
    ] = None,
) -> None:
    """Write a commented patchlens.toml for a known project; `patchlens update` then reads
    the sources it names. Nothing is fetched now."""
    from patchlens.cli import init as initfile

    path = output or Path(state.config or "patchlens.toml")
    try:
        s = initfile.load_preset(preset) if preset else initfile.Settings()
        s = initfile.override(
            s,
            list_name=list_name,
            list_sources=list_source,
            repo_name=repo_name,
            repo_source=repo_source,
            branches=branch,
            no_repo=no_repo,
            maintainers=maintainers,
            archive_url=archive_url,
            bots=bot,
        )
        initfile.write(path, initfile.render(s), force)
    except initfile.PresetError as e:
        _fail(str(e))
    try:
        load_config(str(path))
    except ConfigError as e:
        _fail(f"the file written does not load: {e}")
    console.print(
        f"{path}: {len(s.lists)} lists, {len(s.repos)} repositories; run `patchlens update`",
        highlight=False,
        soft_wrap=True,
    )


for _app in (app, export_app):
    for _info in _app.registered_commands:
        if _info.callback is not None:
            _info.callback = with_global_options(_info.callback)


def main(exit_at_once: bool = False) -> None:
    """The command line. With `exit_at_once` (the `patchlens` program, `run`), a command
    that says it left nothing to tear down ends the process at once (`_exit_now`); a caller
    in the same process (a test, a script) gets the SystemExit as from any command."""
    state.exit_now = False
    heap.keep_large_blocks_apart()
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted: what was committed is kept; run the same command again")
        sys.exit(EXIT_INTERRUPTED)
    except SystemExit as e:
        if exit_at_once and state.exit_now:
            _exit_now(e.code)
        raise


def run() -> None:
    """The `patchlens` program and `python -m patchlens`: `main`, ending an update at once."""
    main(exit_at_once=True)


def _exit_now(code: object) -> None:
    """End the process after an update without the interpreter's teardown, which frees
    every object one by one: 0.12-0.16 s of a day's update on a million-message store (the
    caches of people, rows and indexes it built), for memory the kernel takes back at once.
    What must run still runs: the store is closed already (`_run_update`), the exit
    handlers registered with atexit run (process pools, Dask's client, temporary files'
    finalizers), and the output is flushed. With a thread other than a daemon still
    alive, the usual exit (which waits for it) is kept."""
    import atexit
    import threading

    if any(t is not threading.main_thread() and not t.daemon for t in threading.enumerate()):
        raise SystemExit(code)
    status = code if isinstance(code, int) else (0 if code is None else 1)
    if not isinstance(code, int) and code is not None:
        print(code, file=sys.stderr)
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    run()
