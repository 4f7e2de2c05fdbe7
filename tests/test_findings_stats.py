"""The pure statistics of findings (metrics/bootstrap.py, metrics/findings.py): the shortcut
resamplers draw what plain resampling draws, intervals repeat, and a finding is withheld with
its reason when a group is too small. No store needed."""

from __future__ import annotations

import math
import random

import pytest

from patchlens.metrics import bootstrap as bs
from patchlens.metrics import findings as fm


def _quantiles(xs: list[float], qs=(0.025, 0.25, 0.5, 0.75, 0.975)) -> list[float]:
    s = sorted(xs)
    return [s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))] for q in qs]


def _plain_medians(xs: list[float], rng: random.Random, count: int) -> list[float]:
    """The textbook way: build each resample, sort it, take its nearest-rank median."""
    out = []
    for _ in range(count):
        r = sorted(rng.choices(xs, k=len(xs)))
        out.append(r[math.ceil(len(r) / 2) - 1])
    return out


@pytest.mark.parametrize("n", [7, 40, 301])
def test_resampled_medians_have_the_distribution_of_plain_resampling(n):
    gen = random.Random(n)
    xs = [round(gen.lognormvariate(3, 1.5), 2) for _ in range(n)]
    s = sorted(xs)
    fast = bs.resampled_medians(xs, random.Random(1), 20000)
    plain = _plain_medians(xs, random.Random(2), 20000)
    # Compare as ranks in the sorted sample: the quantiles of both agree within a rank or two.
    for qf, qp in zip(_quantiles(fast), _quantiles(plain), strict=True):
        assert abs(s.index(qf) - s.index(qp)) <= max(1, n // 50), (n, qf, qp)
    assert set(fast) <= set(xs)


def test_resampled_shares_have_the_binomial_mean_and_spread():
    flags = [1.0] * 30 + [0.0] * 70
    shares = bs.resampled_shares(flags, random.Random(3), 20000)
    mean = sum(shares) / len(shares)
    var = sum((s - mean) ** 2 for s in shares) / len(shares)
    assert abs(mean - 0.3) < 0.005
    assert abs(var - 0.3 * 0.7 / 100) < 0.0003
    assert bs.resampled_shares([1.0] * 12, random.Random(3), 50) == [1.0] * 50
    assert bs.resampled_shares([0.0] * 12, random.Random(3), 50) == [0.0] * 50


def test_intervals_repeat_and_contain_the_effect():
    gen = random.Random(5)
    a = [gen.expovariate(1 / 10) for _ in range(80)]
    b = [gen.expovariate(1 / 30) for _ in range(60)]
    one = bs.ratio_interval(a, b, "x")
    assert one == bs.ratio_interval(a, b, "x")  # the same seed: the same page
    assert one is not None and one.low <= one.value <= one.high
    assert one.value == pytest.approx(bs.median(b) / bs.median(a))
    assert one.resamples == bs.RESAMPLES and one.level == 0.95
    assert one.low > 1  # three times as long, on 60 and 80 draws: clearly longer
    other = bs.ratio_interval(a, b, "y")
    assert other is not None and other != one  # another finding, another stream
    # A zero median has no ratio.
    assert bs.ratio_interval([0.0] * 20, b, "z") is None
    d = bs.share_interval([1.0] * 10 + [0.0] * 90, [1.0] * 50 + [0.0] * 50, "s")
    assert d is not None and d.value == pytest.approx(0.4)
    assert 0.25 < d.low < 0.4 < d.high < 0.55


def _row(key: str, patches: int, ttm: float | None, **kw) -> dict:
    return {
        "series_key": key,
        "patches": patches,
        "lines_added": patches * 10,
        "lines_removed": 0,
        "files_changed": patches,
        "time_to_merge": ttm,
        "time_to_first_response": 1.0,
        "has_reviewer_reply": True,
        "new_contributor": kw.get("new", False),
        "org": kw.get("org", "Example"),
        "subsystems": [],
        "state": kw.get("state", "merged" if ttm is not None else "new"),
    }


def test_a_series_without_a_diff_is_not_considered_where_commits_show_merges():
    """As the merge rate's base (metrics/backlog.py merge_rate): a question or a cover letter
    alone has no diff, so no commit can show its merge (`repo_registered` false) and it
    is not considered, unless merged; in a store without a repository every series is."""
    with_diff = [dict(_row(f"s{i}", 1, 5.0 + i), repo_registered=True) for i in range(12)]
    question = dict(_row("q", 0, None, state="unknown"), repo_registered=False, merged="none")
    noticed = dict(_row("n", 0, 3.0), repo_registered=False, merged="fully", merged_by="notice")
    seen = {r["series_key"] for r in fm.considered([*with_diff, question, noticed])}
    assert "q" not in seen and "n" in seen and len(seen) == 13
    alone = [dict(r, repo_registered=False) for r in (*with_diff, question)]
    assert len(fm.considered(alone)) == 13
    cut, groups = fm.size_split([*with_diff, question], "size-patches")
    assert cut == 1 and "q" not in {r["series_key"] for r in groups["small"]}


def test_size_split_groups_and_withholding():
    rows = [_row(f"s{i}", 1, 5.0 + i) for i in range(30)]
    rows += [_row(f"l{i}", 4, 50.0 + i) for i in range(4)]
    rows += [_row(f"o{i}", 9, None, state="other tree") for i in range(20)]  # not considered
    cut, groups = fm.size_split(rows, "size-patches")
    assert cut == 1 and len(groups["small"]) == 30 and len(groups["large"]) == 4
    x = fm.size_finding(rows, "size-patches")
    assert x["effect"] is None
    assert x["withheld"] == "only 4 merged series for series of more than 1 patch; need 10"
    rows += [_row(f"m{i}", 3, 60.0 + i) for i in range(8)]
    x = fm.size_finding(rows, "size-patches")
    assert x["withheld"] is None and x["stands_on"] == 42
    assert x["effect"]["value"] == pytest.approx(
        61.0 / 19.0
    )  # nearest-rank medians: 15th of 30, 6th of 12
    assert "as long to merge" in x["sentence"] and "above 1" in x["sentence"]
    # Every series of one size: no split.
    same = [_row(f"s{i}", 2, 5.0) for i in range(30)]
    assert fm.size_finding(same, "size-patches")["withheld"].startswith("every series has")


def test_groupings_withhold_with_the_largest_group_named():
    rows = [_row(f"a{i}", 1, 5.0, org="Alpha") for i in range(6)]
    rows += [_row(f"b{i}", 1, 9.0, org="Beta") for i in range(3)]
    (x,) = fm.grouping_findings(rows, "org")
    assert x["withheld"] == (
        "no organisation has 10 merged series in the selection (the most: Alpha, 6); need 10"
    )
    # Free-mail and personal domains are no organisation: never compared, never "the most".
    unknown = rows + [_row(f"u{i}", 1, 7.0, org="(unknown)") for i in range(12)]
    (u,) = fm.grouping_findings(unknown, "org")
    assert u["withheld"] is not None and "(the most: Alpha, 6)" in u["withheld"]
    assert u["question"] == "Does an organisation wait longer for a merge than the others?"
    (only,) = fm.grouping_findings(unknown[-12:], "org")
    assert only["withheld"] == "no organisation is known for the 12 merged series of the selection"
    assert only["stands_on"] == 12
    (s,) = fm.grouping_findings(rows, "subsystem")
    assert s["withheld"] == "no subsystem is known: no MAINTAINERS file is configured"
    # A MAINTAINERS file, but no series of a subsystem merged: says so, not "no file".
    unmerged = [{**_row(f"x{i}", 1, 5.0), "time_to_merge": None} for i in range(5)]
    for r in unmerged:
        r["subsystems"] = ["X86 ARCHITECTURE"]
    for known in (True, None):
        (s,) = fm.grouping_findings(unmerged, "subsystem", maintainers=known)
        assert (
            s["withheld"] == "no series of a subsystem was merged in the selection (5 are in one)"
        )
    (s,) = fm.grouping_findings(rows, "subsystem", maintainers=True)
    assert s["withheld"] == "no series of the selection is in a subsystem"
    assert fm.groups_of("org:Alpha", rows, [], [])["members"] == rows[:6]
    assert fm.groups_of("nonsense", rows, [], []) is None
