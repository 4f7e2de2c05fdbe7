"""Review queues and waiting on whom (docs/METRICS.md): the rules on hand-made series, then
the Xen store (the posted patches of 2019-2020 against MAINTAINERS-2019-06, as
tests/test_subsystems.py builds it), where every expectation is recomputed here from the
store's tables with SQL and from the X86 section's F: lines read from the file, not from the
code under test; and a partial re-roll (tests/fixtures/scenarios/04) for "back again"."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from markupsafe import escape

from patchlens.config import Config
from patchlens.metrics.backlog import DAY, OPEN_STATES, Facts, decide
from patchlens.metrics.distributions import period_bounds
from patchlens.queries.queue import (
    AGAIN,
    ASKED,
    ON_AUTHOR,
    ON_NAMED,
    ON_NOBODY,
    OpenSeries,
    reasons,
    waiting_on,
)
from patchlens.stages import ingest
from patchlens.stages.pipeline import run_stages
from patchlens.stages.progress import Reporter
from patchlens.store.db import database_url, open_store
from patchlens.web.feeds import FEED_MAX
from tests.conftest import FIXTURES, data_path
from tests.helpers.cli import invoke_cli

ROGER = "roger.pau@citrix.com"  # R: of X86 ARCHITECTURE in 2019, and of nothing else
JAN = "jbeulich@suse.com"  # M: of X86 ARCHITECTURE (and of THE REST, and more)


# --- the rules on hand-made series -------------------------------------------------------------


def _open(**kw: Any) -> OpenSeries:
    row = {
        "series_key": "s",
        "author": "a",
        "reviewer_spoke_last": False,
        "nearly_complete": False,
        **kw.pop("row", {}),
    }
    return OpenSeries(row=row, current_key="v2", current_version="v2", current_date=0, **kw)


def test_waiting_on_whom_rules() -> None:
    # A reviewer spoke last and not every patch is reviewed: the author.
    o = _open(row={"reviewer_spoke_last": True}, expected={"m": "maintainer"}, answered={"m": 5})
    assert waiting_on(o) == {"on": ON_AUTHOR, "who": ["a"]}
    # Named people who have not answered the current version.
    o = _open(expected={"m": "maintainer", "r": "reviewer"}, asked={"x", "a"}, answered={"r": 5})
    assert waiting_on(o) == {"on": ON_NAMED, "who": ["m", "x"]}  # never the author
    # Everyone named answered and the author spoke last: all of them again.
    o = _open(expected={"m": "maintainer"}, answered={"m": 5})
    assert waiting_on(o) == {"on": ON_NAMED, "who": ["m"]}
    # Every patch reviewed: its maintainers, to apply it.
    o = _open(row={"nearly_complete": True}, expected={"m": "maintainer", "r": "reviewer"})
    assert waiting_on(o) == {"on": ON_NAMED, "who": ["m"]}
    # A reviewer of an earlier version is waited on too.
    assert waiting_on(_open(earlier={"e"})) == {"on": ON_NAMED, "who": ["e"]}
    # Nothing matches and nobody was asked.
    assert waiting_on(_open(asked={"a"})) == {"on": ON_NOBODY, "who": []}


def test_queue_reasons() -> None:
    o = _open(expected={"m": "maintainer", "a": "maintainer"}, asked={"m", "x"}, earlier={"e"})
    assert reasons(o, "m") == ["maintainer", ASKED]
    assert reasons(o, "x") == [ASKED]
    assert reasons(o, "e") == [AGAIN]
    assert reasons(o, "a") == []  # their own series
    assert reasons(o, "nobody") == []
    o.answered["m"] = 10
    assert reasons(o, "m") == []  # answered the current version


# --- the Xen store -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def xen(xen_store) -> tuple[Path, Path, Any]:
    return xen_store


@pytest.fixture(scope="module")
def client(xen) -> Any:
    from fastapi.testclient import TestClient

    from patchlens.web.app import create_app

    _tmp, db, _engine = xen
    return TestClient(create_app(database_url(str(db)), page_cache=False))


@pytest.fixture(scope="module")
def sql(xen):
    _tmp, db, _engine = xen
    con = sqlite3.connect(db)
    yield con
    con.close()


def _x86_patterns() -> list[str]:
    """The F: lines of the X86 ARCHITECTURE section, read from the file."""
    lines = data_path("xen", "MAINTAINERS-2019-06").read_text().splitlines()
    start = lines.index("X86 ARCHITECTURE")
    out = []
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        if line.startswith("F:"):
            out.append(line[2:].strip())
    assert out[:2] == ["xen/arch/x86/", "xen/include/asm-x86/"] and len(out) == 10
    return out


def _touches(files: set[str], patterns: list[str]) -> bool:
    """get_maintainer.pl's rule for these patterns (no wildcards among them): a trailing
    slash is a directory and everything below; otherwise the file or the directory."""
    return any(
        f.startswith(p) if p.endswith("/") else (f == p or f.startswith(p + "/"))
        for f in files
        for p in patterns
    )


def _files(sql) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for key, files in sql.execute(
        "SELECT sv.series_key, a.files FROM series_versions sv "
        "JOIN version_members vm ON vm.version_key = sv.key "
        "JOIN message_analysis a ON a.message_pk = vm.message_pk WHERE vm.idx > 0"
    ):
        out.setdefault(key, set()).update(json.loads(files))
    return out


def _states(sql) -> dict[str, str]:
    """Every series' state as of the data's date, from the stored facts (metrics/backlog.py
    decides; the data's date is the newest message, as there are no commits)."""
    (as_of,) = sql.execute("SELECT max(date_utc) FROM messages").fetchone()
    out = {}
    for row in sql.execute(
        "SELECT series_key, merged, nearly_complete, has_reviewer_reply, reviewer_spoke_last, "
        "last_date, in_repo, merged_by, repo_registered FROM series_metrics"
    ):
        key, merged, nearly, has, spoke, last, in_repo, by, registered = row
        f = Facts(
            merged,
            bool(nearly),
            bool(has),
            bool(spoke),
            last,
            bool(in_repo),
            merged_by=by or "",
            repo_registered=bool(registered),
        )
        out[key] = decide(f, as_of)
    return out


def _answered_by(sql, address: str) -> set[str]:
    """The series someone replied to (any version) from this address."""
    return {
        k
        for (k,) in sql.execute(
            "SELECT sv.series_key FROM replies r JOIN messages m ON m.id = r.message_pk "
            "JOIN series_versions sv ON sv.key = r.version_key WHERE lower(m.from_addr) = ?",
            (address,),
        )
    }


def _asked(sql, address: str) -> set[str]:
    """The series whose postings have this address in To: or Cc:."""
    out = set()
    for key, to, cc in sql.execute(
        "SELECT sv.series_key, m.to_addrs, m.cc_addrs FROM series_versions sv "
        "JOIN version_members vm ON vm.version_key = sv.key "
        "JOIN messages m ON m.id = vm.message_pk"
    ):
        if address in {a.strip().lower() for a in f"{to},{cc}".split(",")}:
            out.add(key)
    return out


def _authored(sql, address: str) -> set[str]:
    return {
        k for (k,) in sql.execute("SELECT key FROM series WHERE lower(author_addr) = ?", (address,))
    }


def test_queue_of_an_x86_reviewer_is_exactly_the_open_x86_series(client, sql) -> None:
    patterns = _x86_patterns()
    files = _files(sql)
    states = _states(sql)
    x86 = {k for k, fs in files.items() if _touches(fs, patterns)}
    open_ = {k for k, st in states.items() if st in OPEN_STATES}
    want = ((x86 | _asked(sql, ROGER)) & open_) - _authored(sql, ROGER) - _answered_by(sql, ROGER)
    d = client.get(f"/api/people/{ROGER}/queue").json()
    got = [r["series_key"] for r in d["awaiting"] + d["again"]]
    assert len(got) == len(set(got)) == d["total"]
    print(f"queue of {ROGER}: {len(got)} of {len(open_)} open series ({len(x86)} touch x86)")
    assert set(got) == want
    assert len(want) > 50  # measured: 107 (the archive has no replies, so none answered)
    assert not d["again"]
    for r in d["awaiting"]:
        assert r["reasons"] == ["reviewer"] and r["state"] in OPEN_STATES
        assert "X86 ARCHITECTURE" in r["subsystems"]
    waits = [r["waiting_hours"] for r in d["awaiting"]]
    assert waits == sorted(waits, reverse=True)  # oldest first


def test_queue_of_an_x86_maintainer_holds_every_open_x86_series(client, sql) -> None:
    x86 = {k for k, fs in _files(sql).items() if _touches(fs, _x86_patterns())}
    states = _states(sql)
    want = {k for k in x86 if states[k] in OPEN_STATES} - _authored(sql, JAN)
    d = client.get(f"/api/people/{JAN}/queue").json()
    got = {r["series_key"] for r in d["awaiting"]}
    assert want <= got
    # Jan is also M: of THE REST and of other sections: every other series is one of those.
    for r in d["awaiting"]:
        assert "maintainer" in r["reasons"]
        if r["series_key"] not in x86:
            assert "X86 ARCHITECTURE" not in r["subsystems"]


def test_roles_at_posting_follow_get_maintainer(sql) -> None:
    """Wei Liu is R: of X86 ARCHITECTURE and M: of THE REST (and of TOOLSTACK, OVMF, SEABIOS)
    in 2019: for a series touching xen/arch/x86/ alone THE REST is dropped (a specific section
    names people), so he is a listed reviewer there, and Jan Beulich a maintainer."""
    (wei,) = [
        i
        for i, addresses in sql.execute("SELECT identity, addresses FROM people")
        if "wl@xen.org" in json.loads(addresses)
    ]
    roles = {
        k: json.loads(v)
        for k, v in sql.execute("SELECT series_key, expected_roles FROM series_metrics")
    }
    only_x86 = [
        k for k, fs in _files(sql).items() if fs and all(f.startswith("xen/arch/x86/") for f in fs)
    ]
    assert len(only_x86) > 100
    for k in only_x86:
        assert roles[k][wei] == "reviewer", k
        assert roles[k][f"addr:{JAN}"] == "maintainer", k
        assert roles[k][f"addr:{ROGER}"] == "reviewer", k


def test_analysis_keeps_the_old_paths_of_renames() -> None:
    from patchlens.review.analysis import analyze

    diff = (
        "diff --git a/xen/common/sched_rt.c b/xen/common/sched/rt.c\n"
        "similarity index 100%\n"
        "rename from xen/common/sched_rt.c\n"
        "rename to xen/common/sched/rt.c\n"
        "diff --git a/xen/common/Makefile b/xen/common/Makefile\n"
        "--- a/xen/common/Makefile\n"
        "+++ b/xen/common/Makefile\n"
        "@@ -1 +1 @@\n"
        "-obj-y += sched_rt.o\n"
        "+obj-y += sched/\n"
    )
    row = analyze(1, "[PATCH] xen/sched: move", "x\n---\n" + diff, diff, True, False).row
    assert json.loads(row["files"]) == ["xen/common/Makefile", "xen/common/sched/rt.c"]
    assert json.loads(row["old_files"]) == ["xen/common/sched_rt.c"]


def test_a_rename_counts_by_its_old_paths_too(client, sql) -> None:
    """get_maintainer.pl takes both paths of a rename. Juergen Gross's series moves
    xen/common/sched_*.c and cpupool.c to xen/common/sched/: MAINTAINERS-2019-06 gives the old
    paths to SCHEDULING, CPU POOLS, ARINC653 and RTDS (the new directory to nobody but THE
    REST), so those are its subsystems and Dario Faggioli (M: of SCHEDULING) a maintainer
    expected to review it; Ian Jackson's series moving tools/libxc/xc_arinc653.c to
    tools/libs/ctrl/ keeps ARINC653. Measured before the fix: ACPI, POWER MANAGEMENT, ARM,
    X86 only, and no ARINC653 for the second."""
    sched = "20191218074859.21665-2-jgross@suse.com"
    arinc = "20200715162511.5941-3-ian.jackson@eu.citrix.com"
    rows = {
        k: (json.loads(subs), json.loads(roles))
        for k, subs, roles in sql.execute(
            "SELECT series_key, subsystems, expected_roles FROM series_metrics "
            "WHERE series_key IN (?, ?)",
            (sched, arinc),
        )
    }
    subs, roles = rows[sched]
    assert {"SCHEDULING", "CPU POOLS", "ARINC653 SCHEDULER", "RTDS SCHEDULER"} <= set(subs)
    assert roles["addr:dfaggioli@suse.com"] == "maintainer"
    assert "ARINC653 SCHEDULER" in rows[arinc][0]
    # The pages read the same: the series' metrics and the subsystem's series.
    d = client.get(f"/api/series/{sched}").json()
    assert "SCHEDULING" in d["metrics"]["subsystems"]
    page = client.get("/series", params={"subsystem": "SCHEDULING", "full": "1"}).text
    assert "xen/sched: move schedulers and cpupool coding to dedicated directory" in page


def test_queue_api_matches_its_schema_and_the_cli(xen, client) -> None:
    _tmp, db, _engine = xen
    spec = client.get("/openapi.json").json()
    schema = spec["paths"]["/api/people/{ident}/queue"]["get"]["responses"]["200"]["content"][
        "application/json"
    ]["schema"]
    d = client.get(f"/api/people/{ROGER}/queue").json()
    jsonschema.validate(
        d,
        {**schema, "components": spec["components"]},
        cls=jsonschema.Draft202012Validator,
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )
    proc = invoke_cli("--db", str(db), "-q", "queue", "Roger Pau", "--json")
    proc.check_returncode()
    out = proc.stdout
    assert json.loads(out) == d
    table = subprocess.run(
        [sys.executable, "-m", "patchlens", "--db", str(db), "queue", ROGER],
        capture_output=True,
        text=True,
        check=True,
        # The code under test (PYTHONPATH), not whichever patchlens the interpreter installed.
        env={"COLUMNS": "200", "PATH": "", "PYTHONPATH": os.environ.get("PYTHONPATH", "")},
    ).stdout
    assert f"{d['total']} open series" in table
    bad = invoke_cli("--db", str(db), "queue", "nobody-at-all@example")
    assert bad.returncode != 0 and "nobody is named" in bad.stderr
    assert client.get("/api/people/nobody@example.org/queue").status_code == 404
    # A name is taken by the command, not by the URL, which says what it takes instead.
    by_name = client.get("/api/people/Roger Pau Monne/queue")
    assert by_name.status_code == 404 and "give the address" in by_name.json()["error"]


def test_queue_page_and_person_page(client) -> None:
    page = client.get(f"/people/{ROGER}/queue")
    assert page.status_code == 200
    d = client.get(f"/api/people/{ROGER}/queue").json()
    text = page.text
    for r in d["awaiting"]:
        assert str(escape(r["title"])) in text
    person = client.get(f"/people/{ROGER}").text
    assert f'href="/people/{ROGER}/queue"' in person
    assert f"Queue: {d['total']} open series name them and wait for their answer" in person
    svg = client.get(f"/charts/people/{ROGER}/load.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert "<script" not in svg.text


def test_a_person_s_messages_obey_the_date_window(client, sql) -> None:
    """/api/people/ADDR?since=... counted every message and dated the first and last of all
    time (445 from 2019-03-18 for Andrew Cooper); the window's are 67 from 2020-06-01 on. The
    count of all time is still given, named as such, and the HTML page says both."""
    andrew = "andrew.cooper3@citrix.com"
    since = "2020-06-01"
    (start,) = sql.execute("SELECT CAST(strftime('%s', ?) AS INTEGER)", (since,)).fetchone()
    (every,) = sql.execute(
        "SELECT count(*) FROM messages WHERE from_addr = ?", (andrew,)
    ).fetchone()
    (n,) = sql.execute(
        "SELECT count(*) FROM messages WHERE from_addr = ? AND date_utc >= ?",
        (andrew, start),
    ).fetchone()
    assert (every, n) == (445, 67)
    d = client.get(f"/api/people/{andrew}", params={"since": since}).json()
    assert d["messages"] == n and d["messages_all_time"] == every
    assert d["first_date"].startswith("2020-06-01") and d["window"] == f"since {since}"
    assert "since 2020-06-01" in d["messages_counted"]
    page = client.get(f"/people/{andrew}", params={"since": since}).text
    assert f"{n} messages from 2020-06-01" in page and f"{every} in all" in page
    whole = client.get(f"/api/people/{andrew}").json()
    assert whole["messages"] == whole["messages_all_time"] == every and whole["window"] == ""
    assert f"{every} messages from 2019-03-18" in client.get(f"/people/{andrew}").text


def test_queue_feed_lists_the_queue(client) -> None:
    """The queue's Atom feed validates and lists the page's series, in the page's order."""
    import feedparser

    d = client.get(f"/api/people/{ROGER}/queue").json()
    res = client.get(f"/people/{ROGER}/queue.atom")
    assert res.status_code == 200
    assert res.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(res.content)
    assert not feed.bozo, feed.get("bozo_exception")
    want = [r["url"] for r in d["awaiting"] + d["again"]]
    assert len(want) > 50
    got = [e.link.removeprefix("http://testserver") for e in feed.entries]
    assert got == want[: len(got)] and len(got) == min(len(want), FEED_MAX)
    page = client.get(f"/people/{ROGER}/queue").text
    assert f'href="/people/{ROGER}/queue.atom"' in page
    assert client.get("/people/nobody@example.org/queue.atom").status_code == 404


def test_review_load_of_a_reviewer(client, sql) -> None:
    """Awaiting at the end of a quarter, recounted: the series naming Roger (touching x86
    files; nobody Cc'd him), not his own, posted before the quarter's end, and not gone quiet
    for the abandoned threshold (180 days) by then. Nobody answered, nothing merged."""
    x86 = {k for k, fs in _files(sql).items() if _touches(fs, _x86_patterns())}
    x86 -= _authored(sql, ROGER)
    dates = {
        k: (first, last)
        for k, first, last in sql.execute(
            "SELECT series_key, first_date, last_date FROM series_metrics"
        )
    }
    load = {r["period"]: r for r in client.get(f"/api/people/{ROGER}").json()["load"]}
    assert {"2019-Q3", "2020-Q3"} <= set(load)
    for label in ("2019-Q3", "2020-Q3"):
        _start, end = period_bounds(label, "quarter")
        want = sum(1 for k in x86 if dates[k][0] < end and dates[k][1] + 180 * DAY >= end)
        assert load[label]["awaiting"] == want, label
        assert load[label]["answered"] == 0 and load[label]["median_wait_hours"] is None


def test_subsystem_page_shows_waiting_on_whom_for_every_open_series(client, sql) -> None:
    title = "X86 ARCHITECTURE"
    states = _states(sql)
    want = {
        k
        for k, subs in sql.execute("SELECT series_key, subsystems FROM series_metrics")
        if title in json.loads(subs) and states[k] in OPEN_STATES
    }
    d = client.get(f"/api/subsystems/{title}", params={"full": "1"}).json()
    rows = d["waiting_on"]["rows"]
    assert {r["series_key"] for r in rows} == want and len(rows) == len(want)
    assert d["waiting_on"]["total"] == len(want) > 25
    short = client.get(f"/api/subsystems/{title}").json()["waiting_on"]
    assert short["total"] == len(want) and short["rows"] == rows[:25]
    assert sum(d["waiting_on"]["counts"].values()) == len(want)
    authors = dict(sql.execute("SELECT key, lower(author_addr) FROM series"))
    reviewed = dict(sql.execute("SELECT series_key, nearly_complete FROM series_metrics"))
    for r in rows:
        # No reply in this archive: no reviewer spoke, so every series waits on named people:
        # the X86 maintainers (to apply it, when every patch carries a review, even if it
        # has gone stale since) and, before that, its reviewers too; never on its author.
        assert r["waiting_on"] == ON_NAMED
        who = {p["address"] for p in r["waiting_on_who"]}
        assert authors[r["series_key"]] not in who
        if authors[r["series_key"]] != JAN:
            assert JAN in who
        if not reviewed[r["series_key"]] and authors[r["series_key"]] != ROGER:
            assert ROGER in who
    # The queues of its maintainers and reviewers, side by side.
    queues = {q["address"]: q for q in d["queues"]}
    assert set(queues) == {JAN, "andrew.cooper3@citrix.com", "wl@xen.org", ROGER}
    mine = client.get(f"/api/people/{ROGER}/queue").json()["awaiting"]
    assert queues[ROGER]["waiting"] == sum(1 for r in mine if title in r["subsystems"])
    assert queues[ROGER]["role"] == "reviewer" and queues[JAN]["role"] == "maintainer"
    page = client.get(f"/subsystems/{title}", params={"full": "1"}).text
    assert "Waiting on whom" in page and 'class="queues"' in page
    for r in rows:
        assert str(escape(r["title"])) in page
    assert re.search(r"Of (\d+) open series", page).group(1) == str(len(want))
    svg = client.get(f"/charts/subsystems/{title}/load.svg")
    assert svg.status_code == 200 and "<script" not in svg.text


# --- back again: a partial re-roll ------------------------------------------------------------


def test_back_again_after_a_partial_reroll(tmp_path: Path) -> None:
    """Scenario 04: Frank asks for a change on v2 2/5, Erin answers with a re-rolled 2/5 alone
    (v3). Frank spoke before the re-roll: it awaits him again, and the series waits on him."""
    from patchlens.metrics.backlog import BacklogRules
    from patchlens.queries.queue import find_people, person_queue

    engine = open_store(str(tmp_path / "s.db"))
    ingest.add_list(engine, "l", [str(FIXTURES / "scenarios" / "04-partial-reroll.mbox")])
    ingest.run_update(engine, tmp_path / "cache", Reporter(quiet=True), jobs=1)
    run_stages(engine, Config(), tmp_path / "cache", Reporter(quiet=True), jobs=1)
    with engine.connect() as conn:
        (frank,) = find_people(conn, "Frank")
        d = person_queue(conn, frank["identity"], BacklogRules())
    assert not d["awaiting"] and len(d["again"]) == 1
    r = d["again"][0]
    # The re-roll answers Frank with him in Cc: asked by name too.
    # The current version is v2 with v3's 2/5 laid over it, dated by v3.
    assert r["reasons"] == [ASKED, AGAIN] and r["current_version"] == "v2 + partial v3"
    assert r["waiting_on"] == ON_NAMED
    assert [p["identity"] for p in r["waiting_on_who"]] == [frank["identity"]]


def _list_mail(n: int, frm: str, subject: str, to: str, cc: str = "", reply_to: str = "") -> str:
    extra = f"Cc: {cc}\n" if cc else ""
    extra += f"In-Reply-To: <{reply_to}>\n" if reply_to else ""
    return (
        f"From x Mon Jun  2 0{n}:00:00 2025\nFrom: {frm}\nTo: {to}\n{extra}"
        f"Subject: {subject}\nDate: Mon, 2 Jun 2025 0{n}:00:00 +0000\n"
        f"Message-ID: <m{n}@example.org>\n"
        "List-Id: Development of tools <tools-devel.lists.example.org>\n\n"
        "text\n\n"
    )


def test_a_list_s_own_address_names_nobody(tmp_path: Path) -> None:
    """Every posting is sent to its list, so the list's address (the List-Id read with "@"
    for its first ".") names nobody: here it also has a person row of its own (a message the
    list rewrote as from itself, as DMARC mitigation does), and a series sent to it alone
    waits on nobody named; a person in Cc: is named as before."""
    from patchlens.metrics.backlog import BacklogRules
    from patchlens.queries.queue import find_people, open_series, person_queue

    lst = "tools-devel@lists.example.org"
    patch = "\n---\n a | 1 +\n\ndiff --git a/a b/a\n--- a/a\n+++ b/a\n@@ -1 +1,2 @@\n x\n+y\n"
    mbox = tmp_path / "l.mbox"
    mbox.write_text(
        _list_mail(1, f"Ann via Tools-devel <{lst}>", "[PATCH] tools: one", lst).replace(
            "text\n", "one" + patch
        )
        + _list_mail(2, "Bob Bell <bob@example.org>", "[PATCH] tools: two", lst).replace(
            "text\n", "two" + patch
        )
        + _list_mail(
            3, "Cy Cole <cy@example.org>", "[PATCH] tools: three", lst, cc="ann@example.org"
        ).replace("text\n", "three" + patch)
        + _list_mail(
            4, "Ann Ash <ann@example.org>", "Re: [PATCH] tools: one", lst, reply_to="m1@example.org"
        )
    )
    engine = open_store(str(tmp_path / "s.db"))
    ingest.add_list(engine, "tools", [str(mbox)])
    ingest.run_update(engine, tmp_path / "cache", Reporter(quiet=True), jobs=1)
    run_stages(engine, Config(), tmp_path / "cache", Reporter(quiet=True), jobs=1)
    rules = BacklogRules()
    with engine.connect() as conn:
        (the_list,) = find_people(conn, lst)
        assert person_queue(conn, the_list["identity"], rules)["total"] == 0
        by_title = {o.row["title"]: o for o in open_series(conn, rules)}
        assert by_title["tools: two"].asked == set()
        assert waiting_on(by_title["tools: two"])["on"] == ON_NOBODY
        (ann,) = find_people(conn, "ann@example.org")
        assert by_title["tools: three"].asked == {ann["identity"]}
        # The review load on a person's page agrees: the list is named by nobody's series.
        from patchlens.queries.load import _named_series

        assert _named_series(conn, the_list["identity"]) == frozenset()
        assert _named_series(conn, ann["identity"]) == {by_title["tools: three"].key}


def test_list_ids_read_from_headers() -> None:
    from patchlens.mail.listid import is_list_address, list_id

    assert list_id("Development of Linux EROFS <linux-erofs.lists.ozlabs.org>") == (
        "linux-erofs.lists.ozlabs.org"
    )
    assert list_id("<Linux-IIO.vger.kernel.org>") == "linux-iio.vger.kernel.org"
    assert list_id(None) is None and list_id("no brackets.org") is None
    assert list_id("<a b.org>") is None and list_id("<nodots>") is None
    ids = {"linux-iio.vger.kernel.org"}
    assert is_list_address("linux-iio@vger.kernel.org", ids)
    assert not is_list_address("jic23@kernel.org", ids)
    assert not is_list_address("linux-iio.vger.kernel.org", ids)


def test_subsystem_pages_link_only_queues_that_exist(client) -> None:
    """Someone MAINTAINERS names under an address that never wrote to the list, and under a
    name nobody wrote under, has no person page or queue: the subsystem pages name them
    without a link, where they linked a "no such person". George Dunlap, named by his
    eu.citrix.com, which never wrote, wrote from citrix.com: his link leads to that person."""
    from urllib.parse import unquote

    for title in ("THE REST", "X86 ARCHITECTURE"):
        html = client.get(f"/subsystems/{title}").text
        links = set(re.findall(r'href="(/people/[^"#?]+)"', html))
        assert links, title
        for link in sorted(links):
            assert client.get(unquote(link)).status_code == 200, link
    rest = client.get("/subsystems/THE REST").text
    assert "george.dunlap@eu.citrix.com" in rest.lower()
    george = client.get("/people/George.Dunlap@eu.citrix.com")
    assert george.status_code == 200 and "george.dunlap@citrix.com" in george.text


def test_series_pages_link_only_queues_that_exist(client, sql) -> None:
    """A series page's "named by MAINTAINERS at posting" linked the queue of an address that
    never wrote (George Dunlap's eu.citrix.com, before it was looked up by his name): a 404."""
    from urllib.parse import quote, unquote

    people = {i for (i,) in sql.execute("select identity from people")}
    keys = []
    for key, roles in sql.execute(
        "select series_key, expected_roles from series_metrics order by series_key"
    ):
        if set(json.loads(roles or "{}")) - people:
            keys.append(key)
    assert keys
    for key in keys[:3]:
        html = client.get("/series/" + quote(key, safe="@")).text
        for link in sorted(set(re.findall(r'href="(/people/[^"#?]+)"', html))):
            assert client.get(unquote(link)).status_code == 200, (key, link)


def test_maintainers_entries_are_looked_up_by_name(client, sql) -> None:
    """MAINTAINERS-2019-06 names George Dunlap by george.dunlap@eu.citrix.com, from which
    nothing was sent; he wrote as "George Dunlap" from citrix.com. His 497 series (those whose
    files his sections cover) named an identity of that address alone: his queue was empty
    and his person page a 404. Now they name the person who wrote, and his MAINTAINERS
    address finds his queue. Wei Liu (wl@xen.org, wrote from citrix.com) likewise."""
    expected = [json.loads(r or "{}") for (r,) in sql.execute(
        "select expected_roles from series_metrics"
    )]  # fmt: skip
    assert not any("addr:george.dunlap@eu.citrix.com" in e for e in expected)
    assert sum("addr:george.dunlap@citrix.com" in e for e in expected) >= 497
    assert not any("addr:wl@xen.org" in e for e in expected)
    sent = sql.execute(
        "select count(*) from messages where lower(from_addr) = 'george.dunlap@eu.citrix.com'"
    ).fetchone()[0]
    assert sent == 0  # the premise: that address never wrote
    q = client.get("/api/people/George.Dunlap@eu.citrix.com/queue").json()
    assert q["identity"] == "addr:george.dunlap@citrix.com"
    assert q["total"] == len(q["awaiting"]) + len(q["again"]) > 0


def test_the_current_version_label() -> None:
    from patchlens.queries.queue import _label

    assert _label(["v2"]) == "v2"
    assert _label(["v2", "v3"]) == "v2 + partial v3"
    assert _label(["v5", "v5.1", "v5.2"]) == "v5 + partial v5.1, v5.2"
    # Unnumbered re-sends of part of v1 (Xen): counted, not "v1 + partial v1, v1, v1".
    assert _label(["v1", "v1", "v1", "v1"]) == "v1 + 3 partial re-rolls"
    assert _label(["v1", "v1"]) == "v1 + a partial re-roll"
    assert _label(["v2", "v3", "v3"]) == "v2 + 2 partial re-rolls"
