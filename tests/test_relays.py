"""An address that carried several people's names: a maintainer relaying others' patches
under their names from their own address ("Christoph Hellwig <aalbersh@redhat.com>", sent
by Andrey Albershteyn on linux-xfs), a lab's shared sending account. Every name used to join
its address, so the relay joined everyone it sent for into one person: on linux-xfs six
reviewers became one, and about 5,800 of their reviews of each other counted as the
author's own replies. The million-corpus audit found it."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from patchlens.identity.people import Identities, address_owners, same_person
from patchlens.queries.queue import identities_by_address
from patchlens.store import schema
from tests.test_review_incremental import PATCH, _build, _by_message_id

DAY = 86_400
ANDREY, CHRIS, DARRICK = "andrey@relay.example", "hch@lst.example", "djwong@kernel.example"


def _rows() -> list[tuple[str, str, int]]:
    return [
        ("Andrey Albershteyn", ANDREY, 1 * DAY),
        ("Christoph Hellwig", CHRIS, 2 * DAY),
        ("Darrick J. Wong", DARRICK, 3 * DAY),
        ("Christoph Hellwig", ANDREY, 10 * DAY),  # relayed
        ("Darrick J. Wong", ANDREY, 10 * DAY),  # relayed
        ("Andrey Albershteyn", ANDREY, 20 * DAY),  # the owner goes on
    ]


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("name:joerg roedel", "name:jörg rödel", True),
        ("name:michal miroslaw", "name:michał mirosław", True),
        ("name:zhen lei", "name:leizhen thundertown", True),
        ("name:tom psyborg", "name:tomislav požega", True),
        ("name:darrick wong", "name:darrick j wong", True),
        ("name:greg kh", "name:greg kroah hartman", True),
        ("name:andy shevchenko", "name:andriy shevchenko", True),
        ("name:anastasia belova", "name:анастасия белова", True),  # scripts not compared
        ("name:andrey albershteyn", "name:christoph hellwig", False),
        ("name:wentao liang", "name:haotian zhang", False),
        # "ae", "oe", "ue" are umlauts only where the name has them.
        ("name:michael ellerman", "name:michal hocko", False),
        ("name:rafael wysocki", "name:rafał miłecki", False),
    ],
)
def test_spellings_of_one_name(a: str, b: str, same: bool) -> None:
    assert same_person(a, b) is same


def test_a_relay_joins_nobody_it_sent_for() -> None:
    people = Identities()
    people.add_dated(_rows())
    andrey = people("Andrey Albershteyn", ANDREY)
    chris, darrick = people("Christoph Hellwig", CHRIS), people("Darrick J. Wong", DARRICK)
    assert len({andrey, chris, darrick}) == 3
    # What the relay sent under another's name is that person's.
    assert people("Christoph Hellwig", ANDREY) == chris
    assert people("Darrick J. Wong", ANDREY) == darrick
    assert people.shared(ANDREY) and not people.shared(CHRIS)
    # Finding everything one person sent reads the relay's address too.
    assert people.addresses(chris) == {CHRIS, ANDREY}
    assert people.addresses(andrey) == {ANDREY}
    # Kept across updates (the map is pickled beside the store).
    again = pickle.loads(pickle.dumps(people))
    assert again("Christoph Hellwig", ANDREY) == chris
    assert again("Andrey Albershteyn", ANDREY) == andrey


def test_before_every_name_joined_its_address() -> None:
    """Undated pairs cannot tell the owner: they group as they always did."""
    people = Identities([(n, a) for n, a, _d in _rows()])
    assert people("Christoph Hellwig", CHRIS) == people("Andrey Albershteyn", ANDREY)


def test_a_name_seen_only_at_the_relay_is_the_relays() -> None:
    """A nickname or a second spelling used from one address only is no one else's."""
    people = Identities()
    people.add_dated(
        [
            ("Lucid Duck", "ld@x.example", DAY),
            ("Devin Wittmayer", "ld@x.example", 2 * DAY),
            ("Lucid Duck", "ld@x.example", 3 * DAY),
        ]
    )
    assert people("Devin Wittmayer", "ld@x.example") == people("Lucid Duck", "ld@x.example")


def test_a_renaming_still_joins() -> None:
    """The owner's name no longer used once another began: one person renamed."""
    people = Identities()
    people.add_dated(
        [
            ("Kirill A. Shutemov", "kirill@old.example", DAY),
            ("Kirill A. Shutemov", "kirill@old.example", 5 * DAY),
            ("Kiryl Shutsemau", "kirill@old.example", 6 * DAY),
            ("Kiryl Shutsemau", "kas@new.example", 7 * DAY),
        ]
    )
    assert people("Kiryl Shutsemau", "kas@new.example") == people(
        "Kirill A. Shutemov", "kirill@old.example"
    )


def test_a_relay_found_later_regroups() -> None:
    """A union-find only grows: a name first seen at an address whose owner has not posted
    since looks like the owner's new one and joins; when the owner's name comes back, what
    was joined is grouped again, and the move is noted."""
    rows = [
        ("Andrey Albershteyn", ANDREY, 1 * DAY),
        ("Christoph Hellwig", ANDREY, 10 * DAY),
        ("Christoph Hellwig", CHRIS, 15 * DAY),
        ("Andrey Albershteyn", ANDREY, 20 * DAY),
    ]
    people = Identities()
    people.add_dated(rows[:3])
    assert people("Christoph Hellwig", CHRIS) == people("Andrey Albershteyn", ANDREY)
    people.watch()
    people.add_dated(rows[3:])
    assert people.moved
    assert people("Christoph Hellwig", CHRIS) != people("Andrey Albershteyn", ANDREY)
    fresh = Identities()
    fresh.add_dated(rows)
    for name, addr, _d in rows:
        assert people(name, addr) == fresh(name, addr)


def _mail(mid: str, subject: str, body: str, day: int, sender: str, irt: str | None = None):
    head = (
        f"From: {sender}\nSubject: {subject}\nMessage-ID: <{mid}>\n"
        f"Date: {day:02d} Jun 2025 10:00:00 +0000\n"
    )
    if irt:
        head += f"In-Reply-To: <{irt}>\nReferences: <{irt}>\n"
    return f"{head}\n{body}".encode()


def _days() -> list[list[bytes]]:
    own = PATCH.replace("foo", "bar")
    return [
        [
            _mail("a1@x", "[PATCH] xfs: own work", own, 1, f"Andrey Albershteyn <{ANDREY}>"),
            _mail("c1@x", "[PATCH] xfs: earlier work", PATCH, 2, f"Christoph Hellwig <{CHRIS}>"),
        ],
        [
            _mail("r1@x", "[PATCH] xfs: relayed", PATCH, 10, f"Christoph Hellwig <{ANDREY}>"),
            _mail("rc@x", "Re: [PATCH] xfs: relayed", "Fixed.\n", 11, f"C H <{CHRIS}>", "r1@x"),
            _mail(
                "ra@x",
                "Re: [PATCH] xfs: relayed",
                "Looks good.\n\nReviewed-by: Andrey Albershteyn <" + ANDREY + ">\n",
                11,
                f"Andrey Albershteyn <{ANDREY}>",
                "r1@x",
            ),
            _mail(
                "a2@x", "Re: [PATCH] xfs: own work", "Ping.\n", 20, f"Andrey A <{ANDREY}>", "a1@x"
            ),
        ],
    ]


def test_a_relayed_patch_is_its_authors_in_the_store(tmp_path: Path) -> None:
    days = _days()
    db, _ = _build(tmp_path / "a", days)
    engine = create_engine(f"sqlite:///{db}")
    rp, m = schema.replies, schema.messages
    with engine.connect() as conn:
        own = dict(
            conn.execute(
                select(m.c.message_id, rp.c.is_author).join(m, m.c.id == rp.c.message_pk)
            ).all()
        )
        people = {r.identity: r for r in conn.execute(select(schema.people)).all()}
        by_address = identities_by_address(conn)
    engine.dispose()
    # Looked up by address (a queue), the relay's address is Andrey's.
    assert by_address[ANDREY] == f"addr:{ANDREY}" and by_address[CHRIS] == f"addr:{CHRIS}"
    # Christoph answering his own patch is its author; Andrey, who only relayed it, reviews.
    assert own["rc@x"] is True and own["ra@x"] is False
    assert own["a2@x"] is True
    assert f"addr:{ANDREY}" in people and f"addr:{CHRIS}" in people
    assert people[f"addr:{ANDREY}"].messages == 3
    assert people[f"addr:{CHRIS}"].messages == 3
    once, _ = _build(tmp_path / "b", [days[0] + days[1]])
    a, b = _by_message_id(db), _by_message_id(once)
    for table in ("list_sources", "ingest_state"):  # where each store's inbox is
        a.pop(table, None), b.pop(table, None)
    assert a == b


def test_a_relay_found_on_a_later_day_gives_the_store_of_one_run(tmp_path: Path) -> None:
    """On the second day the relayed name looks like the owner's new one (the owner has not
    posted since, and the name's own address is newer still) and joins; the third day's
    mail shows the owner still posting, and the update groups again and redoes what the
    old grouping decided."""
    first = [_mail("a1@x", "[PATCH] xfs: own work", PATCH, 1, f"Andrey Albershteyn <{ANDREY}>")]
    relayed = PATCH.replace("+b", "+c")
    second = [
        _mail("r1@x", "[PATCH] xfs: relayed", relayed, 10, f"Christoph Hellwig <{ANDREY}>"),
        _mail("c2@x", "[PATCH] xfs: later work", PATCH, 12, f"Christoph Hellwig <{CHRIS}>"),
        _mail("rc@x", "Re: [PATCH] xfs: relayed", "Fixed.\n", 13, f"C H <{CHRIS}>", "r1@x"),
    ]
    third = [
        _mail(
            "ra@x",
            "Re: [PATCH] xfs: relayed",
            "Good.\n",
            14,
            f"Andrey Albershteyn <{ANDREY}>",
            "r1@x",
        ),
    ]
    db, reports = _build(tmp_path / "a", [first, second, third])
    assert [r.identities_moved for r in reports] == [False, False, True]
    once, _ = _build(tmp_path / "b", [first + second + third])
    a, b = _by_message_id(db), _by_message_id(once)
    for table in ("list_sources", "ingest_state"):
        a.pop(table, None), b.pop(table, None)
    assert a == b


def test_an_archive_that_begins_with_a_relay() -> None:
    """The relay's first mail carries another's name: the address is still its owner's, the
    one it sent most under, not the relayed person's."""
    people = Identities()
    people.add_dated(
        [
            ("Christoph Hellwig", CHRIS, 1 * DAY),
            ("Christoph Hellwig", ANDREY, 2 * DAY),
            ("Andrey Albershteyn", ANDREY, 3 * DAY),
            ("Christoph Hellwig", ANDREY, 10 * DAY),
            ("Andrey Albershteyn", ANDREY, 20 * DAY),
            ("Andrey Albershteyn", ANDREY, 21 * DAY),
        ]
    )
    assert people("Andrey Albershteyn", ANDREY) == f"addr:{ANDREY}"
    assert people("Christoph Hellwig", ANDREY) == people("Christoph Hellwig", CHRIS)


def test_a_name_known_elsewhere_is_never_taken_for_a_renaming() -> None:
    """The owner has not posted since the relayed mail, but the name is another address's
    owner's: a relay at once, so nobody is joined on one day and split on the next (each a
    redo of everything)."""
    people = Identities()
    people.add_dated(_rows()[:4])
    assert people("Christoph Hellwig", CHRIS) != people("Andrey Albershteyn", ANDREY)
    people.watch()
    people.add_dated(_rows()[4:])
    assert not people.moved


def test_a_name_seen_only_at_the_relay_moves_nobody() -> None:
    """Taken for a renaming, then found a relay's: every sender keeps the identity it had."""
    rows = [
        ("Lucid Duck", "ld@x.example", DAY),
        ("Devin Wittmayer", "ld@x.example", 2 * DAY),
        ("Lucid Duck", "ld@x.example", 3 * DAY),
    ]
    people = Identities()
    people.add_dated(rows[:2])
    people.watch()
    people.add_dated(rows[2:])
    assert not people.moved
    assert people.shared("ld@x.example")


def test_a_mailmap_of_the_relays_address_keeps_relayed_mail_its_authors() -> None:
    """An address-only mailmap entry (`<new> <old>`) maps every name at the relay's address:
    it must not send what the relay sent for others back to the relay."""
    new = "andrey@kernel.example"

    def canonical(name: str, addr: str) -> tuple[str, str]:
        return (name, new) if addr == ANDREY else (name, addr)

    people = Identities([], canonical)
    people.add_dated(_rows())
    andrey = people("Andrey Albershteyn", ANDREY)
    assert andrey == f"addr:{new}"
    assert people("Christoph Hellwig", ANDREY) == people("Christoph Hellwig", CHRIS) != andrey
    assert ANDREY in people.addresses(people("Christoph Hellwig", CHRIS))


def test_a_curated_address_met_late_is_the_representative() -> None:
    """A curated address already grouped under an earlier one becomes the group's key, in
    one reading or in two (the review's case: the two readings disagreed)."""

    def canonical(name: str, addr: str) -> tuple[str, str]:
        return (name, "a@x.example") if addr == "e@x.example" else (name, addr)

    rows = [
        ("Darrick Wong", "a@x.example", 35 * DAY),
        ("Darrick Wong", "b@x.example", 33 * DAY),
        ("Darrick Wong", "e@x.example", 30 * DAY),
    ]
    once = Identities([], canonical)
    once.add_dated(rows)
    twice = Identities([], canonical)
    twice.add_dated(rows[:2])
    twice.add_dated(rows[2:])
    assert once("Darrick Wong", "b@x.example") == "addr:a@x.example"
    assert twice("Darrick Wong", "b@x.example") == "addr:a@x.example"


def test_a_relays_address_is_its_owners_in_lookups_by_address() -> None:
    """The people rows list a relay's address for everyone it sent for: looked up by address
    (a queue, the conformance report's self-review test), it is its owner's."""
    rows = [
        ("addr:hch", "hch@lst.example", ["andrey@relay.example", "hch@lst.example"], 40),
        ("addr:andrey", "andrey@relay.example", ["andrey@relay.example"], 800),
        ("addr:darrick", "djwong@kernel.example", ["andrey@relay.example"], 900),
    ]
    owners = address_owners(rows)
    assert owners["andrey@relay.example"] == "addr:andrey"
    assert owners["hch@lst.example"] == "addr:hch"
    assert address_owners(reversed(rows)) == owners


def test_a_mailmap_entry_for_a_relayed_name_names_its_author() -> None:
    """`Christoph Hellwig <hch> Christoph Hellwig <relay>`: an accurate entry for what the
    relay sent under Christoph's name must not join the relay's owner to Christoph (it did:
    the entry joined the curated address to the sending one whatever the name)."""

    def canonical(name: str, addr: str) -> tuple[str, str]:
        if (name, addr) == ("Christoph Hellwig", ANDREY):
            return name, CHRIS
        return name, addr

    people = Identities([], canonical)
    people.add_dated(_rows())
    assert people("Andrey Albershteyn", ANDREY) == f"addr:{ANDREY}"
    assert people("Christoph Hellwig", ANDREY) == people("Christoph Hellwig", CHRIS)
    assert people("Christoph Hellwig", CHRIS) != f"addr:{ANDREY}"


def test_the_owner_of_another_address_is_read_as_its_own_owner_rule() -> None:
    """Whether a name was another address's owner's reads that address's owner as `_owned`
    does, by its group of spellings (the second review's case: Carol's address took Alice's
    name for a renaming, and Carol joined Bob's address)."""
    x, y = "x@x.example", "y@x.example"
    rows = [("Bob Jones", x, d * DAY) for d in (1, 2, 3)]
    rows += [("Alice Smith", x, d * DAY) for d in (1, 4)]
    rows += [("Alyce Smith", x, d * DAY) for d in (2, 3)]
    rows += [("Carol White", y, d * DAY) for d in (1, 1, 1, 2, 2)]
    rows += [("Alice Smith", y, 5 * DAY)]
    people = Identities()
    people.add_dated(rows)
    assert people("Carol White", y) != people("Alice Smith", x)


def test_a_name_seen_only_as_relayed_is_never_an_identity_of_its_own() -> None:
    """Looked up without its address (a commit a list rewrote), a name seen only at a relay
    is the relay's, as with it: never a `name:` key."""
    people = Identities()
    people.add_dated(
        [
            ("Lucid Duck", "ld@x.example", DAY),
            ("Devin Wittmayer", "ld@x.example", 2 * DAY),
            ("Lucid Duck", "ld@x.example", 3 * DAY),
        ]
    )
    assert people("Devin Wittmayer", "") == people("Devin Wittmayer", "ld@x.example")


def test_a_relays_address_is_its_owners_whoever_sent_most_from_it() -> None:
    """Christoph's relayed mail outnumbers his own: his most used address is the relay's,
    which is still Andrey's, as the metrics step recorded (`Identities.relay_owners`)."""
    rows = [
        ("addr:andrey@kernel", "andrey@kernel", ["andrey@kernel", "andrey@redhat"], 900),
        ("addr:hch", "andrey@redhat", ["andrey@redhat", "hch@lst"], 12),
    ]
    assert address_owners(rows)["andrey@redhat"] == "addr:hch"
    owners = address_owners(rows, {"andrey@redhat": "addr:andrey@kernel"})
    assert owners["andrey@redhat"] == "addr:andrey@kernel"
    people = Identities()
    people.add_dated(_rows())
    assert people.relay_owners() == {ANDREY: f"addr:{ANDREY}"}


def test_the_people_rows_of_relayed_people_equal_a_full_count(tmp_path: Path, monkeypatch) -> None:
    """An update recounts the people who sent new mail (stages/metrics.people_rows): those
    who share an address with others (a relay) from counts grouped by name and address,
    and, when a tie in their most used name or address needs the order of their messages,
    by reading those messages. Either way their rows are those of a count of everything."""
    from patchlens.identity.bots import BotMatcher
    from patchlens.queries.evidence import people_of
    from patchlens.stages import metrics

    days = _days()
    darrick = f"Darrick J. Wong <{DARRICK}>"
    days[1] += [  # Darrick: one message of his own, one relayed: his two addresses tie
        _mail("d1@x", "[PATCH] xfs: his own", PATCH.replace("+b", "+d"), 3, darrick),
        _mail("d2@x", "[PATCH] xfs: relayed too", PATCH.replace("+b", "+e"), 12, darrick),
    ]
    days[1][-1] = days[1][-1].replace(f"<{DARRICK}>".encode(), f"<{ANDREY}>".encode(), 1)
    db, _ = _build(tmp_path, days)
    ordered: list[set[str] | None] = []
    read = metrics.identity_rows

    def identity_rows(messages, people, org_of, is_bot, only=None):
        ordered.append(only)
        return read(messages, people, org_of, is_bot, only)

    monkeypatch.setattr(metrics, "identity_rows", identity_rows)
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        people = people_of(conn)
        assert people.shared(ANDREY)

        def org(addr: str, _date: int) -> str:
            return addr.rpartition("@")[2]

        full = {r["identity"]: r for r in metrics.people_rows(conn, people, org, BotMatcher())}
        ordered.clear()
        only = {who: set() for who in full}
        part = metrics.people_rows(conn, people, org, BotMatcher(), only)
    engine.dispose()
    assert {r["identity"]: r for r in part} == full
    # Only Darrick's tie was read message by message; Andrey and Christoph were counted.
    assert ordered == [{people("Darrick J. Wong", DARRICK)}]
    assert full[people("Darrick J. Wong", DARRICK)]["address"] == DARRICK
