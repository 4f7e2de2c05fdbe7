"""Review given and contributions received summed over a selection by vector operations on
the per-series sums kept per data version (queries/community.py) equal the database's sums
by chunks of series keys, and plain counts of the stored series."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select

from patchlens.queries import community
from patchlens.store import schema


def _selections(conn) -> dict[str, set[str]]:
    sm = schema.series_metrics
    rows = conn.execute(select(sm.c.series_key, sm.c.org)).all()
    keys = sorted(k for k, _ in rows)
    return {
        "all": set(keys),
        "every other": set(keys[::2]),
        "Huawei": {k for k, org in rows if org == "Huawei"},
        "none": set(),
    }


@pytest.mark.parametrize("name", ["all", "every other", "Huawei", "none"])
def test_sums_over_arrays_equal_the_database_and_plain_counts(erofs_store, monkeypatch, name):
    _db, engine, _ = erofs_store
    sm = schema.series_metrics
    with engine.connect() as conn:
        series = _selections(conn)[name]
        monkeypatch.setattr(community, "BY_KEY_LIMIT", -1)  # every selection by the arrays
        arrays = community.review_balance(conn, top=None, series=series)
        monkeypatch.setattr(community, "BY_KEY_LIMIT", 10**9)  # every one by SQL chunks
        by_sql = community.review_balance(conn, top=None, series=series)
        stored = conn.execute(
            select(sm.c.series_key, sm.c.author, sm.c.patches, sm.c.review_replies)
        ).all()
        bots = set(
            conn.execute(select(schema.people.c.identity).where(schema.people.c.is_bot)).scalars()
        )
        reviewers = community.reviewers_among(conn, series)
    assert arrays == by_sql
    mine = [r for r in stored if r.series_key in series and r.author not in bots]
    authored = Counter(r.author for r in mine)
    got = {p["identity"]: p for p in arrays["people"] if p["series_authored"]}
    assert {w: p["series_authored"] for w, p in got.items()} == dict(authored)
    for who, p in got.items():
        assert p["patches_authored"] == sum(r.patches for r in mine if r.author == who)
        assert p["replies_received"] == sum(r.review_replies for r in mine if r.author == who)
    assert {p["identity"] for p in arrays["reviewers"]} <= reviewers
    if name == "all":
        assert arrays["reviewers_total"] > 20 and arrays["contributors_total"] > 20
    if name == "none":
        assert arrays["reviewers_total"] == 0 and not reviewers


def test_a_person_is_a_bot_only_when_all_they_sent_is_a_bots() -> None:
    """A human who once sent a robot's report from their own address stays a person, so that
    the community page (which leaves bots out) counts their reviews as the series do: on
    linux-iio, Rong Chen's one review reply was in the series' 28,359 and not in the
    community page's 28,358."""
    from patchlens.identity.bots import BotMatcher
    from patchlens.identity.people import Identities
    from patchlens.stages.metrics import identity_rows

    sent = [
        ("kernel test robot", "rong.a.chen@intel.com", 1_600_000_000),
        ("Rong Chen", "rong.a.chen@intel.com", 1_600_100_000),
        ("kernel test robot", "lkp@intel.com", 1_600_000_000),
    ]
    people = Identities([(n, a) for n, a, _d in sent])
    rows = identity_rows(sent, people, lambda _addr, _date: "", BotMatcher())
    assert {r["address"]: r["is_bot"] for r in rows} == {
        "rong.a.chen@intel.com": False,
        "lkp@intel.com": True,
    }


def test_review_given_adds_up_to_the_series_review_replies(erofs_store) -> None:
    """Over all series, the community page's review replies are the series' own."""
    _db, engine, _ = erofs_store
    sm = schema.series_metrics
    with engine.connect() as conn:
        balance = community.review_balance(conn, top=None)
        total = sum(conn.execute(select(sm.c.review_replies)).scalars())
    assert balance["review_replies"] == total > 1000
