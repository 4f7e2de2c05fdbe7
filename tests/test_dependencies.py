"""Dependencies between series: the prerequisite lines a posting carries
(review/dependencies.py), their resolution to series and commits (stages/prerequisites.py),
and the "blocked" state (metrics/backlog.py): a series whose prerequisite series is not merged
is blocked until it is, as of any date, after an incremental update and after a rebuild."""

from __future__ import annotations

import os
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from patchlens.config import Config
from patchlens.metrics.backlog import BLOCKED_FOREVER, OPEN_STATES, STATES, BacklogRules
from patchlens.metrics.backlog import state as backlog_state
from patchlens.queries.evidence import load_series
from patchlens.queries.filters import Filters
from patchlens.queries.selection import select_series
from patchlens.review.dependencies import prerequisites
from patchlens.sources.mbox import iter_mbox
from patchlens.stages import ingest
from patchlens.stages.pipeline import run_stages
from patchlens.stages.progress import Reporter
from patchlens.store import schema
from patchlens.store.db import database_url, open_store
from patchlens.web.app import create_app
from tests.helpers.storedump import logical_dump

FIXTURE = Path(__file__).parent / "fixtures" / "dependencies" / "series-with-prerequisites.mbox"
SCENARIOS = Path(__file__).parent / "fixtures" / "scenarios"
A = "20260105100000.4242-0-ada@example.org"
B = "20260106-use-prep-v1-0-b0b1b2b3b4b5@example.org"
C = "20260106110000.777-1-cy@example.org"
D = "20260106120000.888-1-dee@example.org"


def _ts(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


# --- the parser ------------------------------------------------------------------------------


def test_every_form_of_prerequisite_line():
    body = (
        "Depends-on: <20230101.1234-1-foo@bar.com>\n"
        "Based-on: https://lore.kernel.org/all/20240202.5-1-x%40y.org/\n"
        "base-commit: 0123456789ABCDEF0123456789abcdef01234567\n"
        "prerequisite-patch-id: 89abcdef0123456789abcdef0123456789abcdef\n"
        "prerequisite-change-id: 20240101-foo-bar-1234abcd:v3\n"
        "prerequisite-message-id: <a@b.example>\n"
        "Depends-on: I0123456789abcdef0123456789abcdef01234567\n"
        'Depends-on: deadbeef12 ("foo: bar")\n'
        "Depends-on: the other series, somewhere\n"
        "> Depends-on: <quoted@example.org>\n"
        "Depends-on: <20230101.1234-1-foo@bar.com>\n"
    )
    got = [(p.kind, p.value, p.label) for p in prerequisites(body)]
    assert got == [
        ("message-id", "20230101.1234-1-foo@bar.com", "Depends-on"),
        ("message-id", "20240202.5-1-x@y.org", "Based-on"),
        ("commit", "0123456789abcdef0123456789abcdef01234567", "base-commit"),
        ("patch-id", "89abcdef0123456789abcdef0123456789abcdef", "prerequisite-patch-id"),
        ("change-id", "20240101-foo-bar-1234abcd", "prerequisite-change-id"),
        ("message-id", "a@b.example", "prerequisite-message-id"),
        ("change-id", "I0123456789abcdef0123456789abcdef01234567", "Depends-on"),
        ("commit", "deadbeef12", "Depends-on"),
    ]


def test_real_b4_footer_of_a_scenario():
    """Scenario 14 (a b4-style footer under the patch) names its base and a prerequisite."""
    with (SCENARIOS / "14-change-id-base-commit.mbox").open("rb") as f:
        raw = next(iter(iter_mbox(f)))[2].decode()
    got = [(p.kind, p.value) for p in prerequisites(raw)]
    assert ("commit", "19272b37aa4f83ca52bdf9c16d5d81bdd1354494") in got
    assert ("patch-id", "3a5d9c1e7b2f4068a1c3e5d7f9b0a2c4e6d8f0a1") in got


def test_blocked_is_an_open_state_decided_before_the_others():
    assert STATES.index("blocked") == STATES.index("abandoned") + 1
    assert STATES.index("blocked") < min(STATES.index(s) for s in OPEN_STATES if s != "blocked")
    assert "blocked" in OPEN_STATES


def test_erofs_base_commits_resolve_to_erofs_utils_commits(erofs_store, sql, client):
    """The EROFS postings' base-commit lines, shown on the series page resolved where
    erofs-utils has the commit: checked against the commits table by prefix, independently."""
    rows = sql.execute(
        "SELECT series_key, value FROM series_prerequisites WHERE kind = 'commit'"
    ).fetchall()
    assert rows
    shas = {s for (s,) in sql.execute("SELECT sha FROM commits")}
    resolved = 0
    for key, value in rows:
        hits = [s for s in shas if s.startswith(value)]
        api = client.get(f"/api/series/{key}").json()
        shown = [p for p in api["prerequisites"] if p["kind"] == "commit" and p["value"] == value]
        assert shown and shown[0]["commit_sha"] == (hits[0] if len(hits) == 1 else None)
        resolved += len(hits) == 1
    assert resolved


# --- blocked until the prerequisite is merged -------------------------------------------


GIT = ["git", "-c", "user.name=Mae Maintainer", "-c", "user.email=mae@example.org"]


def _git(repo: Path, *args: str, date: str) -> None:
    env = dict(os.environ, GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    subprocess.run([*GIT, "-C", str(repo), *args], check=True, env=env, capture_output=True)


def _repo(tmp: Path) -> Path:
    repo = tmp / "tools.git"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    files = {
        "lib/lib.c": '#include "lib.h"\n\nint lib_init(void)\n{\n\treturn 0;\n}\n',
        "lib/lib.h": "int lib_init(void);\n",
        "tools/use.c": '#include "../lib/lib.h"\n\nint use(void)\n{\n\treturn lib_init();\n}\n',
        "bar/count.c": "int count(void)\n{\n\treturn 0;\n}\n",
        "docs/tools.txt": "The tools.\n",
    }
    for path, text in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
    _git(repo, "add", ".", date="2025-12-01T10:00:00Z")
    _git(repo, "commit", "-q", "-m", "Start", date="2025-12-01T10:00:00Z")
    return repo


def _merge_prerequisite(repo: Path, tmp: Path) -> None:
    """Ada's series applied with `git am`, committed on 2026-01-09."""
    with FIXTURE.open("rb") as f:
        raws = [raw for _s, _e, raw, _d in iter_mbox(f)]
    mbox = tmp / "ada.mbox"
    with mbox.open("wb") as out:
        for raw in raws:
            if b"ada@example.org>\nTo:" in raw and re.search(rb"\[PATCH [12]/2\]", raw):
                out.write(b"From mboxrd@z Thu Jan  1 00:00:00 1970\n" + raw + b"\n")
    _git(repo, "am", "-q", str(mbox), date="2026-01-09T10:00:00Z")


def _build(db: Path, repo: Path) -> object:
    engine = open_store(str(db))
    ingest.add_list(engine, "tools-devel", [str(FIXTURE)])
    ingest.add_repo(engine, "tools", str(repo), ["main"])
    _update(engine, db)
    return engine


def _update(engine, db: Path):
    quiet = Reporter(quiet=True)
    reports = ingest.run_update(engine, db.with_name("cache"), quiet, jobs=1)
    assert not [r.error for r in reports if r.error]
    return run_stages(engine, Config(), db.with_name("cache"), quiet, jobs=1)


def _states(engine, as_of: int | None = None) -> dict[str, str]:
    with engine.connect() as conn:
        rows = select_series(conn, Filters(), BacklogRules(), as_of=as_of)
    return {r["series_key"]: r["state"] for r in rows}


def test_blocked_until_the_prerequisite_is_merged(tmp_path):
    repo = _repo(tmp_path)
    engine = _build(tmp_path / "step.db", repo)
    with engine.connect() as conn:
        sp = schema.series_prerequisites
        resolved = {
            (k, kind, label, p)
            for k, kind, label, p in conn.execute(
                select(sp.c.series_key, sp.c.kind, sp.c.label, sp.c.prereq_key)
            )
        }
    assert (B, "message-id", "prerequisite-message-id", A) in resolved
    assert (B, "commit", "base-commit", None) in resolved  # no repository has it
    assert (C, "message-id", "Depends-on", A) in resolved
    before = _states(engine)
    assert before[B] == before[C] == "blocked"
    assert before[A] == before[D] == "new"

    # The prerequisite goes in; an incremental update must unblock both dependents.
    _merge_prerequisite(repo, tmp_path)
    rep = _update(engine, tmp_path / "step.db")
    # Incremental: the prerequisite (owed by its new links) and its two dependents, not Dee's.
    assert rep.metrics is not None and rep.metrics.series == 3
    after = _states(engine)
    assert after[A] == "merged"
    assert after[B] == "waiting on author"  # Rita asked a question on the only version
    assert after[C] == "new"
    assert after[D] == "new"

    # As of a day before the merge, they were blocked; as of the merge day, not.
    assert _states(engine, _ts("2026-01-08T12:00:00"))[B] == "blocked"
    assert _states(engine, _ts("2026-01-09T12:00:00"))[B] == "waiting on author"
    with engine.connect() as conn:
        facts = {se.key: se for se in load_series(conn)}
    merged_at = _ts("2026-01-09T10:00:00")
    assert facts[B].blocked_until == facts[C].blocked_until == merged_at
    assert facts[D].blocked_until is None
    assert backlog_state(facts[B], merged_at - 1) == "blocked"
    assert backlog_state(facts[B], merged_at) == "waiting on author"
    assert backlog_state(facts[C], merged_at - 1) == "blocked"

    # One update over everything gives the same store.
    once = _build(tmp_path / "once.db", repo)
    assert _states(once) == after
    a, b = logical_dump(tmp_path / "once.db"), logical_dump(tmp_path / "step.db")
    for table in ("series_metrics", "series_prerequisites", "patch_commits", "series"):
        assert a[table] == b[table], table


def test_blocked_without_the_repository_stays_blocked(tmp_path):
    """Before the merge the stored facts say blocked for good (BLOCKED_FOREVER)."""
    engine = _build(tmp_path / "s.db", _repo(tmp_path))
    sm = schema.series_metrics
    with engine.connect() as conn:
        until = dict(conn.execute(select(sm.c.series_key, sm.c.blocked_until)).all())
    assert until[B] == until[C] == BLOCKED_FOREVER
    assert until[A] is None and until[D] is None


def test_series_pages_link_both_ways(tmp_path):
    db = tmp_path / "s.db"
    _build(db, _repo(tmp_path))
    client = TestClient(create_app(database_url(str(db))))
    page_b = client.get(f"/series/{B}")
    assert page_b.status_code == 200
    assert f'href="/series/{A}"' in page_b.text
    assert "prerequisite-message-id" in page_b.text
    assert "0123456789abcdef0123456789abcdef01234567" in page_b.text  # shown, unresolved
    page_a = client.get(f"/series/{A}")
    assert f'href="/series/{B}"' in page_a.text and f'href="/series/{C}"' in page_a.text
    api_a = client.get(f"/api/series/{A}").json()
    assert {d["series_key"] for d in api_a["dependents"]} == {B, C}
    api_b = client.get(f"/api/series/{B}").json()
    assert [p["prereq_key"] for p in api_b["prerequisites"]] == [None, A]
    assert api_b["metrics"]["state"] == "blocked"
    # What a posting names is mail text: shown escaped, never as markup.
    page_d = client.get(f"/series/{D}")
    assert page_d.status_code == 200
    assert "onmouseover=alert(1)" in page_d.text and '"onmouseover' not in page_d.text
    assert "<script>alert" not in page_d.text
    # The state filter and the backlog page know the state.
    explorer = client.get("/api/series", params={"state": "blocked"}).json()
    assert {r["series_key"] for r in explorer["rows"]} == {B, C}
    backlog = client.get("/api/backlog").json()
    assert backlog["states"]["blocked"] == 2
    assert "blocked" in client.get("/backlog").text
    for path in ("/", "/series?state=blocked", "/series?state=open", "/performance", "/community"):
        assert client.get(path).status_code == 200, path


@pytest.mark.parametrize("order", ["as-filed", "reversed"])
def test_message_at_a_time_equals_one_update(tmp_path, order):
    """The fixture's mail arriving one message at a time (reversed: the dependents before
    their prerequisite, which must then owe them its arrival), with the prerequisite merged
    in the repository from the start: every derived table equals one update's, and the
    dependents end blocked until the merge date."""
    from tests.helpers.publicinbox import add_message, init

    repo = _repo(tmp_path)
    _merge_prerequisite(repo, tmp_path)
    with FIXTURE.open("rb") as f:
        msgs = [raw for _s, _e, raw, _d in iter_mbox(f)]
    if order == "reversed":
        msgs = msgs[::-1]

    def build(name: str, batches: list[list[bytes]]) -> Path:
        inbox = init(tmp_path / name / "inbox.git")
        db = tmp_path / name / "s.db"
        engine = open_store(str(db))
        ingest.add_list(engine, "tools-devel", [str(inbox)])
        ingest.add_repo(engine, "tools", str(repo), ["main"])
        for batch in batches:
            for raw in batch:
                add_message(inbox, raw)
            _update(engine, db)
        assert _states(engine, _ts("2026-01-08T12:00:00"))[B] == "blocked"
        engine.dispose()
        return db

    once = build("once", [msgs])
    step = build("step", [[raw] for raw in msgs])
    a, b = logical_dump(once), logical_dump(step)
    # As in tests/test_incremental_scenarios.py: the archive's own rows aside, every table.
    assert [r[0] for r in a.pop("messages")] == [r[0] for r in b.pop("messages")]
    for table in ("list_sources", "message_variants"):
        del a[table], b[table]
    assert [t for t in a if a[t] != b[t]] == []
    engine = open_store(str(step))
    with engine.connect() as conn:
        until = dict(
            conn.execute(
                select(schema.series_metrics.c.series_key, schema.series_metrics.c.blocked_until)
            ).all()
        )
    assert until[B] == until[C] == _ts("2026-01-09T10:00:00")
