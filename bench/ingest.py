#!/usr/bin/env python3
"""Ingest benchmark (issue #2): patchlens against baselines run in the same run.

Machines here are shared and noisy, so every figure is paired with a baseline measured in the
same run, and every measurement is repeated (best and median of --repeat runs, interleaved so
that drift hits patchlens and its baseline alike).

  list ingest   the EROFS public-inbox archive (15,218 messages), cloned from its bundle;
                baseline: Perceval's mbox backend on the same messages exported as one mboxrd
                file (patchlens also ingests that file), and `git cat-file --batch-all-objects`
                (the floor for reading the archive)
  git ingest    erofs-utils, branch dev (1,072 commits);
                baseline: `git log -p dev | git patch-id --stable`
  memory        peak RSS of each run's process tree, sampled from /proc every 50 ms
  no-op update  a second `update` with nothing new; baseline: `import patchlens.cli`

patchlens runs as its CLI (`python -m patchlens --db X -q update`, PATCHLENS_JOBS=N) in a child
process. With --profile it also splits one run's time into reading, parsing, compression and
SQLite writes, and prints cProfile's top functions of the main process.

Usage: .venv/bin/python bench/ingest.py [--repeat N] [--skip-perceval] [--profile]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
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

ROOT = Path(__file__).resolve().parents[1]
ARCHIVE_BUNDLE = ("erofs", "linux-erofs-archive.0.bundle")
UTILS_BUNDLE = ("erofs", "erofs-utils.bundle")
ARCHIVE_MESSAGES = 15218
UTILS_BRANCH = "dev"
UTILS_COMMITS = 1072
TARGET_MSG_S = 20_000
TARGET_GIT_PCT = 90.0
TARGET_MB = 500.0
TARGET_NOOP_S = 1.0
MBOXRD_SEP = b"From mboxrd@z Thu Jan  1 00:00:00 1970\n"
SAMPLE_S = 0.05
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
    tree_mb: float = 0.0  # peak of the RSS summed over the whole tree (shared pages counted
    # in every process: an upper bound)
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


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        kids = children.get(pid, [])
        out.extend(kids)
        todo.extend(kids)
    return out


class _Sampler(threading.Thread):
    """Samples the process tree under `root` every SAMPLE_S seconds until stopped."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.stop = threading.Event()
        self.hwm: dict[int, tuple[str, float]] = {}
        self.tree_peak = 0.0

    def run(self) -> None:
        while not self.stop.is_set():
            total = 0.0
            for pid in [self.root, *_descendants(self.root)]:
                st = _proc_status(pid)
                if st is None:
                    continue
                name, rss, hwm = st
                total += rss
                self.hwm[pid] = (name, max(hwm, self.hwm.get(pid, ("", 0.0))[1]))
            self.tree_peak = max(self.tree_peak, total)
            self.stop.wait(SAMPLE_S)


def measure(
    cmd: Sequence[str], *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> Run:
    """Run `cmd`, timing it and sampling its memory; a JSON line on its stdout goes to info."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err)
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
    from patchlens import ingest
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


def patchlens_update(db: Path, jobs: int) -> Run:
    """`python -m patchlens --db DB -q update` run through this script, which adds timings."""
    env = {**os.environ, "PATCHLENS_JOBS": str(jobs)}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "cli", str(db)]
    return check(measure(cmd, env=env), f"patchlens update ({db.name}, jobs={jobs})")


# --- child processes ------------------------------------------------------------------------


def child_cli(db: str) -> None:
    """The patchlens CLI in this process, timing its import and its run."""
    t0 = time.perf_counter()
    from patchlens.cli import app

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


def child_breakdown(gitdir: str, db: str) -> None:
    """One process, no workers: read the archive, parse, compress, write; each step timed."""
    import pickle

    from sqlalchemy import select

    from patchlens.mail.parse import ParsedMessage, parse_message
    from patchlens.sources.publicinbox import PublicInboxSource
    from patchlens.store import schema as s
    from patchlens.store.db import open_store
    from patchlens.store.schema import compress, compress_text
    from patchlens.store.writer import parse_batch, save_source_cursor, store_messages

    times: dict[str, float] = {}
    t = time.perf_counter()
    batches = list(PublicInboxSource(gitdir, Path(db + ".cache")).plan(None, 1000).batches)
    times["read (git log + cat-file + framing)"] = time.perf_counter() - t
    msgs = [m for b in batches for m in b.messages]

    t = time.perf_counter()
    results: list[ParsedMessage | None] = []
    for m in msgs:
        try:
            results.append(parse_message(m.raw, m.archive_date))
        except Exception:
            results.append(None)
    times["parse_message only"] = time.perf_counter() - t

    t = time.perf_counter()
    for m, r in zip(msgs, results, strict=True):
        compress(m.raw)
        if r is not None:
            compress_text(r.body)
            if r.diff is not None:
                compress_text(r.diff)
    times["zstd compression only (raw, body, diff)"] = time.perf_counter() - t

    t = time.perf_counter()
    parsed = [parse_batch(b.messages) for b in batches]
    times["parse_batch (parse + compress)"] = time.perf_counter() - t

    t = time.perf_counter()
    pickle.loads(pickle.dumps(parsed, protocol=pickle.HIGHEST_PROTOCOL))
    times["pickle round trip of the parses (jobs>1 IPC)"] = time.perf_counter() - t

    engine = open_store(db)
    with engine.connect() as conn:
        source_id, list_id = conn.execute(
            select(s.list_sources.c.id, s.list_sources.c.list_id)
        ).one()
    t = time.perf_counter()
    for b, p in zip(batches, parsed, strict=True):
        with engine.begin() as conn:
            store_messages(conn, source_id, list_id, p)
            if b.cursor is not None:
                save_source_cursor(conn, source_id, b.cursor)
    times["SQLite writes (store_messages)"] = time.perf_counter() - t
    print(
        json.dumps(
            {
                "messages": len(msgs),
                "raw_mb": sum(len(m.raw) for m in msgs) / 1e6,
                "times": times,
            }
        )
    )


def child_profile(db: str, jobs: str, out: str) -> None:
    """cProfile of one update in this (the main) process; forked workers are not profiled."""
    import cProfile
    import pstats

    from patchlens import ingest
    from patchlens.progress import Reporter
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


CHILDREN: dict[str, Callable[..., None]] = {
    "cli": child_cli,
    "perceval": child_perceval,
    "import": child_import,
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
    head = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True
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
        f"patchlens {head or '?'}",
    ]


def fmt_run(label: str, runs: list[Run], items: int, unit: str) -> str:
    walls = [r.wall for r in runs]
    return (
        f"  {label:<34} best {best(walls):6.2f} s  median {med(walls):6.2f} s"
        f"  {items / best(walls):8,.0f} {unit}/s (median {items / med(walls):,.0f})"
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3, help="runs of each measurement (3)")
    ap.add_argument("--skip-perceval", action="store_true", help="no Perceval baseline")
    ap.add_argument("--profile", action="store_true", help="also split the time and run cProfile")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        CHILDREN[args.child[0]](*args.child[1:])
        return

    data = data_dir()
    archive_bundle, utils_bundle = data.joinpath(*ARCHIVE_BUNDLE), data.joinpath(*UTILS_BUNDLE)
    for p in (archive_bundle, utils_bundle):
        if not p.is_file():
            sys.exit(
                f"benchmark data missing: {p}\n(expected ../shared/data beside the project "
                f"root, i.e. {data}; or set PATCHLENS_DATA)"
            )
    if not args.skip_perceval:
        try:
            import perceval  # noqa: F401
        except ImportError:
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
        print("setup (not timed as ingest):")
        t_clone_a = clone(archive_bundle, archive)
        print(f"  git clone --bare {archive_bundle.name}: {t_clone_a:.2f} s")
        t_clone_u = clone(utils_bundle, utils)
        print(f"  git clone --bare {utils_bundle.name}: {t_clone_u:.2f} s")
        t = time.perf_counter()
        exported = export_mboxrd(archive, mbox)
        print(
            f"  mboxrd export: {exported:,} messages, {mbox.stat().st_size / 1e6:.0f} MB,"
            f" {time.perf_counter() - t:.2f} s\n"
        )
        if exported != ARCHIVE_MESSAGES:
            print(f"  note: {exported} messages exported, {ARCHIVE_MESSAGES} expected")

        r: dict[str, list[Run]] = {}

        def add(key: str, run: Run) -> Run:
            r.setdefault(key, []).append(run)
            return run

        db = tmp / "store.db"
        floor_cmd = ["git", "cat-file", "--batch-all-objects", "--batch", "--unordered"]
        for i in range(n):
            print(f"round {i + 1}/{n} ...", flush=True)
            add("import", check(measure([sys.executable, __file__, "--child", "import"]), "imp"))
            # list ingest: floor, Perceval, patchlens (public-inbox, then the same mbox)
            add(
                "catfile",
                check(
                    measure(["sh", "-c", " ".join(floor_cmd) + " >/dev/null"], cwd=archive), "cf"
                ),
            )
            if not args.skip_perceval:
                cmd = [sys.executable, __file__, "--child", "perceval", str(mbox_dir)]
                add("perceval", check(measure(cmd), "perceval"))
            for jobs in (1, 2):
                new_store(db, list_source=archive)
                run = add(f"pi{jobs}", patchlens_update(db, jobs))
                if jobs == 2:
                    add("pi_noop", patchlens_update(db, jobs))
                del run
            for jobs in (1, 2):
                new_store(db, list_source=mbox)
                add(f"mbox{jobs}", patchlens_update(db, jobs))
                if jobs == 2:
                    add("mbox_noop", patchlens_update(db, jobs))
            # git ingest
            pipeline = f"git log -p {UTILS_BRANCH} | git patch-id --stable >/dev/null"
            add("gitbase", check(measure(["sh", "-c", pipeline], cwd=utils, env=GIT_ENV), "git"))
            new_store(db, repo=utils)
            add("git", patchlens_update(db, 2))
            add("git_noop", patchlens_update(db, 2))
            drop_store(db)

        report(r, n, args.skip_perceval, t_clone_a, exported)

        if args.profile:
            profile(tmp, archive, db)


def report(r: dict[str, list[Run]], n: int, skip_perceval: bool, clone_s: float, nmsg: int) -> None:
    """The tables: throughput with ratios, memory, no-op updates."""
    w = {k: [x.wall for x in v] for k, v in r.items()}
    upd = {k: [x.info.get("update_s", x.wall) for x in v] for k, v in r.items()}
    print("\nLIST INGEST (15,218 messages; end to end = the whole `patchlens update` process)")
    print(fmt_run("floor: git cat-file --batch-all", r["catfile"], ARCHIVE_MESSAGES, "msg"))
    if not skip_perceval:
        items = r["perceval"][0].info["items"]
        fetch = [x.info["fetch_s"] for x in r["perceval"]]
        print(fmt_run("Perceval MBox, process", r["perceval"], ARCHIVE_MESSAGES, "msg"))
        print(
            f"  {'':<34} fetch() alone best {best(fetch):.2f} s = "
            f"{ARCHIVE_MESSAGES / best(fetch):,.0f} msg/s; items returned {items:,} of {nmsg:,}"
        )
    for key, label in (
        ("pi1", "patchlens public-inbox jobs=1"),
        ("pi2", "patchlens public-inbox jobs=2"),
        ("mbox1", "patchlens mbox (same file) jobs=1"),
        ("mbox2", "patchlens mbox (same file) jobs=2"),
    ):
        print(fmt_run(label, r[key], ARCHIVE_MESSAGES, "msg"))
        print(
            f"  {'':<34} in update() best {best(upd[key]):.2f} s ="
            f" {ARCHIVE_MESSAGES / best(upd[key]):,.0f} msg/s"
        )
    print(f"  (cloning the bundle first, not needed for a lore mirror: {clone_s:.2f} s)")

    print("\nGIT INGEST (erofs-utils dev, 1,072 commits)")
    print(fmt_run("baseline: git log -p | patch-id", r["gitbase"], UTILS_COMMITS, "commit"))
    print(fmt_run("patchlens", r["git"], UTILS_COMMITS, "commit"))
    print(
        f"  {'':<34} in update() best {best(upd['git']):.2f} s ="
        f" {UTILS_COMMITS / best(upd['git']):,.0f} commit/s"
    )

    print("\nMEMORY (MB, largest over the runs; tree = summed RSS, an upper bound)")
    print(f"  {'run':<34} {'main':>7} {'worker':>7} {'git':>7} {'tree':>7} {'maxrss':>7}")
    keys = ["perceval"] if not skip_perceval else []
    keys += ["pi1", "pi2", "mbox1", "mbox2", "git", "pi_noop"]
    for key in keys:
        runs = r[key]
        print(
            f"  {key:<34} {max(x.main_mb for x in runs):7.0f} {max(x.worker_mb for x in runs):7.0f}"
            f" {max(x.git_mb for x in runs):7.0f} {max(x.tree_mb for x in runs):7.0f}"
            f" {max(x.maxrss_mb for x in runs):7.0f}"
        )

    print("\nNO-OP UPDATE (second update, nothing new)")
    print(fmt_run("baseline: import patchlens.cli", r["import"], 1, "run"))
    for key in ("pi_noop", "mbox_noop", "git_noop"):
        print(fmt_run(key, r[key], 1, "run"))

    # The summary: every figure with its same-run baseline and its target.
    def rate(key: str, items: int, agg: Callable[[list[float]], float]) -> float:
        return items / agg(w[key])

    rows: list[tuple[str, str, str, str]] = []
    for key, label in (
        ("pi2", "list ingest, public-inbox, jobs=2"),
        ("pi1", "list ingest, public-inbox, jobs=1"),
        ("mbox2", "list ingest, mbox, jobs=2"),
    ):
        b, m = rate(key, ARCHIVE_MESSAGES, best), rate(key, ARCHIVE_MESSAGES, med)
        ratio = ""
        if not skip_perceval:
            pb = rate("perceval", ARCHIVE_MESSAGES, best)
            pm = rate("perceval", ARCHIVE_MESSAGES, med)
            ratio = f"{b / pb:.1f}x Perceval (median {m / pm:.1f}x)"
        rows.append(
            (label, f"{b:,.0f} msg/s (median {m:,.0f})", ratio, f"{b / TARGET_MSG_S:.0%} of 20,000")
        )
    fb = rate("catfile", ARCHIVE_MESSAGES, best)
    rows.append(("  floor: git cat-file alone", f"{fb:,.0f} msg/s", "", ""))
    gb, gm = rate("git", UTILS_COMMITS, best), rate("git", UTILS_COMMITS, med)
    bb, bm = rate("gitbase", UTILS_COMMITS, best), rate("gitbase", UTILS_COMMITS, med)
    pct_b, pct_m = 100 * gb / bb, 100 * gm / bm
    rows.append(
        (
            "git ingest",
            f"{gb:,.0f} commit/s (median {gm:,.0f})",
            f"{pct_b:.0f}% of git (median {pct_m:.0f}%)",
            ("met" if pct_b >= TARGET_GIT_PCT else "missed") + " (>= 90%)",
        )
    )
    peak = max(x.tree_mb for k in ("pi1", "pi2", "mbox1", "mbox2", "git") for x in r[k])
    main_peak = max(x.main_mb for k in ("pi1", "pi2", "mbox1", "mbox2", "git") for x in r[k])
    ratio = ""
    if not skip_perceval:
        ratio = f"Perceval {max(x.main_mb for x in r['perceval']):.0f} MB"
    rows.append(
        (
            "peak memory (any run)",
            f"tree {peak:.0f} MB, main {main_peak:.0f} MB",
            ratio,
            ("met" if peak < TARGET_MB else "missed") + " (< 500 MB)",
        )
    )
    nb = best(w["pi_noop"] + w["mbox_noop"] + w["git_noop"])
    nm = max(med(w[k]) for k in ("pi_noop", "mbox_noop", "git_noop"))
    rows.append(
        (
            "no-op update",
            f"{nb:.2f} s (worst median {nm:.2f})",
            f"import alone {best(w['import']):.2f} s",
            ("met" if nm < TARGET_NOOP_S else "missed") + " (< 1 s)",
        )
    )
    print("\nSUMMARY")
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  " + "  ".join(c.ljust(widths[i]) for i, c in enumerate(row)).rstrip())


def profile(tmp: Path, archive: Path, db: Path) -> None:
    """Where the list ingest time goes: a step-by-step split, then cProfile of the main process."""
    print("\nPROFILE: the list ingest split into steps (one process, no workers)")
    new_store(db, list_source=archive)
    cmd = [sys.executable, __file__, "--child", "breakdown", str(archive), str(db)]
    run = check(measure(cmd), "breakdown")
    info = run.info
    nmsg = info["messages"]
    print(f"  {nmsg:,} messages, {info['raw_mb']:.0f} MB raw; peak RSS {run.main_mb:.0f} MB")
    for step, secs in info["times"].items():
        print(f"  {step:<42} {secs:6.2f} s  {1e6 * secs / nmsg:6.0f} us/msg")
    for jobs in (1, 2):
        new_store(db, list_source=archive)
        out = tmp / f"profile{jobs}.txt"
        check(
            measure([sys.executable, __file__, "--child", "profile", str(db), str(jobs), str(out)]),
            "profile",
        )
        print(f"\ncProfile, main process, jobs={jobs} (top by tottime):")
        keep = False
        for line in out.read_text().splitlines():
            if line.startswith("wall") or "ncalls" in line:
                keep = True
            if keep and line.strip():
                print("  " + line.strip()[:150])
    drop_store(db)


if __name__ == "__main__":
    main()
