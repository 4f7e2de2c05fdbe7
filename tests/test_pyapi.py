"""The Python read API (`patchlens.open`) on the EROFS store: its tables hold what the store
holds, its filters select what the dashboard's select, its units are the exports', and
`import patchlens` stays cheap."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from datetime import UTC, datetime

import pandas as pd
import pyarrow as pa
import pytest

import patchlens


@pytest.fixture(scope="module")
def store(erofs_store):
    db, _engine, _ = erofs_store
    s = patchlens.open(str(db))
    yield s
    s.close()


def _count(sql, query: str, *args) -> int:
    return sql.execute(query, args).fetchone()[0]


def test_import_is_lazy() -> None:
    """`import patchlens` (every CLI start) loads neither the API, SQLAlchemy nor pandas;
    the first use of `patchlens.open` loads the API."""
    code = (
        "import sys, patchlens;"
        "print(sorted(m for m in ('patchlens.api', 'sqlalchemy', 'pandas') if m in sys.modules));"
        "patchlens.open;"
        "print('patchlens.api' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["[]", "True"]
    with pytest.raises(AttributeError):
        _ = patchlens.no_such_name


def test_tables_hold_every_row_of_the_store(store, sql) -> None:
    assert len(store.metrics()) == _count(sql, "select count(*) from series_metrics") > 1000
    # The versions, replies and patches of every series: pull requests and the groupings
    # the metrics leave out are not series (`is:pull` selects the pull requests).
    of_series = "join series_metrics sm on sm.series_key = sv.series_key"
    assert len(store.versions()) == _count(
        sql, f"select count(*) from series_versions sv {of_series}"
    )
    assert len(store.versions()) < _count(sql, "select count(*) from series_versions")
    assert len(store.versions(search="is:pull")) > 0
    assert (
        len(store.replies())
        == _count(
            sql,
            "select count(*) from replies r join series_versions sv on sv.key = r.version_key"
            f" {of_series}",
        )
        > 1000
    )
    assert len(store.links()) == _count(sql, "select count(*) from patch_commits") > 100
    assert len(store.patches()) == _count(
        sql,
        "select count(*) from version_members vm join series_versions sv on sv.key = vm.version_key"
        " join series_metrics sm on sm.series_key = sv.series_key where vm.idx > 0",
    )
    people = store.people()
    assert people["identity"].is_unique and len(people) > 100


def test_series_are_the_explorers_rows(store, client) -> None:
    """The same series, in the same order, with the same figures as the dashboard's CSV of
    the explorer for the same filters."""
    params = {"state": "open", "sort": "-time_to_merge"}
    text = client.get("/csv/series/series", params=params).text
    expected = list(csv.DictReader(io.StringIO(text)))
    got = store.series(**params)
    assert len(expected) == len(got) > 10
    assert list(got["series_key"]) == [r["series_key"] for r in expected]
    assert list(got.columns) == list(expected[0])
    assert [str(n) for n in got["patches"]] == [r["patches"] for r in expected]


def test_filters_select_what_the_dashboard_selects(store, client, sql) -> None:
    since = "2024-01-01"
    start = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp())
    m = store.metrics(since=since)
    assert len(m) == _count(sql, "select count(*) from series_metrics where first_date >= ?", start)
    assert (m["first_date"] >= pd.Timestamp(since, tz="UTC")).all()
    # state=open: every open state, as the backlog page counts them
    open_states = set(store.metrics(state="open")["state"])
    assert open_states and not open_states & {"merged", "partly merged", "abandoned"}
    # filters narrow every table alike: the replies and patches of the selected series only
    keys = set(m["series_key"])
    assert set(store.replies(since=since)["series"]) <= keys
    assert set(store.patches(since=since)["series"]) == keys & set(store.patches()["series"])
    assert set(store.versions(since=since)["series"]) == keys
    assert len(store.links(since=since)) < len(store.links())
    # the search language, as on every page
    api = client.get("/api/series", params={"search": "is:open", "full": "1"}).json()
    assert api["total"] == len(store.series(search="is:open")) > 0


def test_an_empty_selection_keeps_its_columns(store) -> None:
    for table in (store.series, store.metrics, store.versions, store.replies, store.patches):
        df = table(list="no-such-list")
        assert df.empty and len(df.columns) > 5, table.__name__


def test_bad_filters_are_refused_naming_the_parameter(store) -> None:
    with pytest.raises(patchlens.FilterError) as e:
        store.metrics(stat="open")
    assert e.value.parameter == "stat"
    with pytest.raises(patchlens.FilterError) as e:
        store.series(since="2024-13-01")
    assert e.value.parameter == "since"
    with pytest.raises(patchlens.FilterError):
        store.metrics(sort="-time_to_merge")  # sort shapes only series() and table()
    with pytest.raises(ValueError, match="as_"):
        store.metrics(as_="excel")


def test_units_are_the_exports(store, sql) -> None:
    """Instants are UTC timestamps equal to the stored seconds, durations are hours under
    names that say so."""
    m = store.metrics().set_index("series_key")
    key, first, ttm = sql.execute(
        "select series_key, first_date, time_to_merge from series_metrics "
        "where time_to_merge is not null limit 1"
    ).fetchone()
    assert m.loc[key, "first_date"] == pd.Timestamp(first, unit="s", tz="UTC")
    assert m.loc[key, "time_to_merge_hours"] == pytest.approx(ttm)
    assert "time_to_merge" not in m.columns
    replies = store.replies()
    assert str(replies["date"].dt.tz) == "UTC"
    row = replies.iloc[0]
    stored = _count(sql, "select date_utc from messages where message_id = ?", row["message_id"])
    assert row["date"] == pd.Timestamp(stored, unit="s", tz="UTC")


def test_replies_carry_trailers_and_who_wrote_them(store, sql) -> None:
    replies = store.replies()
    by_author = replies["is_author"].sum()
    assert by_author == _count(
        sql,
        "select count(*) from replies r join series_versions sv on sv.key = r.version_key"
        " join series_metrics sm on sm.series_key = sv.series_key where r.is_author",
    )
    given = replies["trailers"].map(len).sum()
    assert given > 100
    assert any(t.startswith("Reviewed-by: ") for ts in replies["trailers"] for t in ts)


def test_arrow_and_records(store) -> None:
    table = store.links(as_="arrow")
    assert isinstance(table, pa.Table) and table.num_rows == len(store.links())
    m = store.metrics(as_="arrow")
    assert pa.types.is_timestamp(m.schema.field("first_date").type)
    records = store.people(as_="records")
    assert isinstance(records, list) and isinstance(records[0], dict)


def test_any_dashboard_table(store, client) -> None:
    assert "stale" in store.tables()["backlog"]
    stale = store.table("backlog", "stale")
    text = client.get("/csv/backlog/stale").text
    assert len(stale) == len(list(csv.DictReader(io.StringIO(text))))
    with pytest.raises(KeyError):
        store.table("backlog", "no-such-table")
