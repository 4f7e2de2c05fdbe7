"""Running the `patchlens` command as a user does: a fresh process in a directory, without the
environment's store or configuration, so that only the arguments (and ./patchlens.toml) say
which store and configuration it uses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_cli(cwd: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    """`python -m patchlens ARGS` in `cwd`, PATCHLENS_DB and PATCHLENS_CONFIG unset."""
    env = {k: v for k, v in os.environ.items() if k not in ("PATCHLENS_DB", "PATCHLENS_CONFIG")}
    return subprocess.run(
        [sys.executable, "-m", "patchlens", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
