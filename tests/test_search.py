"""The search language (queries/search.py, `search=` on /series and /api/series) on the EROFS
store: every operator's count against a count written here in plain SQL over the stored
tables, negation and combination (with each other and with the other filters), and every kind
of error explained (HTTP 400 naming the parameter and the term; a readable HTML page)."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime
from typing import Any

import markupsafe
import pytest

from patchlens.metrics.backlog import OPEN_STATES, STATES
from patchlens.queries.filters import STATE_GROUPS, FilterError, Filters
from patchlens.queries.search import GROUPS, SearchError, parse, state_values

pytestmark = pytest.mark.slow

DAY = 86400


def _ts(day: str) -> int:
    return int(datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC).timestamp())


def total(client: Any, search: str, **more: str) -> int:
    r = client.get("/api/series", params={"search": search, **more})
    assert r.status_code == 200, r.text
    return int(r.json()["total"])


def keys(client: Any, search: str, **more: str) -> set[str]:
    out: set[str] = set()
    first = client.get("/api/series", params={"search": search, **more}).json()
    for page in range(1, first["pages"] + 1):
        d = client.get("/api/series", params={"search": search, "page": page, **more}).json()
        out |= {r["series_key"] for r in d["rows"]}
    assert len(out) == first["total"]
    return out


def one(sql: sqlite3.Connection, query: str, *args: Any) -> int:
    return int(sql.execute(query, args).fetchone()[0])


def keyset(sql: sqlite3.Connection, query: str, *args: Any) -> set[str]:
    """Series keys of a query, kept to the series under review (series_metrics)."""
    under_review = {k for (k,) in sql.execute("SELECT series_key FROM series_metrics")}
    return {k for (k,) in sql.execute(query, args)} & under_review


@pytest.fixture(scope="module")
def now(sql: sqlite3.Connection) -> int:
    """The data's date, as the dashboard takes it (the newest message or commit)."""
    newest = max(
        one(sql, "SELECT max(date_utc) FROM messages"),
        one(sql, "SELECT max(committer_date) FROM commits"),
    )
    return min(int(time.time()), newest)


# The state of a series by the rules of docs/METRICS.md (30 days stale, 180 abandoned),
# written here in SQL over the stored facts.
STATE_SQL = """
CASE WHEN merged = 'fully' THEN 'merged'
     WHEN merged = 'partly' THEN 'partly merged'
     WHEN repo_registered AND NOT in_repo THEN 'other tree'
     WHEN :idle - last_date >= 180 * 86400 THEN
        CASE WHEN repo_registered THEN 'abandoned' ELSE 'unknown' END
     WHEN :idle - last_date >= 30 * 86400 THEN 'stale'
     WHEN nearly_complete THEN 'nearly complete'
     WHEN NOT has_reviewer_reply THEN 'new'
     WHEN reviewer_spoke_last THEN 'waiting on author'
     ELSE 'under review' END
"""


def by_state(sql: sqlite3.Connection, now: int, client: Any) -> dict[str, set[str]]:
    """The series of each state: by the SQL above; a state STATES holds that the SQL does not
    know (one added since, such as "blocked") by the `state` filter the dashboard already
    had, its series taken out of the state the SQL gave them."""
    out: dict[str, set[str]] = {}
    q = f"SELECT series_key, {STATE_SQL} AS st FROM series_metrics"
    # Idle up to the data's date or the newest message, which comes first (docs/METRICS.md).
    idle = min(now, one(sql, "SELECT max(date_utc) FROM messages"))
    for key, st in sql.execute(q, {"idle": idle}):
        out.setdefault(st, set()).add(key)
    for state in STATES:
        if f"'{state}'" not in STATE_SQL:
            moved = keys(client, "", state=state)
            out = {k: v - moved for k, v in out.items()}
            out[state] = moved
    return out


@pytest.mark.parametrize("state", STATES)
def test_is_and_state_each_state(client, sql, now, state) -> None:
    """Each state of STATES, whatever it holds: `is:` with '-' for spaces and `state:` quoted
    select the series in that state (see `by_state`)."""
    slug = state.replace(" ", "-")
    got = keys(client, f"is:{slug}")
    assert got == keys(client, f'state:"{state}"')
    assert got == by_state(sql, now, client).get(state, set())


def test_is_open_unanswered_merged_stale(client, sql, now) -> None:
    states = by_state(sql, now, client)
    opened = set().union(*(states.get(s, set()) for s in OPEN_STATES))
    assert keys(client, "is:open") == opened
    assert len(opened) > 50
    assert total(client, "is:merged") == len(states["merged"]) > 500
    assert total(client, "is:stale") == len(states.get("stale", set()))
    silent = {
        k
        for (k,) in sql.execute(
            "SELECT series_key FROM series_metrics WHERE NOT has_reviewer_reply"
        )
    }
    assert keys(client, "is:unanswered") == opened & silent


def test_state_values_follow_states() -> None:
    """`is:` takes every state of STATES and every group of the filters, no list of its own:
    a state added to STATES (as `blocked` will be) is searchable with no change."""
    assert set(GROUPS) == set(STATE_GROUPS)
    values = state_values()
    for s in STATES:
        assert values[s] == s and values[s.replace(" ", "-")] == s
    if "blocked" in STATES:
        assert parse("is:blocked").terms[0].arg == "blocked"
    else:
        with pytest.raises(SearchError, match="unknown state 'blocked'"):
            parse("is:blocked")


def test_is_pull(client, sql) -> None:
    expected = {k for (k,) in sql.execute("SELECT series_key FROM pull_requests")}
    assert keys(client, "is:pull") == expected
    merged = {
        k
        for (k,) in sql.execute("SELECT series_key FROM pull_requests WHERE merged_by IS NOT NULL")
    }
    assert keys(client, "is:pull is:merged") == merged
    # Each with the patches of its latest version, the messages that carry a diff (a [GIT
    # PULL] letter alone carries none); reviewers are not counted for them.
    patches = dict(
        sql.execute(
            "SELECT sv.series_key, (SELECT count(a.patch_id) FROM version_members vm "
            "JOIN message_analysis a ON a.message_pk = vm.message_pk "
            "WHERE vm.version_key = sv.key AND vm.idx > 0) "
            "FROM series_versions sv JOIN pull_requests p "
            "ON p.series_key = sv.series_key WHERE sv.seq = "
            "(SELECT max(seq) FROM series_versions x WHERE x.series_key = sv.series_key)"
        ).fetchall()
    )
    rows = client.get("/api/series", params={"search": "is:pull", "full": "1"}).json()["rows"]
    assert {r["series_key"]: r["patches"] for r in rows} == {
        k: patches[k] for k in (r["series_key"] for r in rows)
    }
    # EROFS's pull requests are letters: no patch of their own (they were "1 patch" each).
    assert sum(patches.values()) < len(patches)
    assert all(r["reviewers"] is None for r in rows)
    # Time to merge: from the posting to the notice, for those a notice says were merged.
    ttm = {
        k: round((m - f) / 3600, 3)
        for k, f, m in sql.execute(
            "SELECT series_key, first_date, merged_date FROM pull_requests "
            "WHERE merged_by IS NOT NULL AND merged_date >= first_date"
        )
    }
    assert len(ttm) > 50
    assert {
        r["series_key"]: r["time_to_merge_hours"]
        for r in rows
        if r["time_to_merge_hours"] is not None
    } == {k: v for k, v in ttm.items() if k in {r["series_key"] for r in rows}}
    # Review replies are answers, bots and the author aside, as for a series.
    answers = dict(
        sql.execute(
            "SELECT sv.series_key, count(*) FROM series_versions sv "
            "JOIN pull_requests p ON p.series_key = sv.series_key "
            "JOIN replies r ON r.version_key = sv.key WHERE NOT r.is_bot AND NOT r.is_author "
            "GROUP BY sv.series_key"
        )
    )
    assert {r["series_key"]: r["review_replies"] for r in rows} == {
        r["series_key"]: answers.get(r["series_key"], 0) for r in rows
    }
    assert sum(answers.values()) < one(sql, "SELECT sum(replies) FROM pull_requests")
    assert {r["state"] for r in rows} <= {"merged", "pull request"}
    # has:reply: answered by someone other than the author or a bot (pr-tracker-bot's "has
    # been merged" answers none; it made 91 of EROFS's 93 pull requests "replied").
    answered = {
        k
        for (k,) in sql.execute(
            "SELECT DISTINCT sv.series_key FROM series_versions sv "
            "JOIN pull_requests p ON p.series_key = sv.series_key "
            "JOIN replies r ON r.version_key = sv.key WHERE NOT r.is_bot AND NOT r.is_author"
        )
    }
    assert keys(client, "is:pull has:reply") == answered
    assert len(answered) < len(merged)
    # Not a series under review: without is:pull no pull request is listed.
    assert not keys(client, "-is:pull") & expected
    assert total(client, "-is:pull") == one(sql, "SELECT count(*) FROM series_metrics")


def test_age(client, sql, now) -> None:
    n = one(sql, "SELECT count(*) FROM series_metrics WHERE ? - first_date > ?", now, 14 * DAY)
    assert total(client, "age:>2w") == n
    young = one(sql, "SELECT count(*) FROM series_metrics WHERE ? - first_date < ?", now, 365 * DAY)
    assert total(client, "age:<1y") == young
    assert 0 < young < n + young


def test_posted(client, sql) -> None:
    lo, hi = _ts("2024-01-01"), _ts("2024-04-01")
    q = "SELECT count(*) FROM series_metrics WHERE first_date >= ? AND first_date < ?"
    assert total(client, "posted:2024-01..2024-03") == one(sql, q, lo, hi) > 10
    assert total(client, "posted:2024") == one(sql, q, lo, _ts("2025-01-01"))
    assert total(client, "posted:2024-02-29") == one(sql, q, _ts("2024-02-29"), _ts("2024-03-01"))
    assert total(client, "posted:2025-06..") == one(
        sql, "SELECT count(*) FROM series_metrics WHERE first_date >= ?", _ts("2025-06-01")
    )


def test_from(client, sql) -> None:
    n = one(
        sql,
        "SELECT count(*) FROM series_metrics sm JOIN series s ON s.key = sm.series_key "
        "WHERE lower(sm.author_addr) LIKE '%hsiangkao%' OR lower(s.author_name) LIKE '%hsiangkao%'",
    )
    assert total(client, "from:HSIANGKAO") == n > 50


RECIPIENTS = (
    "SELECT sv.series_key FROM version_members vm "
    "JOIN series_versions sv ON sv.key = vm.version_key "
    "JOIN messages m ON m.id = vm.message_pk WHERE {}"
)


def test_to_and_cc(client, sql) -> None:
    to = keyset(
        sql,
        RECIPIENTS.format("lower(m.to_addrs) LIKE ? OR lower(m.cc_addrs) LIKE ?"),
        "%linux-kernel%",
        "%linux-kernel%",
    )
    cc = keyset(sql, RECIPIENTS.format("lower(m.cc_addrs) LIKE ?"), "%linux-kernel%")
    assert keys(client, "to:linux-kernel") == to
    assert keys(client, "cc:linux-kernel") == cc
    assert cc < to and len(cc) > 10


def test_reviewed_by(client, sql) -> None:
    expected = keyset(
        sql,
        "SELECT sv.series_key FROM message_trailers t "
        "JOIN replies r ON r.message_pk = t.message_pk "
        "JOIN series_versions sv ON sv.key = r.version_key "
        "WHERE t.key = 'Reviewed-by' AND lower(t.value) LIKE '%chao%' "
        "UNION SELECT sv.series_key FROM message_trailers t "
        "JOIN version_members vm ON vm.message_pk = t.message_pk "
        "JOIN series_versions sv ON sv.key = vm.version_key "
        "WHERE t.key = 'Reviewed-by' AND lower(t.value) LIKE '%chao%'",
    )
    assert keys(client, "reviewed-by:chao") == expected
    assert len(expected) > 50


@pytest.mark.parametrize("term,key", [("acked-by", "Acked-by"), ("tested-by", "Tested-by")])
def test_acked_by_and_tested_by(client, sql, term, key) -> None:
    """`reviewed-by:` finds Reviewed-by alone, as defined; an Acked-by or Tested-by is
    searched by its own term, over the same replies and postings."""
    rows = sql.execute(
        "SELECT lower(t.name) FROM message_trailers t WHERE t.key = ? AND t.name != '' "
        "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1",
        (key,),
    ).fetchone()
    assert rows, f"the store has {key} trailers"
    who = rows[0].split()[-1]
    expected = keyset(
        sql,
        "SELECT sv.series_key FROM message_trailers t "
        "JOIN replies r ON r.message_pk = t.message_pk "
        "JOIN series_versions sv ON sv.key = r.version_key "
        "WHERE t.key = ? AND lower(t.value) LIKE ? "
        "UNION SELECT sv.series_key FROM message_trailers t "
        "JOIN version_members vm ON vm.message_pk = t.message_pk "
        "JOIN series_versions sv ON sv.key = vm.version_key "
        "WHERE t.key = ? AND lower(t.value) LIKE ?",
        key,
        f"%{who}%",
        key,
        f"%{who}%",
    )
    assert expected and keys(client, f"{term}:{who}") == expected
    assert keys(client, f"{term}:{who}") != keys(client, f"reviewed-by:{who}")


def test_subsystem_without_maintainers(client, sql) -> None:
    """EROFS has no MAINTAINERS: no series touches a section, and the search says so."""
    n = one(sql, "SELECT count(*) FROM series_metrics WHERE subsystems LIKE '%EROFS%'")
    assert total(client, "subsystem:erofs") == n == 0
    assert total(client, "-subsystem:erofs") == one(sql, "SELECT count(*) FROM series_metrics")


def test_file(client, sql) -> None:
    expected = keyset(
        sql,
        "SELECT sv.series_key FROM version_members vm "
        "JOIN series_versions sv ON sv.key = vm.version_key "
        "JOIN message_analysis a ON a.message_pk = vm.message_pk "
        "WHERE a.files LIKE '%fsck/%'",
    )
    assert keys(client, "file:fsck/") == expected
    assert len(expected) > 20


def test_list(client, sql) -> None:
    expected = keyset(
        sql,
        "SELECT sv.series_key FROM series_versions sv "
        "JOIN version_members vm ON vm.version_key = sv.key "
        "JOIN message_sightings ms ON ms.message_pk = vm.message_pk "
        "JOIN mailing_lists ml ON ml.id = ms.list_id WHERE ml.name = 'erofs-2024'",
    )
    assert keys(client, "list:erofs-2024") == expected
    assert total(client, "list:2024") == len(expected) > 100
    assert keys(client, "list:erofs-2024") == keys(client, "", list="erofs-2024")


def test_has(client, sql) -> None:
    reviewed = one(sql, "SELECT count(*) FROM series_metrics WHERE reviews > 0")
    replied = one(sql, "SELECT count(*) FROM series_metrics WHERE has_reviewer_reply")
    everything = one(sql, "SELECT count(*) FROM series_metrics")
    assert total(client, "has:review") == reviewed > 100
    assert total(client, "has:reply") == replied > reviewed
    assert total(client, "-has:review") == everything - reviewed


def test_counts(client, sql) -> None:
    for search, where in [
        ("versions:>3", "versions > 3"),
        ("versions:2", "versions = 2"),
        ("versions:<=1", "versions <= 1"),
        ("patches:>=5", "patches >= 5"),
    ]:
        n = one(sql, f"SELECT count(*) FROM series_metrics WHERE {where}")
        assert total(client, search) == n > 0, search


def test_bucket(client, sql) -> None:
    """`bucket:KIND:VALUE` selects the bucket filter's series; negated, the others."""
    everything = one(sql, "SELECT count(*) FROM series_metrics")
    for search, where in [
        ("bucket:patches:2-5", "patches BETWEEN 2 AND 5"),
        ("bucket:patches:16+", "patches >= 16"),
        ("bucket:lines:<10", "lines_added + lines_removed < 10"),
        ("bucket:lines:100-999", "lines_added + lines_removed BETWEEN 100 AND 999"),
        ("bucket:versions:3-4", "versions BETWEEN 3 AND 4"),
    ]:
        n = one(sql, f"SELECT count(*) FROM series_metrics WHERE {where}")
        assert total(client, search) == n > 0, search
        assert total(client, "-" + search) == everything - n, search


def test_free_text(client, sql) -> None:
    """Words are found in every version's title and patch subject (search_text), the author's
    address and the key; a quoted phrase is one needle, words are joined by AND."""
    hay = "lower(title || ' ' || author_addr || ' ' || series_key || ' ' || search_text)"
    q = f"SELECT count(*) FROM series_metrics WHERE {hay} LIKE ?"
    n = one(sql, q, "%compress%")
    assert total(client, "compress") == n > 100
    phrase = one(sql, q, "%big pcluster%")
    assert total(client, '"big pcluster"') == phrase > 0
    both = one(sql, f"{q} AND {hay} LIKE ?", "%compress%", "%fix%")
    assert total(client, "compress fix") == both
    assert total(client, "-compress") == one(sql, "SELECT count(*) FROM series_metrics") - n
    # A word only a patch subject of an earlier version has still finds its series.
    key, word = next(
        (k, text.split("\n")[-1])
        for k, text in sql.execute(
            "SELECT series_key, search_text FROM series_metrics WHERE versions > 2"
        )
        if '"' not in text.split("\n")[-1]
    )
    assert key in keys(client, f'"{word}"')


def test_combination_and_other_filters(client, sql, now) -> None:
    states = by_state(sql, now, client)
    opened = set().union(*(states.get(s, set()) for s in OPEN_STATES))
    rows = {
        k: (v, rv, fd)
        for k, v, rv, fd in sql.execute(
            "SELECT series_key, versions, reviews, first_date FROM series_metrics"
        )
    }
    expected = {k for k in opened if rows[k][0] > 1 and not rows[k][1]}
    assert keys(client, "is:open versions:>1 -has:review") == expected
    since = _ts("2023-01-01")
    later = {k for k in expected if rows[k][2] >= since}
    assert keys(client, "is:open versions:>1 -has:review", since="2023-01-01") == later
    merged_2024 = {
        k for k in states["merged"] if _ts("2024-01-01") <= rows[k][2] < _ts("2025-01-01")
    }
    assert keys(client, "is:merged posted:2024", list="erofs-2024") == merged_2024 & keys(
        client, "list:erofs-2024"
    )
    # The search and `q` combine: q stays literal text.
    assert total(client, "compress", q="fix") == total(client, "compress fix")


def test_search_applies_to_other_pages(client, sql) -> None:
    """Every page that takes filters takes `search`: the backlog and overview count the
    series it finds."""
    n = one(sql, "SELECT count(*) FROM series_metrics WHERE versions > 3")
    for page in ("overview", "backlog", "performance"):
        d = client.get(f"/api/{page}", params={"search": "versions:>3"}).json()
        assert d["series"] == n, page


@pytest.mark.parametrize(
    ("search", "needle"),
    [
        ("colour:red", "unknown operator 'colour:'"),
        ("erofs: fix", "unknown operator 'erofs:'"),
        ("posted:2024-13", "no such date '2024-13'"),
        ("posted:yesterday", "bad date 'yesterday'"),
        ("age:>2q", "bad duration '2q'"),
        ("age:2w", "expected a comparison"),
        ("versions:>three", "bad comparison '>three'"),
        ("is:shiny", "unknown state 'shiny'"),
        ("has:cake", "has: expected one of review, reply"),
        ("bucket:lines:huge", "bucket: expected one of patches:0"),
        ("bucket:size:1", "got 'size:1'"),
        ('"unclosed', "unterminated quote"),
        ("from:", "from: needs a value"),
    ],
)
def test_errors_are_explained(client, search, needle) -> None:
    r = client.get("/api/series", params={"search": search})
    assert r.status_code == 400
    body = r.json()
    assert body["parameter"] == "search"
    assert needle in body["error"]
    page = client.get("/series", params={"search": search})
    assert page.status_code == 400
    assert "search" in page.text and "Bad request" in page.text
    # The message as written, escaped: the term a user typed is shown to them.
    assert str(markupsafe.escape(needle)) in page.text
    with pytest.raises(FilterError) as e:
        Filters.from_options(search=search)
    assert e.value.parameter == "search"


def test_explorer_shows_search_help(client) -> None:
    page = client.get("/series", params={"search": "is:open"}).text
    assert 'name="search"' in page and 'value="is:open"' in page
    assert "/glossary#search" in page


def test_is_pull_on_every_filtered_page(client, sql) -> None:
    """`is:pull` selects the pull requests on every page that takes filters (each page's
    figures over them), in HTML and JSON alike."""
    pulls = one(sql, "SELECT count(*) FROM pull_requests")
    assert pulls > 0
    for page in ("overview", "performance", "backlog", "community", "series", "patches"):
        assert (
            client.get(
                f"/{page}" if page != "overview" else "/", params={"search": "is:pull"}
            ).status_code
            == 200
        )
        d = client.get(f"/api/{page}", params={"search": "is:pull"})
        assert d.status_code == 200, page
        if page in ("overview", "performance", "backlog"):
            assert d.json()["series"] == pulls, page
    merged = one(sql, "SELECT count(*) FROM pull_requests WHERE merged_by IS NOT NULL")
    assert client.get("/api/overview", params={"search": "is:pull"}).json()["merged"] == merged


def test_is_pull_pages_call_them_pull_requests(client, sql) -> None:
    """Under `is:pull` the rows are pull requests: the pages that count them say so (not
    "series"), and the backlog's states add up to them (the ones not merged are in state
    "pull request", whose link lists exactly those)."""
    pulls = one(sql, "SELECT count(*) FROM pull_requests")
    unmerged = one(sql, "SELECT count(*) FROM pull_requests WHERE merged_by IS NULL")
    assert pulls > unmerged > 0
    said = f"{pulls:,} pull requests"
    for page in ("/", "/series", "/backlog", "/performance", "/findings"):
        text = client.get(page, params={"search": "is:pull"}).text
        assert said in text.replace("selected pull requests", "pull requests"), page
        assert f"{pulls:,}</span> series" not in text and f"{pulls:,} series" not in text, page
    plain = client.get("/", params={"search": "-is:pull"}).text
    assert "</span> series (" in plain and "pull requests (" not in plain
    d = client.get("/api/backlog", params={"search": "is:pull"}).json()
    assert d["states"]["pull request"] == unmerged
    assert sum(d["states"].values()) == d["series"] == pulls
    page = client.get("/backlog", params={"search": "is:pull"}).text
    link = "/series?search=is%3Apull+-is%3Amerged"
    assert f'href="{link}"' in page
    assert f"{unmerged:,} pull requests" in client.get(link).text
    assert "pull request" not in client.get("/api/backlog").json()["states"]


def test_person_page_takes_the_search(client, sql) -> None:
    """The person page's tables keep the series the search finds (store terms included)."""
    who, addr = sql.execute(
        "SELECT author, author_addr FROM series_metrics GROUP BY author "
        "ORDER BY count(*) DESC LIMIT 1"
    ).fetchone()
    n = one(
        sql,
        "SELECT count(*) FROM series_metrics WHERE author = ? AND versions > 1 AND series_key IN "
        "(SELECT sv.series_key FROM version_members vm JOIN series_versions sv "
        "ON sv.key = vm.version_key JOIN message_analysis a ON a.message_pk = vm.message_pk "
        "WHERE a.files LIKE '%lib/%')",
        who,
    )
    d = client.get(f"/api/people/{addr}", params={"search": "versions:>1 file:lib/"}).json()
    assert d["series_authored"] == n > 0


def test_search_text_is_escaped(client) -> None:
    """What a user typed comes back escaped: in the form, in an error, in the feed's title."""
    evil = "<script>alert(1)</script>"
    page = client.get("/series", params={"search": evil})
    assert page.status_code == 200
    assert evil not in page.text and str(markupsafe.escape(evil)) in page.text
    bad = client.get("/series", params={"search": f"nope:{evil}"})
    assert bad.status_code == 400
    assert evil not in bad.text and "unknown operator" in bad.text
    feed = client.get("/series.atom", params={"search": evil})
    assert feed.status_code == 200 and b"<script>" not in feed.content


def test_pull_rows_in_the_explorer(client) -> None:
    """A pull request's row shows what it has: no reviewers figure is printed as "None"."""
    page = client.get("/series", params={"search": "is:pull"}).text
    assert "pull request" in page or "merged" in page
    assert ">None<" not in page


def test_from_finds_a_series_by_its_one_author(client, sql) -> None:
    """A series' author is its first version's, in the series table as in its metrics: the
    latest version's name beside the first's address made `from:` find a series by a name
    its shown author does not have (36 EROFS series had two authors)."""
    assert (
        one(
            sql,
            "SELECT count(*) FROM series s JOIN series_metrics sm ON sm.series_key = s.key"
            " WHERE s.author_addr <> sm.author_addr",
        )
        == 0
    )
    # A series whose later version someone else sent is found by its author's name alone.
    rows = sql.execute(
        "SELECT s.key, s.author_name FROM series s JOIN series_versions v"
        " ON v.series_key = s.key WHERE v.author_addr <> s.author_addr AND s.author_name <> ''"
        " GROUP BY s.key LIMIT 3"
    ).fetchall()
    assert rows
    for key, name in rows:
        assert key in keys(client, f'from:"{name}"')
