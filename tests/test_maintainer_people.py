"""MAINTAINERS entries looked up as the people who wrote (stages/maintainer_people.py): by
name and address together, as a sender is, and kept so that a store updated as mail comes
in equals one built at once when a maintainer first writes after being named."""

from __future__ import annotations

import json
from pathlib import Path

from patchlens.config import load_config
from patchlens.identity.people import Identities
from patchlens.metrics.backlog import BacklogRules
from patchlens.stages import ingest
from patchlens.stages.maintainer_people import MaintainerPeople
from patchlens.stages.pipeline import run_stages
from patchlens.stages.progress import Reporter
from patchlens.store.db import open_store

RULES = BacklogRules()
MAINTAINERS = """\
FROB DRIVER
M:\tMara Maintainer <mara@old.example.org>
S:\tMaintained
F:\tfrob/

WIDGET DRIVER
M:\tOlga Other <olga@old.example.org>
S:\tMaintained
F:\twidget/
"""


def _message(mid: str, sender: str, subject: str, date: str, body: str, cc: str = "") -> str:
    return (
        f"From x Mon Jun  2 09:00:00 2025\nFrom: {sender}\nTo: frob-devel@example.org\n"
        + (f"Cc: {cc}\n" if cc else "")
        + f"Subject: {subject}\nDate: {date}\nMessage-ID: <{mid}>\nMIME-Version: 1.0\n"
        f"Content-Type: text/plain; charset=utf-8\n\n{body}\n\n"
    )


def _patch(path: str, line: str) -> str:
    return (
        f"Change {path}.\n\nSigned-off-by: Someone <s@example.org>\n---\n"
        f" {path} | 1 +\n 1 file changed, 1 insertion(+)\n\n"
        f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n"
        f"@@ -1,1 +1,2 @@\n context\n+{line}\n-- \n2.43.0\n"
    )


ALICE = _message(
    "a1@example.org",
    "Alice Archer <alice@example.org>",
    "[PATCH] frob: check the length",
    "Mon, 2 Jun 2025 09:00:00 +0000",
    _patch("frob/frob.c", "check();"),
)
# Mara's first message, from an address MAINTAINERS does not give, a week later.
MARA = _message(
    "m1@example.org",
    "Mara Maintainer <mara@new.example.org>",
    "[PATCH] docs: say who looks after frob",
    "Mon, 9 Jun 2025 09:00:00 +0000",
    _patch("docs/frob.txt", "Mara."),
)


def test_an_entry_is_looked_up_by_name_and_address() -> None:
    people = Identities([("George Dunlap", "george.dunlap@citrix.com")])
    look = MaintainerPeople(people)
    assert look("George Dunlap", "George.Dunlap@EU.citrix.com") == "addr:george.dunlap@citrix.com"
    # One word is no name (identity/people.py), nor is no name at all: the address alone.
    assert look("George", "g@example.org") == "addr:g@example.org"
    assert look("", "george@eu.citrix.com") == "addr:george@eu.citrix.com"
    assert set(look.seen) == {
        ("george.dunlap@eu.citrix.com", "George Dunlap"),
        ("g@example.org", "George"),
        ("george@eu.citrix.com", ""),
    }


BOB = _message(
    "b1@example.org",
    "Bob Baker <bob@example.org>",
    "[PATCH] frob: tidy",
    "Tue, 3 Jun 2025 09:00:00 +0000",
    _patch("frob/tidy.c", "tidy();"),
)
# Olga, named for widget/ only, writes for the first time.
OLGA = _message(
    "o1@example.org",
    "Olga Other <olga@new.example.org>",
    "[PATCH] docs: widgets",
    "Mon, 9 Jun 2025 10:00:00 +0000",
    _patch("docs/widget.txt", "Olga."),
)


def _carl(cc: str) -> str:
    """Carl's patch outside every section, with `cc` in its Cc:."""
    return _message(
        "c1@example.org",
        "Carl Cook <carl@example.org>",
        "[PATCH] docs: frob notes",
        "Tue, 10 Jun 2025 09:00:00 +0000",
        _patch("docs/notes.txt", "notes"),
        cc=cc,
    )


def _store(tmp: Path, name: str, steps: list[list[str]], redone: list[int] | None = None):
    (tmp / "MAINTAINERS").write_text(MAINTAINERS)
    (tmp / "patchlens.toml").write_text('[maintainers]\nfile = "MAINTAINERS"\n')
    cfg = load_config(str(tmp / "patchlens.toml"))
    engine = open_store(str(tmp / f"{name}.db"))
    quiet = Reporter(quiet=True)
    box = tmp / f"{name}.mbox"
    for i, mails in enumerate(steps):
        with box.open("a") as f:  # the list's archive grows, as a day's mail comes in
            f.write("".join(mails))
        if i == 0:
            ingest.add_list(engine, "frob", [str(box)])
        ingest.run_update(engine, tmp / f"{name}.cache", quiet)
        rep = run_stages(engine, cfg, tmp / f"{name}.cache", quiet)
        if redone is not None:
            redone.append(rep.metrics.series)
    return engine


def _metrics(engine) -> dict[str, dict]:
    """Every series' metrics row, by series."""
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("select * from series_metrics").mappings().fetchall()
    return {r["series_key"]: dict(r) for r in rows}


def _roles(engine, key: str) -> dict[str, str]:
    return json.loads(_metrics(engine)[key]["expected_roles"])


def test_a_maintainer_who_writes_later_is_the_person_named(tmp_path: Path) -> None:
    """Mara is named by an address she never writes from; her first message comes after
    Alice's series was computed. The update that brings it redoes the metrics resting on
    her entry: Alice's series then names the Mara who wrote, as a store built at once does,
    where it kept an identity of the unused address alone."""
    daily = _store(tmp_path, "daily", [[ALICE], [MARA]])
    once = _store(tmp_path, "once", [[ALICE, MARA]])
    assert _metrics(daily) == _metrics(once)
    assert _roles(daily, "a1@example.org") == {"addr:mara@new.example.org": "maintainer"}
    # Before Mara wrote, her entry was its address alone.
    first = _store(tmp_path, "first", [[ALICE]])
    assert _roles(first, "a1@example.org") == {"addr:mara@old.example.org": "maintainer"}


def test_only_the_series_naming_an_entry_are_redone(tmp_path: Path) -> None:
    """A maintainer's first message redoes the series that name their entry, not every
    series: Olga (widget/) writing redoes her own series only; Mara (frob/) writing redoes
    hers and the two frob series that name her."""
    olga: list[int] = []
    _store(tmp_path, "olga", [[ALICE, BOB], [OLGA]], olga)
    assert olga == [2, 1]
    mara: list[int] = []
    daily = _store(tmp_path, "mara", [[ALICE, BOB], [MARA]], mara)
    assert mara == [2, 3]
    once = _store(tmp_path, "mara-once", [[ALICE, BOB, MARA]])
    assert _metrics(daily) == _metrics(once)
    assert _roles(daily, "b1@example.org") == {"addr:mara@new.example.org": "maintainer"}


def test_a_removed_list_takes_its_senders_out_of_the_people_map(tmp_path: Path) -> None:
    """Mara wrote only to a list then removed: her entry is its address alone again, as in a
    store that never had that list. The people map kept beside the store was reused, as the
    newest message was not among those removed, and kept her."""
    (tmp_path / "MAINTAINERS").write_text(MAINTAINERS)
    (tmp_path / "patchlens.toml").write_text('[maintainers]\nfile = "MAINTAINERS"\n')
    cfg = load_config(str(tmp_path / "patchlens.toml"))
    engine = open_store(str(tmp_path / "removed.db"))
    quiet = Reporter(quiet=True)
    (tmp_path / "mara.mbox").write_text(MARA)
    (tmp_path / "frob.mbox").write_text(ALICE + BOB)
    ingest.add_list(engine, "mara", [str(tmp_path / "mara.mbox")])
    ingest.run_update(engine, tmp_path / "cache", quiet)
    ingest.add_list(engine, "frob", [str(tmp_path / "frob.mbox")])
    ingest.run_update(engine, tmp_path / "cache", quiet)
    run_stages(engine, cfg, tmp_path / "cache", quiet)
    assert _roles(engine, "a1@example.org") == {"addr:mara@new.example.org": "maintainer"}
    ingest.remove_list(engine, "mara")
    ingest.run_update(engine, tmp_path / "cache", quiet)
    run_stages(engine, cfg, tmp_path / "cache", quiet)
    once = _store(tmp_path, "once", [[ALICE, BOB]])
    assert _metrics(engine) == _metrics(once)
    assert _roles(engine, "a1@example.org") == {"addr:mara@old.example.org": "maintainer"}


def test_a_cc_to_an_entrys_address_asks_its_person(tmp_path: Path) -> None:
    """get_maintainer.pl prints MAINTAINERS' addresses into Cc:. A series Cc'ing Mara's
    entry address (from which she never wrote) on a file outside her section is in her
    queue as asked, and her review load counts it, once she has written under her name."""
    from patchlens.queries import load
    from patchlens.queries.queue import ASKED, queue_rows

    carl = _carl(cc="Mara Maintainer <mara@old.example.org>")
    engine = _store(tmp_path, "cc", [[ALICE, MARA, carl]])
    with engine.connect() as conn:
        mara = "addr:mara@new.example.org"
        rows = {r["series_key"]: r["reasons"] for r in queue_rows(conn, mara, RULES)}
        assert rows["c1@example.org"] == [ASKED]
        assert "c1@example.org" in load.candidate_keys(conn, mara, RULES)


def test_a_store_emptied_then_filled_again_groups_its_new_senders(tmp_path: Path) -> None:
    """Every message removed with its list, then new mail in another list (SQLite hands the
    removed ids out again): the people map grouped again on the empty store was not saved,
    so the old one (with the removed senders, and its mark past the new mail) was read back;
    the recipient keys' mark stayed past the new messages too, so a Cc: went unseen."""
    from patchlens.queries import load

    (tmp_path / "MAINTAINERS").write_text(MAINTAINERS)
    (tmp_path / "patchlens.toml").write_text('[maintainers]\nfile = "MAINTAINERS"\n')
    cfg = load_config(str(tmp_path / "patchlens.toml"))
    engine = open_store(str(tmp_path / "emptied.db"))
    quiet = Reporter(quiet=True)

    def update() -> None:
        ingest.run_update(engine, tmp_path / "cache", quiet)
        run_stages(engine, cfg, tmp_path / "cache", quiet)

    (tmp_path / "old.mbox").write_text(MARA + BOB)
    maildir = tmp_path / "new"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    ingest.add_list(engine, "old", [str(tmp_path / "old.mbox")])
    ingest.add_list(engine, "new", [str(maildir)])
    update()
    ingest.remove_list(engine, "old")
    update()
    carl = _carl(cc="Alice Archer <alice@example.org>")
    (maildir / "new" / "1").write_text(ALICE)
    (maildir / "new" / "2").write_text(carl)
    update()
    once = _store(tmp_path, "once", [[ALICE, carl]])
    assert _metrics(engine) == _metrics(once)
    assert _roles(engine, "a1@example.org") == {"addr:mara@old.example.org": "maintainer"}
    with engine.connect() as conn:
        assert "c1@example.org" in load.candidate_keys(conn, "addr:alice@example.org", RULES)


def test_an_address_under_two_names_is_one_person_everywhere(tmp_path: Path) -> None:
    """One MAINTAINERS address under two names, each someone who wrote: the series name the
    first name's person, and the pages find that same person by the address (they picked
    another by sorting the names)."""
    from patchlens.queries.queue import find_people

    shared = (
        "FROB DRIVER\nM:\tOlga Other <shared@old.example.org>\nS:\tMaintained\nF:\tfrob/\n\n"
        "WIDGET DRIVER\nM:\tMara Maintainer <shared@old.example.org>\nS:\tMaintained\n"
        "F:\twidget/\n"
    )
    (tmp_path / "MAINTAINERS").write_text(shared)
    (tmp_path / "patchlens.toml").write_text('[maintainers]\nfile = "MAINTAINERS"\n')
    cfg = load_config(str(tmp_path / "patchlens.toml"))
    engine = open_store(str(tmp_path / "shared.db"))
    (tmp_path / "all.mbox").write_text(MARA + OLGA + ALICE)
    ingest.add_list(engine, "frob", [str(tmp_path / "all.mbox")])
    ingest.run_update(engine, tmp_path / "cache", Reporter(quiet=True))
    run_stages(engine, cfg, tmp_path / "cache", Reporter(quiet=True))
    assert _roles(engine, "a1@example.org") == {"addr:olga@new.example.org": "maintainer"}
    with engine.connect() as conn:
        (found,) = find_people(conn, "shared@old.example.org")
    assert found["identity"] == "addr:olga@new.example.org"
