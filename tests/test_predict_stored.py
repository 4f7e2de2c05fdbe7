"""The stored prediction records and model (issue 11): what the metrics stage stores equals
what the pure functions give, the model `update` stores equals the one fitted on the same
bounded points from every series' facts, a page reads it without fitting, and an update
within the same week does not refit (docs/PREDICTION.md)."""

from __future__ import annotations

import hashlib
import inspect
import json
import shutil

import pytest
from sqlalchemy import event, select

from patchlens.config import Config, load_config
from patchlens.metrics import prediction_features as pf
from patchlens.metrics.prediction import (
    MIN_EVENTS,
    Corpus,
    fit_all,
    predict,
    train_since,
    training_keys,
    training_points,
)
from patchlens.metrics.prediction_features import (
    LANDMARKS,
    OWN_FEATURES,
    landmarks_from_stored,
    own_features_at,
    record_of,
    records_from_stored,
    stored_record,
    week_start,
)
from patchlens.queries import prediction as qp
from patchlens.queries import selection
from patchlens.queries.evidence import load_series
from patchlens.queries.formats import iso
from patchlens.queries.selection import data_date, review_date
from patchlens.stages.context import build_context
from patchlens.stages.prediction import fitted_at, run_prediction
from patchlens.stages.progress import Reporter
from patchlens.store import schema
from patchlens.store.db import open_store
from tests.conftest import copy_store

DAY = 86400


def _opened_copy(db, dest):
    """A copy of the store `db` at `dest`, opened (a test that writes leaves `db` as it was)."""
    copy_store(db, dest)
    return open_store(str(dest))


def test_week_start_is_monday_midnight_utc():
    # 2026-08-04 16:00 UTC is a Tuesday; its week began on Monday 2026-08-03.
    assert iso(week_start(1785859200 + 16 * 3600)) == "2026-08-03T00:00:00Z"
    monday = 1785715200
    assert week_start(monday) == monday and week_start(monday - 1) == monday - 7 * DAY


def test_training_keys_are_the_window_capped_at_the_most_recent():
    cut = 1000 * DAY
    since = train_since(cut - 1, cut)
    assert since == cut - 365 * DAY
    cands = [("old", cut - 500 * DAY), ("edge", cut - 395 * DAY), ("in", cut - 10 * DAY)]
    cands += [("after", cut), ("gone", cut - 396 * DAY)]
    assert training_keys(cands, cut, since) == ["edge", "in"]  # 30-day landmark in the year
    # Capped: an even sample decided by the keys' hashes, not by the order or the dates.
    lowest = min(["edge", "in"], key=lambda k: hashlib.sha1(k.encode()).hexdigest())
    assert training_keys(cands, cut, since, max_train=1) == [lowest]
    assert training_keys(list(reversed(cands)), cut, since, max_train=1) == [lowest]
    # Mail that stopped long before the cut: the year before its newest series.
    assert train_since(cut - 400 * DAY, cut) == cut - 399 * DAY - 365 * DAY
    early = train_since(cut - 500 * DAY, cut)
    assert training_keys(cands, cut, early) == ["edge", "gone", "in", "old"]
    sample = training_keys(cands, cut, early, max_train=2)
    assert len(sample) == 2 and set(sample) < {"edge", "gone", "in", "old"}


@pytest.fixture(scope="module")
def full(erofs_store):
    """Every series' facts with the identities the stages used, the corpus of all of them
    (records from the facts, not the store), and the stored model."""
    db, engine, _ = erofs_store
    with engine.connect() as conn:
        people = build_context(conn, Config(), db.with_name("cache")).people
        sm = schema.series_metrics
        rows = {r.series_key: r for r in conn.execute(select(sm))}
        everyone = {se.key: se for se in load_series(conn, people) if se.key in rows}
        oldest = qp.oldest_maintainers(conn)
        seen = {k for (k,) in conn.execute(select(sm.c.series_key).where(qp.seen_clause()))}
        known = {k: oldest is not None and oldest <= se.first_date for k, se in everyone.items()}
        corpus = Corpus(
            {k: everyone[k] for k in sorted(seen)},
            {k: json.loads(rows[k].expected_roles) if known[k] else {} for k in everyone},
            {k: tuple(json.loads(rows[k].subsystems)) if known[k] else () for k in everyone},
            data_date(conn),
            everyone,
        )
        stored = qp.stored_model(conn)
    return rows, everyone, corpus, stored, people


def test_stored_records_equal_record_of_every_series(full):
    rows, everyone, corpus, _stored, _people = full
    assert len(rows) > 1_000
    for key, r in rows.items():
        se = everyone[key]
        assert {"event_dates": r.event_dates, "merge_changes": r.merge_changes} == stored_record(se)
    # Read back in bulk, as a refit reads them: the same records, in the rows' order.
    bulk = [
        (k, r.author, r.first_date, corpus.subsystems.get(k, ()), r.event_dates, r.merge_changes)
        for k, r in rows.items()
    ]
    assert records_from_stored(bulk) == [
        record_of(everyone[k], corpus.subsystems.get(k, ())) for k in rows
    ]
    merged = [k for k, r in rows.items() if json.loads(r.merge_changes)]
    assert len(merged) > 300  # the records do say when series were merged


def test_stored_model_is_the_fit_on_the_bounded_points(full):
    _rows, _everyone, corpus, stored, _people = full
    assert stored is not None and stored.model is not None
    assert stored.cut == week_start(corpus.end)
    seen = [(k, corpus.history.records[k].first_date) for k in corpus.series]
    since = train_since(max((d for _k, d in seen if d < stored.cut), default=None), stored.cut)
    keys = training_keys(seen, stored.cut, since)
    train = training_points(corpus, keys, stored.cut, since)
    model = fit_all(train)["model"]
    # Bounded: fewer series than the corpus before the cut, points only of the last year.
    assert stored.series == len(keys) < stored.corpus
    assert stored.points == len(train) and stored.merges == sum(p.event for p in train)
    assert all(since <= p.t < stored.cut for p in train)
    assert stored.cut - since < 400 * DAY
    assert stored.model == model
    late = [
        k for k in corpus.series if corpus.history.records[k].first_date >= stored.cut - 90 * DAY
    ]
    assert late
    for key in late:
        a = predict(corpus, stored.model, key, corpus.end)
        assert a == predict(corpus, model, key, corpus.end)


def test_a_page_predicts_from_the_stored_model_as_the_full_corpus_does(erofs_store, full):
    _db, engine, _ = erofs_store
    _rows, _everyone, corpus, stored, _people = full
    sm = schema.series_metrics
    with engine.connect() as conn:
        keys = [
            k
            for (k,) in conn.execute(
                select(sm.c.series_key).where(qp.seen_clause(), sm.c.merged != "fully")
            )
        ]
        assert len(keys) > 50
        # As of the date review is seen up to (EROFS's mail ends before its repository).
        end = review_date(conn)
        for key in keys:
            page = qp.series_prediction(conn, key, "new")
            want = predict(corpus, stored.model, key, end)
            assert want is not None
            want["as_of"] = iso(want["as_of"])
            want["cut"] = iso(stored.cut)
            assert page == want, key


def _statements(engine):
    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    return seen, lambda: event.remove(engine, "before_cursor_execute", count)


def test_an_update_in_the_same_week_does_not_refit(erofs_store, full):
    _db, engine, _ = erofs_store
    _rows, _everyone, _corpus, stored, people = full
    seen, stop = _statements(engine)
    try:
        rep = run_prediction(engine, Reporter(quiet=True), people)
    finally:
        stop()
    assert not rep.refitted and rep.cut == stored.cut and rep.changed_rows == 0
    # The data's end (newest message, newest commit), whether a repository is registered and
    # the stored cut: nothing else.
    assert len(seen) == 4, seen
    # Forced, it refits on the same data to the same row: nothing written.
    rep = run_prediction(engine, Reporter(quiet=True), people, force=True)
    assert rep.refitted and rep.changed_rows == 0 and rep.points == stored.points


def test_without_a_model_or_with_too_few_merges_the_page_says_why(
    erofs_store, full, tmp_path, monkeypatch
):
    db, _engine, _ = erofs_store
    _rows, _everyone, corpus, _stored, people = full
    engine = _opened_copy(db, tmp_path / "s.db")
    key = next(k for k in corpus.series if corpus.history.records[k].merged is None)
    try:
        with engine.begin() as conn:
            conn.execute(schema.prediction_model.delete())
            assert "no model stored yet" in qp.series_prediction(conn, key, "new")["reason"]
        selection._MEMO.clear()  # what an update's new data version does
        monkeypatch.setattr("patchlens.metrics.prediction.MIN_EVENTS", 10**9)
        rep = run_prediction(engine, Reporter(quiet=True), people)
        assert rep.refitted and rep.merges >= MIN_EVENTS
        with engine.connect() as conn:
            assert qp.stored_model(conn).model is None
            reason = qp.series_prediction(conn, key, "new")["reason"]
        assert reason == f"too few merged series to fit a model (fewer than {MIN_EVENTS})"
    finally:
        engine.dispose()
        selection._MEMO.clear()


def test_a_store_of_older_metrics_code_redoes_the_metrics_only(erofs_store, full, tmp_path):
    """A store updated before the records existed (digest without METRICS_VERSION, records
    empty, no model): the next update redoes every series' metrics and fits the model, and
    neither the reconstruction nor the matching."""
    from patchlens.stages.pipeline import STAGE, run_stages

    db, _engine, _ = erofs_store
    rows, _everyone, _corpus, stored, _people = full
    copy = tmp_path / "old.db"
    copy_store(db, copy)
    shutil.copytree(db.with_name("cache"), tmp_path / "cache")
    engine = open_store(str(copy))
    st, sm = schema.stage_state, schema.series_metrics
    try:
        with engine.begin() as conn:
            digest = conn.execute(select(st.c.inputs).where(st.c.stage == STAGE)).scalar_one()
            assert ":m" in digest
            old = ":".join(p for p in digest.split(":") if not p.startswith("m"))
            conn.execute(st.update().where(st.c.stage == STAGE).values(inputs=old))
            conn.execute(sm.update().values(event_dates="[]", merge_changes="[]"))
            conn.execute(schema.prediction_model.delete())
        rep = run_stages(engine, Config(), tmp_path / "cache", Reporter(quiet=True))
        assert not rep.skipped
        assert rep.review.threads == 0 and rep.matching.postings == 0, (rep.review, rep.matching)
        assert rep.metrics.series == len(rows) and rep.prediction.refitted
        with engine.connect() as conn:
            again = {r.series_key: r for r in conn.execute(select(sm))}
            assert qp.stored_model(conn) == stored
        assert again == rows
    finally:
        engine.dispose()


def test_a_server_keeps_one_page_window_per_store(erofs_store, full):
    _db, engine, _ = erofs_store
    _rows, _everyone, corpus, _stored, _people = full
    end = corpus.end
    with engine.connect() as conn:
        today = qp._window(conn, end)
        assert qp._window(conn, end - end % DAY) is today  # the same day: kept
        yesterday = qp._window(conn, end - DAY)
        assert yesterday is not today
        assert qp._WINDOWS[str(engine.url)][2] is yesterday  # the other day's is dropped
        # Every series posted in the 720 days before the end, and none later than its day.
        day = end - end % DAY
        recs = corpus.history.records
        assert {k for k, r in recs.items() if end - 720 * DAY < r.first_date <= end} <= set(
            today.records
        )
        assert all(day - 720 * DAY < r.first_date <= day + DAY for r in today.records.values())


def _stored_landmarks_agree(conn, people) -> tuple[int, int]:
    """Every series' stored own features at its landmarks equal `own_features_at` of its facts
    with MAINTAINERS' roles as a refit reads them (known at posting, or none): (landmarks
    compared, of those with roles named whose features the roles change)."""
    sm = schema.series_metrics
    rows = {r.series_key: r for r in conn.execute(select(sm))}
    oldest = qp.oldest_maintainers(conn)
    compared = with_roles = 0
    for se in load_series(conn, people, list(rows)):
        r = rows[se.key]
        known = oldest is not None and oldest <= r.first_date
        expected = json.loads(r.expected_roles) if known else {}
        stored = landmarks_from_stored(r.landmark_features, known)
        want = [own_features_at(se, se.first_date + d * DAY, expected) for d in LANDMARKS]
        assert stored == want, se.key
        compared += len(want)
        if expected:
            # Had MAINTAINERS' history begun after the posting, a refit would read the roles
            # as unknown: as the facts give the features without them.
            unknown = [own_features_at(se, se.first_date + d * DAY) for d in LANDMARKS]
            assert landmarks_from_stored(r.landmark_features, False) == unknown, se.key
            with_roles += len(want) * (unknown != want)
    return compared, with_roles


def test_stored_landmarks_equal_the_features_of_the_facts(full, erofs_store, xen_store):
    _rows, _everyone, _corpus, _stored, people = full
    with erofs_store[1].connect() as conn:
        compared, _ = _stored_landmarks_agree(conn, people)
    assert compared > 3_000
    tmp, _db, engine = xen_store
    with engine.connect() as conn:
        xen_people = build_context(conn, load_config(str(tmp / "patchlens.toml")), tmp / "cache")
        compared, with_roles = _stored_landmarks_agree(conn, xen_people.people)
    assert compared > 300 and with_roles > 100


def test_a_refit_reads_the_facts_of_series_without_stored_landmarks(erofs_store, full, tmp_path):
    """A row written before landmarks were stored, or by other feature code (another
    LANDMARKS_KEY), has its series' facts read instead: with a third written by other code,
    then half, then all of the rows without landmarks, the same model."""
    db, _engine, _ = erofs_store
    _rows, _everyone, _corpus, stored, people = full
    engine = _opened_copy(db, tmp_path / "s.db")
    sm = schema.series_metrics
    try:
        with engine.begin() as conn:
            keys = sorted(k for (k,) in conn.execute(select(sm.c.series_key)))
            want = fitted_at(conn, stored.cut, people, Reporter(quiet=True))
            assert want["model"] is not None
            # Other code's landmarks: every feature 0 at every landmark, under another key.
            other = json.dumps({"key": "0.other", "at": [[0.0] * len(OWN_FEATURES)] * 3})
            for part, value in ((keys[::3], other), (keys[::2], None), (keys, None)):
                conn.execute(
                    sm.update().where(sm.c.series_key.in_(part)).values(landmark_features=value)
                )
                assert qp.stored_landmarks_of(conn, part, None) == {}
                got = fitted_at(conn, stored.cut, people, Reporter(quiet=True))
                assert got == want
    finally:
        engine.dispose()


def test_the_stored_landmarks_name_the_code_that_computed_them():
    """A change to what `own_features_at` computes must change LANDMARKS_KEY (bump
    OWN_FEATURES_VERSION), or every store would keep its old features and fit the model on
    them while pages compute new ones. This pins the code: when it fails, bump the version and
    put the new digest here."""
    from patchlens.metrics.model import current_version, laid_places
    from patchlens.review.model import in_force, lay, place_of

    code = "".join(
        inspect.getsource(f)
        for f in (
            pf.own_features_at,
            pf._versions_at,
            current_version,
            laid_places,
            lay,
            place_of,
            in_force,
        )
    )
    assert (pf.OWN_FEATURES_VERSION, hashlib.sha1(code.encode()).hexdigest()[:12]) == (
        2,
        # The current version the features read is pinned too (metrics/model.py
        # current_version, where patches laid over are placed). Since f0eaa31e6434 the
        # placing loop is one helper (review/model.py lay): nothing computed changed.
        "e0d5d3ebc4ca",
    )
    assert pf.LANDMARKS_KEY.startswith(f"{pf.OWN_FEATURES_VERSION}.")


def test_roles_unknown_at_posting_reach_a_refit_as_the_facts_give_them(xen_store, tmp_path):
    """On Xen (MAINTAINERS roles), with every series' merge made visible and MAINTAINERS' history
    begun at the median posting (roles known for half the series): the refit's training points
    from the stored landmarks equal those from every series' facts, point by point."""
    from patchlens.metrics.prediction import Corpus, StoredFeatures
    from patchlens.stages.metrics import MAINTAINERS_SEEN
    from patchlens.stages.prediction import training_history

    tmp, db, _engine = xen_store
    engine = _opened_copy(db, tmp_path / "x.db")
    sm = schema.series_metrics
    try:
        with engine.begin() as conn:
            conn.execute(sm.update().values(repo_registered=True, in_repo=True))
            dates = sorted(d for (d,) in conn.execute(select(sm.c.first_date)))
            conn.execute(
                schema.stage_state.update()
                .where(schema.stage_state.c.stage == MAINTAINERS_SEEN)
                .values(inputs=json.dumps([dates[len(dates) // 2]]))
            )
            people = build_context(
                conn, load_config(str(tmp / "patchlens.toml")), tmp / "cache"
            ).people
            oldest = qp.oldest_maintainers(conn)
            assert oldest == dates[len(dates) // 2]
            compared = unknown = 0
            for cut in (week_start(dates[len(dates) // 3]), week_start(dates[-1])):
                since = train_since(qp.newest_seen_before(conn, cut), cut)
                candidates = qp.seen_between(conn, since - 30 * DAY, cut)
                keys = training_keys(((k, d) for k, d, _a in candidates), cut, since)
                history = training_history(conn, since, cut, {a for *_k, a in candidates}, oldest)
                own = qp.stored_landmarks_of(conn, keys, oldest)
                assert set(own) == set(keys)
                facts, expected, subsystems = qp.target_facts(conn, keys, people, oldest)
                corpus = Corpus(facts, expected, subsystems, cut, records=history)
                stored_points = training_points(StoredFeatures(history, own), keys, cut, since)
                assert stored_points == training_points(corpus, keys, cut, since)
                compared += len(stored_points)
                unknown += sum(1 for k in keys if not expected[k])
            assert compared > 500 and unknown > 100
    finally:
        engine.dispose()


def test_a_store_without_a_repository_has_no_model_until_one_is_registered(
    erofs_2024, erofs_utils, tmp_path
):
    """Without a registered repository no open series can be seen merged (only a notice
    shows a merge, and a noticed series is merged), so the update fits no model and stores
    none; registering a repository brings the fit at the next update, and removing it takes
    the model away again, as a store built without it has none. A store of older code that
    holds a model without a repository loses it in migration 0025 (an update with nothing
    new runs no step that would)."""
    from patchlens.metrics.backlog import OPEN_STATES
    from patchlens.stages import ingest
    from patchlens.stages.pipeline import run_stages

    engine = open_store(str(tmp_path / "lists.db"))
    quiet, cache = Reporter(quiet=True), tmp_path / "cache"
    try:
        ingest.add_list(engine, "erofs-2024", [str(erofs_2024)])
        ingest.run_update(engine, cache, quiet)
        rep = run_stages(engine, Config(), cache, quiet)
        assert rep.prediction.no_repository and not rep.prediction.refitted
        with engine.connect() as conn:
            assert qp.stored_model(conn) is None
            sm = schema.series_metrics
            key = conn.execute(
                select(sm.c.series_key).where(sm.c.merged_by.is_(None)).limit(1)
            ).scalar_one()
            reason = qp.series_prediction(conn, key, OPEN_STATES[0])["reason"]
        assert reason == "no registered repository could show this series merged"

        ingest.add_repo(engine, "erofs-utils", str(erofs_utils), ["dev"])
        ingest.run_update(engine, cache, quiet)
        rep = run_stages(engine, Config(), cache, quiet)
        assert rep.prediction.refitted and not rep.prediction.no_repository
        with engine.connect() as conn:
            stored = qp.stored_model(conn)
        assert stored is not None and stored.cut == rep.prediction.cut and stored.series > 0

        with engine.connect() as conn:
            row = dict(conn.execute(select(schema.prediction_model)).mappings().one())
        ingest.remove_repo(engine, "erofs-utils")
        rep = run_stages(engine, Config(), cache, quiet)
        assert rep.prediction.no_repository and rep.prediction.changed_rows == 1
        with engine.connect() as conn:
            assert qp.stored_model(conn) is None

        from alembic import command

        from patchlens.store.db import _alembic_config

        with engine.begin() as conn:  # what older code left: a model, no repository
            conn.execute(schema.prediction_model.insert().values(**row))
            cfg = _alembic_config(str(engine.url))
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0024")
        engine.dispose()
        engine = open_store(str(tmp_path / "lists.db"))  # upgrades to the head
        with engine.connect() as conn:
            assert qp.stored_model(conn) is None
    finally:
        engine.dispose()
        selection._MEMO.clear()
