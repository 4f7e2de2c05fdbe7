"""Who someone is, across the addresses and spellings they post under.

Two senders are one person when a curated source says so (a repository's `.mailmap`, the
user's people file), when they share an address, or when they share a full display name of
two or more words, in the same order ("Liu Bo" and "Bo Liu" are often two people). A single
word ("Chao", "root") is never enough, and neither are names of machines and roles ("kernel
test robot", "Mail Delivery System"): that is how two real people get merged. Identities are
the connected groups of those links (union-find over everything seen); the representative
is the curated address when there is one.

An address is not always one person's. A maintainer who relays others' patches with their
own address under the authors' names ("Christoph Hellwig <aalbersh@redhat.com>", sent by
Andrey Albershteyn), a lab's or a company's shared sending account, join everyone whose
name they carried into one person when every name joins its address: on linux-xfs six
reviewers became one, and their reviews of each other were the author's own replies. So a
name under an address joins it only when it is the address owner's: the first name the
address was seen under, a spelling of it (`same_person`), or a name that replaced it (the
owner's name no longer used after it first appeared: a renaming). Any other name is
relayed, and a message under it is its name's person when that name is known from an
address of its own, else the address's (`resolve`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable

from patchlens.mail.parse import list_rewritten

_WORD = re.compile(r"[^\W\d_]{2,}", re.UNICODE)
_NOT_NAMES = frozenset(
    {
        "via",
        "on",
        "behalf",
        "of",
        "the",
        "list",
        "lists",
        "mailing",
        "linux",
        "erofs",
        "robot",
        "bot",
        "test",
        "admin",
        "system",
        "delivery",
        "support",
        "noreply",
        "mail",
        "team",
        "service",
        "daemon",
        "postmaster",
        "administrator",
        "ci",
        "patchwork",
    }
)
_DOMAIN_LIKE = re.compile(r"\w\.\w{2,}$")
# Letters NFKD does not take apart; and German umlauts, which are also written "ae", "oe",
# "ue" ("Jörg Rödel" is "Joerg Roedel"): a name with them is compared both ways.
_FOLD = str.maketrans({"ł": "l", "ø": "o", "đ": "d", "ß": "ss", "æ": "ae", "œ": "oe", "ı": "i"})
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue"})

Canonical = Callable[[str, str], tuple[str, str]]
NEVER = 2**62  # the first-seen date of an address nobody dated
IsBot = Callable[[str, str], bool]


def commit_author(name: str, email: str) -> tuple[str, str]:
    """A commit's author as a sender to group: a patch applied from a list that rewrote its
    sender ("A via ltp <ltp@lists.linux.it>", git am keeps it) is A's, found by name, not
    the list's (LTP: 235 commits by a dozen people were all one identity, the list's, and
    none matched its author's postings by person). Looked up as such, never added to an
    `Identities`: A's name as a key of its own would become A's identity. Pure."""
    author = list_rewritten(name)
    return (author, "") if author else (name, email)


def name_key(name: str) -> str | None:
    """The key two senders must share to be joined by name; None when the name says too
    little (one word, a role, a domain)."""
    name = unicodedata.normalize("NFKC", name or "").strip()
    # An address in the name's place ("'hch@lst.de'", "Greg KH (gregkh@...)") is no name.
    if not name or "@" in name or _DOMAIN_LIKE.search(name):
        return None
    words = [w.casefold() for w in _WORD.findall(name)]
    if len(words) >= 2 and not set(words) & _NOT_NAMES:
        return "name:" + " ".join(words)
    return None


def _spellings(key: str) -> set[tuple[str, ...]] | None:
    """The words of a name key with accents folded away, once with umlauts as "ae", "oe",
    "ue" and once as plain vowels; None when a word is in another script than Latin."""
    out = set()
    for text in {key.removeprefix("name:").translate(_UMLAUTS), key.removeprefix("name:")}:
        text = unicodedata.normalize("NFKD", text.translate(_FOLD))
        text = "".join(c for c in text if not unicodedata.combining(c))
        if not text.isascii():
            return None
        out.add(tuple(text.split()))
    return out


def _spelled_alike(wa: tuple[str, ...], wb: tuple[str, ...]) -> bool:
    if set(wa) & set(wb):
        return True
    for x, y in ((wa, wb), (wb, wa)):
        if {p + q for p in x for q in x if p != q} & set(y):  # "Zhen Lei", "Leizhen"
            return True
        if any(len(p) >= 3 and q.startswith(p) for p in x for q in y):  # "Tom", "Tomislav"
            return True
    return False


def same_person(a: str, b: str) -> bool:
    """Whether two name keys can be one person's spellings: a word in common after folding
    accents ("Greg KH", "Greg Kroah-Hartman"; "Jörg Rödel", "Joerg Roedel"), two words
    written as one, or a word the start of another. Names in another script than Latin are
    not compared (one person's two spellings, as far as this can tell).

    Lenient on purpose, measured on the million-message corpus: requiring two words in
    common split real people across their addresses (Greg Kroah-Hartman and Greg KH, Andy
    and Andriy Shevchenko, Mike and Michael Christie: 8,000 messages of a few people) to
    catch relays between two people of one first name, of which it found none. Pure."""
    sa, sb = _spellings(a), _spellings(b)
    if sa is None or sb is None:
        return True
    return any(_spelled_alike(x, y) for x in sa for y in sb)


# Names under one address beyond which they are not grouped with each other (pairwise
# comparison grows with their square): a shared sending account.
CROWD = 50

# name key -> [first date, last date, messages] of its use under one address
Spans = dict[str, list[int]]


def _name_groups(names: Spans) -> list[list[str]]:
    """The names of one address grouped into spellings of one person (`same_person`), in
    the order they were first used. Pure."""
    groups: list[list[str]] = []
    for k in sorted(names, key=lambda k: (names[k][0], k)):
        for g in groups:
            if any(same_person(k, other) for other in g):
                g.append(k)
                break
        else:
            groups.append([k])
    return groups


def _span(names: Spans, g: list[str]) -> tuple[int, int, int]:
    """First date, last date and messages of a group of names under one address."""
    return (
        min(names[k][0] for k in g),
        max(names[k][1] for k in g),
        sum(names[k][2] for k in g),
    )


def owner_names(names: Spans) -> set[str]:
    """The owner's names of one address: the group of spellings it sent most messages under
    (the earliest on a tie); past CROWD names, the most used name's spellings. Pure."""
    if len(names) > CROWD:
        top = max(names, key=lambda k: (names[k][2], -names[k][0], k))
        return {k for k in names if same_person(k, top)}
    groups = _name_groups(names)
    return set(max(groups, key=lambda g: (_span(names, g)[2], -_span(names, g)[0])))


def _owned(names: Spans, elsewhere: Callable[[str], int]) -> set[str]:
    """The name keys under one address that join it (see the module's docstring). `names`
    maps each to [first, last, messages] (first NEVER when undated); `elsewhere(name)` is
    the date since when the name is another address's owner's (NEVER when it is not).

    The owner's name is the one most sent under (a relay sends for others now and then,
    whatever came first in the archive), with its spellings. Another name joins when its
    use does not overlap the owner's (a renaming, either way round), unless another
    address owned it before it came to this one (a relay, whose owner had not posted for a
    while). Pure."""
    if len(names) < 2:
        return set(names)
    keys = sorted(names, key=lambda k: (names[k][0], k))
    if names[keys[0]][0] == NEVER:
        return set(names)  # undated: whose address it is cannot be told
    if len(keys) > CROWD:  # an address many people send from: its owner's spellings only
        return owner_names(names)
    groups = _name_groups(names)
    if len(groups) < 2:
        return set(names)
    owner = owner_names(names)
    start, end, _n = _span(names, sorted(owner))
    owned = set(owner)
    for g in groups:
        first, last, _n = _span(names, g)
        if (
            not owner & set(g)
            and (first > end or last < start)
            and min(elsewhere(k) for k in g) >= first
        ):
            owned.update(g)
    return owned


def address_owners(
    rows: Iterable[tuple[str, str, Iterable[str], int]], relays: dict[str, str] | None = None
) -> dict[str, str]:
    """Address (lower case) -> the identity it is, from people rows (identity, most used
    address, every address sent from, messages). A relay's address is in the rows of
    everyone it sent for: it is its owner's, as `relays` (`Identities.relay_owners`) says;
    without it, the identity whose most used address it is, else the one that sent most
    from its addresses (ties: the smaller identity). Pure."""
    best: dict[str, tuple[int, int, str]] = {}
    for ident, address, addresses, messages in rows:
        main = (address or "").lower()
        for a in {main, *(x.lower() for x in addresses)} - {""}:
            rank = (0 if a == main else 1, -messages, ident)
            if a not in best or rank < best[a]:
                best[a] = rank
    return {a: rank[2] for a, rank in best.items()} | (relays or {})


class Identities:
    """Maps (name, address) to a stable identity key: `addr:` plus the group's address.

    The group's address is the curated one when there is one, else the one seen first (by
    `seen`, the date of its first message or commit; the smallest address among equals). So a
    person's key does not change when they post from a new address, and an update that
    meets new senders rarely has to redo what is stored under the old keys."""

    def __init__(
        self,
        pairs: Iterable[tuple[str, str]] = (),
        canonical: Canonical | None = None,
        is_bot: IsBot | None = None,
    ) -> None:
        self._parent: dict[str, str] = {}
        self._preferred: set[str] = set()
        self._canonical = canonical
        self._is_bot = is_bot
        self._groups: dict[str, set[str]] | None = None
        self._known: set[str] | None = None
        self._first: dict[str, int] = {}
        # address key -> name key -> [first, last] date, of the names it was seen under
        self._spans: dict[str, Spans] = {}
        self._at: dict[str, set[str]] = {}  # name key -> the addresses it was seen under
        self._joined: dict[str, set[str]] = {}  # the names each address was joined to
        # Curated joins (address, sender address, name key or ""), in the order made (a dict
        # as a set): a link of a name joins only when the sender address owns the name (a
        # mailmap entry for a relayed name names its author). `_curated` indexes the links of
        # a name by (sender address, name), as `_join` reads them.
        self._links: dict[tuple[str, str, str], None] = {}
        self._curated: dict[tuple[str, str], list[str]] = {}
        self._relays: set[str] = set()  # addresses that carried a name not their owner's
        self._dirty = False  # a join made turned out to be a relay's: regroup
        self.moved = False
        for name, addr in pairs:
            self.add(name, addr)

    def _find(self, x: str) -> str:
        parent = self._parent
        parent.setdefault(x, x)
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def _rank(self, key: str) -> tuple[int, int, int, str]:
        return (
            0 if key in self._preferred else 1,
            0 if key.startswith("addr:") else 1,
            self._first.get(key, NEVER),
            key,
        )

    def add_dated(self, rows: Iterable[tuple[str, str, int | None]]) -> None:
        """Add (name, address, date) rows, one per message."""
        pairs: dict[tuple[str, str], list[int]] = {}
        for name, addr, date in rows:
            span = pairs.get((name, addr))
            if span is None:
                span = pairs[(name, addr)] = [NEVER, -1, 0]
            if date is not None:
                span[0], span[1] = min(span[0], date), max(span[1], date)
            span[2] += 1
        self.add_spans((name, addr, *span) for (name, addr), span in pairs.items())

    def add_spans(self, rows: Iterable[tuple[str, str, int | None, int | None, int]]) -> None:
        """Add (name, address, first date, last date, messages) rows: their dates first, so
        that each group's representative is its earliest address whatever the order of the
        rows; then which names each address owns, from when and how much each was used."""
        pairs: dict[tuple[str, str], list[int]] = {}
        for name, addr, first, last, count in rows:
            span = pairs.setdefault((name, addr), [NEVER, -1, 0])
            if first is not None:
                span[0] = min(span[0], first)
            if last is not None:
                span[1] = max(span[1], last)
            span[2] += count
        self.seen({pair: span[0] for pair, span in pairs.items() if span[0] != NEVER})
        named = {a for (name, addr), span in pairs.items() if (a := self._add(name, addr, span))}
        # Whether a name is an address's owner's reads when other addresses used it.
        touched = set(named)
        for a in named:
            for n in self._spans[a]:
                touched |= self._at[n]
        for a in sorted(touched):
            self._join(a)
        self._settle()

    def seen(self, first: dict[tuple[str, str], int]) -> None:
        """Record when (name, address) pairs were first seen, before `add`ing them: a group's
        representative is its earliest address. An address already grouped that turns out to
        be older than its group's representative takes its place, and the group's identity
        moves (`moved`, when watching)."""
        for (name, addr), date in first.items():
            key = self._addr_key(name, addr)
            old = self._first.get(key)
            if old is not None and date >= old:
                continue
            self._first[key] = date
            if key not in self._parent:
                continue
            root = self._find(key)
            if root != key and self._rank(key) < self._rank(root):
                self._parent[root] = key
                self._parent[key] = key
                if self._known is not None and root in self._known:
                    self.moved = True

    def _union(self, a: str, b: str) -> None:
        ra, rb = self._find(a), self._find(b)
        if ra != rb:
            if self._rank(rb) < self._rank(ra):
                ra, rb = rb, ra
            self._parent[rb] = ra
            if self._known is not None and rb in self._known:
                self.moved = True

    def watch(self) -> None:
        """From now on, note (in `moved`) when a sender already seen gets another identity:
        two known groups joined, or a known group took a new representative. What was
        stored under the old identity is then out of date."""
        self._known = set(self._parent)
        self.moved = False

    def with_functions(self, canonical: Canonical | None, is_bot: IsBot | None) -> Identities:
        """Re-attach the curated mapping and the bot test (they are not pickled)."""
        self._canonical, self._is_bot = canonical, is_bot
        return self

    def __getstate__(self) -> dict[str, object]:
        self._settle()
        return {
            "parent": self._parent,
            "preferred": self._preferred,
            "first": self._first,
            "spans": self._spans,
            "at": self._at,
            "joined": self._joined,
            "links": self._links,
            "curated": self._curated,
            "relays": self._relays,
        }

    def __setstate__(self, state: dict[str, object]) -> None:
        self._parent = state["parent"]  # type: ignore[assignment]
        self._preferred = state["preferred"]  # type: ignore[assignment]
        self._first = state["first"]  # type: ignore[assignment]
        self._spans = state["spans"]  # type: ignore[assignment]
        self._at = state["at"]  # type: ignore[assignment]
        self._joined = state["joined"]  # type: ignore[assignment]
        self._links = state["links"]  # type: ignore[assignment]
        self._curated = state["curated"]  # type: ignore[assignment]
        self._relays = state["relays"]  # type: ignore[assignment]
        self._canonical = self._is_bot = None
        self._groups = self._known = None
        self._dirty = self.moved = False

    @staticmethod
    def _addr_key(name: str, addr: str) -> str:
        return "addr:" + (addr or name or "").lower()

    def add(self, name: str, addr: str) -> None:
        """Add a sender with no date (the owner of an address is then not told: every name
        joins it)."""
        a = self._add(name, addr, None)
        if a:
            self._join(a)

    def _add(self, name: str, addr: str, span: list[int] | None) -> str | None:
        """Record a sender, used over `span` ([first, last] date, messages); the address key
        when its name is one to join it by (`_join` then decides whether it does)."""
        self._groups = None
        a = self._addr_key(name, addr)
        self._find(a)
        bot = self._is_bot is not None and self._is_bot(name, addr)
        n = None if bot else name_key(name)
        if self._canonical is not None:
            cname, caddr = self._canonical(name, addr)
            if caddr and caddr.lower() != (addr or "").lower():
                c = self._addr_key(cname, caddr)
                self._prefer(c)
                if (c, a, n or "") not in self._links:
                    self._links[(c, a, n or "")] = None
                    if n:
                        self._curated.setdefault((a, n), []).append(c)
                        if n in self._joined.get(a, ()):
                            self._union(c, a)
                if not n:  # with a name, `_join` joins it if the address owns the name
                    # The curated address must stay the representative.
                    self._union(c, a)
        if not n:
            return None
        self._find(n)
        have = self._spans.setdefault(a, {}).setdefault(n, [NEVER, -1, 0])
        if span is not None:
            have[0], have[1] = min(have[0], span[0]), max(have[1], span[1])
            have[2] += span[2]
        self._at.setdefault(n, set()).add(a)
        return a

    def _prefer(self, c: str) -> None:
        """Make curated address `c` its group's representative, now and whatever joins it
        later (`_rank`), as `seen` does for an earlier address."""
        self._preferred.add(c)
        root = self._find(c)
        if root != c and self._rank(c) < self._rank(root):
            self._parent[root] = c
            self._parent[c] = c
            if self._known is not None and root in self._known:
                self.moved = True

    def _owner_since(self, n: str, here: str) -> int:
        """Since when name `n` is the owner's of an address other than `here` (NEVER: of
        none): one of that address's owner's names (`owner_names`)."""
        since = NEVER
        for a in self._at.get(n, ()):
            names = self._spans[a]
            if a != here and names[n][0] < since and n in owner_names(names):
                since = names[n][0]
        return since

    def _join(self, a: str) -> None:
        """Join address `a` to the names it owns; a name it was joined to that it turns out
        not to own (the address is a relay: a union-find cannot be undone) calls for a
        regroup (`_settle`)."""
        names = self._spans[a]
        owned = _owned(names, lambda n: self._owner_since(n, a))
        joined = self._joined.setdefault(a, set())
        if joined - owned:
            self._dirty = True
        for n in owned - joined:
            self._union(a, n)
            for c in self._curated.get((a, n), ()):
                self._union(c, a)
        joined |= owned
        if len(owned) < len(names):
            self._relays.add(a)
        else:
            self._relays.discard(a)

    def _settle(self) -> None:
        """Group again from what was recorded, when a join turned out to be a relay's. An
        identity a known sender had that changes is noted (`moved`)."""
        if not self._dirty:
            return
        self._dirty = False
        self._groups = None
        known, self._known = self._known, None
        before = self._handed_out(known) if known is not None else {}
        keys = list(self._parent)
        self._parent = {}
        for k in keys:
            self._find(k)
        for c, a, n in self._links:
            if not n:
                self._union(c, a)
        self._joined = {}
        self._relays = set()
        for a in self._spans:
            self._join(a)
        self._known = known
        if before != (self._handed_out(known) if known is not None else {}):
            self.moved = True

    def _handed_out(self, known: set[str]) -> dict[tuple[str, str], str]:
        """The identity each known sender (address, name key) gets: what a regroup must
        leave alone for nothing stored to be out of date. (A name's group alone may move
        without any sender's identity moving: a name seen only at a relay.)"""
        out = {}
        for a in known:
            if a.startswith("addr:"):
                out[(a, "")] = self._find(a)
                for n in self._spans.get(a, ()):
                    out[(a, n)] = self._resolve(a, n) or self._find(a)
        return out

    def relay_owners(self) -> dict[str, str]:
        """Each relay's address (lower case) -> its owner's identity."""
        self._settle()
        return {a[5:]: self._find(a) for a in sorted(self._relays)}

    def shared(self, addr: str) -> bool:
        """Whether `addr` carried names of several people (a relay): its messages are not
        all one identity's."""
        return "addr:" + (addr or "").lower() in self._relays

    def _relayed(self, name: str, addr: str, a: str) -> str | None:
        """The identity of a message a relay sent under another's name, or None when the
        pair is not one: the curated address of the pair, else the person the name is
        known as from an address of its own (a name seen only at relays stays the relay's:
        a nickname, another spelling)."""
        if a not in self._relays:
            return None
        n = name_key(name)
        if not n or (self._is_bot is not None and self._is_bot(name, addr)):
            return None
        if self._canonical is not None and n not in self._joined.get(a, ()):
            # A mailmap entry for this name at this address, not the address's own entry
            # (which would send every relayed message back to the relay).
            _cname, caddr = self._canonical(name, addr)
            c = self._addr_key(name, caddr)
            if caddr and c in self._parent and self._find(c) != self._find(a):
                return self._find(c)
        return self._resolve(a, n)

    def _resolve(self, a: str, n: str) -> str | None:
        """The person name key `n` sent from relay address `a` is, when another address
        holds the name; None when it is the address's own (or only seen there)."""
        if n in self._joined.get(a, ()) or n not in self._parent:
            return None
        root = self._find(n)
        return root if root.startswith("addr:") and root != self._find(a) else None

    def addresses(self, identity: str) -> set[str]:
        """The addresses (lower case) seen for `identity`: the reverse of calling it, so an
        update can find everything one person sent. Built once, on first use."""
        self._settle()
        groups = self._groups
        if groups is None:
            groups = {}
            for key in list(self._parent):
                if key.startswith("addr:"):
                    groups.setdefault(self._find(key), set()).add(key[5:])
            # A relay's address is also that of everyone it sent for.
            for a in self._relays:
                for n in set(self._spans.get(a, ())) - self._joined.get(a, set()):
                    root = self._find(n)
                    if root.startswith("addr:"):
                        groups.setdefault(root, set()).add(a[5:])
            self._groups = groups
        return groups.get(identity, {identity[5:]} if identity.startswith("addr:") else set())

    def __call__(self, name: str, addr: str) -> str:
        self._settle()
        a = self._addr_key(name, addr)
        relayed = self._relayed(name, addr, a)
        if relayed is not None:
            return relayed
        if a in self._parent:
            return self._find(a)
        if self._canonical is not None:
            _cname, caddr = self._canonical(name, addr)
            c = self._addr_key(name, caddr)
            if c in self._parent:
                return self._find(c)
        n = name_key(name)
        if n and n in self._parent and not (self._is_bot and self._is_bot(name, addr)):
            root = self._find(n)
            if root.startswith("addr:"):
                return root
            # A name seen only as relayed: the relay's, as `_relayed` answers from its address.
            held = sorted(x for x in self._at.get(n, ()) if x in self._relays)
            if held:
                return self._find(held[0])
        return a
