"""Reading a repository's commits in worker processes (issue 11, cold path): what a reading
worker hands the writer equals what the whole-slice reading gave, whatever the chunking, and
the fingerprints computed on the bytes equal mail.fingerprint's."""

from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path

import pytest

from patchlens.mail.fingerprint import fingerprint, pack
from patchlens.sources import gitrepo
from patchlens.sources.base import SourceError
from patchlens.stages import ingest
from patchlens.stages.progress import Reporter
from patchlens.store.compression import compress_text, compress_text_bytes, decompress_text
from patchlens.store.db import open_store
from tests.helpers.gitrepos import git
from tests.helpers.storedump import logical_dump


def _one_commit(work: Path, text: str) -> Path:
    """A repository at `work` on branch dev, its first commit adding a.txt with `text`."""
    work.mkdir()
    git(work, "init", "-q", "-b", "dev")
    (work / "a.txt").write_text(text)
    git(work, "add", "a.txt")
    git(work, "commit", "-q", "-m", "first")
    return work


def _shas(gitdir: Path, n: int | None = None) -> list[str]:
    shas = gitrepo.rev_list(gitdir, "dev", [])
    return shas if n is None else shas[:n]


def test_streamed_slices_equal_the_whole_slice_parse(erofs_utils_git, monkeypatch) -> None:
    """Chunks of 4 KiB cut records (and the record marker) anywhere: the records, patch-ids,
    compressed diffs and fingerprints are those of the slice's log parsed in one piece."""
    shas = _shas(erofs_utils_git, 300)
    out, ids = gitrepo._run_log(erofs_utils_git, shas)
    whole = list(gitrepo.parse_log(out, ids))
    monkeypatch.setattr(gitrepo, "READ_CHUNK", 4096)
    streamed = gitrepo.read_slice(erofs_utils_git, shas)
    assert [r.sha for r in streamed] == shas == [r.sha for r in whole]
    assert sum(r.patch_id is not None for r in streamed) > 250
    for got, want in zip(streamed, whole, strict=True):
        assert got.diff is None  # the text stays in the worker
        assert got.patch_id == want.patch_id
        assert (got.message, got.files, got.trailers) == (want.message, want.files, want.trailers)
        assert got.diff_z == (compress_text(want.diff) if want.diff is not None else None)
        if want.diff is not None:
            assert decompress_text(got.diff_z) == want.diff
        assert got.fingerprint == (None if want.is_merge else pack(fingerprint(want.diff)))
    kept = gitrepo.read_slice(erofs_utils_git, shas[:20], keep_text=True)
    assert [r.diff for r in kept] == [r.diff for r in whole[:20]]


def test_git_fingerprint_equals_the_counting_loop_on_real_commits(
    erofs_utils_git, monkeypatch
) -> None:
    records = gitrepo.read_slice(erofs_utils_git, _shas(erofs_utils_git), keep_text=True)
    diffs = [r.diff for r in records if r.diff and not r.is_merge]
    assert len(diffs) > 1000
    assert sum(bool(fingerprint(d)) for d in diffs) > 1000
    for d in diffs:
        assert gitrepo.git_fingerprint(d) == fingerprint(d)
    # A file's hunks are read in pieces cut at line ends: pieces of 97 bytes cut every file.
    monkeypatch.setattr(gitrepo, "_FP_PIECE", 97)
    for d in diffs[:300]:
        assert gitrepo.git_fingerprint(d.encode("utf-8", "surrogateescape")) == fingerprint(d)


def test_git_fingerprint_white_space_and_odd_lines(tmp_path: Path) -> None:
    """Every kind of white space str.split() knows, bytes that are not UTF-8, lines that look
    like diff headers inside a hunk, a file without a final newline, a rename, a binary."""
    work = tmp_path / "w"
    work.mkdir()
    git(work, "init", "-q", "-b", "dev")
    blanks = "".join(chr(c) for c in range(0x110000) if chr(c).isspace() and chr(c) != "\n")
    # Every white space in UTF-8 is ASCII or one of UNICODE_BLANKS.
    assert all(
        (c.isascii() and c.encode() in gitrepo.ASCII_BLANKS)
        or gitrepo.UNICODE_BLANKS.fullmatch(c.encode())
        for c in blanks
    )
    (work / "a.txt").write_bytes(
        b"keep\n"
        + "".join(f"x{c}y{c}\n" for c in blanks).encode()
        + b"\xe2\xc2\xa0z\n\xff\xfe bad\n--- a/fake\n+++ b/fake\n@@ -1 +1 @@\n"
    )
    (work / "b.bin").write_bytes(b"\0\1\2")
    (work / "c.txt").write_text("one\ntwo\nthree\nfour\nfive\n")
    git(work, "add", ".")
    git(work, "commit", "-q", "-m", "first")
    (work / "a.txt").write_bytes(b"keep\n-- changed\n\t \n\xc2\x85\nlast")
    (work / "b.bin").write_bytes(b"\0\1\3")
    git(work, "mv", "c.txt", "d.txt")
    (work / "d.txt").write_text("one\ntwo\nthree\nfour\nfive\nsix\n")
    git(work, "add", ".")
    git(work, "commit", "-q", "-m", "second")
    records = gitrepo.read_slice(work, gitrepo.rev_list(work, "dev", []), keep_text=True)
    assert len(records) == 2
    for r in records:
        assert r.diff
        assert len(fingerprint(r.diff)) > 3
        assert gitrepo.git_fingerprint(r.diff) == fingerprint(r.diff)
    assert {f.path for f in records[1].files} == {"a.txt", "b.bin", "d.txt"}


def _numstat_files(gitdir: Path, shas: list[str]) -> list[list]:
    """Each commit's files as git's --numstat gives them (how they were read before)."""
    stats = gitrepo._numstats(gitdir, shas)
    return [stats[s] for s in shas]


def test_file_stats_from_the_diff_equal_numstat_on_real_commits(erofs_utils_git) -> None:
    shas = _shas(erofs_utils_git)
    records = gitrepo.read_slice(erofs_utils_git, shas)
    assert sum(len(r.files) for r in records) > 2500
    assert [r.files for r in records] == _numstat_files(erofs_utils_git, shas)


def test_file_stats_from_the_diff_equal_numstat_on_odd_files(tmp_path: Path) -> None:
    """Names with spaces, tabs, quotes, non-ASCII and bytes that are not UTF-8; renames with
    and without changes, of text and of binary files; mode changes; empty files made and
    removed; lines that look like diff headers in a hunk; no final newline; a deletion."""
    work = tmp_path / "w"
    work.mkdir()
    git(work, "init", "-q", "-b", "dev")
    git(work, "config", "core.quotePath", "true")
    names = ["plain.txt", "with space.txt", "tab\there.txt", 'quo"te.txt', "caf\u00e9.txt"]
    files = {n.encode().decode("unicode_escape"): f"{n}\none\ntwo\nthree\n" for n in names}
    for name, text in files.items():
        (work / name).write_text(text)
    (work / "bin.dat").write_bytes(b"\0\1\2" * 50)
    (work / "bin2.dat").write_bytes(b"\0\5\6" * 50)
    (work / "mode.sh").write_text("echo\n")
    (work / "binmode.dat").write_bytes(b"\0\7" * 40)
    (work / "empty-gone").write_text("")
    (work / "gone.txt").write_text("a\nb\n")
    (work / os.fsdecode(b"raw-\xff.txt")).write_bytes(b"x\ny\n")
    git(work, "add", ".")
    git(work, "commit", "-q", "-m", "first")
    # Second commit: content changes only, so its statistics are counted from the diff alone.
    (work / "plain.txt").write_text("plain\n--- a/fake\n+++ b/fake\n@@ -1 +1 @@\n-x\n+y")
    git(work, "mv", "with space.txt", "moved space.txt")
    (work / "moved space.txt").write_text("with space.txt\none\ntwo\nthree\nmore\n")
    (work / os.fsdecode(b"raw-\xff.txt")).write_bytes(b"x\nz\n")
    git(work, "mv", "bin2.dat", "bin2-moved.dat")
    (work / "bin2-moved.dat").write_bytes(b"\0\5\6" * 50 + b"\1")
    (work / "sub").mkdir()
    git(work, "mv", 'quo"te.txt', 'sub/quo"te2.txt')
    (work / 'sub/quo"te2.txt').write_text('quo"te.txt\none\ntwo\nthree\nfour\n')
    git(work, "rm", "-q", "empty-gone", "gone.txt")
    git(work, "add", "-A", ".")
    git(work, "commit", "-q", "-m", "second")
    # Third: what the diff does not show (an unchanged binary rename, mode changes).
    git(work, "mv", "bin.dat", "sub/bin.dat")
    (work / "mode.sh").chmod(0o755)
    (work / "binmode.dat").chmod(0o755)
    (work / "empty-new").write_text("")
    git(work, "add", "-A", ".")
    git(work, "commit", "-q", "-m", "third")
    # Fourth: a file becomes a symlink (the diff shows a deletion and a creation of one path).
    (work / "plain.txt").unlink()
    (work / "plain.txt").symlink_to("mode.sh")
    git(work, "add", "-A", ".")
    git(work, "commit", "-q", "-m", "fourth")
    shas = gitrepo.rev_list(work, "dev", [])
    records = gitrepo.read_slice(work, shas, keep_text=True)
    counted = [gitrepo.git_file_stats(r.diff.encode("utf-8", "surrogateescape")) for r in records]
    # Only the third and fourth commits need git's numstat.
    assert [hidden for _, hidden in counted] == [False, False, True, True]
    numstat = _numstat_files(work, shas)
    assert records[2].files == numstat[2] and records[3].files == numstat[3]
    second = {f.path: f for f in records[1].files}
    assert second == {f.path: f for f in counted[1][0]}  # counted, not asked of numstat
    # Names that need quoting, renamed: the diff names them exactly, and so does numstat -z.
    assert second['sub/quo"te2.txt'].old_path == 'quo"te.txt'
    assert (second['sub/quo"te2.txt'].added, second['sub/quo"te2.txt'].removed) == (1, 0)
    assert sorted(numstat[1], key=str) == sorted(records[1].files, key=str)
    assert [r.files for r in records[:1]] == numstat[:1]
    # Read without diffs (before the history horizon), every commit names the same files.
    slim = gitrepo.read_history_slice(work, shas)
    for got, want in zip(slim, records, strict=True):
        assert sorted((f.path, f.old_path) for f in got.files) == sorted(
            (f.path, f.old_path) for f in want.files
        )
    assert second["moved space.txt"].old_path == "with space.txt"
    assert second["bin2-moved.dat"].binary and second["bin2-moved.dat"].old_path == "bin2.dat"
    assert (second["plain.txt"].added, second["plain.txt"].removed) == (6, 4)
    third = {f.path: f for f in records[2].files}
    assert third["sub/bin.dat"].binary and third["sub/bin.dat"].old_path == "bin.dat"
    assert third["binmode.dat"].binary
    assert [f.path for f in records[3].files] == ["plain.txt"]


def test_patch_ids_of_messages_that_quote_a_patch_or_name_a_commit(tmp_path: Path) -> None:
    """A stable backport's message starts "commit <sha> upstream.", and some messages quote a
    patch: in git log's raw output neither is indented, and patch-id took them for the next
    commit or for part of the patch. Each commit's patch-id is git's own (`git show`, which
    indents the message, piped into `git patch-id --stable`)."""
    work = _one_commit(tmp_path / "w", "one\ntwo\n")
    upstream = git(work, "rev-parse", "HEAD").strip()
    (work / "a.txt").write_text("one\ntwo\nthree\n")
    git(work, "commit", "-q", "-am", f"backport\n\ncommit {upstream} upstream.\n\nBody.")
    quoted = "diff --git a/b.txt b/b.txt\n--- a/b.txt\n+++ b/b.txt\n@@ -1 +1 @@\n-x\n+y\n"
    (work / "a.txt").write_text("one\n")
    git(work, "commit", "-q", "-am", f"quote a patch\n\n{quoted}")
    shas = gitrepo.rev_list(work, "dev", [])
    records = gitrepo.read_slice(work, shas)
    want = []
    for sha in shas:
        shown = subprocess.run(["git", "show", sha], cwd=work, capture_output=True, check=True)
        ids = subprocess.run(
            ["git", "patch-id", "--stable"], input=shown.stdout, capture_output=True, check=True
        )
        want.append(ids.stdout.split()[0].decode())
    assert [r.patch_id for r in records] == want
    assert len(set(want)) == 3
    _, ids = gitrepo._run_log(work, shas)
    assert [ids[s] for s in shas] == want


def test_diffs_compressed_from_bytes_equal_those_compressed_from_text() -> None:
    """A worker compresses git's bytes without decoding them: what it stores is what
    compress_text stored for the text read with surrogateescape, for ASCII, valid UTF-8,
    bytes that are not UTF-8 and encoded surrogates (which strict UTF-8 refuses)."""
    samples = [
        b"",
        b"diff --git a/x b/x\n+plain\n",
        "+caf\u00e9 \u2028 \U0001f600\n".encode(),
        b"+bad \xff\xfe byte\n",
        b"+cut \xe2\x82\n",
        b"+surrogate \xed\xa0\x80\n",
        bytes(range(256)),
    ]
    for raw in samples:
        text = raw.decode("utf-8", "surrogateescape")
        assert compress_text_bytes(raw) == compress_text(text)


def test_a_failing_git_is_a_source_error(erofs_utils_git) -> None:
    with pytest.raises(SourceError, match="git log failed"):
        gitrepo.read_slice(erofs_utils_git, ["0" * 40])


def test_worker_processes_store_what_one_process_stores(
    tmp_path: Path, erofs_utils_git, monkeypatch
) -> None:
    """The ingest stage's reading workers (two processes, slices of 97) give the store one
    process gives (slices of 200)."""
    dbs = []
    for jobs, size in ((1, 200), (2, 97)):
        db = tmp_path / f"s{jobs}.db"
        engine = open_store(str(db))
        ingest.add_repo(engine, "erofs-utils", str(erofs_utils_git), ["dev"])
        monkeypatch.setattr(ingest, "COMMIT_SLICE", size)
        reports = ingest.update_repos(engine, tmp_path / "cache", Reporter(quiet=True), jobs)
        assert [r.error for r in reports] == [None]
        assert reports[0].new == len(_shas(erofs_utils_git))
        engine.dispose()
        dbs.append(db)
    assert logical_dump(dbs[0]) == logical_dump(dbs[1])


def test_git_runs_with_bounded_pack_windows_and_delta_cache():
    """Every git command patchlens runs maps its packs in small windows (gitutil.MEMORY_CONFIG):
    `git log -p` otherwise holds most of a pack mapped beside the workers; the repository
    reader's log also keeps a bounded delta cache (gitrepo.LOG_CONFIG). git's own
    configuration, as each command line sets it, says the values it runs with."""
    import subprocess

    from patchlens.sources.gitrepo import LOG_CONFIG
    from patchlens.sources.gitutil import GIT_ENV, git_argv

    def effective(*extra: str) -> dict[str, str]:
        argv = git_argv([*extra, "config", "--get-regexp", r"^core\.(packedgit|deltabasecache)"])
        out = subprocess.run(argv, capture_output=True, text=True, env=GIT_ENV, check=False)
        return dict(line.split(" ", 1) for line in out.stdout.splitlines())

    windows = {"core.packedgitwindowsize": "1m", "core.packedgitlimit": "16m"}
    assert effective() == windows
    assert effective(*LOG_CONFIG) == {**windows, "core.deltabasecachelimit": "32m"}


def test_history_read_names_the_files_the_whole_read_counts(erofs_utils_git) -> None:
    """A commit read without its diff (`git log --raw`, before the history horizon) has the
    files, renames, metadata and trailers of the same commit read whole, on every erofs-utils
    commit (bench/history_files.py compares any repository: util-linux's 23,141 agree)."""
    shas = _shas(erofs_utils_git)
    whole = {
        r.sha: r
        for part in gitrepo.slices(shas, 400)
        for r in gitrepo.read_slice(erofs_utils_git, part)
    }
    slim = gitrepo.read_history_slice(erofs_utils_git, shas)
    assert [r.sha for r in slim] == shas
    assert sum(bool(r.files) for r in slim) > 900
    assert any(f.old_path for r in slim for f in r.files)  # renames among them
    for r in slim:
        assert r.diff_skipped and r.patch_id is None and r.fingerprint is None and r.diff_z is None
        assert gitrepo.history_fields(r) == gitrepo.history_fields(whole[r.sha]), r.sha


def _renamed_both_ways(
    tmp_path: Path, renames: dict[str, str], config: dict[str, str] | None = None
) -> tuple[list, list, list]:
    """A repository (with `config` in its own config) whose second commit makes `renames`
    (old name -> new, content unchanged): that commit's (path, old path) read whole and
    read without its diff, and its files read whole."""
    work = tmp_path / "w"
    work.mkdir()
    git(work, "init", "-q", "-b", "dev")
    for key, value in (config or {}).items():
        git(work, "config", key, value)
    for i, old in enumerate(renames):
        (work / old).parent.mkdir(parents=True, exist_ok=True)
        (work / old).write_text(f"file {i}\n")
    git(work, "add", "-A", ".")
    git(work, "commit", "-q", "-m", "first")
    for old, new in renames.items():
        git(work, "mv", old, new)
    git(work, "commit", "-q", "-m", "renames")
    shas = gitrepo.rev_list(work, "dev", [])
    whole = gitrepo.read_slice(work, shas)[1].files
    slim = gitrepo.read_history_slice(work, shas)[1].files
    names = [sorted((f.path, f.old_path) for f in files) for files in (whole, slim)]
    return names[0], names[1], whole


def test_pure_renames_of_quoted_names_read_alike(tmp_path: Path) -> None:
    """A rename without a change of content hides the content, so the whole reading takes the
    commit's files from git's numstat; numstat's "old => new" form garbled names git quotes
    (non-ASCII, quotes), so the same commit read whole and read without its diff (the
    history horizon) named its files differently. With -z, numstat names them as git has
    them."""
    renames = {"docs/café.txt": "docs/résumé.txt", 'a"b.txt': 'c"d.txt'}
    whole, slim, files = _renamed_both_ways(tmp_path, renames)
    want = [('c"d.txt', 'a"b.txt'), ("docs/résumé.txt", "docs/café.txt")]
    assert whole == slim == want
    assert all((f.added, f.removed) == (0, 0) for f in files)


def test_dates_git_cannot_read_and_the_skip_decision(tmp_path: Path) -> None:
    """The horizon is compared with the committer date as the store has it: `rev_list_dated`
    reads `%cd` the way the commit's record does, also for a malformed committer line (git's
    --timestamp reads one otherwise) or a date git prints none for (then 0, the epoch; the
    commit stays readable)."""
    work = _one_commit(tmp_path / "w", "a\n")
    tree = git(work, "rev-parse", "HEAD^{tree}")
    parent = git(work, "rev-parse", "HEAD")
    shas = [parent]
    for committer in (
        "C <c@x> 100 +0000> 1700000000 +0000",
        "C <c@x> -5 +0000",
        "C <c@x> 99999999999999999999 +0000",
    ):
        raw = (
            f"tree {tree}\nparent {shas[-1]}\nauthor A <a@x> 1700000000 +0000\n"
            f"committer {committer}\n\nodd date\n"
        )
        sha = git(
            work, "hash-object", "-t", "commit", "-w", "--literally", "--stdin", input=raw.encode()
        )
        shas.append(sha)
    git(work, "update-ref", "refs/heads/dev", shas[-1])
    dated = dict(gitrepo.rev_list_dated(work, shas[-1], []))
    records = {r.sha: r for r in gitrepo.read_slice(work, shas)}
    slim = {r.sha: r for r in gitrepo.read_history_slice(work, shas)}
    assert set(dated) == set(shas)
    for sha in shas:
        assert dated[sha] == records[sha].committer_date == slim[sha].committer_date, sha


def test_odd_names_and_the_repository_config_do_not_split_the_readings(tmp_path: Path) -> None:
    """A rename of a file whose name starts with \\x01 (the byte that opened a numstat record
    once), and of a name that is not UTF-8 in a repository whose own config turns
    core.quotePath off: read whole and read without diffs, the commit names the same files."""
    renames = {
        "\x01weird": "\x01weird2",
        os.fsdecode(b"\xff-a.txt"): os.fsdecode(b"\xff-b.txt"),
    }
    whole, slim, _ = _renamed_both_ways(tmp_path, renames, {"core.quotePath": "false"})
    assert whole == slim == [("\x01weird2", "\x01weird"), ("\ufffd-b.txt", "\ufffd-a.txt")]


def test_a_repositorys_signature_settings_run_nothing(tmp_path: Path) -> None:
    """A repository whose own config shows signatures in `git log` with a gpg program of its
    choosing: a signed commit is read (its dates too) without that program running, and
    nothing of a signature check gets among what is parsed."""
    work = _one_commit(tmp_path / "w", "a\n")
    ran = tmp_path / "ran"
    program = tmp_path / "fakegpg.sh"
    program.write_text(f"#!/bin/sh\necho ran > {ran}\necho 'gpg: Good signature'\nexit 0\n")
    program.chmod(0o755)
    tree = git(work, "rev-parse", "HEAD^{tree}")
    parent = git(work, "rev-parse", "HEAD")
    signed = (
        f"tree {tree}\nparent {parent}\nauthor A <a@x> 1700000000 +0000\n"
        "committer A <a@x> 1700000000 +0000\n"
        "gpgsig -----BEGIN PGP SIGNATURE-----\n \n iQEzBAABCAAdFiEE\n"
        " -----END PGP SIGNATURE-----\n\nsigned\n"
    )
    sha = git(work, "hash-object", "-t", "commit", "-w", "--stdin", input=signed.encode())
    git(work, "update-ref", "refs/heads/dev", sha)
    git(work, "config", "log.showSignature", "true")
    git(work, "config", "gpg.program", str(program))
    dated = gitrepo.rev_list_dated(work, sha, [])
    assert [s for s, _ in dated] == [parent, sha]
    assert dict(dated)[sha] == 1700000000
    records = gitrepo.read_slice(work, [parent, sha]) + gitrepo.read_history_slice(work, [sha])
    assert [r.sha for r in records] == [parent, sha, sha]
    assert not ran.exists()


def test_a_time_zone_git_cannot_read_keeps_the_date() -> None:
    assert gitrepo._raw_date("1700000000 +123456") == (1700000000, 0)
    assert gitrepo._raw_date("1700000000 -0130") == (1700000000, -90)
    assert gitrepo._raw_date("") == (0, 0)
    assert gitrepo._raw_date("²") == (0, 0)


def test_unicode_blanks_dropped_a_form_at_a_time_as_at_once() -> None:
    """The forms removed one by one leave what one pass of UNICODE_BLANKS leaves, in UTF-8
    and in bytes that are not: a lead byte cut from its continuation bytes next to a blank
    ("\\xe2" + NBSP + "\\x80\\x80") would become an EN QUAD after the NBSP's removal."""
    rng = random.Random(11)
    forms = [
        c.encode() for c in "\u0085\u00a0\u1680\u2000\u2005\u200a\u2028\u2029\u202f\u205f\u3000"
    ]
    pieces = [*forms, "é€ж語".encode(), b"\xc2", b"\xe2", b"\xe2\x80", b"\xe1\x9a", b"\x80", b"a b"]
    for _ in range(3000):
        data = b"".join(rng.choice(pieces) for _ in range(rng.randint(1, 12)))
        assert gitrepo._drop_unicode_blanks(data) == gitrepo.UNICODE_BLANKS.sub(b"", data)
    text = "x\u00a0y\u3000z\u2003".encode()
    assert gitrepo._drop_unicode_blanks(text) == b"xyz"
