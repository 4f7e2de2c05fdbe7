"""The one filter type: which series a dashboard page, the JSON API, `patchlens report` and
every export cover. Built from a query string (`Filters.from_query`, so that every view is a
link) or from the shared command-line options (`Filters.from_options`); both check values
against the one table PARAMS. `queries.selection.select_series` applies it.

A filter value that cannot be understood is an error (HTTP 400 naming the parameter), never a
page that quietly shows everything. A list, organisation or subsystem that has no series is not
an error: it selects nothing, so a link stays valid when the data changes.

What the filters select, on every page: the series first posted from `since` to `until` (both
days included, UTC), sent to `list`, touching `subsystem`, authored from `org` (the author's
organisation when the series was posted), by a `contributor` who is new or established, of a
size `bucket`, in a backlog `state`, whose `author` name or address contains the text given,
whose title, author or key contains `q`, that `search` finds (the search language of
queries/search.py: `is:open age:>2w -has:review ...`). Every figure of a page is computed over
those series (the patches page: their patches, by the patch's own date).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from functools import cached_property
from typing import Any
from urllib.parse import urlencode

from patchlens.metrics.backlog import OPEN_STATES, STATES
from patchlens.metrics.distributions import BUCKET_ORDER, BUCKETS
from patchlens.queries.search import Search, SearchError, Term, parse, q_text

PERIODS = ("month", "quarter", "year")
CONTRIBUTORS = ("new", "established")
# Besides every state: "open" is every state of the backlog (OPEN_STATES), "unanswered" the
# open series nobody but their author or a bot ever answered.
STATE_GROUPS = ("open", "unanswered")
STATE_VALUES = (*STATES, *STATE_GROUPS)
BUCKET_VALUES = tuple(f"{k}:{v}" for k in BUCKETS for v in BUCKET_ORDER[k])
PAGE_SIZE = 50
MAX_PAGE = 100_000
MAX_TEXT = 200
DAY = 86400
_DAY_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


class FilterError(ValueError):
    """A query parameter the page cannot apply: answered with HTTP 400."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.message = message


# The parameters that select series (the others shape a page: period, sort, page, full).
SERIES_PARAMS = (
    "since",
    "until",
    "list",
    "subsystem",
    "org",
    "author",
    "contributor",
    "bucket",
    "state",
    "q",
    "search",
)

TEXT = {"type": "string", "maxLength": MAX_TEXT}

# Every query parameter, with its JSON schema and meaning: the parser checks values against
# it and /openapi.json lists it, so the two cannot disagree.
PARAMS: dict[str, tuple[dict[str, Any], str]] = {
    "since": (
        {"type": "string", "format": "date"},
        "Series first posted on or after this day (YYYY-MM-DD, UTC).",
    ),
    "until": (
        {"type": "string", "format": "date"},
        "Series first posted on or before this day (YYYY-MM-DD, UTC; the day is included).",
    ),
    "list": (TEXT, "Series sent to this mailing list (a list with no series selects nothing)."),
    "subsystem": (TEXT, "Series touching this MAINTAINERS section (unknown: selects nothing)."),
    "org": (TEXT, "Series whose author belonged to this organisation (unknown: selects nothing)."),
    "author": (TEXT, "Series whose author's name or address contains this text (literally)."),
    "contributor": ({"type": "string", "enum": list(CONTRIBUTORS)}, "New or established author."),
    "bucket": ({"type": "string", "enum": list(BUCKET_VALUES)}, "Size of the series."),
    "state": (
        {"type": "string", "enum": list(STATE_VALUES)},
        "Backlog state today; 'open' is every open state, 'unanswered' the open series no one "
        "but the author or a bot answered.",
    ),
    "q": (
        TEXT,
        "Text in the series title, author address or key (patches page: in the patch subject "
        "or sender).",
    ),
    # A parameter of its own rather than a meaning of `q`: `q` stays literal text (a title
    # with a colon or a leading '-' is still found, old links keep their meaning, and the
    # patches and pull requests pages, which read `q` as text, are unchanged).
    "search": (
        {"type": "string", "maxLength": MAX_TEXT},
        "A search: terms joined by AND, '-' before one negates it, values may be quoted: "
        "is:/state: a state, open, unanswered or pull; age:>2w; posted:2026-01..2026-03; "
        "from:, to: (To or Cc), cc:, reviewed-by:, acked-by:, tested-by:, subsystem:, file:, "
        "list: (text contained); "
        "has:review, has:reply; versions:>3, patches:<5; bucket:lines:100-999 (a size "
        "bucket); other words: text in a title or "
        "patch subject. See /glossary#search.",
    ),
    "period": (
        {"type": "string", "enum": list(PERIODS), "default": "quarter"},
        "Length of the periods of trends.",
    ),
    "sort": (
        TEXT,
        "Column to sort by, '-' first for descending (the page's sortable columns).",
    ),
    "page": (
        {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1},
        "Page of a paginated list.",
    ),
    "full": (
        {"type": "string", "enum": ["1"]},
        "1: every table of the page in full instead of its first rows.",
    ),
}


def parse_day(value: str, parameter: str) -> int:
    """Midnight UTC of a YYYY-MM-DD day, or a FilterError naming the parameter."""
    if not _DAY_RE.fullmatch(value):
        raise FilterError(parameter, f"{parameter}: expected a day as YYYY-MM-DD, got {value!r}")
    try:
        d = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise FilterError(parameter, f"{parameter}: no such day {value!r} (YYYY-MM-DD)") from None
    return int(d.timestamp())


def until_bound(day_start: int) -> int:
    """The exclusive bound that keeps the whole `until` day: the next midnight."""
    return day_start + DAY


def check_params(params: Any, allowed: tuple[str, ...]) -> None:
    """Unknown or repeated parameters are errors: a typo must not show unfiltered data."""
    for name in params:
        if name not in allowed:
            raise FilterError(
                name, f"unknown parameter {name!r}; this page takes: {', '.join(allowed)}"
            )
        if len(params.getlist(name)) > 1:
            raise FilterError(name, f"{name} given more than once")


def parse_int(name: str, raw: str, maximum: int = MAX_PAGE) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise FilterError(name, f"{name}: expected a whole number from 1 to {maximum}, got {raw!r}")
    return int(raw)


@dataclass(frozen=True)
class Filters:
    since: str = ""
    until: str = ""
    list: str = ""
    subsystem: str = ""
    org: str = ""
    author: str = ""  # name or address contains, literally
    contributor: str = ""  # new | established
    bucket: str = ""  # patches:2-5, lines:<10, versions:3-4
    period: str = "quarter"
    state: str = ""
    q: str = ""
    search: str = ""  # the search language (queries/search.py)
    sort: str = ""
    page: int = 1
    full: str = ""  # "1": tables in full

    @classmethod
    def from_query(cls, params: Any, extra: tuple[str, ...] = ()) -> Filters:
        """The filters of a query string; FilterError for anything it cannot apply."""
        check_params(params, (*PARAMS, *extra))
        return cls.from_values({f.name: params.get(f.name) for f in fields(cls)})

    @classmethod
    def from_options(cls, **options: str | None) -> Filters:
        """The filters of the shared command-line options (`--since DAY`, `--list NAME`, ...):
        the same checks as a query string, so a value the dashboard refuses the CLI refuses."""
        unknown = set(options) - set(SERIES_PARAMS)
        if unknown:
            raise FilterError(sorted(unknown)[0], f"not a series filter: {sorted(unknown)}")
        return cls.from_values(options)

    @classmethod
    def from_values(cls, given: dict[str, Any]) -> Filters:
        """The filters of raw text values by name (None or "": not given); FilterError for
        anything that cannot be applied."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = given.get(f.name)
            if raw is None or raw == "":
                continue
            raw = str(raw)
            if len(raw) > MAX_TEXT:
                raise FilterError(f.name, f"{f.name}: at most {MAX_TEXT} characters")
            enum = PARAMS[f.name][0].get("enum")
            if f.name == "page":
                values["page"] = parse_int("page", raw)
            elif f.name in ("since", "until"):
                parse_day(raw, f.name)
                values[f.name] = raw
            elif f.name == "search":
                try:
                    parse(raw)
                except SearchError as e:
                    raise FilterError("search", f"search: {e.message}") from None
                values[f.name] = raw
            elif enum is not None and raw not in enum:
                raise FilterError(
                    f.name, f"{f.name}: expected one of {', '.join(enum)}; got {raw!r}"
                )
            else:
                values[f.name] = raw
        made = cls(**values)
        if made.since and made.until and made.until < made.since:
            raise FilterError("until", "until: a day on or after since")
        return made

    # Cached: `keep` asks for each row (the dataclass is frozen, so they never change).
    @cached_property
    def since_ts(self) -> int | None:
        return parse_day(self.since, "since") if self.since else None

    @cached_property
    def until_ts(self) -> int | None:
        """Exclusive: the midnight after the `until` day, so that the day is included."""
        return until_bound(parse_day(self.until, "until")) if self.until else None

    @cached_property
    def parsed_search(self) -> Search:
        """The terms of `search` (checked when the filters were made)."""
        return parse(self.search)

    @property
    def counted(self) -> str:
        """What the selected rows are, for the words that count them: a search with
        `is:pull` selects pull requests instead of series, and a page must not call them
        series."""
        return "pull requests" if self.search and self.parsed_search.wants_pulls() else "series"

    def bucket_filter(self) -> tuple[str, str] | None:
        kind, _, value = self.bucket.partition(":")
        if kind in BUCKETS and value in BUCKET_ORDER[kind]:
            return kind, value
        return None

    def selects_all(self) -> bool:
        """Whether no filter narrows the series (the query can skip the series set)."""
        return not any(getattr(self, name) for name in SERIES_PARAMS)

    def state_ok(self, row: dict[str, Any]) -> bool:
        if not self.state:
            return True
        if self.state == "open":
            return row["state"] in OPEN_STATES
        if self.state == "unanswered":
            return row["state"] in OPEN_STATES and not row["has_reviewer_reply"]
        return row.get("state") == self.state

    def keep(
        self, row: dict[str, Any], now: int = 0, found: dict[Term, frozenset[str]] | None = None
    ) -> bool:
        """Whether a series row (series_metrics with its `state`, `lists` and `author_name`)
        passes every filter. Pure, and the whole definition: SQL may narrow the rows first
        (queries.selection), but what is kept is what this says. A search's ages count to
        `now`; its terms that need the store are answered by `found` (the series keys of
        each, from queries.searchsql: `selection.keeper` gives both)."""
        since, until = self.since_ts, self.until_ts
        if since is not None and row["first_date"] < since:
            return False
        if until is not None and row["first_date"] >= until:
            return False
        if self.org and row["org"] != self.org:
            return False
        if self.list and self.list not in row["lists"]:
            return False
        if self.author:
            needle = self.author.casefold()
            if not any(needle in (row[k] or "").casefold() for k in ("author_addr", "author_name")):
                return False
        if self.contributor == "new" and not row["new_contributor"]:
            return False
        if self.contributor == "established" and row["new_contributor"]:
            return False
        b = self.bucket_filter()
        if b and BUCKETS[b[0]](row) != b[1]:
            return False
        if self.subsystem and self.subsystem not in row["subsystems"]:
            return False
        if not self.state_ok(row):
            return False
        if self.q and self.q.casefold() not in q_text(row):
            return False
        if self.search:
            search = self.parsed_search
            if search.store_terms() and found is None:
                raise ValueError("a search with store terms needs their series (found)")
            if not search.matches(row, now, found or {}):
                return False
        return True

    def query(self, **changes: Any) -> str:
        """This view's query string with some filters changed ("" removes one)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        if "page" not in changes:
            values["page"] = 1
        pairs = [
            (k, v)
            for k, v in values.items()
            if v not in ("", None)
            and not (k == "page" and v == 1)
            and not (k == "period" and v == "quarter")
        ]
        return "?" + urlencode(pairs) if pairs else ""

    def query_in_state(self, state: str, **changes: Any) -> str:
        """This view's query string narrowed to a state or group of them (`open`): the state
        filter, unless the view has another already; then the state is added as a search
        term, so that a link keeps the view's own state and lists what its count counted
        (merged series open in the backlog: none, not every open series)."""
        if not self.state or self.state == state:
            return self.query(state=state, **changes)
        return self._query_with_terms(["is:" + state.replace(" ", "-")], **changes)

    def query_in_bucket(self, kind: str, value: str) -> str:
        """This view's query string narrowed to a size bucket: the bucket filter, unless the
        view has a bucket of another kind; then the bucket as a search term
        (`bucket:patches:2-5`), so that the link keeps the view's own bucket and lists what
        its row counted."""
        if not self.bucket or self.bucket.partition(":")[0] == kind:
            return self.query(bucket=f"{kind}:{value}")
        return self._query_with_terms([f"bucket:{kind}:{value}"])

    def _query_with_terms(self, terms: list[str], **changes: Any) -> str:
        """This view's query string with `terms` added to its search (ANDed with it)."""
        return self.query(search=" ".join([self.search, *terms]).strip(), **changes)

    def active(self) -> list[tuple[str, str]]:
        return [
            (f.name, str(getattr(self, f.name)))
            for f in fields(self)
            if f.name not in ("page", "period", "sort", "full") and getattr(self, f.name)
        ]
