"""Issue 12, damaged sources: each reader reads around damage (per message or object, not per
file), records what it could not read with its place and reason, tries it again on the next
update, and `update` tells by its exit status whether everything was read (0), some sources
were damaged or unreadable (3), or nothing could be read (1). Every case is a copy of the real
data, damaged inside the test."""

from __future__ import annotations

import gzip
import json
import lzma
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from patchlens.sources.mbox import split_run_together
from patchlens.stages import ingest
from patchlens.stages.progress import Reporter
from patchlens.store.db import open_store
from tests.conftest import data_path

SAMPLE = ("xen-qemu-samples", "xen-remove-dead-code.mbox")
OTHER = ("xen-qemu-samples", "xen-xenstore-get-spec-node.mbox")
_SEP = re.compile(rb"^From [^\n]*\n", re.M)
_MSGID = re.compile(rb"^Message-I[dD]:\s*(<[^>\s]+>)", re.M)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PATCHLENS_DB", "PATCHLENS_CONFIG")}
    return {**env, "PATCHLENS_JOBS": "2", "COLUMNS": "250"}


def _cli(db: Path, *args: str, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "patchlens", "--db", str(db), *args],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=kw.pop("timeout", 600),
        **kw,
    )


def _q(db: Path, sql: str, *params) -> list[tuple]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def _list_messages(db: Path, name: str) -> int:
    return _q(
        db,
        "SELECT count(DISTINCT message_pk) FROM message_sightings s JOIN mailing_lists l"
        " ON l.id = s.list_id WHERE l.name = ?",
        name,
    )[0][0]


def _health(db: Path) -> dict:
    out = _cli(db, "status", "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["health"]


def _messages(mbox: bytes) -> list[bytes]:
    """The messages of a (clean) mbox, each with its From_ line."""
    starts = [m.start() for m in _SEP.finditer(mbox)]
    return [mbox[a:b] for a, b in zip(starts, [*starts[1:], len(mbox)], strict=True)]


# --- a truncated .mbox.gz / .mbox.xz ---------------------------------------------------------


@pytest.mark.parametrize("kind", ["gz", "xz"])
def test_truncated_compressed_mbox(tmp_path: Path, erofs_2024: Path, kind: str) -> None:
    whole = erofs_2024.read_bytes()
    if kind == "gz":
        good = tmp_path / "erofs-2024.mbox.gz"
        good.write_bytes(whole)
    else:
        good = tmp_path / "erofs-2024.mbox.xz"
        good.write_bytes(lzma.compress(gzip.decompress(whole), preset=0))
    data = good.read_bytes()
    half = tmp_path / ("half." + good.name)
    half.write_bytes(data[: len(data) // 2])
    # What a reader that goes on to the very end of the readable data sees: the messages
    # wholly inside it, but the last (cut short).
    if kind == "gz":
        readable = zlib.decompressobj(31).decompress(half.read_bytes())
    else:
        readable = lzma.LZMADecompressor().decompress(half.read_bytes())
    complete = {
        m.group(1).strip(b"<>")
        for msg in _messages(readable)[:-1]
        for m in [_MSGID.search(msg)]
        if m
    }
    assert len(complete) > 1000

    db = tmp_path / "s.db"
    other = data_path(*OTHER)
    assert _cli(db, "add-list", "half", str(half)).returncode == 0
    assert _cli(db, "add-list", "other", str(other)).returncode == 0
    run = _cli(db, "-q", "update")
    assert run.returncode == 3, run.stderr
    assert f"damaged: half: {half}" in run.stderr
    stored = {
        r[0].encode()
        for r in _q(
            db,
            "SELECT m.message_id FROM messages m JOIN message_sightings s ON s.message_pk = m.id"
            " JOIN mailing_lists l ON l.id = s.list_id WHERE l.name = 'half'",
        )
    }
    # Every complete message before the damage is stored (the cut one is not).
    assert complete <= stored
    assert len(stored) >= len(complete) - 5  # duplicate Message-IDs within the file
    assert _list_messages(db, "other") == len(_messages(other.read_bytes()))
    (src,) = _health(db)["damaged_sources"]
    assert src["name"] == "half" and src["state"] == "damaged"
    (item,) = src["unreadable"]
    offset = int(re.search(r"offset (\d+)$", item["position"]).group(1))
    assert item["position"].startswith(str(half))
    assert 0 < offset < len(readable)
    assert "cut short" in item["reason"]

    # A later run reads from the damage again: still partial, reported again, nothing lost.
    again = _cli(db, "-q", "update")
    assert again.returncode == 3, again.stderr
    assert _health(db)["damaged_sources"][0]["unreadable"] == [item]
    assert len(_q(db, "SELECT id FROM messages")) >= len(stored)

    # The file mended (a complete copy): read on from the damage, all done.
    shutil.copyfile(good, half)
    fixed = _cli(db, "-q", "update")
    assert fixed.returncode == 0, fixed.stderr
    assert _health(db)["damaged_sources"] == []
    assert _list_messages(db, "half") > len(stored) + 1000


# --- public-inbox: a corrupt pack, a missing blob ---------------------------------------------


def _loose_archive(root: Path, n: int) -> Path:
    """A public-inbox v2 epoch of `n` one-message commits whose objects are all loose (as a
    mirror fetched object by object holds them), built with fast-import then unpacked."""
    git = root / "git" / "0.git"
    subprocess.run(["git", "init", "-q", "--bare", str(git)], check=True)
    stream = []
    for i in range(n):
        msg = (
            f"From: A <a@example.org>\nSubject: note {i}\nMessage-ID: <{i}@example.org>\n"
            f"Date: Mon, 1 Jan 2024 00:{i // 60 % 60:02d}:{i % 60:02d} +0000\n\nbody {i}\n"
        ).encode()
        head = f"commit refs/heads/master\ncommitter A <a@example.org> {1704067200 + i} +0000\n"
        stream.append(head.encode() + b"data 1\nm\n")
        stream.append(b"M 100644 inline m\ndata %d\n%s\n" % (len(msg), msg))
    subprocess.run(["git", "fast-import", "--quiet"], cwd=git, input=b"".join(stream), check=True)
    subprocess.run(["git", "symbolic-ref", "HEAD", "refs/heads/master"], cwd=git, check=True)
    pack = _pack(git)
    moved = root / "p.pack"
    pack.rename(moved)
    pack.with_suffix(".idx").unlink()
    with moved.open("rb") as f:
        subprocess.run(["git", "unpack-objects", "-q"], cwd=git, stdin=f, check=True)
    return root


def test_public_inbox_many_corrupt_loose_blobs(tmp_path: Path) -> None:
    # git reports each corrupt object on its standard error and goes on: more of them than a
    # pipe holds once stopped git while the reader waited for its output.
    root = _loose_archive(tmp_path / "inbox", 900)
    git = root / "git" / "0.git"
    blobs = subprocess.run(
        ["git", "log", "--format=", "--raw", "--no-abbrev", "HEAD"],
        cwd=git,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[3::6]
    assert len(blobs) == 900
    bad = blobs[:800]
    for sha in bad:
        path = git / "objects" / sha[:2] / sha[2:]
        path.chmod(0o644)
        path.write_bytes(b"not a zlib stream " * 4)
    db = tmp_path / "s.db"
    assert _cli(db, "-q", "add-list", "inbox", str(root)).returncode == 0
    run = _cli(db, "-q", "update", timeout=120)
    assert run.returncode == 3, run.stderr
    assert _list_messages(db, "inbox") == 100
    rows = _damage_rows(db)
    assert len(rows) == 800
    assert {p.rsplit(" blob ", 1)[1] for p, _ in rows} == set(bad)


def _clone(gitdir: Path, dest: Path) -> Path:
    """A private copy of the session's bare clone of the archive bundle (the same objects in
    the same pack, byte for byte: what a fresh clone of the bundle gives, without indexing
    its pack again), for a test to damage."""
    shutil.copytree(gitdir, dest)
    return dest


@pytest.fixture(scope="module")
def whole_blobs(erofs_archive_git: Path) -> list[tuple[str, int, int]]:
    """`_whole_blobs` of the archive's pack, read once: the copies have the same pack."""
    return _whole_blobs(erofs_archive_git)


def _pack(gitdir: Path) -> Path:
    (pack,) = (gitdir / "objects" / "pack").glob("*.pack")
    return pack


def _whole_blobs(gitdir: Path) -> list[tuple[str, int, int]]:
    """(sha, size in pack, offset) of the blobs stored whole (no delta) in the pack that no
    other object is a delta of: damaging one loses that one object only."""
    out = subprocess.run(
        ["git", "verify-pack", "-v", str(_pack(gitdir))],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = [line.split() for line in out.splitlines()]
    bases = {r[6] for r in rows if len(r) == 7}
    return [
        (r[0], int(r[3]), int(r[4]))
        for r in rows
        if len(r) == 5 and r[1] == "blob" and r[0] not in bases
    ]


def _commit_of(gitdir: Path, blob: str) -> str:
    out = subprocess.run(
        ["git", "log", "--format=%H", "--raw", "--no-abbrev", "HEAD"],
        cwd=gitdir,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    commit = ""
    for line in out.splitlines():
        if re.fullmatch(r"[0-9a-f]{40}", line):
            commit = line
        elif line.startswith(":") and line.split()[3] == blob and line.split()[4] in "AM":
            return commit  # the commit that adds it (a deletion names it as the old blob)
    raise AssertionError(f"no commit adds {blob}")


def _ingest(db: Path, cache: Path) -> list[ingest.SourceReport]:
    return ingest.run_update(open_store(str(db)), cache, Reporter(quiet=True), jobs=2)


def _damage_rows(db: Path) -> list[tuple[str, str]]:
    return _q(db, "SELECT position, reason FROM source_damage ORDER BY id")


def _commits(gitdir: Path) -> int:
    out = subprocess.run(
        ["git", "rev-list", "--count", "HEAD"], cwd=gitdir, capture_output=True, text=True
    )
    return int(out.stdout)


def test_public_inbox_corrupt_object(
    tmp_path: Path, erofs_archive_git: Path, whole_blobs: list[tuple[str, int, int]]
) -> None:
    git = _clone(erofs_archive_git, tmp_path / "erofs.git")
    pack = _pack(git)
    assert pack.name == _pack(erofs_archive_git).name  # the pack whole_blobs describes
    size = pack.stat().st_size
    sha, in_pack, offset = min(whole_blobs, key=lambda r: abs(r[2] - size // 2))
    commit = _commit_of(git, sha)
    at = offset + in_pack // 2
    pack.chmod(0o644)
    original = pack.read_bytes()[at : at + 16]
    with pack.open("r+b") as f:
        f.seek(at)
        f.write(b"\xde\xad\xbe\xef" * 4)
    db, cache = tmp_path / "s.db", tmp_path / "cache"
    ingest.add_list(open_store(str(db)), "erofs", [str(git)])
    (rep,) = _ingest(db, cache)
    n = _commits(git)
    assert rep.error is None
    assert [(d.position, d.reason) for d in rep.damage] == _damage_rows(db)
    ((position, reason),) = _damage_rows(db)
    assert f"commit {commit} blob {sha}" in position
    assert "corrupt" in reason
    # Every readable message stored: all but the one whose blob is corrupt.
    assert _list_messages(db, "erofs") >= n - 1 - 60  # a few commits repeat a Message-ID
    stored = _q(db, "SELECT count(*) FROM message_sightings")[0][0]
    quarantined = _q(db, "SELECT count(*) FROM quarantine")[0][0]
    assert stored + quarantined == n - 1

    # The next update asks for it again (and reports it again) ...
    (rep,) = _ingest(db, cache)
    assert rep.read == 0 and len(rep.damage) == 1
    assert len(_damage_rows(db)) == 1
    # ... and once the pack is mended, reads it: all done.
    with pack.open("r+b") as f:
        f.seek(at)
        f.write(original)
    (rep,) = _ingest(db, cache)
    assert rep.read == 1 and not rep.damage
    assert _damage_rows(db) == []
    assert _q(db, "SELECT count(*) FROM message_sightings")[0][0] + quarantined == n


def test_public_inbox_missing_blob(
    tmp_path: Path, erofs_archive_git: Path, whole_blobs: list[tuple[str, int, int]]
) -> None:
    git = _clone(erofs_archive_git, tmp_path / "erofs.git")
    assert _pack(git).name == _pack(erofs_archive_git).name  # the pack whole_blobs describes
    sha, _size, _off = whole_blobs[len(whole_blobs) // 2]
    commit = _commit_of(git, sha)
    # A partial mirror: the same pack without that one blob.
    names = subprocess.run(
        ["git", "cat-file", "--batch-all-objects", "--batch-check=%(objectname)"],
        cwd=git,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    old = _pack(git)
    keep = "".join(f"{n}\n" for n in names if n != sha)
    subprocess.run(
        ["git", "pack-objects", "--quiet", str(git / "objects" / "pack" / "partial")],
        cwd=git,
        input=keep.encode(),
        check=True,
        capture_output=True,
    )
    old.unlink()
    old.with_suffix(".idx").unlink()
    assert subprocess.run(["git", "cat-file", "-e", sha], cwd=git).returncode != 0

    db, cache = tmp_path / "s.db", tmp_path / "cache"
    ingest.add_list(open_store(str(db)), "erofs", [str(git)])
    (rep,) = _ingest(db, cache)
    assert rep.error is None
    ((position, reason),) = _damage_rows(db)
    assert f"commit {commit} blob {sha}" in position
    assert "missing" in reason
    stored = _q(db, "SELECT count(*) FROM message_sightings")[0][0]
    quarantined = _q(db, "SELECT count(*) FROM quarantine")[0][0]
    assert stored + quarantined == _commits(git) - 1
    # Tried again on every update, until the mirror has it.
    (rep,) = _ingest(db, cache)
    assert rep.read == 0 and len(rep.damage) == 1 and len(_damage_rows(db)) == 1


# --- a Maildir with unreadable entries -------------------------------------------------------


def _maildir(root: Path, messages: list[bytes]) -> Path:
    md = root / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (md / sub).mkdir(parents=True)
    for i, msg in enumerate(messages):
        (md / "cur" / f"100{i}.M1P1.host:2,S").write_bytes(_SEP.sub(b"", msg, count=1))
    return md


def test_maildir_unreadable_entries(tmp_path: Path) -> None:
    """Tests run as root, where chmod 000 does not stop a read, and the interpreter lives
    under /root (mode 700), so the update cannot be run as another user either: the entries
    unreadable for anyone are a folder where a message file should be, a FIFO, a dangling
    symlink and a symlink to a file outside the Maildir (never followed). A chmod 000 file
    is added only when the tests do not run as root."""
    msgs = _messages(data_path(*SAMPLE).read_bytes())
    md = _maildir(tmp_path, msgs[:3])
    cur = md / "cur"
    (cur / "2000.M1P1.host:2,S").mkdir()
    os.mkfifo(cur / "2001.M1P1.host:2,S")
    (cur / "2002.M1P1.host:2,S").symlink_to(tmp_path / "gone")
    outside = tmp_path / "outside-secret"
    outside.write_bytes(_SEP.sub(b"", msgs[5], count=1))
    (cur / "2003.M1P1.host:2,S").symlink_to(outside)
    expected = {
        "2000.M1P1.host:2,S": "not a regular file (a folder)",
        "2001.M1P1.host:2,S": "not a regular file",
        "2002.M1P1.host:2,S": "a symbolic link to nothing (dangling)",
        "2003.M1P1.host:2,S": "a symbolic link to a file outside the Maildir: not followed",
    }
    if os.geteuid() != 0:
        locked = cur / "2004.M1P1.host:2,S"
        locked.write_bytes(_SEP.sub(b"", msgs[6], count=1))
        locked.chmod(0)
        expected[locked.name] = "cannot read: Permission denied"
    other = data_path(*OTHER)
    db = tmp_path / "s.db"
    assert _cli(db, "add-list", "md", str(md)).returncode == 0
    assert _cli(db, "add-list", "other", str(other)).returncode == 0
    run = _cli(db, "-q", "update", timeout=120)
    assert run.returncode == 3, run.stderr
    for name in expected:
        assert f"{md}: cur/{name}" not in run.stderr  # details in status, a summary here
    assert f"damaged: md: {md}: {len(expected)} parts could not be read" in run.stderr
    # The three readable files, and not the file outside the Maildir.
    assert _list_messages(db, "md") == 3
    assert _list_messages(db, "other") == len(_messages(other.read_bytes()))
    outside_id = _MSGID.search(outside.read_bytes()).group(1).decode().strip("<>")
    assert not _q(db, "SELECT id FROM messages WHERE message_id = ?", outside_id)
    assert _q(db, "SELECT count(*) FROM quarantine")[0][0] == 0
    (src,) = _health(db)["damaged_sources"]
    reasons = {i["position"].rsplit("/", 1)[1]: i["reason"] for i in src["unreadable"]}
    assert reasons == expected
    # The folder replaced by the message it should have been: read on the next update,
    # and no longer listed.
    (cur / "2000.M1P1.host:2,S").rmdir()
    (cur / "2000.M1P1.host:2,S").write_bytes(_SEP.sub(b"", msgs[3], count=1))
    again = _cli(db, "-q", "update")
    assert again.returncode == 3
    assert _list_messages(db, "md") == 4
    left = {
        i["position"].rsplit("/", 1)[1] for i in _health(db)["damaged_sources"][0]["unreadable"]
    }
    assert left == set(expected) - {"2000.M1P1.host:2,S"}


# --- messages run together -------------------------------------------------------------------


def test_split_run_together_pure() -> None:
    msgs = [_SEP.sub(b"", m, count=1) for m in _messages(data_path(*SAMPLE).read_bytes())]
    assert split_run_together(msgs[0]) == [(0, msgs[0])]
    joined = b"\n".join(msgs[:3])
    parts = split_run_together(joined)
    assert [p for _at, p in parts] == msgs[:3]
    assert [joined[at : at + len(p)] for at, p in parts] == msgs[:3]


def test_mbox_without_separators_and_eml_with_several(tmp_path: Path) -> None:
    msgs = _messages(data_path(*SAMPLE).read_bytes())
    # Messages 2-5 lost their "From " lines: in an mbox reader they are the first one's body.
    mbox = tmp_path / "lost-separators.mbox"
    mbox.write_bytes(msgs[0] + b"".join(_SEP.sub(b"", m, count=1) for m in msgs[1:5]))
    eml = tmp_path / "three.eml"
    eml.write_bytes(b"".join(_SEP.sub(b"", m, count=1) for m in msgs[5:8]))
    db = tmp_path / "s.db"
    assert _cli(db, "add-list", "lost", str(mbox)).returncode == 0
    assert _cli(db, "add-list", "eml", str(eml)).returncode == 0
    run = _cli(db, "-q", "update")
    assert run.returncode == 3, run.stderr
    assert _list_messages(db, "lost") == 5
    assert _list_messages(db, "eml") == 3
    ids = {m.group(1).decode().strip("<>") for msg in msgs[:8] for m in [_MSGID.search(msg)]}
    assert {r[0] for r in _q(db, "SELECT message_id FROM messages")} == ids
    found = {s["name"]: s["unreadable"] for s in _health(db)["damaged_sources"]}
    assert "5 messages run together" in found["lost"][0]["reason"]
    assert found["lost"][0]["position"] == f"{mbox}: offset 0"
    assert "one file holds 3 messages" in found["eml"][0]["reason"]


# --- sources that are not files --------------------------------------------------------------


def test_symlink_loop_and_fifo_refused(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    loop = _cli(db, "add-list", "l", str(tmp_path / "a"))
    assert loop.returncode == 2
    assert loop.stderr.strip().splitlines() == [f"error: {tmp_path / 'a'}: a symbolic link loop"]
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    refused = _cli(db, "add-list", "l", str(fifo), timeout=60)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        f"error: {fifo}: not a regular file or folder; refused"
    ]
    assert stat.S_ISFIFO(fifo.stat().st_mode)


# --- update: one source never blocks another; exit statuses ----------------------------------


def test_update_exit_statuses_and_status(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    gone = tmp_path / "gone.mbox"
    gone.write_bytes(data_path(*OTHER).read_bytes())
    assert _cli(db, "add-list", "gone", str(gone)).returncode == 0
    gone.unlink()
    # The only source unreadable: failed (1), with one line naming it.
    failed = _cli(db, "-q", "update")
    assert failed.returncode == 1, failed.stderr
    assert f"failed: gone: {gone}: not a file" in failed.stderr
    # Another source registered after it is read all the same: done with damage (3).
    good = tmp_path / "good.mbox"
    good.write_bytes(data_path(*SAMPLE).read_bytes())
    assert _cli(db, "add-list", "good", str(good)).returncode == 0
    partial = _cli(db, "-q", "update")
    assert partial.returncode == 3, partial.stderr
    assert _list_messages(db, "good") == len(_messages(good.read_bytes()))
    (src,) = _health(db)["damaged_sources"]
    assert (src["name"], src["state"], src["error"]) == ("gone", "failed", f"{gone}: not a file")
    # `status` prints the damaged source and the quarantined items with their reasons.
    con = sqlite3.connect(db)
    with con:
        sid = con.execute("SELECT id FROM list_sources WHERE location = ?", (str(good),))
        con.execute(
            "INSERT INTO quarantine (source_id, position, reason, raw, created_at)"
            " VALUES (?, '4242', 'parser error: <b>test</b>', x'', 0)",
            (sid.fetchone()[0],),
        )
    con.close()
    text = _cli(db, "status").stdout
    assert "Damaged sources" in text and "not a file" in text
    assert "Quarantined messages (1)" in text and "parser error: <b>test</b>" in text
    # The dashboard's health page lists the same, escaped.
    from fastapi.testclient import TestClient

    from patchlens.store.db import database_url
    from patchlens.web.app import create_app

    page = TestClient(create_app(database_url(str(db)))).get("/health")
    assert page.status_code == 200
    assert f"{gone}: not a file" in page.text and "Quarantined messages (1)" in page.text
    assert "parser error: &lt;b&gt;test&lt;/b&gt;" in page.text and "<b>test" not in page.text
    # The source back: all done (0), nothing listed.
    gone.write_bytes(data_path(*OTHER).read_bytes())
    done = _cli(db, "-q", "update")
    assert done.returncode == 0, done.stderr
    assert _health(db)["damaged_sources"] == []
