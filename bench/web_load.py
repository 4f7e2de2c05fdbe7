#!/usr/bin/env python3
"""Dashboard under load: N concurrent clients over a mix of pages for a fixed time, with and
without a concurrent `patchlens update --force` writing to the same store (issue 12).

The server is `patchlens --db STORE serve --workers W` on 127.0.0.1 (a free port), started
and stopped by this script. Each client is one keep-alive HTTP/1.1 connection that sends a
request, reads the whole response, and sends the next, until the time is up: a closed loop,
so requests/s is what the server sustains at that concurrency. The clients are plain asyncio
streams (no HTTP library), so that the load generator takes as little of the machine's CPU as
possible; it shares the machine with the server.

The URLs are those of bench/web.py (every page, filter variants, charts, the JSON API, and a
real series, person, commit from the store), each client starting at another place in the
list. With --conditional, a client remembers each URL's ETag and sends If-None-Match, as a
browser revisiting pages does; by default it does not, so every request gets a full body.

Counted as errors: a connection error, any status other than 200/304/404 (a 404 is expected
only for the subsystem page of a store without MAINTAINERS) and any body or server log line
with "database is locked". Latency is per request, from sending it to having read the body.

With --update, `patchlens update --force` runs over and over on the store during the
measurement (each run rebuilds review, matching and metrics: the writes the dashboard must
survive); the last one is waited for, so the store is left complete.

Loopback only, bounded: every run stops after --seconds, and every process started here is
stopped by its pid.

Usage: .venv/bin/python bench/web_load.py --db STORE [--clients 8,32] [--seconds 60]
       [--workers 2] [--update both|no|yes] [--conditional] [--json OUT]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from userenv import user_environment  # bench/

SELF = Path(__file__).resolve()
ROOT = SELF.parents[1]
LOCKED = "database is locked"


def _bench_web() -> Any:
    """bench/web.py (the URL mix, the store builder), imported by path."""
    spec = importlib.util.spec_from_file_location("bench_web", SELF.with_name("web.py"))
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_web"] = mod
    spec.loader.exec_module(mod)
    return mod


web = _bench_web()


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass
class Run:
    clients: int
    update: bool
    seconds: float
    requests: int = 0
    errors: int = 0
    not_modified: int = 0
    locked: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    rps: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    updates_finished: int = 0
    update_seconds: list[float] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# the client


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            parts.append(chunk[:-2])
        body = b"".join(parts)
    else:
        body = b"" if status in (204, 304) else await reader.read()
    return status, headers, body


async def _client(
    port: int,
    urls: Callable[[int], str],
    start: int,
    deadline: float,
    conditional: bool,
    lat: list[float],
    run: Run,
) -> None:
    etags: dict[str, str] = {}
    i = start
    reader = writer = None
    while time.monotonic() < deadline:
        url = urls(i)
        i += 1
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            assert reader is not None
            extra = f"If-None-Match: {etags[url]}\r\n" if conditional and url in etags else ""
            req = f"GET {url} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n"
            t0 = time.perf_counter()
            writer.write(req.encode("ascii"))
            status, headers, body = await _read_response(reader)
            lat.append(time.perf_counter() - t0)
        except (OSError, asyncio.IncompleteReadError, ValueError) as e:
            run.errors += 1
            if len(run.error_samples) < 5:
                run.error_samples.append(f"{url}: {type(e).__name__}: {e}")
            if writer is not None:
                writer.close()
            reader = writer = None
            continue
        run.requests += 1
        run.statuses[str(status)] = run.statuses.get(str(status), 0) + 1
        if status == 304:
            run.not_modified += 1
        if "etag" in headers:
            etags[url] = headers["etag"]
        if LOCKED.encode() in body:
            run.locked += 1
        if status not in (200, 304, 404):
            run.errors += 1
            if len(run.error_samples) < 5:
                run.error_samples.append(f"{url}: HTTP {status}: {body[:200]!r}")
        if headers.get("connection", "").lower() == "close" and writer is not None:
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def _warm(port: int, urls: list[str]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for url in urls:
        writer.write(f"GET {url} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode("ascii"))
        await _read_response(reader)
    writer.close()


async def _load(
    port: int, urls: Callable[[int], str], n: int, run: Run, conditional: bool
) -> list[float]:
    """`urls(i)`: the i-th URL of the mix (n of them); client k starts at k * n / clients."""
    lat: list[float] = []
    deadline = time.monotonic() + run.seconds
    step = max(1, n // run.clients)
    t0 = time.monotonic()
    await asyncio.gather(
        *(
            _client(port, urls, k * step, deadline, conditional, lat, run)
            for k in range(run.clients)
        )
    )
    run.seconds = time.monotonic() - t0
    return lat


# --------------------------------------------------------------------------------------------
# the server and the writer


def _cli(db: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "patchlens", "--db", str(db), *args]


@contextlib.contextmanager
def server(db: Path, workers: int, log_path: Path) -> Any:
    out = log_path.open("wb")
    for _attempt in range(3):  # the port may be taken between choosing and binding it
        port = web.free_port()
        args = ["serve", "--port", str(port)]
        if workers > 1:
            args += ["--workers", str(workers)]
        proc = subprocess.Popen(
            _cli(db, *args), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
        if web._wait_ready(proc, f"http://127.0.0.1:{port}"):
            break
        _stop(proc)
    else:
        sys.exit(f"bench/web_load.py: the server did not start (see {log_path})")
    try:
        yield port
    finally:
        _stop(proc)
        out.close()


def _stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, wait: float = 20) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Updater(threading.Thread):
    """`update --force`, run again and again until told to stop; the run under way when
    stopped is waited for (up to 10 minutes), so the store is left whole."""

    def __init__(self, db: Path, log_path: Path) -> None:
        super().__init__(daemon=True)
        self.db, self.log_path = db, log_path
        self.stopping = threading.Event()
        self.durations: list[float] = []
        self.failures: list[int] = []

    def run(self) -> None:
        with self.log_path.open("ab") as out:
            while not self.stopping.is_set():
                t0 = time.monotonic()
                proc = subprocess.Popen(
                    _cli(self.db, "-q", "update", "--force"),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
                try:
                    rc = proc.wait(600)
                except subprocess.TimeoutExpired:
                    _stop(proc, signal.SIGINT, 60)
                    rc = -1
                if rc == 0:
                    self.durations.append(time.monotonic() - t0)
                else:
                    self.failures.append(rc)


# --------------------------------------------------------------------------------------------


def measure(
    db: Path,
    urls: list[str],
    clients: int,
    seconds: float,
    workers: int,
    update: bool,
    conditional: bool,
    tmp: Path,
    distinct: Callable[[int], str] | None = None,
) -> Run:
    run = Run(clients=clients, update=update, seconds=seconds)
    srv_log = tmp / f"serve-{clients}-{int(update)}.log"
    with server(db, workers, srv_log) as port:
        # One pass over the mix first: the figures are of a running server, not of its start.
        asyncio.run(_warm(port, urls))
        updater = Updater(db, tmp / "update.log") if update else None
        if updater:
            updater.start()
            time.sleep(1.0)  # the first update is past its start when the clients begin
        mix = distinct or (lambda i: urls[i % len(urls)])
        lat = asyncio.run(_load(port, mix, len(urls), run, conditional))
        if updater:
            updater.stopping.set()
            updater.join()
            run.updates_finished = len(updater.durations)
            run.update_seconds = [round(d, 1) for d in updater.durations]
            if updater.failures:
                run.errors += len(updater.failures)
                run.error_samples.append(f"update exit statuses {updater.failures}")
    text = srv_log.read_text(errors="replace")
    run.locked += text.count(LOCKED)
    if re.search(r"Traceback|Exception in ASGI", text):
        run.errors += 1
        run.error_samples.append(f"server log has a traceback: {srv_log}")
    if lat:
        run.rps = run.requests / run.seconds
        run.p50_ms = web.pctl(lat, 0.50) * 1000
        run.p95_ms = web.pctl(lat, 0.95) * 1000
        run.p99_ms = web.pctl(lat, 0.99) * 1000
        run.max_ms = max(lat) * 1000
    return run


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def table(runs: list[Run]) -> str:
    head = (
        "| clients | update --force | requests/s | p50 ms | p95 ms | p99 ms | max ms "
        "| requests | 304 | errors | locked | updates done |"
    )
    rows = [head, "|" + "---|" * 12]
    for r in runs:
        rows.append(
            f"| {r.clients} | {'yes' if r.update else 'no'} | {r.rps:.0f} | {r.p50_ms:.1f} "
            f"| {r.p95_ms:.1f} | {r.p99_ms:.1f} | {r.max_ms:.0f} | {r.requests} "
            f"| {r.not_modified} | {r.errors} | {r.locked} "
            f"| {r.updates_finished if r.update else '–'} |"
        )
    return "\n".join(rows)


def main() -> None:
    user_environment()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--db", type=Path, help="the store (default: build the EROFS store)")
    ap.add_argument("--clients", default="8,32", help="concurrent clients, comma-separated")
    ap.add_argument("--seconds", type=float, default=60.0, help="per measurement")
    ap.add_argument("--workers", type=int, default=2, help="`serve --workers` (1: one process)")
    ap.add_argument("--update", choices=("both", "no", "yes"), default="both")
    ap.add_argument("--conditional", action="store_true", help="send If-None-Match")
    ap.add_argument(
        "--distinct",
        action="store_true",
        help="give every request its own filter values or entity (bench/web.py's distinct "
        "pass), so that no kept response can answer it: the cost of rendering under load",
    )
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    if not 0 < args.seconds <= 600:
        sys.exit("bench/web_load.py: --seconds must be in (0, 600]")

    with tempfile.TemporaryDirectory(prefix="patchlens-load-") as t:
        tmp = Path(t)
        db = args.db or web.build_store(tmp)
        picks = web.pick(db, 50)
        targets = web.targets(picks)
        urls = [x.url for x in targets]
        distinct = None
        if args.distinct:

            def distinct(i: int) -> str:
                # client k starts at k * len(urls) / clients: request i is its own filter
                # combination (an `until` i days later, or the i-th entity of 50)
                return web.distinct_url(targets[i % len(targets)], i, picks)

        log(f"{len(urls)} URLs; store {db}; {machine()}")
        runs = []
        updates = {"both": (False, True), "no": (False,), "yes": (True,)}[args.update]
        for update in updates:
            for n in (int(c) for c in args.clients.split(",")):
                log(f"{n} clients, {args.seconds:.0f} s, update --force: {update} ...")
                r = measure(
                    db,
                    urls,
                    n,
                    args.seconds,
                    args.workers,
                    update,
                    args.conditional,
                    tmp,
                    distinct,
                )
                log(
                    f"  {r.rps:.0f} req/s, p50 {r.p50_ms:.0f} ms, p95 {r.p95_ms:.0f} ms, "
                    f"p99 {r.p99_ms:.0f} ms, errors {r.errors}, locked {r.locked}"
                    + (f", updates {r.updates_finished}" if update else "")
                )
                for e in r.error_samples:
                    log(f"  error: {e}")
                runs.append(r)
        when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        print(
            f"{when}; {machine()}; serve --workers {args.workers}; "
            f"{'conditional' if args.conditional else 'unconditional'} requests; "
            f"{'every request distinct; ' if args.distinct else ''}"
            f"{len(urls)} URLs\n"
        )
        print(table(runs))
        if args.json:
            args.json.write_text(
                json.dumps(
                    {
                        "date": when,
                        "machine": machine(),
                        "workers": args.workers,
                        "conditional": args.conditional,
                        "distinct": args.distinct,
                        "urls": urls,
                        "runs": [asdict(r) for r in runs],
                    },
                    indent=1,
                )
            )


if __name__ == "__main__":
    main()
