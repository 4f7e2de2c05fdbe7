#!/usr/bin/env python3
"""Ingest benchmark (issue #2): patchlens against baselines run in the same run.

Machines here are shared and noisy, so every figure is paired with a baseline measured in the
same run, and every measurement is repeated (best and median of --repeat runs, interleaved so
that drift hits patchlens and its baseline alike).

  list ingest   the EROFS public-inbox archive (15,218 messages), cloned from its bundle;
                baseline: Perceval's mbox backend on the same messages exported as one mboxrd
                file (patchlens also ingests that file), and `git log --raw` piped into
                `git cat-file --batch` (the floor for reading the archive: its message blobs
                by name, as patchlens reads them)
  git ingest    erofs-utils, branch dev (1,072 commits);
                baseline: `git log -p dev | git patch-id --stable`
  memory        peak RSS and PSS of each run's process tree, sampled from /proc every 50 ms
  no-op update  a second `patchlens -q update` with nothing new; baseline: the CLI's import

Each ingest runs in a fresh process: import, `open_store`, `ingest.run_update(engine, cache,
Reporter(quiet=True), jobs=N)`, i.e. the ingest stage of `patchlens update` (the CLI's update
also runs the review reconstruction, which is timed once per round for information only).
With --profile it also splits the time into reading, parsing, compression and SQLite writes,
and prints cProfile's top functions of the main process.

With --whole-update it measures only the whole `patchlens update` of erofs-2024.mbox.gz (a
list alone: ingest and every stage after it) against Perceval on the same file, in pairs, and
the floor of any update in this stack: a fresh process that imports the command line and
parses every message with the standard library's `email`, the parse counted as spread over
every core; Perceval's wall over that floor bounds the rate any update here could reach.

Usage: .venv/bin/python bench/ingest.py [--repeat N] [--skip-perceval] [--profile]
       .venv/bin/python bench/ingest.py --whole-update [--repeat N]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proctree import descendants, pss_mb  # bench/ (the script's own folder is on sys.path)
from userenv import user_environment  # bench/

SELF = str(Path(__file__).resolve())
ROOT = Path(SELF).parents[1]
ARCHIVE_BUNDLE = ("erofs", "linux-erofs-archive.0.bundle")
UTILS_BUNDLE = ("erofs", "erofs-utils.bundle")
MBOX_2024 = ("erofs", "erofs-2024.mbox.gz")
ARCHIVE_MESSAGES = 15218
UTILS_BRANCH = "dev"
UTILS_COMMITS = 1072
TARGET_MSG_S = 20_000
TARGET_GIT_PCT = 90.0
TARGET_MB = 500.0
TARGET_NOOP_S = 1.0
MBOXRD_SEP = b"From mboxrd@z Thu Jan  1 00:00:00 1970\n"
SAMPLE_S = 0.05
SMALL_BATCH = 250  # a smaller PATCHLENS_BATCH than the default 1000, for the memory it saves
# The same environment patchlens gives git (no user or system config), for the baselines.
GIT_ENV = {
    **os.environ,
    "LC_ALL": "C",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
}


def data_dir() -> Path:
    """`../shared/data` beside the project root, or $PATCHLENS_DATA."""
    env = os.environ.get("PATCHLENS_DATA")
    return Path(env) if env else ROOT.parent / "shared" / "data"


# --- measuring a child process ------------------------------------------------------------


@dataclass
class Run:
    """One child process: wall time, peak memory (MB), and what it reported about itself."""

    wall: float
    rc: int
    main_mb: float = 0.0  # peak RSS (VmHWM) of the process started
    worker_mb: float = 0.0  # largest peak RSS among its non-git descendants (parse workers)
    git_mb: float = 0.0  # largest peak RSS among its git descendants
    tree_mb: float = 0.0  # peak of the RSS summed over the tree (shared pages counted twice)
    pss_mb: float = 0.0  # peak of the PSS summed over the tree (shared pages split): the
    # memory the run really holds
    maxrss_mb: float = 0.0  # wait4's ru_maxrss: the largest single process, exact
    info: dict[str, Any] = field(default_factory=dict)
    stderr: str = ""


def _proc_status(pid: int) -> tuple[str, float, float] | None:
    """(command name, VmRSS MB, VmHWM MB) of a live process, or None."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    name, rss, hwm = "", 0.0, 0.0
    for line in text.splitlines():
        if line.startswith("Name:"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
        elif line.startswith("VmHWM:"):
            hwm = int(line.split()[1]) / 1024
    return name, rss, hwm


class _Sampler(threading.Thread):
    """Samples the process tree under `root` every SAMPLE_S seconds until stopped."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.stop = threading.Event()
        self.hwm: dict[int, tuple[str, float]] = {}
        self.tree_peak = 0.0
        self.pss_peak = 0.0

    def run(self) -> None:
        while not self.stop.is_set():
            total = pss = 0.0
            for pid in [self.root, *descendants(self.root)]:
                st = _proc_status(pid)
                if st is None:
                    continue
                name, rss, hwm = st
                total += rss
                pss += pss_mb(pid)
                self.hwm[pid] = (name, max(hwm, self.hwm.get(pid, ("", 0.0))[1]))
            self.tree_peak = max(self.tree_peak, total)
            self.pss_peak = max(self.pss_peak, pss)
            self.stop.wait(SAMPLE_S)


def measure(
    cmd: Sequence[str | Path], *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> Run:
    """Run `cmd`, timing it and sampling its memory; a JSON line on its stdout goes to info."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen([str(c) for c in cmd], cwd=cwd, env=env, stdout=out, stderr=err)
        sampler = _Sampler(proc.pid)
        sampler.start()
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        sampler.stop.set()
        sampler.join()
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    run = Run(wall, proc.returncode, maxrss_mb=usage.ru_maxrss / 1024, stderr=stderr)
    for pid, (name, hwm) in sampler.hwm.items():
        if pid == proc.pid:
            run.main_mb = hwm
        elif name == "git":
            run.git_mb = max(run.git_mb, hwm)
        else:
            run.worker_mb = max(run.worker_mb, hwm)
    run.tree_mb = sampler.tree_peak
    run.pss_mb = sampler.pss_peak
    for line in stdout.splitlines():
        if line.startswith("{"):
            run.info = json.loads(line)
    return run


def check(run: Run, what: str) -> Run:
    if run.rc != 0:
        sys.exit(f"{what} failed (exit {run.rc}):\n{run.stderr[-2000:]}")
    return run


# --- setup: clones, the mbox export, fresh stores ------------------------------------------


def clone(bundle: Path, dest: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        ["git", "clone", "--quiet", "--bare", str(bundle), str(dest)], check=True, env=GIT_ENV
    )
    return time.perf_counter() - t0


def export_mboxrd(gitdir: Path, dest: Path) -> int:
    """Every archive message (blob `m` of each commit, oldest first) into one mboxrd file."""
    shas = subprocess.run(
        ["git", "log", "--reverse", "--format=%H"],
        cwd=gitdir,
        capture_output=True,
        check=True,
        env=GIT_ENV,
    ).stdout.split()
    proc = subprocess.Popen(
        ["git", "cat-file", "--batch"],
        cwd=gitdir,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=GIT_ENV,
    )
    assert proc.stdin is not None and proc.stdout is not None
    stdin = proc.stdin

    def feed() -> None:
        stdin.write(b"".join(sha + b":m\n" for sha in shas))
        stdin.close()

    writer = threading.Thread(target=feed)
    writer.start()
    escape = re.compile(rb"^(>*From )", re.M)
    n = 0
    with dest.open("wb") as f:
        while header := proc.stdout.readline():
            parts = header.split()
            if parts[-1] == b"missing":
                continue
            data = proc.stdout.read(int(parts[2]))
            proc.stdout.read(1)
            f.write(MBOXRD_SEP)
            f.write(escape.sub(rb">\1", data))
            f.write(b"\n" if data.endswith(b"\n") else b"\n\n")
            n += 1
    writer.join()
    if proc.wait() != 0:
        sys.exit(f"git cat-file failed in {gitdir}")
    return n


def new_store(db: Path, *, list_source: Path | None = None, repo: Path | None = None) -> None:
    """A fresh store with one list or one repository registered (schema made, not timed)."""
    from patchlens.stages import ingest
    from patchlens.store.db import open_store

    for p in db.parent.glob(db.name + "*"):
        if p.is_dir():
            shutil.rmtree(p)
        else:
            p.unlink()
    engine = open_store(str(db))
    if list_source is not None:
        ingest.add_list(engine, "erofs", [str(list_source)])
    if repo is not None:
        ingest.add_repo(engine, "erofs-utils", str(repo), [UTILS_BRANCH])
    engine.dispose()


def drop_store(db: Path) -> None:
    for p in db.parent.glob(db.name + "*"):
        if p.is_file():
            p.unlink()


def patchlens_ingest(db: Path, jobs: int, batch: int | None = None) -> Run:
    """The ingest stage in a fresh process (child `ingest`), timed and sampled."""
    env = {**os.environ, "PATCHLENS_JOBS": str(jobs)}
    if batch:
        env["PATCHLENS_BATCH"] = str(batch)
    cmd = [sys.executable, SELF, "--child", "ingest", str(db), str(jobs)]
    return measure(cmd, env=env)


def patchlens_cli_update(db: Path, src: Path | None = None) -> Run:
    """`python -m patchlens --db DB -q update`, run through this script for its timings;
    with `src`, the patchlens package of that source tree (an older version, for a before
    and after in one run) instead of the installed one."""
    env = {**os.environ, "PYTHONPATH": str(src)} if src is not None else None
    return measure([sys.executable, SELF, "--child", "cli", str(db)], env=env)


# --- child processes ------------------------------------------------------------------------


def child_ingest(db: str, jobs: str) -> None:
    """What `patchlens update` does to ingest, without the review stage after it."""
    t0 = time.perf_counter()
    from patchlens.stages import heap, ingest
    from patchlens.stages.progress import Reporter
    from patchlens.store.db import cache_dir, database_url, open_store

    heap.keep_large_blocks_apart()  # as the command line does first
    t1 = time.perf_counter()
    engine = open_store(db)
    reports = ingest.run_update(
        engine, cache_dir(database_url(db)), Reporter(quiet=True), jobs=int(jobs)
    )
    t2 = time.perf_counter()
    errors = [r.error for r in reports if r.error]
    if errors:
        sys.exit(f"ingest failed: {errors}")
    print(json.dumps({"import_s": t1 - t0, "update_s": t2 - t1}))


def child_cli(db: str) -> None:
    """The patchlens CLI in this process, timing its import and its run."""
    t0 = time.perf_counter()
    from patchlens.cli import app
    from patchlens.stages import heap

    heap.keep_large_blocks_apart()  # as the command line's main() does first
    t1 = time.perf_counter()
    app(["--db", db, "-q", "update"], standalone_mode=False)
    t2 = time.perf_counter()
    print(json.dumps({"import_s": t1 - t0, "update_s": t2 - t1}))


def child_perceval(dirpath: str) -> None:
    """list(MBox(...).fetch()) on a directory holding one mbox file."""
    t0 = time.perf_counter()
    from perceval.backends.core.mbox import MBox

    t1 = time.perf_counter()
    items = list(MBox(uri="erofs", dirpath=dirpath).fetch())
    t2 = time.perf_counter()
    print(json.dumps({"import_s": t1 - t0, "fetch_s": t2 - t1, "items": len(items)}))


def child_import() -> None:
    t0 = time.perf_counter()
    import patchlens.cli  # noqa: F401

    print(json.dumps({"import_s": time.perf_counter() - t0}))


def child_floor(path: str) -> None:
    """The least any whole `update` of a list in this stack must do, in one process: import
    the command line, then parse every message of the mbox with the standard library's
    `email` (compat32, every part's payload decoded), as patchlens's parser does first.
    Nothing is analysed or stored."""
    import email
    import gzip
    from email import policy

    t0 = time.perf_counter()
    import patchlens.cli  # noqa: F401

    t1 = time.perf_counter()
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    # From_ lines at the file's start or after an empty line, as sources/mbox.py reads them.
    if data.startswith(b"From "):
        data = data.partition(b"\n")[2]
    raws = re.split(rb"\n\nFrom [^\n]*\n", data)
    t2 = time.perf_counter()
    n = 0
    for raw in raws:
        if not raw.strip():
            continue
        msg = email.message_from_bytes(raw, policy=policy.compat32)
        for part in msg.walk():
            if not part.is_multipart():
                part.get_payload(decode=True)
        n += 1
    t3 = time.perf_counter()
    print(json.dumps({"import_s": t1 - t0, "read_s": t2 - t1, "parse_s": t3 - t2, "items": n}))


def best_of(n: int, fn: Callable[[], object]) -> float:
    """The shortest of n timed calls of fn."""
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def child_breakdown(gitdir: str, db: str, repeat: str) -> None:
    """One process, no workers: read the archive, parse, compress, write; each step timed
    alone (best of `repeat`)."""
    import pickle

    from sqlalchemy import select

    from patchlens.mail.parse import ParsedMessage, parse_message
    from patchlens.sources.base import Batch
    from patchlens.sources.publicinbox import PublicInboxSource
    from patchlens.stages import ingest
    from patchlens.stages.records import Parsed, parse_batch, save_source_cursor, store_messages
    from patchlens.store import schema
    from patchlens.store.db import open_store
    from patchlens.store.schema import compress, compress_text

    n = int(repeat)
    source = PublicInboxSource(gitdir, Path(db + ".cache"))
    batches: list[Batch] = []
    times: dict[str, float] = {}
    times["read: git log --raw, cat-file, framing"] = best_of(
        n, lambda: batches.__setitem__(slice(None), source.plan(None, 1000).batches)
    )
    times["  of which git log --raw (plan)"] = best_of(n, lambda: source.plan(None, 1000))
    msgs = [m for b in batches for m in b.messages]
    results: list[ParsedMessage | None] = []

    def parse_all() -> None:
        results.clear()
        for m in msgs:
            try:
                results.append(parse_message(m.raw, m.archive_date))
            except Exception:
                results.append(None)

    def compress_all() -> None:
        for m, r in zip(msgs, results, strict=True):
            compress(m.raw)
            if r is not None:
                compress_text(r.body)
                if r.diff is not None:
                    compress_text(r.diff)

    times["parse_message only"] = best_of(n, parse_all)
    times["zstd compression only (raw, body, diff)"] = best_of(n, compress_all)
    parsed: list[list[Parsed]] = []
    times["parse_batch (parse + compress)"] = best_of(
        n, lambda: parsed.__setitem__(slice(None), [parse_batch(b.messages) for b in batches])
    )
    # What a worker sends back for each batch (jobs > 1): pickled there, unpickled here.
    blobs = [pickle.dumps(p, protocol=pickle.HIGHEST_PROTOCOL) for p in parsed]
    times["pickle.dumps of the parses (in workers)"] = best_of(
        n, lambda: [pickle.dumps(p, protocol=pickle.HIGHEST_PROTOCOL) for p in parsed]
    )
    times["pickle.loads of the parses (main process)"] = best_of(
        n, lambda: [pickle.loads(b) for b in blobs]
    )

    def write_all() -> None:
        # A fresh store each time (made before the clock starts would be fairer, but its
        # creation is ~0.1 s of schema DDL against seconds of writes).
        path = f"{db}.{time.monotonic_ns()}"
        engine = open_store(path)
        ingest.add_list(engine, "erofs", [gitdir])
        with engine.connect() as conn:
            source_id, list_id = conn.execute(
                select(schema.list_sources.c.id, schema.list_sources.c.list_id)
            ).one()
        t = time.perf_counter()
        for b, p in zip(batches, parsed, strict=True):
            with engine.begin() as conn:
                store_messages(conn, source_id, list_id, p)
                if b.cursor is not None:
                    save_source_cursor(conn, source_id, b.cursor)
        writes.append(time.perf_counter() - t)
        engine.dispose()
        for f in Path(path).parent.glob(Path(path).name + "*"):
            f.unlink()

    writes: list[float] = []
    for _ in range(n):
        write_all()
    times["SQLite writes (store_messages)"] = min(writes)
    raw_mb = sum(len(m.raw) for m in msgs) / 1e6
    print(json.dumps({"messages": len(msgs), "raw_mb": raw_mb, "times": times}))


def child_profile(db: str, jobs: str, out: str) -> None:
    """cProfile of one update in this (the main) process; forked workers are not profiled."""
    import cProfile
    import pstats

    from patchlens.stages import ingest
    from patchlens.stages.progress import Reporter
    from patchlens.store.db import cache_dir, database_url, open_store

    prof = cProfile.Profile()
    os.register_at_fork(after_in_child=lambda: sys.setprofile(None))
    engine = open_store(db)
    t = time.perf_counter()
    prof.enable()
    ingest.run_update(engine, cache_dir(database_url(db)), Reporter(quiet=True), jobs=int(jobs))
    prof.disable()
    wall = time.perf_counter() - t
    with open(out, "w") as f:
        f.write(f"wall {wall:.2f} s under cProfile, jobs={jobs}\n")
        pstats.Stats(prof, stream=f).sort_stats("tottime").print_stats(14)
    print(json.dumps({"wall_s": wall}))


def child_gitbreakdown(gitdir_s: str, db: str, repeat: str) -> None:
    """The git ingest's steps, one after the other, in one process (best of `repeat`)."""
    from sqlalchemy import select

    from patchlens.mail.diff import file_stats
    from patchlens.mail.patchid import patch_id
    from patchlens.sources import gitrepo
    from patchlens.stages import ingest
    from patchlens.stages.records import store_commits
    from patchlens.store import schema
    from patchlens.store.db import open_store

    n = int(repeat)
    gitdir = Path(gitdir_s)

    def sh(cmd: str) -> Callable[[], object]:
        return lambda: subprocess.run(["sh", "-c", cmd], cwd=gitdir, env=GIT_ENV, check=True)

    times: dict[str, float] = {}
    times["baseline: git log -p | git patch-id --stable"] = best_of(
        n, sh(f"git log -p {UTILS_BRANCH} | git patch-id --stable >/dev/null")
    )
    times["baseline part: git log -p alone"] = best_of(
        n, sh(f"git log -p {UTILS_BRANCH} >/dev/null")
    )
    shas = gitrepo.rev_list(gitdir, gitrepo.branch_head(gitdir, UTILS_BRANCH), [])
    out = gitrepo._run_log(gitdir, shas)
    times["git log with patchlens' arguments, one process"] = best_of(
        n, lambda: gitrepo._run_log(gitdir, shas)
    )
    records = list(gitrepo.parse_log(out))
    diffs = [r.diff for r in records if r.diff]
    times["parse_log, all of it"] = best_of(n, lambda: list(gitrepo.parse_log(out)))
    times["  of which patch_id"] = best_of(n, lambda: [patch_id(d) for d in diffs])
    times["  of which file_stats"] = best_of(n, lambda: [file_stats(d) for d in diffs])
    times["read_commits (2 git log in parallel + parse_log)"] = best_of(
        n, lambda: list(gitrepo.read_commits(gitdir, shas))
    )
    writes = []
    for i in range(n):
        engine = open_store(f"{db}.{i}")
        ingest.add_repo(engine, "erofs-utils", str(gitdir), [UTILS_BRANCH])
        with engine.connect() as conn:
            repo_id = conn.execute(select(schema.repos.c.id)).scalar_one()
        t = time.perf_counter()
        for j in range(0, len(records), 200):
            with engine.begin() as conn:
                store_commits(conn, repo_id, UTILS_BRANCH, records[j : j + 200])
        writes.append(time.perf_counter() - t)
        engine.dispose()
    times["SQLite writes (store_commits)"] = min(writes)
    print(json.dumps({"times": times}))


CHILDREN: dict[str, Callable[..., None]] = {
    "gitbreakdown": child_gitbreakdown,
    "cli": child_cli,
    "ingest": child_ingest,
    "perceval": child_perceval,
    "import": child_import,
    "floor": child_floor,
    "breakdown": child_breakdown,
    "profile": child_profile,
}


# --- the benchmark --------------------------------------------------------------------------


def best(xs: list[float]) -> float:
    return min(xs)


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def machine() -> list[str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "?",
    )
    mem = next(
        int(line.split()[1]) / 1024 / 1024
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    git_v = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()
    spec = importlib.util.find_spec("patchlens")
    pkg = Path(spec.origin).parent if spec and spec.origin else None
    head = subprocess.run(
        ["git", "describe", "--always", "--dirty"],
        cwd=pkg or ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    try:
        from importlib.metadata import version

        perceval_v = version("perceval")
    except Exception:
        perceval_v = "not installed"
    return [
        f"date      {time.strftime('%Y-%m-%d %H:%M')}",
        f"machine   nproc={len(os.sched_getaffinity(0))}, {cpu}, {mem:.1f} GiB RAM",
        f"software  Python {platform.python_version()}, {git_v}, perceval {perceval_v}",
        f"patchlens {pkg} ({head or 'not a git checkout'})",
    ]


def fmt_run(label: str, runs: list[Run], items: int, unit: str) -> str:
    walls = [r.wall for r in runs]
    return (
        f"  {label:<34} best {best(walls):6.2f} s  median {med(walls):6.2f} s"
        f"  {items / best(walls):8,.0f} {unit}/s (median {items / med(walls):,.0f})"
    )


LABELS = {
    "import": "baseline: import patchlens.cli",
    "catfile": "floor: git cat-file --batch, blobs by name",
    "perceval": "Perceval MBox (same messages)",
    "pi1": "patchlens public-inbox jobs=1",
    "pi2": "patchlens public-inbox jobs=2",
    "pi2b": f"  same, PATCHLENS_BATCH={SMALL_BATCH}",
    "mbox1": "patchlens mbox (same file) jobs=1",
    "mbox2": "patchlens mbox (same file) jobs=2",
    "gitbase": "baseline: git log -p | patch-id",
    "git": "patchlens git (dev)",
    "pi_noop": "no-op ingest, public-inbox list",
    "mbox_noop": "no-op ingest, mbox list",
    "git_noop": "no-op ingest, git repo",
    "cli_noop": "no-op `patchlens -q update`, both",
    "cli": "CLI update, list + repo, + review",
}


def stored(db: Path, table: str) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def main(argv: list[str] | None = None) -> None:
    user_environment()
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3, help="runs of each measurement (3)")
    ap.add_argument("--skip-perceval", action="store_true", help="no Perceval baseline")
    ap.add_argument("--profile", action="store_true", help="also split the time, run cProfile")
    ap.add_argument(
        "--whole-update",
        action="store_true",
        help="only: the whole `patchlens update` of erofs-2024.mbox.gz vs Perceval, in pairs",
    )
    ap.add_argument(
        "--before",
        type=Path,
        help="with --whole-update: also time the patchlens of this src/ folder (e.g. one"
        " `git archive` of an older commit unpacked) in each pair",
    )
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        CHILDREN[args.child[0]](*args.child[1:])
        return
    if args.whole_update:
        whole_update(max(1, args.repeat), args.before)
        return

    data = data_dir()
    archive_bundle, utils_bundle = data.joinpath(*ARCHIVE_BUNDLE), data.joinpath(*UTILS_BUNDLE)
    for p in (archive_bundle, utils_bundle):
        if not p.is_file():
            where = (
                "$PATCHLENS_DATA"
                if os.environ.get("PATCHLENS_DATA")
                else ("../shared/data beside the project root")
            )
            sys.exit(f"benchmark data missing: {p}\n(the data folder is {data}, from {where})")
    if not args.skip_perceval and importlib.util.find_spec("perceval") is None:
        sys.exit(
            "perceval is not installed: .venv/bin/pip install -e '.[bench]' "
            "(or pass --skip-perceval)"
        )
    n = max(1, args.repeat)
    for line in machine():
        print(line)
    print(f"repeat    {n} (best and median)\n")

    with tempfile.TemporaryDirectory(prefix="patchlens-bench-") as tmp_s:
        tmp = Path(tmp_s)
        archive, utils = tmp / "archive.git", tmp / "erofs-utils.git"
        mbox_dir = tmp / "mbox"
        mbox_dir.mkdir()
        mbox = mbox_dir / "erofs.mbox"
        print("setup (not part of the ingest figures):")
        clone_s = clone(archive_bundle, archive)
        print(f"  git clone --bare {archive_bundle.name}: {clone_s:.2f} s")
        print(f"  git clone --bare {utils_bundle.name}: {clone(utils_bundle, utils):.2f} s")
        t = time.perf_counter()
        exported = export_mboxrd(archive, mbox)
        print(
            f"  mboxrd export: {exported:,} messages, {mbox.stat().st_size / 1e6:.0f} MB,"
            f" {time.perf_counter() - t:.2f} s"
        )
        if exported != ARCHIVE_MESSAGES:
            print(f"  note: {exported:,} messages exported, {ARCHIVE_MESSAGES:,} expected")

        r: dict[str, list[Run]] = {}

        def add(key: str, run: Run) -> None:
            r.setdefault(key, []).append(check(run, LABELS[key]))

        db = tmp / "store.db"
        floor = (
            "git log --reverse --format= --raw --no-abbrev"
            " | awk '$6 == \"m\" && $5 ~ /^[AM]/ {print $4}' | git cat-file --batch >/dev/null"
        )
        pipeline = f"git log -p {UTILS_BRANCH} | git patch-id --stable >/dev/null"
        for i in range(n):
            print(f"round {i + 1}/{n} ...", flush=True)
            # Each round runs every measurement once, so drift hits them alike.
            add("import", measure([sys.executable, SELF, "--child", "import"]))
            add("catfile", measure(["sh", "-c", floor], cwd=archive, env=GIT_ENV))
            if not args.skip_perceval:
                add("perceval", measure([sys.executable, SELF, "--child", "perceval", mbox_dir]))
            for source, key in ((archive, "pi"), (mbox, "mbox")):
                for jobs in (1, 2):
                    new_store(db, list_source=source)
                    add(f"{key}{jobs}", patchlens_ingest(db, jobs))
                    r[f"{key}{jobs}"][-1].info["stored"] = stored(db, "message_sightings")
                add(f"{key}_noop", patchlens_ingest(db, 2))
            new_store(db, list_source=archive)
            add("pi2b", patchlens_ingest(db, 2, SMALL_BATCH))
            r["pi2b"][-1].info["stored"] = stored(db, "message_sightings")
            add("gitbase", measure(["sh", "-c", pipeline], cwd=utils, env=GIT_ENV))
            new_store(db, repo=utils)
            add("git", patchlens_ingest(db, 2))
            r["git"][-1].info["stored"] = stored(db, "commits")
            add("git_noop", patchlens_ingest(db, 2))
            # For information: the whole CLI update (ingest, then review reconstruction).
            new_store(db, list_source=archive, repo=utils)
            add("cli", patchlens_cli_update(db))
            add("cli_noop", patchlens_cli_update(db))
            drop_store(db)

        report(r, args.skip_perceval, clone_s, exported)
        if args.profile:
            profile(tmp, archive, utils, db, n)


def whole_update(n: int, before: Path | None = None) -> None:
    """Issue 11, target 2: the whole `patchlens update` (ingest, analysis, reconstruction,
    matching, metrics) of a list alone, against Perceval's mbox backend parsing the same file,
    in pairs run one after the other (so load drift hits both), `n` pairs. The figure is the
    median of the pairs' wall-time ratios, as a rate relative to Perceval's."""
    if importlib.util.find_spec("perceval") is None:
        sys.exit("perceval is not installed: .venv/bin/pip install -e '.[bench]'")
    src = data_dir().joinpath(*MBOX_2024)
    if not src.is_file():
        sys.exit(f"benchmark data missing: {src}")
    for line in machine():
        print(line)
    with tempfile.TemporaryDirectory(prefix="patchlens-bench-") as tmp_s:
        tmp = Path(tmp_s)
        mbox_dir = tmp / "mbox"
        mbox_dir.mkdir()
        shutil.copy(src, mbox_dir / src.name)  # Perceval reads every mbox of a directory
        db = tmp / "store.db"
        pairs: list[tuple[Run, Run]] = []
        olds: list[Run] = []
        floors: list[Run] = []
        for i in range(n):
            print(f"pair {i + 1}/{n} ...", flush=True)
            perc = check(
                measure([sys.executable, SELF, "--child", "perceval", mbox_dir]), "perceval"
            )
            new_store(db, list_source=mbox_dir / src.name)
            upd = check(patchlens_cli_update(db), "patchlens update")
            upd.info["stored"] = stored(db, "messages")
            pairs.append((perc, upd))
            floors.append(check(measure([sys.executable, SELF, "--child", "floor", src]), "floor"))
            if before is not None:
                new_store(db, list_source=mbox_dir / src.name)
                olds.append(check(patchlens_cli_update(db, before), "older patchlens update"))
        drop_store(db)
    items = pairs[0][0].info["items"]
    ratios = [u.wall / p.wall for p, u in pairs]
    print(f"\nWHOLE UPDATE of a list alone: {src.name} ({items:,} messages), {n} pairs")
    print(f"  {'':<34}{'median s':>9}{'best s':>9}{'msg/s':>9}{'tree MB':>9}")
    for label, runs in (
        ("Perceval MBox fetch (process)", [p for p, _ in pairs]),
        ("patchlens -q update (process)", [u for _, u in pairs]),
    ):
        walls = [r.wall for r in runs]
        print(
            f"  {label:<34}{med(walls):9.2f}{best(walls):9.2f}{items / med(walls):9,.0f}"
            f"{max(r.tree_mb for r in runs):9.0f}"
        )
    if olds:
        walls = [r.wall for r in olds]
        print(
            f"  {'the same, patchlens of --before':<34}{med(walls):9.2f}{best(walls):9.2f}"
            f"{items / med(walls):9,.0f}{max(r.tree_mb for r in olds):9.0f}"
        )
        ratios_old = [o.wall / p.wall for (p, _), o in zip(pairs, olds, strict=True)]
        print(
            f"  --before: ratio to Perceval, median of pairs {med(ratios_old):.2f}:"
            f" {1 / med(ratios_old):.2f}x Perceval's rate"
        )
    upd_s = [u.info["update_s"] for _, u in pairs]
    imp_s = [u.info["import_s"] for _, u in pairs]
    print(
        f"  patchlens split (medians): import {med(imp_s):.2f} s, update {med(upd_s):.2f} s;"
        f" messages stored {pairs[0][1].info['stored']:,}"
    )
    cores = os.cpu_count() or 1
    imp_f = med([f.info["import_s"] for f in floors])
    read_f = med([f.info["read_s"] for f in floors])
    parse_f = med([f.info["parse_s"] for f in floors])
    floor_s = med([f.wall for f in floors]) - parse_f + parse_f / cores
    perc_s = med([p.wall for p, _ in pairs])
    if floors[0].info["items"] != items:
        print(f"  (the floor split {floors[0].info['items']:,} messages, Perceval {items:,})")
    print(
        f"  floor (one process: import {imp_f:.2f} s, reading and splitting the file"
        f" {read_f:.2f} s, stdlib parse of the {floors[0].info['items']:,} messages"
        f" {parse_f:.2f} s, process wall {med([f.wall for f in floors]):.2f} s): with the"
        f" parse spread over {cores} cores and nothing analysed or stored, {floor_s:.2f} s,"
        f" at most {perc_s / floor_s:.2f}x Perceval's rate"
    )
    print(
        f"  wall-time ratio update/Perceval, median of pairs {med(ratios):.2f}"
        f" (each: {', '.join(f'{x:.2f}' for x in ratios)}):"
        f" {1 / med(ratios):.2f}x Perceval's rate (target >= 4x)"
    )


def report(r: dict[str, list[Run]], skip_perceval: bool, clone_s: float, nmsg: int) -> None:
    """The tables: throughput with ratios, memory, no-op updates, and a summary."""
    wall = {k: [x.wall for x in v] for k, v in r.items()}
    upd = {k: [x.info.get("update_s", x.wall) for x in v] for k, v in r.items()}
    print(f"\nLIST INGEST ({nmsg:,} messages; wall time of the whole process)")
    for key in ("catfile", "perceval", "pi1", "pi2", "pi2b", "mbox1", "mbox2"):
        if key not in r:
            continue
        print(fmt_run(LABELS[key], r[key], ARCHIVE_MESSAGES, "msg"))
        if key == "perceval":
            fetch = [x.info["fetch_s"] for x in r[key]]
            items = r[key][0].info["items"]
            print(
                f"  {'':<34} fetch() alone best {best(fetch):.2f} s ="
                f" {ARCHIVE_MESSAGES / best(fetch):,.0f} msg/s; returned {items:,} of {nmsg:,}"
            )
        elif key != "catfile":
            print(
                f"  {'':<34} run_update() alone best {best(upd[key]):.2f} s ="
                f" {ARCHIVE_MESSAGES / best(upd[key]):,.0f} msg/s;"
                f" sightings stored {r[key][0].info['stored']:,}"
            )
    print(f"  (the bundle's clone, which a lore mirror does not need: {clone_s:.2f} s)")

    print(f"\nGIT INGEST ({UTILS_COMMITS:,} commits of erofs-utils {UTILS_BRANCH})")
    print(fmt_run(LABELS["gitbase"], r["gitbase"], UTILS_COMMITS, "commit"))
    print(fmt_run(LABELS["git"], r["git"], UTILS_COMMITS, "commit"))
    print(
        f"  {'':<34} run_update() alone best {best(upd['git']):.2f} s ="
        f" {UTILS_COMMITS / best(upd['git']):,.0f} commit/s;"
        f" commits stored {r['git'][0].info['stored']:,}"
    )
    # The fixed cost of a run (interpreter, imports, opening the store) is what a no-op
    # ingest costs; what is left is the cost that grows with the commits.
    marginal = max(1e-3, best(wall["git"]) - best(wall["git_noop"]))
    marginal_m = max(1e-3, med(wall["git"]) - med(wall["git_noop"]))
    print(
        f"  {'':<34} minus a no-op ingest: best {marginal:.2f} s ="
        f" {UTILS_COMMITS / marginal:,.0f} commit/s, {best(wall['gitbase']) / marginal:.0%}"
        f" of the baseline's (medians: {med(wall['gitbase']) / marginal_m:.0%})"
    )

    print(
        "\nMEMORY (MB, peak over the runs. main, worker, git: VmHWM per process; tree RSS: summed"
        "\n  over the process tree, shared pages counted in each; tree PSS: shared pages split,"
        "\n  what the run really holds)"
    )
    cols = ("main", "worker", "git", "tree RSS", "tree PSS")
    print(f"  {'':<34}" + "".join(f"{c:>9}" for c in cols))
    for key in ("perceval", "pi1", "pi2", "pi2b", "mbox1", "mbox2", "git", "pi_noop", "cli"):
        if key not in r:
            continue
        runs = r[key]
        vals = (
            max(x.main_mb for x in runs),
            max(x.worker_mb for x in runs),
            max(x.git_mb for x in runs),
            max(x.tree_mb for x in runs),
            max(x.pss_mb for x in runs),
        )
        print(f"  {LABELS[key]:<34}" + "".join(f"{v:9.0f}" for v in vals))

    print("\nNO-OP UPDATE (a second update, nothing new)")
    for key in ("import", "pi_noop", "mbox_noop", "git_noop", "cli_noop"):
        walls = wall[key]
        split = ""
        if key != "import":
            imp = med([x.info["import_s"] for x in r[key]])
            split = f"  (medians: import {imp:.2f} s, the command {med(upd[key]):.2f} s)"
        print(f"  {LABELS[key]:<34} best {best(walls):6.2f} s  median {med(walls):6.2f} s{split}")

    print(
        "\nFOR INFORMATION: `patchlens -q update` on a fresh store, both sources, review included"
    )
    print(
        f"  {LABELS['cli']:<34} best {best(wall['cli']):6.2f} s  median {med(wall['cli']):6.2f} s"
    )

    def rate(key: str, items: int) -> tuple[float, float]:
        return items / best(wall[key]), items / med(wall[key])

    rows: list[tuple[str, str, str, str]] = [("", "best (median)", "vs baseline", "vs target")]
    for key in ("pi2", "pi1", "pi2b", "mbox2", "mbox1"):
        b, m = rate(key, ARCHIVE_MESSAGES)
        vs = ""
        if not skip_perceval:
            pb, pm = rate("perceval", ARCHIVE_MESSAGES)
            vs = f"{b / pb:.2f}x Perceval ({m / pm:.2f}x)"
        rows.append(
            (
                LABELS[key].removeprefix("patchlens ").replace("  same,", "  pi jobs=2,"),
                f"{b:,.0f} msg/s ({m:,.0f})",
                vs,
                f"{b / TARGET_MSG_S:.0%} of 20,000 msg/s",
            )
        )
    if not skip_perceval:
        b, m = rate("perceval", ARCHIVE_MESSAGES)
        rows.append(("Perceval", f"{b:,.0f} msg/s ({m:,.0f})", "", ""))
    b, m = rate("catfile", ARCHIVE_MESSAGES)
    rows.append(("git cat-file alone (floor)", f"{b:,.0f} msg/s ({m:,.0f})", "", ""))
    gb, gm = rate("git", UTILS_COMMITS)
    bb, bm = rate("gitbase", UTILS_COMMITS)
    rows.append(
        (
            "git ingest",
            f"{gb:,.0f} commit/s ({gm:,.0f})",
            f"{gb / bb:.0%} of git ({gm / bm:.0%})",
            f"{'met' if gb / bb >= TARGET_GIT_PCT / 100 else 'missed'}: >= 90%",
        )
    )
    rows.append(
        (
            "  minus a no-op ingest",
            f"{UTILS_COMMITS / marginal:,.0f} commit/s ({UTILS_COMMITS / marginal_m:,.0f})",
            f"{best(wall['gitbase']) / marginal:.0%} of git"
            f" ({med(wall['gitbase']) / marginal_m:.0%})",
            "",
        )
    )
    vs = "" if skip_perceval else f"Perceval {max(x.pss_mb for x in r['perceval']):.0f} MB"
    for label, ingests in (
        ("peak memory, any ingest", ("pi1", "pi2", "mbox1", "mbox2", "git")),
        (f"  pi jobs=2, PATCHLENS_BATCH={SMALL_BATCH}", ("pi2b",)),
    ):
        pss = max(x.pss_mb for k in ingests for x in r[k])
        rss = max(x.tree_mb for k in ingests for x in r[k])
        rows.append(
            (
                label,
                f"{pss:.0f} MB PSS ({rss:.0f} RSS sum)",
                vs,
                f"{'met' if pss < TARGET_MB else 'missed'}: < 500 MB",
            )
        )
        vs = ""
    worst = max(med(wall[k]) for k in ("pi_noop", "mbox_noop", "git_noop", "cli_noop"))
    rows.append(
        (
            "no-op update, worst case",
            f"median {worst:.2f} s",
            f"import alone {med(wall['import']):.2f} s",
            f"{'met' if worst < TARGET_NOOP_S else 'missed'}: < 1 s",
        )
    )
    print("\nSUMMARY")
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  " + "  ".join(c.ljust(widths[i]) for i, c in enumerate(row)).rstrip())


def _print_profile(path: Path) -> None:
    keep = False
    for line in path.read_text().splitlines():
        if line.startswith("wall") or "ncalls" in line:
            keep = True
        if keep and line.strip():
            print("  " + line.strip()[:140])


def profile(tmp: Path, archive: Path, utils: Path, db: Path, n: int) -> None:
    """Where the time goes: each ingest split into steps, then cProfile of the main process."""
    print(f"\nPROFILE: list ingest split into steps (one process, no workers; best of {n})")
    cmd = [sys.executable, SELF, "--child", "breakdown", archive, db, str(n)]
    run = check(measure(cmd), "split")
    nmsg = run.info["messages"]
    print(f"  {nmsg:,} messages, {run.info['raw_mb']:.0f} MB raw")
    for step, secs in run.info["times"].items():
        print(f"  {step:<46} {secs:6.2f} s  {1e6 * secs / nmsg:5.0f} us/msg")

    print(f"\nPROFILE: git ingest split into steps (one process; best of {n})")
    cmd = [sys.executable, SELF, "--child", "gitbreakdown", utils, tmp / "git.db", str(n)]
    run = check(measure(cmd), "split")
    for step, secs in run.info["times"].items():
        print(f"  {step:<46} {secs:6.2f} s  {1e6 * secs / UTILS_COMMITS:5.0f} us/commit")

    for jobs in (1, 2):
        new_store(db, list_source=archive)
        out = tmp / f"profile{jobs}.txt"
        check(measure([sys.executable, SELF, "--child", "profile", db, str(jobs), out]), "prof")
        print(f"\ncProfile of the list ingest, main thread of the main process, jobs={jobs}:")
        _print_profile(out)
    drop_store(db)


if __name__ == "__main__":
    main()
