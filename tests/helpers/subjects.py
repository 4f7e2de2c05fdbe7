"""Expected parses of subject lines, for the tests of patchlens.mail.subject (test_subject,
test_subject_forms)."""

from __future__ import annotations

from patchlens.mail.subject import Subject


def expect(
    raw: str,
    title: str,
    normalized_title: str,
    *,
    is_reply: bool = False,
    is_forward: bool = False,
    is_patch: bool = True,
    version: int = 1,
    version_str: str = "",
    index: int | None = None,
    total: int | None = None,
    rfc: bool = False,
    resend: bool = False,
    pull: bool = False,
    flags: tuple[str, ...] = (),
    prefixes: tuple[str, ...] = (),
    list_tags: tuple[str, ...] = (),
) -> Subject:
    """The full expected Subject of `raw`; every field not given has its 'absent' value, so a
    case names only what the subject carries and is still compared field by field."""
    return Subject(
        raw=raw,
        is_reply=is_reply,
        is_forward=is_forward,
        is_patch=is_patch,
        version=version,
        version_str=version_str,
        index=index,
        total=total,
        rfc=rfc,
        resend=resend,
        pull=pull,
        flags=flags,
        prefixes=prefixes,
        list_tags=list_tags,
        title=title,
        normalized_title=normalized_title,
    )
