"""The commits a pull request's letter lists: git request-pull writes `git shortlog` of the
range, a "Name (N):" line per author and then one indented subject per commit. Pure.

A series all of whose patches a later pull request lists was taken by the maintainer who
sent it, whether or not they said "applied" on the list (metrics/backlog.py)."""

from __future__ import annotations

import re

# "Jonathan Cameron (2):", "Nuno Sá (1):": an author's block of the shortlog.
_AUTHOR = re.compile(r"^\S[^\n]{0,200}\(\d{1,6}\):\s*$")
# A commit's subject in an author's block, indented (git shortlog indents by six spaces;
# the diffstat after it by one).
_SUBJECT = re.compile(r"^ {2,8}(\S[^\n]{0,998})$")
# A letter holds at most this many subjects (a merge window's pull lists a few thousand).
MAX_SUBJECTS = 20_000


def shortlog_subjects(body: str) -> list[str]:
    """The commit subjects of the shortlog blocks in a pull request's letter, in order,
    as written (trailing blanks removed); [] when it has none."""
    out: list[str] = []
    in_block = False
    for line in body.splitlines():
        if _AUTHOR.match(line):
            in_block = True
            continue
        if in_block:
            m = _SUBJECT.match(line.rstrip())
            if m:
                out.append(m[1])
                if len(out) >= MAX_SUBJECTS:
                    break
                continue
            in_block = False
    return out
