"""The shapes of the JSON API's answers, for /openapi.json: one model per route.

Units (see patchlens.queries.formats): an instant is an ISO 8601 UTC string (`Instant`), a duration
is in hours and says so in its name (`time_to_merge_hours`). Models whose fields are all ours
forbid other fields, so that a test validating answers against the schema notices a field that
is not described; shapes that other modules own (percentile summaries) allow more.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from patchlens.metrics.backlog import STATES

Instant = Annotated[
    str,
    Field(
        pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$",
        json_schema_extra={"format": "date-time"},
        description="ISO 8601, UTC",
    ),
]
Hours = Annotated[float | None, Field(description="hours; null when it did not happen")]
State = Annotated[str, Field(json_schema_extra={"enum": list(STATES)})]


class Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Error(Closed):
    error: str
    parameter: str | None = None


# --- queues, waiting on whom, review load, first response by role (issue 14) -----------------

ROLE = Annotated[str, Field(json_schema_extra={"enum": ["maintainer", "reviewer", "other", "bot"]})]


class QueuePerson(Closed):
    identity: str
    name: str
    address: str


class QueueRow(Closed):
    """One open series in a queue."""

    series_key: str
    url: str = Field(description="the series page, relative to the dashboard")
    title: str
    author: str
    author_name: str
    author_addr: str
    first_date: Instant
    current_version: str
    current_date: Instant = Field(description="when the current version was posted")
    last_date: Instant
    waiting_hours: float = Field(description="since the current version, to the data's date")
    patches: int
    lines: int
    state: State
    reasons: list[str] = Field(
        description="maintainer | reviewer (MAINTAINERS at posting), asked (To/Cc), "
        "reviewed earlier (answered an earlier version)"
    )
    answered_by: list[QueuePerson] = Field(description="who answered the current version")
    waiting_on: str = Field(json_schema_extra={"enum": ["author", "named", "nobody named"]})
    waiting_on_who: list[QueuePerson]
    subsystems: list[str]


class Queue(Closed):
    identity: str
    name: str
    address: str
    as_of: Instant
    total: int
    awaiting: list[QueueRow] = Field(description="named for them, not yet answered by them")
    again: list[QueueRow] = Field(description="answered an earlier version; the current awaits")


class QueueSummary(Closed):
    total: int
    again: int
    oldest_hours: float | None
    url: str


class LoadPeriod(Closed):
    period: str
    awaiting: int = Field(description="series waiting at the period's end")
    answered: int = Field(description="series answered first in the period")
    median_wait_hours: float | None
    p90_wait_hours: float | None
    partial: bool


class RoleResponse(Closed):
    role: ROLE
    first: int = Field(description="series whose first response came from this role")
    first_share: float | None
    n: int = Field(description="series this role responded to")
    median_hours: float | None
    p75_hours: float | None
    p90_hours: float | None


class RolePeriod(Closed):
    period: str
    series: int
    first_maintainer: int
    first_reviewer: int
    first_other: int
    first_bot: int
    median_maintainer_hours: float | None
    median_reviewer_hours: float | None
    median_other_hours: float | None
    median_bot_hours: float | None
    partial: bool


class MaintainerQueue(Closed):
    identity: str
    name: str
    address: str
    role: str = Field(json_schema_extra={"enum": ["maintainer", "reviewer"]})
    waiting: int
    again: int
    oldest_hours: float | None
    median_hours: float | None
    url: str
    rows: list[QueueRow] = Field(description="the oldest few")


class WaitingPerson(Closed):
    identity: str
    name: str
    address: str
    series: int


class WaitingOn(Closed):
    counts: dict[str, int]
    by_person: list[WaitingPerson]
    total: int
    rows: list[QueueRow] = Field(description="the oldest open series (all with full=1)")
    full_list: str


class RoleHours(Closed):
    role: ROLE
    hours: float | None


class ExpectedPerson(Closed):
    identity: str
    name: str
    address: str
    role: str


class SeriesFirstResponse(Closed):
    role: str | None
    who: QueuePerson | None
    hours: float | None
    by_role: list[RoleHours]
    expected: list[ExpectedPerson]


class Summary(Open):
    """Nearest-rank percentiles of a duration, in hours."""

    n: int
    median: float | None
    p75: float | None
    p90: float | None


class PeriodSummary(Summary):
    period: str


class GroupSummary(Summary):
    group: str


class SeriesBrief(Closed):
    series_key: str
    title: str
    author_addr: str
    org: str
    first_date: Instant
    last_date: Instant
    versions: int
    patches: int
    reviewers: int
    review_replies: int
    state: State
    time_to_first_response_hours: Hours
    time_to_merge_hours: Hours


class Part(Closed):
    """A table that may show only its first rows: `total` of them in all, all at `full_list`."""

    total: int
    full_list: str


class SeriesPart(Part):
    rows: list[SeriesBrief]


class Trend(Closed):
    period: str
    series: int
    patches: int
    merged: int
    median_time_to_merge_hours: Hours
    partial: bool = Field(
        False, description="the period is still running, or cut by the since/until filter"
    )


class Overview(Closed):
    as_of: Instant
    series: int
    patches: int
    merged: int = Field(description="series merged, by commit or by a maintainer's notice")
    merged_by_notice: int
    merge_base: int | None = Field(
        description="series whose merge can be seen (a registered repository holds their files,"
        " or a notice says they were merged); null when no repository is registered"
    )
    merge_rate: float | None = Field(description="merged / merge_base")
    merge_basis: str = Field(description="what the merge rate is computed over, in words")
    time_to_merge_hours: Summary
    time_to_first_response_hours: Summary
    backlog: int = Field(description="series in an open state (stale included)")
    backlog_list: str
    unanswered: int = Field(description="open series no one but the author or a bot answered")
    unanswered_list: str
    states: dict[str, int]
    trend: list[Trend]
    reviewers: int = Field(description="people (bots aside) who replied to the series")


class Performance(Closed):
    series: int
    overall: dict[str, Summary] = Field(description="per duration (`*_hours`)")
    over_time: dict[str, list[PeriodSummary]] = Field(description="per duration (`*_hours`)")
    time_to_merge_hours_by_bucket: dict[str, list[GroupSummary]]
    time_to_first_response_hours_by_contributor: list[GroupSummary]
    first_response_by_role: list[RoleResponse]
    first_response_by_role_over_time: list[RolePeriod]


class SubsystemCount(Closed):
    subsystem: str
    series: int
    open: int
    states: dict[str, int]


class SubsystemPart(Part):
    rows: list[SubsystemCount]


class Backlog(Closed):
    as_of: Instant
    series: int
    states: dict[str, int]
    waiting_first_response: SeriesPart
    nearly_complete: SeriesPart
    waiting_on_author: SeriesPart
    stale: SeriesPart
    unanswered_by_subsystem: SeriesPart
    per_subsystem: SubsystemPart


class Person(Closed):
    identity: str
    name: str
    address: str
    org: str
    review_replies: int
    reviews: int
    flag_only: int
    substantive: int
    lines_written: int
    series_reviewed: int
    series_authored: int
    patches_authored: int
    replies_received: int
    given_per_received: float | None


class Org(Closed):
    org: str
    review_replies: int
    reviews: int
    lines_written: int
    reviewers: int
    series_authored: int
    replies_received: int
    given_per_received: float | None


class Community(Closed):
    reviewers: list[Person]
    reviewers_total: int
    contributors: list[Person]
    contributors_total: int
    orgs: list[Org]
    orgs_total: int
    reviews: int
    flag_only_reviews: int
    substantive_reviews: int
    review_replies: int
    full_list: str = Field(description="this page with every table in full")


class Explorer(Closed):
    total: int
    page: int
    pages: int
    sort: str
    desc: bool
    rows: list[SeriesBrief]


class PatchRow(Closed):
    message_id: str
    subject: str
    from_name: str
    from_addr: str
    date: Instant | None
    lines_added: int
    lines_removed: int
    series_key: str
    version: str
    commit: str | None
    method: str | None


class Patches(Closed):
    total: int
    page: int
    pages: int
    sort: str
    desc: bool
    rows: list[PatchRow]


class PredictionFact(Closed):
    fact: str = Field(description="a fact of the series at the prediction's date, in words")
    feature: str = Field(description="the model's feature it is (docs/PREDICTION.md)")
    effect: str = Field(description="sooner | later: which way it moves the predicted merge")


class SeriesPrediction(Closed):
    """Where is my patch (docs/PREDICTION.md): the estimate for an open series, or why none."""

    reason: str | None = Field(None, description="why there is no estimate (then nothing else)")
    as_of: str | None = Field(None, description="the data's newest date the estimate is made at")
    merged_within_30d: float | None = Field(None, description="P(merged within 30 days)")
    merged_within_90d: float | None = Field(None, description="P(merged within 90 days)")
    median_days: float | None = Field(
        None, description="predicted days to merge (median); null: beyond a year"
    )
    interval_days: list[float | None] = Field(
        default_factory=list,
        description="the 25% and 75% points of the predicted days to merge (null: beyond a year)",
    )
    facts: list[PredictionFact] = Field(
        default_factory=list, description="the three facts that weigh most for this series"
    )
    trained_on: int | None = Field(None, description="prediction points the model was fitted on")


class SeriesOne(Closed):
    key: str
    title: str | None
    metrics: dict[str, Any] = Field(
        description="every series metric (durations as `*_hours`, dates as instants) and state;"
        " a series fixed elsewhere has `fixed_at` (the date of the reply that says another"
        " commit fixed or replaced it) and `fixed_by` (that reply's message_id, who and date,"
        " and `commits`: [sha, subject] each)"
    )
    versions: list[dict[str, Any]] = Field(
        description="each version with its patches and replies (dates as instants); each merged"
        " patch with `after_review`: whether its commit differs from the version that got its"
        " Reviewed-by/Acked-by, with the interdiff; a patch merged through another series'"
        " posting of the same patch, or of a larger change holding it, with `through` (that"
        " posting's message_id, series_key, subject, normalized_title and patch_id, its"
        " commit's sha and date, and `inside`: true when it is the larger change); a version a"
        " later merged version replaces with `merged_as` (its seq and version)"
    )
    rounds: list[dict[str, Any]] = Field(
        default_factory=list,
        description="per version after the first: its patches paired with the previous"
        " version's (interdiff per pair, as git range-diff shows it; added, dropped, reordered,"
        " renamed), the author's changelog notes, the reviewers of the previous version who"
        " answered this one, and the commented hunks that changed",
    )
    changed_after_review: int = Field(
        0, description="merged patches whose commit differs from the version that was reviewed"
    )
    prerequisites: list[dict[str, Any]] = Field(
        default_factory=list,
        description="what its postings name as prerequisites (Depends-on:, Based-on:,"
        " prerequisite-*:, base-commit:), each resolved to a series (prereq_key) or a commit",
    )
    dependents: list[dict[str, Any]] = Field(
        default_factory=list, description="the series that name this one as a prerequisite"
    )
    first_response: SeriesFirstResponse | None
    prediction: SeriesPrediction | None = None


class AuthoredRow(Closed):
    series_key: str
    title: str
    first_date: Instant
    versions: int
    patches: int
    review_replies: int
    merged: str
    time_to_merge_hours: Hours
    state: State


class ReviewedRow(Closed):
    series_key: str
    title: str
    author_addr: str
    replies: int
    reviews: int
    last: Instant


class Paged(Closed):
    total: int
    page: int
    pages: int


class AuthoredPage(Paged):
    rows: list[AuthoredRow]


class ReviewedPage(Paged):
    rows: list[ReviewedRow]


class PersonPage(Open):
    identity: str
    name: str
    address: str
    addresses: list[str]
    org: str
    messages: int = Field(description="messages sent, as messages_counted says")
    first_date: Instant | None = Field(description="the first of those messages")
    last_date: Instant | None = Field(description="the last of those messages")
    messages_all_time: int = Field(description="every message they sent, whatever the filters")
    window: str = Field(
        description="the filters `messages` obeys, in words ('since 2020-06-01'); empty: none"
    )
    messages_counted: str = Field(
        description="which messages `messages`, `first_date` and `last_date` count: those "
        "sent in the date window (since, until) and to the list the filters name"
    )
    is_bot: bool
    review_replies: int
    reviews: int
    lines_written: int
    series_authored: int
    replies_received: int
    authored: AuthoredPage
    reviewed: ReviewedPage
    queue: QueueSummary
    load: list[LoadPeriod]


class LoadRow(Closed):
    identity: str
    address: str
    replies: int
    expected: bool


class LoadPart(Part):
    rows: list[LoadRow]


class Subsystem(Open):
    title: str
    status: str | None
    maintainers: list[list[str]]
    reviewers: list[list[str]]
    lists: list[Any]
    files: list[Any]
    series: int
    states: dict[str, int]
    time_to_first_response_hours: Summary
    time_to_merge_hours: Summary
    reviewer_load: LoadPart
    unanswered: SeriesPart = Field(
        description="open series (stale included) no maintainer or reviewer of this "
        "subsystem answered"
    )
    open: SeriesPart
    queues: list[MaintainerQueue]
    waiting_on: WaitingOn
    load: list[LoadPeriod]
    first_response_by_role: list[RoleResponse]


class Commit(Open):
    sha: str
    repo: str
    subject: str
    author_date: Instant
    committer_date: Instant
    files: list[dict[str, Any]]
    trailers: list[dict[str, Any]]
    posting: dict[str, Any] | None
    diff: str | None
    diff_truncated: bool
    diff_skipped: bool = Field(
        description="read without its diff (before the history horizon): no diff, no patch-id,"
        " and its lines (lines_added, lines_removed, per file too) not counted, so null",
    )
    after_review: dict[str, Any] | None = Field(
        None,
        description="whether the commit differs from the posting that got the Reviewed-by or"
        " Acked-by (changed after review), with the interdiff; null when no version was reviewed",
    )


class PullRequest(Closed):
    series_key: str
    title: str
    author_addr: str
    first_date: Instant
    last_date: Instant
    versions: int
    replies: int = Field(description="replies from anyone but its sender")
    merged_by: str | None = Field(description="notice, or null when no notice says merged")
    merged_date: Instant | None
    tree: str | None = Field(description="the tree or branch the notice names, if it names one")
    notice_message_id: str | None


class Pulls(Closed):
    total: int
    merged: int
    page: int
    pages: int
    rows: list[PullRequest]


class GlossaryTerm(Closed):
    anchor: str
    term: str
    text: str


class GlossarySection(Closed):
    anchor: str
    title: str
    terms: list[GlossaryTerm]


class Glossary(Closed):
    sections: list[GlossarySection]


# --- conformance (issue 15 §3) ----------------------------------------------------------------


class ConformanceCoverage(Closed):
    list: str
    first_date: Instant = Field(description="where the list's archive coverage begins")
    last_date: Instant = Field(description="where it ends")


class ConformanceNotJudged(Closed):
    merge: int
    bot: int
    no_archive: int
    before_archive: int
    after_archive: int


class ConformanceCounts(Closed):
    commits: int = Field(description="commits selected (by commit date and subsystem)")
    judged: int
    not_judged: ConformanceNotJudged
    posted: int = Field(description="judged commits a registered list saw")
    compared: int = Field(description="matched commits compared with their reviewed version")
    off_list: int
    no_review: int
    changed_after_review: int
    self_reviews: int


class ConformanceCommit(Closed):
    date: Instant = Field(description="commit date")
    repo: str
    sha: str
    subject: str
    author_name: str
    author_email: str
    series_key: str | None = Field(description="the series of the posting it was made from")
    message_id: str | None = Field(description="the posting it was made from")


class ConformanceNoReview(ConformanceCommit):
    posted: bool
    self_reviews: int


class ConformanceChanged(ConformanceCommit):
    reviewed_message_id: str
    reviewed_version: str
    interdiff: list[str] = Field(description="from the reviewed posting to the commit")
    truncated: bool


class ConformanceSelfReview(ConformanceCommit):
    where: str = Field(json_schema_extra={"enum": ["commit", "list"]})
    trailer: str
    giver_name: str
    giver_email: str
    review_message_id: str | None


class Conformance(Closed):
    unmeasured: str | None = Field(
        description="why nothing can be measured (no repository is registered, or none of "
        "their commits was read), every count then being 0; null when it can"
    )
    coverage: list[ConformanceCoverage]
    counts: ConformanceCounts
    shown: int | None = Field(description="rows of each list given; null: every row (full=1)")
    off_list: list[ConformanceCommit]
    no_review: list[ConformanceNoReview]
    changed_after_review: list[ConformanceChanged]
    self_reviews: list[ConformanceSelfReview]


# --- findings with confidence (issue 15, part F) ---------------------------------------------


class FindingGroup(Closed):
    group: str = Field(description="the group's name in links (finding_series' `group`)")
    label: str
    series: int = Field(description="series of the group considered")
    n: int = Field(description="series the statistic stands on (merged, answered, or all)")
    statistic: float | None = Field(
        description="the group's median (hours; nearest rank) or share (0..1): see `unit`"
    )
    reached_share: float | None = Field(
        description="share of the group's series that reached the end event (merged or "
        "answered); null for a share"
    )
    link: str = Field(description="the list of the group's series, with the same filters")


class FindingEffect(Closed):
    kind: str = Field(json_schema_extra={"enum": ["ratio of medians", "difference of shares"]})
    value: float
    low: float
    high: float
    level: float = Field(description="the interval's confidence level (0.95)")
    resamples: int
    used: int = Field(description="resamples that gave a defined effect")


class Finding(Closed):
    id: str
    question: str
    measure: str = Field(
        json_schema_extra={
            "enum": ["time_to_merge", "time_to_first_response", "never_answered_share"]
        }
    )
    unit: str = Field(json_schema_extra={"enum": ["hours", "share"]})
    split: str
    groups: list[FindingGroup]
    effect: FindingEffect | None
    sentence: str
    stands_on: int = Field(description="series the finding stands on (both groups' n)")
    withheld: str | None = Field(description="why the finding is not shown; null when it is")


class FindingDays(Closed):
    since: str
    until: str


class FindingPeriods(Closed):
    this: FindingDays
    previous: FindingDays
    days: int
    default: bool = Field(
        description="no period in the filters: the 365 days to the newest series selected"
    )


class Findings(Closed):
    as_of: Instant
    series: int
    period: FindingPeriods
    min_series: int
    resamples: int
    level: float
    findings: list[Finding]


class FindingSeries(Closed):
    finding: str
    group: str
    as_of: Instant
    total: int
    merged: int
    page: int
    page_size: int
    rows: list[SeriesBrief]


# --- issue 16 §2: a series version as maintainers apply it (web/am.py) ------------------------


class AmPatch(Closed):
    message_id: str
    subject: str
    trailers: list[str] = Field(description="the patch's own trailers, as posted")
    added: list[str] = Field(
        description="trailers collected from replies to the patch, then to the cover letter"
    )
    link: str | None = Field(description="the Link: to the archive added last")


class AmVersion(Closed):
    series: str
    version_key: str
    seq: int = Field(description="the version's place in its series, 1 for the first")
    n_versions: int
    version: str
    title: str
    missing: list[int] = Field(description="patch numbers announced but not in the archive")
    skipped: list[str] = Field(description="Message-IDs of members with no diff to apply")
    patches: list[AmPatch]
    mbox: str = Field(description="the path of the mbox download")
