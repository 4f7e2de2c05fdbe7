"""A mailing list's own address, told by the List-Id its messages carry. Pure.

Every posting is sent to its list, so the list's address stands in the To: or Cc: of every
series; counted as someone the series names, it would be "waited on" by all of them. RFC
2919 makes a list's id a dotted name, and lists of every kind derive it from the posting
address: "linux-erofs@lists.ozlabs.org" is "<linux-erofs.lists.ozlabs.org>" (Mailman),
"linux-iio@vger.kernel.org" "<linux-iio.vger.kernel.org>" (vger), "qemu-devel@nongnu.org"
"<qemu-devel.nongnu.org>". On a message, the address that reads as the message's own
List-Id with "." for its "@" is the list's, and names nobody (`named_on`).
"""

from __future__ import annotations

from collections.abc import Container

from patchlens.mail.keys import recipients


def list_id(header: str | None) -> str | None:
    """The id of a List-Id header (the part between angle brackets, lower-cased), None when
    there is none: "Development of Linux EROFS file system <linux-erofs.lists.ozlabs.org>"
    gives "linux-erofs.lists.ozlabs.org"."""
    if not header:
        return None
    start = header.rfind("<")
    end = header.find(">", start + 1)
    if start == -1 or end == -1:
        return None
    value = header[start + 1 : end].strip().lower()
    return value if "." in value and " " not in value else None


def is_list_address(address: str, ids: Container[str]) -> bool:
    """Whether `address` (lower-cased) is the posting address of a list with one of `ids`."""
    local, at, domain = address.partition("@")
    return bool(at and local and domain) and f"{local}.{domain}" in ids


def named_on(to_addrs: str | None, cc_addrs: str | None, list_id_header: str | None) -> set[str]:
    """The addresses a message names (its To: and Cc:, as `mail.keys.recipients` reads them),
    without the list's own that its List-Id tells."""
    found = recipients(to_addrs or "", cc_addrs or "")
    lid = list_id(list_id_header)
    return {a for a in found if not is_list_address(a, (lid,))} if lid else found
