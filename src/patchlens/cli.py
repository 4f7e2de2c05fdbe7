"""The `patchlens` command: a thin layer that parses options and calls the stages."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from patchlens import ingest
from patchlens.progress import Reporter
from patchlens.sources.base import SourceError
from patchlens.store.db import cache_dir, database_url, open_store
from patchlens.store.status import list_status, repo_status

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
) -> None:
    state.db = db
    state.quiet = quiet


def _fail(message: str) -> None:
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    raise typer.Exit(2)


@app.command("add-list")
def add_list(
    name: Annotated[str, typer.Argument(help="A name for the mailing list.")],
    sources: Annotated[list[str], typer.Argument(help="Archive files, folders or URLs.")],
) -> None:
    """Register a mailing list and its archive source(s); the format is detected."""
    engine = open_store(state.db)
    try:
        found = ingest.add_list(engine, name, sources)
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
) -> None:
    """Register a git repository whose commits patches are matched against."""
    engine = open_store(state.db)
    try:
        ingest.add_repo(engine, name, source, branch or [])
    except SourceError as e:
        _fail(str(e))
    console.print(f"{name}: {source} ({', '.join(branch or ['default branch'])})")


def _run_update() -> list[ingest.SourceReport]:
    url = database_url(state.db)
    engine = open_store(state.db)
    reporter = Reporter(quiet=state.quiet, console=err)
    return ingest.run_update(engine, cache_dir(url), reporter)


@app.command()
def update() -> None:
    """Ingest everything new from every registered list and repository."""
    t0 = time.perf_counter()
    reports = _run_update()
    failed = [r for r in reports if r.error]
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
            err.print(f"{r.name}: {r.read} {what} read, {r.new} new{extra}", highlight=False)
        err.print(f"update took {time.perf_counter() - t0:.2f} s")
    if failed:
        for r in failed:
            err.print(f"[red]failed:[/red] {escape(f'{r.name}: {r.error}')}", highlight=False)
        raise typer.Exit(1)


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Per source: counts, date range, last update, quarantined messages."""
    engine = open_store(state.db)
    with engine.connect() as conn:
        lists, repos = list_status(conn), repo_status(conn)
    if as_json:
        print(json.dumps({"lists": lists, "repos": repos}, indent=2))
        return
    _print_status(lists, repos)


def _print_status(lists: list[dict], repos: list[dict]) -> None:
    t = Table(title="Mailing lists", title_justify="left")
    for col in ("list", "messages", "patches", "from", "to"):
        t.add_column(col, justify="right" if col in ("messages", "patches") else "left")
    t.add_column("source")
    t.add_column("format")
    t.add_column("read", justify="right")
    t.add_column("variants", justify="right")
    t.add_column("quarantined", justify="right")
    t.add_column("last update")
    for li in lists:
        for i, src in enumerate(li["sources"]):
            head = (
                [
                    li["list"],
                    f"{li['messages']:,}",
                    f"{li['patches']:,}",
                    li["first_date"] or "",
                    li["last_date"] or "",
                ]
                if i == 0
                else ["", "", "", "", ""]
            )
            t.add_row(
                *head,
                Path(src["location"]).name,
                src["format"],
                f"{src['messages_read']:,}",
                str(src["variants"]),
                str(src["quarantined"]),
                src["last_update"] or "never",
            )
    console.print(t)
    r = Table(title="Repositories", title_justify="left")
    for col in ("repo", "commits", "branches", "from", "to", "last update"):
        r.add_column(col, justify="right" if col == "commits" else "left")
    for repo in repos:
        branches = ", ".join(f"{b} ({n:,})" for b, n in sorted(repo["commits_per_branch"].items()))
        r.add_row(
            repo["repo"],
            f"{repo['commits']:,}",
            branches or ", ".join(repo["branches"]),
            repo["first_date"] or "",
            repo["last_date"] or "",
            repo["last_update"] or "never",
        )
    console.print(r)


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
def demo() -> None:
    """Ingest the real EROFS sample (../shared/data/erofs) and print the status."""
    data = shared_data_dir() / "erofs"
    archive = data / "linux-erofs-archive.0.bundle"
    repo = data / "erofs-utils.bundle"
    if not archive.is_file() or not repo.is_file():
        _fail(f"the EROFS sample is missing: expected {archive} and {repo} (set PATCHLENS_DATA)")
    engine = open_store(state.db)
    ingest.add_list(engine, "linux-erofs", [str(archive)])
    ingest.add_repo(engine, "erofs-utils", str(repo), ["dev"])
    update()
    status(as_json=False)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted: what was committed is kept; run the same command again")
        sys.exit(130)


if __name__ == "__main__":
    main()
