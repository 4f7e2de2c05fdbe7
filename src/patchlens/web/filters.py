"""The filters every page takes from its query string, so that every view is a link."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from patchlens.metrics.distributions import BUCKET_ORDER, BUCKETS

PERIODS = ("month", "quarter", "year")
CONTRIBUTORS = ("new", "established")
PAGE_SIZE = 50


def _date(value: str | None) -> int | None:
    if not value:
        return None
    try:
        d = datetime.strptime(value[:10], "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None  # a bad date filters nothing rather than failing the page
    return int(d.timestamp())


@dataclass(frozen=True)
class Filters:
    since: str = ""
    until: str = ""
    list: str = ""
    subsystem: str = ""
    org: str = ""
    contributor: str = ""  # new | established
    bucket: str = ""  # patches:2-5, lines:<10, versions:3-4
    period: str = "quarter"
    state: str = ""
    q: str = ""
    sort: str = ""
    page: int = 1

    @classmethod
    def from_query(cls, params: Any) -> Filters:
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = params.get(f.name)
            if raw is None or raw == "":
                continue
            raw = str(raw)[:200]
            if f.name == "page":
                with contextlib.suppress(ValueError):
                    values["page"] = max(1, min(int(raw), 100000))
            elif f.name == "period":
                values["period"] = raw if raw in PERIODS else "quarter"
            elif f.name == "contributor":
                values["contributor"] = raw if raw in CONTRIBUTORS else ""
            else:
                values[f.name] = raw
        return cls(**values)

    @property
    def since_ts(self) -> int | None:
        return _date(self.since)

    @property
    def until_ts(self) -> int | None:
        return _date(self.until)

    def bucket_filter(self) -> tuple[str, str] | None:
        kind, _, value = self.bucket.partition(":")
        if kind in BUCKETS and value in BUCKET_ORDER[kind]:
            return kind, value
        return None

    def keep(self, row: dict[str, Any]) -> bool:
        """Whether a series_metrics row passes the filters that SQL did not apply."""
        if self.contributor == "new" and not row["new_contributor"]:
            return False
        if self.contributor == "established" and row["new_contributor"]:
            return False
        b = self.bucket_filter()
        if b and BUCKETS[b[0]](row) != b[1]:
            return False
        if self.subsystem and self.subsystem not in row["subsystems"]:
            return False
        if self.state and row.get("state") != self.state:
            return False
        if self.q:
            needle = self.q.casefold()
            # Every version's title and every patch subject (search_text), not only the name.
            hay = (
                f"{row['title']} {row['author_addr']} {row['series_key']} "
                f"{row.get('search_text', '')}"
            ).casefold()
            if needle not in hay:
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

    def active(self) -> list[tuple[str, str]]:
        return [
            (f.name, str(getattr(self, f.name)))
            for f in fields(self)
            if f.name not in ("page", "period", "sort") and getattr(self, f.name)
        ]
