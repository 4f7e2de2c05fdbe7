"""The analysis step of `update`: what each message says on its own (trailers, notices, files,
a posting's fingerprint), computed once per message and per ANALYSIS_VERSION.

It needs the bodies and is the expensive part of the steps after ingest, so it works in
batches, in worker processes, and commits each batch: an interrupted run keeps what it did.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine, delete, or_, select

from patchlens.review import analysis
from patchlens.review.analysis import Analysis, analyze
from patchlens.stages import changes
from patchlens.stages import match as match_stage
from patchlens.stages.parallel import DEFAULT_JOBS, ordered_map
from patchlens.stages.progress import Reporter
from patchlens.store import schema
from patchlens.store.db import make_engine
from patchlens.store.writer import insert_ignore

ANALYSIS_BATCH = 2000


def _analyse_chunk(job: tuple[str, list[int]]) -> list[Analysis]:
    """Read and analyse messages by primary key; runs in a worker with its own connection."""
    url, pks = job
    engine = make_engine(url, readonly=True)
    m = schema.messages
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(
                    m.c.id,
                    m.c.subject,
                    m.c.body,
                    m.c.diff,
                    m.c.has_patch,
                    m.c.in_reply_to,
                    m.c.refs,
                    m.c.from_addr,
                ).where(m.c.id.in_(pks))
            ).all()
    finally:
        engine.dispose()
    return [analyze(*r[:5], bool(r.in_reply_to or r.refs), r.from_addr or "") for r in rows]


def analyse_new(
    engine: Engine, reporter: Reporter, jobs: int = DEFAULT_JOBS, everything: bool = True
) -> int:
    """Analyse every message that has no analysis yet, or one written by an older
    ANALYSIS_VERSION (its rows are replaced); returns how many.

    Without `everything` only messages new since the last reconstruction (above its mark)
    are looked for: new messages get larger keys (ingest analyses most of them already). The
    pipeline
    asks for `everything` when the code or the configuration changed (a newer
    ANALYSIS_VERSION is part of that), where a scan of every message is due."""
    m, a = schema.messages, schema.message_analysis
    with engine.connect() as conn:
        query = select(m.c.id).outerjoin(a, a.c.message_pk == m.c.id)
        if everything:
            query = query.where(
                or_(
                    a.c.message_pk.is_(None),
                    a.c.analysis_version < analysis.ANALYSIS_VERSION,
                )
            )
        else:
            since = changes.mark(conn, "messages") or 0
            query = query.where(m.c.id > since, a.c.message_pk.is_(None))
        todo = [pk for (pk,) in conn.execute(query.order_by(m.c.id))]
    if not todo:
        return 0
    url = engine.url.render_as_string(hide_password=False)
    chunks = [(url, todo[i : i + ANALYSIS_BATCH]) for i in range(0, len(todo), ANALYSIS_BATCH)]
    with reporter.task("analysing messages", len(todo)) as task:
        # A pool costs more to start than one batch takes.
        workers = jobs if len(chunks) > 1 else 1
        for (_url, pks), results in ordered_map(_analyse_chunk, chunks, workers):
            with engine.begin() as conn:
                _forget_analysis(conn, pks)
                store_analysis(conn, results)
            task.advance(len(pks))
    return len(todo)


def _forget_analysis(conn: Connection, pks: list[int]) -> None:
    """Drop what an older analysis stored for these messages (nothing for new ones)."""
    for table in (
        schema.message_analysis,
        schema.message_trailers,
        schema.message_notices,
        schema.message_fixes,
    ):
        conn.execute(delete(table).where(table.c.message_pk.in_(pks)))
    fp = schema.diff_fingerprints
    conn.execute(delete(fp).where(fp.c.kind == "m", fp.c.pk.in_(pks)))


def store_analysis(conn: Connection, results: list[Analysis]) -> None:
    """Write analyses (their message_pk set); the ingest stage writes those its parse
    workers computed together with the messages."""
    insert_ignore(conn, schema.message_analysis, [r.row for r in results])
    insert_ignore(
        conn,
        schema.diff_fingerprints,
        [
            {
                "kind": "m",
                "pk": r.row["message_pk"],
                "hashes": r.fingerprint,
                "fp_version": match_stage.FINGERPRINT_VERSION,
            }
            for r in results
            if r.fingerprint is not None
        ],
    )
    insert_ignore(
        conn,
        schema.message_trailers,
        [
            {
                "message_pk": r.row["message_pk"],
                "seq": n,
                "given": given,
                "key": t.key,
                "value": t.value,
                "name": t.name,
                "email": t.email,
            }
            for r in results
            for n, (given, t) in enumerate(r.trailers)
        ],
    )
    insert_ignore(
        conn,
        schema.message_notices,
        [
            {
                "message_pk": r.row["message_pk"],
                "kind": k,
                "tree": r.notice_tree or None,
                "scope": r.notice_scope or None,
                "bare": k in r.bare_kinds,
            }
            for r in results
            for k in dict.fromkeys(r.notices)
        ],
    )
    insert_ignore(
        conn,
        schema.message_fixes,
        [{"message_pk": r.row["message_pk"], "hash": h} for r in results for h in r.fixed_by],
    )
