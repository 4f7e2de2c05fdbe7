"""A series without a diff (a question, an RFC or a cover letter alone) cannot be seen merged
by any commit: idle past the abandoned threshold it is "unknown", as in a store without a
repository, not "abandoned" (LTP: 34 of 616 abandoned series had no diff; 3 of the 5 an
audit read had led to merged work under another title). A series with a diff, as idle, is
abandoned; the store's registered flag is kept apart from such series' (a store whose only
series had no diff would otherwise look unregistered and be rebuilt on every update)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from patchlens.config import Config
from patchlens.stages import changes, ingest
from patchlens.stages.pipeline import run_stages
from patchlens.stages.progress import Reporter
from patchlens.store import schema
from patchlens.store.db import open_store
from tests.helpers.gitrepos import two_commit_repo
from tests.test_went_in_elsewhere import _patch, _states, _update

DIFF_Z = """diff --git a/README b/README
index 587be6b..1a2b3c4 100644
--- a/README
+++ b/README
@@ -1 +1,2 @@
 x
+z
"""


def _mail(mid: str, date: str, subject: str, body: str) -> str:
    return (
        f"From mboxrd@z Thu Jan  1 00:00:00 1970\nFrom: Ann Smith <a@example.com>\n"
        f"Date: {date}\nMessage-ID: <{mid}>\nSubject: {subject}\n\n{body}\n\n"
    )


def test_a_series_without_a_diff_is_unknown_not_abandoned(tmp_path: Path) -> None:
    repo = two_commit_repo(tmp_path / "repo")
    who = "Ann Smith <a@example.com>"
    mbox = tmp_path / "list.mbox"
    mbox.write_text(
        _mail("q@t", "02 Jan 2023 10:00:00 +0000", "[RFC PATCH] What about z?", "Thoughts?")
        + _mail(
            "m@t",
            "03 Jan 2023 10:00:00 +0000",
            "[PATCH] README: say z",
            _patch("z", who, DIFF_Z),
        )
        + _mail("n@t", "20 Nov 2023 10:00:00 +0000", "[PATCH] Later: unrelated", "Later.")
    )
    engine = open_store(str(tmp_path / "s.db"))
    ingest.add_list(engine, "l", [str(mbox)])
    ingest.add_repo(engine, "r", str(repo), [])
    _update(engine, tmp_path)
    states = _states(engine)
    assert states["q@t"][0] == "unknown"
    assert states["m@t"][0] == "abandoned"
    sm = schema.series_metrics
    with engine.connect() as conn:
        flags = dict(conn.execute(select(sm.c.series_key, sm.c.repo_registered)).all())
        assert flags["q@t"] is False and flags["m@t"] is True
        assert changes.state(conn, schema.METRICS_REGISTERED) == "1"
        marks = conn.execute(select(func.count()).select_from(schema.pending_work)).scalar()
    assert marks == 0
    # Every series the store holds has a diff or not: only the store's own flag says whether
    # a repository was registered, so new mail redoes the series it touches, not all.
    with mbox.open("a") as f:
        f.write(_mail("o@t", "21 Nov 2023 10:00:00 +0000", "[RFC] Another question", "Hm?"))
    ingest.run_update(engine, tmp_path / "cache", Reporter(quiet=True), jobs=1)
    rep = run_stages(engine, Config(), tmp_path / "cache", Reporter(quiet=True), jobs=1)
    assert rep.metrics.series == 1
    assert _states(engine)["o@t"][0] == "new"
