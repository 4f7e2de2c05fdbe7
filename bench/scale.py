#!/usr/bin/env python3
"""Linux-scale baseline (issue 11): `patchlens update` on lists of the corpus.json manifest.

Drives patchlens only through its command line (`patchlens --db DB add-list NAME PATH`,
`update`, `status --json`), so it measures whatever code the venv has installed, and
imports nothing from patchlens. For each run it records:

  wall     the whole `patchlens update` (ingest, review, matching, metrics)
  rate     messages the run added to the store / wall
  memory   peak of the whole process tree (main process, workers, git) at a sample (every
           0.5 s), as the sum of RSS (counts a page shared by forked workers or mapped by
           several git processes once per process) and as the sum of PSS (each page once,
           shared ones split among their processes: the tree's real footprint); and the
           largest single process' RSS high-water mark
  load     the 1-minute load average before, and its mean while the run went on (2 cores:
           anything above ~2 means the run shared the machine)
  cpu      user + system CPU seconds of the whole tree: on a shared machine, messages per
           CPU second is the figure that does not depend on what else runs
  stages   each line patchlens prints (a finished step), stamped with the time it came
  timeline the tree's PSS and the updating process's RSS every 10 s (`memory` in the JSON),
           and the step running at each peak (the first line printed after it)

A run over --timeout seconds, or whose tree goes over --max-rss-mb, is stopped (the tree is
sent SIGTERM, then SIGKILL), and what the store holds then is reported with the last stage
reached: that is how far it got.

--repo NAME=PATH (repeatable) registers a repository beside the lists before the cold run
(e.g. the 35,000-message linux-iio cut with util-linux: issue 11's cold case with a
repository).

--local-cluster N runs the updates with `--scheduler` on a Dask LocalCluster of N worker
processes (one thread each) started here, so the per-message work travels to the workers as it
would to remote ones; the workers' memory counts in the tree's, and their CPU seconds (read
from each worker) are added to the tree's and reported apart (issue 11, target 5).
--scheduler ADDRESS does the same with the workers of a scheduler already running
(`dask scheduler` and `dask worker` started apart, as on other machines); the memory of those
on this machine counts in the tree's, the others' CPU seconds only.

--hold-back-day takes the last day of mail (by archive commit time) out of each list before
the cold run by moving its newest epoch's branch back in the shared clone made by
bench/corpus.py (the fetched mirror is not touched), then puts it back and times the
update that reads that one new day; a no-op update follows. The branch is restored even if
a run fails.

Usage:
  bench/scale.py --manifest /work/corpus/manifest.json --lists linux-usb \\
      --db /work/corpus/usb.db --hold-back-day --json /work/corpus/usb.json
  bench/scale.py --manifest /work/corpus/manifest.json --db /work/corpus/all.db --timeout 2400
  bench/scale.py --manifest /work/corpus/manifest.json --db /work/corpus/all-dask.db \\
      --local-cluster 2 --timeout 9000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from proctree import descendants, pss_mb  # bench/ (the script's own folder is on sys.path)
from userenv import user_environment  # bench/

SAMPLE_S = 0.5
MEMORY_EVERY_S = 10.0  # the timeline kept in the JSON (peaks are taken at every sample)
DAY = 86400


def _rss_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) in MB of a live process; zeros if it is gone."""
    rss = hwm = 0.0
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return rss, hwm
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
        elif line.startswith("VmHWM:"):
            hwm = int(line.split()[1]) / 1024
    return rss, hwm


def load1() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


@dataclass
class Run:
    """One measured command."""

    what: str
    cmd: list[str]
    started: str = ""
    wall_s: float = 0.0
    rc: int | None = None
    stopped: str = ""  # why the bench stopped it, if it did
    tree_peak_mb: float = 0.0  # the sum of the tree's RSS at its highest sample
    tree_peak_pss_mb: float = 0.0  # the sum of the tree's PSS at its highest sample
    process_peak_mb: float = 0.0
    load_before: float = 0.0
    load_mean: float = 0.0
    cpu_s: float = 0.0  # user + system CPU of the whole tree (reaped processes)
    stages: list[tuple[float, str]] = field(default_factory=list)
    messages: int = 0
    rate_msg_s: float = 0.0
    new_messages: int = 0
    workers_cpu_s: float = 0.0  # CPU of the Dask workers (--local-cluster), within cpu_s
    # When the peaks came, and the step then running (the first line printed after: a step
    # prints its line when it ends): which step holds the memory, not only how much.
    tree_peak_at_s: float = 0.0
    tree_peak_step: str = ""
    main_peak_mb: float = 0.0  # the updating process's own RSS at its highest sample
    main_peak_at_s: float = 0.0
    main_peak_step: str = ""
    # (seconds, tree PSS MB, updating process RSS MB) every MEMORY_EVERY_S seconds.
    memory: list[tuple[float, float, float]] = field(default_factory=list)


def measure(
    what: str, cmd: list[str], timeout: float, max_rss_mb: float, extra: tuple[int, ...] = ()
) -> Run:
    """Run `cmd` in its own process group, sampling its tree and the processes `extra` (Dask
    workers, which are not its children); stop it past the limits."""
    run = Run(what, cmd, started=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()))
    run.load_before = load1()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )

    def read_lines() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            if line.strip():
                run.stages.append((round(time.perf_counter() - t0, 1), line))
                print(f"  [{time.perf_counter() - t0:7.1f} s] {line}", flush=True)

    reader = threading.Thread(target=read_lines, daemon=True)
    reader.start()
    loads: list[float] = []
    hwm: dict[int, float] = {}
    next_memory = 0.0
    while proc.poll() is None:
        tree = [proc.pid, *descendants(proc.pid), *extra]
        total = pss = main = 0.0
        for pid in tree:
            rss, h = _rss_mb(pid)
            total += rss
            pss += pss_mb(pid)
            hwm[pid] = max(hwm.get(pid, 0.0), h)
            if pid == proc.pid:
                main = rss
        elapsed = time.perf_counter() - t0
        run.tree_peak_mb = max(run.tree_peak_mb, total)
        if pss > run.tree_peak_pss_mb:
            run.tree_peak_pss_mb, run.tree_peak_at_s = pss, round(elapsed, 1)
        if main > run.main_peak_mb:
            run.main_peak_mb, run.main_peak_at_s = main, round(elapsed, 1)
        if elapsed >= next_memory:
            run.memory.append((round(elapsed, 1), round(pss, 1), round(main, 1)))
            next_memory = elapsed + MEMORY_EVERY_S
        loads.append(load1())
        if not run.stopped and elapsed > timeout:
            run.stopped = f"over the time limit ({timeout:.0f} s)"
        elif not run.stopped and total > max_rss_mb:
            run.stopped = f"over the memory limit ({total:.0f} MB > {max_rss_mb:.0f} MB)"
        if run.stopped:
            stop(proc)
            break
        time.sleep(SAMPLE_S)
    proc.wait()
    run.wall_s = round(time.perf_counter() - t0, 1)
    reader.join(timeout=5)
    run.rc = proc.returncode
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    run.cpu_s = round(ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime, 1)
    run.process_peak_mb = round(max(hwm.values(), default=0.0), 1)
    run.tree_peak_mb = round(run.tree_peak_mb, 1)
    run.tree_peak_pss_mb = round(run.tree_peak_pss_mb, 1)
    run.main_peak_mb = round(run.main_peak_mb, 1)
    run.tree_peak_step = _step_at(run.stages, run.tree_peak_at_s)
    run.main_peak_step = _step_at(run.stages, run.main_peak_at_s)
    run.load_mean = round(sum(loads) / len(loads), 2) if loads else load1()
    return run


def _step_at(stages: list[tuple[float, str]], at: float) -> str:
    """The step running at `at` seconds: the first line printed then or later."""
    return next((line.strip()[:80] for t, line in stages if t >= at), "(after the last line)")


class _Cluster:
    """The Dask workers a run's batches go to: a LocalCluster of `n` single-threaded worker
    processes started here, or the workers of a scheduler already running at `address`
    (started apart, as on other machines), and a client to read them."""

    def __init__(self, n: int = 0, address: str | None = None) -> None:
        import distributed  # only these options need Dask

        self.cluster = None
        if address is None:
            self.cluster = distributed.LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None
            )
            address = self.cluster.scheduler_address
        self.client = distributed.Client(address)
        self.address = address

    def _cpu(self) -> float:
        def cpu() -> float:
            t = os.times()
            return t.user + t.system

        return sum(self.client.run(cpu).values())

    def _local_pids(self) -> tuple[int, ...]:
        """The workers running on this machine: their memory counts in the run's tree (a
        worker elsewhere is measured by its CPU only)."""
        here = socket.gethostname()

        def where() -> tuple[str, int]:
            return socket.gethostname(), os.getpid()

        return tuple(pid for host, pid in self.client.run(where).values() if host == here)

    def measure(self, what: str, cmd: list[str], timeout: float, max_rss_mb: float) -> Run:
        before = self._cpu()
        run = measure(what, cmd, timeout, max_rss_mb, extra=self._local_pids())
        run.workers_cpu_s = round(self._cpu() - before, 1)
        run.cpu_s = round(run.cpu_s + run.workers_cpu_s, 1)
        return run

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the run's process group, SIGKILL after 30 s."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def git(gitdir: str, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=gitdir, capture_output=True, text=True, check=True
    ).stdout.strip()


def hold_back_day(epoch: dict[str, Any]) -> tuple[str, str, int]:
    """Move the shared clone's branch back by the last day of mail.

    The archives were filled by batched imports (one commit time for months of mail), so
    the day is taken by message date (the author date public-inbox copies from Date:,
    capped at the commit time against wrong clocks): walking back from the tip, the branch
    is moved to the first commit whose message is over a day older than the newest message.
    Returns (branch, tip, messages held back)."""
    path = epoch["path"]
    if not (Path(path) / "objects" / "info" / "alternates").is_file():
        sys.exit(f"{path}: not a shared clone made by bench/corpus.py; refusing to move it")
    branch = git(path, "symbolic-ref", "HEAD")
    tip = epoch["head"]
    proc = subprocess.Popen(
        ["git", "log", "--format=%H %at %ct", tip], cwd=path, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    newest: int | None = None
    base, held = "", 0
    for line in proc.stdout:
        sha, at, ct = line.split()
        when = min(int(at), int(ct))
        newest = when if newest is None else newest
        if when < newest - DAY:
            base = sha
            break
        held += 1
    proc.kill()
    proc.wait()
    if not base:
        sys.exit(f"{path}: no message older than a day before the newest one")
    git(path, "update-ref", branch, base)
    return branch, tip, held


def patchlens_status(exe: str, db: str) -> dict[str, Any]:
    proc = subprocess.run([exe, "--db", db, "status", "--json"], capture_output=True, text=True)
    if proc.returncode != 0:
        return {}
    return json.loads(proc.stdout)


def stored_messages(status: dict[str, Any]) -> int:
    """Messages in the store, from `status --json` (the sum over lists)."""
    total = 0
    for item in status.get("lists", []):
        for key in ("messages", "message_count"):
            if isinstance(item.get(key), int):
                total += item[key]
                break
    return total


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "?",
    )
    mem_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "mem_gib": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "git": subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip(),
    }


def main(argv: list[str] | None = None) -> None:
    user_environment()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--manifest", required=True, type=Path, help="written by bench/corpus.py")
    ap.add_argument("--lists", default="", help="comma-separated list names (default: all)")
    ap.add_argument(
        "--db",
        required=True,
        help="a new SQLite store (removed first if --fresh), or the URL of an empty PostgreSQL "
        "database (postgresql+psycopg://...; --fresh does not empty it)",
    )
    ap.add_argument("--fresh", action="store_true", help="remove --db and its cache first")
    ap.add_argument("--patchlens", default=str(Path(sys.executable).parent / "patchlens"))
    ap.add_argument("--hold-back-day", action="store_true")
    ap.add_argument("--timeout", type=float, default=2400.0, help="seconds per update")
    ap.add_argument("--max-rss-mb", type=float, default=12000.0)
    ap.add_argument("--json", type=Path, help="write the results here too")
    workers = ap.add_mutually_exclusive_group()
    workers.add_argument("--local-cluster", type=int, default=0, metavar="N", help="Dask workers")
    workers.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="a Dask scheduler already running (tcp://host:8786) whose workers take the batches",
    )
    ap.add_argument("--repo", action="append", default=[], metavar="NAME=PATH")
    args = ap.parse_args(argv)

    manifest = json.loads(args.manifest.read_text())
    wanted = [n for n in args.lists.split(",") if n]
    lists = [entry for entry in manifest["lists"] if not wanted or entry["name"] in wanted]
    if wanted and len(lists) != len(wanted):
        sys.exit(f"not in the manifest: {set(wanted) - {e['name'] for e in lists}}")
    url = "://" in args.db
    db = args.db if url else str(Path(args.db).resolve())
    if url:
        pass  # a server's database: made empty by its owner (createdb)
    elif args.fresh:
        for p in (db, db + "-wal", db + "-shm"):
            Path(p).unlink(missing_ok=True)
        shutil.rmtree(db + ".cache", ignore_errors=True)
    elif Path(db).exists():
        sys.exit(f"{db} exists: a cold run needs a new store (--fresh removes it)")
    exe = args.patchlens
    total = sum(e["messages"] for e in lists)
    print(f"{len(lists)} lists, {total:,} messages in the manifest; store {db}")

    moved: list[tuple[str, str, str]] = []  # (git dir, branch, tip) to restore
    cluster: _Cluster | None = None
    results: dict[str, Any] = {
        "machine": machine(),
        "lists": [e["name"] for e in lists],
        "manifest_messages": total,
        "runs": [],
    }
    try:
        held = 0
        if args.hold_back_day:
            for entry in lists:
                epoch = entry["epochs"][-1]
                branch, tip, n = hold_back_day(epoch)
                moved.append((epoch["path"], branch, tip))
                held += n
            print(f"held back the last day: {held:,} messages")
        results["held_back"] = held
        for entry in lists:
            subprocess.run(
                [exe, "--db", db, "-q", "add-list", entry["name"], entry["path"]], check=True
            )
        for spec in args.repo:
            name, _, path = spec.partition("=")
            subprocess.run([exe, "--db", db, "-q", "add-repo", name, path], check=True)
        cmd = [exe, "--db", db, "update"]
        cluster = None
        if args.scheduler:
            cluster = _Cluster(address=args.scheduler)
        elif args.local_cluster:
            cluster = _Cluster(args.local_cluster)
        results["dask_workers"] = (
            len(cluster.client.scheduler_info()["workers"]) if cluster is not None else 0
        )
        results["scheduler"] = args.scheduler
        if cluster is not None:
            cmd += ["--scheduler", cluster.address]
        measured = cluster.measure if cluster is not None else measure
        run = measured("cold", cmd, args.timeout, args.max_rss_mb)
        finish(run, exe, db, results)
        cold = results["runs"][-1]
        # Exit 3: some parts could not be read and were read around (fetched snapshots lack
        # blobs of 4 MiB and more); every stage still ran.
        if args.hold_back_day and not cold["stopped"] and cold["rc"] in (0, 3):
            for path, branch, tip in moved:
                git(path, "update-ref", branch, tip)
            moved.clear()
            run = measured("one new day", cmd, args.timeout, args.max_rss_mb)
            finish(run, exe, db, results)
            run = measured("no-op", cmd, args.timeout, args.max_rss_mb)
            finish(run, exe, db, results)
    finally:
        if cluster is not None:
            cluster.close()
        for path, branch, tip in moved:
            git(path, "update-ref", branch, tip)
    summary(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


def finish(run: Run, exe: str, db: str, results: dict[str, Any]) -> int:
    """Count the store after a run, add the rate and keep the run; the stored count."""
    status = patchlens_status(exe, db)
    run.messages = stored_messages(status)
    if results["runs"]:  # an incremental run: its rate is that of the new messages
        run.new_messages = run.messages - results["runs"][-1]["messages"]
    else:
        run.new_messages = run.messages
    run.rate_msg_s = round(run.new_messages / run.wall_s, 1) if run.wall_s else 0.0
    results["runs"].append(asdict(run))
    results.setdefault("status", {})[run.what] = status.get("lists", [])
    return run.messages


def summary(results: dict[str, Any]) -> None:
    m = results["machine"]
    print(f"\nmachine: nproc={m['nproc']}, {m['cpu']}, {m['mem_gib']} GiB; {m['git']}")
    print(f"{'run':<12} {'wall s':>8} {'new msgs':>10} {'msg/s':>8} {'tree MB':>9} "
          f"{'tree PSS':>9} {'proc MB':>8} {'cpu s':>8} {'load':>10}  stopped")  # fmt: skip
    for r in results["runs"]:
        load = f"{r['load_before']:.1f}/{r['load_mean']:.1f}"
        new, rate, cpu = r["new_messages"], r["rate_msg_s"], r["cpu_s"]
        print(f"{r['what']:<12} {r['wall_s']:>8.1f} {new:>10,} {rate:>8.0f} "
              f"{r['tree_peak_mb']:>9.0f} {r.get('tree_peak_pss_mb', 0):>9.0f} "
              f"{r['process_peak_mb']:>8.0f} {cpu:>8.0f} {load:>10}  "
              f"{r['stopped'] or '-'} (exit {r['rc']})")  # fmt: skip
        if r.get("workers_cpu_s"):
            n = results.get("dask_workers", 0)
            print(f"{'':<12} of the cpu s, {n} Dask workers': {r['workers_cpu_s']:.0f}")
        if r.get("tree_peak_step"):
            print(f"{'':<12} tree PSS peak at {r['tree_peak_at_s']:.0f} s, during: "
                  f"{r['tree_peak_step']}")  # fmt: skip
            print(f"{'':<12} updating process {r['main_peak_mb']:.0f} MB at "
                  f"{r['main_peak_at_s']:.0f} s, during: {r['main_peak_step']}")  # fmt: skip


if __name__ == "__main__":
    main()
