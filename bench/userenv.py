"""The benches time `patchlens` as a user runs it, with Python's bytecode cache in use.

Some shells (this workplace's among them) set PYTHONDONTWRITEBYTECODE=1: then no `.pyc` is
ever written for an editable install, and every timed process compiles patchlens's ~100
modules from source again (0.2-0.3 s a process here, as much as a no-op update's own work).
A user's installation has its bytecode (pip compiles it on install, or Python writes it on
first import), and so does Perceval's in site-packages: each bench's `main` calls
`user_environment()` first, which its child processes inherit."""

from __future__ import annotations

import os


def user_environment() -> None:
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
