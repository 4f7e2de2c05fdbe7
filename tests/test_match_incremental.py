"""Incremental matching gives the links matching everything gives (issue 11).

Each case starts from the EROFS store matched as a whole (the truth), and builds the store an
earlier update would have left: some commits not there yet, some postings not yet in review
(their version_members rows held back), matched as a whole. The held rows then come back, as
an update would bring them, and `run_matching` matches only their closure. The links must
equal the truth, and every series whose links changed must be owed to the metrics.

Commits are taken in by primary key, so a commit made "new" is moved to the top of the keys
first (keeping its date): that is how a rename or a competing commit dated before stored
commits arrives, the cases a closure that looked only forward in time would miss.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import select

from patchlens.config import Config
from patchlens.match.matcher import (
    DAY,
    DIFF_WINDOW,
    MAX_FILE_CANDIDATES,
    CommitInfo,
    Posting,
    PostingIndex,
    candidates,
    match,
    may_be_candidate,
)
from patchlens.stages import changes
from patchlens.stages.context import build_context
from patchlens.stages.match import link_rows, load, run_matching
from patchlens.stages.progress import Reporter
from patchlens.store import schema
from patchlens.store.db import open_store

QUIET = Reporter(quiet=True)
TOP = 1_000_000  # primary keys commits made "new" are moved to
COMMIT_CHILDREN = ("commit_branches", "commit_files", "commit_trailers", "patch_commits")


@pytest.fixture(scope="module")
def truth(erofs_store, tmp_path_factory):
    """A copy of the EROFS store, its identities, and its links matched as a whole."""
    db, _engine, _ = erofs_store
    path = tmp_path_factory.mktemp("match-inc") / "truth.db"
    _copy(db, path)
    engine = open_store(str(path))
    with engine.connect() as conn:
        people = build_context(conn, Config(), db.with_name("cache")).people
    _rematch_all(engine, people)
    return path, people


def _copy(src: Path, dest: Path) -> None:
    """Copy a SQLite store with what its write-ahead log holds."""
    con = sqlite3.connect(src)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    shutil.copy(src, dest)


def _rematch_all(engine, people) -> None:
    with engine.begin() as conn:
        changes.owe(conn, changes.MATCHING, changes.Work(full=True))
    rep = run_matching(engine, QUIET, people)
    assert not rep.incremental


def _links(engine) -> dict[int, tuple]:
    with engine.connect() as conn:
        return {r.commit_pk: tuple(r) for r in conn.execute(select(schema.patch_commits))}


def _renumber(db: Path, pks: list[int]) -> list[int]:
    """Move commits to the top of the primary keys (an update bringing them in last)."""
    con = sqlite3.connect(db)
    new = []
    for i, pk in enumerate(sorted(pks)):
        to = TOP + i
        con.execute("UPDATE commits SET id = ? WHERE id = ?", (to, pk))
        for table in COMMIT_CHILDREN:
            con.execute(f"UPDATE {table} SET commit_pk = ? WHERE commit_pk = ?", (to, pk))
        con.execute("UPDATE diff_fingerprints SET pk = ? WHERE kind = 'c' AND pk = ?", (to, pk))
        con.execute("DELETE FROM match_keys WHERE side = 'c' AND pk = ?", (pk,))
        new.append(to)
    con.commit()
    con.close()
    return new


def _replay(
    tmp: Path,
    truth_db: Path,
    people,
    new_commits: list[int],
    held: set[int],
    gone: frozenset[int] = frozenset(),
):
    """The store an update before `new_commits` and `held` postings left, then the update
    that brings them and takes the `gone` postings out of review: returns (links before,
    links after, the truth, the report)."""
    tmp.mkdir(exist_ok=True)
    b, a = tmp / "b.db", tmp / "a.db"
    _copy(truth_db, b)
    moved = _renumber(b, new_commits)
    gone_in = ",".join(map(str, gone)) or "NULL"
    con = sqlite3.connect(b)
    con.execute("CREATE TABLE gone_members AS SELECT * FROM version_members WHERE 0")
    con.execute(
        f"INSERT INTO gone_members SELECT * FROM version_members WHERE message_pk IN ({gone_in})"
    )
    con.execute(f"DELETE FROM version_members WHERE message_pk IN ({gone_in})")
    con.commit()
    con.close()
    eb = open_store(str(b))
    _rematch_all(eb, people)  # the truth, with the moved keys
    want = _links(eb)
    _copy(b, a)
    con = sqlite3.connect(a)
    marks = ",".join(map(str, moved))
    for table in COMMIT_CHILDREN:
        con.execute(f"DELETE FROM {table} WHERE commit_pk IN ({marks})")
    con.execute(f"DELETE FROM diff_fingerprints WHERE kind = 'c' AND pk IN ({marks})")
    con.execute(f"DELETE FROM commits WHERE id IN ({marks})")
    if held:
        con.execute(f"DELETE FROM version_members WHERE message_pk IN ({','.join(map(str, held))})")
    con.execute("INSERT INTO version_members SELECT * FROM gone_members")
    con.commit()
    con.close()
    ea = open_store(str(a))
    _rematch_all(ea, people)
    before = _links(ea)
    con = sqlite3.connect(a)
    con.execute("ATTACH DATABASE ? AS b", (str(b),))
    con.execute(f"INSERT INTO commits SELECT * FROM b.commits WHERE id IN ({marks})")
    for table in COMMIT_CHILDREN[:3]:
        con.execute(f"INSERT INTO {table} SELECT * FROM b.{table} WHERE commit_pk IN ({marks})")
    con.execute(
        f"INSERT INTO diff_fingerprints SELECT * FROM b.diff_fingerprints "
        f"WHERE kind = 'c' AND pk IN ({marks})"
    )
    con.execute(
        "INSERT INTO version_members SELECT * FROM b.version_members "
        f"WHERE message_pk IN ({','.join(map(str, held)) or 'NULL'})"
    )
    con.execute(f"DELETE FROM version_members WHERE message_pk IN ({gone_in})")
    con.commit()
    con.close()
    with ea.begin() as conn:
        changes.done(conn, changes.METRICS)
        changes.owe(conn, changes.MATCHING, changes.Work(postings=held | gone))
    rep = run_matching(ea, QUIET, people)
    with ea.connect() as conn:
        owed = changes.pending(conn, changes.METRICS)
        series = {
            r.message_pk: r.series_key
            for r in conn.execute(
                select(
                    schema.version_members.c.message_pk, schema.series_versions.c.series_key
                ).join(
                    schema.series_versions,
                    schema.series_versions.c.key == schema.version_members.c.version_key,
                )
            )
        }
    after = _links(ea)
    changed = {
        pk
        for k in set(before) | set(after)
        if before.get(k) != after.get(k)
        for row in (before.get(k), after.get(k))
        if row
        for pk in [row[0]]
    }
    assert {series[pk] for pk in changed if pk in series} <= owed.series
    return before, after, want, rep


def _commit_pks(truth_db: Path) -> list[int]:
    con = sqlite3.connect(truth_db)
    pks = [r[0] for r in con.execute("SELECT id FROM commits WHERE NOT is_merge ORDER BY id")]
    con.close()
    return pks


def test_new_commits_and_postings_of_the_last_weeks(truth, tmp_path) -> None:
    """The daily case: the newest commits and the postings linked to them arrive together."""
    db, people = truth
    newest = _commit_pks(db)[-25:]
    links = _links(open_store(str(db)))
    held = {links[pk][0] for pk in newest if pk in links}
    before, after, want, rep = _replay(tmp_path, db, people, newest, held)
    assert before != want  # the case changes links
    assert rep.incremental and not rep.fallback
    assert after == want
    assert rep.commits < len(_commit_pks(db)) / 2  # a closure, not everything


def test_old_postings_join_review(truth, tmp_path) -> None:
    """Postings linked long ago leave review and come back (a series rebuilt): the commits
    they were linked to, and those that took them meanwhile, are matched again."""
    db, people = truth
    links = _links(open_store(str(db)))
    held = {row[0] for pk, row in sorted(links.items())[100:400:7]}
    before, after, want, rep = _replay(tmp_path, db, people, [], held)
    assert before != want
    assert rep.incremental and after == want


def test_postings_leaving_review_release_their_commits(truth, tmp_path) -> None:
    """Postings linked in the stored store leave review (their series rebuilt without them):
    their commits take another posting, or none, and no link to them is left."""
    db, people = truth
    links = _links(open_store(str(db)))
    gone = frozenset(row[0] for pk, row in sorted(links.items())[50:500:9])
    before, after, want, rep = _replay(tmp_path, db, people, [], set(), gone)
    assert before != want
    assert rep.incremental and after == want
    assert not {row[0] for row in after.values()} & gone


def test_the_closure_never_makes_a_commits_hash_set_per_pair(truth, tmp_path, monkeypatch) -> None:
    """The closure tests a commit against every posting it shares a lookup with, and keeps
    the commits' hashes packed: the commit's set is made once for all those postings and
    handed to each test, never made again inside one (per pair, a translation update of
    100,000 lines against 200 postings took 4 s)."""
    import patchlens.match.matcher as matcher
    import patchlens.stages.matchclosure as closure

    inside = False
    tested = 0
    rebuilt = 0
    real_set, real_test = matcher.as_set, closure.may_be_candidate

    def watched_set(hashes):
        nonlocal rebuilt
        if inside and not isinstance(hashes, frozenset):
            rebuilt += 1
        return real_set(hashes)

    def checked_test(c, p, use_pointers=True, c_hashes=None):
        nonlocal inside, tested
        assert isinstance(c_hashes, frozenset)
        assert len(c_hashes) == (len(c.hashes) if c.files else 0)
        tested += 1
        inside = True
        try:
            return real_test(c, p, use_pointers, c_hashes)
        finally:
            inside = False

    monkeypatch.setattr(matcher, "as_set", watched_set)
    monkeypatch.setattr(closure, "may_be_candidate", checked_test)
    db, people = truth
    links = _links(open_store(str(db)))
    held = {row[0] for pk, row in sorted(links.items())[100:400:7]}
    _before, after, want, rep = _replay(tmp_path, db, people, [], held)
    assert rep.incremental and after == want
    assert tested > 100
    assert rebuilt == 0


def _cherry_pick_naming(db: Path, commit_pk: int, message_id: str) -> int:
    """A copy of a stored commit (another sha, the same date, author, files and diff) whose
    Link: trailer names `message_id`, as a cherry-pick with a pointer would be."""
    con = sqlite3.connect(db)
    cols = [r[1] for r in con.execute("PRAGMA table_info(commits)") if r[1] not in ("id", "sha")]
    pk = con.execute("SELECT max(id) + 1 FROM commits").fetchone()[0]
    con.execute(
        f"INSERT INTO commits (id, sha, {', '.join(cols)}) "
        f"SELECT ?, 'f00d' || sha, {', '.join(cols)} FROM commits WHERE id = ?",
        (pk, commit_pk),
    )
    for table in ("commit_files", "commit_branches"):
        cols = [r[1] for r in con.execute(f"PRAGMA table_info({table})") if r[1] != "commit_pk"]
        con.execute(
            f"INSERT INTO {table} (commit_pk, {', '.join(cols)}) "
            f"SELECT ?, {', '.join(cols)} FROM {table} WHERE commit_pk = ?",
            (pk, commit_pk),
        )
    con.execute(
        "INSERT INTO commit_trailers (commit_pk, seq, key, value) VALUES (?, 1, 'Link', ?)",
        (pk, f"https://lore.kernel.org/r/{message_id}"),
    )
    con.execute(
        "INSERT INTO diff_fingerprints (kind, pk, hashes, fp_version) "
        "SELECT 'c', ?, hashes, fp_version FROM diff_fingerprints WHERE kind = 'c' AND pk = ?",
        (pk, commit_pk),
    )
    con.commit()
    con.close()
    return pk


def test_a_new_commit_takes_the_posting_a_stored_commit_had(truth, tmp_path) -> None:
    """A commit arriving late with a pointer to a posting a stored commit was linked to by
    subject or patch-id takes it; the stored commit falls back to another posting (an
    earlier version) or to none: the closure must reach the stored commit."""
    db, people = truth
    mine = tmp_path / "mine.db"
    _copy(db, mine)
    engine = open_store(str(mine))
    with engine.connect() as conn:
        pc, m = schema.patch_commits, schema.messages
        rows = conn.execute(
            select(pc.c.commit_pk, m.c.message_id)
            .join(m, m.c.id == pc.c.message_pk)
            .where(pc.c.method.in_(("patch-id", "subject")))
            .order_by(pc.c.commit_pk)
        ).all()
    engine.dispose()
    assert len(rows) > 20
    picks = [_cherry_pick_naming(mine, pk, mid) for pk, mid in rows[10:200:40]]
    before, after, want, rep = _replay(tmp_path / "r", mine, people, picks, set())
    moved = [k for k in before if before[k] != want.get(k)]
    assert moved  # stored commits lost their posting to the new ones
    assert rep.incremental and after == want


def _rename_before(db: Path, commit_pk: int, message_pk: int) -> int:
    """The stored commit's files that its posting touches get a new name (`x` -> `x.moved`),
    and a commit renaming them, dated between the posting and the commit, is added: only
    through that rename do the commit and its posting share a file."""
    con = sqlite3.connect(db)
    posted = set(
        json.loads(
            con.execute(
                "SELECT files FROM message_analysis WHERE message_pk = ?", (message_pk,)
            ).fetchone()[0]
        )
    )
    sent = con.execute("SELECT date_utc FROM messages WHERE id = ?", (message_pk,)).fetchone()[0]
    files = [
        r[0]
        for r in con.execute("SELECT path FROM commit_files WHERE commit_pk = ?", (commit_pk,))
        if r[0] in posted
    ]
    for f in files:
        con.execute(
            "UPDATE commit_files SET path = ? WHERE commit_pk = ? AND path = ?",
            (f + ".moved", commit_pk, f),
        )
    cols = [
        r[1]
        for r in con.execute("PRAGMA table_info(commits)")
        if r[1] not in ("id", "sha", "subject", "patch_id", "committer_date")
    ]
    pk = con.execute("SELECT max(id) + 1 FROM commits").fetchone()[0]
    committed = con.execute(
        "SELECT committer_date FROM commits WHERE id = ?", (commit_pk,)
    ).fetchone()[0]
    con.execute(
        f"INSERT INTO commits (id, sha, subject, patch_id, committer_date, {', '.join(cols)}) "
        f"SELECT ?, 'beef' || sha, 'rename files for the test', NULL, ?, {', '.join(cols)} "
        "FROM commits WHERE id = ?",
        (pk, (sent + committed) // 2, commit_pk),
    )
    for f in files:
        con.execute(
            "INSERT INTO commit_files (commit_pk, path, old_path, lines_added, lines_removed, "
            "binary) VALUES (?, ?, ?, 0, 0, 0)",
            (pk, f + ".moved", f),
        )
    con.commit()
    con.close()
    return pk


def test_a_rename_arriving_late_gives_stored_commits_earlier_names(truth, tmp_path) -> None:
    """A rename dated before stored commits gives their files an earlier name, the one their
    postings use: those commits find their postings again (and are matched again)."""
    db, people = truth
    mine = tmp_path / "mine.db"
    _copy(db, mine)
    con = sqlite3.connect(mine)
    linked = con.execute(
        "SELECT commit_pk, message_pk FROM patch_commits WHERE method = 'subject' "
        "ORDER BY commit_pk"
    ).fetchall()
    con.close()
    assert len(linked) > 10
    renames = [_rename_before(mine, c, m) for c, m in linked[:: max(1, len(linked) // 4)][:4]]
    before, after, want, rep = _replay(tmp_path / "r", mine, people, renames, set())
    assert [k for k in want if before.get(k) != want[k]]  # only the renames link them
    assert rep.incremental and after == want


def _posting(pk: int, date: int, files: frozenset[str], **kw) -> Posting:
    base = dict(
        message_id=f"m{pk}@x",
        series_key=f"s{pk}",
        version=1,
        resend=False,
        author="addr:a@x",
        title=f"change {pk}",
        patch_id=None,
        hashes=frozenset(range(pk, pk + 10)),
    )
    base.update(kw)
    return Posting(pk=pk, date=date, files=files, **base)  # type: ignore[arg-type]


def _commit(pk: int, date: int, files: frozenset[str], **kw) -> CommitInfo:
    base = dict(
        repo_id=1, author="addr:a@x", title="change 1", patch_id=None, hashes=frozenset(range(10))
    )
    base.update(kw)
    return CommitInfo(pk=pk, date=date, files=files, **base)  # type: ignore[arg-type]


def test_postings_outside_the_diff_window_do_not_use_up_the_cap() -> None:
    """A file with more postings than the cap, all older than the diff window: the commit
    still examines the posting of its window, and adding old postings changes nothing (what
    makes a commit's candidates depend on its window alone)."""
    now = 10 * 365 * DAY
    f = frozenset({"MAINTAINERS"})
    old = [
        _posting(1000 + i, now - DIFF_WINDOW - DAY * (i + 1), f)
        for i in range(MAX_FILE_CANDIDATES + 50)
    ]
    fresh = _posting(1, now - DAY, f, title="change 1", hashes=frozenset(range(10)))
    c = _commit(7, now, f)
    got = candidates(c, PostingIndex([*old, fresh]))
    assert [x[2].pk for x in got] == [1]
    assert candidates(c, PostingIndex([fresh])) == got
    assert all(may_be_candidate(c, x[2]) for x in got)


def test_may_be_candidate_covers_every_candidate_on_erofs(truth) -> None:
    db, people = truth
    engine = open_store(str(db))
    with engine.connect() as conn:
        postings, commits = load(conn, people)
    idx = PostingIndex(postings)
    n = 0
    for c in commits:
        for x in candidates(c, idx):
            assert may_be_candidate(c, x[2]), (c.pk, x[2].pk)
            n += 1
    assert n > len(commits)
    # the links of the whole store, as stored by the full run
    assert {r["commit_pk"] for r in link_rows(match(postings, commits))} == set(_links(engine))


@pytest.mark.parametrize("window", [1, 37, 5000])
def test_matching_everything_in_windows_gives_the_links_of_one_match(
    truth, tmp_path, monkeypatch, window
) -> None:
    """Matching everything a window of commits at a time (stages/matchwindows.py) gives the
    links, evidence and flags included, and the lookup keys that matching every posting
    against every commit in memory gives: with one commit a window, 37, and all at once."""
    import patchlens.stages.matchwindows as stage
    from patchlens.stages.matchclosure import write_keys

    path, people = truth
    db = tmp_path / "windows.db"
    _copy(path, db)
    engine = open_store(str(db))
    with engine.begin() as conn:
        postings, commits = load(conn, people)
        expected = sorted(tuple(r.values()) for r in link_rows(match(postings, commits)))
        mk = schema.match_keys
        conn.execute(mk.delete())
        write_keys(conn, postings, commits)
        keys = sorted(conn.execute(select(mk)).all())
        conn.execute(schema.patch_commits.delete())
    assert len(expected) > 100
    monkeypatch.setattr(stage, "WINDOW", window)
    monkeypatch.setattr(stage, "KEY_BATCH", 211)
    _rematch_all(engine, people)
    with engine.connect() as conn:
        pc = schema.patch_commits
        got = sorted(
            tuple(r)
            for r in conn.execute(
                select(
                    pc.c.message_pk,
                    pc.c.commit_pk,
                    pc.c.repo_id,
                    pc.c.method,
                    pc.c.score,
                    pc.c.evidence,
                    pc.c.ambiguous,
                )
            )
        )
        assert got == expected
        assert sorted(conn.execute(select(schema.match_keys)).all()) == keys
    engine.dispose()


def _windowed_and_in_memory(engine, people) -> tuple[list[tuple], list[tuple]]:
    """The links matching everything in windows stores, and those of `match` in memory."""
    with engine.begin() as conn:
        postings, commits = load(conn, people)
        expected = sorted(tuple(r.values()) for r in link_rows(match(postings, commits)))
    _rematch_all(engine, people)
    pc = schema.patch_commits
    cols = ("message_pk", "commit_pk", "repo_id", "method", "score", "evidence", "ambiguous")
    with engine.connect() as conn:
        got = sorted(tuple(r) for r in conn.execute(select(*(pc.c[n] for n in cols))))
    return got, expected


@pytest.mark.parametrize("case", ["posting without a date", "dates past 2038 on SQLite"])
def test_windows_find_what_matching_in_memory_finds_at_odd_dates(truth, tmp_path, case) -> None:
    """A posting without a date is dated 0 by the matcher, and a SQLite store filled before
    ingest held dates to 32 bits may hold later ones: the windows' lookups by date find them
    as the index in memory does (the first a NULL comparison missed, the second a bound held
    to 32 bits on SQLite too)."""
    path, people = truth
    db = tmp_path / "odd.db"
    _copy(path, db)
    engine = open_store(str(db))
    links = _links(engine)
    message_pk, commit_pk = next(
        (row[0], pk) for pk, row in sorted(links.items()) if row[3] == "diff"
    )
    if case == "posting without a date":
        posting_date, commit_date = None, 40 * DAY
    else:
        posting_date, commit_date = 2**31 - 1 + 2 * DAY, 2**31 - 1 - DAY
    con = sqlite3.connect(db)
    con.execute("UPDATE messages SET date_utc = ? WHERE id = ?", (posting_date, message_pk))
    con.execute("UPDATE commits SET committer_date = ? WHERE id = ?", (commit_date, commit_pk))
    con.commit()
    con.close()
    got, expected = _windowed_and_in_memory(engine, people)
    assert (message_pk, commit_pk) in {(r[0], r[1]) for r in expected}
    assert got == expected
    engine.dispose()


def test_a_store_without_commits_keys_its_postings_a_batch_at_a_time(
    truth, tmp_path, monkeypatch
) -> None:
    """With no commit to link, matching everything writes only the postings' lookup keys,
    a batch at a time (all postings held at once made a million-message store's update pass
    1 GB): the same keys, the links gone, and every posting counted."""
    import patchlens.stages.matchwindows as stage
    from patchlens.stages.ingest import drop_repo_commits
    from patchlens.stages.matchclosure import write_keys

    path, people = truth
    db = tmp_path / "lists-only.db"
    _copy(path, db)
    engine = open_store(str(db))
    with engine.begin() as conn:
        for (repo_id,) in conn.execute(select(schema.repos.c.id)).all():
            drop_repo_commits(conn, repo_id)
        postings, commits = load(conn, people)
        assert postings and not commits
        mk = schema.match_keys
        conn.execute(mk.delete())
        write_keys(conn, postings, [])
        expected = sorted(conn.execute(select(mk)).all())
    monkeypatch.setattr(stage, "KEY_BATCH", 97)
    sizes: list[int] = []

    def counted(conn, ps, cs):
        sizes.append(len(ps))
        write_keys(conn, ps, cs)

    monkeypatch.setattr(stage, "write_keys", counted)
    _rematch_all(engine, people)
    assert max(sizes) == 97 and sum(sizes) == len(postings)
    rep = run_matching(engine, QUIET, people)  # nothing owed now: the same keys stay
    with engine.connect() as conn:
        assert sorted(conn.execute(select(schema.match_keys)).all()) == expected
        assert conn.execute(select(schema.patch_commits)).all() == []
    with engine.begin() as conn:
        changes.owe(conn, changes.MATCHING, changes.Work(full=True))
    rep = run_matching(engine, QUIET, people)
    assert (rep.postings, rep.commits, rep.links) == (len(postings), 0, 0)
    engine.dispose()


def test_a_senders_postings_without_a_date_are_found_by_date(truth, tmp_path) -> None:
    """Reconstruction dates a message without a date 0 (stages/mails.py) and groups a
    sender's re-rolls by that date; the lookup of a sender's postings around new ones in SQL
    finds them too (a NULL date is never between two bounds)."""
    from patchlens.mail.subject import parse_subject
    from patchlens.review.model import Mail
    from patchlens.stages.review_incremental import _sender_postings

    path, _people = truth
    db = tmp_path / "dateless.db"
    _copy(path, db)
    con = sqlite3.connect(db)
    # Postings of one sender and total: grouping reads those beside a numbered patch
    # (review_incremental._classes).
    addr, total, pks = next(
        (a, n, [int(x) for x in ids.split(",")][:2])
        for a, n, ids in con.execute(
            "SELECT m.from_addr, a.total, group_concat(m.id) FROM messages m"
            " JOIN message_analysis a ON a.message_pk = m.id"
            " JOIN message_threads t ON t.message_pk = m.id"
            " WHERE a.is_posting AND a.total IS NOT NULL"
            " GROUP BY m.from_addr, a.total HAVING count(*) >= 2 ORDER BY m.from_addr, a.total"
        )
    )
    con.execute(f"UPDATE messages SET date_utc = NULL WHERE id IN ({pks[0]}, {pks[1]})")
    con.commit()
    con.close()
    new = Mail(
        pk=0,
        message_id="new@example.org",
        subject=parse_subject(f"[PATCH 1/{total}] x"),
        from_name="",
        from_addr=addr,
        date=0,
        thread="t",
        parent=None,
        has_patch=True,
        is_posting=True,
    )
    engine = open_store(str(db))
    with engine.connect() as conn:
        assert set(pks) <= _sender_postings(conn, [new], 30 * DAY)
    engine.dispose()
