"""Series versions as maintainers apply them (issue 16 §2): the git am mbox.

- b4's own trailer-collection fixtures (../shared/data/fixtures/b4): ingested, reconstructed,
  and the trailers of each patch of our mbox are b4's expected ones (without the applier's
  Signed-off-by, which b4 adds for its user and patchlens has no user to add);
- mboxrd quoting of "From " lines survives `git am --patch-format=mboxrd` byte for byte;
- acceptance 3: on real EROFS series whose patches all matched erofs-utils commits, `git am`
  of the download onto the first commit's parent reproduces the merged commits' patch-ids;
- the page links, the API and its /openapi.json entries, `patchlens am`.
"""

from __future__ import annotations

import email
import email.policy
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from patchlens.config import Config
from patchlens.mail.trailers import Trailer
from patchlens.queries.am import am_version
from patchlens.review.am import FollowUp, Posting, build, mboxrd, split_message, with_trailers
from patchlens.stages import ingest
from patchlens.stages.pipeline import run_stages
from patchlens.stages.progress import Reporter
from patchlens.store import schema
from patchlens.store.db import open_store
from tests.conftest import data_path
from tests.helpers.cli import invoke_cli

B4 = ("fixtures", "b4", "src", "tests", "samples")
LORE = "https://lore.kernel.org/r/{message_id}"
GIT_ID = ["-c", "user.name=Applier", "-c", "user.email=applier@example.org"]


def _store(tmp_path: Path, *mboxes: Path) -> Any:
    engine = open_store(str(tmp_path / "s.db"))
    ingest.add_list(engine, "b4", [str(m) for m in mboxes])
    ingest.run_update(engine, tmp_path / "cache", Reporter(quiet=True))
    run_stages(engine, Config(), tmp_path / "cache", Reporter(quiet=True))
    return engine


def _trailer_lines(message: str) -> list[str]:
    """The last paragraph of a commit message text: its trailer lines."""
    return message.rstrip("\n").split("\n\n")[-1].split("\n")


def _expected(ref: Path) -> dict[str, list[str]]:
    """Per Message-ID, b4's trailers in its expected output, without its user's own
    Signed-off-by (b4's tests run as "Test Override")."""
    out = {}
    for chunk in ref.read_bytes().split(b"From git@z ")[1:]:
        msg = email.message_from_bytes(chunk.split(b"\n", 1)[1])
        body = msg.get_payload(decode=True).decode()
        mid = msg["Message-Id"].strip("<>")
        lines = _trailer_lines(split_message(body))
        out[mid] = [x for x in lines if "test-override@example.com" not in x]
    return out


# b4's follow-up fixtures with their expected output under b4's defaults. Left out: the
# "non-git-patch" and "stripped-lines" ones, whose diffs ("@@@" hunks, context lines without
# their leading space) neither patchlens nor git am takes for a patch.
B4_SAMPLES = (
    "single",
    "with-cover",
    "with-diffstat",
    "partial-reroll",
    "bare-address",
    "name-parens",
    "htmljunk",
    "nore",
)


@pytest.mark.parametrize("sample", B4_SAMPLES)
def test_trailers_collected_as_b4_collects_them(tmp_path: Path, sample: str) -> None:
    engine = _store(tmp_path, data_path(*B4, f"trailers-followup-{sample}.mbox"))
    expected = _expected(data_path(*B4, f"trailers-followup-{sample}-ref-defaults.txt"))
    with engine.connect() as conn:
        v = am_version(conn, next(iter(expected)), None, None)
    assert v is not None
    assert [p.message_id for p in v.patches] == list(expected)
    for p in v.patches:
        msg = email.message_from_bytes(p.mail)
        body = msg.get_payload(decode=True).decode()
        assert _trailer_lines(split_message(body)) == expected[p.message_id], p.message_id
    # Something was added (the test would pass on an unchanged patch otherwise).
    assert all(p.added for p in v.patches)


def test_cover_letter_trailers_go_to_every_patch_after_the_patchs_own(tmp_path: Path) -> None:
    engine = _store(tmp_path, data_path(*B4, "trailers-followup-with-cover.mbox"))
    with engine.connect() as conn:
        v = am_version(conn, "cover-message@example.com", 1, LORE)
    assert v is not None and len(v.patches) == 2
    first, second = v.patches
    cover = "Reviewed-by: Coverletter Reviewer1 <followup-reviewer1@example.com>"
    patch = "Reviewed-by: Followup Reviewer1 <followup-reviewer1@example.com>"
    assert [f"{t.key}: {t.value}" for t in first.added] == [cover]
    assert [f"{t.key}: {t.value}" for t in second.added] == [patch, cover]
    text = v.mbox().decode()
    # The cover letter is not a patch of the mbox; each patch ends its trailers with its Link:.
    assert "Simple cover" not in text
    assert text.count("Link: https://lore.kernel.org/r/patch-1-message@example.com\n") == 1
    assert text.index(cover) < text.index("Link: https://lore.kernel.org/r/patch-1-message")


def _posting(body: str, diff: str, subject: str = "[PATCH] x: y") -> Posting:
    return Posting("a@b", "A Uthor", "a@example.org", subject, 1_700_000_000, 60, body, diff)


def test_no_duplicates_no_sloppy_trailers_and_trailer_block_placement() -> None:
    own = "Fix it.\n\nReviewed-by: R <r@example.org>\nSigned-off-by: A <a@example.org>\n"
    rb = Trailer("Reviewed-by", "R <r@example.org>", "R", "r@example.org")
    ack = Trailer("Acked-by", "M <m@example.org>", "M", "m@example.org")
    followups = [
        FollowUp("a@b", False, "R", "r@example.org", rb),  # already there
        FollowUp("a@b", False, "Someone", "s@example.org", ack),  # not the giver: left out
        FollowUp("a@b", True, "M", "M@Example.org", ack),  # the giver, to the cover letter
        FollowUp("a@b", True, "M", "m@example.org", ack),  # given twice: once
    ]
    (p,) = build([_posting(own + "---\n x | 1 +\n", "diff --git a/x b/x\n")], followups, None)
    assert [t.key for t in p.added] == ["Acked-by"]
    body = p.mail.split(b"\n\n", 1)[1].decode()
    assert body.startswith(own + "Acked-by: M <m@example.org>\n---\ndiff --git a/x b/x\n")
    # A message with no trailer block gets one, after a blank line.
    assert with_trailers("Fix it.\n", [ack]) == "Fix it.\n\nAcked-by: M <m@example.org>\n"


def test_headers_cannot_be_injected_and_non_ascii_is_encoded() -> None:
    p = _posting("Body.\n", "diff --git a/x b/x\n", "[PATCH] évité\r\nBcc: victim@example.org")
    (am,) = build([p], [], LORE)
    head = am.mail.split(b"\n\n", 1)[0].decode("ascii")
    assert "\nBcc:" not in head and "=?utf-8?" in head
    msg = email.message_from_bytes(am.mail, policy=email.policy.default)
    assert msg["Subject"] == "[PATCH] évité Bcc: victim@example.org"


def _git(repo: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["git", "-C", str(repo), *GIT_ID, *args], input=stdin, capture_output=True, check=False
    )


def test_from_lines_are_quoted_and_git_am_mboxrd_restores_them(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "f").write_text("a\n")
    _git(repo, "add", "f")
    _git(repo, "commit", "-qm", "base")
    body = "Explain.\n\nFrom here on, it works.\n>From a quoted line.\n\nSigned-off-by: A <a@b>\n"
    diff = "diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n"
    mbox = mboxrd([am.mail for am in build([_posting(body, diff)], [], None)])
    assert b"\n>From here on, it works.\n>>From a quoted line.\n" in mbox
    r = _git(repo, "am", "-q", "--patch-format=mboxrd", stdin=mbox)
    assert r.returncode == 0, r.stderr
    msg = _git(repo, "log", "-1", "--format=%B").stdout.decode()
    assert "\nFrom here on, it works.\n>From a quoted line.\n" in msg
    assert (repo / "f").read_text() == "b\n"


# --- acceptance 3: real EROFS series ----------------------------------------------------------


def _candidates(conn: Any) -> list[tuple[Any, list[Any]]]:
    """Versions with no missing patch whose every patch is linked (unambiguously) to one
    erofs-utils commit, in date order."""
    sv, vm, pc, c, m = (
        schema.series_versions,
        schema.version_members,
        schema.patch_commits,
        schema.commits,
        schema.messages,
    )
    members: dict[str, list[Any]] = {}
    rows = conn.execute(
        select(vm.c.version_key, vm.c.message_pk, vm.c.idx, pc.c.ambiguous, c.c.sha, m.c.diff)
        .join(m, m.c.id == vm.c.message_pk)
        .outerjoin(pc, pc.c.message_pk == vm.c.message_pk)
        .outerjoin(c, c.c.id == pc.c.commit_pk)
    )
    for r in rows:
        members.setdefault(r.version_key, []).append(r)
    out = []
    for v in conn.execute(select(sv).order_by(sv.c.date, sv.c.key)):
        ms = [x for x in members.get(v.key, []) if x.message_pk != v.cover_pk]
        if not ms or v.missing != "[]" or len({x.message_pk for x in ms}) != len(ms):
            continue
        if all(x.sha and x.diff and not x.ambiguous for x in ms):
            out.append((v, sorted(ms, key=lambda x: x.idx)))
    return out


def _linked(conn: Any, message_id: str) -> tuple[str | None, str | None]:
    """A posting's own patch-id and the sha of the commit it is linked to (None: none)."""
    m, ma, pc, c = schema.messages, schema.message_analysis, schema.patch_commits, schema.commits
    row = conn.execute(
        select(ma.c.patch_id, c.c.sha)
        .select_from(m)
        .join(ma, ma.c.message_pk == m.c.id)
        .outerjoin(pc, pc.c.message_pk == m.c.id)
        .outerjoin(c, c.c.id == pc.c.commit_pk)
        .where(m.c.message_id == message_id)
    ).first()
    return (row.patch_id, row.sha) if row else (None, None)


def _patch_ids(repo: Path, text: bytes) -> list[str]:
    r = subprocess.run(
        ["git", "-C", str(repo), "patch-id", "--stable"], input=text, capture_output=True
    )
    return [line.split()[0] for line in r.stdout.decode().splitlines()]


# The first 60 fully linked versions (by date) are tried. On the EROFS data (2026-07): 48
# reproduce the merged commits' patch-ids; 10 apply, giving exactly the posted patches, but
# the maintainer changed the diff before committing; 2 do not
# apply on the commit's parent: a whitespace-damaged posting (same patch-id, which ignores
# whitespace; `git am --ignore-whitespace` applies it) and one rebased by the maintainer.
TRIED = 60


def test_git_am_reproduces_merged_commits_on_real_erofs_series(
    erofs_store, erofs_utils_git, tmp_path: Path
) -> None:
    _db, engine, _ = erofs_store
    repo = tmp_path / "utils"
    subprocess.run(["git", "clone", "-q", str(erofs_utils_git), str(repo)], check=True)
    tally = {"reproduced": 0, "applied, maintainer changed the diff": 0, "did not apply": 0}
    no_parent = unlinked = 0
    with engine.connect() as conn:
        cands = _candidates(conn)
        tried = 0
        for v, _ms in cands:
            if tried == TRIED:
                break
            av = am_version(conn, v.key, v.seq, LORE)
            assert av is not None and [p.message_id for p in av.patches]
            # What the mbox holds (a partial re-roll adds the patches it does not replace):
            # each patch's own patch-id and the commit it is linked to.
            linked = [_linked(conn, p.message_id) for p in av.patches]
            if not all(sha for _pid, sha in linked):
                unlinked += 1  # a patch taken from the version re-rolled was not merged
                continue
            posted = [pid for pid, _sha in linked]
            shas = [sha for _pid, sha in linked]
            depth = {s: int(_git(repo, "rev-list", "--count", s).stdout) for s in shas}
            first = min(shas, key=depth.__getitem__)
            parent = _git(repo, "rev-parse", "--verify", "-q", first + "^")
            if parent.returncode:
                no_parent += 1  # the repository's first commit: nothing to apply it on
                continue
            tried += 1
            base = parent.stdout.decode().strip()
            _git(repo, "am", "--abort")
            _git(repo, "checkout", "-q", "--force", "--detach", base)
            if _git(repo, "am", "-q", "--patch-format=mboxrd", stdin=av.mbox()).returncode:
                tally["did not apply"] += 1
                continue
            log = _git(repo, "log", "--reverse", "-p", "--format=commit %H", f"{base}..HEAD")
            got = _patch_ids(repo, log.stdout)
            # What git am made is exactly what was posted (our own patch-id of the posting).
            assert got == posted, v.key
            # Each applied patch carries its Link: and the trailers collected for it.
            msgs = _git(repo, "log", "--reverse", "--format=%B%x00", f"{base}..HEAD").stdout
            for p, text in zip(av.patches, msgs.decode().split("\0\n"), strict=False):
                assert f"Link: {p.link}" in text
                assert all(f"{t.key}: {t.value}" in text for t in p.added)
            want = [
                _patch_ids(repo, _git(repo, "show", "--format=commit %H", s).stdout)[0]
                for s in shas
            ]
            if sorted(got) == sorted(want):
                tally["reproduced"] += 1
            else:
                tally["applied, maintainer changed the diff"] += 1
    print(
        f"\nacceptance 3: {len(cands)} fully matched versions; {tried} tried: {tally}; "
        f"{no_parent} skipped (first commit of the repository), {unlinked} skipped (a partial "
        "re-roll whose other patches were not merged)"
    )
    assert tried == TRIED
    assert tally["reproduced"] >= 20, tally


# --- the page, the API, the command ------------------------------------------------------------


def _a_reviewed_version(sql: Any) -> tuple[str, int]:
    """A version with a cover letter some reply gave a trailer to, and its place."""
    row = sql.execute(
        "SELECT sv.key, sv.seq FROM series_versions sv JOIN replies r ON r.version_key = sv.key"
        " JOIN message_trailers t ON t.message_pk = r.message_pk AND t.given"
        " WHERE sv.cover_pk IS NOT NULL AND r.addressed_idx = 0 AND t.key = 'Reviewed-by'"
        " AND NOT r.is_bot ORDER BY sv.date LIMIT 1"
    ).fetchone()
    assert row
    return row[0], row[1]


def test_series_page_links_each_version_and_the_download_is_the_mbox(client, sql) -> None:
    from urllib.parse import quote

    key, seq = _a_reviewed_version(sql)
    series_key = sql.execute("SELECT series_key FROM series_versions WHERE key = ?", (key,))
    series_key = series_key.fetchone()[0]
    n = sql.execute("SELECT count(*) FROM series_versions WHERE series_key = ?", (series_key,))
    html = client.get(f"/series/{quote(series_key, safe='@')}").text
    links = re.findall(r'href="(/mbox/(\d+)/[^"]+)"', html)
    assert sorted(int(s) for _, s in links) == list(range(1, n.fetchone()[0] + 1))
    href = next(h for h, s in links if int(s) == seq)
    r = client.get(href)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/mbox")
    assert "attachment" in r.headers["content-disposition"]
    assert r.content.startswith(b"From git@z ")
    api = client.get(href.replace("/mbox/", "/api/mbox/"))
    assert api.content == r.content
    d = client.get(href.replace("/mbox/", "/api/am/")).json()
    assert d["seq"] == seq and d["patches"] and d["mbox"].startswith("/api/mbox/")
    assert all(any(a.startswith("Reviewed-by: ") for a in p["added"]) for p in d["patches"])
    assert r.content.count(b"\nSubject: ") == len(d["patches"])
    for p in d["patches"]:
        assert f"Link: {p['link']}\n".encode() in r.content


def test_unknown_series_or_version_is_404_and_parameters_400(client, sql) -> None:
    key, _seq = _a_reviewed_version(sql)
    assert client.get("/mbox/1/no-such@example.org").status_code == 404
    assert client.get(f"/api/am/99/{key}").status_code == 404
    assert client.get(f"/api/mbox/1/{key}?x=1").status_code == 400
    bad = client.get(f"/api/am/first/{key}")
    assert bad.status_code == 400 and bad.json()["parameter"] == "seq"
    assert client.get(f"/mbox/0/{key}").status_code == 400


def test_openapi_describes_the_mbox_and_its_twin(client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    mbox = paths["/api/mbox/{seq}/{ident}"]["get"]
    assert "application/mbox" in mbox["responses"]["200"]["content"]
    am = paths["/api/am/{seq}/{ident}"]["get"]
    assert am["responses"]["200"]["content"]["application/json"]["schema"]
    assert "404" in am["responses"]


def test_patchlens_am_writes_the_same_mbox(erofs_store, client, sql, tmp_path: Path) -> None:
    db, _engine, _ = erofs_store
    key, seq = _a_reviewed_version(sql)
    out = tmp_path / "v.mbox"
    cmd = ["--db", str(db), "am", key, "--version", str(seq)]
    r = invoke_cli(*cmd, "-o", str(out), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == client.get(f"/mbox/{seq}/{key}").content
    bad = invoke_cli(*cmd[:-3], "no-such@example.org", cwd=tmp_path)
    assert bad.returncode == 1 and "no such series" in bad.stderr


def test_the_download_is_named_after_the_version_number(client, sql) -> None:
    """The file is named for the version as its subjects number it, not for its place in
    the series: v19 posted thirteenth downloads as series-v19.mbox (it was series-v13.mbox,
    the name of another version a maintainer could take it for)."""
    from urllib.parse import quote

    rows = sql.execute(
        "SELECT series_key, seq, version_str FROM series_versions "
        "WHERE version_str != '' AND CAST(version_str AS INTEGER) != seq "
        "AND version_str NOT LIKE '%.%' AND NOT EXISTS (SELECT 1 FROM series_versions o "
        "WHERE o.series_key = series_versions.series_key AND o.key != series_versions.key "
        "AND o.version_str = series_versions.version_str) ORDER BY date LIMIT 3"
    ).fetchall()
    assert rows, "the store has versions numbered apart from their place"
    for series_key, seq, vstr in rows:
        r = client.get(f"/mbox/{seq}/{quote(series_key, safe='@')}")
        assert r.status_code == 200
        assert f'filename="series-v{vstr}.mbox"' in r.headers["content-disposition"]
    first = sql.execute(
        "SELECT series_key FROM series_versions WHERE version_str = '' AND seq = 1 LIMIT 1"
    ).fetchone()[0]
    r = client.get(f"/mbox/1/{quote(first, safe='@')}")
    assert 'filename="series-v1.mbox"' in r.headers["content-disposition"]


def test_versions_that_share_a_number_download_under_different_names(client, sql) -> None:
    """A RESEND (or a partial re-roll numbered as its base) has the number of another version
    of its series: each download gets the place added, so that no two share a file name."""
    from urllib.parse import quote

    rows = sql.execute(
        "SELECT series_key, COUNT(*) FROM series_versions GROUP BY series_key, "
        "CASE version_str WHEN '' THEN '1' ELSE version_str END HAVING COUNT(*) > 1 LIMIT 5"
    ).fetchall()
    assert rows, "the store has versions of one series that share a number"
    for series_key, _n in rows:
        seqs = [
            r[0]
            for r in sql.execute(
                "SELECT seq FROM series_versions WHERE series_key = ?", (series_key,)
            )
        ]
        names = []
        for seq in seqs:
            r = client.get(f"/mbox/{seq}/{quote(series_key, safe='@')}")
            assert r.status_code == 200
            names.append(r.headers["content-disposition"])
        assert len(set(names)) == len(names), names
        assert any("-posting" in n for n in names)


def test_a_version_number_that_is_not_digits_names_the_place() -> None:
    from patchlens.queries.am import AmVersion

    def name(vstr: str, seq: int = 4) -> str:
        return AmVersion("s", "k", seq, 5, vstr, "t", [], [], []).filename()

    assert name("5.1") == "series-v5.1.mbox"
    assert name("") == "series-v1.mbox"
    assert name("../x") == name("2 3") == name("1" * 40) == "series-4.mbox"
    shared = AmVersion("s", "k", 3, 5, "2", "t", [], [], [], number_shared=True)
    assert shared.filename() == "series-v2-posting3.mbox"
