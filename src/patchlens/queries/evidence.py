"""Reading series, with everything the metrics need, out of the store in a few queries."""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

from sqlalchemy import Connection, Row, Select, and_, func, select

from patchlens.identity.people import Identities, commit_author
from patchlens.mail.fingerprint import unpack_packed
from patchlens.mail.fixedby import fix_taken_back
from patchlens.mail.replytext import is_retraction
from patchlens.mail.shortlog import spelling_keys
from patchlens.mail.subject import parse_subject
from patchlens.mail.treenote import note_tree
from patchlens.match.inside import INSIDE_WINDOW, held_inside, may_be_inside
from patchlens.metrics.backlog import DAY
from patchlens.metrics.model import PatchFacts, ReplyFacts, SeriesFacts, VersionFacts
from patchlens.queries.history import linked_postings
from patchlens.queries.sql import chunks, cols
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


def load_series(
    conn: Connection,
    people: Identities | None = None,
    keys: Iterable[str] | None = None,
    first: dict[str, int] | None = None,
) -> list[SeriesFacts]:
    """Every series (or only those of `keys`, by indexed queries), as the metrics see them.

    With `keys` the result is the one loading all would give, filtered to them: the
    new-contributor flag, the one fact that crosses series, is decided from every series'
    author and first date (`first_dates`), not from the loaded ones alone."""
    people = people or people_of(conn)
    sv, vm, m, a = (
        schema.series_versions,
        schema.version_members,
        schema.messages,
        schema.message_analysis,
    )
    wanted = None if keys is None else sorted(set(keys))
    series: dict[str, SeriesFacts] = {}
    versions: dict[str, VersionFacts] = {}
    # version key -> (identity, address, its cover letter's key or None)
    authors: dict[str, tuple[str, str, int | None]] = {}
    st = schema.series
    titles = dict(
        _rows(conn, lambda ks: _where(select(st.c.key, st.c.title), st.c.key, ks), wanted)
    )
    for r in _rows(
        conn,
        lambda ks: _where(select(sv), sv.c.series_key, ks).order_by(sv.c.series_key, sv.c.seq),
        wanted,
    ):
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
            committed=r.committed,
        )
        authors[r.key] = (people(r.author_name, r.author_addr), r.author_addr, r.cover_pk)
        se.versions.append(v)
    vkeys = None if wanted is None else sorted(versions)
    pc, c = schema.patch_commits, schema.commits
    patch_rows = list(
        _rows(
            conn,
            lambda ks: _where(
                select(
                    *cols(vm, "version_key", "idx"),
                    *cols(m, "id", "date_utc", "subject", "message_id", "from_name", "from_addr"),
                    *cols(a, "lines_added", "lines_removed", "files", "old_files", "patch_id"),
                    a.c.normalized_title,
                    a.c.author_name,
                    a.c.author_addr,
                )
                .join(m, m.c.id == vm.c.message_pk)
                .join(a, a.c.message_pk == m.c.id)
                .where(vm.c.idx > 0),
                vm.c.version_key,
                ks,
            ).order_by(
                vm.c.version_key, vm.c.idx
            ),  # patches in order, whatever order mail was read
            vkeys,
        )
    )
    patch_pks = None if wanted is None else sorted({r.id for r in patch_rows})
    commits = {
        mpk: (cdate, amb)
        for mpk, cdate, amb in _rows(
            conn,
            lambda ks: _where(
                select(pc.c.message_pk, c.c.committer_date, pc.c.ambiguous).join(
                    c, c.c.id == pc.c.commit_pk
                ),
                pc.c.message_pk,
                ks,
            ),
            patch_pks,
        )
    }
    series_of = {v.key: se.key for se in series.values() for v in se.versions}
    elsewhere = went_in_elsewhere(
        conn,
        people,
        [
            Unlinked(
                r.id,
                r.patch_id,
                r.normalized_title or "",
                frozenset(_files(r.files)),
                r.date_utc or versions[r.version_key].date,
                series_of[r.version_key],
                # As the matcher sees a posting's author and a commit's: a name a list
                # rewrote ("A via ltp <ltp@...>", kept by git am) is A's, by name.
                people(*commit_author(r.author_name or r.from_name, r.author_addr or r.from_addr)),
                not (versions[r.version_key].pull or versions[r.version_key].backport),
            )
            for r in patch_rows
            if r.id not in commits and r.patch_id and r.version_key in versions
        ],
    )
    for r in patch_rows:
        v = versions.get(r.version_key)
        if v is None:
            continue
        cdate, amb = commits.get(r.id, (None, False))
        through = ""
        if r.id in elsewhere:
            cdate, through = elsewhere[r.id]
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
            patch_id=r.patch_id or "",
            normalized_title=r.normalized_title or "",
            message_id=r.message_id or "",
            # Whose commit a pull request's shortlog would name: the patch's author (its
            # "From:" line) when someone else sent it, else the sender.
            author_name=r.author_name or r.from_name or "",
            old_files=tuple(_files(r.old_files or "[]")),
            through=through,
        )
    _attach_pulled(conn, people, [v for v in versions.values() if not v.pull], series_of)
    committed = [
        v
        for se in series.values()
        for i, v in enumerate(se.versions)
        # Not when a version posted for review follows (a RESEND included): the committed
        # one was not the series' end (the rest still under review, or on LTP a posting of
        # another patch linked as its first version). Unlike a maintainer's notice, which
        # stands when the author posts again (metrics/backlog.py notice_merge).
        if v.committed and all(w.committed for w in se.versions[i + 1 :])
    ]
    covers = dict(
        _rows(
            conn,
            lambda ks: select(m.c.id, m.c.message_id).where(m.c.id.in_(ks)),
            sorted({pk for v in committed if (pk := authors[v.key][2]) is not None}),
        )
    )
    for v in committed:
        ident, addr, cover = authors[v.key]
        v.pulled.append(committed_notice(v, (ident, addr), covers.get(cover)))
    mt = schema.message_trailers
    carried = {
        pk
        for pk, email, addr in _rows(
            conn,
            lambda ks: _where(
                select(mt.c.message_pk, mt.c.email, m.c.from_addr)
                .join(m, m.c.id == mt.c.message_pk)
                .where(~mt.c.given, _review_key(ks)),
                mt.c.message_pk,
                ks,
            ),
            patch_pks,
        )
        if (email or "") != addr
    }
    for v in versions.values():
        for p in v.patches.values():
            p.carried_review = p.pk in carried
    rp = schema.replies
    reply_rows = list(
        _rows(
            conn,
            lambda ks: _where(
                select(
                    *cols(rp, "version_key", "addressed_idx", "is_author", "is_bot"),
                    *cols(m, "id", "message_id", "date_utc", "from_name", "from_addr", "subject"),
                    a.c.lines_written,
                )
                .join(m, m.c.id == rp.c.message_pk)
                .join(a, a.c.message_pk == m.c.id),
                rp.c.version_key,
                ks,
            ).order_by(m.c.date_utc, m.c.message_id),
            vkeys,
        )
    )
    reply_pks = None if wanted is None else sorted({r.id for r in reply_rows})
    reviewed = {
        pk
        for (pk,) in _rows(
            conn,
            lambda ks: _where(
                select(mt.c.message_pk).where(and_(mt.c.given, _review_key(ks))),
                mt.c.message_pk,
                ks,
            ),
            reply_pks,
        )
    }
    mn = schema.message_notices
    notices: dict[int, tuple[list[str], str, str]] = {}
    bare: dict[int, list[str]] = {}
    for pk, kind, tree, scope, alone in _rows(
        conn,
        lambda ks: _where(
            select(mn.c.message_pk, mn.c.kind, mn.c.tree, mn.c.scope, mn.c.bare),
            mn.c.message_pk,
            ks,
        ).order_by(mn.c.message_pk, mn.c.kind),
        reply_pks,
    ):
        kinds, old, old_scope = notices.setdefault(pk, ([], "", ""))
        kinds.append(kind)
        notices[pk] = (kinds, old or tree or "", old_scope or scope or "")
        if alone:
            bare.setdefault(pk, []).append(kind)
    for pk in _retracted(conn, people, [r for r in reply_rows if r.id in notices]):
        notices.pop(pk, None)
        bare.pop(pk, None)
    fixes = fixing_commits(conn, reply_pks)
    # A fix notice its sender took back ("Sorry, wrong commit") names nothing, as a merge
    # notice taken back merges nothing.
    for pk in _retracted(conn, people, [r for r in reply_rows if r.id in fixes], fix_taken_back):
        fixes.pop(pk, None)
    for r in reply_rows:
        v = versions.get(r.version_key)
        if v is None or r.date_utc is None:
            continue
        kinds, tree, scope = notices.get(r.id, ([], "", ""))
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
                tuple(kinds),
                tree,
                # Read for notices alone (a subject parse per reply would cost a rebuild).
                r.id in notices and "SUBSET" in parse_subject(r.subject or "").flags,
                scope,
                tuple(bare.get(r.id, ())),
                named_commits(fixes.get(r.id, []), r.date_utc),
            )
        )
    if wanted is None:
        _mark_new_contributors(list(series.values()))
    else:
        first = first_dates(conn, people) if first is None else first
        for se in series.values():
            se.new_contributor = se.first_date == first[se.author]
    # Until when prerequisite series block each (stored by the metrics stage, which resolves
    # them across series: stages/prerequisites.py), so that `state()` is right for any date.
    sm = schema.series_metrics
    for key, until in _rows(
        conn,
        lambda ks: _where(
            select(sm.c.series_key, sm.c.blocked_until).where(sm.c.blocked_until.is_not(None)),
            sm.c.series_key,
            ks,
        ),
        wanted,
    ):
        if key in series:
            series[key].blocked_until = until
    return list(series.values())


# A hash that starts more commits than this names none of them, whatever the dates.
MAX_STARTED = 8


def fixing_commits(
    conn: Connection, reply_pks: list[int] | None
) -> dict[int, list[list[tuple[str, str, int]]]]:
    """reply pk -> for each hash its text names as what fixed or replaced the patch it
    answers (message_fixes, mail/fixedby.py), in the order written, the commits of the
    registered repositories whose sha it starts: (sha, subject, author date) each, for the
    replies `reply_pks` (None: all). `named_commits` keeps the commits a reply could name."""
    mf = schema.message_fixes
    named: dict[int, list[str]] = {}
    for pk, h in _rows(
        conn,
        lambda ks: _where(select(mf.c.message_pk, mf.c.hash), mf.c.message_pk, ks),
        reply_pks,
    ):
        named.setdefault(pk, []).append(h)
    if not named:
        return {}
    c = schema.commits
    found: dict[str, list[tuple[str, str, int]]] = {}
    for h in sorted({h for hs in named.values() for h in hs}):
        # Hex digits sort before "g": the commits whose sha starts with h, by the index.
        rows = conn.execute(
            select(c.c.sha, c.c.subject, c.c.author_date)
            .where(c.c.sha >= h, c.c.sha < h + "g")
            .distinct()
            .limit(MAX_STARTED)
        ).all()
        found[h] = list(dict.fromkeys((r[0], r[1], r[2]) for r in rows))
    return {pk: [found[h] for h in hs if found[h]] for pk, hs in named.items()}


def named_commits(
    candidates: list[list[tuple[str, str, int]]], date: int
) -> tuple[tuple[str, str], ...]:
    """The commits (sha, subject) a reply sent on `date` names: of each hash's candidates
    (`fixing_commits`), those authored by then (a day's slack for clocks), when exactly one
    is; a short hash that starts an older commit and a later one names the older."""
    out: dict[tuple[str, str], None] = {}
    for cands in candidates:
        if len(cands) >= MAX_STARTED:
            continue
        shown = {(sha, subject) for sha, subject, authored in cands if authored <= date + DAY}
        if len(shown) == 1:
            out[shown.pop()] = None
    return tuple(out)


def first_dates(conn: Connection, people: Identities) -> dict[str, int]:
    """The first date of each author's first series (any kind), from one narrow row per
    series (its first version's author and date, read from a covering index): what decides
    which series is an author's first, without loading any series."""
    sv = schema.series_versions
    first: dict[str, int] = {}
    who: dict[tuple[str, str], str] = {}
    last_key = None
    for key, name, addr, date in conn.execute(
        select(sv.c.series_key, sv.c.author_name, sv.c.author_addr, sv.c.date).order_by(
            sv.c.series_key, sv.c.seq
        )
    ):
        if key == last_key:
            continue  # a later version: the first one gave the author and the date
        last_key = key
        author = who.get((name, addr))
        if author is None:
            author = who[(name, addr)] = people(name, addr)
        if author not in first or date < first[author]:
            first[author] = date
    return first


def first_dates_of(conn: Connection, people: Identities, idents: Iterable[str]) -> dict[str, int]:
    """`first_dates` for the identities `idents` only: their series' first versions, read by
    the authors' addresses (indexed) rather than every series of the store, so an update's
    cost does not grow with the store's history. Every author stored is an identity's
    address (stages/context.py adds every sender and author), so none is missed."""
    wanted = set(idents)
    addrs = sorted({a for ident in wanted for a in people.addresses(ident)})
    sv = schema.series_versions
    s2 = sv.alias("earlier")
    first_seq = (
        select(func.min(s2.c.seq)).where(s2.c.series_key == sv.c.series_key).scalar_subquery()
    )
    first: dict[str, int] = {}
    for name, addr, date in _rows(
        conn,
        lambda ks: select(sv.c.author_name, sv.c.author_addr, sv.c.date).where(
            sv.c.author_addr.in_(ks), sv.c.seq == first_seq
        ),
        addrs,
    ):
        author = people(name, addr)
        if author in wanted and (author not in first or date < first[author]):
            first[author] = date
    return first


def _review_key(keys: list[Any] | None) -> Any:
    """The trailer is a Reviewed-by or Acked-by: by the index on the trailer's key when every
    message is read; for a few messages' trailers (`keys`) written `key || ''`, which no index
    serves, so that SQLite reads them by their message rather than every review trailer of the
    store by the key index (30-110 ms a series on a million messages, measured)."""
    key = schema.message_trailers.c.key
    return key.in_(REVIEW_KEYS) if keys is None else key.concat("").in_(REVIEW_KEYS)


def committed_notice(
    v: VersionFacts, author: tuple[str, str], cover_id: str | None = None
) -> ReplyFacts:
    """A version posted after it was committed ("[COMMITTED] [PATCH v2]", GCC's
    "[committed]") as its author's notice that the series went in, dated by the posting and
    traced to its cover letter (`cover_id`, its Message-ID), else its first patch: a series
    reviewed as v1 and posted again once committed is merged, which a store without the
    repository could not see otherwise. A version laid over another posted so ("[COMMITTED]
    [PATCH v2 2/3]", a patch split out) is a notice of its own patches, which take their
    places in that version (metrics/backlog.py notice_merge): the series is merged in part
    until the rest is. A commit, when one is linked, overrides it as it overrides every
    notice (metrics/backlog.py facts)."""
    first = v.patches[min(v.patches)] if v.patches else None
    return ReplyFacts(
        first.pk if first and not cover_id else 0,
        v.date,
        author[0],
        0,
        True,
        False,
        0,
        False,
        author[1],
        cover_id or (first.message_id if first else ""),
        notices=("committed",),
        notice_scope="patches:" + ",".join(str(i) for i in sorted(v.patches))
        if v.partial
        else "whole",
    )


def _attach_pulled(
    conn: Connection,
    people: Identities,
    versions: list[VersionFacts],
    series_of: dict[str, str],
) -> None:
    """Each version's `pulled`: a notice per later pull request that lists some of its
    patches, by subject (its letter's shortlog) or by Message-ID (its patches point back to
    the postings), sent after the version; its scope the patches it lists."""
    wanted: dict[tuple[str, str], list[tuple[VersionFacts, int]]] = {}
    for v in versions:
        for i, p in v.patches.items():
            if p.normalized_title:
                wanted.setdefault(("subject", p.normalized_title), []).append((v, i))
            if p.message_id:
                wanted.setdefault(("message", p.message_id), []).append((v, i))
    if not wanted:
        return
    pi = schema.pull_items
    values = sorted({value for _kind, value in wanted})
    # By value through its index, or all of them when there are fewer items than values (a
    # full rebuild loads every series: hundreds of thousands of titles, a few thousand items).
    n_items = conn.execute(select(func.count()).select_from(pi)).scalar() or 0
    if not n_items:
        return
    taken: dict[tuple[str, str], tuple[dict[int, None], Row[Any]]] = {}
    # Names compared as mail/shortlog.py spelling_keys says, each read once, and only those of
    # the candidates (not every loaded patch's: a full rebuild loads every posting).
    keys_of: dict[str, frozenset[str]] = {}

    def keys(name: str) -> frozenset[str]:
        if name not in keys_of:
            keys_of[name] = spelling_keys(name)
        return keys_of[name]

    # The titles listed (read apart: the items themselves stream, a merge window's pull
    # lists thousands).
    titled = sorted(
        {
            v
            for chunk in chunks(sorted(v for k, v in wanted if k == "subject"))
            for (v,) in conn.execute(
                select(pi.c.value).where(pi.c.kind == "subject", pi.c.value.in_(chunk)).distinct()
            )
        }
    )
    sent = _postings_titled(conn, titled)
    for r in _rows(
        conn,
        lambda ks: _where(select(pi), pi.c.value, ks).order_by(pi.c.pull_key, pi.c.kind),
        None if n_items <= len(values) else values,
    ):
        for v, i in wanted.get((r.kind, r.value), ()):
            # A subject names a posting of the commit's author only: two people post patches
            # of one title ("iio: dac: ad5624r: fix incorrect handling of an optional
            # regulator", 9 series of 2 authors on linux-iio).
            if r.date < v.date or (
                r.author and not keys(r.author) & keys(v.patches[i].author_name)
            ):
                continue
            # And no later posting of that title by that author in another series, before the
            # pull request: the patch posted again there is the one taken, not the old one it
            # replaced, whose series linking did not join to it (alsa-devel: a 2021 posting
            # "merged" by a 2023 pull of its 2023 version, a series of its own).
            # Posted again by the author (not someone re-posting it), for the same files (not a
            # port to another project's tree: libxfs in xfsprogs), for review (not a stable
            # backport or a pull request's patch).
            if r.kind == "subject" and any(
                v.patches[i].date < date <= r.date
                and other != series_of.get(v.key)
                # (a shortlog with two authors of one title names neither: left alone)
                and r.author
                and keys(r.author) & keys(sender)
                and files & set(v.patches[i].files)
                for date, sender, other, files in sent.get(r.value, ())
            ):
                continue
            idx, _row = taken.setdefault((v.key, r.pull_key), ({}, r))
            idx[i] = None
    by_key = {v.key: v for v in versions}
    # A robot's note ('patch "x" added to usb-testing', a GitHub push) is keyed by its
    # Message-ID: an "applied" notice naming its tree. Any other key is a pull request's series.
    m = schema.messages
    pulls = sorted({pull for _v, pull in taken})
    branches = {
        mid: branch
        for chunk in chunks(pulls)
        for mid, subject, sender in conn.execute(
            select(m.c.message_id, m.c.subject, m.c.from_addr).where(m.c.message_id.in_(chunk))
        )
        if (branch := note_tree(subject or "", sender or "")) is not None
    }
    for (vkey, _pull), (idx, r) in sorted(taken.items(), key=lambda kv: (kv[1][1].date, kv[0])):
        branch = branches.get(r.pull_key)
        by_key[vkey].pulled.append(
            ReplyFacts(
                0,
                r.date,
                people(r.sender_name, r.sender_addr),
                0,
                False,
                False,
                0,
                False,
                r.sender_addr,
                r.pull_key,
                notices=("pull request",) if branch is None else ("applied",),
                notice_tree=branch or "",
                notice_scope="patches:" + ",".join(map(str, sorted(idx))),
            )
        )


def _retracted(
    conn: Connection,
    people: Identities,
    noticed: list[Row[Any]],
    taken_back: Callable[[str | None], bool] = is_retraction,
) -> set[int]:
    """The notices among `noticed` (reply rows) that their sender took back in a reply to
    them, as `taken_back` reads its first written line ("Sorry, this was done in error -
    dropped it.": mail/replytext.is_retraction; a fix notice's "Sorry, wrong commit":
    mail/fixedby.fix_taken_back)."""
    by_id = {r.message_id: r for r in noticed}
    m, a = schema.messages, schema.message_analysis
    out: set[int] = set()
    for chunk in chunks(sorted(by_id)):
        for parent, name, addr, line in conn.execute(
            select(m.c.in_reply_to, m.c.from_name, m.c.from_addr, a.c.first_line)
            .join(a, a.c.message_pk == m.c.id)
            .where(m.c.in_reply_to.in_(chunk))
        ):
            r = by_id[parent]
            if taken_back(line) and people(name, addr) == people(r.from_name, r.from_addr):
                out.add(r.id)
    return out


def _postings_titled(
    conn: Connection, titles: list[str]
) -> dict[str, list[tuple[int, str, str, set[str]]]]:
    """Normalised title -> (date, sender's name, series, files) of every posting of it that
    its author sent (no "From:" line of another's) for review: not a pull request's patch
    ("[PULL 03/22]", which carries the titles it lists) nor a stable backport; by the partial
    index of postings by title."""
    a, m, vm, sv = (
        schema.message_analysis,
        schema.messages,
        schema.version_members,
        schema.series_versions,
    )
    out: dict[str, list[tuple[int, str, str, set[str]]]] = {}
    for chunk in chunks(titles):
        for title, date, sender, series, files in conn.execute(
            select(a.c.normalized_title, m.c.date_utc, m.c.from_name, sv.c.series_key, a.c.files)
            .join(m, m.c.id == a.c.message_pk)
            .join(vm, vm.c.message_pk == a.c.message_pk)
            .join(sv, sv.c.key == vm.c.version_key)
            .where(
                a.c.is_posting,
                ~a.c.is_pull,
                a.c.author_name.is_(None),
                ~sv.c.pull,
                ~sv.c.backport,
                a.c.normalized_title.in_(chunk),
            )
        ):
            if date is not None:
                out.setdefault(title, []).append((date, sender or "", series, set(_files(files))))
    return out


class Unlinked(NamedTuple):
    """A patch without a link of its own, as `went_in_elsewhere` looks for it elsewhere."""

    pk: int
    patch_id: str
    title: str  # normalised
    files: frozenset[str]
    date: int
    series_key: str
    author: str  # identity, as the matcher reads a posting's author
    # Read by the matcher: not in a pull request's or a backport's version.
    matched: bool = True


# What the went-in look-ups read of a linked posting's commit and series.
_LINKED_COMMIT = (
    schema.commits.c.committer_date,
    schema.commits.c.author_name,
    schema.commits.c.author_email,
    schema.messages.c.message_id,
    schema.series_versions.c.series_key,
)


def went_in_elsewhere(
    conn: Connection, people: Identities, patches: list[Unlinked]
) -> dict[int, tuple[int, str]]:
    """Of `patches`, those that went in through another series: a posting of the same patch
    in another series is linked, not ambiguously, to a commit committed after the patch was
    posted and authored by the patch's author -> (that commit's date, the linked posting's
    Message-ID), the earliest commit when several. The same patch: the same diff (patch-id),
    or the same normalised title with a file in common (a patch re-posted after review, its
    diff changed).

    The matcher links a commit to one posting, the last send; when the author posted the
    patch again outside its series (a series linking could not chain to its next version: a
    re-titled cover letter, a large series re-sent in batches, a version over 400 days later;
    the author's patch taken into a colleague's series), its own series had no link and read
    abandoned (LTP: 18 of a sample of 40 abandoned series went in, most so). A posting of the
    same patch by someone else than the commit's author (a twin, MATCHING.md) merges nothing:
    the commit is not theirs. Within a series a patch sent again unchanged is merged with its
    twin already (metrics/backlog.py `_merged_twins`)."""
    pc = schema.patch_commits
    # A store without links (a list alone) has nothing to go in through: 565 chunks of
    # lookups for nothing at a million messages.
    if not patches or conn.execute(select(pc.c.message_pk).limit(1)).first() is None:
        return {}
    a = schema.message_analysis

    def linked(column: Any, keys: list[str], *where: Any) -> Iterator[Row[Any]]:
        return _rows(
            conn,
            lambda ks: linked_postings(column.label("key"), a.c.files, *_LINKED_COMMIT).where(
                column.in_(ks), *where
            ),
            keys,
        )

    # (kind, key) -> (commit date, commit author, linked posting, its series, its files)
    found: dict[tuple[str, str], list[tuple[int, str, str, str, frozenset[str]]]] = {}
    for kind, rows in (
        ("diff", linked(a.c.patch_id, sorted({p.patch_id for p in patches if p.patch_id}))),
        (
            # The partial index of postings' titles (stages/pulled.py reads it too).
            "title",
            linked(
                a.c.normalized_title,
                sorted({p.title for p in patches if p.title and p.files}),
                a.c.is_posting,
            ),
        ),
    ):
        for r in rows:
            found.setdefault((kind, r.key), []).append(
                (
                    r.committer_date,
                    people(*commit_author(r.author_name, r.author_email)),
                    r.message_id,
                    r.series_key,
                    frozenset(_files(r.files)),
                )
            )
    inside = _went_inside(conn, people, patches)
    out: dict[int, tuple[int, str]] = {}
    for p in patches:
        hits = sorted(
            [
                *(
                    (cdate, mid)
                    for kind, key in (("diff", p.patch_id), ("title", p.title))
                    if key and (kind == "diff" or p.files)
                    for cdate, author, mid, other, files in found.get((kind, key), ())
                    if other != p.series_key
                    and cdate >= p.date
                    and author == p.author
                    and (kind == "diff" or bool(files & p.files))
                ),
                *inside.get(p.pk, ()),
            ]
        )
        if hits:
            out[p.pk] = hits[0]
    return out


def _went_inside(
    conn: Connection, people: Identities, patches: list[Unlinked]
) -> dict[int, list[tuple[int, str]]]:
    """Patch -> (commit date, linked posting's Message-ID) of each commit of its author,
    linked not ambiguously to a posting in another series, that holds the patch's change
    inside a larger one (match/inside.py: a patch folded into a later change, or re-sent
    re-titled in another series). Candidates are the linked commits touching a file of
    the patches (`commit_files.path` is indexed); the hashes are read only for the pairs
    whose author, files and dates agree."""
    c, cf, m, fp = schema.commits, schema.commit_files, schema.messages, schema.diff_fingerprints
    # Only postings matching reads (stages/matchclosure.py posting_query): matching owes the
    # metrics those it may find inside a commit by their file keys (stages/match.py).
    wanted = [p for p in patches if p.files and p.matched]
    paths = sorted({f for p in wanted for f in p.files})
    # commit -> (date, author, linked posting, its series); (author, path) -> their commits
    # touching it (by author first: a hot file's commits are many, one person's few)
    commits: dict[int, tuple[int, str, str, str]] = {}
    by_path: dict[tuple[str, str], set[int]] = {}
    for r in _rows(
        conn,
        lambda ks: (
            linked_postings(cf.c.path, c.c.id, *_LINKED_COMMIT)
            .join(cf, cf.c.commit_pk == c.c.id)
            .where(cf.c.path.in_(ks))
        ),
        paths,
    ):
        if r.id not in commits:
            author = people(*commit_author(r.author_name, r.author_email))
            commits[r.id] = (r.committer_date, author, r.message_id, r.series_key)
        by_path.setdefault((commits[r.id][1], r.path), set()).add(r.id)
    pairs: list[tuple[Unlinked, int]] = []
    for p in wanted:
        common = set.intersection(*(by_path.get((p.author, f), set()) for f in p.files))
        for cpk in sorted(common):
            cdate, _, _, other = commits[cpk]
            if other != p.series_key and 0 <= cdate - p.date <= INSIDE_WINDOW:
                pairs.append((p, cpk))
    if not pairs:
        return {}
    hashes: dict[tuple[str, int], array] = {}
    for kind, pks in (
        ("m", sorted({p.pk for p, _ in pairs})),
        ("c", sorted({x for _, x in pairs})),
    ):
        for r in _rows(
            conn,
            lambda ks, kind=kind: select(fp.c.pk, fp.c.hashes).where(
                fp.c.kind == kind, fp.c.pk.in_(ks)
            ),
            pks,
        ):
            hashes[(kind, r.pk)] = unpack_packed(r.hashes)
    held: dict[int, frozenset[int]] = {}
    worth: list[tuple[Unlinked, int]] = []
    for p, cpk in pairs:
        mine = hashes.get(("m", p.pk))
        theirs = hashes.get(("c", cpk))
        if mine is None or theirs is None:
            continue
        if cpk not in held:
            held[cpk] = frozenset(theirs)
        files = {f for f in p.files if cpk in by_path.get((p.author, f), ())}
        if may_be_inside(mine, p.files, p.date, held[cpk], files, commits[cpk][0]):
            worth.append((p, cpk))
    # The diffs of those pairs alone: the text decides (match/inside.py held_inside).
    diffs: dict[tuple[str, int], str] = {}
    for kind, table, pks in (
        ("m", m, sorted({p.pk for p, _ in worth})),
        ("c", c, sorted({x for _, x in worth})),
    ):
        for r in _rows(
            conn, lambda ks, t=table: select(t.c.id, t.c.diff).where(t.c.id.in_(ks)), pks
        ):
            diffs[(kind, r.id)] = r.diff or ""
    out: dict[int, list[tuple[int, str]]] = {}
    for p, cpk in worth:
        if held_inside(diffs.get(("m", p.pk), ""), diffs.get(("c", cpk), ""), p.files):
            cdate, _, mid, _ = commits[cpk]
            out.setdefault(p.pk, []).append((cdate, mid))
    return out


def _where(query: Select[Any], column: Any, keys: list[Any] | None) -> Select[Any]:
    return query if keys is None else query.where(column.in_(keys))


def _rows(
    conn: Connection, query_of: Callable[[list[Any] | None], Select[Any]], keys: list[Any] | None
) -> Iterator[Row[Any]]:
    """The rows of `query_of(None)` (everything), or of `query_of(chunk)` for each chunk of
    `keys` (bound in IN lists of a size every database takes)."""
    if keys is None:
        yield from conn.execute(query_of(None))
        return
    for chunk in chunks(keys):
        yield from conn.execute(query_of(chunk))


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
