"""A reply whose mail program kept the cover letter's subject without "Re:" (Outlook's
"[PATCH v6 0/7] Add ASPEED PCIe Root Complex support", answering a review of that very
version on linux-pci) is a reply, not a version of the series with no patches: the audit
found 85 such versions in the million corpus, one of them the series' "latest"."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, select

from patchlens.store import schema
from tests.test_review_incremental import PATCH, _build, _by_message_id


def _mail(mid: str, subject: str, body: str, minute: int, sender: str, irt: str | None = None):
    head = (
        f"From: {sender}\nSubject: {subject}\nMessage-ID: <{mid}>\n"
        f"Date: Mon, 1 Dec 2025 10:{minute:02d}:00 +0000\n"
    )
    if irt:
        head += f"In-Reply-To: <{irt}>\nReferences: <{irt}>\n"
    return f"{head}\n{body}".encode()


JACKY, ROB = "Jacky Chou <jacky@example.com>", "Rob H <rob@example.org>"
V6 = [
    _mail("c6@x", "[PATCH v6 0/2] Add PCIe RC support", "The cover.\n", 0, JACKY),
    _mail("p1@x", "[PATCH v6 1/2] dt-bindings: add", PATCH, 1, JACKY, "c6@x"),
    _mail("p2@x", "[PATCH v6 2/2] PCI: add", PATCH, 2, JACKY, "c6@x"),
]
TALK = [
    _mail(
        "r@x", "Re: [PATCH v6 0/2] Add PCIe RC support", "> x\nWhy this?\n\nRob\n", 10, ROB, "c6@x"
    ),
    _mail(
        "k@x",
        "[PATCH v6 0/2] Add PCIe RC support",
        "Hi Rob,\n\n> Why this?\n\nBecause the hardware needs it.\n\nThanks,\nJacky\n",
        20,
        JACKY,
        "r@x",
    ),
]


def test_a_reply_that_kept_the_cover_subject_is_a_reply(tmp_path: Path) -> None:
    db, _ = _build(tmp_path / "a", [V6, TALK])
    engine = create_engine(f"sqlite:///{db}")
    sv, rp, m = schema.series_versions, schema.replies, schema.messages
    with engine.connect() as conn:
        versions = [k for (k,) in conn.execute(select(sv.c.key))]
        replies = dict(
            conn.execute(
                select(m.c.message_id, rp.c.version_key).join(m, m.c.id == rp.c.message_pk)
            ).all()
        )
    engine.dispose()
    assert versions == ["c6@x"]
    assert replies == {"r@x": "c6@x", "k@x": "c6@x"}
    once, _ = _build(tmp_path / "b", [V6 + TALK])
    a, b = _by_message_id(db), _by_message_id(once)
    for table in ("series_versions", "version_members", "replies"):
        assert a[table] == b[table], table


def test_a_new_cover_in_reply_to_the_old_one_stays_a_cover(tmp_path: Path) -> None:
    """The same version number again, a cover of its own title in reply to the first cover,
    its patch under it (linux-bluetooth's "[PATCH Bluez 0/1] Commit message fixup"): a new
    posting, the second version of the series."""
    first = [
        _mail("f0@x", "[PATCH Bluez 0/1] advertising: fix the timeout", "Cover.\n", 0, JACKY),
        _mail("f1@x", "[PATCH Bluez 1/1] advertising: fix the timeout", PATCH, 1, JACKY, "f0@x"),
    ]
    again = [
        _mail("g0@x", "[PATCH Bluez 0/1] Commit message fixup", "Fixed.\n", 30, JACKY, "f0@x"),
        _mail("g1@x", "[PATCH Bluez 1/1] advertising: fix the timeout", PATCH, 31, JACKY, "g0@x"),
    ]
    db, _ = _build(tmp_path / "a", [first + again])
    engine = create_engine(f"sqlite:///{db}")
    sv = schema.series_versions
    with engine.connect() as conn:
        keys = sorted(conn.execute(select(sv.c.key)).scalars())
    engine.dispose()
    assert keys == ["f0@x", "g0@x"]


def test_a_new_cover_with_an_unnumbered_patch_under_it_stays_a_cover(tmp_path: Path) -> None:
    """'[PATCH v2 0/1]' sent again in reply to itself with '[PATCH v2]' (no number) under it:
    a cover with its patch, not a reply (the review helper's case)."""
    sent = [
        _mail("u0@x", "[PATCH v2 0/1] usb: fix", "Cover.\n", 0, JACKY),
        _mail("u1@x", "[PATCH v2 1/1] usb: fix", PATCH, 0, JACKY, "u0@x"),
        _mail("w0@x", "[PATCH v2 0/1] usb: fix", "Again.\n", 30, JACKY, "u0@x"),
        _mail("w1@x", "[PATCH v2] usb: fix", PATCH, 31, JACKY, "w0@x"),
    ]
    db, _ = _build(tmp_path / "a", [sent])
    engine = create_engine(f"sqlite:///{db}")
    rp, m = schema.replies, schema.messages
    with engine.connect() as conn:
        replies = set(
            conn.execute(select(m.c.message_id).join(rp, rp.c.message_pk == m.c.id)).scalars()
        )
    engine.dispose()
    assert "w0@x" not in replies


def test_a_cover_sent_after_its_patches_is_still_their_cover(tmp_path: Path) -> None:
    """Threaded backwards (the patches first, the cover in reply to the last one): no cover
    of that version above it, so it is the version's cover."""
    backwards = [
        _mail("b1@x", "[PATCH v2 1/2] usb: one", PATCH, 0, JACKY),
        _mail("b2@x", "[PATCH v2 2/2] usb: two", PATCH, 1, JACKY, "b1@x"),
        _mail("b0@x", "[PATCH v2 0/2] usb: things", "The cover.\n", 2, JACKY, "b2@x"),
    ]
    db, _ = _build(tmp_path / "a", [backwards])
    engine = create_engine(f"sqlite:///{db}")
    vm, m = schema.version_members, schema.messages
    with engine.connect() as conn:
        members = set(
            conn.execute(select(m.c.message_id).join(vm, vm.c.message_pk == m.c.id)).scalars()
        )
    engine.dispose()
    assert members == {"b0@x", "b1@x", "b2@x"}


def test_a_cover_threaded_backwards_is_the_cover_of_its_patches(tmp_path: Path) -> None:
    """Patch 3/3 the root, 2/3, 1/3 and the cover 0/3 each in reply to it, sent in that
    order (the Etron xHCI series on linux-usb): one version, keyed and named by its cover,
    not three patches beside a cover letter of no patch."""
    root = "e3@x"
    posting = [
        _mail(root, "[PATCH 3/3] xhci: three", PATCH, 0, JACKY),
        _mail("e2@x", "[PATCH 2/3] xhci: two", PATCH, 0, JACKY, root),
        _mail("e1@x", "[PATCH 1/3] xhci: one", PATCH, 1, JACKY, root),
        _mail("e0@x", "[PATCH 0/3] xhci: Etron fixes", "The cover.\n", 1, JACKY, root),
    ]
    db, _ = _build(tmp_path / "a", [posting])
    engine = create_engine(f"sqlite:///{db}")
    sv = schema.series_versions
    with engine.connect() as conn:
        rows = conn.execute(select(sv.c.key, sv.c.title, sv.c.n_patches)).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [("e0@x", "xhci: Etron fixes", 3)]
