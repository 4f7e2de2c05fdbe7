"""Linking v1 -> v2 -> ... -> vN of a series across threads, keeping the evidence.

A later version names its predecessor in many ways, none reliable alone: a b4 change-id, a
lore link in the changelog ("v1: https://lore.kernel.org/r/<id>"), being sent in reply to
it, the same title, the same patch titles, the same files. Each is scored; a link needs the
same author, an earlier posting of a lower version (or the same version for a RESEND, or an
RFC before a non-RFC), and enough evidence. Each version has at most one successor, and the
newest qualifying predecessor wins, so v1 -> v1 RESEND -> v2 chains in order.
"""

from __future__ import annotations

import re
import sys
from array import array
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from patchlens.identity.people import Identities
from patchlens.mail.fingerprint import similarity
from patchlens.mail.subject import title_similarity
from patchlens.review.model import Version, lay

MAX_GAP = 400 * 86400  # a re-roll a year later still happens; beyond, it is a new effort
SUCCESSOR_GAP = 30 * 86400  # vN+1 touching vN's files within a month is its next version
# A version numbered 2 or more that nothing earlier claims follows the author's one open
# earlier version of a lower number within this gap (`Linker._renumbered`).
RENUMBERED_GAP = 120 * 86400
THRESHOLD = 1.0
SIMILAR_TITLE = 0.75  # the title similarity that counts as evidence of kinship
# A cover letter alone, then its whole version sent again within this: the first sending
# failed after its cover (`failed_send`). Seconds to minutes in the archives seen (20 s on
# linux-iio, 76 s on linux-bluetooth); a few hours at most, for a lone cover of a
# cross-posted series (its patches went to other lists) is not to take the next piece of
# work of that title.
RESENT_GAP = 3 * 3600

# The Message-IDs git send-email gives the mails of one run: "<YYYYMMDDhhmmss>.<n>-<i>-<addr>"
# (and before git 2.21 "<epoch>-<n>-<i>-git-send-email-<addr>"): all but <i> are the run's.
_SEND_EMAIL_ID = re.compile(r"^(\d{14}\.\d+)-\d+-(.+)$|^(\d{9,11}-\d+)-\d+-git-send-email-(.+)$")


def one_sending(a: str, b: str) -> bool:
    """`a` and `b` name mails of one `git send-email` run: an unversioned patch among a
    version's is then a stale file of an earlier round sent along ("[PATCH 2/4]" among its
    "[PATCH v3 i/4]", linux-iio), no repost of it. (A file sent twice at the same version
    is still the same posting sent again. A stale file sent before the version it came with,
    its name sorting first, is still linked between that version and the one before: the
    linker decides in date order and cannot see the version yet.) Pure."""
    ma, mb = _SEND_EMAIL_ID.match(a), _SEND_EMAIL_ID.match(b)
    return ma is not None and mb is not None and ma.groups() == mb.groups()


@dataclass(slots=True)
class Link:
    prev: str  # key of the earlier version
    next: str
    score: float
    evidence: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Seen:
    """What a later decision reads of an earlier version: a linker holds one of these per
    version it took in, not the version and its mails, so that its memory grows with the
    number of versions, not with their text (a prolific person's 400 days of history is tens
    of thousands of versions on a large list)."""

    key: str
    date: int
    version: int
    version_str: str
    rfc: bool
    thread: str
    normalized_title: str
    total: int

    @classmethod
    def of(cls, v: Version) -> Seen:
        return cls(
            v.key,
            v.date,
            v.version,
            v.version_str,
            v.rfc,
            v.thread,
            v.normalized_title,
            v.total,
        )


def _order(old: Version | Seen, new: Version) -> str | None:
    """How `new` can follow `old`: a later version, a resend, a repost, or not at all."""
    if (old.version, old.version_str) == (new.version, new.version_str):
        if new.resend:
            return "resend"
        if (old.rfc and not new.rfc) or new.partial:
            return "later"
        return "repost"  # the same version sent again, untagged: needs more evidence
    if new.partial and new.version == old.version:
        return "later"
    if old.version < new.version or (old.rfc and not new.rfc and old.version <= new.version):
        return "later"
    if not new.version_str:
        # An unversioned "[PATCH]" after a v2 is a repost of the work, unless it came with
        # the v2 itself: a stale file of an earlier round sent along.
        return None if one_sending(old.key, new.key) else "repost"
    return None


def failed_send(old: Version | Seen, new: Version, fo: Features, ev: dict[str, float]) -> bool:
    """`old` is a cover letter whose patches never went out, and `new` its version sent again
    in full: a cover alone, then the same title and count of patches at the same version
    from the same person (the linker's candidates are) within hours. Its title is then
    evidence enough: a cover alone has no patches, files or diff to share. Pure."""
    return (
        fo.patches == 0
        and "same-title" in ev
        and old.total == new.total
        and 0 <= new.date - old.date <= RESENT_GAP
    )


@dataclass(slots=True)
class Features:
    """What linking compares, computed once per version."""

    # frozensets when computed; sorted tuples of distinct items once packed (`packed`).
    ids: frozenset[str] | tuple[str, ...]
    mentioned: frozenset[str] | tuple[str, ...]
    change_ids: frozenset[str] | tuple[str, ...]
    patch_titles: frozenset[str] | tuple[str, ...]
    files: frozenset[str] | tuple[str, ...]
    tokens: frozenset[str]
    # The diff's line hashes: a frozenset when computed, packed (sorted, unique, 4 bytes
    # each) once a linker keeps them, as they are most of what it holds.
    hashes: Collection[int]
    patches: int

    @classmethod
    def of(cls, v: Version) -> Features:
        members = v.members
        return cls(
            ids=frozenset(m.message_id for m in members),
            mentioned=frozenset().union(*(m.mentioned for m in members)),
            change_ids=frozenset(m.change_id for m in members if m.change_id),
            patch_titles=frozenset(v.patch_titles()),
            files=frozenset(v.files()),
            tokens=title_tokens(v.normalized_title),
            # A union in C: a day's versions hold half a million line hashes.
            hashes=frozenset().union(*(p.hashes for p in v.patches.values())),
            patches=len(v.patches),
        )

    def packed(self) -> Features:
        """The same features as a linker keeps them for the versions it took in: sets as
        sorted tuples, hashes packed (4 bytes each), no title words and no mentioned ids
        (only a new version's are looked up). A small set costs 216 bytes and a person's 400
        days of versions are tens of thousands; `score_link` reads a kept side only through
        the other's sets."""
        return replace(
            self,
            ids=tuple(sorted(self.ids)),
            mentioned=(),  # what a new version mentions is looked up, never an old one's
            change_ids=tuple(sorted(self.change_ids)),
            patch_titles=tuple(sorted(self.patch_titles)),
            files=tuple(sorted(self.files)),
            tokens=NO_WORDS,
            hashes=array("I", sorted(self.hashes)),
        )


_TOKEN = re.compile(r"[a-z0-9_]{3,}")
NO_WORDS: frozenset[str] = frozenset()  # one object: each frozenset() call makes another


def title_tokens(normalized_title: str) -> frozenset[str]:
    """The words of a normalised title that linking compares (three characters or more),
    interned: the same words come back in a person's titles and a linker counts them all."""
    return frozenset(map(sys.intern, _TOKEN.findall(normalized_title)))


def score_link(
    old: Version | Seen, new: Version, fo: Features | None = None, fn: Features | None = None
) -> dict[str, float]:
    """Evidence that `new` is a later version of `old`, as named weights. `fo` may be the
    packed features a linker keeps (and is required when `old` is only what it keeps of the
    version); `fn` is always the new version's own (its sets are the ones intersected)."""
    if fo is None:
        assert isinstance(old, Version)
        fo = Features.of(old)
    fn = fn or Features.of(new)
    ev: dict[str, float] = {}
    if fn.change_ids.intersection(fo.change_ids):
        ev["change-id"] = 2.0
    if fn.mentioned.intersection(fo.ids):
        ev["link-in-changelog"] = 2.0
    if new.anchor.parent in fo.ids:
        ev["in-reply-to"] = 1.5
    elif new.thread == old.thread:
        # Under one message that is neither's, both answering the thread's first message:
        # siblings (the patchsets of a patchbomb, "[PATCHSET v31.0 02/10]" beside "[PATCHSET
        # v4.0 01/10]"; two fixes for one bug report), which a thread alone does not make
        # versions of each other: a title or the patches must say so too.
        ev["in-reply-to"] = 0.5 if new.anchor.parent == new.thread else 1.5
    t = title_similarity(old.normalized_title, new.normalized_title, SIMILAR_TITLE)
    if t >= 0.999:
        ev["same-title"] = 1.0
    elif t >= SIMILAR_TITLE:
        ev["similar-title"] = round(t * 0.8, 3)
    if fo.patches > 1 or fn.patches > 1:
        a, b = fo.patch_titles, fn.patch_titles
        overlap = len(b.intersection(a)) / max(1, min(len(a), len(b)))
        if overlap > 0:
            ev["patch-titles"] = round(overlap, 3)
    if fo.files and fn.files:
        shared = len(fn.files.intersection(fo.files))
        j = shared / (len(fo.files) + len(fn.files) - shared)
        if j >= 0.5:
            ev["same-files"] = round(j * 0.5, 3)
    # The same change under another title: most changed lines in common. Only asked when
    # the title or an explicit pointer does not already say it (it is the costly test).
    if not ev.keys() & {"same-title", "change-id", "link-in-changelog"}:
        d = similarity(fo.hashes, fn.hashes)
        if d >= 0.5:
            ev["similar-diff"] = round(d, 3)
    return ev


def _keys(v: Version | Seen, f: Features, tokens: frozenset[str], *, lookup: bool) -> list[str]:
    """Index keys of a version: what a later version would share with it (`lookup`: the keys a
    new version looks up, which only a whole Version has)."""
    keys = [
        *(f"cid:{c}" for c in f.change_ids),
        *(f"tok:{t}" for t in tokens),
        *(f"pt:{t}" for t in f.patch_titles),
        f"thread:{v.thread}",
    ]
    if lookup:
        assert isinstance(v, Version)
        keys += [f"id:{i}" for i in f.mentioned] + [f"id:{v.anchor.parent}"]
        keys += [f"vf:{v.version - 1}:{p}" for p in f.files]
    else:
        keys += [f"id:{i}" for i in f.ids] + [f"vf:{v.version}:{p}" for p in f.files]
    return keys


def _naming(word: str, paths: Iterable[str]) -> bool:
    """Whether a title word names a thing (a test, a function, a file) rather than saying
    what was done to it: it has a digit or an underscore ("signal06", "tst_af_alg"), or it
    is part of the name of a file both versions touch ("fanotify" in
    testcases/kernel/syscalls/fanotify/...). A word few of a person's titles hold is still
    filler to anyone with few postings ("from", "fix", "tests", "support": a v20 of
    "splice: Make splice from a DAX file ..." had taken a v6 of "mm, netfs, fscache: Stop
    read optimisation when folio removed from pagecache" for "from"), and so is a long
    verb ("simplify" joined two different works of one author). Pure."""
    return any(c.isdigit() or c == "_" for c in word) or any(word in p.lower() for p in paths)


def linkable(versions: list[Version]) -> list[Version]:
    """The versions linking considers, in the order it decides them. Pull requests and stable
    backports carry patches already reviewed elsewhere: they are matched to them later, not
    versions of them."""
    return sorted(
        (v for v in versions if not (v.pull or v.backport)), key=lambda v: (v.date, v.key)
    )


class Linker:
    """The sequential linking decision, one version at a time in date order (see
    `link_versions`). Its state after a prefix of versions is all a later decision reads, so
    an update can rebuild it from the stored prefix (`remember`) and decide only what follows.
    """

    def __init__(self, people: Identities) -> None:
        self.people = people
        self.order: list[Seen] = []
        self.feats: list[Features] = []
        # Words in many of a person's earlier titles ("erofs", "fix") say nothing about
        # kinship. Counted over the versions before this one only (causal), so that mail that
        # comes later never changes an earlier decision: an update can then link only what is
        # new.
        self.df: dict[str, dict[str, int]] = {}
        self.sizes: dict[str, int] = {}
        self.commons: dict[str, frozenset[str]] = {}
        # Index key -> the positions in `order` of the versions with it: one int, or a list
        # in increasing order when several (most keys have one; a set costs 216 bytes).
        self.index: dict[str, int | list[int]] = {}
        self.has_next: set[str] = set()

    def identities(self, v: Version) -> set[str]:
        return {
            self.people(v.author_name, v.author_addr),
            self.people(v.sender_name, v.sender_addr),
        }

    def _common(self, ident: str) -> frozenset[str]:
        return self.commons.get(ident, frozenset())

    def count(self, idents: set[str], tokens: frozenset[str]) -> None:
        """Count a version's title words for its identities, without indexing it (a version
        older than any candidate still weighs in what counts as a common word).

        The common words (in more than max(3, versions / 20) of the person's titles) are kept
        up to date here: counts only grow, so a word joins when its count passes the limit,
        and all are looked at again only when the limit itself rises."""
        for ident in idents:
            size = self.sizes[ident] = self.sizes.get(ident, 0) + 1
            counts = self.df.setdefault(ident, {})
            for token in tokens:
                counts[token] = counts.get(token, 0) + 1
            limit = max(3, size // 20)
            if limit != max(3, (size - 1) // 20):
                self.commons[ident] = frozenset(t for t, n in counts.items() if n > limit)
            else:
                joined = [t for t in tokens if counts[t] > limit]
                if joined:
                    self.commons[ident] = self._common(ident) | frozenset(joined)

    def seed(self, ident: str, versions: int, words: dict[str, int]) -> None:
        """Start a person's counts from totals over versions taken in elsewhere (an update
        resumes from the stored counts rather than re-reading the person's history). The
        common words are the ones `count` would hold: it keeps exactly those over the limit."""
        self.sizes[ident] = versions
        self.df[ident] = dict(words)
        limit = max(3, versions // 20)
        self.commons[ident] = frozenset(t for t, n in words.items() if n > limit)

    def remember(self, v: Version, has_next: bool) -> None:
        """Take in a version decided earlier, as if it had been decided here."""
        self._add(v, Features.of(v), self.identities(v), None)
        if has_next:
            self.has_next.add(v.key)

    def remember_kept(self, seen: Seen, kept: Features, idents: set[str], has_next: bool) -> None:
        """`remember` from what a linker keeps of the version (its `Seen` and packed
        `Features`, as stored by stages/linkfeatures.py) and its identities: the same state
        as taking in the version itself, without its mails."""
        self._take(seen, kept, kept, title_tokens(seen.normalized_title), idents, None)
        if has_next:
            self.has_next.add(seen.key)

    def decide(self, new: Version) -> Link | None:
        """The link into `new` from the best earlier version, or None; then take it in."""
        fn = Features.of(new)
        idents = self.identities(new)
        common = {ident: self._common(ident) for ident in idents}
        cands: set[int] = set()
        for ident in idents:
            for key in _keys(new, fn, fn.tokens - common[ident], lookup=True):
                have = self.index.get(f"{ident}|{key}")
                if have is None:
                    continue
                if isinstance(have, int):
                    cands.add(have)
                else:
                    cands.update(have)
        best: tuple[float, Seen, dict[str, float]] | None = None
        for j in sorted(cands, reverse=True):
            old = self.order[j]
            if new.date - old.date > MAX_GAP:
                continue
            how = _order(old, new)
            if old.key in self.has_next or how is None:
                continue
            ev = score_link(old, new, self.feats[j], fn)
            if (
                how == "later"
                and new.version == old.version + 1
                and new.date - old.date <= SUCCESSOR_GAP
                and "same-files" in ev
            ):
                ev["next-version"] = 0.6
            # Files alone link unrelated fixes: a title, a pointer, or being the very next
            # version soon after is needed too.
            if set(ev) <= {"same-files"}:
                continue
            # A repost is the same posting sent again: as many patches, and the same title or
            # patches. A single patch later sent as 1/2 of a series is another piece of work.
            # b4's change-id names the series whatever it holds: a v2 of 7 patches sent again
            # five minutes later with 11 (LTP's landlock) is that v2 again.
            if (
                how == "repost"
                and not (
                    ("same-title" in ev or "patch-titles" in ev)
                    and len(ev) >= 2
                    and (old.total == new.total or "change-id" in ev)
                )
                and not failed_send(old, new, self.feats[j], ev)
            ):
                continue
            total = sum(ev.values())
            if total >= THRESHOLD and (best is None or total > best[0] + 0.5):
                best = (total, old, ev)
        if best is None and new.version >= 2 and not new.partial:
            best = self._renumbered(new, fn, cands, common)
        link = None
        if best is not None:
            self.has_next.add(best[1].key)
            link = Link(best[1].key, new.key, round(best[0], 3), best[2])
        self._add(new, fn, idents, common)
        return link

    def _renumbered(
        self,
        new: Version,
        fn: Features,
        cands: set[int],
        common: dict[str, frozenset[str]],
    ) -> tuple[float, Seen, dict[str, float]] | None:
        """The earlier version a "[PATCH vN]" (N >= 2) follows when no evidence above links
        it: its number says it has one, and a rework re-titled after review shares neither
        title nor diff with it ("signal06: add volatile to loop variable" v1, "signal06: loop
        being clobbered by syscall on clang" v2). The one version of the author's still
        without a next, numbered lower, posted within `RENUMBERED_GAP` before, touching a file
        in common and sharing a title word the author seldom uses that names something (one
        of their tests, their helper, a file they touch: `_naming`); none when two or more
        qualify.
        LTP: the versions it links were mostly series read as abandoned whose work went in
        as the later version (docs/METRICS.md, "Version links")."""
        words = fn.tokens - frozenset().union(*common.values())
        if not words or not fn.files:
            return None
        found: list[Seen] = []
        for j in cands:
            old = self.order[j]
            if (
                old.key in self.has_next
                or not old.version < new.version
                or not 0 < new.date - old.date <= RENUMBERED_GAP
            ):
                continue
            shared = fn.files.intersection(self.feats[j].files)
            if not shared or not any(
                _naming(w, shared) for w in words & title_tokens(old.normalized_title)
            ):
                continue
            found.append(old)
            if len(found) > 1:
                return None
        return (1.0, found[0], {"renumbered": 1.0}) if found else None

    def _add(
        self,
        v: Version,
        f: Features,
        idents: set[str],
        common: dict[str, frozenset[str]] | None,
    ) -> None:
        self._take(Seen.of(v), f.packed(), f, f.tokens, idents, common)

    def _take(
        self,
        seen: Seen,
        kept: Features,
        f: Features,
        tokens: frozenset[str],
        idents: set[str],
        common: dict[str, frozenset[str]] | None,
    ) -> None:
        """Keep `seen` and `kept` for later decisions, index the version under the keys of
        its features `f` (the same sets, packed or not) and count its title words."""
        i = len(self.order)
        self.order.append(seen)
        self.feats.append(kept)
        for ident in idents:
            c = common[ident] if common is not None else self._common(ident)
            for key in _keys(seen, f, tokens - c, lookup=False):
                slot = f"{ident}|{key}"
                have = self.index.get(slot)
                if have is None:
                    self.index[slot] = i
                elif isinstance(have, int):
                    if have != i:
                        self.index[slot] = [have, i]
                elif have[-1] != i:
                    have.append(i)
        self.count(idents, tokens)


def link_versions(versions: list[Version], people: Identities | None = None) -> list[Link]:
    """Predecessor links between versions (each version at most one in, one out). Pure.

    Candidates are versions of the same person: the author, or the sender when someone else
    sent the patch (a maintainer re-posting a contributor's work).
    """
    if people is None:
        people = Identities(
            [(v.author_name, v.author_addr) for v in versions]
            + [(v.sender_name, v.sender_addr) for v in versions]
        )
    linker = Linker(people)
    links = []
    for v in linkable(versions):
        link = linker.decide(v)
        if link is not None:
            links.append(link)
    return links


def laid_over(chain: Sequence[Version], links: Mapping[str, Link]) -> list[bool]:
    """For each version of a series (oldest first; `links` by the later version's key),
    whether it is laid over the version in force before it rather than replacing it: a
    partial re-roll (grouping's `partial`), or one patch taken out of a bigger version and
    sent alone (`split_out`). review/model.py in_force then keeps the bigger version in force
    with that patch replaced, so that the series is merged when all its patches are, not
    when the one sent alone is. Pure."""
    out: list[bool] = []
    base: Version | None = None
    titles: dict[int, str] = {}  # place -> title in the version in force, as laid so far
    for v in chain:
        flag = v.partial or (base is not None and split_out(base, titles, v, links.get(v.key)))
        if flag:
            lay(titles, {i: p.subject.normalized_title for i, p in v.patches.items()})
        else:
            base = v
            titles = {i: p.subject.normalized_title for i, p in v.patches.items()}
        out.append(flag)
    return out


def split_out(base: Version, titles: Mapping[int, str], v: Version, link: Link | None) -> bool:
    """`v` is one patch of `base` (a version of several; `titles`: its patches' titles by
    place, with those laid over it since) sent again alone, taken out of it: a single patch
    without a cover that says no more than one patch (a "v2 2/4" whose other patches went to
    other lists is a version of its own), titled as exactly one of those patches (its place,
    review/model.py lay) and not as the series (the title of `base`'s cover letter: a
    series reduced to one patch under its title is the series' next version), and not tied
    to it by a b4 change-id (b4 keeps one per series: a series reduced to one patch).
    Without a cover letter every patch of `base` is alike: patch 1 sent alone is a split-out
    as patch 2 is. A split-out linked as the next version made the whole series merged by
    the merge of that patch (a dt-binding of a SoC's 19 patches resent alone,
    linux-arm-msm). Pure."""
    if v.cover is not None or len(v.patches) != 1 or len(base.patches) < 2:
        return False
    if (v.total or 1) > 1 or (link is not None and "change-id" in link.evidence):
        return False
    (title,) = v.patch_titles()
    if not title or sum(t == title for t in titles.values()) != 1:
        return False
    return base.cover is None or title != base.normalized_title


def chains(versions: list[Version], links: list[Link]) -> dict[str, list[str]]:
    """Series: first version's key -> keys of its versions, oldest first."""
    nxt = {lk.prev: lk.next for lk in links}
    has_prev = {lk.next for lk in links}
    out: dict[str, list[str]] = {}
    for v in sorted(versions, key=lambda v: (v.date, v.key)):
        if v.key in has_prev:
            continue
        chain = [v.key]
        while chain[-1] in nxt:
            chain.append(nxt[chain[-1]])
        out[v.key] = chain
    return out
