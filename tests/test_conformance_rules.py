"""The pure rules of the conformance report (metrics/conformance.py), and the report over a
small store built by the real pipeline whose mail and commits carry HTML and script
payloads: every list shows them as text, escaped, on the page and in the command."""

from __future__ import annotations

import json
import os
import re
import subprocess
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from patchlens.metrics import conformance as cf
from tests.helpers.cli import invoke_cli

DAY = 86400
T0 = 1_700_000_000


def test_coverage_skips_a_lone_message_with_a_broken_date():
    dates = [978_306_193, 1_557_140_462, 1_557_144_000, 1_557_900_000]
    assert cf.coverage_start(dates) == 1_557_140_462
    assert cf.coverage_end(dates[::-1]) == 1_557_900_000
    assert cf.coverage_end([T0 + 400 * DAY, T0 + DAY, T0]) == T0 + DAY
    assert cf.coverage_start([T0]) is None  # one message: no coverage
    assert cf.coverage_start([T0, T0 + 31 * DAY]) is None
    assert cf.coverage_start([T0, T0 + 31 * DAY], gap_days=31) == T0


def test_judge_needs_one_list_to_cover_the_whole_life_of_a_commit():
    a = cf.Coverage("a", T0, T0 + 100 * DAY)
    b = cf.Coverage("b", T0 + 200 * DAY, T0 + 300 * DAY)
    assert cf.judge(False, False, T0 + DAY, T0 + 2 * DAY, [a, b]) == cf.JUDGED
    assert cf.judge(False, False, T0 + 210 * DAY, T0 + 220 * DAY, [a, b]) == cf.JUDGED
    assert cf.judge(True, False, T0 + DAY, T0 + 2 * DAY, [a]) == cf.MERGE
    assert cf.judge(False, True, T0 + DAY, T0 + 2 * DAY, [a]) == cf.BOT
    assert cf.judge(False, False, T0 - DAY, T0 + DAY, [a, b]) == cf.BEFORE
    assert cf.judge(False, False, T0 + 290 * DAY, T0 + 301 * DAY, [a, b]) == cf.AFTER
    assert cf.judge(False, False, T0 + DAY, T0 + DAY, []) == cf.NO_ARCHIVE
    # Written under one list, committed under another: no one list saw its whole life.
    assert cf.judge(False, False, T0 + 50 * DAY, T0 + 250 * DAY, [a, b]) != cf.JUDGED
    assert cf.judge(False, False, T0 + 150 * DAY, T0 + 160 * DAY, [a, b]) != cf.JUDGED


def test_the_giver_of_a_trailer_the_parser_could_not_split():
    value = '""><svg onload=alert(2)> Eve" <eve@evil.example>'
    assert cf.giver("x", "", value) == ("x", "eve@evil.example")
    assert cf.giver("Ann", "a@x.org", value) == ("Ann", "a@x.org")
    assert cf.giver("", "", "Ann Lee") == ("", "")


def test_same_person_by_address_identity_or_full_name():
    people = {"a@x.org": "addr:a@x.org", "a@y.org": "addr:a@x.org", "b@x.org": "addr:b@x.org"}
    ident = people.get
    assert cf.same_person(("Ann Lee", "A@X.org"), ("", "a@x.org"), ident)
    assert cf.same_person(("", "a@y.org"), ("", "a@x.org"), ident)
    assert not cf.same_person(("Ann Lee", "a@x.org"), ("Bob Ray", "b@x.org"), ident)
    assert cf.same_person(("Ann Lee", "a@x.org"), ("ann lee", "other@z.org"), ident)
    # One word is never enough to join two people.
    assert not cf.same_person(("Ann", "a@x.org"), ("Ann", "c@z.org"), ident)
    assert not cf.same_person(("", ""), ("", ""), ident)


# --- hostile text through the whole report ------------------------------------------------

AUTHOR = "<script>alert('from')</script> Mallory"
SUBJECT_POSTED = "<img src=x onerror=alert(1)> xss: posted"
SELF_TRAILER_NAME = "<svg onload=alert('self')> Mallory"
OFF_AUTHOR = '"><svg onload=alert(2)> Eve'
OFF_SUBJECT = '<b>bold</b> xss: off-list "><script>alert(3)</script>'
RAW = ("<script", "<img src=x", "<svg", "<b>")


def _git(repo: Path, *args: str, date: int, name: str, email: str, **kw: Any) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": "Maintainer",
        "GIT_COMMITTER_EMAIL": "maintainer@xss.example",
        "GIT_AUTHOR_DATE": f"{date} +0000",
        "GIT_COMMITTER_DATE": f"{kw.pop('committed', date)} +0000",
    }
    return subprocess.run(
        ["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True, **kw
    ).stdout


def _day(ts: int) -> str:
    return format_datetime(datetime.fromtimestamp(ts, UTC))


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> tuple[Path, Any]:
    """A repository of three commits (one before the archive, one posted and answered by its
    own author with a Reviewed-by, one never posted that reviews itself) and the archive."""
    from patchlens.config import load_config
    from patchlens.stages import ingest
    from patchlens.stages.pipeline import run_stages
    from patchlens.stages.progress import Reporter
    from patchlens.store.db import open_store

    tmp = tmp_path_factory.mktemp("conf-xss")
    repo = tmp / "repo"
    repo.mkdir()
    me = {"name": "Maintainer", "email": "maintainer@xss.example"}
    _git(repo, "init", "--quiet", "-b", "master", date=T0, **me)
    (repo / "README").write_text("base\n")
    _git(repo, "add", "README", date=T0, **me)
    _git(repo, "commit", "--quiet", "-m", "initial", date=T0 - 100 * DAY, **me)
    (repo / "posted.c").write_text("int posted = 1;\nint more = 2;\n")
    _git(repo, "add", "posted.c", date=T0, **me)
    mallory = {"name": AUTHOR, "email": "mallory@evil.example"}
    _git(
        repo, "commit", "--quiet", "-m", SUBJECT_POSTED, date=T0, committed=T0 + 2 * DAY, **mallory
    )
    patch = _git(repo, "format-patch", "-1", "--stdout", "HEAD", date=T0, **me)
    patch = patch.replace("Subject: ", "Message-ID: <posted@xss.example>\nSubject: ", 1)
    (repo / "off.c").write_text("int off = 1;\n")
    _git(repo, "add", "off.c", date=T0, **me)
    eve = {"name": OFF_AUTHOR, "email": "eve@evil.example"}
    msg = f'{OFF_SUBJECT}\n\nBody.\n\nReviewed-by: "{OFF_AUTHOR}" <eve@evil.example>\n'
    _git(repo, "commit", "--quiet", "-m", msg, date=T0 + 5 * DAY, **eve)

    reply = (
        "From mallory@evil.example Mon Sep 17 00:00:00 2001\n"
        "From: Mallory <mallory@evil.example>\n"
        f"Date: {_day(T0 + DAY)}\n"
        f"Subject: Re: [PATCH] {SUBJECT_POSTED}\n"
        "Message-ID: <reply@xss.example>\n"
        "In-Reply-To: <posted@xss.example>\n"
        "References: <posted@xss.example>\n\n"
        "Looks fine to me.\n\n"
        f'Reviewed-by: "{SELF_TRAILER_NAME}" <mallory@evil.example>\n\n'
    )
    later = (
        "From someone@xss.example Mon Sep 17 00:00:00 2001\n"
        "From: Someone <someone@xss.example>\n"
        f"Date: {_day(T0 + 20 * DAY)}\n"
        "Subject: a question\n"
        "Message-ID: <later@xss.example>\n\n"
        "Hello.\n\n"
    )
    mbox = tmp / "xss.mbox"
    mbox.write_text(patch.rstrip("\n") + "\n\n" + reply + later)
    db = tmp / "xss.db"
    engine = open_store(str(db))
    ingest.add_list(engine, "xss", [str(mbox)])
    ingest.add_repo(engine, "xss-repo", str(repo), ["master"])
    reports = ingest.run_update(engine, tmp / "cache", Reporter(quiet=True))
    assert not [r.error for r in reports if r.error]
    # Two MAINTAINERS sections, one per file the commits touch (README: neither).
    (tmp / "MAINTAINERS").write_text(
        "POSTED PART\nM:\tMaintainer <maintainer@xss.example>\nS:\tMaintained\nF:\tposted.c\n\n"
        "OFF PART\nM:\tMaintainer <maintainer@xss.example>\nS:\tMaintained\nF:\toff.*\n"
    )
    (tmp / "patchlens.toml").write_text(f'[maintainers]\nfile = "{tmp / "MAINTAINERS"}"\n')
    run_stages(
        engine, load_config(str(tmp / "patchlens.toml")), tmp / "cache", Reporter(quiet=True)
    )
    return db, engine


def test_the_report_over_hostile_mail_and_commits(hostile):
    from patchlens.queries.conformance import conformance
    from patchlens.queries.filters import Filters

    _db, engine = hostile
    with engine.connect() as conn:
        d = conformance(conn, Filters(full="1"))
    c = d["counts"]
    assert c["commits"] == 3 and c["judged"] == 2 and c["not_judged"]["before_archive"] == 1
    assert [r["subject"] for r in d["off_list"]] == [OFF_SUBJECT]
    assert {r["subject"] for r in d["no_review"]} == {SUBJECT_POSTED, OFF_SUBJECT}
    where = {(r["subject"], r["where"]) for r in d["self_reviews"]}
    assert where == {(SUBJECT_POSTED, "list"), (OFF_SUBJECT, "commit")}
    posted = next(r for r in d["no_review"] if r["subject"] == SUBJECT_POSTED)
    assert posted["posted"] and posted["self_reviews"] == 1

    # The subsystem filter selects the commits touching a file of that section.
    with engine.connect() as conn:
        part = conformance(conn, Filters(subsystem="POSTED PART"))
        off = conformance(conn, Filters(subsystem="OFF PART"))
        since = conformance(conn, Filters(since="2023-11-19"))  # T0 + 5 days
    assert [r["subject"] for r in part["no_review"]] == [SUBJECT_POSTED]
    assert part["counts"]["commits"] == 1 and part["counts"]["off_list"] == 0
    assert [r["subject"] for r in off["off_list"]] == [OFF_SUBJECT]
    assert off["counts"]["commits"] == 1 and off["counts"]["self_reviews"] == 1
    assert since["counts"]["commits"] == 1 and since["off_list"] == d["off_list"]


def test_text_that_was_not_utf8_is_shown_with_replacement_characters():
    from patchlens.queries.conformance import _text_safe

    stored = b"Xen\x92s execution \xe2\x80\x99".decode("utf-8", "surrogateescape")
    safe = _text_safe({"rows": [{"subject": stored, "n": 1}]})
    assert safe == {"rows": [{"subject": "Xen\ufffds execution \u2019", "n": 1}]}
    safe["rows"][0]["subject"].encode("utf-8")  # never raises
    assert _text_safe("\ud800 lone") == "? lone"


def test_the_page_and_the_command_show_hostile_text_as_text(hostile):
    from fastapi.testclient import TestClient

    from patchlens.store.db import database_url
    from patchlens.web.app import create_app

    db, _engine = hostile
    client = TestClient(create_app(database_url(str(db))))
    html = client.get("/conformance").text
    low = html.lower()
    for raw in RAW:
        assert raw not in low, raw
    for tag in re.findall(r"<[A-Za-z][^<>]*>", html):
        assert not re.search(r"\son[a-z]+\s*=", tag, re.I), tag
    for text in (OFF_SUBJECT, SUBJECT_POSTED, OFF_AUTHOR):
        esc = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        assert esc.replace('"', "&#34;").replace("'", "&#39;") in html, text
    api = client.get("/api/conformance").json()
    assert api["off_list"][0]["subject"] == OFF_SUBJECT
    csv = client.get("/csv/conformance/self_reviews").text
    assert "mallory@evil.example" in csv and "eve@evil.example" in csv

    proc = invoke_cli("--db", str(db), "conformance")
    assert proc.returncode == 0, proc.stderr
    assert "xss: off-list" in proc.stdout
    out = invoke_cli("--db", str(db), "conformance", "--json")
    assert json.loads(out.stdout)["off_list"][0]["subject"] == OFF_SUBJECT
