"""Who MAINTAINERS names, as the identities of people who wrote.

MAINTAINERS names people by an address they may never send from (Xen's George Dunlap as
george.dunlap@eu.citrix.com, while his mail comes from citrix.com): looked up by address
alone, such an entry is an identity of its own, with no person page, and the queue under it
misses every series it is named on. So an entry is looked up by its name and address
together, as a sender would be (identity/people.py: the same full name of two or more words
is one person).

That look-up depends on who has written so far: a maintainer's first message under their
name makes later look-ups find them. The pairs looked up are kept (in `stage_state`, under
`schema.MAINTAINER_IDENTITIES`) with the identity each got; an update whose identities give
any of them another identity redoes the metrics of the series that name the old one, so that
a store updated day by day equals one built at once. The read model uses the same pairs to
find the page and queue of an address nobody sent from (queries/queue.py), and the canned
datasette queue reads them too. Pairs are kept until every series is redone: one that a
newer MAINTAINERS dropped stays findable until then.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from sqlalchemy import Connection

from patchlens.identity.maintainers import Maintainers
from patchlens.stages import changes
from patchlens.store import schema

PeopleOf = Callable[[str, str], str]


class MaintainerPeople:
    """Looks up MAINTAINERS entries as identities and remembers every pair it looked up."""

    def __init__(self, people: PeopleOf) -> None:
        self._people = people
        self.seen: dict[tuple[str, str], str] = {}
        # Whether series were redone because a pair has another identity (the pipeline then
        # refits the prediction model, whose records the redone metrics are).
        self.found_moved = False

    def __call__(self, name: str, email: str) -> str:
        key = (email.lower(), name)
        ident = self.seen.get(key)
        if ident is None:
            ident = self._people(name, email.lower())
            self.seen[key] = ident
        return ident

    def of(self, maintainers: Maintainers, emails: set[str]) -> frozenset[str]:
        """The identities of `emails` (lower-cased, as `expected_reviewers` gives them), each
        with the name `maintainers` gives it."""
        names = maintainers.names
        return frozenset(self(names.get(e, ""), e) for e in emails)

    def stored(self, conn: Connection) -> list[tuple[str, str, str]]:
        """The (address, name, identity) triples kept by the last metrics run."""
        text = changes.state(conn, schema.MAINTAINER_IDENTITIES)
        return [tuple(t) for t in json.loads(text)] if text else []  # type: ignore[misc]

    def moved(self, conn: Connection) -> set[str]:
        """The identities of the pairs kept by the last run that are another identity now
        (their person wrote since, or two groups joined): the metrics of the series that name
        them are out of date."""
        return {
            ident for addr, name, ident in self.stored(conn) if self._people(name, addr) != ident
        }

    def remember(self, conn: Connection, full: bool, when: int) -> None:
        """Keep the pairs looked up (and, unless every series was redone, those kept before,
        looked up again): in the metrics step's transaction."""
        if not full:
            for addr, name, _ident in self.stored(conn):
                self(name, addr)
        rows = sorted([addr, name, ident] for (addr, name), ident in self.seen.items())
        changes.set_state(conn, schema.MAINTAINER_IDENTITIES, json.dumps(rows), when)
