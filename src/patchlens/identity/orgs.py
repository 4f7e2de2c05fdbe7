"""The organisation behind an address at a given date, from gitdm-format maps.

**Format** (gitdm's ``EmailMap`` files, which LWN's gitdm, the LF/CNCF forks and CHAOSS's
SortingHat importer all read)::

    # comment; '#' starts a comment anywhere on a line, as in gitdm
    [user@]domain   Organisation Name   [< YYYY-MM-DD]

A bare ``domain`` maps every address under it; ``user@domain`` maps one address (gitdm keeps
both kinds in the same files; the CNCF files write ``user!domain``, read here as
``user@domain``). ``< YYYY-MM-DD`` makes the line valid only *before* that day (UTC), so a
person who changed employer without changing address reads::

    jane@example.org   Company A  < 2021-03-01
    jane@example.org   Company B

Several lines for one key are ordered by their end date; at a given day the first one that
has not ended applies. Keys are matched ignoring case. An organisation written
``(unknown)``/``(Unknown)`` (or the CNCF's ``NotFound``) means "not known": `UNKNOWN`.

**Lookup** (`OrgMap.resolve`), first hit wins:

1. the address itself (``user@domain`` lines);
2. the domain and its parents, *longest suffix first* (``foo.intel.com`` -> ``intel.com``),
   never a bare top-level label; at each suffix a map line beats the free-mail list;
3. free-mail and personal mailbox providers (`FREEMAIL_DOMAINS`) -> `UNKNOWN`: the person
   behind a gmail.com address may work anywhere, so it is listed for curation
   (`OrgMap.unknown_addresses`), never guessed;
4. otherwise the address's registrable domain stands for itself (``mail.scut.edu.cn`` ->
   ``scut.edu.cn``), so reports are useful without any map.

**Deviations from gitdm**, each deliberate:

- gitdm tries the *shortest* suffix first (``intel.com`` before ``linux.intel.com``); here the
  longest wins, so a map can single out a subdomain.
- when every line of a key has ended by the date asked, gitdm has no answer ("OOPS"); here
  the lookup falls through to the next level (the domain, then the fallbacks).
- an unmapped domain gives its registrable domain, where gitdm gives the whole address (or
  ``(Unknown)`` with ``-u``); free-mail domains give `UNKNOWN`, where gitdm has no such list.
- a key defined in ``email_map_text`` replaces that key's lines from ``domain_map_text``
  (the second text is the user's override); within one text, like gitdm, the first of two
  lines with the same key and end date wins.
- a malformed line raises ValueError naming its line number (gitdm exits; SortingHat skips).

**Default map** (`OrgMap.default`, package file ``identity/domain-map``): a modest list for
the projects at hand. Project and vanity domains (kernel.org, xen.org, infradead.org,
linux.dev) map to ``(unknown)``: they are given to people, not by employers.

Bots are not this module's business: leave them out first (``review.replies.BotMatcher``),
otherwise ``lkp@intel.com`` counts for Intel.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Literal

__all__ = [
    "FREEMAIL_DOMAINS",
    "UNKNOWN",
    "Affiliation",
    "MapLine",
    "OrgMap",
    "default_domain_map_text",
    "parse_email_map",
    "registrable_domain",
]

UNKNOWN = "(unknown)"
_UNKNOWN_SPELLINGS = frozenset({"(unknown)", "unknown", "notfound"})

# Mailbox providers anyone can sign up to: their addresses say nothing about an employer.
# A trailing ".*" stands for any country ending ("yahoo.*": yahoo.com, yahoo.co.uk, ...).
FREEMAIL_DOMAINS: tuple[str, ...] = (
    # international
    "gmail.com", "googlemail.com", "outlook.*", "hotmail.*", "live.*", "msn.com",
    "yahoo.*", "ymail.com", "rocketmail.com", "aol.*", "aim.com", "icloud.com", "me.com",
    "mac.com", "protonmail.com", "protonmail.ch", "proton.me", "pm.me", "tutanota.com",
    "tutanota.de", "tuta.io", "tutamail.com", "zoho.com", "zohomail.com", "fastmail.*",
    "mailbox.org", "posteo.*", "hey.com", "mail.com", "email.com", "inbox.com", "duck.com",
    "hushmail.com", "runbox.com", "riseup.net", "disroot.org", "cock.li", "airmail.cc",
    # Europe
    "gmx.*", "web.de", "t-online.de", "freenet.de", "arcor.de", "mail.ru", "inbox.ru",
    "list.ru", "bk.ru", "yandex.*", "ya.ru", "rambler.ru", "ukr.net", "seznam.cz",
    "centrum.cz", "wp.pl", "o2.pl", "interia.pl", "onet.pl", "libero.it", "virgilio.it",
    "tiscali.it", "orange.fr", "wanadoo.fr", "free.fr", "laposte.net", "sfr.fr", "btinternet.com",
    "ntlworld.com", "telenet.be", "skynet.be", "xs4all.nl", "ziggo.nl", "bluewin.ch",
    # China
    "qq.com", "foxmail.com", "163.com", "126.com", "yeah.net", "188.com", "sina.com",
    "sina.cn", "sohu.com", "139.com", "189.cn", "wo.cn", "aliyun.com", "tom.com", "21cn.com",
    # Japan, Korea, India, elsewhere
    "naver.com", "hanmail.net", "daum.net", "nate.com", "rediffmail.com",
    "ezweb.ne.jp", "docomo.ne.jp", "hinet.net", "bigpond.com", "optusnet.com.au",
    "comcast.net", "verizon.net", "att.net", "sbcglobal.net", "cox.net", "charter.net",
    "earthlink.net", "shaw.ca", "rogers.com", "sympatico.ca", "uol.com.br", "bol.com.br",
    "terra.com.br",
)  # fmt: skip

# Second-level labels under which registries hand out names ("scut.edu.cn", "amazon.co.jp").
_SLD = frozenset({"ac", "co", "com", "edu", "gov", "net", "org", "ne", "or", "go", "mil"})


def registrable_domain(domain: str) -> str:
    """The name an organisation registered: last two labels, three under ``co.uk``-like ends.

    A heuristic, not the Public Suffix List: a two-letter country ending with a generic
    second level (``ac``, ``co``, ``com``, ``edu``, ``gov``, ``net``, ``org``, ...) keeps three.
    """
    labels = domain.split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SLD:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


@dataclass(frozen=True, slots=True)
class MapLine:
    """One line of a map: key (address or domain, lower case), organisation, end date."""

    key: str
    org: str
    until: dt.date | None  # valid for days strictly before this one; None: open-ended
    line: int


_LINE = re.compile(r"^(\S+)\s+([^<]+?)\s*(?:<\s*(\d+)-(\d+)-(\d+)\s*)?$")


def parse_email_map(text: str) -> list[MapLine]:
    """Lines of a gitdm EmailMap / domain-map text. Raises ValueError naming the line."""
    out = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        m = _LINE.match(line)
        if not m or not m.group(2).strip():
            raise ValueError(f"line {n}: not '[user@]domain organisation [< yyyy-mm-dd]': {raw!r}")
        key = m.group(1).lower()
        if "@" not in key:
            key = key.replace("!", "@")  # the CNCF files' user!domain
        org = " ".join(m.group(2).split())
        if org.lower() in _UNKNOWN_SPELLINGS:
            org = UNKNOWN
        until = None
        if m.group(3):
            try:
                until = dt.date(int(m.group(3)), int(m.group(4)), int(m.group(5)))
            except ValueError as e:
                raise ValueError(f"line {n}: bad date in {raw!r}: {e}") from None
        out.append(MapLine(key, org, until, n))
    return out


Source = Literal["address", "domain", "freemail", "fallback", "invalid"]


@dataclass(frozen=True, slots=True)
class Affiliation:
    """An organisation and where it came from (so reports can tell mapped from guessed)."""

    org: str
    source: Source

    @property
    def named(self) -> bool:
        """True when a map line named the organisation (not a fallback, not unknown)."""
        return self.source in ("address", "domain") and self.org != UNKNOWN


def default_domain_map_text() -> str:
    """The domain map shipped with patchlens (``patchlens/identity/domain-map``)."""
    return resources.files("patchlens.identity").joinpath("domain-map").read_text("utf-8")


def _day(when: int | None) -> dt.date | None:
    if when is None:
        return None
    return dt.datetime.fromtimestamp(when, dt.UTC).date()


def _normalise(email: str) -> str:
    e = email.strip().strip("<>").strip().lower()
    if "@" not in e and " at " in e:  # "user at example.com", as some archives obfuscate
        e = e.replace(" at ", "@", 1)
    return e.rstrip(".")


class OrgMap:
    """Address -> organisation, with dated lines; see the module docstring for the rules."""

    def __init__(self, lines: Iterable[MapLine] = (), freemail: Iterable[str] = FREEMAIL_DOMAINS):
        self._lines: dict[str, list[MapLine]] = {}
        for ml in lines:
            self._lines.setdefault(ml.key, []).append(ml)
        for key, ls in self._lines.items():
            # Stable: of two lines with the same end, the first written wins (as gitdm).
            self._lines[key] = sorted(ls, key=lambda x: (x.until is None, x.until or dt.date.max))
        self._free = frozenset(d.lower() for d in freemail if not d.endswith(".*"))
        self._free_wild = frozenset(d.lower()[:-2] for d in freemail if d.endswith(".*"))

    @classmethod
    def from_text(
        cls,
        domain_map_text: str,
        email_map_text: str = "",
        *,
        freemail: Iterable[str] = FREEMAIL_DOMAINS,
    ) -> OrgMap:
        """A map from gitdm-format texts; keys in the second replace those in the first."""
        base = parse_email_map(domain_map_text)
        override = parse_email_map(email_map_text)
        replaced = {ml.key for ml in override}
        return cls([ml for ml in base if ml.key not in replaced] + override, freemail)

    @classmethod
    def default(
        cls, email_map_text: str = "", *, freemail: Iterable[str] = FREEMAIL_DOMAINS
    ) -> OrgMap:
        """The shipped domain map, with the user's lines (same format) on top."""
        return cls.from_text(default_domain_map_text(), email_map_text, freemail=freemail)

    def _at(self, key: str, day: dt.date | None) -> str | None:
        for ml in self._lines.get(key, ()):
            if ml.until is None or (day is not None and day < ml.until):
                return ml.org
        return None

    def _is_free(self, suffix: str) -> bool:
        if suffix in self._free:
            return True
        head, _, tail = suffix.partition(".")
        # "yahoo.*": yahoo + a country ending of one or two short labels (co.uk, com.cn).
        return (
            head in self._free_wild
            and 1 <= len(tail.split(".")) <= 2
            and all(0 < len(x) <= 3 for x in tail.split("."))
        )

    def resolve(self, email: str, when: int | None = None) -> Affiliation:
        """The organisation of `email` on the day of `when` (UTC epoch seconds).

        With `when` None only open-ended lines apply: the current affiliation as mapped.
        """
        e = _normalise(email)
        local, at, domain = e.rpartition("@")
        if not at or not local or not domain:
            return Affiliation(UNKNOWN, "invalid")
        day = _day(when)
        org = self._at(e, day)
        if org is not None:
            return Affiliation(org, "address")
        labels = domain.split(".")
        for i in range(max(len(labels) - 1, 1)):
            suffix = ".".join(labels[i:])
            org = self._at(suffix, day)
            if org is not None:
                return Affiliation(org, "domain")
            if self._is_free(suffix):
                return Affiliation(UNKNOWN, "freemail")
        return Affiliation(registrable_domain(domain), "fallback")

    def org(self, email: str, when: int | None = None) -> str:
        """The organisation's name, `UNKNOWN`, or the address's domain when nothing maps it."""
        return self.resolve(email, when).org

    def unknown_addresses(self, emails: Iterable[str], when: int | None = None) -> list[str]:
        """Addresses (lower case, each once, sorted) whose organisation is `UNKNOWN`: to curate."""
        seen = {_normalise(e) for e in emails}
        return sorted(e for e in seen if self.resolve(e, when).org == UNKNOWN)
