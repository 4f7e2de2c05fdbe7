"""Maildir folders, and single RFC 822 files (`.eml`).

Maildir file names are unique and never reused, so the cursor is the set of names already
read; a flag change renames `name:2,S` to `name:2,RS`, so names are compared without flags.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from patchlens.sources.base import Batch, Damage, Plan, RawMessage, SourceError
from patchlens.sources.mbox import split_run_together


def _key(name: str) -> str:
    return name.split(":", 1)[0]


class Unreadable(Exception):
    """A Maildir entry that is not read: the reason, for the damage report."""


def read_regular(path: Path, root: Path | None = None) -> tuple[bytes, int]:
    """The bytes and mtime of a regular file. A symlink is followed only to a file inside
    `root` (a Maildir entry pointing at /etc/shadow is not read); a FIFO, device or folder
    is refused without opening it for reading (O_NONBLOCK: a FIFO never blocks)."""
    if path.is_symlink():
        try:
            target = path.resolve(strict=True)
        except FileNotFoundError:
            raise Unreadable("a symbolic link to nothing (dangling)") from None
        except (OSError, RuntimeError):
            raise Unreadable("a symbolic link loop") from None
        if root is None or not target.is_relative_to(root.resolve()):
            raise Unreadable("a symbolic link to a file outside the Maildir: not followed")
        path = target
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except IsADirectoryError:
        raise Unreadable("not a regular file (a folder)") from None
    except FileNotFoundError:
        raise
    except OSError as e:
        raise Unreadable(f"cannot read: {e.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = " (a folder)" if stat.S_ISDIR(st.st_mode) else ""
            raise Unreadable(f"not a regular file{kind}")
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(), int(st.st_mtime)
    except OSError as e:
        raise Unreadable(f"cannot read: {e.strerror}") from None
    finally:
        os.close(fd)


class MaildirSource:
    format = "maildir"

    def __init__(self, location: str) -> None:
        self.location = location
        self.path = Path(location)

    def _files(self) -> list[tuple[str, Path]]:
        """Every entry of cur/ and new/ but hidden ones (a Maildir's own temporary names):
        entries that are not regular files are listed too, so they are reported, not
        silently skipped."""
        out = []
        for sub in ("cur", "new"):
            d = self.path / sub
            if d.is_dir():
                out.extend((_key(p.name), p) for p in d.iterdir() if not p.name.startswith("."))
        out.sort()
        return out

    def _read(self, key: str, path: Path) -> tuple[bytes, int] | None:
        """The file's bytes and time; a mail client may have moved it (new/ -> cur/, a flag
        added) since it was listed, so look it up again by its unique part. None if gone:
        it is not marked as read, so a later update takes it. Unreadable if it cannot be
        read (permission, not a regular file, a symlink leaving the Maildir).

        The folder is listed again only when the file is gone: listing it for every file
        made reading a Maildir quadratic (7,000 messages: minutes)."""
        try:
            return read_regular(path, self.path)
        except FileNotFoundError:
            pass
        for k, p in self._files():
            if k == key and p != path:
                try:
                    return read_regular(p, self.path)
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
            damage = []
            for k, p in todo[i : i + batch_size]:
                where = f"{self.location}: {p.parent.name}/{p.name}"
                try:
                    got = self._read(k, p)
                except Unreadable as e:
                    # Not marked as read: the next update tries it again.
                    damage.append(Damage(where, str(e)))
                    continue
                if got is not None:
                    msgs.extend(_messages(got[0], k, got[1], where, damage))
                    done.append(k)
            yield Batch(msgs, {"seen": sorted(done)}, damage)
        if not todo:
            yield Batch([], None)


def _messages(
    raw: bytes, position: str, when: int, where: str, damage: list[Damage]
) -> list[RawMessage]:
    """The message of one file, or the several it holds (reported in `damage`)."""
    parts = split_run_together(raw)
    if len(parts) > 1:
        damage.append(
            Damage(
                where,
                f"one file holds {len(parts)} messages (one header block with a Message-ID "
                "each); split and stored as separate messages",
            )
        )
    return [
        RawMessage(part, position if at == 0 else f"{position}+{at}", when) for at, part in parts
    ]


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
        try:
            raw, when = read_regular(self.path, self.path.parent)
        except (Unreadable, OSError) as e:
            raise SourceError(f"{self.location}: {e}") from e
        damage: list[Damage] = []
        msgs = _messages(raw, self.path.name, when, self.location, damage)
        batch = Batch(msgs, {"mtime": st.st_mtime_ns, "size": st.st_size}, damage)
        return Plan(total=len(msgs), batches=iter([batch]))
