"""Progress bars for long steps (count and rate), silent under --quiet, and what a step after
ingest reports once done."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol, TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class Task(Protocol):
    def advance(self, n: int = 1) -> None: ...


T = TypeVar("T")


@dataclass
class StepReport:
    """What every step after ingest reports: how many stored rows it changed (a step writes
    only what differs, so 0 says its output was current). Each step adds its own counts."""

    changed_rows: int = 0


def advancing(items: Iterable[T], task: Task | None, every: int = 500) -> Iterator[T]:
    """The items, advancing `task` by one per item as they are used, in steps of `every` (a
    bar redrawn per item would cost more than the items); by the rest once they run out."""
    n = 0
    for item in items:
        yield item
        n += 1
        if n == every:
            if task is not None:
                task.advance(n)
            n = 0
    if n and task is not None:
        task.advance(n)


class _Silent:
    def advance(self, n: int = 1) -> None:
        pass


class _RichTask:
    def __init__(self, progress: Progress, task_id: int) -> None:
        self._p = progress
        self._id = task_id

    def advance(self, n: int = 1) -> None:
        self._p.advance(self._id, n)  # type: ignore[arg-type]


class RateColumn(TextColumn):
    def __init__(self, unit: str = "/s") -> None:
        super().__init__("")
        self.unit = unit

    def render(self, task):  # type: ignore[no-untyped-def]
        from rich.text import Text

        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f}{self.unit}" if speed else "", style="progress.data.speed")


class Reporter:
    """Hands out progress tasks; one per long step."""

    def __init__(self, quiet: bool = False, console: Console | None = None) -> None:
        self.quiet = quiet
        self.console = console or Console(stderr=True)

    @contextmanager
    def task(self, description: str, total: int | None = None) -> Iterator[Task]:
        if self.quiet:
            yield _Silent()
            return
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            RateColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        ) as progress:
            yield _RichTask(progress, progress.add_task(description, total=total))

    def note(self, text: str) -> None:
        if not self.quiet:
            self.console.print(text)
