"""A series version as a maintainer applies it: an mbox for `git am`, patches 1..N in order,
each with the review trailers collected from the replies (as `b4 am` collects them) and a
`Link:` to the archive.

Pure: the postings and the follow-up trailers come in as values (queries/am.py reads them);
bytes come out. Nothing from a message reaches a shell: the result is a file for git to read.

The rules, b4's:
- a patch keeps its own commit message and trailers as posted;
- trailers given in a reply to that patch are added, then those given in a reply to the cover
  letter (they apply to every patch), each in the order the replies were sent;
- a trailer already present (same key and value, case aside) is not added twice;
- a trailer is taken only from its giver: its address or its name must be the reply sender's
  (b4 calls the others "sloppy" and leaves them out), and only person trailers with an
  address (Reviewed-by, Acked-by, Tested-by, ...);
- `Link:` to the patch's own Message-ID in the archive comes last;
- a partial re-roll (v3 of patch 2 only) takes the patches it does not replace from the version
  it re-rolls, with their trailers (queries/am.py assembles them).

The mbox is mboxrd: a body line starting with "From " (after any '>') gets one more '>', so
`git am --patch-format=mboxrd` restores every line exactly (plain `git am` keeps the '>' in the
commit message; a diff line never starts with "From ").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.header import Header
from email.utils import format_datetime, formataddr
from urllib.parse import quote

from patchlens.mail.trailers import Trailer, make_trailer, posting_trailers

SEPARATOR = b"From git@z Thu Jan  1 00:00:00 1970\n"
MEDIA_TYPE = "application/mbox"
# git mailinfo's patch break: a line "---" (then only blanks), or a diff starting.
_PATCH_BREAK = re.compile(r"^(---\s*$|diff -|Index: )", re.M)
_SIGNATURE = re.compile(r"^-- $", re.M)
_FROM_LINE = re.compile(rb"^(>*From )", re.M)
_CONTROL = re.compile(r"[\r\n\x00]+")


@dataclass(frozen=True)
class Posting:
    """One patch as posted (the stored, decoded text; `body` without the diff)."""

    message_id: str
    from_name: str
    from_addr: str
    subject: str
    date_utc: int | None
    date_offset: int | None
    body: str
    diff: str


@dataclass(frozen=True)
class FollowUp:
    """One trailer given in a reply; `to_cover` when the reply answers the cover letter."""

    message_id: str  # the posting the reply answers (ignored when to_cover)
    to_cover: bool
    from_name: str
    from_addr: str
    trailer: Trailer


@dataclass
class AmPatch:
    message_id: str
    subject: str
    own: list[Trailer]
    added: list[Trailer]
    link: str | None
    mail: bytes = field(repr=False)


def link_for(template: str, message_id: str) -> str:
    """The archive address of a Message-ID from a template with `{message_id}`."""
    return template.format(message_id=quote(message_id, safe="@"))


def split_message(body: str) -> str:
    """The commit message of a posting's body (the text before git's patch break); when there
    is no break, the text before a "-- " signature."""
    m = _PATCH_BREAK.search(body)
    if m is None:
        m = _SIGNATURE.search(body)
    text = body[: m.start()] if m else body
    return text.rstrip() + "\n" if text.strip() else ""


def _given_by_sender(f: FollowUp) -> bool:
    t = f.trailer
    if not t.email:
        return False
    if t.email.lower() == f.from_addr.lower():
        return True
    return bool(t.name and f.from_name and t.name.casefold() == f.from_name.casefold())


def _same(t: Trailer) -> tuple[str, str]:
    return t.key.lower(), " ".join(t.value.split()).lower()


def collect(
    own: Sequence[Trailer], followups: Sequence[FollowUp], message_id: str
) -> list[Trailer]:
    """The trailers to add to one patch: its own replies' first, then the cover letter's,
    without those it already has or that were given twice."""
    seen = {_same(t) for t in own}
    out: list[Trailer] = []
    mine = [f for f in followups if not f.to_cover and f.message_id == message_id]
    cover = [f for f in followups if f.to_cover]
    for f in [*mine, *cover]:
        if not _given_by_sender(f) or _same(f.trailer) in seen:
            continue
        seen.add(_same(f.trailer))
        out.append(make_trailer(f.trailer.key, f.trailer.value))
    return out


def with_trailers(message: str, trailers: Sequence[Trailer]) -> str:
    """`message` with `trailers` appended to its trailer block (a new paragraph if none)."""
    if not trailers:
        return message
    lines = "".join(f"{t.key}: {t.value}\n" for t in trailers)
    if not message.strip():
        return lines
    sep = "" if posting_trailers(message) else "\n"
    return message.rstrip("\n") + "\n" + sep + lines


def _header(name: str, value: str) -> bytes:
    value = _CONTROL.sub(" ", value).strip()
    if value.isascii():
        return f"{name}: {value}\n".encode()
    return f"{name}: {Header(value, 'utf-8', header_name=name).encode()}\n".encode()


def _date(utc: int | None, offset: int | None) -> str | None:
    if utc is None:
        return None
    tz = timezone(timedelta(minutes=offset)) if offset is not None else UTC
    return format_datetime(datetime.fromtimestamp(utc, tz))


def am_mail(p: Posting, message: str) -> bytes:
    """One patch as a mail git am reads: the posted sender, date and subject; `message`, the
    patch break and the diff as the body (UTF-8, 8bit)."""
    name = _CONTROL.sub(" ", p.from_name).strip()
    addr = _CONTROL.sub("", p.from_addr).strip()
    out = [f"From: {formataddr((name, addr), charset='utf-8')}\n".encode()]
    date = _date(p.date_utc, p.date_offset)
    if date:
        out.append(_header("Date", date))
    out.append(_header("Subject", p.subject))
    out.append(_header("Message-Id", f"<{p.message_id}>"))
    out.append(b"MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n")
    out.append(b"Content-Transfer-Encoding: 8bit\n\n")
    diff = p.diff if p.diff.endswith("\n") else p.diff + "\n"
    body = (message + "---\n" + diff).encode("utf-8", "surrogateescape")
    return b"".join(out) + body


def mboxrd(mails: Sequence[bytes]) -> bytes:
    """Mails as one mboxrd file: git's separator line, '>From ' quoting, a blank line after."""
    parts = []
    for mail in mails:
        head, sep, body = mail.partition(b"\n\n")
        body = _FROM_LINE.sub(rb">\1", body)
        text = head + sep + body
        parts.append(SEPARATOR + text + (b"" if text.endswith(b"\n") else b"\n") + b"\n")
    return b"".join(parts)


def build(
    patches: Sequence[Posting], followups: Sequence[FollowUp], link_template: str | None
) -> list[AmPatch]:
    """Each patch, in the order given, as its git am mail with the collected trailers."""
    out = []
    for p in patches:
        message = split_message(p.body)
        own = posting_trailers(message)
        added = collect(own, followups, p.message_id)
        link = link_for(link_template, p.message_id) if link_template else None
        extra = list(added)
        if link and ("link", link.lower()) not in {_same(t) for t in own}:
            extra.append(Trailer("Link", link))
        mail = am_mail(p, with_trailers(message, extra))
        out.append(AmPatch(p.message_id, p.subject, own, added, link, mail))
    return out
