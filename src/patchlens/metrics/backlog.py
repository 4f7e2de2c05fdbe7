"""Backlog states of a series as of any date, in the order docs/METRICS.md gives. Pure.

A state is decided from a few facts (merged? every patch reviewed? who spoke last? when was
the last activity?) that hold at a date. The facts of today are stored with the metrics, so
the dashboard can give today's state with SQL; `state()` recomputes them for any past date.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from patchlens.mail.replytext import specific_tree
from patchlens.metrics.model import (
    PatchFacts,
    ReplyFacts,
    SeriesFacts,
    VersionFacts,
    current_version,
    laid_places,
)
from patchlens.review.model import in_force

DAY = 86400
STATES = (
    "merged",
    "partly merged",
    "fixed elsewhere",
    "other tree",
    "unknown",
    "abandoned",
    "blocked",
    "stale",
    "nearly complete",
    "new",
    "waiting on author",
    "under review",
)

# The backlog: series that still wait for something. Stale series wait longest, so they are
# counted with the rest, never hidden.
OPEN_STATES = ("blocked", "stale", "new", "under review", "waiting on author", "nearly complete")


@dataclass(frozen=True)
class BacklogRules:
    stale_days: int = 30
    abandoned_days: int = 180


@dataclass(frozen=True)
class Facts:
    merged: str  # none | partly | fully
    nearly_complete: bool
    has_reviewer_reply: bool
    reviewer_spoke_last: bool
    last_date: int
    in_repo: bool = True
    merged_by: str = ""  # commit | notice | "" (docs/METRICS.md, "Merge evidence")
    # Whether any repository is registered: without one a merge shows only by notice, so an
    # idle series is "unknown", not "abandoned".
    repo_registered: bool = True
    # Blocked by a prerequisite series until this date (its merge; BLOCKED_FOREVER while it is
    # not merged); None when the series names no prerequisite series.
    blocked_until: int | None = None
    # The date of the reply that says another commit fixed or replaced it (`fix_notice`);
    # None when none says so.
    fixed_at: int | None = None


# A prerequisite that is not merged blocks until a date no state is asked at.
BLOCKED_FOREVER = 2**62


def _version_at(v: VersionFacts, when: int) -> VersionFacts:
    """The version as it stood at `when`: later replies and commits removed."""
    patches = {
        i: (p if (p.commit_date or 0) <= when else replace(p, commit_date=None))
        for i, p in v.patches.items()
    }
    return replace(
        v,
        patches=patches,
        replies=[r for r in v.replies if r.date <= when],
        pulled=[r for r in v.pulled if r.date <= when],
    )


def _linked(p: PatchFacts) -> bool:
    """Whether a patch's linked commit counts as its merge (an ambiguous link does not)."""
    return bool(p.commit_date) and not p.ambiguous


def _is_notice(r: ReplyFacts) -> bool:
    """Whether a reply counts as a merge notice (see `merge_notice`)."""
    return bool(r.notices) and (
        not r.is_author
        or "committed" in r.notices
        or "pushed" in r.bare_kinds
        or specific_tree(r.notice_tree)
    )


def notice_covers(r: ReplyFacts, v: VersionFacts) -> frozenset[int] | None:
    """The patches of `v` a notice in reply to it says were taken: None for all of them.
    What it says wins ("Series applied", "I've applied the first 4 patches", "patches 1-3",
    "all but the last": none named); b4's "(subset)" names some. When it does not say, the
    patch it answers tells: the cover letter (or a series of one patch) is the whole, and so
    is the first patch of a version without a cover letter, which stands in for it, unless
    its sender had answered another of the version's patches (on linux-bluetooth, 52 of 53 series
    whose patch 1 alone had "Applied, thanks." went in whole); patch 3 of 10 is patch 3
    (maintainers who answer each patch take each so: "Applied to the fixes-togreg branch" on
    a fix, patch 1 of 2, the clean-up after it left for later)."""
    scope = r.notice_scope
    if scope.startswith("patches:"):  # listed or named: b4's "(subset)" lists its part
        return frozenset(int(x) for x in scope[8:].split(",") if x.isdigit())
    if r.subset or scope == "some":
        # A part it does not name; of a version of one patch, that patch.
        return None if len(v.patches) <= 1 and not r.subset else frozenset()
    if scope == "whole":
        return None
    if scope.startswith("count:"):
        # "I've committed the two patches": the whole when it counts as many as there are.
        return None if int(scope[6:]) >= len(v.patches) else frozenset()
    last = max(v.patches, default=0)
    if scope.startswith(("first:", "last:")):
        n = int(scope.partition(":")[2])
        if scope.startswith("first:"):
            return frozenset(range(1, n + 1))
        return frozenset(range(max(1, last - n + 1), last + 1))
    if r.patch_idx == 0 or len(v.patches) <= 1:
        return None
    if (
        not v.has_cover
        and r.patch_idx == min(v.patches)
        # By then: what a notice took cannot change with later mail (`merge_changes`).
        and not any(
            o.who == r.who and o.patch_idx != r.patch_idx and o.date <= r.date for o in v.replies
        )
    ):
        return None
    return frozenset((r.patch_idx,))


def notice_merge(versions: list[VersionFacts]) -> tuple[ReplyFacts | None, ReplyFacts | None]:
    """(the notice by which the series became merged as a whole, or None; the first notice
    that counts, or None). Notices are read in date order; the series is merged by notice at
    the first that covers a whole version (`notice_covers`), alone or with the notices
    before it to that version's other patches. A notice stands when the author posts again
    afterwards: a maintainer who took v9 said so, and a v10 sent anyway ("I'd already picked
    up v9"), a RESEND or a backport does not undo it. A later pull request that lists
    patches of a version (`VersionFacts.pulled`) is a notice of those patches. A notice of a
    version laid over another (a partial re-roll, a patch split out of it) covers its patches'
    places in that version (`laid_places`): "Applied" to one patch of 19 sent again alone is
    a notice of that patch, not of the series (on LTP, against the commits: 16 of 17 series
    so noticed were merged in part only; 13 of 36 merged whole had no notice of the rest)."""
    found = sorted(
        ((r, v) for v in versions for r in [*v.replies, *v.pulled] if _is_notice(r)),
        key=lambda rv: (rv[0].date, rv[0].message_id),
    )
    first = found[0][0] if found else None
    over = laid_places(versions) if found else {}
    covered: dict[str, set[int]] = {}
    for r, v in found:
        c = notice_covers(r, v)
        target = v
        if v.key in over:
            target, place = over[v.key]
            c = frozenset(place[i] for i in (v.patches if c is None else c) if i in place)
        elif c is None:
            return r, first
        got = covered.setdefault(target.key, set())
        got |= c
        if target.patches and set(target.patches) <= got:
            return r, first
    return None, first


def merge_notice(versions: list[VersionFacts]) -> ReplyFacts | None:
    """The maintainer's notice ("applied", "committed", "pushed", "queued", "merged", "picked") a
    merge by notice rests on: the one that made the series merged as a whole
    (`notice_merge`), else the first one, of a part. From someone other than the series'
    author; bots count, since pr-tracker-bot and patchwork-bot report merges. The author's
    own notice counts when it says "committed" (committers commit their own reviewed
    patches: "Fixed, thanks. And committed."), "pushed" by the verb alone (LTP's and
    BlueZ's maintainers' "Pushed, thanks." to their own series; not "I addressed your
    comment and pushed the patch", which is sending it), or names where the patches went (a
    maintainer applying their own series: "Applied to the togreg branch"), while an author's
    bare "applied"/"merged" usually speaks of a suggestion taken into the next version.
    None when there is none."""
    whole, first = notice_merge(versions)
    return whole or first


def _merged_twins(versions: list[VersionFacts]) -> dict[str, int]:
    """patch-id -> the earliest commit date of a linked posting with that diff: a patch
    sent again unchanged went in with it (`facts`)."""
    out: dict[str, int] = {}
    for v in versions:
        for p in v.patches.values():
            if _linked(p) and p.patch_id:
                out[p.patch_id] = min(out.get(p.patch_id, p.commit_date or 0), p.commit_date or 0)
    return out


def facts(
    s: SeriesFacts, when: int, in_repo: bool = True, repo_registered: bool = True
) -> Facts | None:
    """What decides the state at `when`; None if the series was not posted yet.

    Merge evidence: a linked commit decides where there is one (fully or partly merged);
    only when no patch of the series has a linked commit does a maintainer's notice make it
    merged ("by notice"). A patch merged through another series' posting of the same patch
    (`PatchFacts.through`) counts as merged, but a notice that took a whole version still
    stands beside it: the same patch found elsewhere says those patches went in, not that
    the others did not (they may have gone in changed).
    """
    versions = [_version_at(v, when) for v in s.versions if v.date <= when]
    if not versions:
        return None
    latest = current_version(versions)
    merged_any = any(_linked(p) for v in versions for p in v.patches.values())
    own_any = any(_linked(p) and not p.through for v in versions for p in v.patches.values())
    # A patch is merged when it, or a posting of the same diff (patch-id), is linked: the
    # matcher links a commit to one posting, and a patch sent again unchanged (a RESEND, a
    # re-post minutes later) is merged with it.
    went_in = _merged_twins(versions)
    fully = bool(latest.patches) and all(
        _linked(p) or (p.patch_id and p.patch_id in went_in) for p in latest.patches.values()
    )
    notice_whole, notice = (None, None) if own_any else notice_merge(versions)
    by_commits = merged_any and fully
    reviewer = [r for r in latest.replies if r.reviewer]
    cover_reviewed = any(r.review and r.patch_idx == 0 for r in reviewer)
    nearly = bool(latest.patches) and all(
        p.carried_review or cover_reviewed or any(r.review and r.patch_idx == i for r in reviewer)
        for i, p in latest.patches.items()
    )
    spoke = [r for r in latest.replies if not r.is_bot]
    # A partial re-roll laid over the latest version is the author's answer too: a reviewer
    # who spoke before it has been answered ("posted a version nobody has answered yet").
    rerolled = max((v.date for v in versions if v.partial and v.date > latest.date), default=0)
    return Facts(
        # A notice of a part ("the first 4 patches", b4's "(subset)", an "Applied" to patch 3
        # of 10) is a partial merge, until notices cover a whole version (notice_merge).
        merged=(
            "fully" if by_commits or notice_whole else "partly" if merged_any or notice else "none"
        ),
        nearly_complete=nearly,
        has_reviewer_reply=any(r.reviewer for v in versions for r in v.replies),
        reviewer_spoke_last=bool(spoke) and not spoke[-1].is_author and spoke[-1].date >= rerolled,
        last_date=max([v.date for v in versions] + [r.date for v in versions for r in v.replies]),
        in_repo=in_repo,
        merged_by=(
            "commit"
            if own_any or (merged_any and (by_commits or not notice_whole))
            else "notice"
            if notice
            else ""
        ),
        # A series without a diff (a question, a cover letter alone, a patch whose diff
        # could not be read) cannot be seen merged by any commit: as without a repository.
        repo_registered=repo_registered
        and any(p.files for v in s.versions for p in v.patches.values()),
        blocked_until=s.blocked_until,
        fixed_at=fix.date if (fix := fix_notice(versions, latest)) else None,
    )


def fix_notice(
    versions: list[VersionFacts], latest: VersionFacts | None = None
) -> ReplyFacts | None:
    """The first reply to the current version that names a commit of a registered
    repository as what fixed or replaced it ("This was already fixed by commit
    1234567890ab", "merged alternative solution: eb786468b": mail/fixedby.py), from anyone
    but a robot; None when none does. It speaks for the whole version, as a merge notice does
    (`notice_covers`), when it answers the cover letter or the only patch, or the first patch
    of a version without a cover letter whose other patches its sender had not answered by
    then; an answer to patch 3 of 5 speaks of that patch alone. The author's answer to it
    by a later version, or by a patch sent again alone after it, comes after: only a reply
    dated after every version laid over the current one counts. `latest`: the current
    version, when the caller has it already (`current_version`). Pure."""
    if not any(r.fixed_by for v in versions for r in v.replies):
        return None  # nearly every series: no need to lay its versions over each other
    latest = latest or current_version(versions)
    over = versions[in_force([v.partial for v in versions]) + 1 :]
    laid = max((v.date for v in over), default=0)
    # A reply to a version laid over the current one (a partial re-roll's own cover letter)
    # speaks for the patches it sent again, not for the whole.
    to_laid = {r.pk for v in over for r in v.replies}
    first = min(latest.patches, default=1)

    def whole(r: ReplyFacts) -> bool:
        if len(latest.patches) <= 1:
            return True
        if r.pk in to_laid:
            return False
        if r.patch_idx == 0:
            return True
        return (
            not latest.has_cover
            and r.patch_idx == first
            and all(
                o.who != r.who or o.patch_idx == r.patch_idx or o.date > r.date
                for o in latest.replies
            )
        )

    return next(
        (r for r in latest.replies if r.fixed_by and not r.is_bot and r.date >= laid and whole(r)),
        None,
    )


def merge_changes(s: SeriesFacts, dates: list[int]) -> list[tuple[int, bool]]:
    """The dates among `dates` (ascending) at which whether `facts(s, date).merged` is "fully"
    changes, with its new value (it starts False), in one pass. Building the facts at each
    date read every version's patches and replies again, for series with hundreds of
    replies; here each version is read once, and again only when the versions posted by
    then change (the latest one may be another). The same rules as `facts`: a linked commit
    decides where there is one (a patch sent again unchanged went in with its twin), a
    notice only where no patch has one of its own (one through another series' posting does
    not silence it), when notices cover a whole version (`notice_merge`)."""
    first_commit: list[float] = []
    first_own: list[float] = []
    for v in s.versions:
        first_commit.append(
            min((p.commit_date or 0 for p in v.patches.values() if _linked(p)), default=math.inf)
        )
        first_own.append(
            min(
                (p.commit_date or 0 for p in v.patches.values() if _linked(p) and not p.through),
                default=math.inf,
            )
        )
    out: list[tuple[int, bool]] = []
    state = False
    posted = -1
    commit_at = own_at = notice_at = full_at = math.inf
    for when in dates:
        mine = [i for i, v in enumerate(s.versions) if v.date <= when]
        if len(mine) != posted:  # the versions posted by `when` are another set
            posted = len(mine)
            commit_at = min((first_commit[i] for i in mine), default=math.inf)
            own_at = min((first_own[i] for i in mine), default=math.inf)
            posted_versions = [s.versions[i] for i in mine]
            whole, _first = notice_merge(posted_versions)
            notice_at = whole.date if whole is not None else math.inf
            full_at = math.inf
            if mine:
                latest = current_version(posted_versions)
                twins = _merged_twins(posted_versions)
                # A linked patch went in at its own commit or its twin's, whichever came
                # first, as `facts` counts it.
                dated = [
                    min(p.commit_date or 0, twins.get(p.patch_id, math.inf))
                    if _linked(p)
                    else twins.get(p.patch_id, math.inf)
                    if p.patch_id
                    else math.inf
                    for p in latest.patches.values()
                ]
                full_at = max(dated, default=math.inf)
        if own_at <= when:
            now = full_at <= when
        else:
            now = notice_at <= when or (commit_at <= when and full_at <= when)
        if now != state:
            out.append((when, now))
            state = now
    return out


def merged_at(s: SeriesFacts) -> int | None:
    """The first date at which the series is merged (`facts` says "fully"), or None if it is
    not merged with all that is known. Checked at each date something happened (a version,
    a reply, a commit): the merge facts change only then."""
    dates = sorted(
        {v.date for v in s.versions}
        | {r.date for v in s.versions for r in v.replies}
        | {r.date for v in s.versions for r in v.pulled}
        | {p.commit_date for v in s.versions for p in v.patches.values() if p.commit_date}
    )
    changes = merge_changes(s, dates)
    if not changes or not changes[-1][1]:
        return None
    return next(d for d, on in changes if on)


def _fixed_date(s: SeriesFacts) -> int | None:
    """The date of the reply that makes the series fixed elsewhere (`fix_notice`), if any."""
    r = fix_notice(s.versions)
    return r.date if r is not None else None


def blocked_until(prerequisites: list[SeriesFacts]) -> int | None:
    """Until when prerequisite series block a series: the last one's merge date, or
    BLOCKED_FOREVER while one is not merged; None when there are none."""
    if not prerequisites:
        return None
    # A prerequisite fixed elsewhere stops blocking from the reply that says so: its
    # dependents wait on nothing it could still bring.
    dates = [merged_at(p) or _fixed_date(p) for p in prerequisites]
    return BLOCKED_FOREVER if any(d is None for d in dates) else max(d for d in dates if d)


def decide(
    f: Facts, when: int, rules: BacklogRules = BacklogRules(), idle_to: int | None = None
) -> str:
    """The state of a series whose facts at `when` are `f`, idle up to `idle_to` (default
    `when`): review is seen through the mail alone, so where a repository goes on after the
    archive ends, idleness counts to the mail's end (queries/selection.py idle_until; a
    repository cloned months after its archive ended does not age every series of the
    archive's last months into stale or abandoned: LTP's, five months)."""
    if f.merged == "fully":
        return "merged"
    if f.merged == "partly":
        return "partly merged"
    if f.fixed_at is not None and f.fixed_at <= when:
        # Closed by a reply naming the commit that fixed or replaced it: not merged, not
        # abandoned by its author either.
        return "fixed elsewhere"
    if f.repo_registered and not f.in_repo:
        # Its files are in no registered repository: a merge there cannot be seen.
        return "other tree"
    idle = (when if idle_to is None else idle_to) - f.last_date
    if idle >= rules.abandoned_days * DAY:
        # Idle that long, with no repository that could show a merge: unknown, not abandoned.
        return "abandoned" if f.repo_registered else "unknown"
    if f.blocked_until is not None and when < f.blocked_until:
        # A prerequisite series is not merged yet (docs/METRICS.md, "Dependencies").
        return "blocked"
    if idle >= rules.stale_days * DAY:
        return "stale"
    if f.nearly_complete:
        return "nearly complete"
    if not f.has_reviewer_reply:
        return "new"
    if f.reviewer_spoke_last:
        return "waiting on author"
    return "under review"


def state(
    s: SeriesFacts,
    when: int,
    rules: BacklogRules = BacklogRules(),
    in_repo: bool = True,
    repo_registered: bool = True,
    idle_to: int | None = None,
) -> str | None:
    """The series' state at `when`, or None if it had not been posted yet (`idle_to`: see
    `decide`)."""
    f = facts(s, when, in_repo, repo_registered)
    return None if f is None else decide(f, when, rules, idle_to)


def merge_rate(
    rows: list[dict[str, Any]], registered: bool | None = None, unit: str = "series"
) -> dict[str, Any]:
    """The share of series merged, over the series whose merge can be seen. Pure.

    A merge can be seen for a series whose files are in a registered repository (a commit
    would show it) and for any series a maintainer's notice says was merged. Series of other
    trees without a notice are left out of the base, since nothing could show them merged.
    With no repository registered at all only notices show merges: the rate would be a share
    of the announced merges among themselves, so it is None and `basis` says why.
    `registered` says whether the store has a repository; by default the rows say it.
    `unit` names the rows in `basis` (pull requests, for a search that selects them).
    """
    if registered is None:  # said by the rows, unless the caller knows (an empty selection)
        registered = any(r["repo_registered"] for r in rows)
    base = [
        r for r in rows if (r["repo_registered"] and r["in_repo"]) or r.get("merged_by") == "notice"
    ]
    merged = [r for r in base if r["merged"] != "none"]
    by_notice = sum(1 for r in merged if r.get("merged_by") == "notice")
    return merge_rate_of(len(rows), len(base), len(merged), by_notice, registered, unit)


def merge_rate_of(
    rows: int, base: int, merged: int, by_notice: int, registered: bool, unit: str = "series"
) -> dict[str, Any]:
    """`merge_rate` from its counts: the selected series, those whose merge can be seen, the
    merged among them, and those merged by notice (a caller that counts over columns)."""
    if not rows:
        basis = f"no {unit}"
    elif registered:
        basis = (
            f"of {base:,} {unit} whose merge a registered repository or a maintainer's"
            f" notice can show ({by_notice:,} merged by notice)"
        )
    else:
        basis = (
            f"no repository is registered: {by_notice:,} {unit} merged by maintainers' notices;"
            " merges not announced on the list cannot be seen"
        )
    return {
        "merged": merged,
        "merged_by_notice": by_notice,
        "over": base if registered else None,
        "rate": round(merged / base, 4) if registered and base else None,
        "basis": basis,
    }
