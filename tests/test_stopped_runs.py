"""A run of the steps after ingest stopped part-way, then run again, with the same inputs or
with others: the store ends as one clean run with the last inputs gives, and the pages'
data version moves with every run that finishes (stages/pipeline.py, the row BEGUN).

On the real xen/qemu threads, a small store: each case stops a run after its metrics (in the
prediction model's fit, the last step), where the steps' own owed work is already done and
only the pipeline's records tell that the run did not finish."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from patchlens.config import Config
from patchlens.queries.selection import data_version
from patchlens.stages import context, ingest, metrics, pipeline
from patchlens.stages.progress import Reporter
from patchlens.store import schema
from patchlens.store.db import open_store
from tests.conftest import data_path

QUIET = Reporter(quiet=True)


class Stopped(Exception):
    pass


def _store(tmp_path: Path, repo: Path | None = None):
    engine = open_store(str(tmp_path / "s.db"))
    samples = sorted(data_path("xen-qemu-samples").glob("*.mbox"))
    ingest.add_list(engine, "xq", [str(p) for p in samples])
    if repo is not None:
        ingest.add_repo(engine, "repo", str(repo), ["dev"])
    assert not [r.error for r in ingest.run_update(engine, tmp_path / "cache", QUIET) if r.error]
    return engine


def _run(engine, tmp_path: Path, **kw):
    return pipeline.run_stages(engine, Config(), tmp_path / "cache", QUIET, **kw)


def _stopped_in(
    step: str, engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **kw: bool
) -> None:
    """A run stopped as it begins `step` (a function the pipeline calls), as a kill would."""
    real = getattr(pipeline, step)

    def stop(*args, **kwargs):
        raise Stopped

    monkeypatch.setattr(pipeline, step, stop)
    with pytest.raises(Stopped):
        _run(engine, tmp_path, **kw)
    monkeypatch.setattr(pipeline, step, real)


def _stopped_after_metrics(engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _stopped_in("run_prediction", engine, tmp_path, monkeypatch)


def _newer_metrics_code(monkeypatch: pytest.MonkeyPatch) -> None:
    """Newer metrics code: METRICS_VERSION bumped, and its rows say which code wrote them."""
    monkeypatch.setattr(context, "METRICS_VERSION", context.METRICS_VERSION + 1)
    real = metrics.metric_rows

    def newer(*args, **kwargs):
        rows = real(*args, **kwargs)
        for r in rows:
            r["anomalies"] = json.dumps(["new-code"])
        return rows

    monkeypatch.setattr(metrics, "metric_rows", newer)


def _anomalies(engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(schema.series_metrics.c.anomalies)).scalars())


NEW = json.dumps(["new-code"])


def test_a_first_run_stopped_then_newer_metrics_code(tmp_path, monkeypatch) -> None:
    """Resuming a stopped run is for the same inputs only: the metrics' version is one."""
    engine = _store(tmp_path)
    _stopped_after_metrics(engine, tmp_path, monkeypatch)
    _newer_metrics_code(monkeypatch)
    assert not _run(engine, tmp_path).skipped
    assert _anomalies(engine) == {NEW}
    engine.dispose()


def test_other_inputs_stopped_then_the_first_again(tmp_path, monkeypatch) -> None:
    """A finished run, then newer metrics code stopped after its metrics, then the older code
    again: the store was left with the newer code's rows and the older inputs' digest, and
    the next run skipped. It now redoes them."""
    engine = _store(tmp_path)
    _run(engine, tmp_path)
    assert NEW not in _anomalies(engine)
    with monkeypatch.context() as newer:
        _newer_metrics_code(newer)
        _stopped_after_metrics(engine, tmp_path, newer)
        assert _anomalies(engine) == {NEW}
    assert not _run(engine, tmp_path).skipped
    assert NEW not in _anomalies(engine)
    with engine.connect() as conn:
        assert pipeline._begun(conn) is None
    assert _run(engine, tmp_path).skipped  # and nothing is left owed
    engine.dispose()


def test_the_data_version_moves_with_every_finished_run(tmp_path) -> None:
    """The pages' data version is the last finished run's digest and end; it read the first
    row of stage_state, a mark that a forced rebuild (or another configuration) left as it
    was, so kept pages outlived the data they showed."""
    engine = _store(tmp_path)
    _run(engine, tmp_path)
    with engine.connect() as conn:
        first = data_version(conn)
    time.sleep(1.1)  # the end is stored in whole seconds
    _run(engine, tmp_path, force=True)
    with engine.connect() as conn:
        second = data_version(conn)
        st = schema.stage_state
        stored = conn.execute(
            select(st.c.inputs, st.c.finished_at).where(st.c.stage == pipeline.STAGE)
        ).one()
    assert second != first and second == tuple(stored)
    assert _run(engine, tmp_path).skipped
    with engine.connect() as conn:
        assert data_version(conn) == second  # a run with nothing to do moves nothing
    engine.dispose()


def _model(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(schema.prediction_model))]


def test_a_model_fitted_by_a_stopped_run_for_other_inputs_is_refitted(
    tmp_path, monkeypatch, erofs_utils
) -> None:
    """The prediction step owes nothing in pending_work: a run for other inputs that fitted
    its model and stopped before its end left that model, and the first inputs' runs (one
    stopped after owing everything again, one resuming it) kept it. (A repository is
    registered: a store without one has no model.)"""
    from patchlens.stages import prediction

    engine = _store(tmp_path, erofs_utils)
    _run(engine, tmp_path)
    clean = _model(engine)
    assert clean, "a store with a repository stores a model row"
    with monkeypatch.context() as other:
        _newer_metrics_code(other)
        real_fit = prediction.fitted_at

        def marked(*args, **kwargs):
            return {**real_fit(*args, **kwargs), "train_days": -1}

        other.setattr(prediction, "fitted_at", marked)
        real = pipeline.run_prediction

        def fit_then_stop(*args, **kwargs):
            real(*args, **kwargs)
            raise Stopped  # before the run's last write

        other.setattr(pipeline, "run_prediction", fit_then_stop)
        with pytest.raises(Stopped):
            _run(engine, tmp_path)
    assert _model(engine) != clean
    # The first inputs again, stopped in the metrics (after owing them again), then resumed.
    _stopped_in("run_metrics", engine, tmp_path, monkeypatch)
    assert not _run(engine, tmp_path).skipped
    assert _model(engine) == clean
    engine.dispose()


def test_a_stopped_update_then_newer_metrics_code_redoes_the_metrics_only(
    tmp_path, monkeypatch
) -> None:
    """A run stopped part-way for the same inputs but the metrics' version owes the metrics
    again, not everything (the reconstruction is not redone)."""
    engine = _store(tmp_path)
    _run(engine, tmp_path)
    with engine.begin() as conn:  # an update whose reconstruction was owed a series, say
        from patchlens.stages import changes

        changes.owe(conn, changes.METRICS, changes.Work(full=True))
    _stopped_after_metrics(engine, tmp_path, monkeypatch)
    _newer_metrics_code(monkeypatch)
    redone: list[int] = []
    real = pipeline.changes.owe_everyone_everything
    monkeypatch.setattr(
        pipeline.changes, "owe_everyone_everything", lambda conn: redone.append(1) or real(conn)
    )
    rep = _run(engine, tmp_path)
    assert not redone and rep.review.incremental
    assert _anomalies(engine) == {NEW}
    engine.dispose()


def test_a_run_that_did_not_finish_is_not_skipped(tmp_path, monkeypatch) -> None:
    """A forced run stopped in its last step owes no step anything, and its digest is the
    last one's: the next run still runs (refits, records its end), and leaves no trace of
    the stopped one."""
    engine = _store(tmp_path)
    _run(engine, tmp_path)
    _stopped_in("run_prediction", engine, tmp_path, monkeypatch, force=True)
    assert not _run(engine, tmp_path).skipped
    with engine.connect() as conn:
        assert pipeline._begun(conn) is None
    assert _run(engine, tmp_path).skipped
    engine.dispose()
