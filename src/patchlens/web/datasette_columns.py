"""What every table and column of the store means, for readers of the SQLite file (datasette's
metadata, docs/DATASETTE.md). The source of truth next to store/schema.py: tests/
test_datasette.py fails when a table or column of the schema has no description here, or when
one here names a table or column the schema no longer has, so this cannot rot silently.

Dates are integers, seconds since the epoch (UTC); durations are hours. Columns stored
zstd-compressed (raw mail, bodies, diffs) are opaque blobs in SQLite: read them through
patchlens, not SQL. Definitions of the metrics are in docs/METRICS.md.
"""

from __future__ import annotations

EPOCH = "seconds since the epoch, UTC"
ZSTD = "zstd-compressed; an opaque blob to SQL (patchlens decompresses it)"

# Tables of patchlens' own bookkeeping: shown by datasette among the hidden tables only.
INTERNAL = frozenset(
    {
        "diff_fingerprints",
        "link_features",
        "linker_people",
        "linker_words",
        "match_keys",
        "message_keys",
        "pending_work",
        "stage_state",
        "update_lock",
        "alembic_version",
    }
)

# table -> (what one row is, {column: what it holds})
TABLES: dict[str, tuple[str, dict[str, str]]] = {
    "mailing_lists": (
        "A mailing list registered with `patchlens add-list`.",
        {
            "id": "row id (message_sightings.list_id points here)",
            "name": "the list's name as registered",
            "created_at": f"when it was registered ({EPOCH})",
        },
    ),
    "list_sources": (
        "Where a list's archive is read from (mbox, Maildir, public-inbox, ...).",
        {
            "id": "row id",
            "list_id": "the list (mailing_lists.id)",
            "location": "path or URL of the archive",
            "format": "archive format: mbox, maildir, public-inbox, ...",
            "cursor": "where the last update stopped (format-specific JSON)",
            "last_update": f"when it was last read ({EPOCH})",
        },
    ),
    "repos": (
        "A git repository registered with `patchlens add-repo`; merges are seen in it.",
        {
            "id": "row id",
            "name": "the repository's name as registered",
            "location": "path or URL of the repository",
            "branches": "JSON list of branch names read; empty: the default branch",
            "cursor": "JSON {branch: last head commit ingested}",
            "last_update": f"when it was last read ({EPOCH})",
            "created_at": f"when it was registered ({EPOCH})",
            "horizon": (
                f"commits dated before this ({EPOCH}) were read without their"
                " diffs (commits.diff_skipped); empty: every commit's diff was read"
            ),
        },
    ),
    "messages": (
        "One mail, as read from the archives (each Message-ID once).",
        {
            "id": "row id (message_pk elsewhere)",
            "message_id": "the Message-ID header, without angle brackets",
            "synthetic_id": "1 when the mail had no Message-ID and one was derived from it",
            "date_utc": f"the Date header ({EPOCH})",
            "date_offset": "the sender's time zone, minutes east of UTC",
            "date_source": "where the date came from: header, archive or none",
            "from_name": "the sender's display name",
            "from_addr": "the sender's address",
            "to_addrs": "To: addresses, comma-separated",
            "cc_addrs": "Cc: addresses, comma-separated",
            "subject": "the Subject header, decoded",
            "in_reply_to": "the In-Reply-To Message-ID",
            "refs": "References: Message-IDs, space-separated, oldest first",
            "list_id_header": "the List-Id header",
            "body": f"the decoded text without the diff ({ZSTD})",
            "has_patch": "1 when the mail carries a diff",
            "patch_kind": "how the diff is carried: inline, format-patch or attachment",
            "diff": f"the diff ({ZSTD})",
            "content_hash": "hash of the content, to tell a re-sent variant apart",
            "raw": f"the mail as received ({ZSTD})",
            "raw_size": "size of the raw mail in bytes",
            "first_source_id": "the archive it was first read from (list_sources.id)",
            "ingested_at": f"when it was stored ({EPOCH})",
        },
    ),
    "message_sightings": (
        "Where each message was seen: one row per archive and position; gives a message's lists.",
        {
            "message_pk": "the message (messages.id)",
            "source_id": "the archive (list_sources.id)",
            "position": "where in the archive (file and offset, blob, ...)",
            "list_id": "the list of that archive (mailing_lists.id)",
        },
    ),
    "message_variants": (
        "A second mail under a Message-ID already stored whose content differs, kept whole.",
        {
            "id": "row id",
            "message_pk": "the message stored first (messages.id)",
            "source_id": "the archive it came from (list_sources.id)",
            "position": "where in that archive",
            "content_hash": "hash of its content",
            "raw": f"the mail as received ({ZSTD})",
        },
    ),
    "quarantine": (
        "What could not be parsed as a mail, kept raw with the reason; never dropped.",
        {
            "id": "row id",
            "source_id": "the archive (list_sources.id)",
            "position": "where in the archive",
            "reason": "why it could not be read",
            "raw": f"the bytes as found ({ZSTD})",
            "created_at": f"when it was set aside ({EPOCH})",
        },
    ),
    "source_damage": (
        "What the last update of a source could not read (a whole source, or a part read "
        "around), with the reason.",
        {
            "id": "row id",
            "source_id": "the list archive, if a list's (list_sources.id)",
            "repo_id": "the repository, if a repository's (repos.id)",
            "position": "what part: file and offset, commit, file name; empty: all of it",
            "reason": "why it could not be read",
            "seen_at": f"when ({EPOCH})",
        },
    ),
    "commits": (
        "A commit of a registered repository.",
        {
            "id": "row id (commit_pk elsewhere)",
            "repo_id": "the repository (repos.id)",
            "sha": "the commit id",
            "parents": "parent commit ids, space-separated",
            "is_merge": "1 for a merge commit",
            "author_name": "the author's name",
            "author_email": "the author's address",
            "author_date": f"author date ({EPOCH})",
            "author_offset": "the author's time zone, minutes east of UTC",
            "committer_name": "the committer's name",
            "committer_email": "the committer's address",
            "committer_date": f"commit date ({EPOCH})",
            "committer_offset": "the committer's time zone, minutes east of UTC",
            "subject": "the first line of the commit message",
            "message": "the whole commit message",
            "files_changed": "number of files the commit changes",
            "lines_added": "lines added (0 and not counted when diff_skipped)",
            "lines_removed": "lines removed (0 and not counted when diff_skipped)",
            "patch_id": "`git patch-id --stable` of its diff (empty when diff_skipped)",
            "diff": f"the diff ({ZSTD}; empty when diff_skipped)",
            "diff_skipped": (
                "1 when its diff was not read: committed more than two years before every"
                " archived message, where no posting can be its (repos.horizon)"
            ),
        },
    ),
    "commit_branches": (
        "The branches a commit was read from.",
        {"commit_pk": "the commit (commits.id)", "branch": "a branch name"},
    ),
    "commit_files": (
        "A file a commit changes.",
        {
            "commit_pk": "the commit (commits.id)",
            "path": "the file's path after the commit",
            "old_path": "its path before, when renamed",
            "lines_added": "lines added to it (0 and not counted when its commit's diff_skipped)",
            "lines_removed": "lines removed from it (0 and not counted when diff_skipped)",
            "binary": "1 for a binary file (no line counts; 0 and not known when diff_skipped)",
        },
    ),
    "commit_trailers": (
        "Trailers of a commit message (Signed-off-by:, Reviewed-by:, Link:, ...).",
        {
            "commit_pk": "the commit (commits.id)",
            "seq": "position among the commit's trailers",
            "key": "the trailer, canonically spelt (Reviewed-by)",
            "value": "its value as written",
            "name": "the person's name, when the value is a person",
            "email": "the person's address, when the value is a person",
        },
    ),
    "message_analysis": (
        "What one mail is, from its own content: patch, cover letter, reply; its subject's "
        "fields; its diff's size.",
        {
            "message_pk": "the message (messages.id)",
            "is_reply": "1 when it answers another mail",
            "is_posting": "1 for a patch, cover letter or pull request",
            "is_pull": "1 for a pull request ([GIT PULL])",
            "version": "the version number of [PATCH vN] (1 when none)",
            "version_str": "the version as written (e.g. 3, 2.1)",
            "idx": "its index N of [PATCH N/M] (0: the cover letter)",
            "total": "M of [PATCH N/M]",
            "flags": "subject flags, space-separated: RFC RESEND PULL ...",
            "prefixes": "JSON list of the subject's bracketed prefixes",
            "title": "the subject without prefixes",
            "normalized_title": "the title normalised for matching",
            "files": "JSON list of the paths the diff touches",
            "old_files": "JSON list of the paths its renames and copies came from",
            "lines_added": "lines the diff adds",
            "lines_removed": "lines the diff removes",
            "patch_id": "`git patch-id --stable` of the diff",
            "change_id": "a Change-Id trailer, if any",
            "mentioned_ids": "JSON list of Message-IDs the mail links to",
            "author_name": "the patch's author from an in-body From: (NULL: the sender)",
            "author_addr": "that author's address (NULL: the sender)",
            "lines_written": "lines of the reply the sender wrote (not quoted)",
            "lines_quoted": "lines the reply quotes",
            "first_line": "the first line the sender wrote",
            "analysis_version": "version of the analysis code that wrote the row",
            "prerequisites": "JSON [[kind, value, label], ...] the posting says it needs",
        },
    ),
    "message_trailers": (
        "Trailers in a mail: those a reply gives (given=1) or a posting carries (given=0).",
        {
            "message_pk": "the message (messages.id)",
            "seq": "position among the mail's trailers",
            "given": "1: handed out by a reply; 0: carried by the posting",
            "key": "the trailer, canonically spelt (Reviewed-by)",
            "value": "its value as written",
            "name": "the person's name, when the value is a person",
            "email": "the person's address, when the value is a person",
        },
    ),
    "message_fixes": (
        "The commit hashes a reply names as what fixed or replaced the patch it answers ('This "
        "was already fixed by commit 1234567890ab'): a series is fixed elsewhere when one names "
        "a commit of a registered repository.",
        {
            "message_pk": "the reply (messages.id)",
            "hash": "the hash as written: 7 to 64 hex digits, the start of a commit's sha",
        },
    ),
    "message_notices": (
        "A reply saying patches were taken ('applied', 'committed', 'pushed', ...): merge "
        "evidence by notice.",
        {
            "message_pk": "the reply (messages.id)",
            "kind": "applied, committed, pushed, queued, merged or picked (up)",
            "tree": "the tree or branch the notice names, if it names one",
            "scope": "which patches it says were taken: whole, some, first:N, last:N, "
            "patches:1,3; empty when it does not say (then the patch it answers)",
            "bare": "1 when said by its verb alone ('Pushed, thanks.'): an author's bare "
            "'pushed' is a maintainer pushing their own series",
        },
    ),
    "message_threads": (
        "Each mail's place in its thread.",
        {
            "message_pk": "the message (messages.id)",
            "thread_key": "the Message-ID of the thread's root",
            "parent_id": "the Message-ID of the mail it answers",
            "depth": "0 for the root, 1 for its answers, ...",
            "by_subject": "1 when placed by subject (no usable In-Reply-To/References)",
        },
    ),
    "series": (
        "A patch series: all versions of one change (docs/METRICS.md, 'Series').",
        {
            "key": "the Message-ID anchoring its first version",
            "title": "the title of its latest version",
            "author_name": "the author's name",
            "author_addr": "the author's address",
            "n_versions": "number of versions posted",
            "latest_version_key": "the latest version (series_versions.key)",
            "first_date": f"when the first version was posted ({EPOCH})",
            "last_date": f"the last message in any version ({EPOCH})",
        },
    ),
    "series_versions": (
        "One posted version of a series (v1, v2, ...).",
        {
            "key": "the Message-ID of its cover letter or first patch",
            "series_key": "the series (series.key)",
            "seq": "1 for the series' first version, 2 for the next, ...",
            "version": "the version number posted",
            "version_str": "the version as written",
            "rfc": "1 for an RFC posting",
            "resend": "1 for a RESEND",
            "pull": "1 for a pull request",
            "backport": "1 for a backport to a stable tree",
            "committed": "1 for a patch posted after it was committed ([COMMITTED], [pushed])",
            "partial": (
                "1 for a partial re-roll (some patches of a version re-sent) or one patch"
                " split out of the version in force before it and sent alone: laid over it"
            ),
            "title": "its title",
            "author_name": "the author's name",
            "author_addr": "the author's address",
            "total": "patches announced (M of N/M)",
            "n_patches": "patches present",
            "missing": "JSON list of announced indexes that never arrived",
            "thread_key": "the thread it was posted in (message_threads.thread_key)",
            "date": f"when it was posted ({EPOCH})",
            "cover_pk": "its cover letter (messages.id), if any",
            "rerolls_key": "for a partial re-roll: the version whose patches it replaces",
            "prev_key": "the previous version (series_versions.key)",
            "link_score": "how sure the link to the previous version is (0-1)",
            "link_evidence": "JSON {evidence: weight} of that link",
        },
    ),
    "version_members": (
        "The postings of a version: idx 0 is the cover letter.",
        {
            "message_pk": "the posting (messages.id)",
            "version_key": "the version (series_versions.key)",
            "idx": "its index in the version (0: cover letter)",
        },
    ),
    "replies": (
        "A reply to a version's posting.",
        {
            "message_pk": "the reply (messages.id)",
            "version_key": "the version answered (series_versions.key)",
            "addressed_pk": "the posting it answers (messages.id)",
            "addressed_idx": "that posting's index (0: the cover letter)",
            "is_author": "1 when the series' author wrote it",
            "is_bot": "1 when a bot sent it",
        },
    ),
    "diff_fingerprints": (
        "Internal: hashes of the changed lines of each posting and commit, for matching.",
        {
            "kind": "m: a message, c: a commit",
            "pk": "messages.id or commits.id",
            "hashes": "sorted 32-bit hashes of changed lines, packed",
            "fp_version": "version of the code that computed them",
        },
    ),
    "patch_commits": (
        "The commit a posted patch became (docs/METRICS.md, 'Matching').",
        {
            "message_pk": "the patch (messages.id)",
            "commit_pk": "the commit (commits.id)",
            "repo_id": "its repository (repos.id)",
            "method": "how it was found: pointer, patch-id, subject or diff",
            "score": "how sure the match is (0-1)",
            "evidence": "JSON of what the match rests on",
            "ambiguous": "1 when another posting was (nearly) as likely: not counted as merged",
        },
    ),
    "series_metrics": (
        "One row per series with its metrics and the facts its state is decided from "
        "(docs/METRICS.md). The state itself depends on the day asked: see the canned "
        "queries and the series_states table of `patchlens datasette`.",
        {
            "series_key": "the series (series.key)",
            "title": "its title",
            "author": "the author's identity (people.identity)",
            "author_addr": "the author's address",
            "org": "the author's organisation when posting",
            "new_contributor": "1 when the author had no earlier series and is no robot",
            "in_repo": "1 when it touches files of a registered repository",
            "subsystems": "JSON list of MAINTAINERS sections it touches",
            "unanswered_by_subsystem": "1 when no maintainer or reviewer of its sections "
            "answered (NULL: no section known)",
            "first_date": f"first posting ({EPOCH})",
            "last_date": f"last posting or reply ({EPOCH})",
            "versions": "versions posted",
            "patches": "patches in the latest version",
            "lines_added": "lines added by the latest version",
            "lines_removed": "lines removed by the latest version",
            "files_changed": "files the latest version touches",
            "review_replies": "replies from others than the author and bots",
            "reviewer_lines": "lines those replies wrote (not quoted)",
            "reviewers": "distinct people who sent a reviewer reply",
            "reviews": "Reviewed-by/Acked-by trailers given",
            "comments_after_first_ack": "reviewer replies after the first Acked/Reviewed-by",
            "merged_patches": "patches linked to a commit",
            "time_to_first_response": "hours from posting to the first reply by someone else",
            "time_to_first_review": "hours to the first Reviewed-by/Acked-by",
            "time_to_first_comment": "hours to the first reviewer reply with written text",
            "time_to_merge": "hours from first posting to the merge",
            "time_to_commit": "hours from the merged version's posting to the commit",
            "rework_time": "hours between versions, summed",
            "cycle_time": "hours from first posting to the last activity",
            "anomalies": "JSON list of oddities found (missing patches, dates, ...)",
            "merged": "state fact: none, partly or fully merged",
            "nearly_complete": "state fact: every patch of the current version reviewed",
            "has_reviewer_reply": "state fact: a reviewer has replied",
            "reviewer_spoke_last": "state fact: a reviewer, not the author, spoke last",
            "merged_by": "what shows the merge: commit, notice, or NULL",
            "merge_evidence": (
                "JSON of the notice a merge by notice rests on: message_id, who (an identity),"
                " date (ISO 8601, UTC), kind, tree; and under through, the patches merged"
                " through another series' posting of the same patch (the same diff, or the"
                " same title with a file in common) or of a larger change holding it:"
                " [[patch, posting], ...] (Message-IDs)"
            ),
            "repo_registered": (
                "0 when no repository could show its merge (merges seen by notice only): none"
                " is registered, or the series has no diff (a question, a cover letter alone,"
                " a patch whose diff could not be read)"
            ),
            "search_text": "every title and patch subject, casefolded: what a search matches",
            "expected_roles": "JSON {identity: maintainer|reviewer} from MAINTAINERS at posting",
            "first_response_role": "role of the first responder: maintainer, reviewer, other, bot",
            "first_responder": "identity of the first responder",
            "time_to_first_response_maintainer": "hours to the first maintainer's response",
            "time_to_first_response_reviewer": "hours to the first designated reviewer's",
            "time_to_first_response_other": "hours to the first response of anyone else",
            "time_to_first_response_bot": "hours to the first bot's response",
            "blocked_until": f"blocked by a prerequisite series until then ({EPOCH}; "
            "2^62: while one is not merged)",
            "fixed_at": f"fixed elsewhere from then ({EPOCH}): the date of the first reply to "
            "its latest version naming a commit of a registered repository as what fixed or "
            "replaced it; empty when none does",
            "fixed_by": "JSON: that reply (message_id, who, date) and the commits it names "
            "([sha, subject] each)",
            "event_dates": f"JSON list of the dates of its postings and replies ({EPOCH}): "
            "what other series' time-to-merge estimates read (docs/PREDICTION.md)",
            "merge_changes": "JSON [[date, 1|0], ...]: when it became fully merged, or not",
            "landmark_features": "JSON: per landmark (0, 7 and 30 days after its first posting), "
            "its own time-to-merge features then, or null (docs/PREDICTION.md)",
        },
    ),
    "prediction_model": (
        "The time-to-merge model `update` fitted at the start of the data's last week "
        "(docs/PREDICTION.md); one row, none in a store without a registered repository "
        "(no open series can be seen merged there).",
        {
            "cut": f"Monday 00:00 UTC it was fitted at, on what was known before ({EPOCH})",
            "model": "JSON of the fitted model (features, weights, scaling); NULL: too few merges",
            "series": "series it was trained on",
            "points": "their prediction points (0, 7, 30 days after posting, while open)",
            "merges": "of those points, merged by the cut",
            "corpus": "series whose merge can be seen, posted before the cut",
            "train_days": "days before the cut the training points were taken from",
            "max_train": "most series trained on (an even sample when the window holds more)",
        },
    ),
    "series_prerequisites": (
        "What a series' postings say they need (Depends-on:, Based-on:, base-commit:, ...).",
        {
            "series_key": "the series (series.key)",
            "seq": "position among its prerequisites",
            "kind": "message-id, patch-id, change-id or commit",
            "value": "the value named",
            "label": "the line's name as written (Depends-on, ...)",
            "prereq_key": "the series holding it, when the store has it (series.key)",
        },
    ),
    "pull_items": (
        "What each pull request lists: the subjects of its letter's shortlog and the "
        "Message-IDs its patches point back to. A patch a later pull request lists was taken "
        "by its sender (merge evidence 'pull request'). A tree robot's note ('patch \"x\" "
        "added to usb-testing') lists its one patch so, and GitHub's notification of a push "
        "to the main branch its commits (merge evidence 'applied', the branch or repository "
        "the tree).",
        {
            "pull_key": "the pull request (pull_requests.series_key), or the robot's note "
            "(messages.message_id)",
            "kind": "subject (a commit of its shortlog) or message (a posting its patch names)",
            "value": "the normalised subject, or the Message-ID",
            "date": f"when the pull request was first sent ({EPOCH})",
            "sender_name": "its sender's name",
            "sender_addr": "its sender's address",
            "author": "the commit's author as the shortlog names it; empty for a Message-ID",
        },
    ),
    "pull_requests": (
        "Pull requests ([GIT PULL]): kept apart from series, with their merge by notice.",
        {
            "series_key": "the Message-ID of the first posting",
            "title": "its title",
            "author": "the sender's identity (people.identity)",
            "author_addr": "the sender's address",
            "first_date": f"first posting ({EPOCH})",
            "last_date": f"last message ({EPOCH})",
            "versions": "times it was posted",
            "replies": "replies to it",
            "merged_by": "notice when a notice says it was merged, else NULL",
            "merged_date": f"that notice's date ({EPOCH})",
            "merge_evidence": "JSON of that notice",
        },
    ),
    "stage_state": (
        "Internal: what each stage of `update` last ran on.",
        {
            "stage": "the stage's name",
            "inputs": "digest of its inputs",
            "finished_at": f"when it finished ({EPOCH})",
        },
    ),
    "pending_work": (
        "Internal: work an interrupted update still owes.",
        {"stage": "the stage that owes it", "item": "what to redo (full, series:<key>, ...)"},
    ),
    "message_keys": (
        "Internal: hashed lookup keys of messages for incremental updates and for finding "
        "the messages that named a person.",
        {
            "kind": "r: a Message-ID named, t: a normalised title, a: a To:/Cc: address",
            "hash": "64-bit hash of the key",
            "message_pk": "the message (messages.id)",
        },
    ),
    "match_keys": (
        "Internal: hashed lookup keys of postings and commits for incremental matching.",
        {
            "side": "m: a posting, c: a commit",
            "kind": "t: title, k: title core, f: file path, p: pointed Message-ID",
            "hash": "64-bit hash of the key",
            "pk": "messages.id or commits.id",
        },
    ),
    "update_lock": (
        "Internal: who is running `update` now (one row or none).",
        {
            "id": "row id",
            "pid": "process id",
            "host": "host name",
            "started_at": f"when it started ({EPOCH})",
        },
    ),
    "review_events": (
        "One reviewer reply: a reply from anyone but the series' author and bots.",
        {
            "message_pk": "the reply (messages.id)",
            "series_key": "the series answered (series.key)",
            "who": "the reviewer's identity (people.identity)",
            "org": "their organisation when they sent it",
            "date": f"when ({EPOCH})",
            "review": "1 when it gave Reviewed-by/Acked-by",
            "substantive": "1 when it wrote text of its own, not only a trailer",
            "lines_written": "lines it wrote (not quoted)",
        },
    ),
    "linker_words": (
        "Internal: title words per person, for linking versions.",
        {
            "identity": "the person (people.identity)",
            "word": "a title word",
            "versions": "their versions with that word",
        },
    ),
    "link_features": (
        "Internal: what linking compares of a version, kept with it for incremental linking.",
        {
            "key": "the version (series_versions.key)",
            "normalized_title": "its title as linking compares titles",
            "message_ids": "JSON list of its members' Message-IDs",
            "change_ids": "JSON list of its members' change-ids",
            "patch_titles": "JSON list of its patches' normalised titles",
            "files": "JSON list of the files its patches change",
            "hashes": "its changed lines' hashes, packed (as diff_fingerprints.hashes)",
            "patches": "the number of its patches",
        },
    ),
    "linker_people": (
        "Internal: versions per person, for linking versions.",
        {"identity": "the person (people.identity)", "versions": "their versions counted"},
    ),
    "people": (
        "A person: every address of theirs merged into one identity (mailmaps, names).",
        {
            "identity": "the identity key used everywhere else",
            "name": "their name",
            "address": "the address they used most",
            "addresses": "JSON list of all their addresses",
            "org": "organisation of their most recent message",
            "messages": "messages they sent",
            "first_date": f"their first message ({EPOCH})",
            "last_date": f"their last message ({EPOCH})",
            "is_bot": "1 when every message this person sent is a bot's",
        },
    ),
    "alembic_version": (
        "Internal: the store's schema revision (Alembic; store/migrations).",
        {"version_num": "the revision applied last"},
    ),
    "subsystems": (
        "MAINTAINERS sections as the newest MAINTAINERS file has them.",
        {
            "title": "the section's title",
            "status": "its S: line (Supported, Maintained, ...)",
            "maintainers": "JSON [[name, email], ...] of its M: lines",
            "reviewers": "JSON [[name, email], ...] of its R: lines",
            "lists": "JSON list of its L: lists",
            "files": "JSON list of its F: patterns",
            "repo_id": "the repository whose MAINTAINERS file it is from (repos.id); empty for "
            "a file named in the settings, which serves every repository",
        },
    ),
}
