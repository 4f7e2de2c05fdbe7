"""`patchlens update` after ingest: analysis, reconstruction, fingerprints, matching, metrics.

The one place that sequences the read-compute-write steps, and the one place that decides
whether they run. Analysis and fingerprints are per message and per commit, done once. The
rest is rebuilt in memory and written back where it changed, and only when its inputs changed
(new mail, new commits, another configuration): an update with nothing new does nothing here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlalchemy import Engine, select

from patchlens.config import Config
from patchlens.identity.maintainers import MaintainersHistory, Section
from patchlens.metrics.model import SeriesFacts
from patchlens.stages import changes
from patchlens.stages.analyse import analyse_new
from patchlens.stages.context import Context, build_context, inputs_digest
from patchlens.stages.maintainer_people import MaintainerPeople
from patchlens.stages.match import MatchReport, fingerprint_new, run_matching
from patchlens.stages.metrics import MetricsReport, run_metrics
from patchlens.stages.parallel import DEFAULT_JOBS
from patchlens.stages.prediction import PredictionReport, run_prediction
from patchlens.stages.progress import Reporter
from patchlens.stages.recipients import fill_recipients
from patchlens.stages.review import ReconstructReport, rebuild_structure
from patchlens.store import schema

STAGE = schema.PIPELINE_DIGEST
# The inputs of a run that has not finished (stages/pipeline.py run_stages: one for the same
# inputs resumes it; one for other inputs redoes everything).
BEGUN = "review+match+metrics:begun"


@dataclass
class StagesReport:
    """What `run_stages` did: nothing (skipped: the inputs were unchanged), or each step's
    report; `analysed` and `fingerprinted` count the messages and diffs (re)done."""

    skipped: bool = False
    analysed: int = 0
    fingerprinted: int = 0
    recipients: int = 0  # messages whose recipient keys were filled (stages/recipients.py)
    review: ReconstructReport = field(default_factory=ReconstructReport)
    matching: MatchReport = field(default_factory=MatchReport)
    metrics: MetricsReport = field(default_factory=MetricsReport)
    prediction: PredictionReport = field(default_factory=PredictionReport)
    # A sender already stored got another identity (identity/people.py): everything redone.
    identities_moved: bool = False


def subsystems_for(ctx: Context, lookup: MaintainerPeople | None = None):
    """`subsystems_of` for the metrics step; `lookup` looks MAINTAINERS entries up as
    identities (by name and address) and remembers them."""
    lookup = lookup if lookup is not None else MaintainerPeople(ctx.people)

    def subsystems_of(
        se: SeriesFacts,
    ) -> tuple[tuple[str, ...], frozenset[str], frozenset[str]] | None:
        """The sections of the files the series touches, the identities MAINTAINERS expects
        to review it (M: and R:, at the date of posting), and those of them named by R: only
        (listed reviewers, not maintainers of any touched section). A renamed file counts by
        its old path and its new one, as get_maintainer.pl takes both. The file is that of
        the series' repository (`maintainers_of`)."""
        found = maintainers_of(ctx, se.repo)
        if found is None or not len(found[0]):
            return None
        history, suffix = found
        files = maintained_paths(se)
        sections = history.sections_for_files(se.first_date, files)
        named = [sec for sec in sections if not sec.is_catch_all]
        titles = tuple(sec.title + suffix for sec in (named or sections))
        version = history.at_or_empty(se.first_date)
        emails = version.expected_reviewers(files)
        maintainers = _maintainers_named(history, se.first_date, files)
        return (
            titles,
            lookup.of(version, emails),
            lookup.of(version, emails - maintainers),
        )

    return subsystems_of


def maintainers_of(ctx: Context, repo: int | None) -> tuple[MaintainersHistory, str] | None:
    """The MAINTAINERS a series whose files are in repository `repo` (None: in none) is
    looked up in, and what its section titles take after them: the configured file for every
    series; else the file of the series' repository, its titles marked with the repository's
    name (" [mini-os]") unless it is the first registered repository, whose file also serves
    series whose files are in no repository yet (new files); None for a series of a
    repository without the file."""
    if not ctx.maintainers_by_repo:
        return ctx.maintainers, ""
    if repo is None:
        repo = ctx.first_repo
    if repo not in ctx.maintainers_by_repo:
        return None
    name, history = ctx.maintainers_by_repo[repo]
    return history, "" if repo == ctx.first_repo else f" [{name}]"


def newest_sections(ctx: Context) -> list[tuple[Section, int | None]]:
    """The sections of the newest MAINTAINERS of each file in use (`maintainers_of`), titled
    as series name them, each with the repository whose file it is from (None for a file
    named in the settings): the subsystems the pages list."""
    if not ctx.maintainers_by_repo:
        newest = ctx.maintainers.at(2**62) if len(ctx.maintainers) else None
        return [(sec, None) for sec in newest.sections] if newest is not None else []
    out: list[tuple[Section, int | None]] = []
    for repo in ctx.maintainers_by_repo:
        found = maintainers_of(ctx, repo)
        assert found is not None
        history, suffix = found
        newest = history.at(2**62)
        if newest is not None:
            out += [(replace(sec, title=sec.title + suffix), repo) for sec in newest.sections]
    return out


def maintainers_dates(ctx: Context) -> list[int | str]:
    """The dates of every MAINTAINERS version series are looked up in: of the one file, or
    "repository:date" of each repository's (stages/metrics.py redoes the series a change
    in one file can move)."""
    if not ctx.maintainers_by_repo:
        return list(ctx.maintainers.dates)
    return [f"{r}:{d}" for r, (_name, h) in ctx.maintainers_by_repo.items() for d in h.dates]


def maintained_paths(se: SeriesFacts) -> set[str]:
    """The paths MAINTAINERS is looked up by for a series: every path its patches touch,
    and the old path of each file they rename or copy."""
    return {f for v in se.versions for p in v.patches.values() for f in (*p.files, *p.old_files)}


def _maintainers_named(history: MaintainersHistory, ts: int, files: set[str]) -> set[str]:
    """The M: addresses among those `expected_reviewers` names for the files: per file, the
    sections covering it other than the catch-all when they name anyone, else the catch-all
    (so THE REST's maintainers are maintainers of a file only when nobody else is)."""
    out: set[str] = set()
    for f in files:
        secs = history.sections_for_files(ts, [f])
        specific = [s for s in secs if not s.is_catch_all and (s.maintainers or s.reviewers)]
        for sec in specific or [s for s in secs if s.is_catch_all]:
            out |= {p.email.lower() for p in sec.maintainers if p.email}
    return out


def run_stages(
    engine: Engine,
    cfg: Config,
    cache: Path,
    reporter: Reporter,
    jobs: int = DEFAULT_JOBS,
    force: bool = False,
) -> StagesReport:
    """The steps after ingest, in order: recipient keys -> analyse -> reconstruct ->
    fingerprints -> match -> metrics -> prediction model. The one skip rule (recipient keys,
    which depend on the messages alone, are filled before it): when the inputs digest
    (stages/context.py) equals the one the last complete run stored, their output is current
    and nothing runs; `force` runs them all. The digest is stored last, so a run that dies
    part-way is redone by the next one (each step resumes from what it committed)."""
    rep = StagesReport()
    # Before the skip rule: a store built before recipient keys fills them on its next update
    # (nothing to do costs two small queries).
    rep.recipients = fill_recipients(engine, reporter)
    with engine.begin() as conn:
        digest = inputs_digest(conn, cfg)
        last = changes.state(conn, STAGE)
        # Work owed: a step stopped, or sources were removed or replaced (stages/ingest.py),
        # which the digest's numbers may not show.
        owed = conn.execute(select(schema.pending_work.c.stage).limit(1)).first() is not None
        fixed, begun = _fixed_part(digest), _begun(conn)
        # A run that did not finish leaves its inputs (BEGUN): the next one runs, if only to
        # refit the model and record its end.
        if digest == last and not force and not owed and begun is None:
            rep.skipped = True
            return rep
        everything = (
            force
            or last is None
            or _fixed_part(digest, False) != _fixed_part(last, False)
            # A run for other inputs stopped part-way: some steps may hold what those inputs
            # gave (configuration B, stopped, then A again).
            or (begun is not None and _without_metrics(begun) != _fixed_part(digest, False))
        )
        # Only the metrics' code differs from the last finished run's, or from a stopped
        # run's (newer metrics code stopped, then the older again).
        metrics_only = not everything and (
            fixed != _fixed_part(last) or (begun is not None and begun != fixed)
        )
        if everything and (force or begun != fixed):
            # Other code, configuration or sources: not new input, a different question.
            # Unless a run for these very inputs (the metrics' version included) stopped
            # part-way after owing everything (the first update of a store, killed): then
            # what it owed is still owed, and each step resumes from what it committed (a
            # reconstruction in batches at its last batch) instead of starting again, which
            # at a million messages cost half an hour.
            changes.owe_everyone_everything(conn)
        elif metrics_only:
            # Only the metrics' code is newer (METRICS_VERSION): their rows are redone.
            changes.owe(conn, changes.METRICS, changes.Work(full=True))
        if begun != fixed:
            # The inputs of the run under way, until it finishes.
            changes.set_state(conn, BEGUN, fixed, int(time.time()))
    rep.analysed = analyse_new(engine, reporter, jobs, everything)
    with engine.connect() as conn:
        ctx = build_context(conn, cfg, cache)  # reads the analysis (authors in From: lines)
    if ctx.identities_moved:
        rep.identities_moved = True
        with engine.begin() as conn:
            changes.owe_everyone_everything(conn)
    if everything:
        # Reconstruction reads the postings' fingerprints (linking's similar diffs, and the
        # features it stores per version): those of older code are redone before it, not
        # after, so that it links as a store built by this code from nothing does.
        rep.fingerprinted = fingerprint_new(engine, reporter, everything=True)
    rep.review = rebuild_structure(engine, reporter, ctx.people, ctx.is_bot)
    rep.fingerprinted += fingerprint_new(engine, reporter)
    rep.matching = run_matching(engine, reporter, people=ctx.people)
    named = MaintainerPeople(ctx.people)
    rep.metrics = run_metrics(
        engine,
        reporter,
        ctx.orgs.org,
        subsystems_for(ctx, named),
        people=ctx.people,
        is_bot=ctx.is_bot,
        sections=newest_sections(ctx),
        maintainers_dates=maintainers_dates(ctx),
        maintainer_people=named,
    )
    # The time-to-merge model at the data's last week: refitted when the week turns, or when
    # everything was redone (the records it reads may all have changed).
    # A stopped run's model may be another's (a run for other inputs fitted it before it
    # stopped): refitted, as the prediction step owes nothing in pending_work to say so.
    refit = (
        everything or metrics_only or ctx.identities_moved or named.found_moved or begun is not None
    )
    rep.prediction = run_prediction(engine, reporter, ctx.people, force=refit)
    with engine.begin() as conn:
        changes.clear_state(conn, BEGUN)
        changes.set_state(conn, STAGE, digest, int(time.time()))
    return rep


def _begun(conn) -> str | None:
    """The inputs (`_fixed_part` of their digest) of a run that began and has not finished:
    None when the last run finished (or was skipped)."""
    return changes.state(conn, BEGUN)


def _without_metrics(fixed: str) -> str:
    """A `_fixed_part` (with the metrics' version) as `_fixed_part(digest, False)` gives it."""
    return ":".join(p for p in fixed.split(":") if not p.startswith("m"))


def _fixed_part(digest: str, metrics: bool = True) -> str:
    """The digest without what only grows as mail and commits come in (the counts and largest
    keys of messages, commits and sightings): what, when it differs, makes an update redo
    everything instead of what is new. Without `metrics`, also without the metrics' version
    (`m...`; a configuration digest is hexadecimal), whose change redoes the metrics only."""
    parts = digest.split(":")[5:]
    return ":".join(p for p in parts if metrics or not p.startswith("m"))
