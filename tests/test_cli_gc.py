"""`patchlens update` runs with fewer young collections of the garbage collector (an update
holds tens of thousands of small objects alive: at the default thresholds the collector took
a sixth of a day's update of the million-message store), and gives the process its own
thresholds back when it ends, for a caller in the same process (the demo, tests)."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from patchlens import cli
from patchlens.stages.pipeline import StagesReport


def test_an_update_collects_less_often_and_puts_the_thresholds_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[int, int, int]] = []

    def run_stages(*_args, **_kwargs) -> StagesReport:
        seen.append(gc.get_threshold())
        return StagesReport()

    monkeypatch.setattr(cli, "run_stages", run_stages)
    monkeypatch.setattr(cli.state, "db", str(tmp_path / "s.db"))
    monkeypatch.setattr(cli.state, "config", None)
    monkeypatch.chdir(tmp_path)  # no settings file
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        reports, _ = cli._run_update()
        assert reports == []
        assert seen == [(cli.UPDATE_GC_THRESHOLD, 10, 10)]
        assert gc.get_threshold() == (700, 10, 10)
    finally:
        gc.set_threshold(*before)


def test_an_update_that_fails_to_open_its_store_puts_the_thresholds_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def open_store(_db):
        raise RuntimeError("no such store")

    monkeypatch.setattr(cli, "open_store", open_store)
    monkeypatch.setattr(cli.state, "db", str(tmp_path / "s.db"))
    monkeypatch.setattr(cli.state, "config", None)
    monkeypatch.chdir(tmp_path)
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        with pytest.raises(RuntimeError):
            cli._run_update()
        assert gc.get_threshold() == (700, 10, 10)
    finally:
        gc.set_threshold(*before)
