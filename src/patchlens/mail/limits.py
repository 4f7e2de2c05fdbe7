"""The limits on what one message may cost, and what happens beyond them.

Mail is hostile: one message can be tens of megabytes, nest multiparts without end, carry
thousands of parts or a References header of ten thousand ids. Past these limits nothing is
dropped: the raw message is stored whole (`messages.raw`) and its header still parsed; only
the part past the limit is not expanded into the stored text, diff or references. The README's
"Limits" section states the same numbers.
"""

from __future__ import annotations

# A message larger than this is stored raw with its header parsed, but its body is not
# decoded or searched for a patch (the body text is left empty).
MAX_MESSAGE_BYTES = 64 * 1024 * 1024

# A message of more lines than this, raw (LF) or once its text is decoded (every boundary of
# `str.splitlines`; base64 packs some 57 decoded bytes per raw line), is treated as one
# over the size limit. Raw, LF alone: the other boundaries are bytes any binary part holds
# (7 in 256), which would turn away a 37 MB attachment the walk never splits. Parsing a diff and
# its fingerprint and patch-id hold each line as a Python object: a diff of 3-byte lines took
# 25-34 times its size (a 64 MiB message of them, gigabytes). No real message comes near:
# the largest of 1.2 million Linux messages is 4.2 MB, and of those over 1 MB the one with
# the most lines has 104,312. At this limit a message costs at most about 140 MB however
# short its lines.
MAX_MESSAGE_LINES = 1_000_000

# Every line boundary of `str.splitlines`, which the parsers and pages split text with: not
# only "\n" (a body of lone "\r", "\v" or "\u2028" is as many lines to them).
_TEXT_BREAKS = ("\n", "\r", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")


def text_lines(text: str) -> int:
    """How many lines `str.splitlines` makes of decoded `text` (a CRLF left is one)."""
    return sum(text.count(c) for c in _TEXT_BREAKS) - text.count("\r\n")


# Multipart parts nested deeper than this many multipart levels are not expanded.
MAX_MIME_DEPTH = 10

# Leaf parts after this many (in document order) are not expanded.
MAX_MIME_PARTS = 500

# A References header with more ids keeps the first (the thread's root) and the last
# MAX_REFERENCES - 1 (the nearest ancestors, the parent last); the ids between are dropped.
MAX_REFERENCES = 500

# Peak memory of `parse_message`, as a multiple of the message's size, that the test suite
# holds the parser to (tests/test_limits.py): measured 2.5x for a multipart message nested
# 25 deep (38x before), 6x for non-ASCII text, 10-11x for a message that is one large diff.
PEAK_MEMORY_FACTOR = 12

# A hunk header's line count of more digits than int() converts (4,300: Python's guard
# against quadratic conversion) is read as this: more lines than any message holds, as a
# count of 4,300 nines already is, instead of failing the whole message with ValueError.
HUGE_HUNK_COUNT = 1 << 62


def hunk_count(digits: str | None) -> int:
    """A hunk header's line count (`@@ -1,<count> +1,<count> @@`): 1 when it is left out."""
    if digits is None:
        return 1
    try:
        return int(digits)
    except ValueError:
        return HUGE_HUNK_COUNT
