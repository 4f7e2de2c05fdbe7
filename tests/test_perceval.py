"""Perceval items as a list source (issue 16, acceptance 1): the REAL Perceval is run on the
fixtures (its own test data: mbox, and pipermail served over HTTP as a Mailman archive is),
its JSON lines ingested into one store and the same files read directly into another. The
messages and the reconstructed series must be equal except exactly what Perceval drops."""

from __future__ import annotations

import gzip
import http.server
import json
import socketserver
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from patchlens.mail.parse import parse_message
from patchlens.sources.base import SourceError
from patchlens.sources.detect import detect_format
from patchlens.sources.perceval import PercevalSource, rebuild_message
from patchlens.store import schema
from tests.conftest import data_path
from tests.helpers.cli import invoke_cli
from tests.helpers.xenqemu import all_versions, build

# Perceval's console script, installed beside this Python by the test extra.
NNTP = ("fixtures", "perceval", "tests", "data", "nntp")
PERCEVAL = [str(Path(sys.executable).parent / "perceval")]
# Everything of a message row that comes from the message (not the store's own bookkeeping,
# nor the raw bytes, which Perceval does not keep).
COLUMNS = [
    c
    for c in schema.messages.c
    if c.name not in ("id", "raw", "raw_size", "ingested_at", "first_source_id", "content_hash")
]


def _perceval(args: list[str], out: Path) -> None:
    """Perceval's own command line, as a GrimoireLab deployment runs it."""
    with out.open("ab") as f:
        subprocess.run(
            [*PERCEVAL, *args, "--json-line"],
            stdout=f,
            stderr=subprocess.DEVNULL,
            check=True,
            timeout=300,
        )


@pytest.fixture(scope="module")
def archive_site():
    """The pipermail and HyperKitty fixtures served as their archivers serve them, on a local
    HTTP server: a Mailman 2 index page linking `YYYY-Month.txt.gz` files (what `perceval
    pipermail` reads), and a HyperKitty list whose `export/YYYY-MM.mbox.gz` gives a month
    (empty for the months without a fixture, as for a quiet month)."""
    data = data_path("fixtures", "perceval", "tests", "data")
    pipermail = {
        "pipermail_2015_november.mbox": "2015-November.txt.gz",
        "pipermail_2016_march.mbox": "2016-March.txt.gz",
        "pipermail_2016_april.mbox": "2016-April.txt.gz",
    }
    hyperkitty = {
        "hyperkitty_2016_march.mbox": "2016-03.mbox.gz",
        "hyperkitty_2016_april.mbox": "2016-04.mbox.gz",
    }
    pages: dict[str, bytes] = {}
    for name, served in pipermail.items():
        raw = (data / "pipermail" / name).read_bytes()
        pages[f"/pipermail/{served}"] = gzip.compress(raw, mtime=0)
    links = "".join(f'<a href="{m}">{m}</a>\n' for m in pipermail.values())
    pages["/pipermail/"] = f"<html><body>{links}</body></html>".encode()
    for name, served in hyperkitty.items():
        raw = (data / "hyperkitty" / name).read_bytes()
        pages[f"/hyperkitty/list/export/{served}"] = gzip.compress(raw, mtime=0)
    pages["/hyperkitty/list/"] = b"<html><body>a HyperKitty list</body></html>"

    class Archive(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            body = pages.get(path)
            if body is None and path.startswith("/hyperkitty/list/export/"):
                body = b""
            self.send_response(200 if body is not None else 404)
            self.send_header("content-length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Archive)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    files = [data / "pipermail" / n for n in pipermail] + [
        data / "hyperkitty" / n for n in hyperkitty
    ]
    yield url, files
    server.shutdown()


def _nntp_server(articles: list[bytes], group: str) -> socketserver.ThreadingTCPServer:
    """A news server for the commands Perceval's NNTP backend (nntplib) sends: GROUP,
    XOVER, ARTICLE (dot-stuffed, CRLF), QUIT; anything else is refused, as a server may."""

    class News(socketserver.StreamRequestHandler):
        def send(self, line: str) -> None:
            self.wfile.write(line.encode() + b"\r\n")

        def handle(self) -> None:
            self.send("200 patchlens test news server ready")
            while line := self.rfile.readline():
                cmd, *args = line.decode().split()
                cmd = cmd.upper()
                if cmd == "GROUP":
                    self.send(f"211 {len(articles)} 1 {len(articles)} {group}")
                elif cmd in ("XOVER", "OVER"):
                    self.send("224 overview follows")
                    for i in range(1, len(articles) + 1):
                        self.send(f"{i}\ts\tf\td\t<m{i}>\t\t0\t0")
                    self.send(".")
                elif cmd == "ARTICLE":
                    n = int(args[0])
                    self.send(f"220 {n} <m{n}> article")
                    for ln in articles[n - 1].split(b"\n"):
                        ln = ln.rstrip(b"\r")
                        self.wfile.write((b"." + ln if ln.startswith(b".") else ln) + b"\r\n")
                    self.send(".")
                elif cmd == "QUIT":
                    self.send("205 bye")
                    return
                else:
                    self.send("500 unknown command")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), News)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _perceval_nntp(port: int, group: str, out: Path) -> None:
    """`perceval nntp HOST GROUP --json-line` through Perceval's own command class; nntplib
    always dials port 119, so its constructor is given the test server's port instead."""
    code = (
        "import nntplib\n"
        "_nntp = nntplib.NNTP\n"
        f"nntplib.NNTP = lambda host, *a, **k: _nntp(host, {port}, *a, **k)\n"
        "from perceval.backends.core.nntp import NNTPCommand\n"
        f"NNTPCommand('127.0.0.1', {group!r}, '--json-line', '--no-archive').run()\n"
    )
    with out.open("ab") as f:
        subprocess.run(
            [sys.executable, "-c", code],
            stdout=f,
            stderr=subprocess.DEVNULL,
            check=True,
            timeout=300,
        )


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory, archive_site):
    """(direct store, Perceval store, items file)."""
    url, archive_files = archive_site
    tmp = tmp_path_factory.mktemp("perceval")
    mbox_dir = data_path("fixtures", "perceval", "tests", "data", "mbox")
    xq = data_path("xen-qemu-samples")
    items = tmp / "items.jsonl"
    # Real patch series (the xen/qemu sample threads) as well as Perceval's own fixtures.
    _perceval(["mbox", "file://fixtures", str(mbox_dir)], items)
    _perceval(["mbox", "file://xen-qemu", str(xq)], items)
    _perceval(["pipermail", f"{url}/pipermail/", "--mboxes-path", str(tmp / "pm")], items)
    since = ["--from-date", "2016-03-01"]
    _perceval(
        ["hyperkitty", f"{url}/hyperkitty/list/", "--mboxes-path", str(tmp / "hk"), *since], items
    )
    articles = [data_path(*NNTP, n) for n in ("nntp_1.txt", "nntp_2.txt")]
    news = _nntp_server([a.read_bytes() for a in articles], "example.dev")
    try:
        _perceval_nntp(news.server_address[1], "example.dev", items)
    finally:
        news.shutdown()
    files = sorted(mbox_dir.glob("*.mbox")) + sorted(xq.glob("*.mbox")) + archive_files
    files += articles
    direct = build(tmp / "direct", *files)
    via = build(tmp / "via", items)
    return direct, via, items


def _rows(engine) -> dict[str, dict]:
    with engine.connect() as conn:
        return {r.message_id: r._asdict() for r in conn.execute(select(*COLUMNS))}


# What Perceval drops or changes, found by reading both stores, checked exactly:
# - messages it refuses: one without a Message-ID (stored by patchlens under a derived id)
#   and one whose Date cannot be parsed (mbox_no_fields.mbox);
DROPPED = {
    "0000be042b7b@domain.com",
    "patchlens.c72f4cd9a228269393087f10372456a1301428da@synthetic.invalid",
}
# - a double space inside a header line is one after the rebuild (the rebuild collapses
#   the spaces Perceval's header decoding inserts between encoded words, "Alex  Bennée");
# - a ">>From " body line of an mboxrd file: Perceval (Python's mailbox) leaves it escaped.
CHANGED = {
    ("20230722081646.4136-2-jgross@suse.com", "subject"),
    ("20230724103324.4207-2-jgross@suse.com", "subject"),
    ("87iqzlofqu.fsf@avet.kvota.net", "body"),
}


def test_perceval_items_give_the_same_messages(both) -> None:
    direct, via, items = both
    backends = Counter(json.loads(line)["backend_name"] for line in items.open())
    assert backends == {"MBox": 75, "Pipermail": 8, "HyperKitty": 4, "NNTP": 2}
    a, b = _rows(direct), _rows(via)
    assert len(a) == 85  # mbox fixtures, the eight xen/qemu threads and pipermail months
    assert set(a) - set(b) == DROPPED
    assert set(b) - set(a) == set()
    changed = {
        (k, c.name) for k in set(a) & set(b) for c in COLUMNS if a[k][c.name] != b[k][c.name]
    }
    assert changed == CHANGED
    k = "87iqzlofqu.fsf@avet.kvota.net"
    assert ">From the 2.3M" in a[k]["body"] and ">>From the 2.3M" in b[k]["body"]
    for k in ("20230722081646.4136-2-jgross@suse.com", "20230724103324.4207-2-jgross@suse.com"):
        assert a[k]["subject"].replace("  ", " ") == b[k]["subject"]
    # Patches survive: the diffs of every patch are the same.
    assert sum(1 for r in b.values() if r["has_patch"]) >= 20


def _without_ids(value: object) -> object:
    """A version detail without the store's own row ids, which differ between two stores."""
    if isinstance(value, dict):
        return {
            k: _without_ids(v)
            for k, v in value.items()
            if k not in ("id", "pk", "first_source_id") and not k.endswith("_pk")
        }
    if isinstance(value, (list, tuple)):
        return [_without_ids(v) for v in value]
    return value


def test_perceval_items_give_the_same_series(both) -> None:
    """Every series version, its patches, replies, trailers and states: the same."""
    direct, via, _items = both
    va, vb = _without_ids(all_versions(direct)), _without_ids(all_versions(via))
    assert len(va) == 16 and sum(len(v["members"]) for v in va) == 28
    # The one difference: the member subjects of the CHANGED subjects, exactly as above.
    seen = set()
    for v in va:
        for member in v["members"]:
            if (member["message_id"], "subject") in CHANGED:
                member["subject"] = member["subject"].replace("  ", " ")
                seen.add(member["message_id"])
    assert seen == {k for k, c in CHANGED if c == "subject"}
    assert va == vb


def test_detected_and_incremental(tmp_path: Path, both) -> None:
    """`add-list` detects the items; a grown file is read from where the last run stopped."""
    _direct, _via, items = both
    lines = items.read_bytes().splitlines(keepends=True)
    grown = tmp_path / "grown.jsonl"
    grown.write_bytes(b"".join(lines[:40]))
    assert detect_format(str(grown)) == "perceval"
    src = PercevalSource(str(grown))
    plan = src.plan(None, 1000)
    batches = list(plan.batches)
    assert sum(len(b.messages) for b in batches) == 40
    cursor = batches[-1].cursor
    assert list(src.plan(cursor, 1000).batches) == []  # untouched: nothing read
    with grown.open("ab") as f:
        f.write(b"".join(lines[40:55]))
    again = list(src.plan(cursor, 1000).batches)
    assert sum(len(b.messages) for b in again) == 15
    assert {m.position for b in again for m in b.messages} == {
        str(len(b"".join(lines[:i]))) for i in range(40, 55)
    }


def test_raw_index_hits_are_read(tmp_path: Path, both) -> None:
    """A GrimoireLab raw index dumped as hits (`_source`) reads as the items themselves."""
    _direct, _via, items = both
    lines = items.read_text().splitlines()[:10]
    hits = tmp_path / "hits.jsonl"
    hits.write_text(
        "".join(
            json.dumps(
                {"_index": "mbox_raw", "_id": json.loads(ln)["uuid"], "_source": json.loads(ln)}
            )
            + "\n"
            for ln in lines
        )
    )
    assert detect_format(str(hits)) == "perceval"
    got = [m.raw for b in PercevalSource(str(hits)).plan(None, 100).batches for m in b.messages]
    want = [rebuild_message(json.loads(ln)["data"]) for ln in lines]
    assert got == want and len(got) == 10


def test_bad_lines_are_named(tmp_path: Path, both) -> None:
    _direct, _via, items = both
    first, second = items.read_text().splitlines()[:2]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(f'{first}\nnot json at all\n{{"data": 3}}\n{second}\n{first[:50]}')
    batches = list(PercevalSource(str(bad)).plan(None, 100).batches)
    assert sum(len(b.messages) for b in batches) == 2
    damage = [(d.position, d.reason) for b in batches for d in b.damage]
    assert damage[0][0] == f"{bad}: line 2" and "not valid JSON" in damage[0][1]
    assert damage[1][0] == f"{bad}: line 3" and "not a Perceval item" in damage[1][1]
    assert damage[2][0] == f"{bad}: line 5" and "no newline" in damage[2][1]
    assert len(damage) == 3
    other = tmp_path / "other.json"
    other.write_text('{"hello": 1}\n')
    with pytest.raises(SourceError, match=r"other.json: line 1: JSON, but not a Perceval item"):
        detect_format(str(other))


def test_hostile_headers_cannot_inject() -> None:
    """A header value with line breaks stays one header; the body stays the body."""
    raw = rebuild_message(
        {
            "Message-ID": "<a@b>",
            "Subject": "hi\n\nInjected-Body: yes\r\nX-Evil: 1",
            "Bad Name": "x",
            "body": {"plain": "text\n"},
        }
    )
    head, body = raw.split(b"\n\n", 1)
    assert body == b"text\n"
    assert b"\nX-Evil" not in head and b"Bad Name" not in head
    assert b"\nSubject: hiInjected-Body: yesX-Evil: 1\n" in head
    assert head.count(b"\n") == 4  # Message-ID, Subject, MIME-Version, Content-Type, CTE


def test_perceval_is_importable_here() -> None:
    """The test extra installs Perceval: without it the tests above could not run."""
    out = subprocess.run([*PERCEVAL, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("perceval ")


def test_attached_patch_stays_an_attachment() -> None:
    """Perceval keeps a `text/x-patch` attachment as body["x-patch"]: rebuilt as a text
    attachment, the patch is found as one, with the same diff."""
    diff = "diff --git a/f.c b/f.c\n--- a/f.c\n+++ b/f.c\n@@ -1 +1 @@\n-old\n+new\n"
    raw = rebuild_message(
        {
            "Message-ID": "<p@x>",
            "From": "A <a@x>",
            "Date": "Mon, 1 Jan 2024 00:00:00 +0000",
            "Subject": "[PATCH] f: new",
            "body": {"plain": "Signed-off-by: A <a@x>\n", "x-patch": diff},
        }
    )
    parsed = parse_message(raw)
    assert parsed.has_patch and parsed.patch_kind == "attachment"
    assert "+new" in parsed.diff and "Signed-off-by: A <a@x>" in parsed.body


def test_add_list_and_update_from_the_command_line(tmp_path: Path, both) -> None:
    """`patchlens add-list NAME items.jsonl` detects the items; `update` stores them; a
    second update after the file grew reads the new lines only."""
    _direct, _via, items = both
    lines = items.read_bytes().splitlines(keepends=True)
    grown = tmp_path / "items.jsonl"
    grown.write_bytes(b"".join(lines[:30]))
    db = tmp_path / "s.db"

    def cli(*args: str) -> str:
        proc = invoke_cli("--db", str(db), *args)
        proc.check_returncode()
        return proc.stdout

    assert cli("add-list", "gl", str(grown)).split() == ["gl:", str(grown), "(perceval)"]
    cli("-q", "update")
    con = sqlite3.connect(db)
    cursor = json.loads(con.execute("SELECT cursor FROM list_sources").fetchone()[0])
    assert cursor["offset"] == len(b"".join(lines[:30])) and cursor["line"] == 31
    con.close()
    grown.write_bytes(b"".join(lines))
    cli("-q", "update")
    con = sqlite3.connect(db)
    cursor = json.loads(con.execute("SELECT cursor FROM list_sources").fetchone()[0])
    assert cursor["offset"] == grown.stat().st_size and cursor["line"] == len(lines) + 1
    messages = con.execute("SELECT count(*) FROM messages").fetchone()[0]
    sightings = con.execute("SELECT count(*) FROM message_sightings").fetchone()[0]
    con.close()
    # Every item seen once, at its own line's offset.
    assert sightings == len(lines) and messages < len(lines)
