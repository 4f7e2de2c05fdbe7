"""Reading series, with everything the metrics need, out of the store in a few queries."""

from __future__ import annotations

from sqlalchemy import Connection, and_, select

from patchlens.identity.people import Identities
from patchlens.metrics.model import PatchFacts, ReplyFacts, SeriesFacts, VersionFacts
from patchlens.queries.sql import cols
from patchlens.store import schema

# What makes a reviewer's reply a *review* (docs/METRICS.md, "review"): the one definition,
# behind every stored figure (reviews, time to first review, nearly complete, tag only).
# Tested-by and Nacked-by are trailers given, not approval of the change.
REVIEW_KEYS = ("Reviewed-by", "Acked-by")


def people_of(conn: Connection) -> Identities:
    """The senders of the stored mail, grouped (without a repository's mailmap or the
    commits' authors: `stages.context` adds those for the stored figures)."""
    m = schema.messages
    people = Identities()
    people.add_dated(conn.execute(select(m.c.from_name, m.c.from_addr, m.c.date_utc)))
    return people


def load_series(conn: Connection, people: Identities | None = None) -> list[SeriesFacts]:
    people = people or people_of(conn)
    sv, vm, m, a = (
        schema.series_versions,
        schema.version_members,
        schema.messages,
        schema.message_analysis,
    )
    series: dict[str, SeriesFacts] = {}
    versions: dict[str, VersionFacts] = {}
    titles = dict(conn.execute(select(schema.series.c.key, schema.series.c.title)).all())
    for r in conn.execute(select(sv).order_by(sv.c.series_key, sv.c.seq)):
        se = series.get(r.series_key)
        if se is None:
            se = series[r.series_key] = SeriesFacts(
                key=r.series_key,
                title=titles.get(r.series_key, r.title),
                author=people(r.author_name, r.author_addr),
                author_addr=r.author_addr,
            )
        v = versions[r.key] = VersionFacts(
            r.key,
            r.seq,
            r.version,
            r.date,
            r.cover_pk is not None,
            title=r.title,
            partial=r.partial,
            pull=r.pull,
            backport=r.backport,
        )
        se.versions.append(v)
    commits = {
        mpk: (cdate, amb)
        for mpk, cdate, amb in conn.execute(
            select(
                schema.patch_commits.c.message_pk,
                schema.commits.c.committer_date,
                schema.patch_commits.c.ambiguous,
            ).join(schema.commits, schema.commits.c.id == schema.patch_commits.c.commit_pk)
        )
    }
    for r in conn.execute(
        select(
            *cols(vm, "version_key", "idx"),
            *cols(m, "id", "date_utc", "subject"),
            *cols(a, "lines_added", "lines_removed", "files"),
        )
        .join(m, m.c.id == vm.c.message_pk)
        .join(a, a.c.message_pk == m.c.id)
        .where(vm.c.idx > 0)
        .order_by(vm.c.version_key, vm.c.idx)  # patches in order, whatever order mail was read
    ):
        v = versions.get(r.version_key)
        if v is None:
            continue
        cdate, amb = commits.get(r.id, (None, False))
        v.patches[r.idx] = PatchFacts(
            r.id,
            r.idx,
            r.date_utc or v.date,
            r.lines_added,
            r.lines_removed,
            tuple(_files(r.files)),
            cdate,
            amb,
            subject=r.subject or "",
        )
    mt = schema.message_trailers
    carried = {
        pk
        for pk, email, addr in conn.execute(
            select(mt.c.message_pk, mt.c.email, m.c.from_addr)
            .join(m, m.c.id == mt.c.message_pk)
            .where(~mt.c.given, mt.c.key.in_(REVIEW_KEYS))
        )
        if (email or "") != addr
    }
    for v in versions.values():
        for p in v.patches.values():
            p.carried_review = p.pk in carried
    reviewed = {
        pk
        for (pk,) in conn.execute(
            select(mt.c.message_pk).where(and_(mt.c.given, mt.c.key.in_(REVIEW_KEYS)))
        )
    }
    mn = schema.message_notices
    notices: dict[int, tuple[list[str], str]] = {}
    for pk, kind, tree in conn.execute(
        select(mn.c.message_pk, mn.c.kind, mn.c.tree).order_by(mn.c.message_pk, mn.c.kind)
    ):
        kinds, old = notices.setdefault(pk, ([], ""))
        kinds.append(kind)
        notices[pk] = (kinds, old or tree or "")
    rp = schema.replies
    for r in conn.execute(
        select(
            *cols(rp, "version_key", "addressed_idx", "is_author", "is_bot"),
            *cols(m, "id", "message_id", "date_utc", "from_name", "from_addr"),
            a.c.lines_written,
        )
        .join(m, m.c.id == rp.c.message_pk)
        .join(a, a.c.message_pk == m.c.id)
        .order_by(m.c.date_utc, m.c.message_id)
    ):
        v = versions.get(r.version_key)
        if v is None or r.date_utc is None:
            continue
        v.replies.append(
            ReplyFacts(
                r.id,
                r.date_utc,
                people(r.from_name, r.from_addr),
                r.addressed_idx,
                r.is_author,
                r.is_bot,
                r.lines_written,
                r.id in reviewed,
                r.from_addr,
                r.message_id,
                tuple(notices.get(r.id, ((), ""))[0]),
                notices.get(r.id, ((), ""))[1],
            )
        )
    _mark_new_contributors(list(series.values()))
    return list(series.values())


def _files(text: str) -> list[str]:
    import json

    return json.loads(text)


def _mark_new_contributors(all_series: list[SeriesFacts]) -> None:
    """New: the series is the author's first on the list; everyone else is established."""
    first: dict[str, int] = {}
    for se in all_series:
        d = se.first_date
        if se.author not in first or d < first[se.author]:
            first[se.author] = d
    for se in all_series:
        se.new_contributor = se.first_date == first[se.author]
