"""Who reviews and who is reviewed: review given against contributions received, per person
and per organisation, and real comments against flag-only reviews. Pure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from patchlens.metrics.model import SeriesEv


@dataclass
class Balance:
    key: str
    review_replies: int = 0  # reviewer replies sent on others' series
    reviews_given: int = 0  # of which gave Reviewed-by/Acked-by
    flag_only: int = 0  # a review with (almost) nothing written: the tag alone
    lines_written: int = 0
    series_reviewed: set[str] = field(default_factory=set)
    series_authored: int = 0
    patches_authored: int = 0
    replies_received: int = 0  # reviewer replies on own series
    reviews_received: int = 0

    @property
    def ratio(self) -> float | None:
        """Review replies given per review reply received."""
        return (
            round(self.review_replies / self.replies_received, 2) if self.replies_received else None
        )

    def row(self) -> dict[str, object]:
        return {
            "key": self.key,
            "review_replies": self.review_replies,
            "reviews_given": self.reviews_given,
            "flag_only_reviews": self.flag_only,
            "substantive_reviews": self.reviews_given - self.flag_only,
            "lines_written": self.lines_written,
            "series_reviewed": len(self.series_reviewed),
            "series_authored": self.series_authored,
            "patches_authored": self.patches_authored,
            "replies_received": self.replies_received,
            "reviews_received": self.reviews_received,
            "given_per_received": self.ratio,
        }


Group = Callable[[str, str, int], str]


def by_person(who: str, addr: str, when: int) -> str:
    return who


def balances(all_series: list[SeriesEv], group: Group = by_person) -> list[Balance]:
    """Per person, or per whatever `group(identity, address, date)` maps each event to: an
    organisation is decided per message, by the address it came from and its date, so a
    person who changed employer counts for both."""
    out: dict[str, Balance] = {}

    def get(key: str) -> Balance:
        if key not in out:
            out[key] = Balance(key)
        return out[key]

    for se in all_series:
        author = get(group(se.author, se.author_addr, se.first_date))
        author.series_authored += 1
        author.patches_authored += len(se.latest.patches)
        for v in se.versions:
            for r in v.replies:
                if not r.reviewer:
                    continue
                b = get(group(r.who, r.addr, r.date))
                b.review_replies += 1
                b.lines_written += r.lines_written
                b.series_reviewed.add(se.key)
                author.replies_received += 1
                if r.review:
                    b.reviews_given += 1
                    author.reviews_received += 1
                    if not r.substantive:
                        b.flag_only += 1
    return sorted(out.values(), key=lambda b: (-b.review_replies, -b.series_authored, b.key))


def display_names(pairs: list[tuple[str, str, str]]) -> dict[str, str]:
    """identity -> "Name <address>" by the name and address used most often."""
    names: dict[str, Counter[str]] = {}
    addrs: dict[str, Counter[str]] = {}
    for ident, name, addr in pairs:
        if name:
            names.setdefault(ident, Counter())[name] += 1
        addrs.setdefault(ident, Counter())[addr] += 1
    out = {}
    for ident, c in addrs.items():
        addr = c.most_common(1)[0][0]
        name = names[ident].most_common(1)[0][0] if ident in names else ""
        out[ident] = f"{name} <{addr}>" if name else addr
    return out
