"""The search language of the series explorer and the API (`search=` in the query string), in
the spirit of Patchew's: `is:open age:>2w -has:review from:alice "page cache"`. Pure: a query
is parsed into terms here, and a series row is tested against them here; the few terms that
need the store (recipients, trailers, files, lists) are looked up by `queries.searchsql`, with
every value bound as a parameter, and handed in as sets of series keys.

Terms (all joined by AND; `-` before a term negates it; a value may be quoted, "like this"):
- `is:STATE` / `state:STATE`: a backlog state of metrics/backlog.py STATES (spaces written as
  `-`, or quoted), a group of filters.STATE_GROUPS (`open`, `unanswered`), or `is:pull`;
- `age:>2w`: time since the series was first posted, as of the data's date (h, d, w, m = 30
  days, y = 365 days), with <, <=, >, >=;
- `posted:2026-01..2026-03`: first posted in a range of days, months or years (either end may
  be left out; one value alone is that day, month or year);
- `from:TEXT`: the author's name or address contains TEXT;
- `to:TEXT` (To or Cc), `cc:TEXT` (Cc only): a posting of the series was sent to an address
  containing TEXT;
- `reviewed-by:TEXT`: a reply gave Reviewed-by (or a later version carries one) to a person
  whose name or address contains TEXT; `acked-by:TEXT` and `tested-by:TEXT` the same for
  Acked-by and Tested-by;
- `subsystem:TEXT`, `file:TEXT`, `list:TEXT`: a touched MAINTAINERS section, file path or a
  mailing list whose name contains TEXT;
- `has:review` (a Reviewed-by or Acked-by was given), `has:reply` (anyone but the author or a
  bot replied);
- `versions:>3` (also `patches:`): a count, compared (=, <, <=, >, >=; no sign: equal);
- `bucket:KIND:VALUE`: a size bucket of metrics/distributions.py (`bucket:lines:100-999`,
  `bucket:patches:16+`), as the bucket filter selects it: a page filtered to one bucket links
  a row of another kind with it;
- any other word or "quoted phrase": contained in a version's title, a patch subject, the
  author's address or the series key.
Text comparisons ignore case. Every error names the term and what was expected.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from patchlens.metrics.backlog import OPEN_STATES, STATES
from patchlens.metrics.distributions import BUCKET_ORDER, BUCKETS

MAX_TERMS = 30
DAY = 86400
UNITS = {"h": 3600, "d": DAY, "w": 7 * DAY, "m": 30 * DAY, "y": 365 * DAY}
# "open" is every open state, "unanswered" the open series no one but the author or a bot
# answered: the same groups as filters.STATE_GROUPS (kept in step by a test).
GROUPS = ("open", "unanswered")
PULL = "pull"
HAS = ("review", "reply")
COUNTS = ("versions", "patches")
# Operators answered from the series row itself, and those needing the store.
ROW_OPS = ("is", "state", "age", "posted", "from", "subsystem", "has", "bucket", *COUNTS)
STORE_OPS = ("to", "cc", "reviewed-by", "acked-by", "tested-by", "file", "list")
OPERATORS = (*ROW_OPS, *STORE_OPS)

_TOKEN = re.compile(
    r"""\s*(?P<neg>-)?(?:(?P<op>[A-Za-z][A-Za-z-]*):)?(?:"(?P<quoted>[^"]*)"|(?P<bare>[^\s"]+))?""",
)
_CMP = re.compile(r"(?P<cmp><=|>=|<|>|=)?(?P<rest>.*)", re.S)
_DURATION = re.compile(r"(\d{1,6})([hdwmy])")
_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


class SearchError(ValueError):
    """A search that cannot be applied: the term as written and what was wrong with it."""

    def __init__(self, term: str, message: str) -> None:
        super().__init__(f"{message} (in {term!r})")
        self.term = term
        self.message = f"{message} (in {term!r})"


@dataclass(frozen=True)
class Term:
    """One term: `op` ("" for free text), its value as written, whether it is negated, and
    the value parsed: a state set, a (comparison, number), a (start, end) range of instants
    (end exclusive, None for open), or casefolded text."""

    op: str
    value: str
    negated: bool
    arg: Any

    @property
    def text(self) -> str:
        return f"{'-' if self.negated else ''}{self.op + ':' if self.op else ''}{self.value}"


@dataclass(frozen=True)
class Search:
    terms: tuple[Term, ...]

    def store_terms(self) -> tuple[Term, ...]:
        """The terms whose series only the store knows (looked up by queries.searchsql)."""
        return tuple(t for t in self.terms if t.op in STORE_OPS)

    def wants_pulls(self) -> bool:
        """Whether the search selects pull requests (`is:pull`) rather than series."""
        return any(t.op in ("is", "state") and t.arg == PULL and not t.negated for t in self.terms)

    def matches(self, row: dict[str, Any], now: int, found: dict[Term, frozenset[str]]) -> bool:
        """Whether a series row passes every term; `now` is the date ages are counted to,
        `found` the series keys of each store term."""
        return all(_holds(t, row, now, found) != t.negated for t in self.terms)


def state_values() -> dict[str, str]:
    """Every value `is:`/`state:` accepts, by its spelling: each state of STATES (as written
    and with `-` for spaces), each group, and `pull`. Read from STATES on each call, so a state
    added there is searchable with no change here."""
    out = {s: s for s in (*STATES, *GROUPS)}
    out.update({s.replace(" ", "-"): s for s in STATES})
    out[PULL] = PULL
    return out


def _number_cmp(term: str, value: str, what: str, unit: bool) -> tuple[str, float]:
    m = _CMP.fullmatch(value)
    assert m is not None
    cmp, rest = m["cmp"] or "=", m["rest"]
    if unit:
        if not m["cmp"] or cmp == "=":
            raise SearchError(term, f"{what}: expected a comparison such as >2w or <3d")
        d = _DURATION.fullmatch(rest)
        if not d:
            raise SearchError(
                term, f"{what}: bad duration {rest!r}; expected a number and h, d, w, m or y"
            )
        return cmp, int(d[1]) * UNITS[d[2]]
    if not rest.isdigit() or len(rest) > 9:
        raise SearchError(
            term,
            f"{what}: bad comparison {value!r}; expected a whole number, optionally after "
            "=, <, <=, > or >=",
        )
    return cmp, int(rest)


def _bound(term: str, text: str, end: bool) -> int:
    """The first instant of a day, month or year (`end`: the first instant after it)."""
    m = _DATE.fullmatch(text)
    if not m:
        raise SearchError(term, f"posted: bad date {text!r}; expected YYYY, YYYY-MM or YYYY-MM-DD")
    y, mo, d = int(m[1]), int(m[2] or 1), int(m[3] or 1)
    try:
        start = datetime(y, mo, d, tzinfo=UTC)
    except ValueError:
        raise SearchError(term, f"posted: no such date {text!r}") from None
    if not end:
        return int(start.timestamp())
    if m[3]:
        return int(start.timestamp()) + DAY
    if m[2]:
        return int(start.timestamp()) + calendar.monthrange(y, mo)[1] * DAY
    return int(datetime(y + 1, 1, 1, tzinfo=UTC).timestamp())


def _range(term: str, value: str) -> tuple[int | None, int | None]:
    lo, sep, hi = value.partition("..")
    if not sep:
        return _bound(term, value, False), _bound(term, value, True)
    if not lo and not hi:
        raise SearchError(term, "posted: a range needs at least one end, as 2026-01..2026-03")
    start = _bound(term, lo, False) if lo else None
    end = _bound(term, hi, True) if hi else None
    if start is not None and end is not None and end <= start:
        raise SearchError(term, "posted: the range ends before it starts")
    return start, end


def _term(op: str, value: str, negated: bool, written: str) -> Term:
    if op and op not in OPERATORS:
        raise SearchError(
            written,
            f"unknown operator {op + ':'!r}; known: {', '.join(o + ':' for o in OPERATORS)} "
            '(to search for text with a colon, quote it: "a: b")',
        )
    if op and not value:
        raise SearchError(written, f"{op}: needs a value")
    arg: Any
    if op in ("is", "state"):
        values = state_values()
        key = value.casefold()
        if key not in values or (op == "state" and key == PULL):
            raise SearchError(
                written,
                f"{op}: unknown state {value!r}; expected one of "
                f"{', '.join(sorted(k for k in values if ' ' not in k))}",
            )
        arg = values[key]
    elif op == "age":
        arg = _number_cmp(written, value, "age", unit=True)
    elif op in COUNTS:
        arg = _number_cmp(written, value, op, unit=False)
    elif op == "posted":
        arg = _range(written, value)
    elif op == "bucket":
        kind, _, label = value.casefold().partition(":")
        if label not in BUCKET_ORDER.get(kind, ()):
            known = ", ".join(f"{k}:{v}" for k, vs in BUCKET_ORDER.items() for v in vs)
            raise SearchError(written, f"bucket: expected one of {known}; got {value!r}")
        arg = (kind, label)
    elif op == "has":
        if value.casefold() not in HAS:
            raise SearchError(written, f"has: expected one of {', '.join(HAS)}; got {value!r}")
        arg = value.casefold()
    else:
        arg = value.casefold()
    return Term(op.casefold(), value, negated, arg)


def parse(text: str) -> Search:
    """The terms of a search, or a SearchError naming the first term that cannot be applied."""
    terms: list[Term] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        assert m is not None  # every part of the pattern is optional
        pos = m.end()
        written = m.group(0).strip()
        value = m["quoted"] if m["quoted"] is not None else m["bare"]
        if value is None and text[pos : pos + 1] == '"':
            at = text[pos - len(written) :][:60]
            raise SearchError(at, 'unterminated quote: close it with "')
        if value is None and not m["op"]:
            if m["neg"]:
                raise SearchError(written, "'-' must stand before a term, as -is:merged")
            break  # only spaces were left
        terms.append(_term((m["op"] or "").casefold(), value or "", bool(m["neg"]), written))
        if len(terms) > MAX_TERMS:
            raise SearchError(written, f"at most {MAX_TERMS} terms")
    return Search(tuple(terms))


def _compare(x: float | None, cmp: str, n: float) -> bool:
    if x is None:
        return False
    return {
        "=": x == n,
        "<": x < n,
        "<=": x <= n,
        ">": x > n,
        ">=": x >= n,
    }[cmp]


def _holds(t: Term, row: dict[str, Any], now: int, found: dict[Term, frozenset[str]]) -> bool:
    """Whether the term, not negated, holds for the row."""
    if t.op in STORE_OPS:
        return row["series_key"] in found[t]
    if t.op in ("is", "state"):
        if t.arg == PULL:
            return bool(row.get("is_pull"))
        if t.arg == "open":
            return row["state"] in OPEN_STATES
        if t.arg == "unanswered":
            return row["state"] in OPEN_STATES and not row["has_reviewer_reply"]
        return bool(row["state"] == t.arg)
    if t.op == "age":
        return _compare(now - row["first_date"], *t.arg)
    if t.op in COUNTS:
        return _compare(row[t.op], *t.arg)
    if t.op == "posted":
        start, end = t.arg
        d = row["first_date"]
        return (start is None or d >= start) and (end is None or d < end)
    if t.op == "from":
        return any(t.arg in (row.get(k) or "").casefold() for k in ("author_addr", "author_name"))
    if t.op == "subsystem":
        return any(t.arg in s.casefold() for s in row["subsystems"])
    if t.op == "bucket":
        kind, label = t.arg
        return bool(BUCKETS[kind](row) == label)
    if t.op == "has":
        if t.arg == "review":
            return bool(row["reviews"])
        return bool(row["has_reviewer_reply"])
    return t.arg in q_text(row)


def q_text(row: dict[str, Any]) -> str:
    """The text a word looks in (the `q` filter, and a search's bare words), casefolded:
    every version's title and every patch subject (search_text), not only the name, with
    the author's address and the series key. queries.selection indexes the same text to
    narrow the rows `Filters.keep` tests."""
    return (
        f"{row['title']} {row['author_addr']} {row['series_key']} {row.get('search_text', '')}"
    ).casefold()
