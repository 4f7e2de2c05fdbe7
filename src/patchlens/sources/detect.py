"""Which reader a list source needs, decided from the data, never from the name alone."""

from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path

from patchlens.sources.base import ListSource, SourceError
from patchlens.sources.gitutil import is_url
from patchlens.sources.maildir import EmlSource, MaildirSource
from patchlens.sources.mbox import MboxSource, open_maybe_compressed
from patchlens.sources.perceval import PercevalSource, looks_like_items
from patchlens.sources.publicinbox import PublicInboxSource, looks_like_public_inbox

FORMATS = ("public-inbox", "mbox", "pipermail", "hyperkitty", "maildir", "eml", "perceval")
_PIPERMAIL_NAME = re.compile(r"^\d{4}-[A-Za-z]+\.txt(\.gz)?$")
_HEADER = re.compile(rb"^[!-9;-~]+:[ \t]")


def check_path(location: str) -> os.stat_result:
    """The stat of a local source, which must be a folder or a regular file: a FIFO or a
    device would block or never end, and a symlink loop has nothing to read. One line
    (a SourceError) naming the path otherwise."""
    path = Path(location).expanduser()
    try:
        st = path.stat()
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise SourceError(f"{location}: a symbolic link loop") from None
        if e.errno == errno.ENOENT:
            raise SourceError(f"{location}: no such file or directory") from None
        raise SourceError(f"{location}: cannot read: {e.strerror}") from None
    if not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)):
        raise SourceError(f"{location}: not a regular file or folder; refused")
    return st


def detect_format(location: str) -> str:
    """The format of a list source; a clear SourceError naming the location if unknown."""
    if is_url(location):
        return "public-inbox"
    path = Path(location).expanduser()
    st = check_path(location)
    if stat.S_ISDIR(st.st_mode):
        if (path / "cur").is_dir() and (path / "new").is_dir():
            return "maildir"
        if looks_like_public_inbox(path):
            return "public-inbox"
        raise SourceError(
            f"{location}: a folder that is neither a Maildir (cur/, new/) nor a public-inbox "
            "archive (a git repository, or git/N.git epochs)"
        )
    if looks_like_public_inbox(path):
        return "public-inbox"  # a git bundle
    try:
        with open_maybe_compressed(path) as f:
            head = f.read(4096)
            if head.lstrip().startswith(b"{"):
                # Perceval items (JSON lines): an item is often longer than 4 KiB.
                head += f.readline(64 << 20)
    except OSError as e:
        raise SourceError(f"{location}: cannot read: {e}") from e
    if head.lstrip().startswith(b"{"):
        if looks_like_items(head.lstrip()):
            return "perceval"
        raise SourceError(
            f"{location}: line 1: JSON, but not a Perceval item (an object with a 'data' "
            "object, or a raw-index hit with one in '_source')"
        )
    if head.startswith(b"From "):
        first = head.split(b"\n", 2)
        if _PIPERMAIL_NAME.match(path.name) or (len(first) > 1 and b" at " in first[0]):
            # Mailman 2 pipermail (and HyperKitty exports of it) hide addresses as
            # "user at host"; the mbox reader handles both, the name is for the record.
            return "pipermail"
        return "mbox"
    if _HEADER.match(head):
        return "eml"
    raise SourceError(
        f"{location}: unknown archive format (not mbox, mbox.gz/.xz, Maildir, public-inbox, "
        "git bundle or RFC 822 file)"
    )


def open_source(location: str, fmt: str, cache: Path) -> ListSource:
    if fmt == "public-inbox":
        return PublicInboxSource(location, cache)
    if fmt in ("mbox", "pipermail", "hyperkitty"):
        return MboxSource(location, fmt)
    if fmt == "maildir":
        return MaildirSource(location)
    if fmt == "eml":
        return EmlSource(location)
    if fmt == "perceval":
        return PercevalSource(location)
    raise SourceError(f"{location}: unknown format {fmt!r} (known: {', '.join(FORMATS)})")
