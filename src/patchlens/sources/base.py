"""What every archive reader yields, and the errors they raise."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol


class SourceError(Exception):
    """A source that cannot be read at all: the message names the file and the reason."""


@dataclass(slots=True)
class RawMessage:
    raw: bytes
    # Where in the source it was found (mbox byte offset, public-inbox commit, file name):
    # stable across runs, so a re-read never stores a message twice.
    position: str
    # The archive's own time for the message (mbox From_ line, public-inbox commit), used
    # only when the Date header is unusable.
    archive_date: int | None = None


@dataclass(slots=True)
class Damage:
    """A part of a source that could not be read: where (file and offset, commit and
    object, file name) and why. The source is read around it; the next update tries again."""

    position: str
    reason: str


@dataclass(slots=True)
class Batch:
    messages: list[RawMessage]
    # The cursor to store once this batch is committed; None to keep the old one until a
    # later batch (or the end of the run) moves it.
    cursor: dict[str, Any] | None = None
    # What could not be read in this stretch of the source, recorded with the batch.
    damage: list[Damage] = field(default_factory=list)


@dataclass(slots=True)
class Plan:
    """What an update of one source will read: its size for the progress bar, and batches."""

    total: int | None
    batches: Iterator[Batch]
    notes: list[str] = field(default_factory=list)


class ListSource(Protocol):
    location: str
    format: str

    def plan(self, cursor: dict[str, Any] | None, batch_size: int) -> Plan: ...
