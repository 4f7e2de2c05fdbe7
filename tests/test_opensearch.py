"""`patchlens export opensearch` (issue 16, acceptance 2) on the real EROFS store.

No OpenSearch or Elasticsearch node can be installed here (neither PyPI nor Debian ships
one), so the bulk NDJSON is checked against its mappings (every field mapped with a
compatible type, dates parse, ids unique), and `--url` is run through the real opensearch-py
client against a small HTTP server that records the requests it gets, to test that a second
export sends only the changed documents."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from patchlens.metrics.backlog import STATES
from patchlens.stages.opensearch import INDEXES, MAPPINGS, STATE_FILE
from tests.helpers.cli import invoke_cli

pytestmark = pytest.mark.slow


def _export(db: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = invoke_cli("--db", str(db), "-q", "export", "opensearch", *args)
    if check:
        proc.check_returncode()
    return proc


def _ops(path: Path) -> list[tuple[str, str, dict | None]]:
    """(action, id, document) of each operation of a bulk file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    out = []
    i = 0
    while i < len(lines):
        action = json.loads(lines[i])
        ((verb, meta),) = action.items()
        assert meta["_index"] == path.stem
        if verb == "index":
            out.append((verb, meta["_id"], json.loads(lines[i + 1])))
            i += 2
        else:
            assert verb == "delete"
            out.append((verb, meta["_id"], None))
            i += 1
    return out


def _fits(value: object, mapping: dict) -> bool:
    """Whether a JSON value is one an OpenSearch field of this mapping takes."""
    if value is None:
        return True
    if isinstance(value, list):
        return all(_fits(v, mapping) and not isinstance(v, list) for v in value)
    kind = mapping["type"]
    if kind in ("keyword", "text"):
        return isinstance(value, str)
    if kind == "long":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "double":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "date":
        if not isinstance(value, str):
            return False
        dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return True
    raise AssertionError(f"a mapping type the test does not know: {kind}")


@pytest.fixture(scope="module")
def exported(erofs_store, tmp_path_factory: pytest.TempPathFactory) -> Path:
    db, _engine, _ = erofs_store
    out = tmp_path_factory.mktemp("os") / "out"
    _export(db, "--out", str(out))
    return out


def test_bulk_validates_against_its_mappings(exported: Path) -> None:
    counts = {}
    for name in INDEXES:
        index = f"patchlens-{name}"
        body = json.loads((exported / "mappings" / f"{index}.json").read_text())
        props = body["mappings"]["properties"]
        assert body["mappings"]["dynamic"] == "strict" and props == MAPPINGS[name]
        ops = _ops(exported / f"{index}.ndjson")
        ids = [i for _v, i, _d in ops]
        assert len(ids) == len(set(ids)), f"{index}: ids not unique"
        for _verb, ident, doc in ops:
            assert doc is not None
            unknown = set(doc) - set(props)
            assert not unknown, f"{index} {ident}: fields not in the mapping: {unknown}"
            bad = {k: v for k, v in doc.items() if not _fits(v, props[k])}
            assert not bad, f"{index} {ident}: values the mapping refuses: {bad}"
        counts[name] = len(ops)
    # The real EROFS store: thousands of versions and patches, and commits linked.
    assert counts["versions"] > 1000 and counts["patches"] > counts["versions"]
    assert counts["replies"] > 1000 and counts["links"] > 500 and counts["people"] > 100
    versions = [d for _v, _i, d in _ops(exported / "patchlens-versions.ndjson")]
    # The 2016 dashboard's panels: time to merge, versions per series, states, orgs, dates.
    merged = [v for v in versions if v["time_to_merge_hours"] is not None]
    assert len(merged) > 500 and all(v["time_to_merge_hours"] >= 0 for v in merged)
    # Without a filter, the versions of every series, each with its series' fields: pull
    # requests are not series (`--search is:pull` exports them).
    assert all(v["state"] is not None for v in versions)
    assert not [v for v in versions if "PULL" in v["flags"]]
    states = {v["state"] for v in versions if v["state"] is not None}
    assert states <= set(STATES) and len(states) >= 5
    assert max(v["versions"] or 0 for v in versions) >= 3 and all(v["date"] for v in versions)
    assert len({v["org"] for v in versions if v["org"]}) >= 5
    replies = [d for _v, _i, d in _ops(exported / "patchlens-replies.ndjson")]
    reviewed = [r for r in replies if "reviewed-by" in r["trailer_kinds"]]
    assert len(reviewed) > 100 and all(
        any(t.lower().startswith("reviewed-by:") for t in r["trailers"]) for r in reviewed
    )


def test_reexport_sends_nothing_then_only_what_changed(exported: Path, erofs_store, tmp_path):
    """Ids are stable: the same store exports nothing new; one reply's date changed exports
    that one reply."""
    db, _engine, _ = erofs_store
    out = tmp_path / "out"
    shutil.copytree(exported, out)
    _export(db, "--out", str(out))
    for name in INDEXES:
        assert (out / f"patchlens-{name}.ndjson").read_text() == ""
    copy = tmp_path / "copy.db"
    shutil.copy(db, copy)
    reply = _ops(exported / "patchlens-replies.ndjson")[0]
    with sqlite3.connect(copy) as con:
        n = con.execute(
            "UPDATE messages SET date_utc = date_utc + 3600 WHERE message_id = ?",
            (reply[2]["message_id"],),
        ).rowcount
    assert n == 1
    _export(copy, "--out", str(out))
    sent = {name: _ops(out / f"patchlens-{name}.ndjson") for name in INDEXES}
    assert {k: len(v) for k, v in sent.items() if v} == {"replies": 1}
    assert sent["replies"][0][1] == reply[1] and sent["replies"][0][2]["date"] != reply[2]["date"]


class _FakeNode:
    """An HTTP server that answers as an OpenSearch node does for index creation and _bulk,
    and records what it was sent. `refuse` makes the next bulk report one refused item."""

    def __init__(self) -> None:
        self.indexes: set[str] = set()
        self.bulk: list[list[dict]] = []
        self.created: list[str] = []
        self.refuse = False
        node = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _reply(self, code: int, body: dict | None = None) -> None:
                data = json.dumps(body or {}).encode()
                self.send_response(code)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            def do_HEAD(self) -> None:
                self._reply(200 if self.path.strip("/") in node.indexes else 404)

            def do_PUT(self) -> None:
                name = self.path.strip("/")
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                assert body["mappings"]["dynamic"] == "strict"
                node.indexes.add(name)
                node.created.append(name)
                self._reply(200, {"acknowledged": True, "index": name})

            def do_POST(self) -> None:
                assert self.path.split("?")[0] == "/_bulk"
                raw = self.rfile.read(int(self.headers["content-length"])).decode()
                lines = [json.loads(x) for x in raw.splitlines() if x]
                node.bulk.append(lines)
                items = [
                    {verb: {"_id": meta["_id"], "status": 200}}
                    for line in lines
                    for verb, meta in line.items()
                    if verb in ("index", "delete") and "_id" in meta
                ]
                errors = False
                if node.refuse and items:
                    node.refuse = False
                    errors = True
                    verb = next(iter(items[0]))
                    items[0][verb].update(status=400, error={"type": "mapper_parsing_exception"})
                self._reply(200, {"took": 1, "errors": errors, "items": items})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def sent_ids(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for lines in self.bulk:
            for line in lines:
                for verb, meta in line.items():
                    if verb in ("index", "delete") and "_id" in meta:
                        out.setdefault(meta["_index"], set()).add(meta["_id"])
        return out


def test_url_loads_through_opensearch_py_incrementally(erofs_store, tmp_path: Path) -> None:
    db, _engine, _ = erofs_store
    node = _FakeNode()
    try:
        out = tmp_path / "out"
        # A refused document: the export fails in one line and keeps no state.
        node.refuse = True
        failed = _export(db, "--out", str(out), "--url", node.url, check=False)
        assert failed.returncode == 2 and "1 documents refused" in failed.stderr
        assert not (out / STATE_FILE).exists()
        node.bulk.clear()
        _export(db, "--out", str(out), "--url", node.url)
        assert sorted(set(node.created)) == sorted(f"patchlens-{n}" for n in INDEXES)
        first = node.sent_ids()
        for name in INDEXES:
            index = f"patchlens-{name}"
            in_file = {i for _v, i, _d in _ops(out / f"{index}.ndjson")}
            assert first.get(index, set()) == in_file and in_file
        # Bulk requests of at most 1,000 documents, never an action without its document.
        assert all(len(lines) <= 2000 and len(lines) % 2 == 0 for lines in node.bulk)
        node.bulk.clear()
        _export(db, "--out", str(out), "--url", node.url)
        assert node.bulk == []  # nothing changed: nothing sent
        # --full sends everything again.
        _export(db, "--out", str(out), "--url", node.url, "--full")
        assert node.sent_ids() == first
    finally:
        node.server.shutdown()


def test_pull_requests_are_exported_when_selected(erofs_store, tmp_path: Path) -> None:
    db, _engine, _ = erofs_store
    out = tmp_path / "pulls"
    _export(db, "--out", str(out), "--search", "is:pull")
    versions = [d for _v, _i, d in _ops(out / "patchlens-versions.ndjson")]
    assert versions and all("PULL" in v["flags"] for v in versions)
    # Selected, a pull request carries what the pull requests page says of it.
    assert all(v["state"] for v in versions)
