"""`patchlens export opensearch`: the enriched data as OpenSearch/Elasticsearch bulk NDJSON,
one index each for series versions, patches, review replies (with their trailers),
patch-commit links and people, with explicit mappings (docs/OPENSEARCH.md).

GrimoireLab users keep their Kibana/OpenSearch Dashboards panels: the fields the 2016 Xen
dashboard's panels used (time to merge, time to first review, versions per series,
reviewers, organisations, states, dates) are in the versions and patches indexes.

Incremental: every document's id comes from its keys (a version key, a Message-ID, a
commit), and a state file beside the output keeps a content hash per id; an export writes
(and `--url` sends) only documents that are new or changed since the last one, and deletes
for those that are gone. The rows come from the read model (queries/exports.py), so the
numbers are the ones the dashboard and the other exports show.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from patchlens.metrics.backlog import BacklogRules
from patchlens.queries import exports
from patchlens.queries.filters import Filters
from patchlens.queries.formats import iso
from patchlens.store import schema

STATE_FILE = ".patchlens-opensearch-state.json"
DATE = {"type": "date", "format": "strict_date_optional_time||epoch_second"}
KW = {"type": "keyword"}
TEXT = {"type": "text", "fields": {"raw": {"type": "keyword", "ignore_above": 512}}}
INT = {"type": "long"}
FLOAT = {"type": "double"}
BOOL = {"type": "boolean"}

# Series-level fields copied onto each version (and the series' state onto each patch), so a
# panel filters versions by state or organisation without a join (OpenSearch has none).
_SERIES_FIELDS = {
    "state": KW,
    "org": KW,
    "merged": KW,
    "new_contributor": BOOL,
    "subsystems": KW,
    "versions": INT,
    "patches_in_series": INT,
    "reviewers": INT,
    "reviews": INT,
    "review_replies": INT,
    "first_date": DATE,
    "last_date": DATE,
    "time_to_first_response_hours": FLOAT,
    "time_to_first_review_hours": FLOAT,
    "time_to_merge_hours": FLOAT,
    "time_to_commit_hours": FLOAT,
    "rework_time_hours": FLOAT,
    "cycle_time_hours": FLOAT,
    "lines_added": INT,
    "lines_removed": INT,
    "files_changed": INT,
}

MAPPINGS: dict[str, dict[str, Any]] = {
    "versions": {
        "series": KW,
        "version_key": KW,
        "seq": INT,
        "version": KW,
        "flags": KW,
        "title": TEXT,
        "author": KW,
        "date": DATE,
        "total": INT,
        "n_patches": INT,
        "n_replies": INT,
        "cover": KW,
        "patches": KW,
        "missing": INT,
        "previous_version": KW,
        "next_version": KW,
        "superseded_by_merged": KW,
        **_SERIES_FIELDS,
    },
    "patches": {
        "message_id": KW,
        "series": KW,
        "version_seq": INT,
        "superseded": BOOL,
        "superseded_by_merged": KW,
        "version_key": KW,
        "idx": INT,
        "date": DATE,
        "author": KW,
        "org": KW,
        "state": KW,
        "time_to_first_response_hours": FLOAT,
        "time_to_first_review_hours": FLOAT,
        "time_to_merge_hours": FLOAT,
        "reviewed": BOOL,
        "merged": BOOL,
        "lines_added": INT,
        "lines_removed": INT,
        "files_changed": INT,
        "commit": KW,
        "match_method": KW,
        "match_score": FLOAT,
    },
    "replies": {
        "message_id": KW,
        "series": KW,
        "version_key": KW,
        "date": DATE,
        "person": KW,
        "org": KW,
        "patch": KW,
        "patch_idx": INT,
        "lines_written": INT,
        "lines_quoted": INT,
        "is_author": BOOL,
        "is_bot": BOOL,
        "trailers": KW,
        "trailer_kinds": KW,
        "notices": KW,
    },
    "links": {
        "message_id": KW,
        "repo": KW,
        "commit": KW,
        "method": KW,
        "score": FLOAT,
        "ambiguous": BOOL,
        "evidence": {"type": "text", "index": False},
    },
    "people": {
        "identity": KW,
        "name": TEXT,
        "address": KW,
        "org": KW,
        "review_replies": INT,
        "reviews": INT,
        "flag_only": INT,
        "substantive": INT,
        "lines_written": INT,
        "series_reviewed": INT,
        "series_authored": INT,
        "patches_authored": INT,
        "replies_received": INT,
        "given_per_received": FLOAT,
    },
}
INDEXES = tuple(MAPPINGS)


def valid_prefix(prefix: str) -> bool:
    """An index name prefix OpenSearch accepts: lower case, digits, '-' and '_'."""
    return re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,100}", prefix) is not None


def index_body(name: str) -> dict[str, Any]:
    """The body of the index creation request: strict, so a field the mapping does not
    name is refused by the node instead of guessed."""
    return {"mappings": {"dynamic": "strict", "properties": MAPPINGS[name]}}


def doc_id(*keys: object) -> str:
    """A document id from the row's keys: the same row gets the same id at every export.
    Hashed, because Message-IDs can be longer than the 512 bytes an id may have."""
    return hashlib.sha1("\x1f".join(str(k) for k in keys).encode()).hexdigest()


def content_hash(doc: dict[str, Any]) -> str:
    return hashlib.sha1(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class Documents:
    """Every document of every index, by id."""

    by_index: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def add(self, index: str, ident: str, doc: dict[str, Any]) -> None:
        self.by_index.setdefault(index, {})[ident] = doc


def _dates(conn: Connection) -> dict[str, str | None]:
    """Each message's date as ISO 8601 UTC, for replies and patches (the export rows have
    the version's date only)."""
    m = schema.messages
    return {
        mid: iso(d) if d is not None else None
        for mid, d in conn.execute(select(m.c.message_id, m.c.date_utc))
    }


def _trailer_kind(trailer: str) -> str:
    return trailer.split(":", 1)[0].strip().lower()


def build_documents(conn: Connection, f: Filters, rules: BacklogRules) -> Documents:
    """The documents of the five indexes for the series `f` selects, from the read model."""
    out = Documents()
    series = {r["series_key"]: r for r in exports.metrics_rows(conn, f, rules)}
    people = exports.people_rows(conn, f, rules)
    org_of = {p["address"]: p["org"] for p in people}
    dates = _dates(conn)
    author_of: dict[str, str] = {}
    for v in exports.series_rows(conn, f, rules):
        s = series.get(v["series"], {})
        doc = {k: v.get(k) for k in MAPPINGS["versions"] if k in v}
        doc["n_patches"] = len(v["patches"])
        doc["n_replies"] = len(v["replies"])
        for k in _SERIES_FIELDS:
            doc[k] = s.get("patches") if k == "patches_in_series" else s.get(k)
        out.add("versions", doc_id(v["version_key"]), doc)
        for p in v["patches"]:
            author_of[p] = v["author"]
        for r in v["replies"]:
            trailers = [t for t in r.get("trailers") or [] if t]
            out.add(
                "replies",
                doc_id(v["version_key"], r["message_id"]),
                {
                    "message_id": r["message_id"],
                    "series": v["series"],
                    "version_key": v["version_key"],
                    "date": dates.get(r["message_id"]),
                    "person": r["person"],
                    "org": org_of.get(r["person"]),
                    "patch": r.get("patch"),
                    "patch_idx": r.get("patch_idx"),
                    "lines_written": r.get("lines_written"),
                    "lines_quoted": r.get("lines_quoted"),
                    "is_author": r.get("is_author"),
                    "is_bot": r.get("is_bot"),
                    "trailers": trailers,
                    "trailer_kinds": sorted({_trailer_kind(t) for t in trailers}),
                    "notices": r.get("notices") or [],
                },
            )
    for p in exports.patch_rows(conn, f, rules):
        s = series.get(p["series"], {})
        doc = dict(p)
        doc["date"] = dates.get(p["message_id"])
        doc["author"] = author_of.get(p["message_id"])
        doc["org"] = s.get("org")
        doc["state"] = s.get("state")
        out.add("patches", doc_id(p["version_key"], p["message_id"]), doc)
    for link in exports.links_rows(conn, f, rules):
        out.add("links", doc_id(link["message_id"], link["repo"], link["commit"]), dict(link))
    for person in people:
        out.add("people", doc_id(person["identity"]), dict(person))
    for name in INDEXES:
        out.by_index.setdefault(name, {})
    return out


@dataclass
class Changes:
    """What one export sends: per index, the documents new or changed and the ids gone."""

    upserts: dict[str, dict[str, dict[str, Any]]]
    deletes: dict[str, list[str]]
    hashes: dict[str, dict[str, str]]

    @property
    def count(self) -> int:
        return sum(map(len, self.upserts.values())) + sum(map(len, self.deletes.values()))


def diff(docs: Documents, state: dict[str, dict[str, str]]) -> Changes:
    """The documents whose content hash is not the one recorded for their id. Pure."""
    upserts: dict[str, dict[str, dict[str, Any]]] = {}
    deletes: dict[str, list[str]] = {}
    hashes: dict[str, dict[str, str]] = {}
    for name, by_id in docs.by_index.items():
        old = state.get(name, {})
        hashes[name] = {i: content_hash(d) for i, d in by_id.items()}
        upserts[name] = {i: d for i, d in by_id.items() if old.get(i) != hashes[name][i]}
        deletes[name] = sorted(set(old) - set(by_id))
    return Changes(upserts, deletes, hashes)


def bulk_ops(index: str, changes: Changes, name: str) -> Iterable[list[str]]:
    """The bulk API operations for one index: an action line and its document, or a
    delete line alone."""
    for ident, doc in sorted(changes.upserts.get(name, {}).items()):
        yield [
            json.dumps({"index": {"_index": index, "_id": ident}}),
            json.dumps(doc, ensure_ascii=False, default=str),
        ]
    for ident in changes.deletes.get(name, []):
        yield [json.dumps({"delete": {"_index": index, "_id": ident}})]


def read_state(out: Path) -> dict[str, dict[str, str]]:
    path = out / STATE_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except ValueError:
        return {}  # a damaged state: everything is sent again, which is always right
    return data if isinstance(data, dict) else {}


def write_state(out: Path, changes: Changes) -> None:
    tmp = out / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps(changes.hashes, sort_keys=True))
    os.replace(tmp, out / STATE_FILE)


@dataclass
class Result:
    files: list[Path]
    sent: dict[str, int]
    deleted: dict[str, int]


def export(
    conn: Connection,
    f: Filters,
    rules: BacklogRules,
    out: Path,
    prefix: str = "patchlens",
    full: bool = False,
    load: Callable[[str, dict[str, Any], list[list[str]]], None] | None = None,
) -> Result:
    """Write `out/mappings/<index>.json` and `out/<index>.ndjson` (the bulk requests of what
    changed since the last export into `out`, or of everything with `full`), and, with
    `load`, send each index's lines through it; the state file is written only once every
    index is written (and loaded), so a failed load is sent again next time."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "mappings").mkdir(exist_ok=True)
    docs = build_documents(conn, f, rules)
    changes = diff(docs, {} if full else read_state(out))
    files = []
    for name in INDEXES:
        index = f"{prefix}-{name}"
        mapping = out / "mappings" / f"{index}.json"
        mapping.write_text(json.dumps(index_body(name), indent=1) + "\n")
        ops = list(bulk_ops(index, changes, name))
        data = out / f"{index}.ndjson"
        data.write_text("".join(line + "\n" for op in ops for line in op), encoding="utf-8")
        files += [mapping, data]
        if load is not None:
            load(index, index_body(name), ops)
    write_state(out, changes)
    return Result(
        files,
        {n: len(changes.upserts.get(n, {})) for n in INDEXES},
        {n: len(changes.deletes.get(n, [])) for n in INDEXES},
    )


def opensearch_loader(url: str) -> Callable[[str, dict[str, Any], list[list[str]]], None]:
    """A `load` for `export` through the official client (`pip install patchlens[grimoire]`):
    the index is created with its mapping if it does not exist, then the lines go in bulk
    requests of at most 1,000 documents; any refused item stops the export (no state saved)."""
    try:
        from opensearchpy import OpenSearch
    except ImportError as e:
        raise RuntimeError("--url needs opensearch-py: pip install 'patchlens[grimoire]'") from e
    client = OpenSearch(hosts=[url], timeout=60)

    def load(index: str, body: dict[str, Any], ops: list[list[str]]) -> None:
        if not client.indices.exists(index=index):
            client.indices.create(index=index, body=body)
        for i in range(0, len(ops), 1000):
            chunk = ops[i : i + 1000]
            answer = client.bulk(body="".join(line + "\n" for op in chunk for line in op))
            if answer.get("errors"):
                bad = [it for it in answer.get("items", []) if _failed(it)]
                raise RuntimeError(f"{index}: {len(bad)} documents refused: {bad[:3]}")

    return load


def _failed(item: dict[str, Any]) -> bool:
    return any(isinstance(v, dict) and v.get("error") for v in item.values())
