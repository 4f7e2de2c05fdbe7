#!/usr/bin/env python3
"""Dashboard benchmark: render time of every page on the EROFS store (p95 < 150 ms).

The app (`patchlens.web.app.create_app`) is served by uvicorn on 127.0.0.1 in a subprocess,
as `patchlens serve` does, and measured with real HTTP requests from one keep-alive httpx
client, one request at a time: per URL, --warmup requests, then --repeat timed ones. For each
URL: min, median, p95 (linear interpolation), max of the client-side time (request sent to
body read), the server-side time the app reports in `Server-Timing: app;dur=...` and the body
size. The worst client p95 over all URLs is compared with the 150 ms target.

URLs: every page, several filter variants of the explorer, performance, backlog, community and
patches pages, every chart, and the JSON API; the series, person and commit pages use a real
key from the store (the series with most versions, the most active reviewer, a merged commit).

If the app caches anything (the sources of patchlens.web are scanned for it), two more
passes: "distinct" gives every request its own filter combination (an `until` far in the
future that filters nothing, so the work is the same; other entities for the per-entity
pages), so that no cache keyed on the request can answer; "cold" times the first request
to a freshly started server, --cold times per URL without a query string (what a user sees
after a restart, and about what the first request after an update costs). --distinct /
--no-distinct and --cold N override the default.

Then the slowest --profile URLs (3) are profiled in-process through FastAPI's TestClient:
SQL statements timed with SQLAlchemy cursor events, and cProfile around the endpoint (the
endpoint runs in a worker thread, so the profiler is enabled in that thread), warm (after 3
requests, 10 requests averaged) and, with the cold pass, the slowest cold URLs on their first
request in a fresh process.

The store: --db PATH, or built in a temporary directory from ../shared/data/erofs (or
$PATCHLENS_DATA/erofs) with every pipeline stage, as `patchlens demo` does (a few minutes).

At the end, one line per route (the URL with its entity and query values generalised) with the
worst p50 and p95 over its URLs and passes: what grows with the store shows there.

Usage: .venv/bin/python bench/web.py [STORE] [--repeat 30] [--target MS] [--json] [--profile 3]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import math
import os
import pstats
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from userenv import user_environment  # bench/

SELF = Path(__file__).resolve()
ROOT = SELF.parents[1]
TARGET_MS = 150.0
FAR_UNTIL = date(2100, 1, 1)  # an `until` that filters nothing
CHARTS = (
    "activity",
    "states",
    "reviewers",
    "perf-time_to_first_response",
    "perf-time_to_merge",
    "perf-time_to_first_review",
    "perf-rework_time",
)
SERVER_TIMING = re.compile(r"app;dur=([0-9.]+)")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# the store


def data_dir() -> Path:
    env = os.environ.get("PATCHLENS_DATA")
    return (Path(env) if env else ROOT.parent / "shared" / "data") / "erofs"


def build_store(tmp: Path) -> Path:
    """The EROFS store with every stage run, as `patchlens demo` builds it."""
    erofs = data_dir()
    archive, repo = erofs / "linux-erofs-archive.0.bundle", erofs / "erofs-utils.bundle"
    missing = [p for p in (archive, repo) if not p.is_file()]
    if missing:
        sys.exit(
            "bench/web.py: missing benchmark data: "
            + ", ".join(str(p) for p in missing)
            + "\n(put the EROFS bundles in ../shared/data/erofs or set $PATCHLENS_DATA,"
            " or pass an existing store with --db PATH)"
        )
    from patchlens.config import Config
    from patchlens.stages import ingest
    from patchlens.stages.pipeline import run_stages
    from patchlens.stages.progress import Reporter
    from patchlens.store.db import open_store

    log("building the EROFS store (ingest and every stage)...")
    db = tmp / "patchlens.db"
    cache = tmp / "cache"
    t0 = time.perf_counter()
    engine = open_store(str(db))
    ingest.add_list(engine, "linux-erofs", [str(archive)])
    ingest.add_repo(engine, "erofs-utils", str(repo), ["dev"])
    ingest.run_update(engine, cache, Reporter(quiet=True))
    run_stages(engine, Config(), cache, Reporter(quiet=True))
    engine.dispose()
    log(f"built the EROFS store in {time.perf_counter() - t0:.0f} s: {db}")
    return db


@dataclass
class Picks:
    """Real identifiers from the store, best first (the first is the one measured; the others
    serve the distinct pass)."""

    series: list[str]
    people: list[str]
    commits: list[str]
    subsystems: list[str]
    org: str
    state: str
    word: str


def pick(db: Path, n: int) -> Picks:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        q = conn.execute
        series = [
            k
            for (k,) in q(
                "SELECT series_key FROM series_metrics ORDER BY versions DESC, series_key LIMIT ?",
                (n,),
            )
        ]
        people = [
            a
            for (a,) in q(
                "SELECT p.address FROM review_events e JOIN people p ON p.identity = e.who "
                "WHERE p.address != '' GROUP BY e.who ORDER BY count(*) DESC, e.who LIMIT ?",
                (n,),
            )
        ]
        # A merged commit; a store of lists alone has none: then any commit, or no commit page.
        commits = [
            sha
            for (sha,) in q(
                "SELECT c.sha FROM commits c JOIN patch_commits pc ON pc.commit_pk = c.id "
                "GROUP BY c.id ORDER BY c.committer_date DESC LIMIT ?",
                (n,),
            )
        ] or [sha for (sha,) in q("SELECT sha FROM commits ORDER BY id DESC LIMIT ?", (n,))]
        subsystems = [t for (t,) in q("SELECT title FROM subsystems ORDER BY title LIMIT ?", (n,))]
        if not subsystems:  # EROFS has no MAINTAINERS: a title from the metrics, if any
            seen: list[str] = []
            for (js,) in q("SELECT subsystems FROM series_metrics WHERE subsystems != '[]'"):
                seen += [t for t in json.loads(js) if t not in seen]
            subsystems = seen[:n]
        org = q(
            "SELECT org FROM series_metrics WHERE org NOT LIKE '(%' "
            "GROUP BY org ORDER BY count(*) DESC LIMIT 1"
        ).fetchone()
    finally:
        conn.close()
    if not (series and people):
        sys.exit(f"bench/web.py: {db} has no series or reviewers: not a full store")
    return Picks(
        series=series,
        people=people,
        commits=commits,
        subsystems=subsystems or ["EROFS FILE SYSTEM"],  # no such subsystem: the 404 page
        org=org[0] if org else "",
        state="waiting on author",
        word="compress",
    )


# --------------------------------------------------------------------------------------------
# the URLs


@dataclass
class Target:
    url: str
    entity: str = ""  # series | person | commit | subsystem: the distinct pass varies it


def targets(p: Picks) -> list[Target]:
    s, who = quote(p.series[0], safe="@"), quote(p.people[0], safe="@")
    sub = quote(p.subsystems[0], safe="")
    org = quote(p.org)
    t = [Target(u) for u in ("/", "/community", "/performance", "/backlog", "/series", "/patches")]
    t += [
        Target(f"/series/{s}", "series"),
        Target(f"/people/{who}", "person"),
        Target(f"/subsystems/{sub}", "subsystem"),
    ]
    if p.commits:  # a store of mailing lists alone has no commit to show
        t.append(Target(f"/commits/{p.commits[0]}", "commit"))
    t += [
        Target(u)
        for u in (
            f"/series?state={quote(p.state)}",
            f"/series?q={p.word}",
            "/series?sort=-time_to_merge",
            f"/series?org={org}",
            "/series?period=month",
            "/series?bucket=patches:2-5",
            "/series?contributor=new",
            "/series?since=2023-01-01&until=2024-01-01",
            "/series?page=5",
            "/series?sort=title&page=5",
            "/performance?period=month",
            f"/performance?org={org}",
            "/performance?bucket=lines:100-999",
            "/performance?contributor=new",
            "/performance?since=2023-01-01&until=2024-01-01",
            f"/backlog?state={quote(p.state)}",
            f"/backlog?org={org}",
            f"/backlog?q={p.word}",
            "/backlog?bucket=versions:2",
            "/?period=month",
            f"/community?org={org}",
            "/community?since=2023-01-01",
            "/patches?page=5",
            f"/patches?q={p.word}",
            f"/patches?org={org}",
            f"/patches?state={quote(p.state)}&sort=-lines",
            "/series?page=100",
            "/series?subsystem=" + sub,
            "/pulls",
            f"/pulls?q={p.word}",
            "/health",
            "/glossary",
        )
    ]
    t += [
        Target(f"/people/{who}?since=2023-01-01", "person"),
        Target(f"/people/{who}?authored_page=2&reviewed_page=2", "person"),
        Target(f"/subsystems/{sub}?state=open", "subsystem"),
    ]
    t += [Target(f"/charts/{c}.svg") for c in CHARTS]
    t += [
        Target(u)
        for u in (
            "/charts/activity.svg?period=month",
            "/charts/perf-time_to_merge.svg?period=month",
            f"/charts/states.svg?org={org}",
        )
    ]
    t += [
        Target(f"/api/{n}")
        for n in (
            "overview",
            "community",
            "performance",
            "backlog",
            "series",
            "patches",
            "pulls",
            "glossary",
        )
    ]
    t += [
        Target(f"/api/series/{s}", "series"),
        Target(f"/api/people/{who}", "person"),
        Target(f"/api/subsystems/{sub}", "subsystem"),
        Target("/api/series?sort=-time_to_merge&page=5"),
    ]
    if p.commits:
        t.append(Target(f"/api/commits/{p.commits[0]}", "commit"))
    return t


def distinct_url(t: Target, i: int, p: Picks) -> str:
    """The i-th request of the distinct pass: a filter combination (or entity) of its own."""
    if t.entity:
        pool = {
            "series": p.series,
            "person": p.people,
            "commit": p.commits,
            "subsystem": p.subsystems,
        }[t.entity]
        old, new = pool[0], pool[i % len(pool)]
        safe = "" if t.entity == "subsystem" else "@"
        return t.url.replace(quote(old, safe=safe), quote(new, safe=safe))
    parts = urlsplit(t.url)
    params = dict(parse_qsl(parts.query))
    until = date.fromisoformat(params["until"]) if "until" in params else FAR_UNTIL
    params["until"] = (until + timedelta(days=i)).isoformat()
    return f"{parts.path}?{urlencode(params)}"


def app_caches() -> list[str]:
    """Lines of patchlens.web's sources (as imported) that look like a server-side cache;
    Cache-Control, which asks the browser to cache, does not count: the client caches
    nothing."""
    import patchlens.queries
    import patchlens.web

    pat = re.compile(
        r"lru_cache|functools\.cache|@cache\b|cachetools|_cache\b|memoi[sz]|PageCache\(", re.I
    )
    hits = []
    for pkg in (patchlens.web, patchlens.queries):
        top = Path(pkg.__file__).parent
        for path in sorted(top.glob("*.py")):
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if pat.search(line) and "cache-control" not in line.lower():
                    hits.append(f"patchlens/{top.name}/{path.name}:{n}: {line.strip()}")
    return hits


# --------------------------------------------------------------------------------------------
# serving and measuring


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_child(db: str, port: int) -> None:
    """The server process: the app as `patchlens serve` runs it."""
    import uvicorn

    from patchlens.store.db import database_url
    from patchlens.web.app import create_app

    uvicorn.run(create_app(database_url(db)), host="127.0.0.1", port=port, log_level="warning")


@contextlib.contextmanager
def server_proc(db: Path) -> Iterator[str]:
    for _attempt in range(3):  # the port may be taken between choosing and binding it
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, str(SELF), "--serve-child", str(db), str(port)],
            stdin=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        if _wait_ready(proc, base):
            break
        proc.terminate()
        proc.wait(10)
    else:
        sys.exit("bench/web.py: the server did not start")
    try:
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_ready(proc: subprocess.Popen[bytes], base: str, timeout: float = 60.0) -> bool:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(base + "/openapi.json", timeout=5).status_code == 200:
                return True
        time.sleep(0.1)
    return False


def pctl(xs: list[float], q: float) -> float:
    """The q-quantile with linear interpolation between closest ranks (numpy's default)."""
    s = sorted(xs)
    k = (len(s) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


@dataclass
class Result:
    url: str
    status: int
    n: int
    min: float
    p50: float
    p95: float
    max: float
    mean: float
    server_p50: float | None
    server_p95: float | None
    bytes: int
    samples: list[float] = field(default_factory=list, repr=False)


def measure(
    client: Any, urls: Callable[[int], str], label: str, repeat: int, warmup: int
) -> Result:
    times: list[float] = []
    server: list[float] = []
    statuses: set[int] = set()
    size = 0
    for i in range(-warmup, repeat):
        url = urls(i + warmup)
        t0 = time.perf_counter()
        r = client.get(url)
        body = r.content
        dt = (time.perf_counter() - t0) * 1000
        if i < 0:
            continue
        times.append(dt)
        statuses.add(r.status_code)
        size = max(size, len(body))
        m = SERVER_TIMING.search(r.headers.get("server-timing", ""))
        if m:
            server.append(float(m.group(1)))
    return summarise(label, times, server, max(statuses), size)


def summarise(
    label: str, times: list[float], server: list[float], status: int, size: int
) -> Result:
    return Result(
        url=label,
        status=status,
        n=len(times),
        min=min(times),
        p50=statistics.median(times),
        p95=pctl(times, 0.95),
        max=max(times),
        mean=statistics.fmean(times),
        server_p50=statistics.median(server) if server else None,
        server_p95=pctl(server, 0.95) if server else None,
        bytes=size,
        samples=times,
    )


def run_pass(
    base: str, ts: list[Target], picks: Picks, repeat: int, warmup: int, distinct: bool
) -> list[Result]:
    import httpx

    out = []
    with httpx.Client(base_url=base, timeout=120) as client:
        for t in ts:
            if distinct:
                urls: Callable[[int], str] = lambda i, t=t: distinct_url(t, i, picks)  # noqa: E731
            else:
                urls = lambda _i, t=t: t.url  # noqa: E731
            r = measure(client, urls, t.url, repeat, warmup)
            log(f"  {r.p95:8.1f} ms p95  {t.url}")
            out.append(r)
    return out


def cold_pass(db: Path, ts: list[Target], repeat: int) -> list[Result]:
    """The first request to a fresh server, `repeat` times per URL without a query string."""
    import httpx

    out = []
    for t in ts:
        if "?" in t.url:
            continue
        times, server, statuses, size = [], [], set(), 0
        for _ in range(repeat):
            with server_proc(db) as base, httpx.Client(base_url=base, timeout=120) as client:
                t0 = time.perf_counter()
                r = client.get(t.url)
                body = r.content
                times.append((time.perf_counter() - t0) * 1000)
            statuses.add(r.status_code)
            size = max(size, len(body))
            m = SERVER_TIMING.search(r.headers.get("server-timing", ""))
            if m:
                server.append(float(m.group(1)))
        res = summarise(t.url, times, server, max(statuses), size)
        log(f"  {res.p50:8.1f} ms median (cold)  {t.url}")
        out.append(res)
    return out


def table(results: list[Result], title: str) -> str:
    w = max(len(r.url) for r in results)
    cols = "  ".join(f"{c:>7}" for c in ("p50", "p95", "max", "srv p95"))
    head = f"{'URL':<{w}}  {'status':>6}  {cols}  {'bytes':>8}"
    lines = [title, head, "-" * len(head)]
    for r in results:
        srv = f"{r.server_p95:7.1f}" if r.server_p95 is not None else f"{'–':>7}"
        flag = "  <-- over" if r.p95 >= TARGET_MS else ""
        lines.append(
            f"{r.url:<{w}}  {r.status:>6}  {r.p50:7.1f}  {r.p95:7.1f}  {r.max:7.1f}  {srv}"
            f"  {r.bytes:>8}{flag}"
        )
    return "\n".join(lines)


ENTITY_PATH = re.compile(r"^(/api)?/(series|people|subsystems|commits)/.+$")


def route_of(url: str) -> str:
    """The app route a URL asks, with the names of its query parameters: /people/{id}?since."""
    parts = urlsplit(url)
    path = ENTITY_PATH.sub(lambda m: f"{m.group(1) or ''}/{m.group(2)}/{{id}}", parts.path)
    # The distinct pass's far `until` is no parameter of the route's own.
    keys = sorted({k for k, v in parse_qsl(parts.query) if not (k == "until" and v >= "2100")})
    return path + ("?" + "&".join(keys) if keys else "")


def route_table(results: list[Result]) -> str:
    """Per route: how many URLs measured it, and the worst p50 and p95 among them (the
    distinct pass's extra `until` is not a route of its own)."""
    routes: dict[str, list[Result]] = {}
    for r in results:
        routes.setdefault(route_of(r.url), []).append(r)
    w = max(len(k) for k in routes)
    head = f"{'route':<{w}}  {'URLs':>4}  {'p50':>7}  {'p95':>7}"
    title = "Per route: the worst p50 and p95 of its URLs (ms, client side)"
    lines = [title, head, "-" * len(head)]
    for k in sorted(routes, key=lambda k: -max(r.p95 for r in routes[k])):
        rs = routes[k]
        p95 = max(r.p95 for r in rs)
        flag = "  <-- over" if p95 >= TARGET_MS else ""
        lines.append(
            f"{k:<{w}}  {len({r.url for r in rs}):>4}  {max(r.p50 for r in rs):7.1f}  "
            f"{p95:7.1f}{flag}"
        )
    return "\n".join(lines)


def routes(results: list[Result]) -> dict[str, dict[str, float]]:
    """Per route, the worst p50 and p95 of its URLs over the passes given."""
    out: dict[str, dict[str, float]] = {}
    for r in results:
        d = out.setdefault(route_of(r.url), {"p50": 0.0, "p95": 0.0})
        d["p50"], d["p95"] = max(d["p50"], r.p50), max(d["p95"], r.p95)
    return out


def store_size(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM messages").fetchone()[0])
    finally:
        conn.close()


def growth_table(
    base: dict[str, Any], db: Path, results: list[Result], scale: float, sizes: str | None
) -> str:
    """Each route's p50 and p95 there (the baseline) and here, the ratio of the medians (a
    p95 of a few requests on a shared machine is mostly other work), and with `scale` a
    projection of the p95: the p95 here times (p50 ratio ** (log(scale) / log(size here /
    size there))), i.e. the same growth exponent over the next `scale`-fold as over the last
    one."""
    here = routes(results)
    there = base.get("routes") or {}
    if sizes:
        n0, n1 = (float(x) for x in sizes.split(","))
    else:
        n0, n1 = float(base.get("messages") or 0), float(store_size(db))
    k = math.log(scale) / math.log(n1 / n0) if scale > 1 and n0 and n1 > n0 else 0.0
    w = max(len(r) for r in here)
    proj = f"  {f'x{scale:g} p95':>9}" if k else ""
    cols = f"{'base p50':>8}  {'p50':>7}  {'base p95':>8}  {'p95':>7}  {'ratio':>6}"
    head = f"{'route':<{w}}  {cols}{proj}"
    lines = [
        f"Growth from the baseline ({n0:,.0f} messages) to this store ({n1:,.0f}), ms",
        head,
        "-" * len(head),
    ]
    for r in sorted(here, key=lambda r: -here[r]["p95"]):
        b, h = there.get(r), here[r]
        if not b:
            lines.append(f"{r:<{w}}  {'–':>8}  {h['p50']:7.1f}  {'–':>8}  {h['p95']:7.1f}")
            continue
        ratio = h["p50"] / b["p50"] if b["p50"] else math.inf
        row = (
            f"{r:<{w}}  {b['p50']:8.1f}  {h['p50']:7.1f}  {b['p95']:8.1f}  {h['p95']:7.1f}  "
            f"{ratio:6.2f}"
        )
        if k:
            row += f"  {h['p95'] * max(ratio, 1.0) ** k:9.0f}"
        lines.append(row)
    return "\n".join(lines)


def verdict(results: list[Result]) -> tuple[Result, bool]:
    worst = max(results, key=lambda r: r.p95)
    return worst, worst.p95 < TARGET_MS


# --------------------------------------------------------------------------------------------
# profiling in-process


@dataclass
class Profile:
    url: str
    kind: str  # warm | cold
    runs: int
    handler_ms: float  # median of the app's Server-Timing over the SQL-timed runs
    sql_ms: float  # SQL time per request (cursor execute to after execute, not fetching)
    queries: float  # statements per request
    statements: list[dict[str, Any]]
    cumulative: list[dict[str, Any]]
    tottime: list[dict[str, Any]]


def _short(path: str) -> str:
    for marker in ("site-packages/", "/src/"):
        if marker in path:
            return path.split(marker, 1)[1]
    if "/lib/python3." in path:
        return "stdlib/" + path.split("/lib/python3.", 1)[1].split("/", 1)[1]
    return path


@contextlib.contextmanager
def sql_timer() -> Iterator[list[tuple[str, float]]]:
    from sqlalchemy import Engine, event

    out: list[tuple[str, float]] = []

    def before(conn: Any, _cur: Any, stmt: str, *_a: Any) -> None:
        conn.info.setdefault("_bench_t0", []).append(time.perf_counter())

    def after(conn: Any, _cur: Any, stmt: str, *_a: Any) -> None:
        t0 = conn.info["_bench_t0"].pop()
        out.append((stmt, (time.perf_counter() - t0) * 1000))

    event.listen(Engine, "before_cursor_execute", before)
    event.listen(Engine, "after_cursor_execute", after)
    try:
        yield out
    finally:
        event.remove(Engine, "before_cursor_execute", before)
        event.remove(Engine, "after_cursor_execute", after)


def _timing(r: Any) -> float | None:
    m = SERVER_TIMING.search(r.headers.get("server-timing", ""))
    return float(m.group(1)) if m else None


def _stats_rows(prof: cProfile.Profile, runs: int) -> list[dict[str, Any]]:
    st = pstats.Stats(prof)
    rows = []
    for (file, line, fn), (_cc, nc, tt, ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        if fn in ("runcall", "<method 'disable' of '_lsprof.Profiler' objects>"):
            continue
        rows.append(
            {
                "function": fn if file == "~" else f"{_short(file)}:{line}({fn})",
                "calls": nc / runs,
                "tottime_ms": tt * 1000 / runs,
                "cumtime_ms": ct * 1000 / runs,
            }
        )
    return rows


def profile_urls(db: Path, urls: list[str], runs: int, cold: bool = False) -> list[Profile]:
    """Profile each URL in this process. Warm: 3 untimed requests, then `runs` requests with
    SQL timed and `runs` under cProfile. Cold (one URL, in a fresh process): the first request
    under cProfile and SQL timing both, once."""
    import warnings

    import fastapi.routing

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # starlette's TestClient on httpx is deprecated
        from fastapi.testclient import TestClient

    from patchlens.store.db import database_url
    from patchlens.web.app import create_app

    # Without the kept pages: what is profiled is the rendering (a kept page never reaches
    # the endpoint).
    app = create_app(database_url(str(db)), page_cache=False)
    original = fastapi.routing.run_in_threadpool
    prof: list[cProfile.Profile | None] = [None]

    async def profiled(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        # The endpoint runs in a worker thread: cProfile (per thread) has to start there.
        p = prof[0]
        if p is None:
            return await original(func, *args, **kwargs)
        return await original(p.runcall, func, *args, **kwargs)

    out = []
    fastapi.routing.run_in_threadpool = profiled  # type: ignore[assignment]
    try:
        with TestClient(app) as client:
            for url in urls:
                handler: list[float] = []
                if cold:
                    runs = 1
                    prof[0] = cProfile.Profile()
                    with sql_timer() as stmts:
                        handler.append(_timing(client.get(url)) or math.nan)
                else:
                    for _ in range(3):
                        client.get(url)
                    with sql_timer() as stmts:
                        for _ in range(runs):
                            handler.append(_timing(client.get(url)) or math.nan)
                    prof[0] = cProfile.Profile()
                    for _ in range(runs):
                        client.get(url)
                rows = _stats_rows(prof[0], runs)
                prof[0] = None
                agg: dict[str, list[float]] = {}
                for stmt, ms in stmts:
                    agg.setdefault(" ".join(stmt.split()), []).append(ms)
                statements = sorted(
                    (
                        {"sql": k, "per_request": len(v) / runs, "ms_per_request": sum(v) / runs}
                        for k, v in agg.items()
                    ),
                    key=lambda d: -d["ms_per_request"],
                )
                out.append(
                    Profile(
                        url=url,
                        kind="cold" if cold else "warm",
                        runs=runs,
                        handler_ms=statistics.median(handler),
                        sql_ms=sum(ms for _s, ms in stmts) / runs,
                        queries=len(stmts) / runs,
                        statements=statements[:6],
                        cumulative=sorted(rows, key=lambda r: -r["cumtime_ms"])[:15],
                        tottime=sorted(rows, key=lambda r: -r["tottime_ms"])[:10],
                    )
                )
    finally:
        fastapi.routing.run_in_threadpool = original  # type: ignore[assignment]
    return out


def profile_cold(db: Path, url: str) -> Profile:
    """The first request in a fresh process, profiled there (caches empty)."""
    proc = subprocess.run(
        [sys.executable, str(SELF), "--profile-child", str(db), url],
        capture_output=True,
        text=True,
        check=True,
    )
    return Profile(**json.loads(proc.stdout))


def profile_text(p: Profile) -> str:
    what = (
        "first request in a fresh process"
        if p.kind == "cold"
        else f"in-process, warm, {p.runs} requests averaged"
    )
    under = "under" if p.kind == "cold" else "without"
    lines = [
        f"== {p.url}  [{p.kind}: {what}]",
        f"   per request: app {p.handler_ms:.1f} ms ({under} cProfile), SQL {p.sql_ms:.1f} ms in "
        f"{p.queries:g} statements",
        "  slowest SQL statements (ms/request, executions/request):",
    ]
    for s in p.statements:
        sql = s["sql"] if len(s["sql"]) <= 150 else s["sql"][:147] + "..."
        lines.append(f"    {s['ms_per_request']:7.2f} ms  x{s['per_request']:<5g} {sql}")
    lines.append("  top 15 by cumulative time (ms/request, under cProfile):")
    lines.append(f"    {'cum':>8} {'own':>8} {'calls':>8}  function")
    for r in p.cumulative:
        lines.append(
            f"    {r['cumtime_ms']:8.2f} {r['tottime_ms']:8.2f} {r['calls']:8g}  {r['function']}"
        )
    lines.append("  top 10 by own time:")
    for r in p.tottime:
        lines.append(
            f"    {r['cumtime_ms']:8.2f} {r['tottime_ms']:8.2f} {r['calls']:8g}  {r['function']}"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------


def main() -> None:
    user_environment()
    global TARGET_MS
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument(
        "store", nargs="?", help="an existing store (default: build the EROFS one in a temp dir)"
    )
    ap.add_argument("--db", help="the same as STORE")
    ap.add_argument(
        "--target",
        type=float,
        default=TARGET_MS,
        help=f"the p95 every URL must stay under, ms ({TARGET_MS:g}; issue 11 asks 300 on a "
        "million-message store)",
    )
    ap.add_argument("--repeat", type=int, default=30, help="timed requests per URL (30)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed requests per URL first (3)")
    ap.add_argument(
        "--settle",
        type=float,
        default=0,
        help="seconds to wait after the server starts, for its background warm-up (0; with "
        "--only, the first URLs otherwise run beside it)",
    )
    ap.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    ap.add_argument("--profile", type=int, default=3, help="profile the N slowest URLs (3)")
    ap.add_argument("--profile-runs", type=int, default=10, help="requests per warm profile (10)")
    ap.add_argument(
        "--distinct",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also measure with a distinct filter combination per request "
        "(default: if the app caches)",
    )
    ap.add_argument(
        "--cold",
        type=int,
        default=None,
        metavar="N",
        help="also time the first request to a fresh server, N times per URL without a query "
        "(default: 3 if the app caches, else 0)",
    )
    ap.add_argument("--only", help="only the URLs matching this regular expression")
    ap.add_argument(
        "--baseline",
        help="the --json output of a run on a smaller store: print each route's growth (p50 and "
        "p95 here over there) and, with --scale, what a store that much larger again would take",
    )
    ap.add_argument(
        "--scale",
        type=float,
        default=0.0,
        help="with --baseline: how many times larger than this store the projected one is "
        "(e.g. 10 from 100k to 1M messages); each route's time is projected at the same "
        "growth per doubling of size as from the baseline to here",
    )
    ap.add_argument(
        "--sizes",
        help="with --baseline and --scale: 'BASE,HERE' sizes of the two stores (messages), for "
        "the growth exponent (default: read from each store's messages table)",
    )
    ap.add_argument("--serve-child", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--profile-child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_child:
        serve_child(args.serve_child[0], int(args.serve_child[1]))
        return
    if args.profile_child:
        (prof,) = profile_urls(Path(args.profile_child[0]), [args.profile_child[1]], 1, cold=True)
        print(json.dumps(asdict(prof)))
        return
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    if args.store and args.db and args.store != args.db:
        ap.error("give the store once (STORE or --db)")
    args.db = args.db or args.store
    TARGET_MS = args.target

    with contextlib.ExitStack() as stack:
        if args.db:
            db = Path(args.db).expanduser().resolve()
            if not db.is_file():
                sys.exit(f"bench/web.py: {db}: no such store")
        else:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-web-")))
            db = build_store(tmp)
        picks = pick(db, max(args.repeat + args.warmup, 1))
        ts = targets(picks)
        if args.only:
            ts = [t for t in ts if re.search(args.only, t.url)]
            if not ts:
                sys.exit(f"bench/web.py: no URL matches {args.only!r}")
        caches = app_caches()
        distinct = bool(caches) if args.distinct is None else args.distinct
        cold_n = (3 if caches else 0) if args.cold is None else args.cold

        load = os.getloadavg()
        with server_proc(db) as base:
            if args.settle:
                # The server reads what the pages keep per data version in the background
                # after it starts; a long-running server has done so before most requests.
                log(f"letting the server's warm-up run for {args.settle} s")
                time.sleep(args.settle)
            log(f"measuring {len(ts)} URLs at {base}: {args.warmup} warm-ups + {args.repeat} each")
            results = run_pass(base, ts, picks, args.repeat, args.warmup, distinct=False)
            dresults = []
            if distinct:
                log("distinct pass: every request with its own filters / entity")
                dresults = run_pass(base, ts, picks, args.repeat, args.warmup, distinct=True)
        cresults = []
        if cold_n > 0:
            log(f"cold pass: the first request to a fresh server, {cold_n} times per URL")
            cresults = cold_pass(db, ts, cold_n)

        worst, ok = verdict(results + dresults)
        # The URL to profile: as measured, or its distinct variant when that was the slower
        # (a kept result would hide the work the distinct pass saw).
        p95: dict[str, tuple[float, str]] = {}
        by_url = {t.url: t for t in ts}
        for r in results:
            p95[r.url] = (r.p95, r.url)
        for r in dresults:
            if r.p95 > p95.get(r.url, (0.0, ""))[0]:
                p95[r.url] = (r.p95, distinct_url(by_url[r.url], 1, picks))
        slow = [u for _p, u in sorted(p95.values(), key=lambda x: -x[0])][: max(args.profile, 0)]
        profiles = []
        if slow:
            log(f"profiling the {len(slow)} slowest URLs in-process...")
            profiles = profile_urls(db, slow, args.profile_runs)
            if cresults:
                cslow = sorted(cresults, key=lambda r: -r.p50)[: args.profile]
                profiles += [profile_cold(db, r.url) for r in cslow]

    if args.json:

        def res(rs: list[Result]) -> list[dict[str, Any]]:
            return [{k: v for k, v in asdict(r).items() if k != "samples"} for r in rs]

        print(
            json.dumps(
                {
                    "db": str(db) if args.db else "(built)",
                    "repeat": args.repeat,
                    "warmup": args.warmup,
                    "target_p95_ms": TARGET_MS,
                    "results": res(results),
                    "distinct": res(dresults),
                    "cold": res(cresults),
                    "app_caches": caches,
                    "cpus": os.cpu_count(),
                    "load_average_at_start": load,
                    "worst": {"url": worst.url, "p95": worst.p95},
                    "pass": ok,
                    "profiles": [asdict(p) for p in profiles],
                    "routes": routes(results + dresults),
                    "messages": store_size(db),
                },
                indent=2,
            )
        )
        return
    print(
        f"{os.cpu_count()} CPUs, load average at start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
        "(other work on the machine shows as spikes in p95 and max)\n"
    )
    print(table(results, f"As a user: the same URL {args.repeat} times (ms, client side)"))
    if caches:
        print("\nserver-side cache in patchlens.web:\n  " + "\n  ".join(caches))
    else:
        print("\n(no server-side cache in patchlens.web: no distinct or cold pass needed)")
    if dresults:
        print()
        print(table(dresults, "Distinct: every request its own filter combination / entity"))
    if cresults:
        print()
        print(
            table(
                cresults,
                f"Cold: the first request to a fresh server, {cold_n} times "
                "(not in the verdict: once per start or update)",
            )
        )
    print()
    print(route_table(results + dresults))
    if args.baseline:
        print()
        print(
            growth_table(
                json.loads(Path(args.baseline).read_text()),
                db,
                results + dresults,
                args.scale,
                args.sizes,
            )
        )
    print(
        f"\nworst p95: {worst.p95:.1f} ms ({worst.url}); target < {TARGET_MS:.0f} ms: "
        f"{'PASS' if ok else 'FAIL'}"
    )
    for p in profiles:
        print()
        print(profile_text(p))


if __name__ == "__main__":
    main()
