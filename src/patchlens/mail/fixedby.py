"""Which commits a reply says fixed or replaced what it answers: "This was already fixed by
commit 1234567890ab", "FYI fixed in 5398d6c41", "IMHO this was in the end fixed by
105b0fe17", "should have been fixed by:" over a "commit <sha>" line, "For a record, merged
alternative solution: eb786468b", "there were other fixes merged" over a list of commits.

Why: a patch a maintainer closes by naming the commit that made it unnecessary did not go
in, yet its author did not abandon it either. Its series is "fixed elsewhere" when the
commit is in a registered repository (metrics/backlog.py, docs/METRICS.md "States").

Read from the sender's written paragraphs only (mail/replytext.py gives them): never quoted
text, a signature, or a trailer. The hash (7 to 40 hex digits, with a digit and a letter, or
a `/commit/<sha>` address) stands after the words in the same sentence, on the lines right
after it when those are only commit references, or in the footnote it marks ("Already fixed
here[1]."). Also read: "a duplicate of", "unnecessary after", "a fix ... already in", an
identical or other fix applied or merged. Not a fix notice:
- a question ("Isn't this fixed by commit X?");
- a negation, a wish or a promise ("is not fixed by", "would be fixed by", "will be fixed
  in");
- an active clause whose subject is a person ("the same problem as we have fixed in: commit
  X": the sender fixed something else);
- a commit that broke or introduced something ("got broken in", "introduced by"), one only
  cited ("see commit X", "since commit X"), a `Fixes:` or `base-commit:` line.
Pure.
"""

from __future__ import annotations

import re

__all__ = ["fix_taken_back", "fixing_commits", "may_hold_hash", "may_name_fix"]

# What every fix notice holds somewhere in its message: a hash-like word (hex digits, a digit
# and a letter among them), and one of its words, in lower case. Most replies have neither;
# reading their sentences (or a case-blind regex over every reply) would cost more than the
# rest of the reply's analysis: these are plain substring tests.
_ANY_HEX = re.compile(r"[0-9a-f]{7}")
_HEX_WORD = re.compile(r"\b[0-9a-f]{7,64}\b")
_WORDS = (
    "fix",  # fixed, fix from, fix ... already
    "supersed",
    "replaced",
    "obsolet",
    "solved",  # resolved
    "addressed",
    "care",  # taken care of, maybe across a line break
    "upstreamed",
    "duplicat",
    "alternative",
    "different",
    "other",  # another
    "identical",
    "equivalent",
    "patch",
    "favo",
    "unnecessary",
    "needed",
)

# The verb of a fix notice, an object pronoun and adverbs after it ("fixed this in", "fixed
# already by", "fixed (in a different way) by"), then what names the commit: a preposition,
# a colon, a footnote mark ("fixed here[1]"), or the end of the sentence ("Fixed upstream."
# over a line with the commit).
_VERB = re.compile(
    r"(?i)\b(?:fixed|superseded|replaced|obsoleted|solved|resolved|addressed|taken\s+care\s+of"
    r"|upstreamed|duplicated)"
    r"(?:\s+(?:this|it|that))?"
    r"(?:\s+(?:already|upstream|meanwhile|now|since|in\s+the\s+end|differently|properly|"
    r"independently|here|\(in\s+a\s+different\s+way\)))*"
    r"(?:\s*(?:\b(?:by|in|with|via|through|as)\b|:)|(?=\s*\[\d+\])|\s*[.!]?\s*$)"
)
# Another change taken instead: "merged alternative solution", "applied an identical patch
# from Dan", "I just applied a fix from Dan", "there were other fixes merged", "alternative
# test from Martin was merged".
_ALTERNATIVE = re.compile(
    r"(?i)\b(?:merged|applied|took|taken|picked(?:\s+up)?|went\s+with)\s+"
    r"(?:an?\s+|the\s+)?(?:alternative|different|another|other|identical|equivalent)\s+"
    r"(?:solution|fix|approach|patch|change|version|one)s?\b"
    r"|\b(?:applied|merged|took|picked\s+up)\s+a\s+(?:fix|patch)\s+from\b"
    r"|\b(?:other|another|different|alternative)\s+(?:[\w-]+\s+){0,3}?"
    r"(?:(?:was|were|has\s+been|have\s+been|got)\s+)?(?:merged|applied)\b"
    r"|\bin\s+favou?r\s+of\b"
    r"|\ba\s+duplicate\s+of\b"
    r"|\b(?:unnecessary|not\s+needed|no\s+longer\s+needed)\s+(?:after|since|with)\b"
    r"|\b(?:fix|patch)\s+(?:for\s+(?:this|it)\s+)?(?:(?:was|is|has\s+been)\s+)?already\s+"
    r"(?:in|queued|applied|merged|upstream)\b"
    r"|\bfix\s+that\s+(?:was|has\s+been)\s+already\s+(?:applied|merged)\b"
)
# Before the verb: a wish, a promise, a condition, a denial, or a retraction ("would be
# fixed by", "is not fixed", "I was wrong stating that ... was fixed by").
_NOT_DONE = re.compile(
    r"(?i)(?:\b(?:would|will|could|might|may|can|cannot|not|never|if|unless|whether|once|"
    r"when|hopes?|wish|expect(?:ed)?|doubt|thought|unsure)\b|n't\b|'ll\b|'d\b|"
    r"\bwrong\s+(?:stating|saying|about|to))"
)
# Before the verb: a comparison ("the same type of race as fixed in", "the very same problem
# as we have fixed in"), or a commit that something broke or undid ("reintroduces the stack
# overflow issue fixed by", "recreating part of the problem solved in").
_ELSE = re.compile(
    r"(?i)\b(?:same|similar|as|reintroduc\w*|recreat\w*|regress\w*|revert\w*|broke|broken|"
    r"introduc\w*|caus\w*)\s*$|\bsame\b|\breintroduc|\brecreat|\bregress|\bintroduc|"
    r"\bused\s+to\b|\bsimilar\b|\bpart\b|\bpartial\w*|\bpartly\b|\boriginally\b|"
    r"\bpreviously\b|\brebase|\bconflict|"
    # "the bug fixed by X": another bug, described by the commit that fixed it.
    r"\b(?:bug|issue|problem|crash|race|warning|regression|leak)s?\s*$"
)
# A question that does not end on its mark ("Is this also already fixed by: / commit X").
_ASKS = re.compile(
    r"(?i)^\W*(?:is|isn't|was|wasn't|are|were|has|hasn't|have|did|didn't|does|do|could|"
    r"would|can)\b"
)
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+")
# Between the verb and its commit: another clause ("fixed in a dedicated patch, because this
# fixes commit: X") or a name the sentence renames ("__ASSEMBLY__ is replaced by
# __ASSEMBLER__ ... in commit X").
_CLAUSE = re.compile(r"(?i)\b(?:because|so|which|whereas|while|but|however|though)\b")
_NAME = re.compile(r"\w*_\w+|\b[A-Z][A-Z0-9]{2,}\b")
# After the commit: a contrast that takes the notice back ("one was already fixed by X,
# whereas the other is still present"; "since been fixed in X, but it seemed worth keeping").
# Not "but thanks for the patch", "as part of the cleanup series", "thanks again": those
# close the notice politely.
_STILL_STANDS = r"\bstill\s+(?:needed|present|there|valid|required|broken|happens|applies|an?\s)"
_CONTRAST = re.compile(
    r"(?i)\b(?:but(?!\s+thank)|however|whereas|while|though|although|same|rebase|resend|"
    r"respin|broke|broken|revert\w*|partial\w*|partly)\b|" + _STILL_STANDS
)
_HEX = r"([0-9a-f]{7,64})"  # SHA-1 or SHA-256, whole or abbreviated
# Not a Message-ID's part ("<e1a2b3c4d5f6@suse.cz>", ".../20240101.abc1234@x/").
_HASH = re.compile(r"(?<![0-9A-Za-z/=_.<-])" + _HEX + r"(?![0-9A-Za-z_@-])")
_URL_HASH = re.compile(r"(?:/commit/(?:\S*?[?&;](?:id|h)=)?|/linus/)" + _HEX + r"(?![0-9A-Za-z])")
# A line that opens with a commit reference: "commit 5e1e0e2d81e5...", "7d39a10b7 ("title")",
# "67a2f86846f2 selftests/mm: ...", "[1] https://github.com/.../commit/<sha>", a
# git.kernel.org address with "?id=<sha>"; not one saying the commit broke something
# ("<sha> ("title") introduced it.").
_REFERENCE = re.compile(
    r"^\s*(?:\[\d+\]:?\s*)?(?:commit:?\s+)?(?:\S*(?:/commit/(?:\S*?[?&;](?:id|h)=)?|/linus/))?"
    + _HEX
    + r"(?![0-9A-Za-z@])"
)
_BREAKING = re.compile(r"(?i)\b(?:introduc\w*|broke|broken|caus\w*|regress\w*|base)\b")
_FOOTNOTE = re.compile(r"\[(\d+)\]")
# The next sentence says part of it still stands.
_STILL = re.compile(r"(?i)" + _STILL_STANDS + r"|\bthe\s+rest\b|\bother\s+part\b")
_FOOTNOTE_LINE = re.compile(r"^\s*\[(\d+)\]:?\s*(.*)$")
_NOT_CITED = re.compile(r"(?i)\b(?:base-commit|fixes|change-id)\s*:")


# The first written line of a sender's reply to their own fix notice that takes it back:
# "Sorry, wrong commit.", "Please ignore that, I was wrong", "Never mind, it does not fix
# this", "Scratch that."
_TAKEN_BACK = re.compile(
    r"(?i)\bwrong\s+(?:commit|hash|sha|one|link)\b|\bignore\s+(?:that|this|my)\b|"
    r"\bnever\s*mind\b|\bi\s+was\s+wrong\b|\b(?:doesn't|does\s+not|didn't|did\s+not)\s+fix\b|"
    r"\bscratch\s+that\b|\bdisregard\b"
)


def fix_taken_back(first_line: str | None) -> bool:
    """Whether a reply to one's own fix notice takes it back (its first written line). Pure."""
    return bool(first_line) and _TAKEN_BACK.search(first_line or "") is not None


def may_hold_hash(body: str) -> bool:
    """Whether a whole message has 7 hex digits in a row anywhere: the first, cheapest test
    (less than half of a list's replies pass it)."""
    return _ANY_HEX.search(body) is not None


def _is_hash(text: str) -> bool:
    """A hash has digits and letters: "20200817" is a date (a tag's), "deadbeef" a word."""
    return any(ch.isdigit() for ch in text) and any(ch.isalpha() for ch in text)


def _hashes(text: str) -> list[str]:
    """The commit hashes written in `text`, in order, each once."""
    found = sorted(
        [(m.start(), m.group(1)) for m in _URL_HASH.finditer(text)]
        + [(m.start(), m.group(1)) for m in _HASH.finditer(text)]
    )
    return list(dict.fromkeys(h for _at, h in found if _is_hash(h)))


def may_name_fix(text: str) -> bool:
    """Whether `text` (a reply's unquoted lines) may hold a fix notice: a cheap test before
    `fixing_commits`, which finds none where this is False."""
    if not any(_is_hash(w) for w in _HEX_WORD.findall(text)):
        return False
    low = text.lower()
    return any(w in low for w in _WORDS)


# A sentence longer than this is no fix notice (a pasted log, a wrapped table): not read,
# so that one message cannot cost more than a bounded amount of time.
_LONGEST = 1_000
# How far before its verb a sentence is read for what takes the notice back.
_BEFORE = 200


def _said(sentence: str) -> int | None:
    """Where the notice's words end in `sentence`, or None when it says no fix elsewhere."""
    if len(sentence) > _LONGEST:
        return None
    stated = sentence.rstrip().endswith((".", "!"))
    if (
        sentence.rstrip().endswith("?")
        or (not stated and _ASKS.match(sentence))
        or _NOT_CITED.search(sentence)
    ):
        return None
    for m in _VERB.finditer(sentence):
        before = sentence[max(0, m.start() - _BEFORE) : m.start()]
        # Read in its own clause: "I had a similar patch, this was already fixed by X".
        if _NOT_DONE.search(before) or _ELSE.search(re.split(r"[,;:]", before)[-1]):
            continue
        marked = _FOOTNOTE_AHEAD.match(sentence, m.end()) is not None
        if _bare(m.group(0)) and not marked and not _SAID_WHERE.search(sentence):
            # "Fixed." alone is an author's answer to a review point as often as a notice:
            # only "Fixed upstream." or "Already fixed." name no commit and still say so.
            continue
        return m.end()
    m = _ALTERNATIVE.search(sentence)
    if m and not _NOT_DONE.search(sentence[max(0, m.start() - _BEFORE) : m.start()]):
        return m.end()
    return None


_ENDS_WITH_PREPOSITION = re.compile(r"(?i)(?:\b(?:by|in|with|via|through|as)|:)\s*$")
_FOOTNOTE_AHEAD = re.compile(r"\s*\[\d+\]")
_SAID_WHERE = re.compile(r"(?i)\b(?:already|upstream|meanwhile)\b")


def _bare(verb: str) -> bool:
    """Whether a verb's match ends the sentence with no preposition or footnote mark."""
    return _ENDS_WITH_PREPOSITION.search(verb) is None


def _in_tail(tail: str) -> list[str]:
    """The hashes the words after the verb name: before another clause or a renamed name,
    and with no contrast after them."""
    hashes = _hashes(tail)
    if not hashes:
        return []
    first = min(tail.find(h) for h in hashes if h in tail)
    between = tail[:first]
    if _CLAUSE.search(between) or _NAME.search(between) or _CONTRAST.search(tail[first:]):
        return []
    return hashes


def _references(lines: list[str]) -> list[str]:
    """The hashes of the commit references that open `lines`, up to the first other line."""
    out: list[str] = []
    for line in lines:
        if not line.strip():
            continue
        m = _REFERENCE.match(line)
        if (
            m is None
            or not _is_hash(m.group(1))
            or _NOT_CITED.search(line)
            or _BREAKING.search(line, m.end())
        ):
            break
        out.append(m.group(1))
        if len(out) == 5:
            break
    return out


def _footnotes(lines: list[str]) -> dict[str, str]:
    """Footnote number -> the hash of the commit it gives ("[1] https://.../commit/<sha>",
    or the address on the line after "[1]"), from the reply's unquoted lines."""
    out: dict[str, str] = {}
    for i, line in enumerate(lines):
        m = _FOOTNOTE_LINE.match(line)
        if m is None:
            continue
        text = m.group(2) or (lines[i + 1] if i + 1 < len(lines) else "")
        found = _references([text])
        if found:
            out.setdefault(m.group(1), found[0])
    return out


def fixing_commits(
    paragraphs: list[list[str]], unquoted: list[str] | None = None
) -> tuple[str, ...]:
    """The commit hashes the written `paragraphs` (each a list of the sender's own lines, in
    order) name as what fixed or replaced the patch answered, in order, each once; a
    footnote's ("Already fixed here[1].") is looked up in `unquoted`, every line of the
    reply that is not quoted (a footnote often stands after the signature). Pure."""
    found: list[str] = []
    notes: dict[str, str] | None = None
    for at, para in enumerate(paragraphs):
        sentences = _SENTENCE_END.split(" ".join(line.strip() for line in para))
        for i, sentence in enumerate(sentences):
            end = _said(sentence)
            if end is None:
                continue
            tail = sentence[end:]
            hashes = _in_tail(tail)
            if not hashes and not _hashes(tail) and not _CONTRAST.search(tail):
                # "fixed already by setting LC_ALL=C. / 9acdbed6ce0f...", "fixed by: / commit
                # 5e1e0e2d81e5...": the commit on the lines right after the sentence; or in
                # the footnote the sentence marks.
                after = sentences[i + 1 : i + 2] + (
                    paragraphs[at + 1][:5] if at + 1 < len(paragraphs) else []
                )
                hashes = _references(after)
                mark = _FOOTNOTE.search(sentence, max(0, end - 6))
                if not hashes and mark and unquoted is not None:
                    notes = _footnotes(unquoted) if notes is None else notes
                    hashes = [notes[mark.group(1)]] if mark.group(1) in notes else []
            if hashes and any(_STILL.search(x) for x in sentences[i + 1 : i + 2]):
                continue  # "The x86 part was fixed by X. The arm64 part is still needed."
            found.extend(hashes)
    return tuple(dict.fromkeys(found))
