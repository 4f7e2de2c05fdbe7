"""The Python read API: `patchlens.open(db)` and the tables of a store as pandas DataFrames
(or Arrow tables, or plain records), for notebooks and scripts.

Every table comes from the read model (patchlens.queries: the exports, the explorer's table,
the dashboard's tables), so its numbers are the dashboard's, and every method takes the one
filter type (queries/filters.py) as keyword arguments named like the URL parameters:
`s.series(since="2020-01-01", state="open", list="linux-erofs")`. A value the dashboard
refuses raises `FilterError` (a ValueError naming the parameter).

Units are the API's and the exports' (queries/formats.py): durations in hours under names
that say so (`time_to_merge_hours`); instants, which the JSON API gives as ISO 8601 strings,
become timezone-aware pandas timestamps (UTC) in a DataFrame and Arrow timestamps in a table.

pandas and pyarrow are the `analysis` extra (`pip install patchlens[analysis]`); they are
imported on first use, so `import patchlens` and the CLI stay as fast as before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, Literal

from sqlalchemy import Connection, Engine

from patchlens.config import Config, load_config
from patchlens.metrics.backlog import BacklogRules
from patchlens.queries import exports
from patchlens.queries.filters import SERIES_PARAMS, FilterError, Filters
from patchlens.queries.formats import DATE_FIELDS, iso, with_units
from patchlens.queries.selection import export_keys
from patchlens.queries.series import version_flags, versions_detail
from patchlens.queries.tables import EXPLORER, TABLES, explorer_rows, table_rows
from patchlens.store.db import open_store

__all__ = ["FilterError", "Store", "open"]

As = Literal["pandas", "arrow", "records"]
AS_VALUES = ("pandas", "arrow", "records")

VERSION_COLUMNS = (
    "series",
    "version_key",
    "seq",
    "version",
    "label",
    "flags",
    "title",
    "author",
    "date",
    "total",
    "patches",
    "cover",
    "missing",
    "replies",
    "previous_version",
    "next_version",
)
REPLY_COLUMNS = (
    "message_id",
    "series",
    "version_key",
    "date",
    "person",
    "name",
    "patch_idx",
    "lines_written",
    "lines_quoted",
    "is_author",
    "is_bot",
    "trailers",
    "notices",
)
# The explorer's sort parameter shapes `series()`; every other method takes series filters.
SERIES_EXTRA = ("sort",)


def open(
    db: str | None = None,
    *,
    config: str | Config | None = None,
    stale_days: int | None = None,
    abandoned_days: int | None = None,
) -> Store:
    """The store at `db` (a SQLite file, default ./patchlens.db, or a SQLAlchemy URL such as
    `postgresql+psycopg://user@host/patchlens`), opened read-only.

    The backlog states (stale, abandoned) depend on the project's thresholds: they come from
    `config` (a patchlens.toml path or a loaded Config; default: ./patchlens.toml when
    present, else the defaults), or from `stale_days`/`abandoned_days` given here, so a
    notebook's states are the dashboard's."""
    cfg = config if isinstance(config, Config) else load_config(config)
    rules = BacklogRules(
        cfg.stale_days if stale_days is None else stale_days,
        cfg.abandoned_days if abandoned_days is None else abandoned_days,
    )
    return Store(open_store(db, readonly=True), rules)


class Store:
    """A store opened for reading. Every method returns one table over the series the filters
    select (every series when none is given); `as_` chooses a pandas DataFrame (default), a
    pyarrow Table ("arrow") or a list of dicts ("records", needing neither)."""

    def __init__(self, engine: Engine, rules: BacklogRules) -> None:
        self.engine = engine
        self.rules = rules

    def __repr__(self) -> str:
        return f"<patchlens.Store {self.engine.url.render_as_string(hide_password=True)}>"

    def close(self) -> None:
        """Release the store's connections (also done when the process ends)."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # The tables -------------------------------------------------------------------------

    def series(self, *, as_: As = "pandas", **filters: Any) -> Any:
        """One row per selected series, as the dashboard's series explorer lists it (its
        columns, its order: `sort="-time_to_merge"` or the newest activity first): key,
        dates, title, author, versions, patches, reviewers, first response and merge times,
        state today. For every metric of a series use `metrics()`."""
        f = _filters(filters, SERIES_EXTRA)
        return self._read(
            lambda conn: [
                with_units({c: r.get(c) for c in EXPLORER})
                for r in explorer_rows(conn, f, self.rules)
            ],
            as_,
            TABLES["series"]["series"].header,
        )

    def metrics(self, *, as_: As = "pandas", **filters: Any) -> Any:
        """One row per selected series with every metric of docs/METRICS.md, the facts its
        state rests on, and its state today (`patchlens export metrics`), oldest first (first
        posting, then key: the same order on SQLite and PostgreSQL)."""
        f = _filters(filters)

        def rows(conn: Connection) -> list[dict[str, Any]]:
            found = exports.metrics_rows(conn, f, self.rules)
            return sorted(found, key=lambda r: (r["first_date"], r["series_key"]))

        return self._read(rows, as_, exports.METRICS_COLUMNS)

    def versions(self, *, as_: As = "pandas", **filters: Any) -> Any:
        """One row per version of the selected series: its key, order in the series (`seq`),
        version label and flags, title, author, date, the message-ids of its cover and
        patches (`patches`: in order), the patch numbers it lacks, how many replies it got,
        and the versions before and after it."""
        f = _filters(filters)

        def rows(conn: Connection) -> list[dict[str, Any]]:
            keys = export_keys(conn, f, self.rules)
            return [_version_row(v) for v in versions_detail(conn, sorted(keys))]

        return self._read(rows, as_, "versions")

    def patches(self, *, as_: As = "pandas", **filters: Any) -> Any:
        """One row per patch posted in the selected series: its version, whether a later
        version superseded it, its size, review and merge times, and the commit it became
        with the method and score of that link (`patchlens export patches`)."""
        return self._export("patches", as_, filters)

    def replies(self, *, as_: As = "pandas", **filters: Any) -> Any:
        """One row per reply to a version of the selected series: when, from whom, to which
        patch (`patch_idx` 0: the cover letter), the lines it wrote and quoted, whether its
        sender is the series' author or a bot, the trailers it gave (`Reviewed-by: addr`)
        and the notices it carries (applied, merged, ...)."""
        f = _filters(filters)

        def rows(conn: Connection) -> list[dict[str, Any]]:
            keys = export_keys(conn, f, self.rules)
            return [
                _reply_row(v, rep)
                for v in versions_detail(conn, sorted(keys))
                for rep in v["replies"]
            ]

        return self._read(rows, as_, "replies")

    def links(self, *, as_: As = "pandas", **filters: Any) -> Any:
        """One row per link from a posted patch of the selected series to a commit: the
        patch's message-id, the repository, the commit, the matching method and score,
        whether it was ambiguous, and its evidence (`patchlens export links`)."""
        return self._export("links", as_, filters)

    def people(self, *, as_: As = "pandas", **filters: Any) -> Any:
        """One row per person who reviewed or contributed to the selected series: review
        given against contributions received, organisation (the community page's table,
        `patchlens export people`)."""
        return self._export("people", as_, filters)

    def table(
        self, page: str, name: str, ident: str | None = None, *, as_: As = "pandas", **filters: Any
    ) -> Any:
        """Any table the dashboard shows, in full, as its CSV download holds it: `page` and
        `name` as in the download's path (`/csv/backlog/stale` is `table("backlog",
        "stale")`), `ident` for a page about one person, subsystem or commit. `tables()`
        lists them. A page's own parameters (`period`, `sort`) are accepted with the
        filters. KeyError when the page has no such table or the thing does not exist."""
        f = _filters(filters, ("period", "sort"))
        rows = self._read(lambda conn: table_rows(conn, page, name, f, self.rules, ident), None)
        if rows is None:
            raise KeyError(f"no table {page}/{name}" + (f" for {ident!r}" if ident else ""))
        return _convert(rows, as_, TABLES[page][name].header)

    @staticmethod
    def tables() -> dict[str, list[str]]:
        """Every dashboard table `table()` can read: page name to its tables' names."""
        return {page: sorted(tables) for page, tables in TABLES.items()}

    # Plumbing ---------------------------------------------------------------------------

    def _export(self, name: str, as_: As, filters: dict[str, Any]) -> Any:
        export = exports.EXPORTS[name]
        f = _filters(filters)
        return self._read(lambda conn: export.rows(conn, f, self.rules), as_, export.columns)

    def _read(self, rows: Callable[[Connection], Any], as_: As | None, columns: Any = None) -> Any:
        if as_ is not None and as_ not in AS_VALUES:
            raise ValueError(f"as_: expected one of {', '.join(AS_VALUES)}, got {as_!r}")
        with self.engine.connect() as conn:
            data = rows(conn)
        if as_ is None:
            return data
        if isinstance(columns, str):
            columns = _COLUMNS[columns]
        return _convert(data, as_, columns)


def _filters(given: dict[str, Any], extra: tuple[str, ...] = ()) -> Filters:
    """The one filter of keyword arguments named like the URL parameters, checked as a query
    string is: an unknown name or a value the dashboard refuses is a FilterError."""
    allowed = (*SERIES_PARAMS, *extra)
    for name in given:
        if name not in allowed:
            raise FilterError(
                name, f"unknown filter {name!r}; this table takes: {', '.join(allowed)}"
            )
    values = {k: None if v is None else str(v) for k, v in given.items()}
    f = Filters.from_values(values)
    # The whole table, never one page of it.
    return replace(f, page=1, full="1")


def _version_row(v: dict[str, Any]) -> dict[str, Any]:
    return with_units(
        {
            "series": v["series_key"],
            "version_key": v["key"],
            "seq": v["seq"],
            "version": v["version_str"] or str(v["version"]),
            "label": v["label"],
            "flags": version_flags(v),
            "title": v["title"],
            "author": v["author_addr"],
            "date": v["date"],
            "total": v["total"],
            "patches": [m["message_id"] for m in v["members"] if m["idx"] > 0],
            "cover": next((m["message_id"] for m in v["members"] if m["idx"] == 0), None),
            "missing": v["missing"],
            "replies": len(v["replies"]),
            "previous_version": v["prev_key"],
            "next_version": v["next_key"],
        }
    )


def _reply_row(v: dict[str, Any], rep: dict[str, Any]) -> dict[str, Any]:
    return {
        "message_id": rep["message_id"],
        "series": v["series_key"],
        "version_key": v["key"],
        "date": iso(rep["date"]),
        "person": rep["from_addr"],
        "name": rep["from_name"],
        "patch_idx": rep["patch_idx"],
        "lines_written": rep["lines_written"],
        "lines_quoted": rep["lines_quoted"],
        "is_author": rep["is_author"],
        "is_bot": rep["is_bot"],
        "trailers": [f"{t['key']}: {t['email'] or t['name']}" for t in rep["trailers"]],
        "notices": rep["notices"],
    }


_COLUMNS: dict[str, tuple[str, ...]] = {"versions": VERSION_COLUMNS, "replies": REPLY_COLUMNS}


def _convert(rows: list[dict[str, Any]], as_: As, columns: Any) -> Any:
    """Rows as the caller asked: records as they are; a DataFrame with the columns in order
    (so an empty selection still has them) and instants as UTC timestamps; an Arrow table of
    that DataFrame."""
    if as_ == "records":
        return rows
    try:
        import pandas as pd
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ImportError(
            "patchlens' tables need pandas: pip install 'patchlens[analysis]' "
            "(or pass as_='records')"
        ) from e
    names = list(columns) if columns else (list(rows[0]) if rows else [])
    df = pd.DataFrame.from_records(rows, columns=names or None)
    for col in df.columns:
        if col in DATE_FIELDS:
            df[col] = pd.to_datetime(df[col], utc=True, format="ISO8601")
    if as_ == "arrow":
        import pyarrow as pa

        return pa.Table.from_pandas(df, preserve_index=False)
    return df
