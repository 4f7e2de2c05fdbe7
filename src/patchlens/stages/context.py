"""What every stage after ingest shares: who is who, who is a bot, which organisation, which
subsystem. Built once per run from the store, the registered repositories and the config."""

from __future__ import annotations

import hashlib
import itertools
import json
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Select, func, literal_column, select

from patchlens.config import Config
from patchlens.identity.bots import DEFAULT_BOT_PATTERNS, BotMatcher
from patchlens.identity.mailmap import Mailmap, People, parse_mailmap, parse_people_file
from patchlens.identity.maintainers import MaintainersHistory, from_files, from_history
from patchlens.identity.orgs import OrgMap
from patchlens.identity.people import Identities, commit_author
from patchlens.metrics.backlog import BacklogRules
from patchlens.metrics.prediction_features import LANDMARKS_KEY
from patchlens.review import analysis
from patchlens.sources.base import SourceError
from patchlens.sources.filehistory import file_at, file_history
from patchlens.sources.gitrepo import default_branch
from patchlens.sources.gitutil import resolve_repo
from patchlens.stages import changes
from patchlens.stages import match as match_stage
from patchlens.store import schema

# Bump when the reconstruction, the matcher or the metrics change what they compute from the
# same inputs: the next `update` then rebuilds them once (messages and commits are unchanged,
# so the digest alone would skip them).
# 2: causal version linking, rapidfuzz title similarity, ties broken by Message-ID.
# 3: a person's identity is their earliest address, not the smallest.
# 4: linking's word counts stored (linker_words, linker_people): filled by one full rebuild;
#    a partial re-roll names the version it re-rolls, not the first of the chain.
# 5: series metrics name who MAINTAINERS expects and the first response by role.
# 6: patches under a cover they say more than are one version of their own (review/series.py);
#    a series' stored author is its first version's, as its metrics have it.
# 7: a posting sent message by message in reply to an earlier version is one version
#    (review/series.py).
# 8: a posting tagged "stable" ([PATCH stable 5.15.y], [PATCH 5.15.y/5.10.y]) is a stable
#    backport (review/model.py).
# 9: a pull request without its cover letter is its sender's, not its first patch's author's;
#    patches sent with the cover letter they answer join it whatever version or count their
#    subjects say, the version taking theirs; "[PATCH v2]" under "[PATCH v2 0/1]" is its patch
#    (review/series.py).
# 10: the built-in bot patterns take a robot's address with any separator before "bot@"
#    (bluez.test.bot@gmail.com) and bugzilla-daemon (identity/bots.py): replies.is_bot.
# 11: a commit author rewritten by a list ("A via ltp <ltp@lists.linux.it>") is A, for
#    matching and conformance (identity/people.commit_author).
# 12: a version sent again with another number of patches is a repost when it shares b4's
#    change-id (review/versions.py); the subject layer's title without prefixes needs prefixes
#    that agree (match/matcher.py prefixes_agree).
# 13: a patch posted after it was committed ("[COMMITTED] [PATCH]", "[pushed]") makes a version
#    of its own kind (series_versions.committed); a series of only such versions is merged
#    work, not review work, like a stable backport (metrics/model.py SeriesFacts.kind); a
#    stale patch file sent along in the same git send-email run is no repost of the version
#    (review/versions.py one_sending).
# 14: a series whose versions are all partial re-rolls is named after its first, the version
#    in force as its facts and the queues take it (review/model.py in_force), not its latest.
# 15: a robot's report from a person's address ("My bot found errors ...") is a robot's reply
#    (review/model.py Mail.robot_report), not a reviewer's; a reply that kept its version's
#    cover subject without "Re:" is a reply, not a version with no patches
#    (review/series.py kept_subjects); a cover threaded after its patches is their cover.
# 16: a patchset's cover takes its patches whatever their total; a cover sent again with an
#    unnumbered patch under it stays a cover (review/series.py).
# 17: an address joins only its owner's names; what a relay sent under another's name is
#    that person's (identity/people.py): replies, authors and reviews follow.
# 18: a cover letter alone, then its version sent again in full within hours, is one
#    series (review/versions.py failed_send).
# 19: identities 5 (identity/people.py): who relayed whose mail, told more strictly.
# 20: identities 6; a failed send's lone cover joins its version sent again within hours,
#    not a day.
# 21: a maintainer's "[ANNOUNCE] <repo>: <branch> updated to <sha>" lists what went in
#    (mail/treenote.py); a pull request's title goes to no posting another series posted
#    again before it (queries/evidence.py); patchsets answering one thread's first message
#    are not versions of each other by the thread alone (review/versions.py).
# 22: a notice its sender took back in a reply to it ("done in error - dropped it") merges
#    nothing (mail/replytext.is_retraction, queries/evidence.py).
# 23: the third review's mends: a pull request's title is taken from an older posting only by
#    its author's own later posting of the same files for review; a part taken back is no
#    retraction; announcements behind a list's tag, of a stable branch or onto mainline.
# 24: a partial re-roll names its base by the base's final key (a version without a cover
#    begun by a later-numbered patch named a key no version had: 18 of 1,654 at a million).
# 25: a patch whose threading broke joins a version of its key dated within a day of it,
#    either way, the versions kept in date order when a parent dated after its child is
#    placed first (review/series.py _near).
# 26: one patch taken out of a bigger version and sent alone is laid over it like a partial
#    re-roll (review/versions.py laid_over): the series is merged when all its patches are.
# 27: 26's rules as the reviews mended them (review/model.py place_of; a split-out says one
#    patch and one title; replies to a patch laid over answer its place): a store built
#    between is rebuilt.
# 28: the linking of a version by its number (review/versions.py Linker._renumbered).
# 29: that rule's review mends.
# 30: a commit's pointer to a posting that agrees with it neither by diff nor by subject
#    yields to its author's posting of its very patch (match/matcher.py pointer_contradicted).
DERIVED_VERSION = 30
# Bump when only the metrics stage computes more or otherwise from the same series: the next
# `update` then redoes the metrics of every series (and refits the prediction model), not the
# reconstruction and matching before them (stages/pipeline.py).
# 1: series metrics store the records time-to-merge features read (event_dates,
#    merge_changes); the prediction model is fitted by `update`.
# 2: series metrics store each series' own time-to-merge features at its landmarks
#    (landmark_features), which a refit reads instead of the series' facts. The code those
#    are computed by has its own key (LANDMARKS_KEY), part of the metrics' version too.
# 3: MAINTAINERS entries are looked up by name and address (stages/maintainer_people.py).
# 4: a notice of a subset (b4's "(subset)") is a partial merge; a notice to a version a later
#    one replaced is none (metrics/backlog.py merge_notice); a patch whose same diff (patch-id)
#    was merged in another posting is merged.
# 5: a notice says which patches it took (a part is a partial merge); a notice stands when
#    the author posts again; a maintainer's notice to their own series counts when it names
#    the tree (metrics/backlog.py notice_merge).
# 6: a person is a bot only when every message they sent is a bot's (stages/metrics.py
#    identity_rows): one robot report from a person's address no longer hides their reviews.
# 7: a notice to the first patch of a version without a cover letter takes the whole version
#    (metrics/backlog.py notice_covers).
# 8: an author's "pushed" said by the verb alone is a merge (metrics/backlog.py _is_notice).
# 9: a tree robot's note ('patch "x" added to usb-testing') is a notice of the patch it names
#    (stages/pulled.py note_rows).
# 10: so is GitHub's notification of a push to a repository's main branch (mail/treenote.py).
# 11: and Mark Brown's 'Applied "x" to the spi tree', and the tip robots' "[tip: x86/urgent]
#     x" notes of a merged commit (mail/treenote.py).
# 12: a tree robot's note behind a list's tag ("[alsa-devel] Applied \"x\" to the asoc tree").
# 13: a note's carried patch names its author decoded, as the posting does ("=?UTF-8?q?...?=",
#     folded onto a second line).
# 14: a version posted after it was committed ("[COMMITTED] [PATCH v2]") is its author's
#     notice that its patches went in (queries/evidence.py committed_notice); a robot's
#     series (by its address) is no new contributor's (stages/metrics.py robot_author).
# 15: with several repositories, a series is looked up in the MAINTAINERS of the repository
#     its files are in (stages/pipeline.py maintainers_of), not the first one's.
# 16: each subsystem row names the repository whose MAINTAINERS it is from (subsystems.repo_id).
# 17: a patch without a link of its own is merged through another series' posting of the same
#     diff linked to a commit of its author (queries/evidence.py went_in_elsewhere).
# 18: such a patch leaves a notice that took the whole version standing (metrics/backlog.py
#     facts), its merge evidence keeping both; 17 read commits' authors rewritten by a list
#     as the list's.
# 19: the same patch posted elsewhere is the same diff, or the same title with a file in
#     common (queries/evidence.py went_in_elsewhere).
# 20: a series without a diff is unknown when idle, not abandoned (its repo_registered false).
# 21: a patch folded into a later commit of its author went in (match/inside.py).
# 22: a series a reply says another commit fixed or replaced is "fixed elsewhere"
#     (series_metrics.fixed_at, fixed_by; metrics/backlog.py fix_notice).
METRICS_VERSION = 22


def config_digest(cfg: Config) -> str:
    """Changes when the configuration or a file it names changes: stages then run again."""
    h = hashlib.sha1()
    for p in [cfg.path, *cfg.mailmaps, cfg.people_file, cfg.domain_map, cfg.maintainers_file]:
        if p is not None and p.is_file():
            h.update(str(p).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _sightings(conn: Connection) -> Select[Any]:
    """What says the sightings changed: sightings are only added, or go with their list
    source (which the digest's hash of the sources covers), so in SQLite the largest rowid
    (each insert takes a larger one) does, in a lookup, where counting reads an index of
    every sighting (0.06-0.2 s at a million, on every update and no-op). PostgreSQL's rows
    have no such number: they are counted."""
    sg = schema.message_sightings
    if conn.dialect.name == "sqlite":
        return select(func.max(literal_column("rowid"))).select_from(sg)
    return select(func.count()).select_from(sg)


def inputs_digest(conn: Connection, cfg: Config) -> str:
    """What the stages after ingest read: when it is unchanged, so is their output.

    Besides the messages and commits, the sources that saw them (a list removed or replaced
    whose messages another list also carries changes only the sightings) and the versions of
    the per-message analysis and of fingerprints (rows redone by newer code)."""
    m, c = schema.messages, schema.commits
    # Not a count of the messages (0.1 s a million rows, on every update): messages go only
    # with the list sources that saw them (stages/ingest.py drop_list_sources), which the
    # hash below covers, and come with a larger key. "-" holds the count's place: the parts
    # after the fifth are what `pipeline._fixed_part` compares. Commits likewise go only with
    # their repository (drop_repo_commits), whose row the hash covers too.
    msgs = ("-", conn.execute(select(func.max(m.c.id))).scalar())
    commits = ("-", conn.execute(select(func.max(c.c.id))).scalar())
    seen = conn.execute(_sightings(conn)).scalar()
    h = hashlib.sha1()
    for row in conn.execute(
        select(schema.list_sources.c.id, schema.list_sources.c.list_id).order_by(
            schema.list_sources.c.id
        )
    ):
        h.update(f"l{row.id}:{row.list_id};".encode())
    for row in conn.execute(
        select(schema.repos.c.id, schema.repos.c.branches).order_by(schema.repos.c.id)
    ):
        h.update(f"r{row.id}:{row.branches};".encode())
    return (
        f"{msgs[0]}:{msgs[1]}:{commits[0]}:{commits[1]}:{seen}:{h.hexdigest()[:12]}"
        f":a{analysis.ANALYSIS_VERSION}:f{match_stage.FINGERPRINT_VERSION}:d{DERIVED_VERSION}"
        f":m{METRICS_VERSION}-{LANDMARKS_KEY}"
        f":{config_digest(cfg)}"
    )


@dataclass
class Context:
    people: Identities
    is_bot: BotMatcher
    orgs: OrgMap
    # The MAINTAINERS a series is looked up in by default: the configured file (for every
    # repository), else that of the first registered repository that has one.
    maintainers: MaintainersHistory
    rules: BacklogRules
    archive_url: str
    # A sender already stored got another identity with the new mail (stages/pipeline.py
    # then redoes everything: rows stored under the old identity are out of date).
    identities_moved: bool = False
    # Each registered repository's own MAINTAINERS (name, history), by repository key, when
    # no file is configured: a series is looked up in the file of the repository its files
    # are in (stages/pipeline.py subsystems_for), so that a store of two projects (xen.git
    # and mini-os.git on xen-devel) does not judge one's patches by the other's file.
    maintainers_by_repo: dict[int, tuple[str, MaintainersHistory]] = field(default_factory=dict)
    # The first registered repository (git can read) with a MAINTAINERS file: its file also
    # serves the series whose files are in no repository, and its section titles are left
    # bare. (A repository registered before it that gains a file later takes its place: its
    # versions are new, dated before every other, so every series is redone.)
    first_repo: int | None = None


@dataclass(frozen=True)
class RepoDir:
    """A registered repository as the stages read it: its key, name, git directory and the
    branch its MAINTAINERS and .mailmap are read on."""

    id: int
    name: str
    gitdir: Path
    branch: str


def _repo_dirs(conn: Connection, cache: Path) -> list[RepoDir]:
    """The registered repositories git can read, in the order they were registered."""
    out = []
    r = schema.repos
    for repo_id, name, location, branches in conn.execute(
        select(r.c.id, r.c.name, r.c.location, r.c.branches).order_by(r.c.id)
    ):
        try:
            gitdir = resolve_repo(location, cache, fetch=False)
            names = json.loads(branches) or [default_branch(gitdir)]
        except SourceError:
            continue  # a repository not ingested yet, or gone: nothing to read from it
        out.append(RepoDir(repo_id, name, gitdir, names[0]))
    return out


# Bump when identity/people.py changes how it groups senders (the pickled map is dropped).
# 3: a commit author rewritten by a list ("A via ltp") is A (identity/people.commit_author).
# 4: an address joins only its owner's names, a relay's others do not (identity/people.py).
# 5: a name another address owned first is relayed, never a renaming; a display name that
#    holds an address is no name (identity/people.py).
# 6: the owner is the name an address sent most under; a mailmap entry for a relayed name
#    joins its author, not the relay (identity/people.py).
IDENTITIES_VERSION = 6
IDENTITIES_FILE = "identities.pickle"


def _identities(
    conn: Connection, cache: Path, key: str, canonical: Any, is_bot: BotMatcher
) -> Identities:
    """Everyone who sent mail or authored a patch or commit, grouped into people.

    Grouping is a union-find that only grows, so the map of the last update is kept (pickled
    beside the store's cache, with the marks of what it has seen) and extended with the
    senders of what is new: on a large store this is most of the cost of an update. Whether a
    known sender's identity moved is kept in `moved` (the pipeline then redoes everything)."""
    m, a, c = schema.messages, schema.message_analysis, schema.commits
    path = cache / IDENTITIES_FILE
    people: Identities | None = None
    since_m = since_c = 0
    try:
        with path.open("rb") as f:
            saved = pickle.load(f)
        if saved["key"] == key:
            people = saved["people"].with_functions(canonical, is_bot)
            since_m, since_c = saved["messages"], saved["commits"]
    except (OSError, EOFError, pickle.UnpicklingError, KeyError, AttributeError, TypeError):
        people = None  # none yet, or unreadable: rebuilt from everything
    top_m = conn.execute(select(func.max(m.c.id))).scalar() or 0
    top_c = conn.execute(select(func.max(c.c.id))).scalar() or 0
    if people is not None and (
        since_m > top_m or since_c > top_c or changes.owes_full(conn, changes.STRUCTURE)
    ):
        # The store went back (messages removed with a list), or everything is redone (a list
        # or repository removed, other settings, newer code): grouped again from what is
        # stored, without the senders of what was removed.
        people = None
    rebuilt = people is None
    if people is None:
        people = Identities([], canonical, is_bot)
        since_m = since_c = 0
    else:
        people.watch()
    new_m, new_c = m.c.id > since_m, c.c.id > since_c
    # One row per distinct sender with their first and last dates and count (a relay is told
    # by when and how much each name was used, identity/people.py): a store's messages never
    # all sit in memory at once. The new messages of an update are read as rows, one each:
    # grouped in SQL, SQLite's planner walks the whole covering index of senders for the
    # grouping's order rather than the few new rows (0.45-0.9 s a day at a million messages).
    one = literal_column("1")
    senders = (
        select(m.c.from_name, m.c.from_addr, m.c.date_utc, m.c.date_utc, one).where(new_m)
        if since_m
        else select(
            m.c.from_name,
            m.c.from_addr,
            func.min(m.c.date_utc),
            func.max(m.c.date_utc),
            func.count(),
        ).group_by(m.c.from_name, m.c.from_addr)
    )
    people.add_spans(
        itertools.chain(
            conn.execute(senders),
            conn.execute(
                select(
                    a.c.author_name,
                    a.c.author_addr,
                    func.min(m.c.date_utc),
                    func.max(m.c.date_utc),
                    func.count(),
                )
                .join(m, m.c.id == a.c.message_pk)
                .where(a.c.author_addr.is_not(None), new_m)
                .group_by(a.c.author_name, a.c.author_addr)
            ),
            # A commit author a list rewrote ("A via ltp <ltp@...>") is A, looked up by name
            # (identity/people.commit_author): not added, or A's name would become a key of
            # A's own, and the earliest (a name sorts before an address) their identity.
            (
                row
                for row in conn.execute(
                    select(
                        c.c.author_name,
                        c.c.author_email,
                        func.min(c.c.author_date),
                        func.max(c.c.author_date),
                        func.count(),
                    )
                    .where(new_c)
                    .group_by(c.c.author_name, c.c.author_email)
                )
                if commit_author(row[0], row[1]) == (row[0], row[1])
            ),
        )
    )
    # Saved when grouped again from nothing too: an empty store's marks equal the old map's
    # (0, 0), and the old map would be read back after the next mail.
    if rebuilt or people.moved or (since_m, since_c) != (top_m, top_c) or not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as f:
            pickle.dump({"key": key, "people": people, "messages": top_m, "commits": top_c}, f)
        tmp.replace(path)
    return people


def build_context(conn: Connection, cfg: Config, cache: Path) -> Context:
    repos = _repo_dirs(conn, cache)
    mailmaps: list[Mailmap] = []
    curated = hashlib.sha1(config_digest(cfg).encode())  # what grouping people depends on
    for repo in repos:
        text = file_at(repo.gitdir, repo.branch, ".mailmap")
        if text:
            mailmaps.append(parse_mailmap(text))
            curated.update(text.encode())
    mailmaps += [parse_mailmap(p.read_text(encoding="utf-8")) for p in cfg.mailmaps]
    people_file: People | None = (
        parse_people_file(cfg.people_file.read_text(encoding="utf-8")) if cfg.people_file else None
    )

    def canonical(name: str, addr: str) -> tuple[str, str]:
        for mm in mailmaps:
            name, addr = mm.canonical(name, addr)
        if people_file is not None:
            name, addr = people_file.canonical(name, addr)
        return name, addr

    is_bot = BotMatcher([*DEFAULT_BOT_PATTERNS, *cfg.bot_patterns])
    people = _identities(
        conn,
        cache,
        f"{IDENTITIES_VERSION}:{curated.hexdigest()}",
        canonical if (mailmaps or people_file) else None,
        is_bot,
    )

    email_map = cfg.domain_map.read_text(encoding="utf-8") if cfg.domain_map else ""
    orgs = OrgMap.default(email_map)
    by_repo: dict[int, tuple[str, MaintainersHistory]] = {}
    if cfg.maintainers_file is not None:
        maintainers = from_files([(0, cfg.maintainers_file)])
    else:
        maintainers = MaintainersHistory([])
        for repo in repos:
            history = from_history(file_history(repo.gitdir, "MAINTAINERS", repo.branch))
            if len(history):
                by_repo[repo.id] = (repo.name, history)
                if not len(maintainers):
                    maintainers = history
    return Context(
        people=people,
        is_bot=is_bot,
        orgs=orgs,
        maintainers=maintainers,
        maintainers_by_repo=by_repo,
        first_repo=next(iter(by_repo), None),
        rules=BacklogRules(cfg.stale_days, cfg.abandoned_days),
        archive_url=cfg.archive_url,
        identities_moved=people.moved,
    )
