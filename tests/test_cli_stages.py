"""The stages after ingest: every long step reports a real total, and an improved analysis
(a new ANALYSIS_VERSION or FINGERPRINT_VERSION) reaches a store built by the old one."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from patchlens.config import Config
from patchlens.review import analysis
from patchlens.stages import ingest
from patchlens.stages import match as match_stage
from patchlens.stages.pipeline import run_stages
from patchlens.stages.progress import Reporter
from patchlens.store import schema
from patchlens.store.db import open_store
from tests.conftest import data_path
from tests.helpers.gitrepos import posted_patch, two_commit_repo


class Recorder(Reporter):
    """A reporter that remembers each task: its description, total, and how far it got."""

    def __init__(self) -> None:
        super().__init__(quiet=True)
        self.tasks: list[dict] = []

    @contextmanager
    def task(self, description: str, total: int | None = None) -> Iterator:  # type: ignore[override]
        rec = {"description": description, "total": total, "done": 0}
        self.tasks.append(rec)

        class _Task:
            def advance(self, n: int = 1) -> None:
                rec["done"] += n

        yield _Task()


def _store(tmp_path: Path, reporter: Reporter) -> Engine:
    """The real xen/qemu threads, a repository and a patch of it posted to the list."""
    repo = two_commit_repo(tmp_path / "repo")
    posted = posted_patch(repo, tmp_path / "posted.mbox")
    engine = open_store(str(tmp_path / "s.db"))
    samples = sorted(data_path("xen-qemu-samples").glob("*.mbox"))
    ingest.add_list(engine, "xq", [*map(str, samples), str(posted)])
    ingest.add_repo(engine, "r", str(repo), [])
    reports = ingest.run_update(engine, tmp_path / "cache", reporter, jobs=1)
    assert not [r.error for r in reports if r.error]
    return engine


def _stages(engine: Engine, tmp_path: Path, reporter: Reporter | None = None):  # type: ignore[no-untyped-def]
    return run_stages(
        engine, Config(), tmp_path / "cache", reporter or Reporter(quiet=True), jobs=1
    )


def _count(engine: Engine, table, *where) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def test_every_step_reports_a_total_and_reaches_it(tmp_path: Path) -> None:
    ingest_rec, rec = Recorder(), Recorder()
    engine = _store(tmp_path, ingest_rec)
    _stages(engine, tmp_path, rec)
    by_name = {t["description"]: t for t in rec.tasks}
    for t in rec.tasks:
        assert t["total"] is not None and t["total"] > 0, t
        assert t["done"] == t["total"], t
    messages = _count(engine, schema.messages)
    commits = _count(engine, schema.commits, ~schema.commits.c.is_merge)
    postings = _count(engine, schema.patch_commits)  # at least the one posted patch
    # Ingest's workers analyse and fingerprint what they read (issue 11's cold path): the
    # steps after it show a bar only for what is left to do, and then reach its total.
    a = schema.message_analysis
    assert _count(engine, a, a.c.analysis_version == analysis.ANALYSIS_VERSION) == messages
    assert "analysing messages" not in by_name and "fingerprinting diffs" not in by_name
    assert by_name["reconstructing review (messages)"]["total"] == messages
    matching = by_name["matching (postings + commits)"]["total"]
    assert matching > commits >= 2 and postings == 1
    assert by_name["computing metrics (series)"]["total"] == _count(engine, schema.series)
    # Ingest: a repository knows its total; an mbox is read as a stream (no total).
    repo_tasks = [t for t in ingest_rec.tasks if t["description"].startswith("r: ")]
    assert repo_tasks and all(t["total"] == t["done"] == 2 for t in repo_tasks)


def test_a_new_analysis_version_redoes_the_stored_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = _store(tmp_path, Reporter(quiet=True))
    first = _stages(engine, tmp_path)
    messages = _count(engine, schema.messages)
    assert first.analysed == 0  # ingest's workers analysed every message as they read it
    a = schema.message_analysis
    assert _count(engine, a, a.c.analysis_version == analysis.ANALYSIS_VERSION) == messages
    with engine.connect() as conn:
        written = dict(conn.execute(select(a.c.message_pk, a.c.lines_written)).all())
        events = sum(conn.execute(select(schema.review_events.c.lines_written)).scalars())
        n_events = _count(engine, schema.review_events)
        trailers = _count(engine, schema.message_trailers)
    assert n_events > 0 and trailers > 0
    assert _stages(engine, tmp_path).skipped  # nothing new: nothing redone

    # "Improve" the reply parser: every reply now counts 100 more written lines.
    improved = analysis.ANALYSIS_VERSION + 1
    real = analysis.analyze_reply
    monkeypatch.setattr(analysis, "ANALYSIS_VERSION", improved)
    monkeypatch.setattr(
        analysis,
        "analyze_reply",
        lambda body: dataclasses.replace(real(body), lines_written=real(body).lines_written + 100),
    )
    second = _stages(engine, tmp_path)
    assert not second.skipped
    assert second.analysed == messages
    assert _count(engine, a, a.c.analysis_version == improved) == messages
    with engine.connect() as conn:
        now = dict(conn.execute(select(a.c.message_pk, a.c.lines_written)).all())
        posting = dict(conn.execute(select(a.c.message_pk, a.c.is_posting)).all())
        events_now = sum(conn.execute(select(schema.review_events.c.lines_written)).scalars())
    for pk, lines in written.items():
        assert now[pk] == (lines if posting[pk] else lines + 100), pk
    # The later stages ran on the new analysis; nothing was stored twice.
    assert events_now == events + 100 * n_events
    assert _count(engine, schema.message_trailers) == trailers
    assert _stages(engine, tmp_path).skipped


def test_a_new_fingerprint_version_redoes_the_fingerprints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = _store(tmp_path, Reporter(quiet=True))
    _stages(engine, tmp_path)
    fp = schema.diff_fingerprints
    stored = _count(engine, fp)
    links = _count(engine, schema.patch_commits)
    assert stored > 0 and links == 1
    monkeypatch.setattr(match_stage, "FINGERPRINT_VERSION", match_stage.FINGERPRINT_VERSION + 1)
    st = _stages(engine, tmp_path)
    assert not st.skipped
    assert st.fingerprinted == stored
    assert _count(engine, fp, fp.c.fp_version == match_stage.FINGERPRINT_VERSION) == stored
    assert _count(engine, schema.patch_commits) == links
    assert _stages(engine, tmp_path).skipped
