"""The tables every stage reads and writes.

Times are integers (seconds since the epoch, UTC) with the sender's offset in minutes kept
beside them: portable between SQLite and PostgreSQL, cheap to compare, and lossless.
Bulky bytes (raw mail, commit diffs) go through `Compressed`, so the store stays a few times
smaller than the archives it holds.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from patchlens.store.compression import (
    Precompressed,
    compress,
    compress_text,
    decompress,
    decompress_text,
)


class Compressed(TypeDecorator[bytes]):
    """Bytes stored zstd-compressed; callers see plain bytes."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: bytes | None, dialect: object) -> bytes | None:
        if value is None or isinstance(value, Precompressed):
            return value
        return compress(value)

    def process_result_value(self, value: bytes | None, dialect: object) -> bytes | None:
        return None if value is None else decompress(value)


class CompressedText(TypeDecorator[str]):
    """Text stored zstd-compressed as UTF-8; callers see str."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: str | bytes | None, dialect: object) -> bytes | None:
        if value is None or isinstance(value, Precompressed):
            return value
        return compress_text(value)

    def process_result_value(self, value: bytes | None, dialect: object) -> str | None:
        return None if value is None else decompress_text(value)


# The first and last second a signed 32-bit date holds (1901-12-13, 2038-01-19): the range
# of every stored date. The parsers hold what they read to it (mail.headers.LATEST_DATE, its
# own copy, since the pure layers do not reach the store; a test keeps the two equal).
DATE_MIN, DATE_MAX = -(2**31), 2**31 - 1


class _UncastDate(TypeDecorator[int]):
    """PostgreSQL's side of `Date`: INTEGER, its bound values sent without a cast."""

    impl = Integer
    cache_ok = True
    # psycopg's dialect writes `%(x)s::INTEGER` for an INTEGER bind; without it the driver
    # sends the value as the integer it is (int8 past 32 bits), and PostgreSQL compares it
    # with the column exactly.
    render_bind_cast = False


class Date(TypeDecorator[int]):
    """A date column (seconds since the epoch, UTC): INTEGER on both databases.

    A value compared with it takes this type. On PostgreSQL, which keeps INTEGER in 32 bits,
    a bound past that range (a date widened by a window: a commit of 2037 plus two years; a
    filter centuries away) cast to INTEGER made PostgreSQL refuse the statement; it is sent
    uncast instead and compared exactly, as SQLite (64 bits) compares it, so a commit stored
    at DATE_MAX is before "2100" on both. Nothing is processed per row on either."""

    impl = Integer
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[int]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(_UncastDate())
        return dialect.type_descriptor(Integer())


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# --- what the user registered -------------------------------------------------------------

mailing_lists = Table(
    "mailing_lists",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("created_at", Integer, nullable=False),
)

list_sources = Table(
    "list_sources",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("list_id", ForeignKey("mailing_lists.id"), nullable=False),
    Column("location", Text, nullable=False),
    Column("format", String(40), nullable=False),
    # Where the last update stopped (format-specific JSON): the next one starts there.
    Column("cursor", Text),
    Column("last_update", Integer),
    UniqueConstraint("list_id", "location"),
)

repos = Table(
    "repos",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("location", Text, nullable=False),
    # JSON list of branch names; empty means the repository's default branch.
    Column("branches", Text, nullable=False),
    # JSON {branch: last head sha ingested}.
    Column("cursor", Text),
    Column("last_update", Integer),
    Column("created_at", Integer, nullable=False),
    # Commits dated before this (committer date) may have been read without their diffs
    # (commits.diff_skipped; sources/gitrepo.py, match/horizon.py); None: none was.
    Column("horizon", Integer),
)

# --- mail ----------------------------------------------------------------------------------

messages = Table(
    "messages",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("message_id", Text, nullable=False, unique=True),
    # True when the mail had no Message-ID and this one was derived from its content.
    Column("synthetic_id", Boolean, nullable=False),
    Column("date_utc", Date),
    Column("date_offset", Integer),  # minutes east of UTC, as sent
    Column("date_source", String(10), nullable=False),  # header | archive | none
    Column("from_name", Text, nullable=False),
    Column("from_addr", Text, nullable=False),
    Column("to_addrs", Text, nullable=False),  # comma-separated addresses
    Column("cc_addrs", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("in_reply_to", Text),
    Column("refs", Text, nullable=False),  # space-separated Message-IDs, oldest first
    Column("list_id_header", Text),
    Column("body", CompressedText, nullable=False),  # decoded text, without the diff
    Column("has_patch", Boolean, nullable=False),
    Column("patch_kind", String(20)),  # inline | format-patch | attachment
    Column("diff", CompressedText),
    Column("content_hash", String(40), nullable=False),
    Column("raw", Compressed, nullable=False),
    Column("raw_size", Integer, nullable=False),
    Column("first_source_id", ForeignKey("list_sources.id"), nullable=False),
    Column("ingested_at", Integer, nullable=False),
    Index(None, "date_utc"),
    Index(None, "in_reply_to"),
    Index(None, "from_addr"),
    # A sender's messages from a date on: an update relinks a person's recent versions.
    Index(None, "from_addr", "date_utc"),
    # A sender's names and dates without reading the rows: an update recounts the people
    # who sent new mail (stages/metrics.py `_recounts`: 1 s -> 7 ms for a sender of 49k).
    Index(None, "from_addr", "from_name", "date_utc"),
)

# Where each message was seen: one row per (source, position); a message read from two
# archives, or twice in one, has several rows.
message_sightings = Table(
    "message_sightings",
    metadata,
    Column("message_pk", ForeignKey("messages.id"), nullable=False),
    Column("source_id", ForeignKey("list_sources.id"), nullable=False),
    Column("position", Text, nullable=False),
    Column("list_id", ForeignKey("mailing_lists.id"), nullable=False),
    UniqueConstraint("source_id", "position"),
    Index(None, "list_id", "message_pk"),
    Index(None, "message_pk"),
)

# A second message under a Message-ID already stored, whose content differs: kept whole.
message_variants = Table(
    "message_variants",
    metadata,
    Column("id", Integer, primary_key=True),
    # Indexed: deleting a message (remove-list) looks its variants up, and SQLite's foreign
    # key check scans the table (raw mail) once per message deleted without it.
    Column("message_pk", ForeignKey("messages.id"), nullable=False, index=True),
    Column("source_id", ForeignKey("list_sources.id"), nullable=False),
    Column("position", Text, nullable=False),
    Column("content_hash", String(40), nullable=False),
    Column("raw", Compressed, nullable=False),
    UniqueConstraint("source_id", "position"),
)

# What could not be parsed, raw, with the reason. Never dropped.
quarantine = Table(
    "quarantine",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("source_id", ForeignKey("list_sources.id"), nullable=False),
    Column("position", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("raw", Compressed, nullable=False),
    Column("created_at", Integer, nullable=False),
    UniqueConstraint("source_id", "position"),
)

# What an update could not read, per source: a whole source that failed (position '') or a
# part of one read around (file and offset, commit and object, file name), with the reason.
# Replaced each time the source is updated, so what a later run reads again disappears.
source_damage = Table(
    "source_damage",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("source_id", ForeignKey("list_sources.id")),  # a list source, or
    Column("repo_id", ForeignKey("repos.id")),  # a repository
    Column("position", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("seen_at", Integer, nullable=False),
    Index(None, "source_id"),
    Index(None, "repo_id"),
)

# --- git -----------------------------------------------------------------------------------

commits = Table(
    "commits",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("repo_id", ForeignKey("repos.id"), nullable=False),
    Column("sha", String(64), nullable=False),
    Column("parents", Text, nullable=False),  # space-separated
    Column("is_merge", Boolean, nullable=False),
    Column("author_name", Text, nullable=False),
    Column("author_email", Text, nullable=False),
    Column("author_date", Date, nullable=False),
    Column("author_offset", Integer, nullable=False),
    Column("committer_name", Text, nullable=False),
    Column("committer_email", Text, nullable=False),
    Column("committer_date", Date, nullable=False),
    Column("committer_offset", Integer, nullable=False),
    Column("subject", Text, nullable=False),
    Column("message", Text, nullable=False),
    Column("files_changed", Integer, nullable=False),
    Column("lines_added", Integer, nullable=False),
    Column("lines_removed", Integer, nullable=False),
    Column("patch_id", String(40)),
    Column("diff", CompressedText),
    # Read without its diff: committed far before every archived message (match/horizon.py),
    # so no stage needs it; patch_id and diff are NULL, line counts 0 (not counted), and
    # its files' names are git's --raw (renames included).
    Column("diff_skipped", Boolean, nullable=False, server_default=false()),
    UniqueConstraint("repo_id", "sha"),
    # Which commits are on the wrong side of the history horizon (stages/horizon.py), by
    # two range lookups on every update.
    Index(None, "repo_id", "diff_skipped", "committer_date"),
    Index(None, "patch_id"),
    Index(None, "committer_date"),
    Index(None, "sha"),  # the commit page: a commit by (a prefix of) its id, in any repository
)

commit_branches = Table(
    "commit_branches",
    metadata,
    Column("commit_pk", ForeignKey("commits.id"), nullable=False),
    Column("branch", Text, nullable=False),
    UniqueConstraint("commit_pk", "branch"),
)

commit_files = Table(
    "commit_files",
    metadata,
    Column("commit_pk", ForeignKey("commits.id"), nullable=False),
    Column("path", Text, nullable=False),
    Column("old_path", Text),
    Column("lines_added", Integer, nullable=False),
    Column("lines_removed", Integer, nullable=False),
    Column("binary", Boolean, nullable=False),
    UniqueConstraint("commit_pk", "path"),
    Index(None, "path"),
    Index(None, "old_path"),  # whether a series' files are in a repository (metrics)
)

commit_trailers = Table(
    "commit_trailers",
    metadata,
    Column("commit_pk", ForeignKey("commits.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("key", Text, nullable=False),  # canonical spelling, e.g. Reviewed-by
    Column("value", Text, nullable=False),
    Column("name", Text),
    Column("email", Text),
    UniqueConstraint("commit_pk", "seq"),
    Index(None, "key", "value"),
)

# --- review reconstruction ------------------------------------------------------------------
# Two kinds of tables. What depends only on a message's own content (message_analysis,
# message_trailers, message_notices) is computed once, when the message arrives. What depends
# on the other messages (threads, versions, series, replies) is recomputed in memory on every
# update and written back where it changed.

message_analysis = Table(
    "message_analysis",
    metadata,
    Column("message_pk", ForeignKey("messages.id"), primary_key=True),
    Column("is_reply", Boolean, nullable=False),
    Column("is_posting", Boolean, nullable=False),  # patch, cover letter or pull request
    Column("is_pull", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("version_str", String(20), nullable=False),
    Column("idx", Integer),
    Column("total", Integer),
    Column("flags", Text, nullable=False),  # space-separated: RFC RESEND PULL ...
    Column("prefixes", Text, nullable=False),  # JSON list
    Column("title", Text, nullable=False),
    Column("normalized_title", Text, nullable=False),
    Column("files", Text, nullable=False),  # JSON list of paths the diff touches
    # JSON list of the paths its renames and copies came from (NULL: written before them).
    Column("old_files", Text),
    Column("lines_added", Integer, nullable=False),
    Column("lines_removed", Integer, nullable=False),
    Column("patch_id", String(40)),
    Column("change_id", Text),
    Column("mentioned_ids", Text, nullable=False),  # JSON list of Message-IDs linked to
    # The patch's author when the body starts with "From: ..." (someone sending another's
    # patch); NULL when the sender is the author.
    Column("author_name", Text),
    Column("author_addr", Text),
    Column("lines_written", Integer, nullable=False),
    Column("lines_quoted", Integer, nullable=False),
    Column("first_line", Text),
    # review/analysis.py ANALYSIS_VERSION of the code that wrote the row: `update` redoes rows
    # written by an older version, so an improved parser reaches existing stores.
    Column("analysis_version", Integer, nullable=False, server_default="1"),
    # What a posting says it needs (review/dependencies.py): JSON [[kind, value, label], ...].
    Column("prerequisites", Text, nullable=False, server_default="[]"),
    Index(None, "patch_id"),
    # A prerequisite named by change-id is looked up by it (stages/prerequisites.py): without
    # the index every version member of the store is read (migration 0021).
    Index(None, "change_id"),
    # The postings a pull request lists by subject (stages/pulled.py series_listed):
    # postings only, a partial index (migration 0028).
    Index(
        "ix_message_analysis_posting_title",
        "normalized_title",
        sqlite_where=text("is_posting = 1"),
        postgresql_where=text("is_posting"),
    ),
)

# Trailers in a message: `given` ones a reply hands out, or `carried` ones a posting has.
message_trailers = Table(
    "message_trailers",
    metadata,
    Column("message_pk", ForeignKey("messages.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("given", Boolean, nullable=False),
    Column("key", Text, nullable=False),
    Column("value", Text, nullable=False),
    Column("name", Text),
    Column("email", Text),
    UniqueConstraint("message_pk", "seq"),
    Index(None, "key"),
)

message_notices = Table(
    "message_notices",
    metadata,
    Column("message_pk", ForeignKey("messages.id"), nullable=False),
    # applied | committed | pushed | queued | merged | picked
    Column("kind", String(20), nullable=False),
    Column("tree", Text, nullable=True),  # where the notice says the patches went, if it says
    # Which patches it says were taken: whole | some | first:N | last:N | patches:1,3 | NULL
    # when it does not say (mail/replytext.py notice_scope).
    Column("scope", Text, nullable=True),
    # Said by its verb alone, with no object ("Pushed.", "Pushed, thanks", "Pushed with minor
    # changes"): an author's bare "pushed" is a maintainer pushing their own series
    # (metrics/backlog.py). NULL in rows analysed before revision 0030.
    Column("bare", Boolean, nullable=True),
    UniqueConstraint("message_pk", "kind"),
)

# The commit hashes a reply names as what fixed or replaced the patch it answers ("This was
# already fixed by commit 1234567890ab": mail/fixedby.py), as written (7 to 64 hex digits).
# A series is "fixed elsewhere" when one names a commit of a registered repository.
message_fixes = Table(
    "message_fixes",
    metadata,
    Column("message_pk", ForeignKey("messages.id"), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("message_pk", "hash"),
    Index(None, "hash"),
)

message_threads = Table(
    "message_threads",
    metadata,
    Column("message_pk", ForeignKey("messages.id"), primary_key=True),
    Column("thread_key", Text, nullable=False),  # the root's Message-ID
    Column("parent_id", Text),
    Column("depth", Integer, nullable=False),
    Column("by_subject", Boolean, nullable=False),
    Index(None, "thread_key"),
)

series = Table(
    "series",
    metadata,
    Column("key", Text, primary_key=True),  # Message-ID anchoring the first version
    Column("title", Text, nullable=False),  # of the latest version
    Column("author_name", Text, nullable=False),
    Column("author_addr", Text, nullable=False),
    Column("n_versions", Integer, nullable=False),
    Column("latest_version_key", Text, nullable=False),
    Column("first_date", Date, nullable=False),
    Column("last_date", Date, nullable=False),  # of the last message in any version
    Index(None, "author_addr"),
    Index(None, "first_date"),
)

series_versions = Table(
    "series_versions",
    metadata,
    Column("key", Text, primary_key=True),  # Message-ID of the cover letter or first patch
    Column("series_key", Text, nullable=False),
    Column("seq", Integer, nullable=False),  # 1 for the first version of its series
    Column("version", Integer, nullable=False),
    Column("version_str", String(20), nullable=False),
    Column("rfc", Boolean, nullable=False),
    Column("resend", Boolean, nullable=False),
    Column("pull", Boolean, nullable=False),
    Column("backport", Boolean, nullable=False),
    Column("partial", Boolean, nullable=False),
    Column("title", Text, nullable=False),
    Column("author_name", Text, nullable=False),
    Column("author_addr", Text, nullable=False),
    Column("total", Integer),
    Column("n_patches", Integer, nullable=False),
    Column("missing", Text, nullable=False),  # JSON list of absent indexes
    Column("thread_key", Text, nullable=False),
    Column("date", Date, nullable=False),
    Column("cover_pk", Integer),
    Column("rerolls_key", Text),  # a partial re-roll: the version whose patches it replaces
    Column("prev_key", Text),
    Column("link_score", Float),
    Column("link_evidence", Text),  # JSON {evidence: weight}
    # Posted after it was committed ("[COMMITTED] [PATCH]"): review/model.is_committed_posting.
    Column("committed", Boolean, nullable=False, server_default=false()),
    Index(None, "author_addr"),  # a person's versions, for incremental linking
    Index(None, "author_addr", "date"),  # ... from a date on
    Index(None, "series_key"),
    Index(None, "date"),
    # Covering: each series' first author and date without reading the rows (the metrics'
    # new-contributor rule, queries/evidence.py first_dates).
    Index(None, "series_key", "seq", "date", "author_name", "author_addr"),
)

# What linking compares of each version (review.versions.Features, as a linker keeps them),
# written with series_versions and kept in step with it: an update that relinks a person's
# recent versions reads one row per version here instead of every member mail, its analysis
# and its diff's fingerprint (stages/review_incremental.py). Lists are JSON, sorted.
link_features = Table(
    "link_features",
    metadata,
    Column("key", Text, primary_key=True),  # series_versions.key
    Column("normalized_title", Text, nullable=False),
    Column("message_ids", Text, nullable=False),
    Column("change_ids", Text, nullable=False),
    Column("patch_titles", Text, nullable=False),
    Column("files", Text, nullable=False),
    Column("hashes", LargeBinary, nullable=False),  # as diff_fingerprints.hashes
    Column("patches", Integer, nullable=False),
)

# Postings of a version: idx 0 is the cover letter.
version_members = Table(
    "version_members",
    metadata,
    Column("message_pk", ForeignKey("messages.id"), primary_key=True),
    Column("version_key", Text, nullable=False),
    Column("idx", Integer, nullable=False),
    Index(None, "version_key"),
)

replies = Table(
    "replies",
    metadata,
    Column("message_pk", ForeignKey("messages.id"), primary_key=True),
    Column("version_key", Text, nullable=False),
    Column("addressed_pk", Integer, nullable=False),  # the posting it answers
    Column("addressed_idx", Integer, nullable=False),  # 0: the cover letter
    Column("is_author", Boolean, nullable=False),
    Column("is_bot", Boolean, nullable=False),
    Index(None, "version_key"),
)

# --- matching postings to commits ---------------------------------------------------------
# Fingerprints of a diff: the sorted, de-duplicated 32-bit hashes of its changed lines with
# white space removed (see mail/fingerprint.py), packed as bytes. Kept per posting and per
# commit so that matching never re-reads diffs.

diff_fingerprints = Table(
    "diff_fingerprints",
    metadata,
    Column("kind", String(1), primary_key=True),  # m: a message, c: a commit
    Column("pk", Integer, primary_key=True),
    Column("hashes", LargeBinary, nullable=False),
    # stages/match.py FINGERPRINT_VERSION of the code that computed it (redone when older).
    Column("fp_version", Integer, nullable=False, server_default="1"),
)

# The commit each posted patch became: one row per commit at most, and per posting.
patch_commits = Table(
    "patch_commits",
    metadata,
    Column("message_pk", ForeignKey("messages.id"), nullable=False),
    Column("commit_pk", ForeignKey("commits.id"), nullable=False),
    Column("repo_id", ForeignKey("repos.id"), nullable=False),
    Column("method", String(20), nullable=False),  # pointer | patch-id | subject | diff
    Column("score", Float, nullable=False),
    Column("evidence", Text, nullable=False),  # JSON
    # Another posting was (nearly) as likely: shown, but not counted as merged.
    Column("ambiguous", Boolean, nullable=False),
    UniqueConstraint("commit_pk"),
    Index(None, "message_pk"),
)

# --- metrics ----------------------------------------------------------------------------------
# One row per series, recomputed on update (docs/METRICS.md). The state-deciding facts are
# stored, not the state: a state depends on the day it is asked (stale, abandoned).

series_metrics = Table(
    "series_metrics",
    metadata,
    Column("series_key", Text, primary_key=True),
    Column("title", Text, nullable=False),
    Column("author", Text, nullable=False),  # identity key
    Column("author_addr", Text, nullable=False),
    Column("org", Text, nullable=False),
    Column("new_contributor", Boolean, nullable=False),
    Column("in_repo", Boolean, nullable=False),  # touches files of a registered repository
    Column("subsystems", Text, nullable=False),  # JSON list of MAINTAINERS section titles
    Column("unanswered_by_subsystem", Boolean),  # NULL: no subsystem known
    Column("first_date", Date, nullable=False),
    Column("last_date", Date, nullable=False),  # last posting or reply
    Column("versions", Integer, nullable=False),
    Column("patches", Integer, nullable=False),
    Column("lines_added", Integer, nullable=False),
    Column("lines_removed", Integer, nullable=False),
    Column("files_changed", Integer, nullable=False),
    Column("review_replies", Integer, nullable=False),
    Column("reviewer_lines", Integer, nullable=False),
    Column("reviewers", Integer, nullable=False),
    Column("reviews", Integer, nullable=False),
    Column("comments_after_first_ack", Integer, nullable=False),
    Column("merged_patches", Integer, nullable=False),
    Column("time_to_first_response", Float),  # hours
    Column("time_to_first_review", Float),
    Column("time_to_first_comment", Float),
    Column("time_to_merge", Float),
    Column("time_to_commit", Float),
    Column("rework_time", Float),
    Column("cycle_time", Float),
    Column("anomalies", Text, nullable=False),  # JSON list
    # The facts that decide the state today (see metrics/backlog.py).
    Column("merged", String(10), nullable=False),  # none | partly | fully
    Column("nearly_complete", Boolean, nullable=False),
    Column("has_reviewer_reply", Boolean, nullable=False),
    Column("reviewer_spoke_last", Boolean, nullable=False),
    # commit | notice | NULL: what shows the merge (docs/METRICS.md, "Merge evidence").
    Column("merged_by", String(10), nullable=True),
    # The notice a merge by notice rests on: JSON {message_id, who (an identity), date (ISO 8601,
    # UTC), kind, tree}.
    Column("merge_evidence", Text, nullable=True),
    # False when no repository is registered at all: a merge can then be seen only by notice.
    Column("repo_registered", Boolean, nullable=False, server_default=true()),
    # Every version's title and every patch subject, casefolded: what a search matches.
    Column("search_text", Text, nullable=False, server_default=""),
    # Who MAINTAINERS named for the touched files when the series was posted: JSON
    # {identity: "maintainer" | "reviewer"} (metrics/roles.py); {} without MAINTAINERS.
    Column("expected_roles", Text, nullable=False, server_default="{}"),
    # The first response from anyone but the author (bots included): its role and sender,
    # and each role's first response in hours (docs/METRICS.md, "by role").
    Column("first_response_role", String(12), nullable=True),
    Column("first_responder", Text, nullable=True),
    Column("time_to_first_response_maintainer", Float),
    Column("time_to_first_response_reviewer", Float),
    Column("time_to_first_response_other", Float),
    Column("time_to_first_response_bot", Float),
    # Blocked by a prerequisite series (metrics/backlog.py) until this date: the last one's
    # merge, or BLOCKED_FOREVER while one is not merged; NULL when it names none in the store.
    Column("blocked_until", BigInteger, nullable=True),
    # Fixed elsewhere (metrics/backlog.py): the date of the first reply to its latest version
    # that names a commit of a registered repository as what fixed or replaced it, and that
    # evidence as JSON (commit, subject, message_id, sender, date); NULL when none does.
    Column("fixed_at", BigInteger, nullable=True),
    Column("fixed_by", Text, nullable=True),
    # What other series' time-to-merge features read of this one (metrics/prediction_
    # features.py SeriesRecord, with author, first_date and subsystems above): JSON list of
    # the dates of its postings and replies, and JSON [[date, 0|1], ...] of the dates its
    # "fully merged" turned on or off.
    Column("event_dates", Text, nullable=False, server_default="[]"),
    Column("merge_changes", Text, nullable=False, server_default="[]"),
    # The series' own time-to-merge features at each landmark (metrics/prediction_features.py
    # `stored_landmarks`): what a refit reads instead of the series' facts.
    Column("landmark_features", Text),
    Index(None, "first_date"),
    Index(None, "author"),
    Index(None, "org"),
    # Covering: the new-contributor flags checked without reading the rows; and the few
    # series outside every repository, which a new commit's paths may bring in.
    Index(None, "author", "first_date", "new_contributor", "series_key"),
    Index(None, "in_repo"),
)

# The time-to-merge model `update` fitted at the start of the data's last ISO week (stages/
# prediction.py, docs/PREDICTION.md): one row; pages read it and never fit.
prediction_model = Table(
    "prediction_model",
    metadata,
    Column("cut", BigInteger, primary_key=True),  # Monday 00:00 UTC: trained on what was before
    Column("model", Text, nullable=True),  # JSON of the fitted model; NULL: too few merges
    Column("series", Integer, nullable=False),  # training series
    Column("points", Integer, nullable=False),  # their prediction points
    Column("merges", Integer, nullable=False),  # of those, merged by the cut
    Column("corpus", Integer, nullable=False),  # series whose merge can be seen, before the cut
    Column("train_days", Integer, nullable=False),
    Column("max_train", Integer, nullable=False),
)

# The prerequisites a series' postings name (Depends-on:, Based-on:, prerequisite-*:,
# base-commit:), each resolved where the store can to the series holding the named posting,
# patch-id or change-id (prereq_key); a commit is resolved when a page asks (commits come and
# go without owing the metrics anything). Rewritten with the series' metrics; a change in a
# prerequisite series owes its dependents (by prereq_key, or by value when it was not
# resolved yet).
series_prerequisites = Table(
    "series_prerequisites",
    metadata,
    Column("series_key", Text, primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("kind", String(20), nullable=False),  # message-id | patch-id | change-id | commit
    Column("value", Text, nullable=False),
    Column("label", Text, nullable=False),  # the line's name as written (Depends-on, ...)
    Column("prereq_key", Text, nullable=True),
    Index(None, "prereq_key"),
    Index(None, "kind", "value"),
)

# What each pull request lists (stages/pulled.py item_rows): the normalised subject of
# each commit of its letter's shortlog, and the Message-ID each of its patches points back to
# (Message-ID:, Link:). A series' facts read the items naming its patches (queries/
# evidence.py): a patch a later pull request lists was taken by the maintainer who sent it.
# A tree robot's note ('patch "x" added to usb-testing', mail/treenote.py) lists its one
# patch the same way, keyed by the note's Message-ID (stages/pulled.py note_rows).
pull_items = Table(
    "pull_items",
    metadata,
    # The pull request's series key, or a tree robot's note's Message-ID.
    Column("pull_key", Text, nullable=False),
    Column("kind", String(10), nullable=False),  # subject | message
    Column("value", Text, nullable=False),
    Column("date", Date, nullable=False),  # when the pull request was first sent
    Column("sender_name", Text, nullable=False),
    Column("sender_addr", Text, nullable=False),
    # The commit's author as the shortlog names it, "" for a Message-ID: a subject names a
    # posting of that author only (mail/shortlog.py spelling_keys compares the names).
    Column("author", Text, nullable=False, server_default=""),
    UniqueConstraint("pull_key", "kind", "value"),
    Index(None, "value"),
)

# Pull requests ([GIT PULL], [PULL]) are not series to review: kept apart, with the merged
# state their notices give (pr-tracker-bot's "has been merged into ...", "Applied, thanks").
pull_requests = Table(
    "pull_requests",
    metadata,
    Column("series_key", Text, primary_key=True),
    Column("title", Text, nullable=False),
    Column("author", Text, nullable=False),
    Column("author_addr", Text, nullable=False),
    Column("first_date", Date, nullable=False),
    Column("last_date", Date, nullable=False),
    Column("versions", Integer, nullable=False),
    Column("replies", Integer, nullable=False),
    Column("merged_by", String(10), nullable=True),  # notice | NULL
    Column("merged_date", Date, nullable=True),
    Column("merge_evidence", Text, nullable=True),
    Index(None, "first_date"),
)

# What each stage after ingest last ran on (see context.inputs_digest): a stage whose inputs
# are unchanged is skipped.
stage_state = Table(
    "stage_state",
    metadata,
    Column("stage", String(40), primary_key=True),
    Column("inputs", Text, nullable=False),
    Column("finished_at", Integer, nullable=False),
)
# The stage_state row where `update` records the inputs digest of its last finished run
# (stages/pipeline.py): what the data version of the pages is read from
# (queries/selection.py::data_version).
PIPELINE_DIGEST = "review+match+metrics"
# The stage_state row where the metrics stage keeps the dates of the MAINTAINERS versions it
# computed with (stages/metrics.py writes it; queries/prediction.py reads it), as JSON: each
# "repository:date" (a repository's own file), or a bare date (the configured file, or a
# store written before each repository's file was read apart).
MAINTAINERS_SEEN = "metrics-maintainers"


def maintainers_seen(key: object) -> tuple[str, int]:
    """(repository, date) of an item of the MAINTAINERS_SEEN row ("" for a bare date)."""
    repo, _, date = str(key).rpartition(":")
    return repo, int(date)


# The stage_state row where the metrics stage keeps the MAINTAINERS entries it looked up as
# identities, as JSON [[address, name, identity], ...] (stages/maintainer_people.py writes
# it; queries/queue.py reads it to find the queue of an address nobody sent from).
MAINTAINER_IDENTITIES = "metrics-maintainer-identities"
# The stage_state row where the metrics stage keeps each relay's address (one that sent
# others' mail under their names, identity/people.py) with its owner's identity, as JSON
# {address: identity}: the people rows list a relay's address for everyone it sent for, and
# a lookup by address (queries/queue.py, queries/conformance.py) gives it to its owner.
RELAY_OWNERS = "metrics-relay-owners"
# Whether a repository was registered when the metrics were last computed ("1"/"0"): each
# series' `repo_registered` says it too, but is false for a series without a diff.
METRICS_REGISTERED = "metrics-repo-registered"

# Work a step owes its successors, written in the same transaction as the rows that caused it
# (stages/changes.py): "full", "series:<key>", "posting:<message pk>", "message:<pk>". A step
# reads its items, redoes what they name, and deletes them in its own transaction, so an update
# interrupted anywhere resumes exactly where it stopped.
pending_work = Table(
    "pending_work",
    metadata,
    Column("stage", String(40), primary_key=True),
    Column("item", Text, primary_key=True),
)

# Lookup keys of messages for the incremental closures (stages/closure.py): kind "r" for every
# Message-ID a message names or carries (its own, In-Reply-To, References), "t" for its
# normalised subject title; and "a" for each of its To:/Cc: addresses (stages/recipients.py:
# the series that named a person, queries/load.py). Stored as 64-bit hashes: a Message-ID is
# hostile input of any length, and a collision only widens a closure, never narrows it.
message_keys = Table(
    "message_keys",
    metadata,
    Column("kind", String(1), primary_key=True),
    Column("hash", BigInteger, primary_key=True),
    Column("message_pk", ForeignKey("messages.id"), primary_key=True),
    # A message's own keys (the closure walks from messages to keys and back): without it,
    # each lookup scans every key of its kind, a cost that grows with the store.
    Index(None, "message_pk", "kind", "hash"),
)

# Lookup keys of postings (side "m") and non-merge commits (side "c") for incremental
# matching (stages/matchclosure.py): kind "t" a normalised title, "k" its core (without
# subsystem prefixes), "f" a file path (for a commit, its earlier names too), "p" a Message-ID
# a commit's pointer trailers name. 64-bit hashes: a collision only widens the closure.
match_keys = Table(
    "match_keys",
    metadata,
    Column("side", String(1), primary_key=True),
    Column("kind", String(1), primary_key=True),
    Column("hash", BigInteger, primary_key=True),
    Column("pk", Integer, primary_key=True),
    # (pk, side), not pk alone: with no statistics SQLite would take the primary key's `side`
    # for "these postings' keys" and scan one whole side (migration 0020).
    Index(None, "pk", "side"),
)

# Who is running `update` on this store (one row, or none): what a second `update` prints
# while it waits. The lock itself is a file lock beside a SQLite store, or a session-scoped
# advisory lock on PostgreSQL, so a killed process never leaves it held (see store/lock.py).
update_lock = Table(
    "update_lock",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("pid", Integer, nullable=False),
    Column("host", Text, nullable=False),
    Column("started_at", Integer, nullable=False),
)

# Per reviewer reply: who (identity), for which series, when, from which organisation (by
# the address and date of that message), and what kind of review. The community views group
# these with SQL instead of re-reading every series.
review_events = Table(
    "review_events",
    metadata,
    Column("message_pk", ForeignKey("messages.id"), primary_key=True),
    Column("series_key", Text, nullable=False),
    Column("who", Text, nullable=False),
    Column("org", Text, nullable=False),
    Column("date", Date, nullable=False),
    Column("review", Boolean, nullable=False),  # gave Reviewed-by/Acked-by
    Column("substantive", Boolean, nullable=False),
    Column("lines_written", Integer, nullable=False),
    Index(None, "who"),
    Index(None, "org"),
    Index(None, "date"),
    Index(None, "series_key"),
)

# The title words of the versions linking considers (review.versions.Linker), counted per
# person over the whole store and kept in step with series_versions. A person's common words
# (those in many of their titles) weigh nothing in linking, counted over all their earlier
# versions; an update that relinks from a date starts from these totals, less the versions it
# re-reads, instead of reading the person's whole history (stages/linkwords.py).
linker_words = Table(
    "linker_words",
    metadata,
    Column("identity", Text, primary_key=True),
    Column("word", Text, primary_key=True),
    Column("versions", Integer, nullable=False),
)

linker_people = Table(
    "linker_people",
    metadata,
    Column("identity", Text, primary_key=True),
    Column("versions", Integer, nullable=False),
)

people = Table(
    "people",
    metadata,
    Column("identity", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("address", Text, nullable=False),  # the one used most
    Column("addresses", Text, nullable=False),  # JSON list
    Column("org", Text, nullable=False),  # of the most recent message
    Column("messages", Integer, nullable=False),
    Column("first_date", Date),
    Column("last_date", Date),
    Column("is_bot", Boolean, nullable=False),
)

# MAINTAINERS sections as the newest file has them (for the subsystem pages).
subsystems = Table(
    "subsystems",
    metadata,
    Column("title", Text, primary_key=True),
    Column("status", Text),
    Column("maintainers", Text, nullable=False),  # JSON [[name, email], ...]
    Column("reviewers", Text, nullable=False),
    Column("lists", Text, nullable=False),
    Column("files", Text, nullable=False),
    # The repository whose MAINTAINERS it is from (stages/pipeline.py newest_sections); NULL
    # for a file named in the settings, which serves every repository.
    Column("repo_id", Integer, nullable=True),
)
