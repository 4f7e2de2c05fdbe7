"""The first dates of a few authors, read by their addresses (`first_dates_of`, what a day's
metrics use), equal those of reading every series (`first_dates`), on real stores: the
new-contributor flag of a series depends on its author's first date, and an update reads only
the owed series' authors."""

from __future__ import annotations

import random

import pytest

from patchlens.config import Config, load_config
from patchlens.queries.evidence import first_dates, first_dates_of
from patchlens.stages.context import build_context


def _check(conn, people) -> None:
    every = first_dates(conn, people)
    assert len(every) > 50
    rng = random.Random(7)
    idents = sorted(every)
    for size in (1, 5, 40, len(idents)):
        some = set(rng.sample(idents, size))
        assert first_dates_of(conn, people, some) == {k: every[k] for k in some}
    # Someone who wrote no series has no first date (and is not an error).
    assert first_dates_of(conn, people, {"addr:nobody@example.invalid"}) == {}


def test_first_dates_of_erofs(erofs_store) -> None:
    db, engine, _ = erofs_store
    with engine.connect() as conn:
        _check(conn, build_context(conn, Config(), db.with_name("cache")).people)


@pytest.mark.slow
def test_first_dates_of_xen(xen_store) -> None:
    tmp, _db, engine = xen_store
    with engine.connect() as conn:
        cfg = load_config(str(tmp / "patchlens.toml"))
        _check(conn, build_context(conn, cfg, tmp / "cache").people)
