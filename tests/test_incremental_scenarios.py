"""Mail arriving one message at a time, in any order, gives the store one update gives.

The scenario mailboxes (tests/fixtures/scenarios) tell the review stories reconstruction must
get right: re-rolls, partial re-rolls, resends, broken threads, duplicate Message-IDs, pull
requests. Here all of them are read into one archive one message at a time, with an update
after each, in the order of the files and in the reverse order (replies before what they
answer, v2 before v1, as a mirror that fetched out of order would), and every table of the
store must equal that of one update over everything. An incremental update that redoes too
little, or decides differently from a whole rebuild, fails this.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from patchlens.config import Config
from patchlens.sources.mbox import iter_mbox
from patchlens.stages import ingest
from patchlens.stages.pipeline import run_stages
from patchlens.stages.progress import Reporter
from patchlens.store.db import open_store
from tests.helpers.publicinbox import add_message, init
from tests.helpers.storedump import logical_dump

SCENARIOS = Path(__file__).parent / "fixtures" / "scenarios"


def _messages() -> list[bytes]:
    out = []
    for box in sorted(SCENARIOS.glob("[0-9][0-9]-*.mbox")):
        with box.open("rb") as f:
            out += [raw for _start, _end, raw, _date in iter_mbox(f)]
    return out


def _store(
    tmp: Path, batches: list[list[bytes]], commits: Path, url: str | None = None
) -> tuple[str, list[bool]]:
    repo = init(tmp / "inbox.git")
    db = url or str(tmp / "s.db")
    engine = open_store(db)
    ingest.add_list(engine, "scenarios", [str(repo)])
    # A repository, any: a store without one fits no time-to-merge model (stages/prediction.py),
    # and the model's lag is part of what is compared below.
    ingest.add_repo(engine, "commits", str(commits), ["dev"])
    incremental = []
    quiet = Reporter(quiet=True)
    for batch in batches:
        for raw in batch:
            add_message(repo, raw)
        ingest.run_update(engine, tmp / "cache", quiet, jobs=1)
        rep = run_stages(engine, Config(), tmp / "cache", quiet, jobs=1)
        incremental.append(rep.review.incremental)
    engine.dispose()
    return db, incremental


@pytest.mark.parametrize("order", ["as-filed", "reversed"])
def test_one_message_at_a_time_equals_one_update(
    tmp_path: Path, order: str, erofs_utils: Path
) -> None:
    _compare(tmp_path, order, erofs_utils, None)


@pytest.mark.slow
def test_one_message_at_a_time_on_postgresql(
    tmp_path: Path, postgres: str, erofs_utils: Path
) -> None:
    """The same replay into PostgreSQL (the incremental steps' lookups, partial syncs and
    64-bit keys there) gives what one update into SQLite gives."""
    _compare(tmp_path, "as-filed", erofs_utils, postgres)


def _compare(tmp_path: Path, order: str, commits: Path, url: str | None) -> None:
    msgs = _messages()
    assert len(msgs) > 40
    if order == "reversed":
        msgs = msgs[::-1]
    once, _ = _store(tmp_path / "once", [msgs], commits)
    step, incremental = _store(tmp_path / "step", [[raw] for raw in msgs], commits, url)
    # every update after the first took the incremental path (none fell back to a rebuild)
    assert all(incremental[1:]), incremental.count(False)
    a, b = logical_dump(Path(once)), logical_dump(step)  # type: ignore[arg-type]
    # Which copy of a duplicated Message-ID is kept whole is the first one read (ingest's
    # rule, stages/records.py); the archive's path is the test's own. Both aside, every
    # table must agree.
    assert [r[0] for r in a.pop("messages")] == [r[0] for r in b.pop("messages")]
    for table in ("list_sources", "message_variants"):
        del a[table], b[table]
    # The time-to-merge model is fitted at the first update of the data's last week, on what was
    # known before that week then (stages/prediction.py): mail dated before the week that is
    # read later (in reverse order the newest message comes first) legitimately leaves it
    # behind until the next week's refit. Every other table must agree; and `update --force`
    # refits it to the one-update store's model.
    differing = [t for t in a if a[t] != b[t] and t != "prediction_model"]
    assert not differing, f"tables that differ: {differing}"
    engine = open_store(step)
    run_stages(engine, Config(), tmp_path / "step" / "cache", Reporter(quiet=True), force=True)
    engine.dispose()
    assert a["prediction_model"], "the one-update store has a model row"
    assert logical_dump(step)["prediction_model"] == a["prediction_model"]  # type: ignore[arg-type]
