"""Postings into versions: a cover letter (0/N) with its patches i/N, or a single patch.

Patches join the cover or first patch they were sent in reply to; when threading is broken
they join an open version of the same sender, version, total and flags sent shortly before.
A patch that answers a cover letter directly (In-Reply-To) joins it even when its subject
leaves out the cover's version or flags (`[PATCH net-next v3 0/4]` with `[PATCH 1/4]`...).
A patch sent with the cover letter it answers (by its sender, within the hour) joins it even
when its version or count disagrees: the cover's subject is written by hand, often copied
from the last round (`[PATCH v2 0/3]` over `[PATCH v3 i/3]`), while the patches' come from
`git format-patch -v3`; the version then takes the patches' number and count. An unnumbered
`[PATCH]` sent so under a `0/1` cover is its one patch. Otherwise a version sent in reply to
another version (v2 in reply to v1, days later) stays its own: only a posting of the same key
can take a patch in. Patches that say more than the cover they answer
(`[PATCH RFC i/8]` under `[PATCH 0/8]`) stay apart from it, as one version of their own.
So do the messages of a posting sent each in reply to an earlier version (`--in-reply-to`
v1 with threading off): siblings of one key under one posting are one version.
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Callable, Collection, Iterable, Iterator

from patchlens.review.model import Mail, Version, is_committed_posting, is_stable_backport

# Patches of one posting arrive within minutes; a day covers slow relays and the patches of
# a partial re-roll sent one by one (v2 4/6 in the morning, v2 5/6 in the evening).
BROKEN_THREAD_WINDOW = 24 * 3600
# The patches of one posting follow its cover letter within seconds (git send-email); an hour
# covers throttled sending and slow relays. A version sent in reply to an earlier one is
# days later.
COVER_WINDOW = 3600


def _key(m: Mail) -> tuple[object, ...]:
    s = m.subject
    return (m.from_addr, s.version_str, s.total, s.rfc, s.resend, s.pull or m.is_pull)


def _answers_cover(m: Mail, cover: Mail, v: Version) -> bool:
    """`m` was sent in direct reply to the cover letter `cover` (of version `v`), by its
    sender, with no flag the cover lacks, and says no other version or total than `v`'s
    patches so far; before the first, either the cover's total and at most its version, or
    anything when sent with the cover (`_with_cover`: the version then takes its numbers).

    Tools such as some send scripts put the version and flags on the cover only; reading
    each bare `[PATCH i/N]` as a version 1 of its own would split one posting in N+1.
    Without a cover the first patch does not lend its tags so: `[PATCH v10 1/2]` followed
    by `[PATCH 2/2]` carries an old patch at its own version and a new one at its first
    (EROFS's checksum v10 and 128-bit UUID, labelled as two series in tests/data)."""
    s, c = m.subject, cover.subject
    if not (
        c.index == 0
        and m.parent == cover.message_id
        and m.from_addr == cover.from_addr
        and (not s.rfc or c.rfc)
        and (not s.resend or c.resend)
        and (not (s.pull or m.is_pull) or c.pull or cover.is_pull)
    ):
        return False
    if v.patches:
        return _agrees(v, m)
    # A patchset's cover counts patchsets, not patches (`as_sent`): any total under it.
    same_total = s.total == c.total or (c.patchset and c.total is None)
    return (same_total and s.version_str in ("", c.version_str)) or _with_cover(m, cover)


def _agrees(v: Version, m: Mail) -> bool:
    """`m` says the version and total of the patches `v` holds (or no version): stale files
    of another round sent in the same posting (EROFS's readahead v6, "[PATCH v6 i/16]"
    between its "[PATCH v6 i/19]") stay apart."""
    s = m.subject
    return s.version_str in ("", v.version_str) and s.total == v.total


def _with_cover(m: Mail, cover: Mail) -> bool:
    """`m` (a patch with a diff) was sent with `cover`, as one posting: within minutes of it.

    In the linux-iio archive 25 cover letters disagreed so with every patch under them
    (`[PATCH v2 0/3]` over `[PATCH v3 i/3]`, `[PATCH 0/3]` over `[PATCH i/4]`, `[PATCH
    v2 0/1]` over `[PATCH v2]`), all sent within seconds of their cover; each was a cover
    letter alone (a series of no patch, never answered) beside its patches."""
    return m.has_patch and abs(m.date - cover.date) <= COVER_WINDOW


def _late_cover(m: Mail, anc: Mail, v: Version | None) -> bool:
    """`m`, a cover letter, answers `anc`, a patch of `v`, a version with no cover yet, of the
    same sender, version, size and flags, sent with it (within minutes): `v`'s own cover,
    sent after its patches."""
    return (
        v is not None
        and v.cover is None
        and bool(v.patches)
        and not m.has_patch
        and _key(anc) == _key(m)
        and abs(m.date - v.date) <= COVER_WINDOW
    )


def _take_numbers(v: Version, m: Mail) -> None:
    """A cover letter's version takes its first patch's version number and count where they
    say one: the patches' subjects are written by `git format-patch -vN`, the cover's by
    hand (in linux-iio the stale one was the cover's each time: v2 0/3 over v3 i/3 after a
    v2 of 2 patches; v3 0/3 over v2 i/3 after a v1)."""
    s = m.subject
    if s.version_str and s.version_str != v.version_str:
        v.version, v.version_str = s.version, s.version_str
        v.partial = "." in s.version_str
    if s.total is not None:
        v.total = s.total


def _new_version(m: Mail) -> Version:
    s = m.subject
    cover = m if s.index == 0 else None
    v = Version(
        key=m.message_id,
        author_name=m.from_name,
        author_addr=m.from_addr,
        sender_name=m.from_name,
        sender_addr=m.from_addr,
        version=s.version,
        version_str=s.version_str,
        rfc=s.rfc,
        # "[PATCH v2 REBASED]" is the same version sent again, like a RESEND.
        resend=s.resend or "REBASED" in s.flags,
        pull=s.pull or m.is_pull,
        backport=is_stable_backport(s),
        partial="." in s.version_str,
        title=s.title,
        normalized_title=s.normalized_title,
        total=s.total,
        thread=m.thread,
        date=m.date,
        cover=cover,
        committed=is_committed_posting(s),
    )
    if cover is None:
        v.patches[s.index or 1] = m
    return v


def _near(candidates: list[Version], m: Mail) -> Iterator[Version]:
    """The versions of `candidates` (in date order) dated within a day of `m`, newest first.

    Within a day either way: a version placed before `m` may be dated after it, when a
    parent dated after its child (a clock's skew) was placed with the child. Bounding both
    ways keeps what `m` joins within a day of it whatever else the archive holds, which is
    what lets an update group a window of mail around new postings
    (stages/review_incremental.py)."""
    for cand in reversed(candidates):
        if m.date - cand.date > BROKEN_THREAD_WINDOW:
            return
        if cand.date - m.date <= BROKEN_THREAD_WINDOW:
            yield cand


def _open(opened: list[Version], v: Version) -> None:
    """`v` among the open versions of a key, kept in date order (after those of its date):
    `_near` scans them newest first and stops at the first over a day older."""
    insort(opened, v, key=lambda w: w.date)


def _sibling(
    candidates: list[Version], under: dict[int, str], anc_id: str, m: Mail
) -> Version | None:
    """The newest version of `m`'s key begun within a day of it under the same posting as
    `m` and still lacking `m`'s number: `m`'s own posting, threaded beside it, not under it."""
    for cand in _near(candidates, m):
        if under.get(id(cand)) == anc_id and m.subject.index not in cand.patches:
            return cand
    return None


def _posting_ancestor(
    m: Mail, by_id: dict[str, Mail], replies: Collection[str] = ()
) -> Mail | None:
    """The nearest posting above `m` in its thread (`replies`, Message-IDs of postings that
    are replies, passed over), or None."""
    seen = set()
    cur = m.parent
    while cur and cur not in seen:
        seen.add(cur)
        p = by_id.get(cur)
        if p is None:
            return None
        if p.is_posting and p.message_id not in replies:
            return p
        cur = p.parent
    return None


def kept_subjects(by_id: dict[str, Mail]) -> set[str]:
    """The Message-IDs of the messages that carry a cover letter's very subject ("[PATCH v6
    0/7] Add ASPEED PCIe Root Complex support") and no diff, below that cover letter in its
    thread (same sender, version, size, flags and title), with no patch answering them:
    replies whose mail program kept the subject without "Re:" (Outlook's, on linux-pci), not
    versions of their own with no patches. A cover letter with a title of its own ("Commit
    message fixup") or with patches under it stays a cover; so does one below its version's
    patches only (sent after them). Pure."""
    parents = {
        p.parent for p in by_id.values() if p.is_posting and p.subject.index != 0 and p.has_patch
    }
    out: set[str] = set()
    for m in by_id.values():
        s = m.subject
        if not (m.is_posting and s.index == 0 and not m.has_patch and m.parent):
            continue
        if m.message_id in parents:
            continue
        key, seen = (_key(m), s.normalized_title), set()
        anc = _posting_ancestor(m, by_id)
        while anc is not None and anc.message_id not in seen:
            seen.add(anc.message_id)
            if anc.subject.index == 0 and (_key(anc), anc.subject.normalized_title) == key:
                out.add(m.message_id)
                break
            anc = _posting_ancestor(anc, by_id)
    return out


def group_versions(mails: Iterable[Mail]) -> list[Version]:
    """Versions from the postings among `mails` (other messages are ignored; so is a reply
    that kept its version's cover subject: `kept_subjects`). Pure."""
    by_id = {m.message_id: m for m in mails}
    kept = kept_subjects(by_id)
    postings = sorted(
        (m for m in by_id.values() if m.is_posting and m.message_id not in kept),
        key=lambda m: (m.date, m.message_id),
    )
    version_of: dict[str, Version] = {}
    versions: list[Version] = []
    open_by_key: dict[tuple[object, ...], list[Version]] = {}
    # A version begun by a patch under a posting it does not belong to -> that posting's id.
    under: dict[int, str] = {}

    def posting_ancestor(m: Mail) -> Mail | None:
        return _posting_ancestor(m, by_id, kept)

    def take_numbers(v: Version, m: Mail) -> None:
        """`v`'s cover letter takes its first patch `m`'s numbers (`_take_numbers`); the
        version is then open under `m`'s key too, for the patches of its posting whose
        threading broke (a second batch of 92, answering a message the list never got)."""
        _take_numbers(v, m)
        key = _key(m)
        assert v.cover is not None
        if m.subject.index is not None and key != _key(v.cover):
            opened = open_by_key.setdefault(key, [])
            at = len(opened)
            while at and (opened[at - 1].date, opened[at - 1].key) > (v.date, v.key):
                at -= 1
            opened.insert(at, v)

    def place(m: Mail) -> None:
        if m.message_id in version_of:
            return
        s = m.subject
        anc = posting_ancestor(m)
        if anc is not None and anc.message_id not in version_of:
            place(anc)  # a parent dated after its child (clock skew) is placed first
        if s.index is None and anc is not None and anc.subject.total == 1:
            # "[PATCH v2]" sent with its "[PATCH v2 0/1]": the cover's one patch.
            av = version_of.get(anc.message_id)
            if av is not None and av.cover is anc and not av.patches and _answers_cover(m, anc, av):
                take_numbers(av, m)
                av.patches[1] = m
                version_of[m.message_id] = av
                return
        if s.index == 0 and anc is not None and _late_cover(m, anc, version_of.get(anc.message_id)):
            # Threaded backwards (patch 3/3 the root, 2/3 and 1/3 under it, the cover sent
            # last under them too): the cover of the patches it came with, not a version
            # of no patch beside them.
            av = version_of[anc.message_id]
            av.cover, av.key = m, m.message_id
            av.title, av.normalized_title = s.title, s.normalized_title
            version_of[m.message_id] = av
            return
        if s.index is None or s.index == 0:
            v = _new_version(m)
            versions.append(v)
            version_of[m.message_id] = v
            if s.index == 0:
                _open(open_by_key.setdefault(_key(m), []), v)
                if anc is not None:
                    # A cover sent in reply to an earlier version (`--in-reply-to` v1): its
                    # patches may answer that version too, beside it, not the cover.
                    under[id(v)] = anc.message_id
            return
        key = _key(m)
        target: Version | None = None
        if anc is not None:
            av = version_of.get(anc.message_id)
            if (
                av is not None
                and s.index not in av.patches
                and (
                    (_key(anc) == key and (av.cover is None or not av.patches or _agrees(av, m)))
                    or (av.cover is anc and _answers_cover(m, anc, av))
                )
            ):
                target = av
        if target is None and anc is not None:
            # Siblings: a posting sent whole in reply to an earlier version (v3 0/3, 1/3,
            # 2/3 and 3/3 each in reply to v1 1/3), or patches under a cover they do not
            # belong to ("[PATCH RFC i/8]" under "[PATCH 0/8]": a flag the cover lacks), are
            # one version, begun by whichever of its messages came first.
            target = _sibling(open_by_key.get(key, []), under, anc.message_id, m)
        # Broken threading, or one patch re-rolled in reply to its own earlier version (v2 5/6
        # under v1 5/6): the newest open version of the same key sent within a day (for a
        # re-rolled patch, only a version without cover letter: a partial re-roll).
        rerolled = anc is not None and _key(anc) != key and anc.subject.index == s.index
        if target is None and (anc is None or rerolled):
            for cand in _near(open_by_key.get(key, []), m):
                if s.index not in cand.patches and not (rerolled and cand.cover is not None):
                    target = cand
                    break
        if target is None:
            target = _new_version(m)
            versions.append(target)
            _open(open_by_key.setdefault(key, []), target)
            if anc is not None:
                under[id(target)] = anc.message_id
        else:
            if target.cover is not None and not target.patches:
                take_numbers(target, m)
            target.patches[s.index] = m
        version_of[m.message_id] = target

    for m in postings:
        place(m)
    for v in versions:
        if v.cover is None and v.patches:
            first = v.patches[min(v.patches)]
            v.key = first.message_id
            v.title, v.normalized_title = first.subject.title, first.subject.normalized_title
    # After the keys are final: a re-roll names its base by key (a version without a cover
    # is begun by whichever patch came first, and keyed by its first patch).
    _mark_partial_rerolls(versions, version_of, posting_ancestor)
    for v in versions:
        # Whoever sends a cover letter owns the series (its patches may credit others);
        # without one, the first patch's author does, even when someone else sent it. A pull
        # request is its sender's, whoever wrote the patches it carries ("[PULL 05/22]" sent
        # by the maintainer carries a contributor's patch).
        if v.cover is None and v.patches and not v.pull:
            first = v.patches[min(v.patches)]
            v.author_name, v.author_addr = first.author_name, first.author_addr
    return versions


REROLL_WINDOW = 30 * 86400


def _mark_partial_rerolls(
    versions: list[Version],
    version_of: dict[str, Version],
    posting_ancestor: Callable[[Mail], Mail | None],
) -> None:
    """Flag versions that re-send only some patches of an earlier version ([PATCH v3 2/5]
    alone, often in reply to v2 2/5): they replace those patches, the rest stands."""
    earlier: dict[tuple[str, int | None], list[Version]] = {}
    for v in sorted(versions, key=lambda v: v.date):
        key = (v.author_addr, v.total)
        if v.cover is None and v.total and len(v.patches) < v.total:
            base = None
            anc = posting_ancestor(v.anchor)
            if anc is not None:
                w = version_of.get(anc.message_id)
                if w is not None and w is not v and w.total == v.total and w.version <= v.version:
                    base = w
            if base is None:
                titles = {p.subject.normalized_title for p in v.patches.values()}
                for w in reversed(earlier.get(key, [])):
                    if v.date - w.date > REROLL_WINDOW:
                        break
                    if w.version <= v.version and titles & w.patch_titles():
                        base = w
                        break
            if base is not None:
                v.partial = True
                # The version it re-rolls, not the first of a chain of re-rolls: a version's
                # facts then rest on the month before it only, which lets an update rebuild a
                # window of mail (the read model follows the chain, queries/series.py).
                v.rerolls = base.key
        earlier.setdefault(key, []).append(v)
