"""Per-period tables show a long run of empty periods as one row (web/periods.py): a store
with misdated mail (2001, 2077) among years of real mail must not render every month between."""

from __future__ import annotations

from patchlens.web.periods import CHART_GAP, GAP, Gap, chart_rows, with_gaps


def _rows(counts: list[int]) -> list[dict]:
    return [{"period": f"2020-{i + 1:02d}", "series": n} for i, n in enumerate(counts)]


def test_long_runs_collapse_short_ones_stay() -> None:
    rows = _rows([3, 0, 0, 1, 0, 0, 0, 0, 2])
    out = list(with_gaps(rows))
    assert [getattr(r, "count", None) or r["period"] for r in out] == [
        "2020-01",
        "2020-02",
        "2020-03",
        "2020-04",
        4,
        "2020-09",
    ]
    assert out[4] == Gap("2020-05", "2020-08", 4)
    # Newest first (the tables' order) gives the same gap, oldest to newest.
    back = list(with_gaps(reversed(rows)))
    assert Gap("2020-05", "2020-08", 4) in back and len(back) == len(out)


def test_every_field_must_be_empty() -> None:
    rows = [{"period": f"p{i}", "series": 0, "merged": int(i == 2)} for i in range(7)]
    out = list(with_gaps(rows, "series", "merged"))
    assert [type(r).__name__ for r in out] == ["dict", "dict", "dict", "Gap"]
    assert out[3].count == 4 >= GAP
    # A trailing run and a run at the start collapse too.
    assert list(with_gaps(_rows([0] * GAP))) == [Gap("2020-01", f"2020-{GAP:02d}", GAP)]


def test_charts_break_their_axis_only_for_a_long_hole() -> None:
    """A lull of a few periods stays on a chart's even axis (a gap in its lines); a stretch
    of CHART_GAP empty periods is one slot."""
    lull = _rows([2, 0, 0, 0, 0, 1])
    assert chart_rows(lull) == lull
    hole = [{"period": f"p{i:02d}", "series": 0 if 0 < i <= CHART_GAP else 1} for i in range(14)]
    out = chart_rows(hole)
    assert [r["period"] for r in out] == ["p00", f"p01…p{CHART_GAP:02d}", "p13"]
    assert out[1]["series"] == 0


def _patch(n: int, date: str) -> str:
    return (
        f"From sender{n} Mon Jan  1 00:00:00 2001\n"
        f"From: Dev {n} <dev{n}@example.org>\n"
        f"To: list@example.org\n"
        f"Subject: [PATCH] foo: fix bar number {n}\n"
        f"Date: {date}\n"
        f"Message-ID: <p{n}@example.org>\n\n"
        "Fix it.\n\nSigned-off-by: Dev <dev@example.org>\n---\n"
        f"diff --git a/f{n}.c b/f{n}.c\n--- a/f{n}.c\n+++ b/f{n}.c\n"
        "@@ -1 +1 @@\n-a\n+b\n\n"
    )


def test_pages_show_a_gap_row(tmp_path) -> None:
    """Two series two years apart: the months between are one row on the performance and
    overview pages, and every month with a series is a row of its own."""
    from fastapi.testclient import TestClient

    from patchlens.config import Config
    from patchlens.stages import ingest
    from patchlens.stages.pipeline import run_stages
    from patchlens.stages.progress import Reporter
    from patchlens.store.db import database_url, open_store
    from patchlens.web.app import create_app

    mbox = tmp_path / "list.mbox"
    mbox.write_text(
        _patch(1, "Tue, 15 Jan 2019 10:00:00 +0000") + _patch(2, "Fri, 15 Jan 2021 10:00:00 +0000")
    )
    db = tmp_path / "s.db"
    engine = open_store(str(db))
    ingest.add_list(engine, "list", [str(mbox)])
    quiet = Reporter(quiet=True)
    ingest.run_update(engine, tmp_path / "cache", quiet)
    run_stages(engine, Config(), tmp_path / "cache", quiet)
    client = TestClient(create_app(database_url(str(db))))
    html = client.get("/performance?period=month").text
    table = html[html.index("Time to first response per month ·") :]
    table = table[: table.index("</table>")]
    assert '<tr class="gap"><td colspan="6">2019-02 to 2020-12: no series (23 months)</td>' in table
    assert "<td>2019-01" in table and "<td>2021-01" in table
    assert table.count("<tr") == 4  # the head, two months, one gap
    over = client.get("/?period=month").text
    assert "2019-02 to 2020-12: no series posted or merged (23 months)" in over
    # The charts: the gap is one slot, not 23.
    svg = client.get("/charts/activity.svg?period=month").text
    assert "2019-02…2020-12" in svg and "2019-03" not in svg
    perf = client.get("/charts/perf-time_to_merge.svg?period=month").text
    assert "2019-02…2020-12" in perf and "2020-06" not in perf
    # The API keeps every month.
    api = client.get("/api/performance?period=month").json()
    assert len(api["over_time"]["time_to_first_response_hours"]) == 25
