"""Maildir folders, and single RFC 822 files (`.eml`).

Maildir file names are unique and never reused, so the cursor is the set of names already
read; a flag change renames `name:2,S` to `name:2,RS`, so names are compared without flags.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from patchlens.sources.base import Batch, Plan, RawMessage, SourceError


def _key(name: str) -> str:
    return name.split(":", 1)[0]


class MaildirSource:
    format = "maildir"

    def __init__(self, location: str) -> None:
        self.location = location
        self.path = Path(location)

    def _files(self) -> list[tuple[str, Path]]:
        out = []
        for sub in ("cur", "new"):
            d = self.path / sub
            if d.is_dir():
                out.extend((_key(p.name), p) for p in d.iterdir() if p.is_file())
        out.sort()
        return out

    def _read(self, key: str, path: Path) -> tuple[bytes, int] | None:
        """The file's bytes and time; a mail client may have moved it (new/ -> cur/, a flag
        added) since it was listed, so look it up again by its unique part. None if gone:
        it is not marked as read, so a later update takes it."""
        for p in (path, *(q for k, q in self._files() if k == key)):
            try:
                return p.read_bytes(), int(p.stat().st_mtime)
            except FileNotFoundError:
                continue
        return None

    def plan(self, cursor: dict[str, Any] | None, batch_size: int) -> Plan:
        if not (self.path / "cur").is_dir():
            raise SourceError(f"{self.location}: not a Maildir (no cur/ folder)")
        seen = set((cursor or {}).get("seen", []))
        todo = [(k, p) for k, p in self._files() if k not in seen]
        return Plan(total=len(todo), batches=self._batches(todo, seen, batch_size))

    def _batches(
        self, todo: list[tuple[str, Path]], seen: set[str], batch_size: int
    ) -> Iterator[Batch]:
        done = sorted(seen)
        for i in range(0, len(todo), batch_size):
            msgs = []
            for k, p in todo[i : i + batch_size]:
                got = self._read(k, p)
                if got is not None:
                    msgs.append(RawMessage(got[0], k, got[1]))
                    done.append(k)
            yield Batch(msgs, {"seen": sorted(done)})
        if not todo:
            yield Batch([], None)


class EmlSource:
    """One message in one file: for fixtures and the odd mail saved from a client."""

    format = "eml"

    def __init__(self, location: str) -> None:
        self.location = location
        self.path = Path(location)

    def plan(self, cursor: dict[str, Any] | None, batch_size: int) -> Plan:
        try:
            st = self.path.stat()
        except OSError as e:
            raise SourceError(f"{self.location}: cannot read: {e.strerror}") from e
        if cursor and cursor.get("mtime") == st.st_mtime_ns and cursor.get("size") == st.st_size:
            return Plan(total=0, batches=iter(()))
        raw = self.path.read_bytes()
        batch = Batch(
            [RawMessage(raw, self.path.name, int(st.st_mtime))],
            {"mtime": st.st_mtime_ns, "size": st.st_size},
        )
        return Plan(total=1, batches=iter([batch]))
