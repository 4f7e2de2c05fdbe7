"""One person behind several addresses: git's `.mailmap`, and a simpler people file for users.

**`.mailmap`** (`parse_mailmap`) is read exactly as git reads it (`mailmap.c`), so that
patchlens and `git log --use-mailmap` / `git check-mailmap` agree on every line:

- the four forms ``Proper Name <commit@email>``, ``<proper@email> <commit@email>``,
  ``Proper Name <proper@email> <commit@email>`` and
  ``Proper Name <proper@email> Commit Name <commit@email>`` (either proper part may be left
  out of the last one);
- a line is a comment only when ``#`` is its *first* character. Anything after the last ``>``
  is ignored, so trailing comments work; an indented ``# text <a@b>`` is an entry, as in git;
- addresses and commit names are matched ignoring ASCII case (git uses ``strcasecmp``), and
  the replacement keeps the case written in the file;
- an entry that names the commit name wins over the email-only entry for the same address;
  email-only entries for one address merge (a later line replaces only the parts it gives);
  a later name-specific entry for the same (address, name) replaces the earlier one;
- a first address written ``<>`` makes git ignore the line; so do lines without ``<...>``.

**People file** (`parse_people_file`): a curated list for patchlens users, one person a line::

    # patchlens people file: one person per line.
    # [Display Name]  canonical@address  other@address ...
    Gao Xiang  xiang@kernel.org  hsiangkao@aol.com  <gaoxiang25@huawei.com>
    yuchao0@huawei.com  chao@kernel.org

Words before the first address (a word containing ``@``) are the display name, optional.
The first address is the one reports show; every other address on the line is the same
person. Angle brackets around addresses are allowed (so ``Name <addr>`` can be pasted),
addresses match ignoring case, ``#`` starts a comment anywhere on a line, blank lines are
skipped. A line whose first address is not preceded by a name keeps the name as posted. An
address listed on two lines, or a non-address word after the first address, is an error (a
curated file should say one thing once). `parse_gitdm_aliases` reads gitdm's ``aliases`` file
(``alias@address canonical@address`` per line) into the same `People` type.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

__all__ = [
    "Mailmap",
    "People",
    "Person",
    "parse_gitdm_aliases",
    "parse_mailmap",
    "parse_people_file",
]

# git's isspace() (sane_ctype): space, tab, LF, CR; not VT or FF.
_GIT_SPACE = " \t\n\r"
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _fold(s: str) -> str:
    """git compares with strcasecmp: ASCII letters only, so "É" and "é" stay different."""
    return s.translate(_ASCII_LOWER)


@dataclass(slots=True)
class _Info:
    name: str | None = None
    email: str | None = None


@dataclass(slots=True)
class _Entry:
    """All the mappings for one commit address: the email-only one and those by name."""

    simple: _Info = field(default_factory=_Info)
    by_name: dict[str, _Info] = field(default_factory=dict)


def _name_and_email(buf: str, allow_empty_email: bool) -> tuple[str | None, str | None, str]:
    """git's parse_name_and_email: (name, email, what follows the '>') or (None, None, "")."""
    left = buf.find("<")
    if left < 0:
        return None, None, ""
    right = buf.find(">", left + 1)
    if right < 0 or (not allow_empty_email and right == left + 1):
        return None, None, ""
    name = buf[:left].strip(_GIT_SPACE) or None
    return name, buf[left + 1 : right], buf[right + 1 :]


class Mailmap:
    """A parsed `.mailmap`; `canonical` answers as `git check-mailmap` does."""

    def __init__(self) -> None:
        self._map: dict[str, _Entry] = {}

    def __len__(self) -> int:
        return len(self._map)

    def add_line(self, line: str) -> None:
        """One line of a .mailmap, as git's read_mailmap_line."""
        if line.startswith("#"):
            return
        name1, email1, rest = _name_and_email(line, allow_empty_email=False)
        if email1 is None:
            return
        name2, email2 = None, None
        if rest:
            name2, email2, _ = _name_and_email(rest, allow_empty_email=True)
        self._add(name1, email1, name2, email2)

    def _add(
        self,
        new_name: str | None,
        new_email: str | None,
        old_name: str | None,
        old_email: str | None,
    ) -> None:
        if old_email is None:  # "Name <commit>" or "Name <proper>" with no second address
            old_email, new_email = new_email, None
        assert old_email is not None
        entry = self._map.setdefault(_fold(old_email), _Entry())
        if old_name is None:
            # Email-only entries for one address merge: a later line sets what it names.
            if new_name is not None:
                entry.simple.name = new_name
            if new_email is not None:
                entry.simple.email = new_email
        else:
            entry.by_name[_fold(old_name)] = _Info(new_name, new_email)

    def canonical(self, name: str, email: str) -> tuple[str, str]:
        """(name, email) as the project wants them shown; unchanged when nothing matches."""
        entry = self._map.get(_fold(email))
        if entry is None:
            return name, email
        info = entry.by_name.get(_fold(name), entry.simple) if entry.by_name else entry.simple
        return (
            name if info.name is None else info.name,
            email if info.email is None else info.email,
        )


def parse_mailmap(text: str) -> Mailmap:
    """A `.mailmap` file's text. Lines end at LF only, as git's reader splits them."""
    mm = Mailmap()
    for line in text.split("\n"):
        mm.add_line(line)
    return mm


@dataclass(frozen=True, slots=True)
class Person:
    """One line of a people file: the address to show, an optional name, and the others."""

    email: str
    name: str | None
    aliases: tuple[str, ...]


class People:
    """Addresses known to be one person, from a curated file; same interface as `Mailmap`."""

    def __init__(self, persons: Iterable[Person] = ()) -> None:
        self._persons: list[Person] = []
        self._by_addr: dict[str, Person] = {}
        for p in persons:
            self.add(p)

    def add(self, person: Person) -> None:
        for addr in (person.email, *person.aliases):
            key = addr.lower()
            if key in self._by_addr:
                raise ValueError(f"{addr} is listed twice (as {self._by_addr[key].email})")
            self._by_addr[key] = person
        self._persons.append(person)

    def __iter__(self) -> Iterator[Person]:
        return iter(self._persons)

    def __len__(self) -> int:
        return len(self._persons)

    def person(self, email: str) -> Person | None:
        return self._by_addr.get(email.lower())

    def canonical(self, name: str, email: str) -> tuple[str, str]:
        p = self._by_addr.get(email.lower())
        if p is None:
            return name, email
        return (p.name or name), p.email


_ADDR = re.compile(r"^<?([^<>\s@]+@[^<>\s@]+)>?$")


def parse_people_file(text: str) -> People:
    """The people file described in the module docstring. Raises ValueError naming the line."""
    people = People()
    for n, raw in enumerate(text.splitlines(), 1):
        words = raw.split("#", 1)[0].split()
        if not words:
            continue
        first = next((i for i, w in enumerate(words) if "@" in w), None)
        if first is None:
            raise ValueError(f"line {n}: no address in {raw.strip()!r}")
        addrs = []
        for w in words[first:]:
            m = _ADDR.match(w)
            if not m:
                raise ValueError(f"line {n}: {w!r} is not an address")
            addrs.append(m.group(1))
        name = " ".join(words[:first]) or None
        try:
            people.add(Person(addrs[0], name, tuple(addrs[1:])))
        except ValueError as e:
            raise ValueError(f"line {n}: {e}") from None
    return people


def parse_gitdm_aliases(text: str) -> People:
    """gitdm's EmailAliases file: ``alias canonical`` per line, ``#`` comments (as gitdm).

    gitdm also allows a quoted name as the alias (``"Joe Hacker" joe@acme.org``) for
    botched idents; those lines are skipped here: patchlens never joins on a name alone.
    """
    groups: dict[str, list[str]] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.match(r'^("[^"]+"|\S+)\s+(\S+)$', line)
        if not m or "@" not in m.group(2):
            raise ValueError(f"line {n}: not 'alias canonical': {line!r}")
        alias, canonical = m.group(1), m.group(2)
        if alias.startswith('"'):
            continue
        groups.setdefault(canonical.lower(), [canonical])
        if alias.lower() != canonical.lower():
            groups[canonical.lower()].append(alias)
    return People(Person(g[0], None, tuple(dict.fromkeys(g[1:]))) for g in groups.values())
