"""One raw RFC 822 message in, one flat record out: the fields every later stage needs.

Single-part mail (nearly all list traffic) is decoded straight from bytes; only multipart
mail goes through the stdlib parser (compat32, the fast policy). Anything the parser cannot
make sense of raises `Unparseable` with a reason, and the caller quarantines the raw bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass

from patchlens.mail import headers as h
from patchlens.mail.diff import split_diff
from patchlens.mail.limits import (
    MAX_MESSAGE_BYTES,
    MAX_MESSAGE_LINES,
    MAX_MIME_DEPTH,
    MAX_MIME_PARTS,
    MAX_REFERENCES,
    text_lines,
)

_CT_PARAM = re.compile(r";\s*([A-Za-z0-9*_.-]+)\s*=\s*(\"[^\"]*\"|[^;\s]*)")
_PATCH_NAME = re.compile(r"\.(patch|diff)$", re.I)
_PATCH_TYPES = ("text/x-patch", "text/x-diff", "text/x-diff-file", "text/diff", "text/patch")
_FORMAT_PATCH_SEP = re.compile(r"^---\s*$", re.M)
_HASH_CHUNK = 1 << 20


class Unparseable(ValueError):
    """The bytes are not a mail message we can read; the reason goes to quarantine."""


@dataclass(slots=True)
class ParsedMessage:
    message_id: str
    synthetic_id: bool
    date_utc: int | None
    date_offset: int | None
    date_source: str
    from_name: str
    from_addr: str
    to_addrs: str
    cc_addrs: str
    subject: str
    in_reply_to: str | None
    refs: str
    list_id_header: str | None
    body: str
    has_patch: bool
    patch_kind: str | None
    diff: str | None
    content_hash: str


def content_hash(raw: bytes) -> str:
    """Identity of a message's content, blind to transport headers and line endings.

    The same mail read from two archives differs in Received:/X- headers; its body and its
    From/Subject/Date do not.
    """
    block, body = h.split_header_block(raw)
    return _content_hash(h.scan_headers(block), body)


def _content_hash(hdrs: dict[str, list[bytes]], body: bytes) -> str:
    parts = [h.first_value(hdrs, k) or b"" for k in ("from", "subject", "date")]
    digest = hashlib.sha1()
    for p in parts:
        digest.update(p.strip() + b"\0")
    # The body with CRLF made LF and trailing white space cut, hashed in chunks rather than
    # copied whole (twice) for a message of tens of megabytes.
    end = len(body)
    while end:
        tail = body[max(0, end - 4096) : end]
        kept = tail.rstrip()
        end -= len(tail) - len(kept)
        if kept:
            break
    pos = 0
    while pos < end:
        stop = min(pos + _HASH_CHUNK, end)
        if stop < end and body[stop - 1] == 13:  # do not cut a CRLF in two
            stop -= 1
        digest.update(body[pos:stop].replace(b"\r\n", b"\n"))
        pos = stop
    return digest.hexdigest()


def _content_type(value: bytes | None) -> tuple[str, dict[str, str]]:
    if not value:
        return "text/plain", {}
    text = value.decode("latin-1")
    main = text.split(";", 1)[0].strip().lower() or "text/plain"
    params = {k.lower(): v.strip('"') for k, v in _CT_PARAM.findall(text)}
    return main, params


def _decode_transfer(payload: bytes, cte: bytes | None) -> bytes:
    enc = (cte or b"").strip().lower()
    if enc == b"quoted-printable":
        return binascii.a2b_qp(payload)
    if enc == b"base64":
        try:
            return base64.b64decode(payload, validate=False)
        except (binascii.Error, ValueError):
            return payload
    return payload


def _mime_leaves(
    hdrs: dict[str, list[bytes]], payload: bytes
) -> Iterator[tuple[dict[str, list[bytes]], bytes]]:
    """The leaf parts of a MIME tree, as (headers, decoded payload), in order.

    A boundary split on bytes: the stdlib feed parser costs more than all the rest of
    parsing on lists where signed (multipart) mail is common. The tree is walked by offsets
    into one copy of the payload (line ends made LF), and leaves are cut out one at a time:
    splitting and slicing at every level held a copy of the message per level, 3.3 GB for a
    52 MB message nested 25 deep. Multiparts deeper than MAX_MIME_DEPTH and leaves after
    MAX_MIME_PARTS are not expanded (they stay in the stored raw message).
    """
    buf = b"\n" + payload
    if b"\r\n" in buf:
        buf = buf.replace(b"\r\n", b"\n")
    budget = [MAX_MIME_PARTS]
    yield from _leaves_in(buf, hdrs, 1, len(buf), 0, budget)


def _leaves_in(
    buf: bytes,
    hdrs: dict[str, list[bytes]],
    start: int,
    end: int,
    depth: int,
    budget: list[int],
) -> Iterator[tuple[dict[str, list[bytes]], bytes]]:
    """Leaves of the part whose body is buf[start:end]; buf[start - 1] is a line end."""
    if budget[0] <= 0:
        return
    ctype, params = _content_type(h.first_value(hdrs, "content-type"))
    if not ctype.startswith("multipart/"):
        if ctype.startswith("message/"):
            return
        budget[0] -= 1
        cte = h.first_value(hdrs, "content-transfer-encoding")
        yield hdrs, _decode_transfer(buf[start:end], cte)
        return
    if depth >= MAX_MIME_DEPTH:
        return
    boundary = params.get("boundary")
    if not boundary:
        raise Unparseable("multipart without a boundary")
    delim = b"\n--" + boundary.encode("latin-1")
    pos = buf.find(delim, start - 1, end)
    while pos != -1:
        p_start = pos + len(delim)
        nxt = buf.find(delim, p_start, end)
        p_end = end if nxt == -1 else nxt
        pos = nxt
        if buf.startswith(b"--", p_start, p_end):
            break  # the closing delimiter; what follows is epilogue
        nl = buf.find(b"\n", p_start, p_end)
        if nl == -1:
            continue
        part = nl + 1
        if part < p_end and buf[part] == 10:
            sub_hdrs: dict[str, list[bytes]] = {}
            body = part + 1
        else:
            blank = buf.find(b"\n\n", part, p_end)
            head_end, body = (p_end, p_end) if blank == -1 else (blank, blank + 2)
            sub_hdrs = h.scan_headers(buf[part:head_end])
        yield from _leaves_in(buf, sub_hdrs, body, p_end, depth + 1, budget)
        if budget[0] <= 0:
            return


def _filename(hdrs: dict[str, list[bytes]]) -> str:
    for name, key in (("content-disposition", "filename"), ("content-type", "name")):
        _main, params = _content_type(h.first_value(hdrs, name))
        if key in params:
            return params[key]
    return ""


def _walk_multipart(
    hdrs: dict[str, list[bytes]], payload: bytes
) -> tuple[str | None, str | None, str | None]:
    """(body text, attached diff, patch kind) from a MIME tree; None for the body text when
    the decoded parts hold more than MAX_MESSAGE_LINES lines."""
    texts: list[str] = []
    htmls: list[str] = []
    attached: list[str] = []
    lines = 0
    for part_hdrs, data in _mime_leaves(hdrs, payload):
        ctype, params = _content_type(h.first_value(part_hdrs, "content-type"))
        filename = _filename(part_hdrs)
        disposition = (h.first_value(part_hdrs, "content-disposition") or b"").lower()
        is_patch_type = ctype in _PATCH_TYPES or bool(_PATCH_NAME.search(filename))
        if not (ctype.startswith("text/") or is_patch_type):
            # An attachment of another type may still be a patch or an mbox of patches
            # (application/octet-stream "foo.mbox"); binary data has NUL bytes.
            if b"\0" in data[:8192] or b"diff --git " not in data:
                continue
            is_patch_type = True
        text = h.decode_bytes(data, params.get("charset"))
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        lines += text_lines(text)
        if lines > MAX_MESSAGE_LINES:
            return None, None, None
        if is_patch_type or (
            b"attachment" in disposition and ctype == "text/plain" and "\ndiff --git " in text
        ):
            attached.append(text)
        elif ctype == "text/plain":
            texts.append(text)
        elif ctype == "text/html":
            htmls.append(text)
    # HTML only when there is no plain text at all (whichever order the parts came in).
    body = "\n".join(texts or htmls)
    if attached:
        diffs = [d for d in (split_diff(a)[1] for a in attached) if d]
        if diffs:
            return body, "".join(diffs), "attachment"
    return body, None, None


def parse_message(raw: bytes, archive_date: int | None = None) -> ParsedMessage:
    """Parse raw mail; `archive_date` stands in when the Date header is missing or broken."""
    if not raw.strip():
        raise Unparseable("empty message")
    block, payload = h.split_header_block(raw)
    hdrs = h.scan_headers(block)
    if not hdrs:
        raise Unparseable("no RFC 822 header block")
    if not any(k in hdrs for k in ("from", "message-id", "subject", "date")):
        raise Unparseable("none of From, Message-ID, Subject, Date present")

    ctype, params = _content_type(h.first_value(hdrs, "content-type"))
    if len(raw) > MAX_MESSAGE_BYTES or raw.count(b"\n") > MAX_MESSAGE_LINES:
        # Too large to expand: stored raw, header parsed, body not decoded.
        body, diff, kind = "", None, None
    elif ctype.startswith("multipart/"):
        found, diff, kind = _walk_multipart(hdrs, payload)
        if found is None:  # too many lines once decoded: as a message too large
            body, diff, kind = "", None, None
        elif diff is None:
            body, diff = split_diff(found)
            kind = _inline_kind(body) if diff else None
        else:
            body = found
    else:
        data = _decode_transfer(payload, h.first_value(hdrs, "content-transfer-encoding"))
        text = h.decode_bytes(data, params.get("charset"))
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        if text_lines(text) > MAX_MESSAGE_LINES:
            # A base64 or quoted-printable body holds many more lines than its raw form.
            body, diff, kind = "", None, None
        elif ctype in _PATCH_TYPES:
            body, diff = split_diff(text)
            kind = "attachment" if diff else None
        else:
            body, diff = split_diff(text)
            kind = _inline_kind(body) if diff else None

    mid_raw = h.decode_header(h.first_value(hdrs, "message-id"))
    mid = h.normalize_message_id(mid_raw)
    chash = _content_hash(hdrs, payload)
    synthetic = mid is None
    if mid is None:
        mid = f"patchlens.{chash}@synthetic.invalid"

    date = h.parse_date(h.decode_bytes(h.first_value(hdrs, "date") or b""))
    if date is not None:
        date_utc, date_offset, date_source = date[0], date[1], "header"
    elif archive_date is not None and 0 < archive_date <= h.LATEST_DATE:
        # Also a clock (an mbox "From " line, a commit's time, a file's mtime, Perceval's
        # date, which is the Date: itself): held to the Date:'s bounds.
        date_utc, date_offset, date_source = int(archive_date), None, "archive"
    else:
        date_utc, date_offset, date_source = None, None, "none"

    from_name, from_addr = _sender(hdrs)

    irt_ids = h.message_ids(h.decode_bytes(h.first_value(hdrs, "in-reply-to") or b""))
    refs = _cap_references(h.message_ids(h.decode_bytes(b" ".join(hdrs.get("references", [])))))
    list_id = hdrs.get("list-id")
    return ParsedMessage(
        message_id=mid,
        synthetic_id=synthetic,
        subject=h.decode_header(h.first_value(hdrs, "subject")).strip(),
        date_utc=date_utc,
        date_offset=date_offset,
        date_source=date_source,
        to_addrs=",".join(_addresses(hdrs, "to")),
        from_name=from_name,
        from_addr=from_addr,
        cc_addrs=",".join(_addresses(hdrs, "cc")),
        in_reply_to=irt_ids[0] if irt_ids else None,
        refs=" ".join(refs),
        list_id_header=h.decode_header(list_id[0]).strip() if list_id else None,
        body=body,
        has_patch=diff is not None,
        patch_kind=kind,
        diff=diff,
        content_hash=chash,
    )


def _cap_references(refs: list[str]) -> list[str]:
    """At most MAX_REFERENCES ids: the first (the thread's root) and the latest ones.

    Threading needs the root and the parent (the last id); the middle of a 10,000-id chain
    only costs time and space in every later stage.
    """
    if len(refs) <= MAX_REFERENCES:
        return refs
    return [refs[0], *refs[len(refs) - (MAX_REFERENCES - 1) :]]


# `(?<!\s)`: the name never ends inside the blanks before "via" (the lazy group stops at
# the first), and a long run of blanks is not rescanned from each of them.
_VIA_LIST = re.compile(r"^(.*?)(?<!\s)\s+via\s+\S.*$")


def list_rewritten(name: str) -> str | None:
    """The author's name in a list's DMARC rewrite ("A via List", sent from the list's own
    address), else None. Pure."""
    m = _VIA_LIST.match(name)
    return m.group(1).strip(" '\"") if m else None


def _sender(hdrs: dict[str, list[bytes]]) -> tuple[str, str]:
    """(name, address) of the author, undoing the list's DMARC rewrite.

    Mailman rewrites `From: A <a@x>` to `From: A via List <list@host>` when a@x's domain
    forbids relaying; the author's address then survives in X-Original-From or Reply-To.
    """
    name, addr = h.parse_address(h.decode_bytes(h.first_value(hdrs, "from") or b""))
    if "=?" in name:
        name = h.decode_header(name.encode("utf-8"))
    via = list_rewritten(name)
    if via is not None:
        for header in ("x-original-from", "reply-to"):
            value = h.first_value(hdrs, header)
            if value:
                orig_name, orig_addr = h.parse_address(h.decode_header(value))
                if "@" in orig_addr and orig_addr != addr:
                    return orig_name.strip(" '\"") or via, orig_addr
    return name, addr


def _inline_kind(body_without_diff: str) -> str:
    """git format-patch puts a lone `---` between the message and the diffstat."""
    return "format-patch" if _FORMAT_PATCH_SEP.search(body_without_diff) else "inline"


def _addresses(hdrs: dict[str, list[bytes]], name: str) -> list[str]:
    vals = hdrs.get(name)
    if not vals:
        return []
    text = ", ".join(h.decode_bytes(v) for v in vals)
    return h.parse_address_list(text)
