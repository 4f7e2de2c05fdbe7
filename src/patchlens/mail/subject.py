"""Parse the subject line of a patch mail into structured fields.

Review on mailing lists is reconstructed by grouping messages into series and versions and by
matching postings to the commits that were eventually applied.  Both depend almost entirely on
the subject line (``[PATCH v3 2/7] subsys: do the thing``), whose conventions vary per project
and per contributor.  This module turns a subject into a :class:`Subject` with the version, the
position in the series, the flags (RFC, RESEND, PULL, ...), the free-form routing words
(``net-next``, ``for-4.19``, ``for Xen 4.7``), the mailing-list tags Mailman adds
(``[Xen-devel]``) and a title that can be compared with a commit subject.

The parser is pure (no I/O, no global state besides compiled regexes and a bounded cache of
bracket-group classifications) and never raises on any ``str`` input, because it runs over
every message of whole list archives, spam and mojibake included.

Conventions chosen (they are part of the contract and are asserted by the tests):

* **Reply and forward prefixes** (``Re:``, ``RE:``, ``Aw:``, ``Antw:``, ``Sv:``, ``Odp:``,
  ``回复:``/``答复:``, ``Fwd:``, ``Fw:``, ``WG:``, ``TR:``, ``转发:``; any case, any number,
  counted forms ``Re[2]:``/``Re^2:``/``Re3:``, full-width colon; also Outlook's recall notice
  ``Recall:``/``撤回:``, a follow-up too) are stripped wherever they occur
  in the leading region, and so is a bare ``RE``/``Re`` followed by a space (``RE meep``,
  ``Re [PATCH] x``: Outlook-style replies that drop the colon and often carry the quoted
  patch unquoted; written in lower case, ``re`` stays title text), also between list tags
  (``[Xen-devel] Re: [PATCH]``, as old Mailman writes it).  ``is_reply`` is true for any of
  them, forwards included (a forward is a follow-up, not a posting); ``is_forward`` is true
  only for forward prefixes.  A stray ``Subject:`` and b4's ``(subset)`` in that region are
  stripped too (``(subset)`` adds the flag ``SUBSET``).
* **Leading bracket groups** only: a bracket in the middle of the title
  (``xen: fix [foo] handling``) is title text.  A group is a *patch group* when it holds a
  patch keyword: ``PATCH`` (also ``PATCHES``/``PATCHSET``), ``RFC``, ``RFT``, ``PULL``,
  ``GIT PULL``, ``PULL REQUEST``; keywords may be glued to a version or joined by a hyphen
  (``PATCHv2``, ``RFCv3``, ``PATCH-for-9.1``, ``PATCH-v2``), ``PATCH`` may be glued to an
  index (``PATCH1/8``, ``PATCH100/123``), a version may be glued before a keyword
  (``v2PATCH1/4``, ``v2.3PATCH1/4``) and ``RFC/PATCH`` is split.
* A group without a keyword is read by its **content**, wherever it stands: when it holds an
  index and none of its words names a repository branch (``tree:branch``), it is patch
  information and makes the subject a patch (``[net,v2,1/2]``: prefix ``net``, version 2,
  1/2; also ``[1/3]``); the kernel test robot's ``[xiang-erofs:dev-test 10/10]`` stays a list
  tag, its index counting build reports, not patches.
* Other keyword-less groups **before** the first patch group are **list tags**
  (``[LTP]``, ``[Xen-devel]``, ``[syzbot]``), unless it consists only of recognised flags,
  versions and indexes (``[RESEND]``, ``[WIP]``, ``[v2]``), which are merged into the patch
  information.  A group **after** a patch group is always merged (``[PATCH] [net-next]``,
  ``[PATCH v2][RFC]``, ``[PATCH v4][ 1/2]``), except a keyword-less group directly followed by a
  colon, which is a subsystem prefix of the title (``[PATCH 58/58] [dax|pmem]: Enable ...``).
* **Prefixes** are *phrases*: consecutive free words of one bracket group joined by single
  spaces, so ``[PATCH v5 for Xen 4.7 0/4]`` gives ``("for Xen 4.7",)`` and
  ``[PATCH AUTOSEL 6.6 21/43]`` gives ``("6.6",)``.  A version, an index, a flag, a comma or a
  bracket boundary ends a phrase.  Leading hyphens are dropped so that ``[PATCH -next]`` and
  ``[PATCH-next]`` both give ``("next",)``; the case is kept as written.
* **Flags** are upper-case, deduplicated, in order of appearance, from a fixed vocabulary:
  ``RFC``, ``RFT``, ``RESEND``, ``PULL``, ``GIT PULL``, ``WIP``, ``AUTOSEL``, ``FYI``,
  ``DRAFT``, ``UNTESTED``, ``POC``, ``REBASED``, ``SUBSET``, and ``COMMITTED``, ``PUSHED``,
  ``APPLIED`` (a patch posted after it went in).  ``PULL REQUEST`` is normalised to
  ``PULL``.  ``PATCH`` itself is not a flag (see ``is_patch``).
* **Version**: ``v3``/``V13`` tokens (also glued: ``PATCHv2``); ``version`` is the integer
  major part (``v5.1`` -> 5, ``version_str`` "5.1"); ``version`` is 1 and ``version_str`` ""
  when absent; dots or commas typed after it are dropped (``v2..`` is v2).  ``v2-rebased``
  gives version 2 plus the flag ``REBASED`` (``v2-changed``: plus the prefix ``changed``).
  Bare numbers (``6.6``, ``5.10.y``) are never versions: they are kernel/stable trees, kept
  as prefixes.  The converse is ambiguous and not resolved: a
  stable backport tagged ``[PATCH v6.6]`` reads as version "6.6".  When no bracket gives a
  version, a parenthesised one at the end of the title is taken and removed from the title
  (``Hello, world (v2)``, ``... (V6)``), also on subjects that are not patches.
* **Index**: the first ``N/M`` token, also written ``N of M`` (Mercurial's ``hg email``:
  ``[PATCH 0 of 2]`` is its cover letter, ``[PATCH1 of 8]`` glued); ``total`` is None when
  ``M`` is not a number (``0/<VARIOUS>``, ``1/n``).
* The first version and first index seen win if several are present.  Indexes are reported as
  written, even when larger than the total (real follow-ups such as ``[PATCH 4/3]``).
* ``is_patch`` is strict: a bracketed keyword or an index group (see above) must be present.
  ``[v2] erofs: ...`` has version 2 but is not a patch, and ``Patch "x" has been added to
  the 6.1-stable tree`` or a subject renamed with ``..., was: Re: [PATCH] ...`` are not
  patches either (the ``[PATCH]`` there is not leading).
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from rapidfuzz.distance import Indel

__all__ = ["Subject", "normalize_title", "parse_subject", "title_similarity"]


@dataclass(frozen=True, slots=True)
class Subject:
    """A parsed mail subject; immutable and hashable so it can key caches and sets."""

    raw: str
    is_reply: bool
    is_forward: bool
    is_patch: bool
    version: int
    version_str: str
    index: int | None
    total: int | None
    rfc: bool
    resend: bool
    pull: bool
    flags: tuple[str, ...]
    prefixes: tuple[str, ...]
    list_tags: tuple[str, ...]
    title: str
    normalized_title: str
    # Its keyword is PATCHSET: with no diff, a cover letter whatever its numbers (`as_sent`).
    patchset: bool = False


# Reply/forward prefix, b4's "(subset)", a pasted "Subject:".  Anchored at a position via
# .match(s, pos).  Counted forms: Re[2]:, Re(2):, Re^2:, Re2:.  Full-width colon for CJK clients.
_LEAD_RE = re.compile(
    r"\s*(?:"
    r"(?P<fwd>fwd|fw|wg|tr|转发|轉寄)"
    r"|(?P<re>re|aw|antw|sv|odp|回复|答复|回覆|recall|撤回)"
    r"|(?P<subj>subject)"
    r")\s*(?:\[\d+\]|\(\d+\)|\^\d+|\d+)?\s*[:：]"
    r"|\s*(?P<subset>\(subset\))"
    # "RE meep" / "Re [PATCH] x": a reply marker without its colon, as some clients write it.
    # Written "Re"/"RE" only (not "re"), and only before the title starts (see parse_subject).
    r"|\s*(?P<re_bare>(?-i:RE|Re))[ \t]+(?=\S)",
    re.IGNORECASE,
)
# One leading bracket group; a doubled "[[PATCH" is tolerated by stripping "[" from content.
_GROUP_RE = re.compile(r"\s*\[([^\]]*)\]")
# Tokens inside a group: words, with "," / ";" kept as phrase separators.
_TOKEN_RE = re.compile(r"[^\s,;]+|[,;]")
# "1 / 3" -> "1/3" before tokenising.
_SPACED_INDEX_RE = re.compile(r"(\d)\s+/\s*(\d)|(\d)\s*/\s+(\d)")
# Mercurial's "hg email": "[PATCH 1 of 8]", also glued "[PATCH1 of 8]" -> "1/8".
_OF_INDEX_RE = re.compile(r"(\d)\s+of\s+(\d)", re.IGNORECASE)
_INDEX_RE = re.compile(r"(\d{1,9})/(\d{1,9}|[nx?]+|<[^>]*>)", re.IGNORECASE)
# v3, V13, v5.1, v0.5; optional "-suffix"/"_suffix" handed back as a further token, or a
# keyword glued after the version ("v2PATCH1/4", "v2.3PATCH1/4").
# At most three parts, short enough for the store's 20-character version column ("v1.2.3.4..."
# from hostile mail is a word, not a version).
_VERSION_RE = re.compile(
    r"v(\d{1,9}(?:\.\d{1,4}){0,2})(?:[-_](.+)|((?:patch|rfc|rft|pull|resend).*))?",
    re.IGNORECASE,
)
# Keyword glued to a version ("PATCHv2", "RFCv3") or joined by "-"/"_"/":" ("PATCH-for-9.1");
# PATCH glued to an index ("PATCH1/8", "PATCH100/123").
_GLUED_RE = re.compile(
    r"""(?ix)
        (patchset|patches|patch|rfc|rft|pull|resend) (?: (v\d.*) | [-_:](.+) )
      | (patchset|patches|patch) (\d{1,9}/\S+)
    """
)
_PUNCT_ONLY_RE = re.compile(r"[^\w]+")
# After the leading groups: "[PATCH]: foo" and "[PATCH] - foo" lose the ":" / "- ".
_TITLE_LEAD_RE = re.compile(r"(?:[\s:：]|-(?=\s))+")
_LATE_VERSION_RE = re.compile(r"^[vV](\d{1,9}(?:\.\d{1,9})?)\s*[:-]\s+")
# "Hello, world (v2)", "... (V6)": a version written at the end of the title.
_TAIL_VERSION_RE = re.compile(r"\s*\([vV](\d{1,9}(?:\.\d{1,9})?)\)$")
# Whitespace next to punctuation is insignificant for matching ("erofs:fix" == "erofs: fix").
_PUNCT_SPACE_RE = re.compile(r"\s+(?=[^\w\s])|(?<=[^\w\s])\s+")

# A patchset's cover letter, whatever its numbers say (`_classify_group`).
_PATCHSET_RE = re.compile(r"(?i)(?<![A-Za-z])PATCHSET(?=v\d|[^A-Za-z]|$)")
# Keywords that make a group a patch group, mapped to the flag they add ("" = none).
_KEYWORD_FLAGS = {
    "PATCH": "",
    "PATCHES": "",
    "PATCHSET": "",
    "RFC": "RFC",
    "RFT": "RFT",
    "PULL": "PULL",
}
_FLAG_WORDS = frozenset(
    {"RESEND", "WIP", "AUTOSEL", "FYI", "DRAFT", "UNTESTED", "POC", "REBASED", "SUBSET"}
    # A patch posted after it went in, for the record: "[COMMITTED] [PATCH]" (LTP, glibc),
    # "[committed]" (GCC, binutils), "[pushed]" (GDB), "[APPLIED]".
    | {"COMMITTED", "PUSHED", "APPLIED"}
)

# The largest "n/N" total taken as a series' length.
MAX_TOTAL = 10_000

# Kinds of token produced by _classify_group.
_K_KEYWORD = 0  # value: flag ("" for PATCH)
_K_FLAG = 1  # value: flag
_K_VERSION = 2  # value: version string
_K_INDEX = 3  # value: (index, total)
_K_WORD = 4  # value: word as written
_K_SEP = 5  # value: None


@dataclass(frozen=True, slots=True)
class _Group:
    """What one bracket group contributes; cached per distinct content string."""

    has_keyword: bool
    # No keyword, but an index and no `tree:branch` word ("[net,v2,1/2]"): patch information.
    is_marker: bool
    all_known: bool  # no free words: only keywords, flags, versions, indexes, separators
    flags: tuple[str, ...]
    version_str: str | None
    index: tuple[int, int | None] | None
    prefixes: tuple[str, ...]
    patchset: bool = False  # its keyword is PATCHSET (`as_sent`)


# Pieces one bracket token is split into at most (see _expand_token).
MAX_PIECES = 64


def _expand_token(tok: str, out: list[tuple[int, Any]]) -> None:
    """Classify one token, splitting glued forms ("PATCHv2", "v2-rebased", "RFC/PATCH").

    The pieces of a split token are classified in turn, depth first, from a stack rather
    than by recursion: "v1-v1-v1-..." splits a thousand times (RecursionError). Each split
    reads the rest of the token again, so past MAX_PIECES pieces (real tokens split a few
    times) what is left is a word: a bracket of 100 KB glued pieces cost minutes.
    """
    todo = [tok]
    pieces = 0
    while todo:
        piece = todo.pop()
        pieces += 1
        if pieces <= MAX_PIECES:
            _expand_one(piece, out, todo)
            continue
        word = piece.lstrip("-")
        out.append(
            (_K_WORD, word) if word and not _PUNCT_ONLY_RE.fullmatch(word) else (_K_SEP, None)
        )


def _expand_one(tok: str, out: list[tuple[int, Any]], todo: list[str]) -> None:
    """Classify `tok` into `out`, or push its pieces onto `todo` (the last one first)."""
    if len(tok) > 1 and tok[-1] in ":：":
        tok = tok[:-1]  # "[PATCH: v2]"
    up = tok.upper()
    if up in _KEYWORD_FLAGS:
        out.append((_K_KEYWORD, _KEYWORD_FLAGS[up]))
        return
    if up in _FLAG_WORDS:
        out.append((_K_FLAG, up))
        return
    if "/" in tok:
        m = _INDEX_RE.fullmatch(tok)
        if m:
            total = m.group(2)
            n = int(total) if total.isdigit() else None
            # "1/999999999": no series is that long (the longest on record have about 1,300
            # patches); as an unknown total, not a billion missing patches to list.
            out.append(
                (_K_INDEX, (int(m.group(1)), n if n is not None and n <= MAX_TOTAL else None))
            )
            return
        parts = tok.split("/")
        if any(p.upper() in _KEYWORD_FLAGS for p in parts):
            todo.extend(p for p in reversed(parts) if p)
            return
    if up[0] == "V":
        # A slip of the keyboard after the number ("[PATCH BlueZ v2.. 0/7]") is still v2.
        m = _VERSION_RE.fullmatch(tok) or _VERSION_RE.fullmatch(tok.rstrip(".,"))
        if m:
            out.append((_K_VERSION, m.group(1)))
            rest = m.group(2) or m.group(3)
            if rest:
                todo.append(rest)
            return
    m = _GLUED_RE.fullmatch(tok)
    if m:
        if m.group(1):
            todo.append(m.group(2) or m.group(3))
            todo.append(m.group(1))
        else:
            todo.append(m.group(5))
            todo.append(m.group(4))
        return
    word = tok.lstrip("-")
    if not word or _PUNCT_ONLY_RE.fullmatch(word):
        out.append((_K_SEP, None))
    else:
        out.append((_K_WORD, word))


@lru_cache(maxsize=8192)
def _classify_group(content: str) -> _Group:
    """Turn the text inside one bracket pair into its contribution to the subject.

    Cached because archives repeat the same few thousand group contents ("PATCH v2 1/3")
    across ~100k messages; the cache is bounded so odd inputs cannot grow it without limit.
    """
    if " " in content:
        if "/" in content:
            content = _SPACED_INDEX_RE.sub(lambda m: f"{m[1] or m[3]}/{m[2] or m[4]}", content)
        content = _OF_INDEX_RE.sub(r"\1/\2", content)
    raw_tokens = _TOKEN_RE.findall(content.lstrip("["))
    # Multi-word keywords first: GIT PULL [REQUEST], PULL REQUEST.
    tokens: list[tuple[int, Any]] = []
    i = 0
    n = len(raw_tokens)
    while i < n:
        tok = raw_tokens[i]
        up = tok.upper()
        nxt = raw_tokens[i + 1].upper() if i + 1 < n else ""
        if up == "GIT" and nxt == "PULL":
            tokens.append((_K_KEYWORD, "GIT PULL"))
            i += 2
            if i < n and raw_tokens[i].upper() == "REQUEST":
                i += 1
            continue
        if up == "PULL" and nxt == "REQUEST":
            tokens.append((_K_KEYWORD, "PULL"))
            i += 2
            continue
        if tok in (",", ";"):
            tokens.append((_K_SEP, None))
        else:
            _expand_token(tok, tokens)
        i += 1

    has_keyword = False
    all_known = True
    flags: list[str] = []
    version_str: str | None = None
    index: tuple[int, int | None] | None = None
    prefixes: list[str] = []
    phrase: list[str] = []
    for kind, value in tokens:
        if kind == _K_WORD:
            phrase.append(value)
            all_known = False
            continue
        if phrase:
            prefixes.append(" ".join(phrase))
            phrase = []
        if kind == _K_KEYWORD:
            has_keyword = True
            if value:
                flags.append(value)
        elif kind == _K_FLAG:
            flags.append(value)
        elif kind == _K_VERSION:
            if version_str is None:
                version_str = value
        elif kind == _K_INDEX and index is None:
            index = value
    if phrase:
        prefixes.append(" ".join(phrase))
    return _Group(
        has_keyword=has_keyword,
        # The kernel test robot writes "[tree:branch 10/10] <build error>": the index there
        # counts the robot's reports about a branch, and the branch names a repository.
        is_marker=(not has_keyword and index is not None and not any(":" in p for p in prefixes)),
        all_known=all_known,
        flags=tuple(flags),
        version_str=version_str,
        index=index,
        prefixes=tuple(prefixes),
        patchset=has_keyword and _PATCHSET_RE.search(content) is not None,
    )


def normalize_title(title: str) -> str:
    """Return a matching key for a title: casefolded, NFKC, spacing around punctuation ignored.

    Postings and the commits made from them differ in exactly these ways (mail clients fold
    long subjects into double spaces, people type "erofs:fix" or "erofs : fix", full-width
    punctuation from CJK input methods), while the words and punctuation themselves agree.
    A trailing period is dropped because maintainers often strip it when applying.
    """
    if not title.isascii():
        title = unicodedata.normalize("NFKC", title)
    key = " ".join(title.casefold().split())
    return _PUNCT_SPACE_RE.sub("", key).rstrip(".")


def title_similarity(a: str, b: str, floor: float = 0.0) -> float:
    """How alike two normalised titles are, 0 to 1: the Indel similarity, 2·LCS/(|a|+|b|).

    One measure for the two places that compare titles (a commit with a posting, a version
    with an earlier one), so their thresholds speak of the same number. rapidfuzz computes
    it in C, a few hundred times faster than difflib's ratio that it replaced (issue 11,
    bench/similarity.py); it is never lower than difflib's on the same pair. Below `floor`
    the answer is 0.0.
    """
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    return Indel.normalized_similarity(a, b, score_cutoff=floor or None)


def _dedupe(items: list[str]) -> tuple[str, ...]:
    """Order-preserving deduplication; subjects like "[PATCH net] [net]" repeat words."""
    return tuple(dict.fromkeys(items)) if len(items) > 1 else tuple(items)


def parse_subject(subject: str) -> Subject:
    """Parse one (already RFC 2047-decoded) subject; never raises on a ``str``.

    See the module docstring for the conventions.  The parse is a single left-to-right scan of
    the leading region with precompiled regexes, so it stays cheap on whole archives.
    """
    s = subject if isinstance(subject, str) else str(subject)
    pos = 0
    end = len(s)
    is_reply = False
    is_forward = False
    seen_patch = False  # a patch group was found: later groups merge, no more list tags
    flags: list[str] = []
    prefixes: list[str] = []
    list_tags: list[str] = []
    version_str: str | None = None
    index: tuple[int, int | None] | None = None
    patchset = False

    while pos < end:
        if not seen_patch:
            m = _LEAD_RE.match(s, pos)
            if m:
                if m.group("fwd"):
                    is_reply = is_forward = True
                elif m.group("re") or m.group("re_bare"):
                    is_reply = True
                elif m.group("subset"):
                    flags.append("SUBSET")
                pos = m.end()
                continue
        m = _GROUP_RE.match(s, pos)
        if not m:
            break
        group = _classify_group(m.group(1))
        if not group.has_keyword and not group.is_marker:
            after = m.end()
            if after < end and s[after] in ":：":
                break  # "[dax|pmem]: Enable ..." - a subsystem prefix of the title
            if not seen_patch and not group.all_known:
                tag = m.group(1).strip(" \t[")
                if tag:
                    list_tags.append(tag)
                pos = after
                continue
        seen_patch = seen_patch or group.has_keyword or group.is_marker
        flags.extend(group.flags)
        prefixes.extend(group.prefixes)
        if version_str is None:
            version_str = group.version_str
        if index is None:
            index = group.index
        patchset = patchset or group.patchset
        pos = m.end()

    title = s[pos:]
    lead = _TITLE_LEAD_RE.match(title)
    if lead:
        title = title[lead.end() :]
    title = " ".join(title.split())
    if seen_patch and version_str is None:
        # "[PATCH] v2: fix typo": the version written after the brackets.
        late = _LATE_VERSION_RE.match(title)
        if late:
            version_str = late.group(1)
            title = title[late.end() :]
    if version_str is None and title.endswith(")"):
        tail = _TAIL_VERSION_RE.search(title)
        if tail and tail.start() > 0:
            version_str = tail.group(1)
            title = title[: tail.start()]

    flag_t = _dedupe(flags)
    if version_str:
        major = version_str.split(".", 1)[0]
        version = int(major) if major.isdigit() else 1
    else:
        version_str = ""
        version = 1
    return Subject(
        raw=subject,
        is_reply=is_reply,
        is_forward=is_forward,
        index=index[0] if index else None,
        is_patch=seen_patch,
        version=version,
        version_str=version_str,
        total=index[1] if index else None,
        rfc="RFC" in flag_t,
        resend="RESEND" in flag_t,
        pull="PULL" in flag_t or "GIT PULL" in flag_t,
        flags=flag_t,
        prefixes=_dedupe(prefixes),
        list_tags=_dedupe(list_tags),
        title=title,
        normalized_title=normalize_title(title),
        patchset=patchset,
    )


def as_sent(subject: Subject, has_patch: bool) -> Subject:
    """`subject` as the message it heads is read: a patchset with no diff ("[PATCHSET v2.0
    06/17] xfsprogs: shard the realtime section", "[PATCHSET 1/2]", "[PATCHSET] ...") is the
    cover letter of the patches threaded under it (stgit's; its numbers count the patchsets
    sent together, not patches), as "[PATCHSET v11 00/10]" is; one that carries a diff is a
    patch as its numbers say. Pure."""
    if not subject.patchset or has_patch or subject.index == 0:
        return subject
    return dataclasses.replace(subject, index=0, total=None)
