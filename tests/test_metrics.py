"""Each metric of docs/METRICS.md on a real thread, with the value worked out by hand from the
messages' Date headers (UTC) and the commit's committer date."""

from __future__ import annotations

import calendar
import time
from collections import Counter
from dataclasses import replace

import pytest
from sqlalchemy import select

from patchlens.config import Config
from patchlens.mail.replytext import specific_tree
from patchlens.metrics.backlog import (
    BLOCKED_FOREVER,
    STATES,
    BacklogRules,
    facts,
    merge_changes,
    merged_at,
    state,
)
from patchlens.metrics.compute import series_metrics, version_metrics
from patchlens.metrics.model import PatchFacts, ReplyFacts, SeriesFacts
from patchlens.queries.dashboard import overview
from patchlens.queries.evidence import load_series
from patchlens.queries.filters import Filters
from patchlens.queries.selection import data_date, mail_end, select_series
from patchlens.stages.context import build_context
from patchlens.store import schema

H = 3600.0


def utc(text: str) -> int:
    return calendar.timegm(time.strptime(text, "%Y-%m-%d %H:%M:%S"))


def hours(a: str, b: str) -> float:
    return (utc(b) - utc(a)) / H


def _series(engine, title_part: str) -> SeriesFacts:
    with engine.connect() as conn:
        found = [s for s in load_series(conn) if title_part in s.title]
    assert len(found) == 1, [s.title for s in found]
    return found[0]


# tools/xenstore: fix get_spec_node(), Juergen Gross, July 2023 (xen-qemu-samples/README.md):
#   v1 2023-07-20 15:08:53   Julien Grall replies 22:45:44
#   v2 2023-07-22 08:16:44   Julien: 1/2 at 15:20:57, Reviewed-by on 2/2 at 15:25:20,
#                            1/2 again 16:44:32, the cover 16:54:36
#   v3 2023-07-24 10:33:22   Julien: Reviewed-by on 1/2 2023-07-25 15:52:54; Jan Beulich
#                            commits 2023-07-27 07:53:01, backport note 2023-08-03 09:53:33
def test_durations_and_counts_get_spec_node(xq) -> None:
    engine, _ = xq
    m = series_metrics(_series(engine, "fix get_spec_node"))
    v1, v2, v3 = "2023-07-20 15:08:53", "2023-07-22 08:16:44", "2023-07-24 10:33:22"
    assert m["versions"] == 3 and m["patches"] == 2
    assert m["time_to_first_response"] == pytest.approx(hours(v1, "2023-07-20 22:45:44"), abs=1e-3)
    assert m["time_to_first_comment"] == pytest.approx(hours(v1, "2023-07-20 22:45:44"), abs=1e-3)
    assert m["time_to_first_review"] == pytest.approx(hours(v1, "2023-07-22 15:25:20"), abs=1e-3)
    # cycle: v1->v2 and v2->v3, median of two = their mean
    cycle = (hours(v1, v2) + hours(v2, v3)) / 2
    assert m["cycle_time"] == pytest.approx(cycle, abs=1e-3)
    # rework: last reviewer reply before the next version, to that version
    rework = (hours("2023-07-20 22:45:44", v2) + hours("2023-07-22 16:54:36", v3)) / 2
    assert m["rework_time"] == pytest.approx(rework, abs=1e-3)
    # Julien 1 + 4 + 1 replies, Jan 2; two reviews (v2 2/2, v3 1/2); no repository: no merge
    assert (m["review_replies"], m["reviewers"], m["reviews"]) == (8, 2, 2)
    # after 15:25:20: Julien 16:44:32, 16:54:36 and Jul 25, and Jan's two
    assert m["comments_after_first_ack"] == 5
    # No repository: no commit, but Jan Beulich's "I've committed the two patches" (2023-07-27
    # 09:53:01 +0200) is a merge by notice, and its date stands for the merge.
    assert m["merged_patches"] == 0
    assert m["time_to_merge"] == pytest.approx(hours(v1, "2023-07-27 07:53:01"), abs=1e-3)


def test_version_metrics_get_spec_node(xq) -> None:
    engine, _ = xq
    se = _series(engine, "fix get_spec_node")
    v3 = version_metrics(se.versions[2])
    assert v3["time_to_first_response"] == pytest.approx(
        hours("2023-07-24 10:33:22", "2023-07-25 15:52:54"), abs=1e-3
    )
    assert v3["time_to_first_review"] == v3["time_to_first_response"]


# libxl: CODING_STYLE: Explicitly deprecate #ifdef, Ian Jackson, 2021-10-12 14:52:26;
# Anthony PERARD Acked-by 15:02:52, Juergen Gross Reviewed-by 15:06:17, Ian "committed".
def test_first_review_and_states_coding_style(xq) -> None:
    engine, _ = xq
    se = _series(engine, "Explicitly deprecate #ifdef")
    m = series_metrics(se)
    assert m["time_to_first_review"] == pytest.approx(
        hours("2021-10-12 14:52:26", "2021-10-12 15:02:52"), abs=1e-3
    )
    assert state(se, utc("2021-10-12 14:55:00")) == "new"
    assert state(se, utc("2021-10-12 15:10:00")) == "nearly complete"
    assert state(se, utc("2021-10-12 14:50:00")) is None  # not posted yet
    # Ian (the author, a committer) "And committed." on 2021-10-13 14:11:09 UTC: merged by
    # notice from then on, whatever the idle time.
    assert state(se, utc("2021-10-13 14:00:00")) == "nearly complete"
    assert state(se, utc("2021-10-13 14:12:00")) == "merged"
    assert state(se, utc("2022-06-01 00:00:00")) == "merged"
    assert state(se, utc("2022-06-01 00:00:00"), repo_registered=False) == "merged"
    # Without the notice: idle 30 days is stale, 180 abandoned, or unknown with no repository.
    quiet = replace(se, versions=[replace(v, replies=v.replies[:-1]) for v in se.versions])
    assert state(quiet, utc("2021-11-20 00:00:00")) == "stale"
    assert state(quiet, utc("2022-06-01 00:00:00")) == "abandoned"
    assert state(quiet, utc("2022-06-01 00:00:00"), repo_registered=False) == "unknown"
    assert state(quiet, utc("2021-11-20 00:00:00"), BacklogRules(stale_days=60)) == (
        "nearly complete"
    )


def test_waiting_on_author_and_carried_reviews(xq) -> None:
    engine, _ = xq
    se = _series(engine, "fix get_spec_node")
    # After Julien's reply to v1 and before v2: a reviewer spoke last.
    assert state(se, utc("2023-07-21 00:00:00")) == "waiting on author"
    # Juergen answered (06:09:31 +0200 = 04:09:31 UTC): the author spoke last.
    assert state(se, utc("2023-07-21 05:00:00")) == "under review"
    # v3 2/2 carries Julien's Reviewed-by from v2; his Reviewed-by on v3 1/2 makes it complete.
    assert state(se, utc("2023-07-25 12:00:00")) == "under review"
    assert state(se, utc("2023-07-25 16:00:00")) == "nearly complete"


# erofs-utils: mkfs: Support tar source without data, Mike Baynton, on the EROFS archive:
#   v1 2024-02-27 05:11:54; Gao Xiang replies 05:43:30 (6 lines written)
#   v2 2024-02-27 08:42:21 (sent by Gao with "From: Mike"); Mike 15:22:03; Gao 15:36:04
#   commit 6894ca9623e7, committer date 2024-03-08 07:38:36 (its Link: names v2)
@pytest.mark.slow
def test_merge_metrics_on_erofs(erofs_store) -> None:
    _db, engine, _ = erofs_store
    se = _series(engine, "mkfs: Support tar source without data")
    m = series_metrics(se)
    v1, commit = "2024-02-27 05:11:54", "2024-03-08 07:38:36"
    assert m["versions"] == 2 and m["merged_patches"] == 1
    assert m["time_to_first_response"] == pytest.approx(hours(v1, "2024-02-27 05:43:30"), abs=1e-3)
    assert m["time_to_first_review"] is None
    assert m["time_to_merge"] == pytest.approx(hours(v1, commit), abs=1e-3)
    assert m["time_to_commit"] == pytest.approx(hours("2024-02-27 15:36:04", commit), abs=1e-3)
    assert m["rework_time"] == pytest.approx(
        hours("2024-02-27 05:43:30", "2024-02-27 08:42:21"), abs=1e-3
    )
    assert (m["review_replies"], m["reviewers"]) == (2, 1)  # Mike's own reply does not count
    assert state(se, utc("2024-02-27 05:30:00")) == "new"
    assert state(se, utc("2024-02-27 06:00:00")) == "waiting on author"
    assert state(se, utc("2024-02-27 10:00:00")) == "under review"  # v2 not answered yet
    assert state(se, utc("2024-03-01 00:00:00")) == "waiting on author"
    assert state(se, utc("2024-03-08 07:00:00")) == "waiting on author"
    assert state(se, utc("2024-03-08 08:00:00")) == "merged"


# --- states: an independent recount ---------------------------------------------------------

DAY = 86400
RULES = BacklogRules()


def _recount(
    se: SeriesFacts, when: int, paths: set[str], mail_end: int | None = None
) -> dict[str, bool]:
    """Whether the series is in each state at `when`, every state worked out on its own from
    its definition in docs/METRICS.md ("States (the backlog)", "Merge evidence"), from the
    dates, commit links and notices of the facts. Each definition says which earlier states
    it excludes, as the document's order does; nothing here calls metrics/backlog.py, so a
    state defined two ways, or none, shows as a series in two states or in none. Idleness
    counts to `when` or to `mail_end` (the newest message), which comes first."""
    posted = [v for v in se.versions if v.date <= when]
    replies = [r for v in posted for r in v.replies if r.date <= when]
    # Laid over: a version flagged partial (a partial re-roll, a patch split out and sent
    # alone) after the first takes places in the latest full version before it, the first
    # when none is: a patch sent alone the one place of its title, unless the patch at its
    # own number has that title; else its number.
    base_of: dict[str, int] = {}
    place: dict[tuple[str, int], int] = {}
    titles: dict[int, str] = {}
    for n, v in enumerate(posted):
        if not v.partial or n == 0:
            base, titles = n, {i: p.normalized_title for i, p in v.patches.items()}
            continue
        base_of[v.key] = base
        for i, p in sorted(v.patches.items()):
            hits = [k for k, t in titles.items() if t == p.normalized_title]
            alone = (
                len(v.patches) == 1 and p.normalized_title and titles.get(i) != p.normalized_title
            )
            place[(v.key, i)] = j = hits[0] if alone and len(hits) == 1 else i
            titles[j] = p.normalized_title
    # The current version: the latest full one, with later partial re-rolls laid over it.
    full = max([0] + [i for i, v in enumerate(posted) if not v.partial])
    patches: dict[int, PatchFacts] = {}
    for v in posted[full:]:
        for i, p in v.patches.items():
            patches[place.get((v.key, i), i)] = p
    # Replies to the current version, each with the place it answers: a reply to a patch
    # laid over answers the place the patch took.
    on_current = sorted(
        (
            (r, place.get((v.key, r.patch_idx), r.patch_idx))
            for v in posted[full:]
            for r in v.replies
            if r.date <= when
        ),
        key=lambda ra: (ra[0].date, ra[0].pk),
    )
    # A partial re-roll is the author's answer too: a reviewer who spoke before it has it
    # waiting for them again.
    rerolled = max((v.date for v in posted[full + 1 :] if v.date > posted[full].date), default=0)

    def linked(p: PatchFacts) -> bool:  # a commit by D that fits this posting only
        return p.commit_date is not None and p.commit_date <= when and not p.ambiguous

    by_commit = any(linked(p) for v in posted for p in v.patches.values())
    # A link through another series' posting of the same diff does not silence a notice.
    by_own = any(linked(p) and not p.through for v in posted for p in v.patches.values())
    # A patch whose same diff (patch-id) is linked in another posting went in with it.
    went = {p.patch_id for v in posted for p in v.patches.values() if linked(p) and p.patch_id}
    every_current = bool(patches) and all(
        linked(p) or (p.patch_id and p.patch_id in went) for p in patches.values()
    )
    # A notice by D from anyone but the author; the author's own when it says committed or
    # names the tree. It takes the patches it names or lists, the whole when it says so or
    # answers the cover letter (or a one-patch version, or the first patch of a version
    # without a cover letter whose other patches its sender had not answered by then), else
    # the patch it answers; nothing
    # whole when it is b4's "(subset)" or says "some". Merged by notice when the notices to
    # one version take all of its patches; partly when there is any notice.
    notices = []
    taken_of: dict[int, set[int]] = {}
    for n, v in enumerate(posted):
        taken: set[int] = set()
        for r in [*v.replies, *v.pulled]:  # pull requests listing its patches count as notices
            if not (
                r.date <= when
                and r.notices
                and (
                    not r.is_author
                    or "committed" in r.notices
                    or "pushed" in r.bare_kinds
                    or specific_tree(r.notice_tree)
                )
            ):
                continue
            notices.append(r)
            kind, _, arg = r.notice_scope.partition(":")
            top = max(v.patches, default=0)
            if kind == "patches":
                taken.update(int(x) for x in arg.split(","))
            elif r.subset:
                continue
            elif kind == "some":
                if len(v.patches) <= 1:
                    taken.add(-1)
            elif kind == "count":  # "the two patches": the whole when as many as it has
                if int(arg) >= len(v.patches):
                    taken.add(-1)
            elif kind == "first":
                taken.update(range(1, int(arg) + 1))
            elif kind == "last":
                taken.update(range(top - int(arg) + 1, top + 1))
            elif kind == "whole" or r.patch_idx == 0 or len(v.patches) <= 1:
                taken.update(v.patches)
                taken.add(-1)  # the whole, even of a version with no patch in the archive
            elif (
                not v.has_cover
                and r.patch_idx == min(v.patches)
                and all(
                    o.who != r.who or o.patch_idx == r.patch_idx or o.date > r.date
                    for o in v.replies
                )
            ):
                taken.add(-1)  # the first patch stands for a version without a cover letter
            else:
                taken.add(r.patch_idx)
        if v.key in base_of:  # a notice to a version laid over another takes places there
            mine = set(v.patches) if -1 in taken else taken
            taken = {place[(v.key, i)] for i in mine if (v.key, i) in place}
        taken_of.setdefault(base_of.get(v.key, n), set()).update(taken)
    notice = any(
        -1 in taken or (bool(posted[n].patches) and set(posted[n].patches) <= taken)
        for n, taken in taken_of.items()
    )
    unmerged = not by_commit and not notices
    # Fixed elsewhere: not merged, and a reply by D to the current version, dated after
    # every patch sent again laid over it, from anyone but a robot, names a commit of a
    # registered repository as the fix, answering its cover letter, its only patch, or the
    # first patch of a version without a cover letter whose other patches its sender had not
    # answered by then.
    laid = max((v.date for v in posted[full + 1 :]), default=0)

    to_laid = {r.pk for v in posted[full + 1 :] for r in v.replies}

    def head(r: ReplyFacts, at: int) -> bool:
        if len(patches) <= 1:
            return True
        if r.pk in to_laid:  # a partial re-roll's own cover letter: its patches only
            return False
        if at == 0:
            return True
        return (
            not posted[full].has_cover
            and at == min(patches)
            and not any(o.who == r.who and a != at and o.date <= r.date for o, a in on_current)
        )

    fixed = unmerged and any(
        r.fixed_by and not r.is_bot and r.date >= laid and head(r, at) for r, at in on_current
    )
    files = {f for v in se.versions for p in v.patches.values() for f in p.files}
    # No commit can show the merge of a series without a diff: unknown, not abandoned.
    registered = bool(paths) and bool(files)
    elsewhere = registered and bool(files) and not files & paths
    waiting = unmerged and not elsewhere and not fixed
    idle = min(when, mail_end or when) - max([v.date for v in posted] + [r.date for r in replies])
    # Blocked: a prerequisite series not merged by D (docs/METRICS.md, "Dependencies"),
    # unless idle long enough to be abandoned.
    blocked = (
        waiting
        and idle < RULES.abandoned_days * DAY
        and se.blocked_until is not None
        and when < se.blocked_until
    )
    active = waiting and not blocked and idle < RULES.stale_days * DAY
    cover_reviewed = any(r.review and r.reviewer and at == 0 for r, at in on_current)
    nearly = bool(patches) and all(
        p.carried_review
        or cover_reviewed
        or any(r.review and r.reviewer and at == i for r, at in on_current)
        for i, p in patches.items()
    )
    answered = any(r.reviewer for r in replies)
    humans = [r for r, _at in on_current if not r.is_bot]
    reviewer_last = bool(humans) and not humans[-1].is_author and humans[-1].date >= rerolled
    return {
        "merged": (by_commit and every_current) or (not by_own and notice),
        "partly merged": not ((by_commit and every_current) or (not by_own and notice))
        and (by_commit or (not by_own and bool(notices))),
        "fixed elsewhere": fixed,
        "other tree": unmerged and elsewhere and not fixed,
        "unknown": waiting and idle >= RULES.abandoned_days * DAY and not registered,
        "abandoned": waiting and idle >= RULES.abandoned_days * DAY and registered,
        "blocked": blocked,
        "stale": waiting
        and not blocked
        and RULES.stale_days * DAY <= idle < RULES.abandoned_days * DAY,
        "nearly complete": active and nearly,
        "new": active and not nearly and not answered,
        "waiting on author": active and not nearly and answered and reviewer_last,
        "under review": active and not nearly and answered and not reviewer_last,
    }


@pytest.mark.slow
def test_states_agree_with_a_recount_from_the_facts(erofs_store) -> None:
    """The state of every EROFS series, as the store gives it (series_metrics' stored facts,
    decided as of the data's date) and as the overview counts it, against the recount above:
    every series is in exactly one state, the same one, and each state's count is the
    overview's. The pure `state()` agrees with the recount at earlier dates too, where the
    mix of states is different."""
    db, engine, _ = erofs_store
    with engine.connect() as conn:
        people = build_context(conn, Config(), db.with_name("cache")).people
        every = load_series(conn, people)
        when, end = data_date(conn), mail_end(conn)
        cf = schema.commit_files
        paths = {p for (p,) in conn.execute(select(cf.c.path).distinct())}
        paths |= {p for (p,) in conn.execute(select(cf.c.old_path).distinct()) if p}
        stored = {r["series_key"]: r["state"] for r in select_series(conn, Filters(), RULES)}
        shown = overview(conn, Filters(), RULES)
    reviewed = {se.key: se for se in every if se.kind == "series"}  # pulls, backports apart
    assert set(stored) == set(reviewed)
    assert shown["as_of"] == when and shown["series"] == len(reviewed)

    recounted = {key: _recount(se, when, paths, end) for key, se in reviewed.items()}
    in_states = {key: [st for st in STATES if flags[st]] for key, flags in recounted.items()}
    several = {k: v for k, v in in_states.items() if len(v) != 1}
    assert not several, f"{len(several)} series not in one state: {list(several.items())[:5]}"
    mine = {key: states[0] for key, states in in_states.items()}
    wrong = {k: (stored[k], mine[k]) for k in mine if stored[k] != mine[k]}
    assert not wrong, f"{len(wrong)} series (stored, recounted): {list(wrong.items())[:5]}"
    counts = Counter(mine.values())
    assert shown["states"] == {st: counts.get(st, 0) for st in STATES}
    assert sum(shown["states"].values()) == len(reviewed)
    # The recount is only a check where the states are many: EROFS has most of them.
    assert len(counts) >= 6, counts

    # The pure function, at three other dates: the same state for every series posted by then.
    seen: set[str] = set()
    for days_back in (60, 365, 3 * 365):
        then = when - days_back * DAY
        for key, se in reviewed.items():
            files = {f for v in se.versions for p in v.patches.values() for f in p.files}
            in_repo = not files or bool(files & paths)
            st = state(se, then, in_repo=in_repo, repo_registered=bool(paths))
            if st is None:
                assert se.first_date > then
                continue
            flags = _recount(se, then, paths)
            assert [s for s in STATES if flags[s]] == [st], (key, then, st)
            seen.add(st)
    assert len(seen) >= 7, seen
    # And at every date something happened to a series with a version laid over another,
    # where the rules of the current version and of notices differ most.
    laid = [se for se in reviewed.values() if any(v.partial for v in se.versions[1:])]
    assert len(laid) >= 50
    for se in laid:
        files = {f for v in se.versions for p in v.patches.values() for f in p.files}
        in_repo = not files or bool(files & paths)
        for then in sorted(
            {v.date for v in se.versions} | {r.date for v in se.versions for r in v.replies}
        ):
            st = state(se, then, in_repo=in_repo, repo_registered=bool(paths))
            flags = _recount(se, then, paths)
            assert [s for s in STATES if flags[s]] == [st], (se.key, then, st)


def test_merge_changes_are_the_merge_of_the_facts(erofs_store) -> None:
    """`merge_changes` (the merge history every series' record is built from) changes where
    `facts(...).merged == "fully"` changes for every EROFS series (pulls and backports too),
    asked at every date something happened to it, a second before each, and at the end of
    time; `merged_at` is the first of those dates when the series ends merged. Both ways of
    being merged (by commit, by notice) and series merged late occur."""
    db, engine, _ = erofs_store
    with engine.connect() as conn:
        people = build_context(conn, Config(), db.with_name("cache")).people
        every = load_series(conn, people)
    by: Counter[str] = Counter()
    for se in every:
        dates = (
            {v.date for v in se.versions}
            | {r.date for v in se.versions for r in v.replies}
            | {p.commit_date for v in se.versions for p in v.patches.values() if p.commit_date}
            | {r.date for v in se.versions for r in v.pulled}  # pull requests that list it
        )
        asked = sorted(dates | {d - 1 for d in dates} | {BLOCKED_FOREVER})
        changes, state = [], False
        for when in asked:
            f = facts(se, when)
            want = f is not None and f.merged == "fully"
            if want != state:
                changes.append((when, want))
                state = want
            if want:
                by[f.merged_by] += 1
            elif f is not None and when < BLOCKED_FOREVER:
                by["not yet"] += 1
        # The one-pass history gives the same changes as asking at every date.
        assert merge_changes(se, asked) == changes, se.key
        ends_merged = bool(changes) and changes[-1][1]
        assert merged_at(se) == (changes[0][0] if ends_merged else None), se.key
        by["changed"] += len(changes) > 1
    assert by["commit"] and by["notice"] and by["not yet"] and by["changed"], by


def test_percentiles_are_nearest_rank() -> None:
    from patchlens.metrics.distributions import percentile, summary

    xs = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]
    assert (percentile(xs, 50), percentile(xs, 75), percentile(xs, 90)) == (5.0, 8.0, 9.0)
    assert summary([None, 3.0, None]) == {"n": 1, "median": 3.0, "p75": 3.0, "p90": 3.0}
