"""The version in force (the latest full version, or the first when every version is a
partial re-roll) is one rule: the series' stored title, its facts and the queues agree. A
chain of partial re-rolls only was named after its latest version in the series table and
after its first in the metrics (45 series of the million corpus)."""

from __future__ import annotations

import pytest

from patchlens.mail.subject import parse_subject
from patchlens.metrics.model import VersionFacts, current_version
from patchlens.review.model import Mail, Version, in_force
from patchlens.stages.review import Structure, structure_rows


def _version(key: str, title: str, date: int, partial: bool) -> Version:
    patch = Mail(
        date,
        key,
        parse_subject(f"[PATCH v5.{date} 3/7] {title}"),
        "A",
        "a@x",
        date,
        key,
        None,
        True,
        True,
    )
    return Version(
        key,
        "A",
        "a@x",
        "A",
        "a@x",
        5,
        f"5.{date}",
        False,
        False,
        False,
        False,
        partial,
        title,
        title,
        7,
        key,
        date,
        None,
        {3: patch},
    )


@pytest.mark.parametrize(
    ("partial", "at"),
    [
        ([False], 0),
        ([False, False], 1),
        ([False, True], 0),
        ([False, True, False, True, True], 2),
        ([True], 0),
        ([True, True], 0),
    ],
)
def test_in_force(partial: list[bool], at: int) -> None:
    assert in_force(partial) == at


def test_current_version_lays_the_partials_over_the_version_in_force() -> None:
    vs = [
        VersionFacts(f"v{i}", i, i, i, False, title=f"t{i}", partial=p)
        for i, p in enumerate([True, True], 1)
    ]
    assert current_version(vs).title == "t1"


def test_the_series_is_named_after_the_version_in_force() -> None:
    first = _version("a", "first title", 1, partial=True)
    second = _version("b", "second title", 2, partial=True)
    st = Structure({}, [first, second], [], {"a": ["a", "b"]}, [], first.members + second.members)
    (row,) = structure_rows(st, featured=set())["series"]
    assert row["title"] == "first title"
