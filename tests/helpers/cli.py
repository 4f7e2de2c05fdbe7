"""Running the `patchlens` command as a user does, without the environment's store or
configuration, so that only the arguments (and ./patchlens.toml) say which store and
configuration it uses.

`run_cli` starts a fresh process. `invoke_cli` runs the same command line inside the test's
process (typer's CliRunner), for tests whose subject is what a command does, not the process
(signals, the entry point, the environment it starts in): a process start costs half a second
or more. It gives what `run_cli` gives: the exit status, stdout and stderr apart, with what a
fresh process would print to stderr besides the command's own lines (warnings, and log records
no handler takes); an exception the command does not handle is raised in the test instead of
ending the process with status 1. Not the same: what forked worker processes (an update's
parse workers) write to stderr stays in their copy of the captured stream, so a test whose
subject is an empty stderr after an update runs the process."""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path

UNSET = ("PATCHLENS_DB", "PATCHLENS_CONFIG")


def run_cli(cwd: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    """`python -m patchlens ARGS` in `cwd`, PATCHLENS_DB and PATCHLENS_CONFIG unset."""
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    return subprocess.run(
        [sys.executable, "-m", "patchlens", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@contextlib.contextmanager
def _as_a_fresh_process() -> Iterator[None]:
    """Warnings and log records reach sys.stderr (CliRunner's) as in a new interpreter:
    Python's default warning filters, printed; no root handler, so that a record no handler
    takes goes to logging.lastResort; the pool's handler (cli/__init__.py) writing to the
    stderr of now, not the one it was made with."""
    from patchlens import cli

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    pool_stream = cli._pool_log.stream
    with warnings.catch_warnings():
        warnings.resetwarnings()
        for action, category, module in (
            ("default", DeprecationWarning, "__main__"),
            ("ignore", DeprecationWarning, ""),
            ("ignore", PendingDeprecationWarning, ""),
            ("ignore", ImportWarning, ""),
            ("ignore", ResourceWarning, ""),
        ):
            warnings.filterwarnings(action, category=category, module=module, append=True)
        warnings.showwarning = _show_warning
        root.handlers[:] = []
        root.setLevel(logging.WARNING)
        cli._pool_log.setStream(sys.stderr)
        try:
            yield
        finally:
            cli._pool_log.setStream(pool_stream)
            root.handlers[:] = handlers
            root.setLevel(level)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def invoke_cli(
    *args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`patchlens ARGS` in this process, in `cwd` (the current directory when None), with
    PATCHLENS_DB and PATCHLENS_CONFIG unset and `env` added."""
    from typer.testing import CliRunner

    from patchlens.cli import app

    before = Path.cwd()
    runner = CliRunner()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with _as_a_fresh_process():
            res = runner.invoke(
                app,
                list(args),
                env={**(env or {}), **dict.fromkeys(UNSET)},
                catch_exceptions=False,
                prog_name="python -m patchlens",
            )
    finally:
        os.chdir(before)
    return subprocess.CompletedProcess(
        ["patchlens", *args], res.exit_code, stdout=res.stdout, stderr=res.stderr
    )
