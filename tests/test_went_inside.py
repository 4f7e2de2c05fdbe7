"""A patch whose change went in inside a larger commit of its author (match/inside.py,
queries/evidence.py went_in_elsewhere): folded into a later change, or re-sent re-titled in
another series, where the commit is linked. Its own series had no link and read abandoned.
What guards it: the author's own commit, every file, after the patch, most of its lines and
half its added ones, a line it only re-indents counting for nothing."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine

from patchlens.match.inside import MIN_LINES, held_inside, may_be_inside, signed_lines
from patchlens.stages import ingest
from patchlens.store.db import open_store
from tests.helpers.gitrepos import git, two_commit_repo
from tests.test_went_in_elsewhere import _mail, _patch, _states, _update, list_and_repo

A, B = "a <a@example.com>", "b <b@example.com>"


def _diff(*lines: str, start: str = "x") -> str:
    body = "".join(f"{line}\n" for line in lines)
    added = sum(1 for line in lines if line.startswith("+"))
    removed = sum(1 for line in lines if line.startswith("-"))
    return (
        "diff --git a/README b/README\nindex 587be6b..b77b4eb 100644\n--- a/README\n"
        f"+++ b/README\n@@ -1,{1 + removed} +1,{1 + added} @@\n {start}\n{body}"
    )


GREEK = _diff("+alpha", "+beta", "+gamma")


def test_a_patch_folded_into_a_larger_change_is_held_inside_it() -> None:
    bigger = _diff("+alpha", "+beta", "+gamma", "+delta", "+epsilon", "-old", "-older")
    assert held_inside(GREEK, bigger)
    assert not held_inside(GREEK, _diff("+alpha", "+zeta", "+eta", "+theta"))
    # Too few lines say nothing: one line recurs everywhere.
    assert MIN_LINES == 3 and not held_inside(_diff("+alpha", "+beta"), bigger)


def test_a_commit_deleting_what_the_patch_edits_does_not_hold_it() -> None:
    """Every line the patch removes is removed by a commit deleting the block, none it adds
    is added (LTP: two edits of process.c against "sched: Remove process.c")."""
    patch = _diff("-one", "-two", "-three", "-four", "+while (1)")
    deletion = _diff("-one", "-two", "-three", "-four", "-five", "-six")
    assert not held_inside(patch, deletion)
    # A rewrite keeping every removed line and half the added ones went in.
    rewrite = _diff("-one", "-two", "-three", "-four", "+while (1)", "+other")
    assert held_inside(_diff("-one", "-two", "-three", "-four", "+while (1)", "+x"), rewrite)


def test_a_line_the_patch_only_re_aligns_counts_for_nothing() -> None:
    """White space is gone from the lines compared: a re-aligned usage text is the same
    line removed and added, which any later re-alignment holds too (EROFS)."""
    realign = _diff("-  -a   all", "+  -a all", "-  -b   both", "+  -b both", "+  -c new option")
    added, removed = signed_lines(realign)
    assert added & removed == {"-aall", "-bboth"}
    later = _diff("-  -a all", "+  -a     all", "-  -b both", "+  -b     both")
    assert not held_inside(realign, later)


def test_only_the_authors_later_commit_on_every_file_within_the_window() -> None:
    day = 86400
    ok = dict(
        patch=[1, 2, 3],
        patch_files={"README"},
        patch_date=10 * day,
        commit=[1, 2, 3, 4],
        commit_files={"README", "Makefile"},
        commit_date=20 * day,
    )
    assert may_be_inside(**ok)  # type: ignore[arg-type]
    assert not may_be_inside(**{**ok, "commit_files": {"Makefile"}})  # type: ignore[arg-type]
    assert not may_be_inside(**{**ok, "commit_date": 9 * day})  # type: ignore[arg-type]
    assert not may_be_inside(**{**ok, "commit_date": 500 * day})  # type: ignore[arg-type]
    assert not may_be_inside(**{**ok, "commit": [4, 5, 6]})  # type: ignore[arg-type]
    assert not may_be_inside(**{**ok, "patch": [1, 2]})  # type: ignore[arg-type]


def _repo(repo: Path) -> str:
    """README "x", then a's commit "README: rewrite the readme" adding five lines."""
    readme = "x\nalpha\nbeta\ngamma\ndelta\nepsilon\n"
    two_commit_repo(repo, readme, "README: rewrite the readme\n\nSigned-off-by: a <a@example.com>")
    return git(repo, "format-patch", "-1", "--stdout")


def test_a_patch_folded_into_its_authors_later_series_is_merged(tmp_path: Path) -> None:
    """a posts three lines alone, then the whole rewrite in a series of its own, which the
    commit is linked to; b posted the same three lines: b's series is not merged."""
    posted = _repo(tmp_path / "repo")
    body = posted.split("\n\n", 1)[1]
    mbox = tmp_path / "list.mbox"
    mbox.write_text(
        _mail("p@t", A, 1, "[PATCH] README: add three letters", _patch("Greek.", A, GREEK))
        + _mail("b@t", B, 2, "[PATCH] README: letters", _patch("Mine.", B, GREEK))
        + _mail("q@t", A, 10, "[PATCH] README: rewrite the readme", body)
    )
    engine = open_store(str(tmp_path / "s.db"))
    ingest.add_list(engine, "l", [str(mbox)])
    ingest.add_repo(engine, "r", str(tmp_path / "repo"), [])
    _update(engine, tmp_path)
    states = _states(engine)
    assert states["q@t"][:2] == ("merged", "commit")
    state, by, evidence = states["p@t"]
    assert (state, by) == ("merged", "commit")
    assert json.loads(evidence or "null") == {"through": [["p@t", "q@t"]]}
    assert states["b@t"][0] not in ("merged", "partly merged")

    from fastapi.testclient import TestClient

    from patchlens.web.app import create_app

    page = TestClient(create_app(f"sqlite:///{tmp_path / 's.db'}")).get("/series/p@t")
    assert "its change, inside</a> the commit of" in page.text
    assert "/series/q@t" in page.text


def test_the_commit_arriving_a_day_later_gives_the_metrics_one_run_gives(
    tmp_path: Path,
) -> None:
    """Matching owes the metrics the series of every posting a newly linked commit may hold
    inside it (stages/match.py _postings_inside): a patch of another title and diff is
    found by its files. Every series_metrics row equals that of the store built in one run."""
    from tests.helpers.storedump import logical_dump

    def build(name: str, late: bool) -> Path:
        (tmp_path / name).mkdir()
        repo = tmp_path / name / "repo"
        body = _repo(repo).split("\n\n", 1)[1]
        mbox = tmp_path / name / "list.mbox"
        mbox.write_text(
            _mail("p@t", A, 1, "[PATCH] README: add three letters", _patch("Greek.", A, GREEK))
            + _mail("q@t", A, 10, "[PATCH] README: rewrite the readme", body)
        )

        def before(engine: Engine) -> None:
            assert _states(engine)["p@t"][0] not in ("merged", "partly merged")

        engine = list_and_repo(tmp_path, name, mbox, repo, late, before)
        assert _states(engine)["p@t"][:2] == ("merged", "commit")
        return tmp_path / f"{name}.db"

    daily = logical_dump(build("daily", True))["series_metrics"]
    assert daily == logical_dump(build("once", False))["series_metrics"]


def test_a_patch_only_removing_lines_is_not_inside_the_deletion_of_its_file() -> None:
    """The added lines' share cannot tell a patch that only removes lines: a commit deleting
    its file removes them all. Another commit removing the same lines holds it."""
    removal = _diff("-int unused;", "-int spare;", "-int other;")
    deletion = (
        "diff --git a/README b/README\ndeleted file mode 100644\nindex 587be6b..0000000\n"
        "--- a/README\n+++ /dev/null\n@@ -1,4 +0,0 @@\n-x\n-int unused;\n-int spare;\n"
        "-int other;\n"
    )
    assert not held_inside(removal, deletion, ("README",))
    assert held_inside(removal, _diff("-int unused;", "-int spare;", "-int other;", "+y"))
    # Nor a commit moving those lines to another file: removed here, added there.
    moved = _diff("-int unused;", "-int spare;", "-int other;") + (
        "diff --git a/lib.h b/lib.h\n--- a/lib.h\n+++ b/lib.h\n@@ -1 +1,4 @@\n x\n"
        "+int unused;\n+int spare;\n+int other;\n"
    )
    assert not held_inside(removal, moved, ("README",))
    # A deleted file's name as git quotes it.
    quoted = deletion.replace("--- a/README", '--- "a/READ\\303\\251"')
    assert not held_inside(removal, quoted, ("READé",))


def test_matching_owes_the_authors_unlinked_postings_on_the_commits_files(
    tmp_path: Path,
) -> None:
    """`_postings_inside`: a's unlinked posting (undated too), not b's nor the linked one;
    anyone's when no identities are given (a full match)."""
    from sqlalchemy import select, update

    from patchlens.queries.evidence import people_of
    from patchlens.stages.match import _postings_inside
    from patchlens.store import schema

    posted = _repo(tmp_path / "repo")
    mbox = tmp_path / "list.mbox"
    mbox.write_text(
        _mail("p@t", A, 1, "[PATCH] README: add three letters", _patch("Greek.", A, GREEK))
        + _mail("b@t", B, 2, "[PATCH] README: letters", _patch("Mine.", B, GREEK))
        + _mail("q@t", A, 10, "[PATCH] README: rewrite the readme", posted.split("\n\n", 1)[1])
    )
    engine = open_store(str(tmp_path / "s.db"))
    ingest.add_list(engine, "l", [str(mbox)])
    ingest.add_repo(engine, "r", str(tmp_path / "repo"), [])
    _update(engine, tmp_path)
    m, pc = schema.messages, schema.patch_commits
    with engine.begin() as conn:
        pk = dict(conn.execute(select(m.c.message_id, m.c.id)).all())
        (commit,) = conn.execute(select(pc.c.commit_pk)).scalars()
        people = people_of(conn)
        assert _postings_inside(conn, [commit], people) == {pk["p@t"]}
        assert _postings_inside(conn, [commit]) == {pk["p@t"], pk["b@t"]}
        conn.execute(update(m).where(m.c.id == pk["p@t"]).values(date_utc=None))
        assert _postings_inside(conn, [commit], people) == {pk["p@t"]}
