"""The author's changelog notes (review/changelog.py) on real mail: the Xen and QEMU sample
threads (values written from the mails), the EROFS 2024 archive (every posting with a
"Changes since/in vN" line gets its notes), and shapes that are not changelogs."""

from __future__ import annotations

import gzip
import mailbox
import re
from email import policy
from email.parser import BytesParser

from patchlens.review.changelog import changelog
from patchlens.review.model import notes
from patchlens.sources.mbox import iter_mbox
from tests.conftest import data_path


def _bodies(name: str) -> dict[str, str]:
    """Subject -> body of each message of a sample mailbox."""
    out = {}
    for msg in mailbox.mbox(str(data_path("xen-qemu-samples", name))):
        payload = msg.get_payload(decode=True)
        if payload:
            out[" ".join(str(msg["subject"]).split())] = payload.decode("utf-8", "replace")
    return out


def test_xen_cover_letter_with_two_notes():
    bodies = _bodies("xen-xenstore-get-spec-node.mbox")
    cover = next(b for s, b in bodies.items() if s.startswith("[PATCH v3 0/2]"))
    got = [(n.header, list(n.lines)) for n in changelog(cover)]
    assert got == [
        ("Changes in V3", ["- add get_strings() conversion to const in patch 1"]),
        ("Changes in V2", ["- add patch 1, avoiding the need to cast const away in patch 2"]),
    ]


def test_xen_patch_notes_below_the_separator():
    bodies = _bodies("xen-xenstore-get-spec-node.mbox")
    patch = next(b for s, b in bodies.items() if s.startswith("[PATCH v3 1/2]"))
    got = [(n.header, list(n.lines)) for n in changelog(patch)]
    assert got == [
        ("V2", ["- new patch (Julien Grall)"]),
        ("V3", ["- add get_strings() conversion to take const pointer (Julien Grall)"]),
    ]


def test_qemu_and_xen_short_version_headers():
    qemu = _bodies("qemu-functional-decorators.mbox")
    cover = next(b for s, b in qemu.items() if s.startswith("[PATCH v2 0/2]"))
    assert [(n.header, len(n.lines)) for n in changelog(cover)] == [("v2", 2)]
    xen = _bodies("xen-remove-dead-code.mbox")
    cover = next(b for s, b in xen.items() if s.startswith("[PATCH v2 0/2]"))
    assert [list(n.lines) for n in changelog(cover)] == [
        ["* addresse feedback of Jan Beulich on expr.c"]
    ]


def test_b4_notes_stop_at_the_footer():
    body = (
        "Fix the thing.\n\nSigned-off-by: A <a@example.org>\n---\n"
        "Changes in v2:\n- Reworded the subject.\n"
        "- Link to v1: https://lore.kernel.org/r/1@example.org\n---\n"
        " a.c | 1 +\n 1 file changed, 1 insertion(+)\n"
    )
    assert [(n.header, list(n.lines)) for n in changelog(body)] == [
        (
            "Changes in v2",
            ["- Reworded the subject.", "- Link to v1: https://lore.kernel.org/r/1@example.org"],
        )
    ]


def test_what_is_not_a_changelog():
    assert changelog("The changes since v2 are small.\n") == []
    assert changelog("> Changes since v1:\n> - quoted from someone else\n") == []
    assert changelog('Note: nothing here.\nFixes: 1234 ("x")\n') == []
    # A note ends at the shortlog and the diffstat.
    body = "v2:\n- one\n\nAda Alder (2):\n  lib: a\n\n lib/a.c | 1 +\n"
    assert [list(n.lines) for n in changelog(body)] == [["- one"]]


_CHANGES = re.compile(r"(?im)^\s*changes\s+(?:since|in|from)\s+v\d+\s*:\s*$")


def test_erofs_2024_postings_with_changes_lines_get_notes():
    """Every 2024 EROFS posting (a [PATCH] that is no reply) whose text has a line
    "Changes since vN:" / "Changes in vN:" yields notes with at least one item, and the
    header names that version."""
    seen = found = 0
    with gzip.open(data_path("erofs", "erofs-2024.mbox.gz"), "rb") as f:
        for _s, _e, raw, _d in iter_mbox(f):
            msg = BytesParser(policy=policy.default).parsebytes(raw)
            subject = str(msg.get("subject", ""))
            if "PATCH" not in subject or subject.lower().startswith("re:"):
                continue
            part = msg.get_body(preferencelist=("plain",))
            text = part.get_content() if part is not None else ""
            text = text.split("\ndiff --git ", 1)[0]
            wanted = _CHANGES.findall(text)
            if not wanted:
                continue
            seen += 1
            got = changelog(text)
            headers = {" ".join(n.header.lower().split()) for n in got}
            if all(n.lines for n in got) and all(
                " ".join(w.strip().rstrip(":").lower().split()) in headers for w in wanted
            ):
                found += 1
    assert seen >= 25  # 29 in the 2024 archive
    assert found == seen, (found, seen)


def test_notes_of_a_patch_are_found_in_its_text_below_the_separator():
    body = "Subject line body.\n\nSigned-off-by: A <a@example.org>\n---\nv3: rebased\n"
    assert notes(body).strip() == "v3: rebased"
    assert [(n.header, list(n.lines)) for n in changelog(body)] == [("v3", ["rebased"])]
