"""Who responded to a series, by role: a maintainer of the touched files, a listed reviewer, a
bot, or anyone else; and how long each role took to respond first. Pure.

The roles come from MAINTAINERS as it stood when the series was posted (`expected`: identity
-> MAINTAINER or REVIEWER, worked out by the metrics stage with the rules `get_maintainer.pl`
follows). A reply is classed once, by the first rule that fits, in this order:

1. the series' author (any version's sender, or the patch author it names): never a response;
2. a bot (identity/bots.py): a response, never a review;
3. a maintainer (M:) of a touched file;
4. a listed reviewer (R:) of a touched file and not its maintainer;
5. anyone else.

docs/METRICS.md ("Time to first response by role") says how this follows CHAOSS.
"""

from __future__ import annotations

from dataclasses import dataclass

from patchlens.metrics.model import ReplyFacts, SeriesFacts

AUTHOR = "author"
BOT = "bot"
MAINTAINER = "maintainer"
REVIEWER = "reviewer"
OTHER = "other"

# The roles a response may come from, in the order pages show them.
RESPONSE_ROLES = (MAINTAINER, REVIEWER, OTHER, BOT)
ROLES = (*RESPONSE_ROLES, AUTHOR)
# The stored duration of each role's first response (hours after the first posting).
ROLE_DURATIONS = tuple(f"time_to_first_response_{role}" for role in RESPONSE_ROLES)

HOUR = 3600.0


def role_of(reply: ReplyFacts, expected: dict[str, str]) -> str:
    """The role a reply was sent in (see the module's rules); `expected` maps an identity to
    MAINTAINER or REVIEWER."""
    if reply.is_author:
        return AUTHOR
    if reply.is_bot:
        return BOT
    role = expected.get(reply.who)
    return role if role in (MAINTAINER, REVIEWER) else OTHER


def expected_roles(maintainers: frozenset[str], reviewers: frozenset[str]) -> dict[str, str]:
    """identity -> role, from the identities named by M: and by R: (M: wins: a maintainer who
    is also listed as a reviewer of another touched section responds as a maintainer)."""
    out = dict.fromkeys(reviewers, REVIEWER)
    out.update(dict.fromkeys(maintainers, MAINTAINER))
    return out


@dataclass(frozen=True, slots=True)
class FirstResponses:
    """The first response to a series, and each role's first response, in hours after the
    first posting (None: that role never responded)."""

    role: str | None  # of the first response from anyone but the author, bots included
    who: str | None  # its sender's identity
    hours: float | None  # and when, after the first posting
    by_role: dict[str, float | None]  # RESPONSE_ROLES -> hours


def first_responses(s: SeriesFacts, expected: dict[str, str]) -> FirstResponses:
    """The first response by role to the series `s`: over the replies to every version, from
    the first posting on (a reply dated before it is an anomaly and not counted), ties broken
    by Message-ID as everywhere else."""
    start = s.first_date
    replies = sorted(
        (r for v in s.versions for r in v.replies if r.date >= start),
        key=lambda r: (r.date, r.message_id),
    )
    by_role: dict[str, float | None] = dict.fromkeys(RESPONSE_ROLES)
    first: tuple[str, ReplyFacts] | None = None
    for r in replies:
        role = role_of(r, expected)
        if role == AUTHOR:
            continue
        if first is None:
            first = (role, r)
        if by_role[role] is None:
            by_role[role] = round((r.date - start) / HOUR, 3)
    if first is None:
        return FirstResponses(None, None, None, by_role)
    role, r = first
    return FirstResponses(role, r.who, round((r.date - start) / HOUR, 3), by_role)
