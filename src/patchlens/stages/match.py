"""The matching step of `update`: fingerprint what is new, match everything, store changes."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, delete, func, select

from patchlens.identity.people import Identities
from patchlens.mail.fingerprint import fingerprint, pack, unpack
from patchlens.mail.subject import normalize_title
from patchlens.match.matcher import DIFF_WINDOW, CommitInfo, Match, Posting, match
from patchlens.match.pointers import pointer_ids
from patchlens.match.renames import Renames, commit_aliases
from patchlens.stages import changes
from patchlens.stages.progress import Reporter, StepReport, Task, advancing
from patchlens.store import schema
from patchlens.store.writer import insert_ignore, sync_table

FP_BATCH = 500
# Bump when mail/fingerprint.py changes what it computes: `update` then recomputes every
# stored fingerprint (of postings and of commits) and matches again.
FINGERPRINT_VERSION = 1


@dataclass
class MatchReport(StepReport):
    """How many postings and commits were matched, into how many links, how many of them
    ambiguous (another series' posting fits as well)."""

    postings: int = 0
    commits: int = 0
    links: int = 0
    ambiguous: int = 0


def _posting_query():
    vm, sv, m, a = (
        schema.version_members,
        schema.series_versions,
        schema.messages,
        schema.message_analysis,
    )
    return (
        select(
            m.c.id,
            m.c.message_id,
            m.c.from_name,
            m.c.from_addr,
            m.c.date_utc,
            a.c.author_name,
            a.c.author_addr,
            a.c.normalized_title,
            a.c.patch_id,
            a.c.files,
            sv.c.series_key,
            sv.c.version,
            sv.c.resend,
        )
        .select_from(vm)
        .join(sv, sv.c.key == vm.c.version_key)
        .join(m, m.c.id == vm.c.message_pk)
        .join(a, a.c.message_pk == m.c.id)
        # Pull requests and backports re-send patches posted (and matched) elsewhere.
        .where(vm.c.idx > 0, ~sv.c.pull, ~sv.c.backport, m.c.has_patch)
    )


def fingerprint_new(engine: Engine, reporter: Reporter) -> int:
    """Fingerprints for postings and commits that have none yet, or one computed by an older
    FINGERPRINT_VERSION (replaced)."""
    fp = schema.diff_fingerprints
    with engine.connect() as conn:
        posted = {r.id for r in conn.execute(_posting_query())}
        have: dict[str, set[int]] = {"m": set(), "c": set()}
        stale: dict[str, set[int]] = {"m": set(), "c": set()}
        for kind, pk, version in conn.execute(select(fp.c.kind, fp.c.pk, fp.c.fp_version)):
            (stale if version < FINGERPRINT_VERSION else have)[kind].add(pk)
        commits = {
            pk
            for (pk,) in conn.execute(select(schema.commits.c.id).where(~schema.commits.c.is_merge))
        }
    todo = [("m", pk) for pk in sorted((posted - have["m"]) | stale["m"])] + [
        ("c", pk) for pk in sorted((commits - have["c"]) | stale["c"])
    ]
    if not todo:
        return 0
    with reporter.task("fingerprinting diffs", len(todo)) as task:
        for i in range(0, len(todo), FP_BATCH):
            chunk = todo[i : i + FP_BATCH]
            with engine.begin() as conn:
                rows = []
                for kind, table in (("m", schema.messages), ("c", schema.commits)):
                    pks = [pk for k, pk in chunk if k == kind]
                    if not pks:
                        continue
                    conn.execute(delete(fp).where(fp.c.kind == kind, fp.c.pk.in_(pks)))
                    for pk, diff in conn.execute(
                        select(table.c.id, table.c.diff).where(table.c.id.in_(pks))
                    ):
                        rows.append(
                            {
                                "kind": kind,
                                "pk": pk,
                                "hashes": pack(fingerprint(diff)),
                                "fp_version": FINGERPRINT_VERSION,
                            }
                        )
                insert_ignore(conn, schema.diff_fingerprints, rows)
            task.advance(len(chunk))
    return len(todo)


def load(
    conn: Connection, people: Identities | None = None, task: Task | None = None
) -> tuple[list[Posting], list[CommitInfo]]:
    """The matcher's inputs: every posting under review and every non-merge commit, with
    their fingerprints; `task` advances per posting read."""
    fp = schema.diff_fingerprints
    hashes = {
        (k, pk): unpack(h) for k, pk, h in conn.execute(select(fp.c.kind, fp.c.pk, fp.c.hashes))
    }
    if people is None:
        people = Identities(
            [
                (n, a)
                for n, a in conn.execute(
                    select(schema.messages.c.from_name, schema.messages.c.from_addr)
                )
            ]
            + [
                (n, a)
                for n, a in conn.execute(
                    select(schema.commits.c.author_name, schema.commits.c.author_email)
                )
            ]
        )
    postings = [
        Posting(
            pk=r.id,
            message_id=r.message_id,
            series_key=r.series_key,
            version=r.version,
            resend=r.resend,
            author=people(r.author_name or r.from_name, r.author_addr or r.from_addr),
            date=r.date_utc or 0,
            title=r.normalized_title,
            patch_id=r.patch_id,
            files=frozenset(json.loads(r.files)),
            hashes=hashes.get(("m", r.id), frozenset()),
        )
        for r in advancing(conn.execute(_posting_query()), task)
    ]
    trailers: dict[int, list[tuple[str, str]]] = {}
    ct = schema.commit_trailers
    for pk, key, value in conn.execute(
        select(ct.c.commit_pk, ct.c.key, ct.c.value).where(ct.c.key.in_(("Link", "Message-ID")))
    ):
        trailers.setdefault(pk, []).append((key, value))
    files: dict[int, set[str]] = {}
    own: dict[int, list[tuple[str, str]]] = {}
    cf, c = schema.commit_files, schema.commits
    for pk, path, old in conn.execute(select(cf.c.commit_pk, cf.c.path, cf.c.old_path)):
        files.setdefault(pk, set()).add(path)
        if old and old != path:
            own.setdefault(pk, []).append((old, path))
    renames = Renames.from_rows(
        conn.execute(
            select(cf.c.commit_pk, c.c.committer_date, cf.c.path, cf.c.old_path)
            .join(c, c.c.id == cf.c.commit_pk)
            .where(cf.c.old_path.is_not(None))
        ).all()
    )
    commits = [
        CommitInfo(
            pk=r.id,
            repo_id=r.repo_id,
            author=people(r.author_name, r.author_email),
            date=r.committer_date,
            title=normalize_title(r.subject),
            patch_id=r.patch_id,
            files=frozenset(files.get(r.id, ())),
            hashes=hashes.get(("c", r.id), frozenset()),
            pointers=frozenset(pointer_ids(trailers.get(r.id, ()))),
            aliases=commit_aliases(
                files.get(r.id, ()), own.get(r.id, ()), renames, r.committer_date, DIFF_WINDOW
            ),
        )
        for r in conn.execute(
            select(
                c.c.id,
                c.c.repo_id,
                c.c.author_name,
                c.c.author_email,
                c.c.committer_date,
                c.c.subject,
                c.c.patch_id,
            ).where(~c.c.is_merge)
        )
    ]
    return postings, commits


def link_rows(links: list[Match]) -> list[dict[str, object]]:
    return [
        {
            "message_pk": lk.posting,
            "commit_pk": lk.commit,
            "repo_id": lk.repo_id,
            "method": lk.method,
            "score": lk.score,
            "evidence": json.dumps(lk.evidence, sort_keys=True),
            "ambiguous": lk.ambiguous,
        }
        for lk in links
    ]


def run_matching(
    engine: Engine, reporter: Reporter, people: Identities | None = None
) -> MatchReport:
    """Match every posting to the commits (the fingerprints are current: `fingerprint_new`
    runs before) and store the links that changed. Always runs: whether it is needed is the
    pipeline's one skip rule.

    One transaction. Its progress counts postings as they are read, then the commits once
    they are matched (the matcher is one pure pass over all of them)."""
    rep = MatchReport()
    c = schema.commits
    with engine.begin() as conn:
        n_postings = conn.execute(
            select(func.count()).select_from(_posting_query().subquery())
        ).scalar_one()
        n_commits = conn.execute(
            select(func.count()).select_from(c).where(~c.c.is_merge)
        ).scalar_one()
        with reporter.task("matching (postings + commits)", n_postings + n_commits) as task:
            postings, commits = load(conn, people, task)
            links = match(postings, commits)
            task.advance(len(commits))
            rep.changed_rows = sync_table(
                conn, schema.patch_commits, ("commit_pk",), link_rows(links)
            )
            changes.done(conn, changes.MATCHING)  # everything redone
    rep.postings, rep.commits = len(postings), len(commits)
    rep.links = len(links)
    rep.ambiguous = sum(lk.ambiguous for lk in links)
    return rep
