"""The commits a pull request's letter lists: git request-pull writes `git shortlog` of the
range, a "Name (N):" line per author and then one indented subject per commit. Pure.

A series all of whose patches a later pull request lists was taken by the maintainer who
sent it, whether or not they said "applied" on the list (metrics/backlog.py)."""

from __future__ import annotations

import re
import unicodedata

from patchlens.mail.parse import list_rewritten

# "Jonathan Cameron (2):", "Nuno Sá (1):": an author's block of the shortlog.
_AUTHOR = re.compile(r"^(\S[^\n]{0,200}?)\s*\(\d{1,6}\):\s*$")
# A commit's subject in an author's block, indented (git shortlog indents by six spaces;
# the diffstat after it by one).
_SUBJECT = re.compile(r"^ {2,8}(\S[^\n]{0,998})$")
# A letter holds at most this many subjects (a merge window's pull lists a few thousand).
MAX_SUBJECTS = 20_000


def shortlog_subjects(body: str) -> list[tuple[str, str]]:
    """(author, subject) of each commit of the shortlog blocks in a pull request's letter,
    in order, as written (trailing blanks removed); [] when it has none."""
    out: list[tuple[str, str]] = []
    author = ""
    in_block = False
    for line in body.splitlines():
        a = _AUTHOR.match(line)
        if a:
            author, in_block = a[1], True
            continue
        if in_block:
            m = _SUBJECT.match(line.rstrip())
            if m:
                out.append((author, m[1]))
                if len(out) >= MAX_SUBJECTS:
                    break
                continue
            in_block = False
    return out


_PARENS = re.compile(r"\(([^()]*)\)")


def spelling_key(name: str) -> str:
    """A person's name as two spellings of it compare: accents, case and punctuation
    removed, its words in order ("Nuno Sá" and "sa, nuno" are one; so are "Bo Liu" and "Liu
    Bo"). Pure."""
    plain = unicodedata.normalize("NFKD", name).casefold()
    words = re.findall(r"[^\W_]+", "".join(ch for ch in plain if not unicodedata.combining(ch)))
    return " ".join(sorted(words))


def spelling_keys(name: str) -> frozenset[str]:
    """The keys a sender's name may be listed by in a shortlog: the name without a list's
    "via Linux-erofs" (DMARC rewriting), and each part of "金红宇 (Hongyu Jin)". Pure."""
    name = list_rewritten(name) or name
    parts = [name, _PARENS.sub(" ", name), *_PARENS.findall(name)]
    return frozenset(k for k in map(spelling_key, parts) if k)
