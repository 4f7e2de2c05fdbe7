"""Linking's word counts resume from stored totals exactly (stages/linkwords.py).

An update relinks a person's versions from MAX_GAP before the first change on, starting from
the stored count of their title words instead of re-reading their whole history. These tests
check the two halves of that: a Linker seeded with totals holds the same common words as one
that counted every title, and the totals follow writes of series_versions (the end-to-end
equality is tests/test_incremental.py and tests/test_cold_batches.py)."""

from __future__ import annotations

from patchlens.identity.people import Identities
from patchlens.mail.subject import normalize_title
from patchlens.review.versions import Linker, title_tokens
from patchlens.stages.linkwords import Tally

TITLES = [
    "erofs: fix a use-after-free in z_erofs_decompress",
    "erofs: clean up z_erofs_pcluster",
    "erofs: fix an off-by-one in xattr handling",
    "erofs-utils: lib: fix compressed packed inodes",
    "erofs: simplify erofs_map_blocks",
    "erofs: avoid a divide by zero in fragment handling",
    "erofs-utils: mkfs: support the zstd algorithm",
    "erofs: fix up the compressed fragment handling",
]


def test_seeded_linker_holds_the_counted_common_words() -> None:
    people = Identities([("A", "a@example.com")])
    ident = people("A", "a@example.com")
    counted = Linker(people)
    tally = Tally()
    for n in range(1, len(TITLES) * 10 + 1):  # the limit rises past 3 at 80 versions
        title = TITLES[n % len(TITLES)]
        counted.count({ident}, title_tokens(normalize_title(title)))
        tally.add({ident}, title)
        seeded = Linker(people)
        words = {w: k for (i, w), k in tally.words.items() if i == ident}
        seeded.seed(ident, tally.people[ident], words)
        assert seeded.commons.get(ident, frozenset()) == counted.commons.get(ident, frozenset())
        assert seeded.df[ident] == counted.df[ident]
    assert "erofs" in counted.commons[ident]


def test_follow_takes_back_old_values() -> None:
    people = Identities([("A", "a@example.com"), ("B", "b@example.com")])
    row = {
        "key": "k1",
        "title": "erofs: fix the superblock",
        "author_name": "A",
        "author_addr": "a@example.com",
        "pull": False,
        "backport": False,
    }
    tally = Tally()
    tally.add_row(row, ("B", "b@example.com"), people)
    tally.add_row({**row, "title": "erofs: fix the inode"}, ("B", "b@example.com"), people, -1)
    a, b = people("A", "a@example.com"), people("B", "b@example.com")
    # The version still counts once for each person; only the words moved.
    assert tally.people == {a: 0, b: 0}
    assert tally.words[(a, "superblock")] == 1 and tally.words[(a, "inode")] == -1
    assert tally.words[(b, "erofs")] == 0
    pull = {**row, "pull": True}
    before = dict(tally.words)
    tally.add_row(pull, ("B", "b@example.com"), people)
    assert dict(tally.words) == before  # never linked, never counted
