"""Metrics that cost what is new (issue 11): an incremental run equals the full computation.

Each case takes a copy of the EROFS store, changes what the steps before metrics would have
changed (or damages the metrics rows of what it then owes), runs the metrics step on what it
is owed, and compares every metrics table with a full recomputation of the same store. The
cases aim at what crosses series, where a naive "redo the owed series" goes wrong: an author's
first series (new-contributor flags of series nobody owes), paths a new commit brings into a
repository (in_repo of series nobody owes), a new MAINTAINERS version, and people recounted
from their messages alone.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, delete, func, insert, select, update

from patchlens.config import Config
from patchlens.metrics.model import SeriesFacts
from patchlens.queries.evidence import load_series
from patchlens.stages import changes
from patchlens.stages.context import Context, build_context
from patchlens.stages.match import _series_of
from patchlens.stages.metrics import COMMITS_MARK, MetricsReport, run_metrics
from patchlens.stages.pipeline import maintainers_dates, subsystems_for
from patchlens.stages.progress import Reporter
from patchlens.store import schema
from patchlens.store.db import open_store
from tests.conftest import copy_store

pytestmark = pytest.mark.slow

TABLES = ("series_metrics", "pull_requests", "review_events", "people", "subsystems")
QUIET = Reporter(quiet=True)


@pytest.fixture(scope="module")
def erofs(erofs_store, tmp_path_factory):
    """A maker of private copies of the EROFS store, and its context (identities, orgs)."""
    db, engine, _ = erofs_store
    with engine.connect() as conn:
        ctx = build_context(conn, Config(), db.with_name("cache"))

    def copy(name: str) -> Engine:
        dest = copy_store(db, tmp_path_factory.mktemp(name) / "s.db")
        return open_store(str(dest))

    return copy, ctx


def _run(
    engine: Engine,
    ctx: Context,
    work: changes.Work | None = None,
    subsystems_of: Any = None,
    dates: list[int] | None = None,
    now: int | None = None,
) -> MetricsReport:
    if work:
        with engine.begin() as conn:
            changes.owe(conn, changes.METRICS, work)
    return run_metrics(
        engine,
        QUIET,
        ctx.orgs.org,
        subsystems_of or subsystems_for(ctx),
        now=now,
        people=ctx.people,
        is_bot=ctx.is_bot,
        sections=[],
        maintainers_dates=maintainers_dates(ctx) if dates is None else dates,
    )


def _tables(engine: Engine) -> dict[str, list[tuple]]:
    out = {}
    with engine.connect() as conn:
        for name in TABLES:
            t = schema.metadata.tables[name]
            out[name] = [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key))]
    return out


def _equals_full(engine: Engine, ctx: Context, **kw: Any) -> dict[str, list[tuple]]:
    """The metrics tables now, after checking they equal a full recomputation."""
    got = _tables(engine)
    rep = _run(engine, ctx, changes.Work(full=True), **kw)
    want = _tables(engine)
    for name in TABLES:
        diff = set(got[name]) ^ set(want[name])
        assert not diff, f"{name}: {len(diff)} rows differ, e.g. {sorted(diff, key=str)[:4]}"
    assert rep.changed_rows == 0
    return got


def _series(engine: Engine, ctx: Context) -> list[SeriesFacts]:
    with engine.connect() as conn:
        return load_series(conn, ctx.people)


def test_loading_some_series_equals_loading_all_then_filtering(erofs_store, erofs) -> None:
    _, engine, _ = erofs_store
    _, ctx = erofs
    with engine.connect() as conn:
        every = {se.key: se for se in load_series(conn, ctx.people)}
        keys = [*sorted(every)[::17], "<no-such-series@example.org>"]
        some = load_series(conn, ctx.people, keys)
    assert len(some) == len(keys) - 1 > 20
    assert {se.key: se for se in some} == {k: every[k] for k in keys if k in every}
    # The flag that crosses series is decided over all of them, not over the loaded ones.
    assert any(not se.new_contributor for se in some)


def test_nothing_owed_redoes_nothing(erofs) -> None:
    copy, ctx = erofs
    engine = copy("nothing")
    before = _tables(engine)
    rep = _run(engine, ctx)
    assert (rep.series, rep.changed_rows) == (0, 0)
    assert _tables(engine) == before


def test_owed_series_and_messages_are_redone_exactly(erofs) -> None:
    """The rows of the owed series and of the senders of the owed messages, damaged, come back
    as a full run gives them; a gone series' rows are removed."""
    copy, ctx = erofs
    engine = copy("owed")
    want = _tables(engine)
    sm, pr, ev, pe, m = (
        schema.series_metrics,
        schema.pull_requests,
        schema.review_events,
        schema.people,
        schema.messages,
    )
    with engine.begin() as conn:
        keys = [k for (k,) in conn.execute(select(sm.c.series_key).order_by(sm.c.series_key))]
        damaged = keys[::40]
        pulls = [k for (k,) in conn.execute(select(pr.c.series_key))][:3]
        conn.execute(delete(sm).where(sm.c.series_key.in_(damaged[::2])))
        conn.execute(update(sm).where(sm.c.series_key.in_(damaged[1::2])).values(reviews=-1))
        conn.execute(delete(ev).where(ev.c.series_key.in_(damaged)))
        conn.execute(delete(pr).where(pr.c.series_key.in_(pulls)))
        msgs = [pk for (pk,) in conn.execute(select(m.c.id).order_by(m.c.id.desc()).limit(60))]
        senders = {
            ctx.people(n, a)
            for n, a in conn.execute(select(m.c.from_name, m.c.from_addr).where(m.c.id.in_(msgs)))
        }
        conn.execute(update(pe).where(pe.c.identity.in_(senders)).values(messages=0, org="?"))
        # A series gone (its structure removed): its rows must go too.
        conn.execute(insert(sm).values({**_row(conn, sm, keys[1]), "series_key": "<gone@x>"}))
    assert senders
    rep = _run(
        engine,
        ctx,
        changes.Work(series={*damaged, *pulls, "<gone@x>"}, messages=set(msgs)),
    )
    assert 0 < rep.series <= len(damaged) + len(pulls)
    assert _tables(engine) == want
    _equals_full(engine, ctx)


def _row(conn, table, key) -> dict[str, Any]:
    return dict(conn.execute(select(table).where(table.c.series_key == key)).mappings().one())


def _two_series_author(engine: Engine, ctx: Context) -> tuple[SeriesFacts, SeriesFacts]:
    """An author's first two series under review (both with one version)."""
    by_author: dict[str, list[SeriesFacts]] = {}
    for se in _series(engine, ctx):
        by_author.setdefault(se.author, []).append(se)
    for mine in by_author.values():
        mine.sort(key=lambda s: s.first_date)
        if (
            len(mine) >= 3
            and all(s.kind == "series" for s in mine)
            and mine[0].first_date < mine[1].first_date
        ):
            return mine[0], mine[1]
    raise AssertionError("no author with three series under review")


def test_an_authors_first_series_moving_flips_their_other_series(erofs) -> None:
    """The structure step re-dates an author's first series after their second one and owes
    only that series: the second one (owed by nobody) becomes the author's first."""
    copy, ctx = erofs
    engine = copy("first")
    first, second = _two_series_author(engine, ctx)
    assert first.new_contributor and not second.new_contributor
    sv = schema.series_versions
    with engine.begin() as conn:
        conn.execute(
            update(sv)
            .where(sv.c.series_key == first.key)
            .values(date=sv.c.date - first.first_date + second.first_date + 3600)
        )
    _run(engine, ctx, changes.Work(series={first.key}))
    flags = _flags(engine, [first.key, second.key])
    assert flags == {first.key: False, second.key: True}
    _equals_full(engine, ctx)


def test_an_authors_first_series_gone_makes_the_next_their_first(erofs) -> None:
    copy, ctx = erofs
    engine = copy("gone")
    first, second = _two_series_author(engine, ctx)
    sv, vm, rp = schema.series_versions, schema.version_members, schema.replies
    with engine.begin() as conn:
        vkeys = [v.key for v in first.versions]
        conn.execute(delete(vm).where(vm.c.version_key.in_(vkeys)))
        conn.execute(delete(rp).where(rp.c.version_key.in_(vkeys)))
        conn.execute(delete(sv).where(sv.c.series_key == first.key))
        conn.execute(delete(schema.series).where(schema.series.c.key == first.key))
    _run(engine, ctx, changes.Work(series={first.key}))
    assert _flags(engine, [first.key, second.key]) == {second.key: True}
    _equals_full(engine, ctx)


def _flags(engine: Engine, keys: list[str]) -> dict[str, bool]:
    sm = schema.series_metrics
    with engine.connect() as conn:
        return dict(
            conn.execute(
                select(sm.c.series_key, sm.c.new_contributor).where(sm.c.series_key.in_(keys))
            ).all()
        )


def test_paths_of_new_commits_bring_series_into_the_repository(erofs) -> None:
    """Series computed as outside the repository (their files not touched by the commits
    then known) flip to in_repo when newer commits bring the files, owed by nobody; a
    repository whose paths all went, or came back, redoes everything (every series'
    repo_registered changes)."""
    copy, ctx = erofs
    engine = copy("paths")
    cf, c = schema.commit_files, schema.commits
    with engine.begin() as conn:
        ids = [i for (i,) in conn.execute(select(c.c.id).order_by(c.c.id))]
        cutoff = ids[len(ids) * 3 // 4]
        later = [
            dict(r) for r in conn.execute(select(cf).where(cf.c.commit_pk > cutoff)).mappings()
        ]
        conn.execute(delete(cf).where(cf.c.commit_pk > cutoff))
    _run(engine, ctx, changes.Work(full=True))
    outside = _outside(engine)
    pc = schema.patch_commits
    with engine.begin() as conn:
        # The rows were computed before the later commits came in.
        changes.set_mark(conn, COMMITS_MARK, cutoff, 0)
        conn.execute(insert(cf), later)
        # What matching owes when it links those commits (stages/match.py _series_of): the
        # postings they hold inside them are found by the files now theirs.
        links = conn.execute(select(pc).where(pc.c.commit_pk > cutoff)).mappings()
        owed = _series_of(conn, [dict(r) for r in links])
        changes.owe(conn, changes.METRICS, changes.Work(series=owed))
    rep = _run(engine, ctx)
    flipped = outside - _outside(engine)
    assert flipped and rep.series == len(flipped | owed)
    _equals_full(engine, ctx)

    with engine.begin() as conn:
        every = [dict(r) for r in conn.execute(select(cf)).mappings()]
        conn.execute(delete(cf))
    _run(engine, ctx)
    assert _outside(engine) == set()
    _equals_full(engine, ctx)
    with engine.begin() as conn:
        conn.execute(insert(cf), every)
    rep = _run(engine, ctx)
    assert rep.series > 100
    _equals_full(engine, ctx)


def _outside(engine: Engine) -> set[str]:
    sm = schema.series_metrics
    with engine.connect() as conn:
        return {k for (k,) in conn.execute(select(sm.c.series_key).where(~sm.c.in_repo))}


def test_a_new_maintainers_version_redoes_the_series_posted_since(erofs) -> None:
    copy, ctx = erofs
    engine = copy("maintainers")
    dates = sorted(se.first_date for se in _series(engine, ctx))
    since = dates[len(dates) * 9 // 10]

    def old(se: SeriesFacts):
        return ("OLD",), frozenset({se.author})

    def new(se: SeriesFacts):
        return (("NEW",) if se.first_date >= since else ("OLD",)), frozenset({se.author})

    _run(engine, ctx, changes.Work(full=True), subsystems_of=old, dates=[0])
    rep = _run(engine, ctx, subsystems_of=new, dates=[0, since])
    sm = schema.series_metrics
    with engine.connect() as conn:
        posted = conn.execute(select(sm.c.series_key).where(sm.c.first_date >= since)).all()
        assert conn.execute(select(sm.c.series_key).where(sm.c.subsystems == '["NEW"]')).all()
    assert rep.series == len(posted)
    _equals_full(engine, ctx, subsystems_of=new, dates=[0, since])
    # The same history again: nothing to redo.
    assert _run(engine, ctx, subsystems_of=new, dates=[0, since]).series == 0


def test_stored_rows_do_not_depend_on_the_day_they_were_computed(erofs) -> None:
    """A reply dated in the future (a sender's clock) counts the same whichever day the row
    is computed: a row computed yesterday equals one computed today."""
    copy, ctx = erofs
    engine = copy("now")
    rp, m = schema.replies, schema.messages
    with engine.begin() as conn:
        pk, vkey = conn.execute(
            select(rp.c.message_pk, rp.c.version_key).where(~rp.c.is_author).limit(1)
        ).one()
        late = 4_000_000_000  # 2096
        conn.execute(update(m).where(m.c.id == pk).values(date_utc=late))
        key = conn.execute(
            select(schema.series_versions.c.series_key).where(schema.series_versions.c.key == vkey)
        ).scalar_one()
    _run(engine, ctx, changes.Work(series={key}, messages={pk}), now=late - 10 * 86400)
    before = _tables(engine)
    _run(engine, ctx, changes.Work(full=True), now=late + 10 * 86400)
    assert _tables(engine) == before


def test_people_recounted_from_grouped_counts_break_ties_as_a_full_count(erofs) -> None:
    """New senders whose most used name and address are tied (decided by first use), whose
    last day has two messages (the organisation follows the later one), one without a date,
    and one sending without an address (counted message by message): the recounted rows
    equal a full count's."""
    copy, ctx = erofs
    engine = copy("people")
    m = schema.messages
    with engine.begin() as conn:
        base = dict(conn.execute(select(m).order_by(m.c.id).limit(1)).mappings().one())
        top = conn.execute(select(func.max(m.c.id))).scalar_one()
        sent = [  # names 2-2 and addresses 3-3: the first used wins (the undated one)
            ("Beta", "Tie@example.org", 1_700_000_000, "<b1@x>"),
            ("Alpha", "tie@example.org", 1_700_000_100, "<a1@x>"),
            ("Alpha", "tie@example.org", None, "<a2@x>"),
            ("Beta", "Tie@example.org", 1_700_000_200, "<z9@x>"),
            ("", "tie@example.org", 1_700_000_200, "<c3@x>"),
            ("", "Tie@example.org", 1_600_000_000, "<b0@x>"),
            ("Gamma", "", 1_700_000_300, "<g1@x>"),
            ("Gamma", "", None, "<g2@x>"),
        ]
        rows = [
            {
                **base,
                "id": top + i + 1,
                "message_id": mid,
                "from_name": name,
                "from_addr": addr,
                "date_utc": date,
            }
            for i, (name, addr, date, mid) in enumerate(sent)
        ]
        conn.execute(insert(m), rows)
    people = ctx.people
    for name, addr, _, _ in sent:
        people.add(name, addr)
    _run(engine, ctx, changes.Work(messages={r["id"] for r in rows}))
    pe = schema.people
    with engine.connect() as conn:
        got = {
            r.identity: r
            for r in conn.execute(
                select(pe).where(pe.c.identity.in_({people(n, a) for n, a, _, _ in sent}))
            )
        }
    assert len(got) == 2 and sum(r.messages for r in got.values()) == len(sent)
    tied = got[people("Alpha", "tie@example.org")]
    assert (tied.name, tied.address, tied.first_date) == ("Alpha", "tie@example.org", 1_600_000_000)
    _equals_full(engine, ctx)


def test_a_full_rebuild_in_small_batches_equals_one_batch(erofs, monkeypatch) -> None:
    """A full rebuild writes batch by batch, each batch over its own keys only: what crosses
    series (an author's first series in another batch, a prerequisite in another batch, a
    review event stored under another series) comes out as from one batch, and the rows of
    a series that is gone are dropped."""
    from patchlens.stages import metrics

    copy, ctx = erofs
    engine = copy("batches")
    monkeypatch.setattr(metrics, "FULL_BATCH", 10**9)
    _run(engine, ctx, changes.Work(full=True))
    want = _tables(engine)
    sm, ev = schema.series_metrics, schema.review_events
    with engine.begin() as conn:
        keys = [k for (k,) in conn.execute(select(sm.c.series_key).order_by(sm.c.series_key))]
        conn.execute(insert(sm).values({**_row(conn, sm, keys[1]), "series_key": "<gone@x>"}))
        conn.execute(update(sm).where(sm.c.series_key.in_(keys[::7])).values(reviews=-1))
        # Review events filed under a series of another batch.
        pks = [pk for (pk,) in conn.execute(select(ev.c.message_pk).limit(30))]
        conn.execute(update(ev).where(ev.c.message_pk.in_(pks)).values(series_key=keys[-1]))
    assert len(keys) > 300
    monkeypatch.setattr(metrics, "FULL_BATCH", 97)
    rep = _run(engine, ctx, changes.Work(full=True))
    assert rep.series == len(keys)
    assert _tables(engine) == want
