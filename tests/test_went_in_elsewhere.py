"""A patch merged through another series' posting of the same patch (queries/evidence.py
went_in_elsewhere): the same diff, or the same title with a file in common. The matcher
links a commit to one posting; when its author had posted the patch in another series (one
linking could not chain, or a colleague's series took it), that series had no link and read
"abandoned" (LTP: 18 of a sample of 40 abandoned series had gone in). Someone else's
posting of the same patch (a twin) merges nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from patchlens.config import Config
from patchlens.match.inside import held_inside
from patchlens.metrics.backlog import BacklogRules
from patchlens.queries.filters import Filters
from patchlens.queries.history import load_superseded_by_merged
from patchlens.queries.selection import select_series
from patchlens.stages import ingest
from patchlens.stages.pipeline import run_stages
from patchlens.stages.progress import Reporter
from patchlens.store import schema
from patchlens.store.db import open_store
from tests.helpers.gitrepos import git, two_commit_repo
from tests.helpers.storedump import logical_dump

DIFF_Y = """diff --git a/README b/README
index 587be6b..b77b4eb 100644
--- a/README
+++ b/README
@@ -1 +1,2 @@
 x
+y
"""
DIFF_MAKE = """diff --git a/Makefile b/Makefile
new file mode 100644
index 0000000..9daeafb
--- /dev/null
+++ b/Makefile
@@ -0,0 +1 @@
+test
"""


def _mail(mid: str, who: str, day: int, subject: str, body: str, reply_to: str = "") -> str:
    irt = f"In-Reply-To: <{reply_to}>\nReferences: <{reply_to}>\n" if reply_to else ""
    return (
        f"From mboxrd@z Thu Jan  1 00:00:00 1970\nFrom: {who}\n"
        f"Date: {day:02d} Nov 2023 10:00:00 +0000\nMessage-ID: <{mid}>\n{irt}"
        f"Subject: {subject}\n\n{body}\n\n"
    )


def _patch(text: str, who: str, diff: str) -> str:
    return f"{text}\n\nSigned-off-by: {who}\n---\n{diff}-- \n2.39.5\n"


A, B = "a <a@example.com>", "b <b@example.com>"
# The author's first posting, titled otherwise; their series sent later carries the commit's
# title and is the one the commit is linked to; someone else posted the same diff too.
ALONE = _mail("s1@t", A, 1, "[PATCH] Document the letter y", _patch("Doc.", A, DIFF_Y))
TWIN = _mail("s3@t", B, 2, "[PATCH] Add y to the readme file", _patch("Mine.", B, DIFF_Y))
SERIES = (
    _mail("s2-0@t", A, 10, "[PATCH 0/2] Two small changes", "Both.")
    + _mail("s2-1@t", A, 10, "[PATCH 1/2] README: say y", _patch("y", A, DIFF_Y), "s2-0@t")
    + _mail("s2-2@t", A, 10, "[PATCH 2/2] Makefile: add", _patch("m", A, DIFF_MAKE), "s2-0@t")
)


def _update(engine: Engine, tmp_path: Path) -> None:
    reports = ingest.run_update(engine, tmp_path / "cache", Reporter(quiet=True), jobs=1)
    assert not [r.error for r in reports if r.error]
    run_stages(engine, Config(), tmp_path / "cache", Reporter(quiet=True), jobs=1)


def _states(engine: Engine) -> dict[str, tuple[str, str | None, str | None]]:
    sm = schema.series_metrics
    with engine.connect() as conn:
        ev = dict(conn.execute(select(sm.c.series_key, sm.c.merge_evidence)).all())
        by = dict(conn.execute(select(sm.c.series_key, sm.c.merged_by)).all())
        return {
            r["series_key"]: (r["state"], by[r["series_key"]], ev[r["series_key"]])
            for r in select_series(conn, Filters(), BacklogRules())
        }


def _store(tmp_path: Path, name: str, repo_first: bool) -> Engine:
    """The three postings in one mbox, and the repository with the commit; or the
    repository at its first commit, the commit coming in a second update (its link arrives
    after the mail, matching only the new commit's closure)."""
    repo = tmp_path / name / "repo"
    (tmp_path / name).mkdir()
    two_commit_repo(repo)
    assert git(repo, "log", "-1", "--format=%s") == "README: say y"
    mbox = tmp_path / name / "list.mbox"
    mbox.write_text(ALONE + TWIN + SERIES)

    def before(engine: Engine) -> None:
        assert "s1@t" in _states(engine)
        assert _states(engine)["s1@t"][0] not in ("merged", "partly merged")

    return list_and_repo(tmp_path, name, mbox, repo, late=not repo_first, before=before)


def list_and_repo(
    tmp_path: Path,
    name: str,
    mbox: Path,
    repo: Path,
    late: bool,
    before: Callable[[Engine], None] | None = None,
) -> Engine:
    """A store `name`.db of the list `mbox` and the repository `repo`, updated. `late`: the
    repository stands at its tip's parent for a first update (`before` checks the store
    then), its tip comes in a second: a commit arriving after the mail, which incremental
    matching and metrics must take in as one run would."""
    tip = git(repo, "rev-parse", "HEAD")
    engine = open_store(str(tmp_path / f"{name}.db"))
    ingest.add_list(engine, "l", [str(mbox)])
    if late:
        git(repo, "update-ref", "refs/heads/main", "HEAD~1")
    ingest.add_repo(engine, "r", str(repo), [])
    _update(engine, tmp_path / name)
    if late:
        if before is not None:
            before(engine)
        git(repo, "update-ref", "refs/heads/main", tip)
        _update(engine, tmp_path / name)
    return engine


@pytest.mark.parametrize("repo_first", [True, False])
def test_a_patch_is_merged_through_its_authors_posting_in_another_series(
    tmp_path: Path, repo_first: bool
) -> None:
    engine = _store(tmp_path, "s", repo_first)
    pc, m = schema.patch_commits, schema.messages
    with engine.connect() as conn:
        linked = set(
            conn.execute(select(m.c.message_id).join(pc, pc.c.message_pk == m.c.id)).scalars()
        )
    assert linked == {"s2-1@t"}
    states = _states(engine)
    assert set(states) == {"s1@t", "s2-0@t", "s3@t"}, states
    state, by, evidence = states["s1@t"]
    assert (state, by) == ("merged", "commit")
    assert json.loads(evidence or "null") == {"through": [["s1@t", "s2-1@t"]]}
    assert states["s2-0@t"][:2] == ("partly merged", "commit")
    # b's posting of the same diff is a twin: the commit is a's, so b's series is not merged.
    assert states["s3@t"][0] not in ("merged", "partly merged")
    assert states["s3@t"][2] is None


def test_a_commit_whose_author_the_list_rewrote_is_its_authors(tmp_path: Path) -> None:
    """A patch applied from a list that rewrote its sender ("Ann Smith via l
    <l@lists.example>", as git am keeps it) is Ann's, found by name as the matcher reads it
    (identity/people.py commit_author): her other posting of the diff went in through it."""
    repo = tmp_path / "repo"
    two_commit_repo(repo)
    via = "Ann Smith via l <l@lists.example>"
    git(repo, "commit", "-q", "--amend", "--no-edit", f"--author={via}")
    assert git(repo, "log", "-1", "--format=%an <%ae>") == via
    mbox = tmp_path / "list.mbox"
    mbox.write_text((ALONE + TWIN + SERIES).replace(A, "Ann Smith <a@example.com>"))
    engine = open_store(str(tmp_path / "s.db"))
    ingest.add_list(engine, "l", [str(mbox)])
    ingest.add_repo(engine, "r", str(repo), [])
    _update(engine, tmp_path)
    states = _states(engine)
    assert states["s2-0@t"][:2] == ("partly merged", "commit")
    assert states["s1@t"][:2] == ("merged", "commit")
    assert states["s3@t"][0] not in ("merged", "partly merged")


def test_the_link_arriving_later_gives_the_store_one_run_gives(tmp_path: Path) -> None:
    """Matching owes the metrics the series of every posting of a newly linked diff: the
    store whose repository came a day after its mail equals the one built in one run."""
    assert _states(_store(tmp_path, "late", False)) == _states(_store(tmp_path, "one", True))


def test_the_series_page_names_the_posting_it_went_in_through(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from patchlens.web.app import create_app

    _store(tmp_path, "s", True)
    client = TestClient(create_app(f"sqlite:///{tmp_path / 's.db'}"))
    page = client.get("/series/s1@t")
    assert page.status_code == 200
    assert "merged" in page.text and "by commit" in page.text
    assert "the same patch</a>, posted in" in page.text
    assert "/series/s2-0@t" in page.text and "README: say y" in page.text
    assert 'href="/glossary#went-in-elsewhere"' in page.text
    # The twin's page names no commit.
    assert "the same patch</a>" not in client.get("/series/s3@t").text


@pytest.mark.slow
def test_erofs_patches_that_went_in_through_another_series(erofs_store) -> None:
    """On the real EROFS pair: every pair the merge evidence keeps is checked from the rows
    alone (the same diff, linked in another series, not ambiguously, to a commit after the
    patch by the patch's author's address or name), and a real split series is merged."""
    _db, engine, _ = erofs_store
    sm, m, a, pc, c, vm, sv = (
        schema.series_metrics,
        schema.messages,
        schema.message_analysis,
        schema.patch_commits,
        schema.commits,
        schema.version_members,
        schema.series_versions,
    )
    with engine.connect() as conn:
        pairs = [
            (key, patch, posting)
            for key, ev in conn.execute(select(sm.c.series_key, sm.c.merge_evidence))
            for patch, posting in (json.loads(ev or "{}").get("through") or [])
        ]
        assert len({k for k, _p, _x in pairs}) >= 8
        inside = 0
        for key, patch, posting in pairs:
            p = conn.execute(
                select(m.c.id, m.c.date_utc, m.c.from_name, m.c.from_addr, a.c.patch_id)
                .add_columns(a.c.author_name, a.c.author_addr, sv.c.series_key)
                .add_columns(a.c.normalized_title, a.c.files, m.c.diff)
                .join(a, a.c.message_pk == m.c.id)
                .join(vm, vm.c.message_pk == m.c.id)
                .join(sv, sv.c.key == vm.c.version_key)
                .where(m.c.message_id == patch)
            ).one()
            x = conn.execute(
                select(a.c.patch_id, sv.c.series_key, pc.c.ambiguous, c.c.committer_date)
                .add_columns(c.c.author_name, c.c.author_email, a.c.normalized_title, a.c.files)
                .add_columns(c.c.diff.label("commit_diff"))
                .join(m, m.c.id == a.c.message_pk)
                .join(pc, pc.c.message_pk == m.c.id)
                .join(c, c.c.id == pc.c.commit_pk)
                .join(vm, vm.c.message_pk == m.c.id)
                .join(sv, sv.c.key == vm.c.version_key)
                .where(m.c.message_id == posting)
            ).one()
            assert p.series_key == key != x.series_key
            # The same patch: the same diff, or the same title with a file in common; or
            # the commit holds its change inside a larger one (match/inside.py).
            assert not x.ambiguous and p.patch_id
            same = p.patch_id == x.patch_id or (
                p.normalized_title == x.normalized_title
                and set(json.loads(p.files)) & set(json.loads(x.files))
            )
            inside += not same
            assert same or held_inside(p.diff, x.commit_diff)
            assert x.committer_date >= p.date_utc
            assert (
                conn.execute(select(pc.c.commit_pk).where(pc.c.message_pk == p.id)).first() is None
            )
            name, addr = p.author_name or p.from_name, p.author_addr or p.from_addr
            assert name == x.author_name or addr.lower() == x.author_email.lower()
        sup = load_superseded_by_merged(conn)
    assert inside >= 5
    states = _states(engine)
    # Posted first as its own series, then again minutes later as "[PATCH v1 1/2]".
    assert states["20250913074808.62500-1-hudson@cyzhu.com"][:2] == ("merged", "commit")
    # A patch merged that way counts for its version's history as for the states: v2's patch
    # 2 went in as posted in another series, its patch 1 was sent again alone as v3 and
    # linked; so v3 replaces v2 (what v2 had not merged itself it sends again), and v1,
    # which v2 replaced whole.
    key = "20260320165200.1862-1-newajay.11r@gmail.com"
    assert states[key][:2] == ("merged", "commit")
    v2, v3 = (
        "20260321062604.1905-1-newajay.11r@gmail.com",
        "20260321071455.1329-1-newajay.11r@gmail.com",
    )
    assert sup[key].key == v3 and sup[v2].key == v3


def _days(tmp_path: Path, name: str, days: list[str]) -> Path:
    """A store updated once per day, the mbox holding each day's text (the repository at
    its tip throughout)."""
    (tmp_path / name).mkdir()
    repo = two_commit_repo(tmp_path / name / "repo")
    mbox, db = tmp_path / name / "list.mbox", tmp_path / f"{name}.db"
    engine = None
    for text in days:
        mbox.write_text(text)
        if engine is None:
            engine = open_store(str(db))
            ingest.add_list(engine, "l", [str(mbox)])
            ingest.add_repo(engine, "r", str(repo), [])
        _update(engine, tmp_path / name)
    return db


@pytest.mark.parametrize(
    "first_day",
    [
        ALONE + TWIN,  # the commit is linked to s1 first, then moves to s2-1
        TWIN + SERIES,  # s1, the earlier posting, is read a day after the link
    ],
)
def test_daily_updates_give_the_metrics_one_run_gives(tmp_path: Path, first_day: str) -> None:
    """Every series_metrics row (merge evidence included) of a store updated day by day
    equals that of the store built in one run (a review helper's cases)."""
    every = ALONE + TWIN + SERIES
    daily = logical_dump(_days(tmp_path, "daily", [first_day, every]))["series_metrics"]
    once = logical_dump(_days(tmp_path, "once", [every]))["series_metrics"]
    assert daily == once
    assert any("s2-1@t" in str(row) for row in once)


def test_the_merge_evidence_keeps_a_notice_and_the_patches_merged_elsewhere() -> None:
    """A series merged by a notice of its whole version, one patch of it merged through
    another series: the stored evidence keeps both, so the page and the exports still see
    that patch's merge (stages/metrics.py _merge_evidence)."""
    from patchlens.metrics.model import PatchFacts, ReplyFacts, SeriesFacts, VersionFacts
    from patchlens.stages.metrics import _merge_evidence

    p1 = PatchFacts(1, 1, 0, 1, 0, ("a",), 5, message_id="p1@t", through="x@t")
    p2 = PatchFacts(2, 2, 0, 1, 0, ("a",), message_id="p2@t")
    se = SeriesFacts("s", "t", "a", "a@x", [VersionFacts("v", 1, 1, 0, True, {1: p1, 2: p2})])
    notice = ReplyFacts(9, 86400, "addr:m@x", 0, False, False, 1, False, message_id="n@t")
    notice.notices = ("applied",)
    both = json.loads(_merge_evidence(notice, se) or "null")
    assert both["message_id"] == "n@t" and both["kind"] == "applied"
    assert both["through"] == [["p1@t", "x@t"]]
    assert json.loads(_merge_evidence(None, se) or "null") == {"through": [["p1@t", "x@t"]]}
    p1.through = ""
    assert _merge_evidence(None, se) is None


def test_the_same_patch_is_the_same_diff_or_the_same_title_with_a_file_in_common(
    tmp_path: Path,
) -> None:
    """A patch re-posted after review has another diff: its earlier posting, in a series
    linking could not chain (re-titled cover letter, batches, a version 400 days on), went in
    through the later one when both carry the same title and touch a file in common, the
    commit being its author's and after it."""
    from patchlens.queries.evidence import Unlinked, people_of, went_in_elsewhere

    engine = _store(tmp_path, "s", True)
    a, m = schema.message_analysis, schema.messages
    with engine.connect() as conn:
        title, pid = conn.execute(
            select(a.c.normalized_title, a.c.patch_id)
            .join(m, m.c.id == a.c.message_pk)
            .where(m.c.message_id == "s2-1@t")
        ).one()
        people = people_of(conn)
        me, other = people("a", "a@example.com"), people("b", "b@example.com")
        day = 86400 * 19662  # 2023-10-31, before the commit

        def went(**kw: object) -> dict[int, tuple[int, str]]:
            p = dict(
                pk=1,
                patch_id="",
                title=title,
                files=frozenset({"README"}),
                date=day,
                series_key="elsewhere",
                author=me,
            )
            return went_in_elsewhere(conn, people, [Unlinked(**{**p, **kw})])  # type: ignore[arg-type]

        assert went() == {1: (1700000000, "s2-1@t")}
        assert went(files=frozenset({"Makefile"})) == {}  # no file in common
        assert went(files=frozenset()) == {}  # no diff to compare
        assert went(author=other) == {}  # someone else's: not their commit
        assert went(date=1700000001) == {}  # posted after the commit
        assert went(series_key="s2-0@t") == {}  # its own series: not elsewhere
        assert went(title="something else") == {}
        # The same diff needs no title.
        assert went(title="", patch_id=pid) == {1: (1700000000, "s2-1@t")}
