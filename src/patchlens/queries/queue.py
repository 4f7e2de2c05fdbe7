"""Who each open series waits on: every person's queue, and "waiting on whom" per series.

Read at query time from the stored tables (docs/METRICS.md, "Queues and waiting on whom"):
- who MAINTAINERS expected to review a series when it was posted (series_metrics.
  expected_roles, written by the metrics stage from the file in force at the posting date);
- who was asked by name: the To: and Cc: addresses of the current version's messages
  (messages.to_addrs / cc_addrs), as identities (a person's every address counts), but for
  the list's own address that each message's List-Id header tells (mail/listid.py);
- who answered which version (review_events: replies from anyone but the author and bots,
  with the version each answers from `replies`).

The open series and what they wait on are a function of the store alone, so they are computed
once per data version (queries.selection.per_version) and every person's queue is a filter of
them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, select

from patchlens.identity.people import address_owners
from patchlens.mail.listid import named_on
from patchlens.metrics.backlog import OPEN_STATES, BacklogRules
from patchlens.metrics.roles import MAINTAINER, REVIEWER
from patchlens.queries.selection import all_series, per_version, review_date
from patchlens.queries.sql import chunks
from patchlens.review.model import in_force
from patchlens.store import schema

# The longest mail address SMTP allows (RFC 5321: 64 + 1 + 255); a longer one names nobody.
MAX_ADDRESS = 320

HOUR = 3600.0

# Why a series is in someone's queue.
ASKED = "asked"  # named in To:/Cc: of the current version
AGAIN = "reviewed earlier"  # answered an earlier version; the current one awaits them again

# Waiting on whom (docs/METRICS.md).
ON_AUTHOR = "author"
ON_NAMED = "named"
ON_NOBODY = "nobody named"


@dataclass
class OpenSeries:
    """An open series (backlog state) with who was named for it and who answered what."""

    row: dict[str, Any]  # the series_metrics row with its state (queries.selection)
    current_key: str  # the version in force (review/model.py in_force; re-rolls laid over)
    # Its label ("v3"; "v1" for a first posting without a number), with the partial re-rolls
    # laid over it ("v2 + partial v3"): its date is the latest of them.
    current_version: str
    current_date: int  # when the newest posting of the current version came
    expected: dict[str, str] = field(default_factory=dict)  # identity -> maintainer | reviewer
    asked: set[str] = field(default_factory=set)  # identities in To:/Cc: of the current version
    answered: dict[str, int] = field(default_factory=dict)  # identity -> first reply, current
    # identities that answered an earlier version (or the current one before a partial
    # re-roll of it) but not the current version since
    earlier: set[str] = field(default_factory=set)

    @property
    def key(self) -> str:
        return str(self.row["series_key"])

    @property
    def named(self) -> set[str]:
        """Everyone the series names as a reviewer (MAINTAINERS or To/Cc), its author aside."""
        return (set(self.expected) | self.asked) - {self.row["author"]}

    @property
    def awaited(self) -> set[str]:
        """Everyone the series waits on a word from: the people it names and those who
        answered an earlier version (back again)."""
        return self.named | self.earlier


def open_series(conn: Connection, rules: BacklogRules) -> list[OpenSeries]:
    """Every open series with who was named and who answered, kept per data version."""
    return per_version(conn, ("queue_open_series", rules), lambda: _open_series(conn, rules))


def relay_owners(conn: Connection) -> dict[str, str]:
    """Each relay's address -> its owner's identity, as the metrics step keeps them
    (`schema.RELAY_OWNERS`); empty before it ran."""
    st = schema.stage_state
    text = conn.execute(select(st.c.inputs).where(st.c.stage == schema.RELAY_OWNERS)).scalar()
    return json.loads(text) if text else {}


def identities_by_address(conn: Connection) -> dict[str, str]:
    """Every address a person sent from (lower-cased) -> their identity, per data version; a
    relay's address is its owner's (identity/people.address_owners)."""

    def compute() -> dict[str, str]:
        pe = schema.people
        return address_owners(
            (
                (r.identity, r.address, json.loads(r.addresses or "[]"), r.messages or 0)
                for r in conn.execute(
                    select(pe.c.identity, pe.c.address, pe.c.addresses, pe.c.messages)
                )
            ),
            relay_owners(conn),
        )

    return per_version(conn, "identities_by_address", compute)


def people_names(conn: Connection) -> dict[str, tuple[str, str, bool]]:
    """identity -> (name, address, is_bot), per data version."""

    def compute() -> dict[str, tuple[str, str, bool]]:
        pe = schema.people
        q = select(pe.c.identity, pe.c.name, pe.c.address, pe.c.is_bot)
        return {i: (n or "", a or "", bool(b)) for i, n, a, b in conn.execute(q)}

    return per_version(conn, "queue_people_names", compute)


def maintainer_identities(conn: Connection) -> dict[str, str]:
    """MAINTAINERS addresses nobody sent from (lower-cased) -> the identity the metrics step
    looked each up as, by name and address (stages/maintainer_people.py): George Dunlap's
    eu.citrix.com, which never wrote, is the George Dunlap who did. Per data version."""

    def compute() -> dict[str, str]:
        st = schema.stage_state
        text = conn.execute(
            select(st.c.inputs).where(st.c.stage == schema.MAINTAINER_IDENTITIES)
        ).scalar()
        senders = identities_by_address(conn)
        wrote = people_names(conn)
        out: dict[str, str] = {}
        # An address MAINTAINERS gives under two names (a full one and none, in two sections)
        # is the one of them who wrote, else the first in sorted order: the same each time.
        for addr, _name, ident in sorted(json.loads(text) if text else []):
            if addr in senders:
                continue  # a sender's address is theirs (identities_by_address)
            if addr not in out or (ident in wrote and out[addr] not in wrote):
                out[addr] = ident
        return out

    return per_version(conn, "maintainer_identities", compute)


def _known_identity(conn: Connection, address: str) -> str | None:
    """The identity of a lower-cased address: its sender's, else the one MAINTAINERS names
    by it (`maintainer_identities`); None when neither."""
    return identities_by_address(conn).get(address) or maintainer_identities(conn).get(address)


def identity_of_address(conn: Connection, address: str) -> str:
    """The identity an address belongs to (`_known_identity`), else `addr:<address>` (an
    entry of someone who never wrote to the list, under no name anyone wrote under)."""
    a = address.strip().lower()
    return _known_identity(conn, a) or f"addr:{a}"


def _label(labels: list[str]) -> str:
    """A current version's label: the whole version and the partial re-rolls after it,
    named when their labels tell them apart ("v2 + partial v3"), else counted (unnumbered
    re-sends of part of v1: "v1 + 3 partial re-rolls"). The datasette queue says the same."""
    base, rest = labels[0], labels[1:]
    if not rest:
        return base
    if len(set(rest)) == len(rest) and base not in rest:
        return f"{base} + partial {', '.join(rest)}"
    if len(rest) == 1:
        return f"{base} + a partial re-roll"
    return f"{base} + {len(rest)} partial re-rolls"


def _open_series(conn: Connection, rules: BacklogRules) -> list[OpenSeries]:
    rows = [r for r in all_series(conn, rules) if r["state"] in OPEN_STATES]
    by_key = {r["series_key"]: r for r in rows}
    sv, vm, m = schema.series_versions, schema.version_members, schema.messages
    rp, ev = schema.replies, schema.review_events
    versions: dict[str, list[tuple[int, str, str, int, bool]]] = {}
    for chunk in chunks(sorted(by_key)):
        q = select(
            sv.c.series_key, sv.c.seq, sv.c.key, sv.c.version_str, sv.c.date, sv.c.partial
        ).where(sv.c.series_key.in_(chunk))
        for skey, seq, vkey, vstr, date, partial in conn.execute(q):
            versions.setdefault(skey, []).append((seq, vkey, vstr, date, bool(partial)))
    out: dict[str, OpenSeries] = {}
    current_of: dict[str, tuple[str, bool]] = {}  # version key -> (series key, is current)
    for skey, vs in versions.items():
        vs.sort()
        base = in_force([v[4] for v in vs])
        cur = vs[base:]
        o = OpenSeries(
            row=by_key[skey],
            current_key=cur[0][1],
            current_version=_label([f"v{v[2] or 1}" for v in cur]),
            current_date=max(v[3] for v in cur),
            expected=json.loads(by_key[skey].get("expected_roles") or "{}"),
        )
        out[skey] = o
        for i, v in enumerate(vs):
            current_of[v[1]] = (skey, i >= base)
    addr_map = identities_by_address(conn)
    named = maintainer_identities(conn)
    bots = {i for i, (_n, _a, bot) in people_names(conn).items() if bot}
    current_keys = sorted(k for k, (_s, cur) in current_of.items() if cur)
    for chunk in chunks(current_keys):
        q = (
            select(vm.c.version_key, m.c.to_addrs, m.c.cc_addrs, m.c.list_id_header)
            .join(m, m.c.id == vm.c.message_pk)
            .where(vm.c.version_key.in_(chunk))
        )
        for vkey, to, cc, header in conn.execute(q):
            o = out[current_of[vkey][0]]
            # The list itself names nobody: every series is sent to it (mail/listid.py).
            for a in named_on(to, cc, header):
                # An address nobody sent from counts for the person MAINTAINERS names by it
                # (get_maintainer.pl prints the file's addresses into Cc:).
                who = addr_map.get(a) or named.get(a)
                if who is not None and who not in bots:
                    o.asked.add(who)
    for chunk in chunks(sorted(current_of)):
        q = (
            select(rp.c.version_key, ev.c.who, ev.c.date)
            .join(ev, ev.c.message_pk == rp.c.message_pk)
            .where(rp.c.version_key.in_(chunk))
        )
        for vkey, who, date in conn.execute(q):
            skey, cur = current_of[vkey]
            o = out[skey]
            # An answer sent before a partial re-roll laid over the current version was
            # answered by it (as metrics/backlog.py has it): the re-roll awaits them again.
            if cur and date >= o.current_date:
                if who not in o.answered or date < o.answered[who]:
                    o.answered[who] = date
            else:
                o.earlier.add(who)
    for o in out.values():
        o.earlier -= set(o.answered)
    return sorted(out.values(), key=lambda o: (o.current_date, o.key))


def waiting_on(o: OpenSeries) -> dict[str, Any]:
    """Who an open series waits on (docs/METRICS.md, "Waiting on whom"):

    - the author, when a reviewer spoke last on the current version and its patches are not
      all reviewed (changes were asked for, or a question);
    - else the named people (MAINTAINERS M:/R: of the touched files at posting, those in
      To:/Cc: of the current version, and those who answered an earlier version): those of
      them who have not answered the current version, or, when every one has, all of them
      (the author answered them last); a series whose every patch is reviewed waits on its
      maintainers (to apply it), if it names any;
    - else nobody named: no MAINTAINERS entry matches, nobody was asked and nobody answered
      an earlier version."""
    r = o.row
    if r["reviewer_spoke_last"] and not r["nearly_complete"]:
        return {"on": ON_AUTHOR, "who": [r["author"]]}
    named = o.awaited
    if not named:
        return {"on": ON_NOBODY, "who": []}
    if r["nearly_complete"]:
        maintainers = sorted(p for p in named if o.expected.get(p) == MAINTAINER)
        if maintainers:
            return {"on": ON_NAMED, "who": maintainers}
    pending = sorted(p for p in named if p not in o.answered)
    return {"on": ON_NAMED, "who": pending or sorted(named)}


def reasons(o: OpenSeries, who: str) -> list[str]:
    """Why the series is in `who`'s queue (empty: it is not): their MAINTAINERS role, being
    asked by name, having answered an earlier version. None once they answered the current
    version, and never for their own series."""
    if who == o.row["author"] or who in o.answered:
        return []
    out = []
    role = o.expected.get(who)
    if role in (MAINTAINER, REVIEWER):
        out.append(role)
    if who in o.asked:
        out.append(ASKED)
    if who in o.earlier:
        out.append(AGAIN)
    return out


def queue_row(
    o: OpenSeries, why: list[str], as_of: int, names: dict[str, tuple[str, str, bool]]
) -> dict[str, Any]:
    """One series of a queue as pages, the API and feeds show it."""
    r = o.row
    w = waiting_on(o)

    def person(identity: str) -> dict[str, str]:
        name, address, _bot = names.get(identity, ("", identity.removeprefix("addr:"), False))
        return {"identity": identity, "name": name, "address": address}

    return {
        "series_key": o.key,
        "url": "/series/" + quote(o.key, safe="@"),
        "title": r["title"],
        "author": r["author"],
        "author_name": r.get("author_name") or "",
        "author_addr": r["author_addr"],
        "first_date": r["first_date"],
        "current_version": o.current_version,
        "current_date": o.current_date,
        "last_date": r["last_date"],
        "waiting_hours": round(max(0, as_of - o.current_date) / HOUR, 3),
        "patches": r["patches"],
        "lines": r["lines_added"] + r["lines_removed"],
        "state": r["state"],
        "reasons": why,
        "answered_by": [person(p) for p in sorted(o.answered)],
        "waiting_on": w["on"],
        "waiting_on_who": [person(p) for p in w["who"]],
        "subsystems": r["subsystems"],
    }


def queue_rows(
    conn: Connection, who: str, rules: BacklogRules, only: set[str] | None = None
) -> list[dict[str, Any]]:
    """The queue of identity `who`, oldest first (by the current version's date): every
    open series that names them (MAINTAINERS or To/Cc) or that they answered in an earlier
    version, and whose current version they have not answered. `only`: those series keys
    alone. This is what an Atom feed of the queue lists (key, title, url, author, dates)."""
    as_of = review_date(conn)
    names = people_names(conn)
    out = []
    for o in open_series(conn, rules):
        if only is not None and o.key not in only:
            continue
        why = reasons(o, who)
        if why:
            out.append(queue_row(o, why, as_of, names))
    return out


def find_people(conn: Connection, text: str) -> list[dict[str, Any]]:
    """The people `text` names: an identity, one of their addresses, or (failing those) a
    name: equal ignoring case, else containing the text. Several when a name is ambiguous."""
    pe = schema.people
    t = text.strip()
    if not t or len(t) > 320:
        return []
    cols = (pe.c.identity, pe.c.name, pe.c.address, pe.c.messages)
    row = conn.execute(select(*cols).where(pe.c.identity == t)).first()
    if row is None:
        who = _known_identity(conn, t.lower().removeprefix("addr:"))
        if who is not None:
            row = conn.execute(select(*cols).where(pe.c.identity == who)).first()
    if row is not None:
        return [dict(row._mapping)]
    people = [dict(r._mapping) for r in conn.execute(select(*cols))]
    low = t.casefold()
    exact = [p for p in people if (p["name"] or "").casefold() == low]
    found = exact or [p for p in people if low in (p["name"] or "").casefold()]
    return sorted(found, key=lambda p: (-(p["messages"] or 0), p["identity"]))


def queue_of(conn: Connection, ident: str, rules: BacklogRules) -> dict[str, Any] | None:
    """The queue of the person an address or identity names (None: nobody): the page's, its
    feed's and its tables' CSV. A name is not accepted here: a URL names one person, and a
    name may be several."""
    if len(ident) > MAX_ADDRESS:
        return None
    found = [p for p in find_people(conn, ident) if "@" in ident or p["identity"] == ident]
    if len(found) != 1:
        return None
    return person_queue(conn, found[0]["identity"], rules)


def person_queue(conn: Connection, who: str, rules: BacklogRules) -> dict[str, Any]:
    """A person's queue: what awaits them for the first time, and what they reviewed earlier
    whose next version now awaits them again, both oldest first."""
    rows = queue_rows(conn, who, rules)
    name, address, _bot = people_names(conn).get(who, ("", who.removeprefix("addr:"), False))
    new = [r for r in rows if AGAIN not in r["reasons"]]
    again = [r for r in rows if AGAIN in r["reasons"]]
    return {
        "identity": who,
        "name": name,
        "address": address,
        "as_of": review_date(conn),
        "total": len(rows),
        "awaiting": new,
        "again": again,
    }
