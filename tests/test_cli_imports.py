"""What a command loads: `update` with nothing new, or new mail in a week whose prediction
model is stored, does not import numpy (a tenth of a second of every update and no-op); the
commands that compute with it do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROBE = """
import sys
from patchlens.cli import main
sys.argv = ["patchlens", "--db", sys.argv[1], "-q", *sys.argv[2:]]
try:
    main()
except SystemExit as e:
    assert e.code in (0, None), e.code
print("numpy" in sys.modules)
"""


def _mail(n: int) -> str:
    return (
        f"From x Mon Jan  1 00:00:00 2001\nFrom: Dev <dev@example.org>\n"
        f"Subject: [PATCH] fix thing {n}\nDate: Tue, 15 Jan 2019 1{n}:00:00 +0000\n"
        f"Message-ID: <m{n}@example.org>\n\nbody\n---\n"
        f"diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b{n}\n\n"
    )


def _numpy_loaded(db: Path, *args: str) -> bool:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(db), *args], capture_output=True, text=True, check=True
    )
    return out.stdout.split()[-1] == "True"


def test_an_update_within_the_models_week_does_not_load_numpy(
    tmp_path: Path, erofs_utils: Path
) -> None:
    mbox, db = tmp_path / "l.mbox", tmp_path / "s.db"
    mbox.write_text(_mail(1))
    # A repository: a store without one fits no model (stages/prediction.py).
    for args in (("add-list", "l", str(mbox)), ("add-repo", "r", str(erofs_utils))):
        subprocess.run(
            [sys.executable, "-m", "patchlens", "--db", str(db), "-q", *args], check=True
        )
    assert _numpy_loaded(db, "update")  # the first: the model is fitted (numpy)
    mbox.write_text(_mail(1) + _mail(2))
    assert not _numpy_loaded(db, "update")  # new mail, the same week: the model is kept
    assert not _numpy_loaded(db, "update")  # nothing new
    assert _numpy_loaded(db, "report")
