"""Writing what the sources read: parsed messages and commits. Idempotent, so a batch read
twice (after an interruption) stores nothing twice, and every batch commits together with the
cursor that follows it."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, fields, replace
from typing import Any

from sqlalchemy import Connection, bindparam, delete, select, update

from patchlens.mail.parse import ParsedMessage, Unparseable, parse_message
from patchlens.queries.sql import chunks
from patchlens.review.analysis import Analysis, analyze
from patchlens.sources.base import RawMessage
from patchlens.sources.gitrepo import CommitRecord
from patchlens.stages.analyse import store_analysis
from patchlens.stages.match import FINGERPRINT_VERSION
from patchlens.store import schema
from patchlens.store.compression import Precompressed, compress, compress_text
from patchlens.store.writer import insert_ignore


@dataclass(slots=True)
class MessageCounts:
    """What storing messages did: read, new, the same again (duplicates), another copy under
    a known Message-ID (variants), unparseable (quarantined)."""

    read: int = 0
    new: int = 0
    duplicates: int = 0
    variants: int = 0
    quarantined: int = 0

    def add(self, other: MessageCounts) -> None:
        for f in fields(MessageCounts):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass(slots=True)
class Parsed:
    """A message ready to store: where it was, its bytes compressed, and its parse (or the
    reason it has none)."""

    position: str
    raw: Precompressed
    raw_size: int
    result: ParsedMessage | str
    body: Precompressed | None = None
    diff: Precompressed | None = None
    # What the analysis step would compute from the stored message, computed here in the
    # parse worker from the same text (no second read and decompression of every new
    # message); its message_pk is set when the message is stored.
    analysis: Analysis | None = None


def parse_batch(msgs: list[RawMessage]) -> list[Parsed]:
    """Parse and compress a batch. Pure and picklable, so worker processes can run it."""
    out: list[Parsed] = []
    for m in msgs:
        result: ParsedMessage | str
        try:
            result = parse_message(m.raw, m.archive_date)
        except Unparseable as e:
            result = str(e)
        except Exception as e:  # hostile input: keep it and say why
            result = f"parser error: {type(e).__name__}: {e}"
        zbody = zdiff = None
        found = None
        if isinstance(result, ParsedMessage):
            # Compressed here, in the worker, to keep the writing process (the bottleneck)
            # free of it; the text itself is not sent back.
            body = _clean(result.body)
            diff = _clean(result.diff) if result.diff is not None else None
            zbody = compress_text(body)
            zdiff = compress_text(diff) if diff is not None else None
            # Analysed from exactly what is stored (the cleaned text), as analyse_new would.
            try:
                found = analyze(
                    0,
                    result.subject,
                    body,
                    diff,
                    bool(result.has_patch),
                    bool(result.in_reply_to or result.refs),
                    result.from_addr or "",
                )
            except Exception:  # left to analyse_new, which reports it as it always did
                found = None
            result = replace(result, body="", diff=None)
        raw = Precompressed(compress(m.raw))
        out.append(Parsed(m.position, raw, len(m.raw), result, zbody, zdiff, found))
    return out


def store_messages(
    conn: Connection,
    source_id: int,
    list_id: int,
    parsed: list[Parsed],
) -> MessageCounts:
    res = MessageCounts(read=len(parsed))
    now = int(time.time())
    good = [(r, r.result) for r in parsed if isinstance(r.result, ParsedMessage)]
    bad = [(r, r.result) for r in parsed if isinstance(r.result, str)]
    if bad:
        insert_ignore(
            conn,
            schema.quarantine,
            [
                {
                    "source_id": source_id,
                    "position": r.position,
                    "reason": reason,
                    "raw": r.raw,
                    "created_at": now,
                }
                for r, reason in bad
            ],
        )
        res.quarantined = len(bad)

    ids = list({p.message_id for _, p in good})
    existing: dict[str, tuple[int, str]] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        for pk, mid, chash in conn.execute(
            select(
                schema.messages.c.id, schema.messages.c.message_id, schema.messages.c.content_hash
            ).where(schema.messages.c.message_id.in_(chunk))
        ):
            existing[mid] = (pk, chash)

    new_rows: list[dict[str, Any]] = []
    firsts: dict[str, str] = {}  # message_id -> content hash of the copy being inserted
    later: list[tuple[Parsed, ParsedMessage]] = []
    for raw, p in good:
        if p.message_id in existing or p.message_id in firsts:
            later.append((raw, p))
            continue
        firsts[p.message_id] = p.content_hash
        new_rows.append(_message_row(raw, p, source_id, now))
    insert_ignore(conn, schema.messages, new_rows)
    res.new = len(new_rows)

    if firsts:
        chunk_ids = list(firsts)
        for i in range(0, len(chunk_ids), 500):
            for pk, mid, chash in conn.execute(
                select(
                    schema.messages.c.id,
                    schema.messages.c.message_id,
                    schema.messages.c.content_hash,
                ).where(schema.messages.c.message_id.in_(chunk_ids[i : i + 500]))
            ):
                existing[mid] = (pk, chash)

    sightings = [
        {
            "message_pk": existing[p.message_id][0],
            "source_id": source_id,
            "position": raw.position,
            "list_id": list_id,
        }
        for raw, p in good
    ]
    variants = []
    for raw, p in later:
        pk, chash = existing[p.message_id]
        if chash == p.content_hash:
            res.duplicates += 1
        else:
            res.variants += 1
            variants.append(
                {
                    "message_pk": pk,
                    "source_id": source_id,
                    "position": raw.position,
                    "content_hash": p.content_hash,
                    "raw": raw.raw,
                }
            )
    insert_ignore(conn, schema.message_sightings, sightings)
    insert_ignore(conn, schema.message_variants, variants)
    analysed = []
    for raw, p in good:
        # The copy inserted now (first of its Message-ID, content as stored) brings its
        # analysis; a message stored before keeps the one it has.
        if raw.analysis is not None and firsts.get(p.message_id) == p.content_hash:
            raw.analysis.row["message_pk"] = existing[p.message_id][0]
            analysed.append(raw.analysis)
            del firsts[p.message_id]
    store_analysis(conn, analysed)
    return res


def _message_row(raw: Parsed, p: ParsedMessage, source_id: int, now: int) -> dict[str, Any]:
    return {
        "message_id": p.message_id,
        "synthetic_id": p.synthetic_id,
        "date_utc": p.date_utc,
        "date_offset": p.date_offset,
        "date_source": p.date_source,
        "from_name": p.from_name,
        "from_addr": p.from_addr,
        "to_addrs": p.to_addrs,
        "cc_addrs": p.cc_addrs,
        "subject": p.subject,
        "in_reply_to": p.in_reply_to,
        "refs": p.refs,
        "list_id_header": p.list_id_header,
        "body": raw.body,
        "has_patch": p.has_patch,
        "patch_kind": p.patch_kind,
        "diff": raw.diff,
        "content_hash": p.content_hash,
        "raw": raw.raw,
        "raw_size": raw.raw_size,
        "first_source_id": source_id,
        "ingested_at": now,
    }


def _clean(text: str) -> str:
    """Text a database accepts: no NUL (PostgreSQL refuses it), no lone surrogates."""
    if "\0" in text:
        text = text.replace("\0", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def save_source_cursor(conn: Connection, source_id: int, cursor: dict[str, Any]) -> None:
    conn.execute(
        update(schema.list_sources)
        .where(schema.list_sources.c.id == source_id)
        .values(cursor=json.dumps(cursor, sort_keys=True), last_update=int(time.time()))
    )


# --- commits ---------------------------------------------------------------------------------


def known_commits(conn: Connection, repo_id: int, shas: list[str]) -> dict[str, int]:
    """sha -> primary key for those of `shas` already stored."""
    known: dict[str, int] = {}
    for i in range(0, len(shas), 500):
        for pk, sha in conn.execute(
            select(schema.commits.c.id, schema.commits.c.sha).where(
                schema.commits.c.repo_id == repo_id, schema.commits.c.sha.in_(shas[i : i + 500])
            )
        ):
            known[sha] = pk
    return known


def add_branch(conn: Connection, branch: str, commit_pks: list[int]) -> None:
    insert_ignore(
        conn, schema.commit_branches, [{"commit_pk": pk, "branch": branch} for pk in commit_pks]
    )


def store_commits(conn: Connection, repo_id: int, branch: str, records: list[CommitRecord]) -> int:
    """Insert commits (and their files and trailers); returns how many were new."""
    if not records:
        return 0
    shas = [r.sha for r in records]
    known = known_commits(conn, repo_id, shas)
    fresh = [r for r in records if r.sha not in known]
    insert_ignore(
        conn,
        schema.commits,
        [
            {
                "repo_id": repo_id,
                "sha": r.sha,
                "parents": " ".join(r.parents),
                "is_merge": r.is_merge,
                "author_name": r.author_name,
                "author_email": r.author_email,
                "author_date": r.author_date,
                "author_offset": r.author_offset,
                "committer_name": r.committer_name,
                "committer_email": r.committer_email,
                "committer_date": r.committer_date,
                "committer_offset": r.committer_offset,
                "subject": r.subject,
                "message": _clean(r.message),
                **_diff_values(r),
            }
            for r in fresh
        ],
    )
    known.update(known_commits(conn, repo_id, [r.sha for r in fresh]))
    trailers = []
    for r in fresh:
        for i, t in enumerate(r.trailers):
            trailers.append(
                {
                    "commit_pk": known[r.sha],
                    "seq": i,
                    "key": t.key,
                    "value": _clean(t.value),
                    "name": t.name,
                    "email": t.email,
                }
            )
    insert_ignore(conn, schema.commit_files, _file_rows(fresh, known))
    insert_ignore(conn, schema.commit_trailers, trailers)
    insert_ignore(conn, schema.diff_fingerprints, _fingerprint_rows(fresh, known))
    add_branch(conn, branch, [known[sha] for sha in shas])
    return len(fresh)


def _diff_values(r: CommitRecord) -> dict[str, Any]:
    """A commit's columns that come from its diff (a commit read without it: none counted)."""
    return {
        "files_changed": len(r.files),
        "lines_added": sum(f.added for f in r.files),
        "lines_removed": sum(f.removed for f in r.files),
        "patch_id": r.patch_id,
        "diff": r.diff_z if r.diff_z is not None else r.diff,
        "diff_skipped": r.diff_skipped,
    }


def _file_rows(records: list[CommitRecord], pks: dict[str, int]) -> list[dict[str, Any]]:
    files = []
    for r in records:
        pk = pks[r.sha]
        seen_paths: set[str] = set()
        for f in r.files:
            if f.path in seen_paths:
                continue
            seen_paths.add(f.path)
            files.append(
                {
                    "commit_pk": pk,
                    "path": _clean(f.path),
                    "old_path": _clean(f.old_path) if f.old_path else None,
                    "lines_added": f.added,
                    "lines_removed": f.removed,
                    "binary": f.binary,
                }
            )
    return files


def _fingerprint_rows(records: list[CommitRecord], pks: dict[str, int]) -> list[dict[str, Any]]:
    """The fingerprints the reading workers computed, as fingerprint_new would store them
    (every non-merge commit read with its diff, an empty one for a commit without one)."""
    return [
        {"kind": "c", "pk": pks[r.sha], "hashes": r.fingerprint, "fp_version": FINGERPRINT_VERSION}
        for r in records
        if r.fingerprint is not None and not r.is_merge
    ]


def refill_commits(conn: Connection, repo_id: int, records: list[CommitRecord]) -> int:
    """Stored commits read again, with their diffs or without (the history horizon moved,
    stages/horizon.py): their diff columns, files and fingerprints replaced by the ones a
    first reading like this one would have stored. Returns how many were stored."""
    pks = known_commits(conn, repo_id, [r.sha for r in records])
    records = [r for r in records if r.sha in pks]
    if not records:
        return 0
    c, cf, fp = schema.commits, schema.commit_files, schema.diff_fingerprints
    values = [{"pk_": pks[r.sha], **_diff_values(r)} for r in records]
    conn.execute(
        update(c)
        .where(c.c.id == bindparam("pk_"))
        .values({k: bindparam(k) for k in values[0] if k != "pk_"}),
        values,
    )
    ids = sorted(pks[r.sha] for r in records)
    for part in chunks(ids):
        conn.execute(delete(cf).where(cf.c.commit_pk.in_(part)))
        conn.execute(delete(fp).where(fp.c.kind == "c", fp.c.pk.in_(part)))
    insert_ignore(conn, cf, _file_rows(records, pks))
    insert_ignore(conn, fp, _fingerprint_rows(records, pks))
    return len(records)
