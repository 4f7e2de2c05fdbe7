"""patchlens.mail.subject.title_similarity: the one title measure of the matcher and of
version linking (rapidfuzz's Indel since issue 11, difflib's ratio before).

The callers' thresholds (0.8 for another author's diff link, 0.75 for a similar version
title) were chosen with difflib. Indel is never lower on a pair, so a threshold keeps every
pair it kept and can only let more through: the property below is what makes that
argument, and bench/similarity.py counts the pairs that move on the real data.
"""

from __future__ import annotations

from difflib import SequenceMatcher

from hypothesis import given, settings
from hypothesis import strategies as st

from patchlens.mail.subject import title_similarity

TITLES = st.text(alphabet="abcdeflmnorstu :-_/()'", max_size=60)


def test_edges() -> None:
    assert title_similarity("", "erofs: fix") == 0.0
    assert title_similarity("erofs: fix", "") == 0.0
    assert title_similarity("erofs: fix x", "erofs: fix x") == 1.0
    assert title_similarity("erofs: fix x", "erofs: fix x", floor=0.99) == 1.0
    assert title_similarity("abc", "xyz") == 0.0


def test_value_is_indel() -> None:
    # 2·LCS/(|a|+|b|): "erofs-utils:fix x" and "erofs-utils:lib:fix x" share all 17 chars
    # of the shorter one, 2·17/(17+21).
    assert title_similarity("erofs-utils:fix x", "erofs-utils:lib:fix x") == 34 / 38
    # Where difflib's longest-substring search misses matches, Indel counts them (a pair the
    # matcher compares on EROFS: 0.178 apart, the most of all).
    a = "erofs-utils:mkfs:introduce`--fsalignblks`option"
    b = "erofs-utils:generate preallocated extents for tarerofs"
    assert title_similarity(a, b) > SequenceMatcher(None, a, b, autojunk=False).ratio() + 0.17


def test_floor() -> None:
    a, b = "erofs:add sysfs node to drop internal caches", "erofs:fix sysfs node"
    t = title_similarity(a, b)
    assert 0.0 < t < 0.75
    assert title_similarity(a, b, floor=0.75) == 0.0
    assert title_similarity(a, b, floor=t - 0.01) == t


@settings(max_examples=300, deadline=None)
@given(TITLES, TITLES)
def test_never_below_difflib_and_symmetric(a: str, b: str) -> None:
    t = title_similarity(a, b)
    assert 0.0 <= t <= 1.0
    assert abs(t - title_similarity(b, a)) < 1e-9
    if a and b:
        assert t >= SequenceMatcher(None, a, b, autojunk=False).ratio() - 1e-9
