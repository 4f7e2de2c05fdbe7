"""The reconstruction step of `update`: rebuild threads, versions, series and replies in memory
from the analysed messages (stages/analyse.py) and write back only the rows that changed.

The structural pass needs only headers and the stored analysis; it is global (a version can
span threads, a series spans versions) but takes about a second on 15,000 messages.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Table, delete, func, select

from patchlens.identity.bots import BotMatcher
from patchlens.identity.people import Identities
from patchlens.mail.fingerprint import unpack_packed
from patchlens.queries.evidence import people_of
from patchlens.review.model import Mail, Version, in_force
from patchlens.review.replies import ReplyLink, attribute_replies
from patchlens.review.series import group_versions
from patchlens.review.threads import ThreadLink, build_threads
from patchlens.review.versions import Link, chains, laid_over, link_versions
from patchlens.stages import changes, linkfeatures, linkwords
from patchlens.stages.closure import insert_keys
from patchlens.stages.linkfeatures import feature_row
from patchlens.stages.mails import analysed_messages, mail_columns, mail_of, message_ref
from patchlens.stages.progress import Reporter, StepReport, Task, advancing
from patchlens.stages.review_incremental import (
    Delta,
    Fallback,
    Loaded,
    rebuild_part,
    stored_versions,
)
from patchlens.store import schema
from patchlens.store.writer import sync_table


@dataclass
class ReconstructReport(StepReport):
    """What the structural pass built, counted for `update`'s summary."""

    threads: int = 0
    versions: int = 0
    series: int = 0
    links: int = 0  # version -> next version
    replies: int = 0
    incremental: bool = False  # only what new mail changes was rebuilt
    fallback: str = ""  # why an update after new mail rebuilt everything


def load_mails(
    conn: Connection, task: Task | None = None
) -> tuple[list[Mail], dict[int, ThreadLink]]:
    """The analysed messages as Mails, and their threads; `task` advances per message read."""
    fp = schema.diff_fingerprints
    hashes = {
        pk: unpack_packed(h)
        for pk, h in conn.execute(select(fp.c.pk, fp.c.hashes).where(fp.c.kind == "m"))
    }
    rows = conn.execute(select(*mail_columns()).select_from(analysed_messages())).all()
    links = build_threads(message_ref(r) for r in rows)
    mails = [mail_of(r, links[r.id], hashes.get(r.id, frozenset())) for r in advancing(rows, task)]
    return mails, links


@dataclass
class Structure:
    threads: dict[int, ThreadLink]
    versions: list[Version]
    links: list[Link]
    series: dict[str, list[str]]
    replies: list[ReplyLink]
    mails: list[Mail]


def build_structure(
    mails: list[Mail],
    threads: dict[int, ThreadLink],
    people: Identities | None = None,
    is_bot: BotMatcher | None = None,
) -> Structure:
    """Pure: versions, links, series and reply attribution from analysed mails."""
    versions = group_versions(mails)
    if people is None:
        people = Identities(
            [(m.from_name, m.from_addr) for m in mails]
            + [(m.author_name, m.author_addr) for m in mails if m.author_addr != m.from_addr]
        )
    links = link_versions(versions, people)
    series = chains(versions, links)
    replies = attribute_replies(mails, versions, is_bot or BotMatcher(), people)
    return Structure(threads, versions, links, series, replies, mails)


def structure_rows(
    st: Structure, activity: dict[str, int] | None = None, featured: set[str] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """The rows of every structural table, keyed by table name. Pure. `activity` adds the
    latest replies known elsewhere (an incremental rebuild holds only some of them);
    `featured`, the versions whose link_features rows are wanted (default all): a version
    that comes out as stored has the features stored (they follow from its members alone),
    and computing them again cost an incremental rebuild more than reading them saved."""
    by_key = {v.key: v for v in st.versions}
    link_to = {lk.next: lk for lk in st.links}
    last_activity: dict[str, int] = {v.key: max(m.date for m in v.members) for v in st.versions}
    for key, d in (activity or {}).items():
        if key in last_activity and d > last_activity[key]:
            last_activity[key] = d
    by_pk = {m.pk: m for m in st.mails}
    for r in st.replies:
        d = by_pk[r.message_pk].date
        if r.version_key in last_activity and d > last_activity[r.version_key]:
            last_activity[r.version_key] = d
    rows: dict[str, list[dict[str, Any]]] = {
        "message_threads": [
            {
                "message_pk": pk,
                "thread_key": t.thread,
                "parent_id": t.parent,
                "depth": t.depth,
                "by_subject": t.by_subject,
            }
            for pk, t in st.threads.items()
        ],
        "series_versions": [],
        "link_features": [],
        "version_members": [],
        "series": [],
        "replies": [
            {
                "message_pk": r.message_pk,
                "version_key": r.version_key,
                "addressed_pk": r.addressed_pk,
                "addressed_idx": r.addressed_idx,
                "is_author": r.is_author,
                "is_bot": r.is_bot,
            }
            for r in st.replies
        ],
    }
    for series_key, chain in st.series.items():
        over = laid_over([by_key[k] for k in chain], link_to)
        for seq, key in enumerate(chain, 1):
            v = by_key[key]
            lk = link_to.get(key)
            rows["series_versions"].append(
                {
                    "key": key,
                    "series_key": series_key,
                    "seq": seq,
                    "version": v.version,
                    "version_str": v.version_str,
                    "rfc": v.rfc,
                    "resend": v.resend,
                    "pull": v.pull,
                    "backport": v.backport,
                    "committed": v.committed,
                    # Laid over the version in force before it: a partial re-roll, or a patch
                    # split out of it (review/versions.py laid_over); what reads it keeps that
                    # version in force. Grouping's own flag is `grouped_partial` of the row.
                    "partial": over[seq - 1],
                    "title": v.title,
                    "author_name": v.author_name,
                    "author_addr": v.author_addr,
                    "total": v.total,
                    "n_patches": len(v.patches),
                    "missing": json.dumps(v.missing),
                    "thread_key": v.thread,
                    "date": v.date,
                    "cover_pk": v.cover.pk if v.cover else None,
                    "rerolls_key": v.rerolls,
                    "prev_key": lk.prev if lk else None,
                    "link_score": lk.score if lk else None,
                    "link_evidence": json.dumps(lk.evidence, sort_keys=True) if lk else None,
                }
            )
            if featured is None or key in featured:
                rows["link_features"].append(feature_row(v))
            for idx, mail in ([(0, v.cover)] if v.cover else []) + sorted(v.patches.items()):
                rows["version_members"].append(
                    {"message_pk": mail.pk, "version_key": key, "idx": idx}
                )
        first, latest = by_key[chain[0]], by_key[chain[-1]]
        # Named after the version in force: a partial re-roll re-sends a patch or two.
        current = by_key[chain[in_force(over)]]
        rows["series"].append(
            {
                "key": series_key,
                "title": current.title,
                # The series' author is its first version's, as the metrics count it
                # (queries/evidence.py): the latest's name beside the first's address made
                # `from:` find a series by two different people.
                "author_name": first.author_name,
                "author_addr": first.author_addr,
                "n_versions": len(chain),
                "latest_version_key": latest.key,
                "first_date": first.date,
                "last_date": max(last_activity[k] for k in chain),
            }
        )
    return rows


TABLE_KEYS: dict[str, tuple[Table, tuple[str, ...]]] = {
    "message_threads": (schema.message_threads, ("message_pk",)),
    "series_versions": (schema.series_versions, ("key",)),
    "link_features": (schema.link_features, ("key",)),
    "version_members": (schema.version_members, ("message_pk",)),
    "series": (schema.series, ("key",)),
    "replies": (schema.replies, ("message_pk",)),
}


def owed_downstream(
    touched: dict[str, list[dict[str, Any]]], rows: dict[str, list[dict[str, Any]]]
):
    """What matching and metrics must redo after the structural rows in `touched` (old and new
    values of every row written or removed) changed; `rows` are the rows now wanted. Pure.

    A posting's matcher input is its member row and its version's row; a series' metrics rest
    on its versions, members and replies."""
    series_of: dict[str, str] = {}
    for r in touched.get("series_versions", []):
        series_of.setdefault(r["key"], r["series_key"])
    for r in rows.get("series_versions", []):
        series_of[r["key"]] = r["series_key"]
    members: dict[str, set[int]] = {}
    for r in rows.get("version_members", []):
        members.setdefault(r["version_key"], set()).add(r["message_pk"])
    series: set[str] = {r["key"] for r in touched.get("series", [])}
    postings: set[int] = set()
    for r in touched.get("series_versions", []):
        series.add(r["series_key"])
        postings |= members.get(r["key"], set())
    for r in touched.get("version_members", []):
        postings.add(r["message_pk"])
        if r["version_key"] in series_of:
            series.add(series_of[r["version_key"]])
    for r in touched.get("replies", []):
        if r["version_key"] in series_of:
            series.add(series_of[r["version_key"]])
    return series, postings


def _write_part(
    conn: Connection, part: Delta, touched: dict[str, list[dict[str, Any]]], people: Identities
) -> int:
    """Write an incremental rebuild's rows over its scope, and keep the linking word counts
    in step with the versions written (stages/linkwords.py); the number of rows changed."""
    n = 0
    for name, (table, key) in TABLE_KEYS.items():
        n += _sync_part(conn, table, key[0], part.rows[name], part.scope[name], touched[name])
    linkwords.follow(conn, touched["series_versions"], part.rows["series_versions"], people)
    return n


def _sync_part(
    conn: Connection,
    table: Table,
    key: str,
    rows: list[dict[str, Any]],
    scope: set[Any],
    touched: list[dict[str, Any]],
) -> int:
    """`sync_table` over the rows whose key is in `scope`, a chunk of keys at a time."""
    keys = sorted(scope)
    by_key: dict[Any, list[dict[str, Any]]] = {}
    for r in rows:
        by_key.setdefault(r[key], []).append(r)
    n = 0
    for i in range(0, len(keys), 500):
        chunk = keys[i : i + 500]
        part = [r for k in chunk for r in by_key.get(k, [])]
        n += sync_table(conn, table, (key,), part, touched, where=table.c[key].in_(chunk))
    return n


# A store rebuilt from nothing with more messages than this is rebuilt a batch of this many
# at a time (by date), each batch as an incremental update on the ones before.
COLD_BATCH = 20_000


def _count_stored(conn: Connection, rep: ReconstructReport) -> None:
    """The store's totals, as a full rebuild reports them."""
    sv, mt = schema.series_versions, schema.message_threads

    def count(q) -> int:
        return conn.execute(select(func.count()).select_from(q.subquery())).scalar_one()

    rep.threads = count(select(mt.c.thread_key).distinct())
    rep.versions = count(select(sv.c.key))
    rep.series = count(select(schema.series.c.key))
    rep.links = count(select(sv.c.key).where(sv.c.prev_key.is_not(None)))
    rep.replies = count(select(schema.replies.c.message_pk))


COLD_DONE, COLD_OF = changes.COLD_DONE, changes.COLD_OF


def _in_batches(
    engine: Engine,
    rep: ReconstructReport,
    reporter: Reporter,
    total: int,
    size: int,
    people: Identities | None,
    is_bot: BotMatcher | None,
    newest: int,
) -> bool:
    """Everything, `size` messages at a time in date order, each batch an update on the ones
    before it, committed with the count of messages done: memory stays that of a batch, not
    of the store, and an interrupted rebuild resumes at its last batch (the batches and their
    order depend only on the messages, so the result is the one of a run without a stop).
    False (and the tables left for the rebuild in memory to correct) when a batch cannot be
    bounded."""
    with engine.begin() as conn:
        done = changes.mark(conn, COLD_DONE) if changes.mark(conn, COLD_OF) == newest else None
        if done is None:
            for table, _key in TABLE_KEYS.values():
                conn.execute(delete(table))
            linkwords.clear(conn)
            done = 0
            changes.set_mark(conn, COLD_OF, newest, int(time.time()))
            changes.set_mark(conn, COLD_DONE, 0, int(time.time()))
        order = [
            pk
            for (pk,) in conn.execute(
                select(schema.messages.c.id)
                .select_from(analysed_messages())
                .order_by(func.coalesce(schema.messages.c.date_utc, 0), schema.messages.c.id)
            )
        ]
        people = people or people_of(conn)
    with reporter.task("reconstructing review (messages, in batches)", total) as task:
        task.advance(min(done, len(order)))
        for i in range(done, len(order), size):
            batch = set(order[i : i + size])
            with engine.begin() as conn:
                try:
                    part = rebuild_part(conn, batch, people, is_bot or BotMatcher(), 0)
                except Fallback as why:
                    rep.fallback = f"batch {i // size + 1}: {why}"
                    return False
                rep.changed_rows += _write_part(
                    conn, part, {name: [] for name in TABLE_KEYS}, people
                )
                changes.set_mark(conn, COLD_DONE, i + len(batch), int(time.time()))
            task.advance(len(batch))
    with engine.connect() as conn:
        _count_stored(conn, rep)
    return True


def _in_memory(
    conn: Connection,
    rep: ReconstructReport,
    reporter: Reporter,
    total: int,
    people: Identities | None,
    is_bot: BotMatcher | None,
    touched: dict[str, list[dict[str, Any]]],
) -> dict[str, list[dict[str, Any]]]:
    """Everything at once, in memory; the rows wanted."""
    people = people or people_of(conn)
    with reporter.task("reconstructing review (messages)", total) as task:
        mails, threads = load_mails(conn, task)
        st = build_structure(mails, threads, people, is_bot)
        rows = structure_rows(st)
        for name, (table, key) in TABLE_KEYS.items():
            rep.changed_rows += sync_table(conn, table, key, rows[name], touched[name])
        senders = {v.key: (v.sender_name, v.sender_addr) for v in st.versions}
        linkwords.rebuild(conn, rows["series_versions"], senders, people)
    rep.threads = len({t.thread for t in threads.values()})
    rep.versions = len(st.versions)
    rep.series = len(st.series)
    rep.links = len(st.links)
    rep.replies = len(st.replies)
    return rows


def fill_features(engine: Engine, reporter: Reporter) -> int:
    """The linking features of every stored version that has none, when a store made before
    them owes them (changes.FEATURES). Not when everything is to be rebuilt anyway (the
    rebuild writes them), nor while a rebuild in batches is unfinished (it fills what its
    earlier batches, maybe by older code, left without, once it is done). The number of rows
    written."""
    with engine.connect() as conn:
        work = changes.pending(conn, changes.STRUCTURE)
        if not work.features or work.full or changes.mark(conn, COLD_OF) is not None:
            return 0
        keys = linkfeatures.missing(conn)
    n = _write_features(engine, reporter, keys)
    with engine.begin() as conn:
        pw = schema.pending_work
        conn.execute(
            delete(pw).where(pw.c.stage == changes.STRUCTURE, pw.c.item == changes.FEATURES)
        )
    return n


def _write_features(engine: Engine, reporter: Reporter, keys: list[str]) -> int:
    """Rows for the stored versions `keys`, read back in full a piece at a time, a
    transaction each: an interrupted fill goes on where it stopped (`linkfeatures.missing`)."""
    n = 0
    with reporter.task("storing linking's features of stored versions", len(keys)) as task:
        for i in range(0, len(keys), linkfeatures.FILL_PIECE):
            piece = set(keys[i : i + linkfeatures.FILL_PIECE])
            with engine.begin() as conn:
                rows = _feature_rows(conn, piece)
                if rows:
                    conn.execute(schema.link_features.insert(), rows)
            n += len(rows)
            task.advance(len(piece))
    return n


def _feature_rows(conn: Connection, keys: set[str]) -> list[dict[str, Any]]:
    """The feature rows of `keys`; a version the store cannot give back whole (a member
    without its thread, no member at all) is left without one, and relinking reads it in
    full as it did before there were rows."""
    try:
        return [feature_row(v) for v in stored_versions(conn, keys, Loaded()).values()]
    except (Fallback, ValueError):
        if len(keys) == 1:
            return []
        return [row for k in sorted(keys) for row in _feature_rows(conn, {k})]


def rebuild_structure(
    engine: Engine,
    reporter: Reporter,
    people: Identities | None = None,
    is_bot: BotMatcher | None = None,
    cold_batch: int | None = None,
) -> ReconstructReport:
    """Threads, versions, series and replies; writes what changed and owes matching and
    metrics what it changed (stages/changes.py).

    After new mail only, the part it can change is rebuilt (stages/review_incremental.py);
    when that part cannot be bounded, or everything is owed, all of it: in one transaction,
    or for a large store in batches of a transaction each (resumed after a stop)."""
    rep = ReconstructReport()
    cold_batch = cold_batch or COLD_BATCH
    fill_features(engine, reporter)
    with engine.begin() as conn:
        since = changes.mark(conn, "messages")
        work = changes.pending(conn, changes.STRUCTURE)
        # A rebuild in batches that did not finish: the tables hold part of it, so only
        # another rebuild (resumed or anew) can follow.
        unfinished = changes.mark(conn, COLD_OF) is not None
        newest = conn.execute(select(func.max(schema.messages.c.id))).scalar() or 0
        # The exact count scans every message (0.8 s at a million): an update that stays
        # incremental only weighs its part against the store's size, for which the newest
        # id (never below the count) does; the exact count is read when a rebuild needs it.
        total = newest
        fresh = {
            pk
            for (pk,) in conn.execute(
                select(schema.messages.c.id).where(schema.messages.c.id > (since or 0))
            )
        }
        insert_keys(conn, since)
        touched: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLE_KEYS}
        delta = None
        series: set[str] | None = set()
        if since is not None and not work.full and not unfinished:
            try:
                with reporter.task("reconstructing review (new messages)", len(fresh)) as task:
                    delta = rebuild_part(
                        conn,
                        fresh,
                        people or people_of(conn),
                        is_bot or BotMatcher(),
                        total,
                    )
                    task.advance(len(fresh))
            except Fallback as why:
                rep.fallback = str(why)
        if delta is not None:
            rows = delta.rows
            rep.changed_rows += _write_part(conn, delta, touched, people or people_of(conn))
            # What was rebuilt, not the store's totals: counting those costs a scan of tables
            # that grow with the archive, on every update.
            rep.incremental = True
            rep.threads, rep.versions, rep.series = delta.threads, delta.versions, delta.series
            rep.links, rep.replies = delta.links, delta.replies
        else:
            total = conn.execute(select(func.count()).select_from(analysed_messages())).scalar_one()
            if total > cold_batch:
                series = None
            else:
                rows = _in_memory(conn, rep, reporter, total, people, is_bot, touched)
        if series is not None:
            series, postings = owed_downstream(touched, rows)
            changes.owe(conn, changes.MATCHING, changes.Work(postings=postings))
            changes.owe(conn, changes.METRICS, changes.Work(series=series, messages=fresh))
            changes.set_mark(conn, "messages", newest, int(time.time()))
            changes.clear_mark(conn, COLD_DONE)
            changes.clear_mark(conn, COLD_OF)
            changes.done(conn, changes.STRUCTURE)
            return rep
    # Rebuilt from empty, in batches, a transaction each; a batch that cannot be bounded
    # leaves the tables to the rebuild in memory. Either way the next steps redo everything.
    batched = _in_batches(engine, rep, reporter, total, cold_batch, people, is_bot, newest)
    if batched:
        # Batches written before link_features existed (a rebuild resumed after an upgrade)
        # have none: filled before the rebuild is declared done.
        with engine.connect() as conn:
            missing = linkfeatures.missing(conn)
        _write_features(engine, reporter, missing)
    with engine.begin() as conn:
        if not batched:
            _in_memory(conn, rep, reporter, total, people, is_bot, touched)
        changes.owe(conn, changes.MATCHING, changes.Work(full=True))
        changes.owe(conn, changes.METRICS, changes.Work(full=True))
        changes.set_mark(conn, "messages", newest, int(time.time()))
        changes.clear_mark(conn, COLD_DONE)
        changes.clear_mark(conn, COLD_OF)
        changes.done(conn, changes.STRUCTURE)
    return rep
