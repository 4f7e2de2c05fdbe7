"""A "[PATCH vN]" (N >= 2) that nothing earlier claims follows the author's one open earlier
version of a lower number (review/versions.py `Linker._renumbered`): a rework re-titled
after review shares neither title nor diff with its v1, and the v1 read "abandoned" although
its work went in as the v2 (LTP: 11 of a sample of 40 abandoned series). Two candidates, no
file or no uncommon title word in common, a gap over 120 days: no link."""

from __future__ import annotations

from patchlens.mail.subject import parse_subject
from patchlens.review.model import Mail
from patchlens.review.series import group_versions
from patchlens.review.versions import RENUMBERED_GAP, chains, link_versions

DAY = 86400


def _posting(mid: str, subject: str, day: float, files: tuple[str, ...], who: str = "a") -> Mail:
    return Mail(
        pk=abs(hash(mid)) % 10**9,
        message_id=mid,
        subject=parse_subject(subject),
        from_name=who.upper() + " Person",
        from_addr=f"{who}@example.org",
        date=1_700_000_000 + int(day * DAY),
        thread=mid,
        parent=None,
        has_patch=True,
        is_posting=True,
        files=files,
    )


V1 = ("v1@t", "[PATCH] syscalls/signal06: add volatile to loop variable", 0)
V2 = ("v2@t", "[PATCH v2] syscalls/signal06: loop being clobbered by syscall on clang", 38)
FILE = ("testcases/kernel/syscalls/signal/signal06.c",)


def _series(*mails: Mail) -> list[list[str]]:
    versions = group_versions(list(mails))
    return sorted(chains(versions, link_versions(versions)).values())


def test_a_reworked_v2_under_a_new_title_follows_its_v1() -> None:
    assert _series(_posting(*V1, FILE), _posting(*V2, FILE)) == [["v1@t", "v2@t"]]
    versions = group_versions([_posting(*V1, FILE), _posting(*V2, FILE)])
    (link,) = link_versions(versions)
    assert link.evidence == {"renumbered": 1.0}


def test_no_link_without_a_file_a_word_or_within_the_gap() -> None:
    other = ("testcases/kernel/syscalls/signal/signal07.c",)
    assert _series(_posting(*V1, FILE), _posting(*V2, other)) == [["v1@t"], ["v2@t"]]
    late = (V2[0], V2[1], RENUMBERED_GAP / DAY + 1)
    assert _series(_posting(*V1, FILE), _posting(*late, FILE)) == [["v1@t"], ["v2@t"]]
    # No title word in common.
    v2 = ("v2@t", "[PATCH v2] lib: clobbered counter under clang", 38)
    assert _series(_posting(*V1, FILE), _posting(*v2, FILE)) == [["v1@t"], ["v2@t"]]
    # Someone else's v2.
    assert _series(_posting(*V1, FILE), _posting(*V2, FILE, who="b")) == [["v1@t"], ["v2@t"]]
    # An unnumbered patch after it is no version of it.
    v1b = ("v1b@t", "[PATCH] syscalls/signal06: loop being clobbered by syscall", 38)
    assert _series(_posting(*V1, FILE), _posting(*v1b, FILE)) == [["v1@t"], ["v1b@t"]]


def test_two_open_candidates_link_neither() -> None:
    # Over 30 days apart, so that w1's next version is not v2 by its number alone.
    other = ("w1@t", "[PATCH] syscalls/signal06: print the count", 5)
    v2 = (V2[0], V2[1], 50)
    assert _series(_posting(*V1, FILE), _posting(*other, FILE), _posting(*v2, FILE)) == [
        ["v1@t"],
        ["v2@t"],
        ["w1@t"],
    ]


def test_a_filler_word_in_common_is_not_enough() -> None:
    """A word seldom used by someone with few postings may still say nothing ("from", or a
    long verb): the shared word must name something (a digit, an underscore, or a part of
    the name of a file both touch)."""
    v6 = ("a6@t", "[PATCH v6] mm: Stop read optimisation when folio removed from filemap", 0)
    both = ("mm/filemap.c",)
    for title in (
        "[PATCH v20] splice: Make splice from a DAX file use direct read",
        "[PATCH v20] mm: another optimisation of reads",
    ):
        later = _posting("b20@t", title, 30, both)
        assert _series(_posting(*v6, both), later) == [["a6@t"], ["b20@t"]]
    named = _posting("b20@t", "[PATCH v20] mm: filemap: keep reading ahead", 30, both)
    assert _series(_posting(*v6, both), named) == [["a6@t", "b20@t"]]
