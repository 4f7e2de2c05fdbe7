"""Every term the dashboard shows, defined once: the glossary page (/glossary), its JSON
(/api/glossary), the links from table heads, state badges and method labels, and the
generated glossary of docs/METRICS.md all come from here.

Definitions are plain text (escaped like everything else when shown). Each term has an
anchor; `gl(anchor)` is the link a template puts on a term, and fails on an anchor that does
not exist, so a template cannot link to a definition nobody wrote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from patchlens.match.matcher import RANK
from patchlens.metrics.bootstrap import RESAMPLES
from patchlens.metrics.distributions import DURATIONS
from patchlens.metrics.findings import DEFAULT_DAYS, MIN_SERIES


@dataclass(frozen=True)
class Term:
    anchor: str
    term: str
    text: str


@dataclass(frozen=True)
class Section:
    anchor: str
    title: str
    terms: tuple[Term, ...]


def slug(name: str) -> str:
    """'waiting on author' -> 'waiting-on-author', 'time_to_merge' -> 'time-to-merge'."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def state_anchor(state: str) -> str:
    return f"state-{slug(state)}"


def method_anchor(method: str) -> str:
    return f"method-{slug(method)}"


def duration_anchor(metric: str) -> str:
    return f"duration-{slug(metric)}"


def _term(term: str, text: str) -> Term:
    """A term whose anchor is its own slug: 'new contributor' is /glossary#new-contributor."""
    return Term(slug(term), term, text)


# Each state's definition, in the order states are decided.
_STATE_TEXT = {
    "merged": (
        "The series went in: every patch of its current version is linked to a commit of a "
        "registered repository (merged by commit; see matching methods), or, when no patch has "
        "a linked commit of its own, a maintainer's notice on the list ('applied', "
        "'committed', 'pushed', "
        "'queued', 'merged', 'picked up', pr-tracker-bot's 'has been merged') says it was taken "
        "(merged by notice; the notice and the tree it names are kept as evidence). A commit "
        "overrides a notice. A link flagged ambiguous does not count."
    ),
    "partly merged": (
        "Some patches of the series are linked to commits, but not every patch of its current "
        "version."
    ),
    "fixed elsewhere": (
        "Not merged: a reply to its latest version names a commit of a registered repository "
        "as what fixed or replaced it ('This was already fixed by commit 1234567890ab', 'FYI "
        "fixed in 5398d6c41', 'merged alternative solution: eb786468b'), answering its cover "
        "letter, its only patch, or the first patch of a version without a cover letter. "
        "Closed from that reply's date: neither waiting nor abandoned by its author. Not a "
        "question, a wish or a negation ('Isn't this fixed by ...?', 'would be fixed by'), "
        "nor a commit named as the one that broke something; a hash that starts no commit of "
        "the registered repositories (a kernel fix named on a test suite's list) names "
        "nothing. The series page names the reply and the commits."
    ),
    "other tree": (
        "The series changes files that are in none of the registered repositories (on the "
        "EROFS list: kernel patches, while the registered repository is erofs-utils). Its "
        "merge cannot be seen, so it is neither waiting nor abandoned, unless a maintainer's "
        "notice says it was applied (then merged)."
    ),
    "unknown": (
        "Idle for longer than the abandoned threshold, and nothing could show whether it was "
        "merged: no repository is registered, or the series has no diff (a question, a cover "
        "letter alone, a patch whose diff could not be read: no commit can show it), and no "
        "maintainer's notice says it was taken. "
        "Not counted as abandoned, because it may well have been merged without a notice (or "
        "led to work posted under another title)."
    ),
    "abandoned": (
        "Not merged, and no posting or reply for abandoned_days (default 180) before the "
        "'as of' date (or before the newest message, when the repository goes on after it)."
    ),
    "blocked": (
        "Not merged, and a prerequisite series it names (Depends-on:, Based-on:, "
        "prerequisite-message-id:, prerequisite-patch-id:, prerequisite-change-id:, resolved "
        "to a series in the store) was not merged yet at the 'as of' date. It stays blocked "
        "until its last prerequisite is merged, then takes its normal state. Decided after "
        "abandoned and before every other open state."
    ),
    "stale": (
        "Not merged, and no posting or reply for stale_days (default 30) before the 'as of' "
        "date (or before the newest message, when the repository goes on after it), but less "
        "than abandoned_days. Stale series still count in the backlog."
    ),
    "nearly complete": (
        "Not merged, and every patch of the latest version has a review (Reviewed-by or "
        "Acked-by): given to the patch, to the cover letter (which covers every patch), or "
        "carried in the patch from an earlier version."
    ),
    "new": (
        "No reviewer reply yet, on any version: nobody but the author (or a bot) has answered."
    ),
    "waiting on author": (
        "A reviewer spoke last on the latest version: the next step is the author's."
    ),
    "under review": (
        "Otherwise: the author answered last, or posted a version that nobody has answered yet "
        "after earlier versions were reviewed."
    ),
}
_STATES = (
    *(Term(state_anchor(s), s, text) for s, text in _STATE_TEXT.items()),
    _term(
        "State",
        "Every series has exactly one state, decided as of a date in this order: merged, "
        "partly merged, fixed elsewhere, other tree, unknown, abandoned, blocked, stale, "
        "nearly complete, new, waiting on author, under review. A series has the state of its "
        "latest version.",
    ),
    _term(
        "as of",
        "The date states are decided at: the newest message or commit in the store, so that an "
        "archive that stopped is not all stale by today. Only what happened by then counts; a "
        "series is idle, and a queue waits, only up to the newest message, since the list "
        "after it cannot be seen.",
    ),
    Term(
        "backlog",
        "backlog (open)",
        "Series that still wait for something: blocked, new, under review, waiting on author, "
        "nearly complete and stale.",
    ),
    _term(
        "never answered",
        "An open series that no one but its author (or a bot) has replied to, on any version.",
    ),
    _term(
        "superseded",
        "A version for which a later version of the same series exists. Its patches are not "
        "merges of their own when a later version's patch is merged.",
    ),
    Term(
        "superseded-by-merged",
        "superseded by the merged version",
        "An earlier version of a series whose later version was merged: what became of a v3 "
        "when v4 went in: the latest merged version after it that replaces it. A whole "
        "version replaces every version before it; a partial re-roll or a patch sent alone "
        "replaces only a version whose every patch not merged itself it sends again, by "
        "title (and, through a whole version it so replaces, the versions before that).",
    ),
    Term(
        "merged-share",
        "merged (a count or a share)",
        "The series merged in whole or in part: the states merged and partly merged together. "
        "A share is over the series whose merge can be seen (a registered repository holds "
        "their files, or a maintainer's notice says they went in), as said beside it. Beside "
        "a period (a trend table or chart), the series posted in that period that are merged "
        "by the data's date, whenever their merge came.",
    ),
    Term(
        "went-in-elsewhere",
        "went in through another series",
        "A patch with no linked commit of its own that was posted again in another series "
        "(the same diff, or the same title with a file in common), where it is linked, not "
        "ambiguously, to a commit authored by the patch's author and committed after the "
        "patch was posted: the patch is merged by that commit (a series linking could not "
        "chain to its next version, or an author's patch taken into a colleague's series). "
        "The same patch posted by someone else (a twin) merges nothing. A patch went in so "
        "too when the author's commit linked there holds its change inside a larger one "
        "(folded into a later change, or re-sent re-titled): the commit touches every file "
        "of the patch, was committed after it within 400 days, and holds 80% of its changed "
        "lines (at least 3) and half its added ones, a line it only re-indents counting for "
        "nothing. "
        "The series page names the posting and its series.",
    ),
    Term(
        "merge-evidence",
        "merged by commit / by notice",
        "By commit: a patch is linked to a commit of a registered repository, or went in "
        "through another series (see 'went in through another series'). By notice: no "
        "patch has a linked commit of its own, but a reply says the series was taken "
        "('Applied, thanks', "
        "'I've committed the two patches', pr-tracker-bot's 'has been merged into ...') from "
        "someone other than the author (the author's own counts when it says 'committed', "
        "says 'pushed' alone ('Pushed, thanks.'), or names the tree), or a later pull request, "
        "tree robot's note or maintainer's '[ANNOUNCE] ... for-next updated to' lists its "
        "patches (by its letter's shortlog, its patches' Message-ID: trailers, the note's "
        "patch; a title names its author's posting sent last before it), or the author posts "
        "a version again once it was committed ('[COMMITTED] [PATCH v2]', a notice "
        "'committed' of its patches); a notice its sender took back in a reply ('done in "
        "error - dropped it') counts for nothing; "
        "merged when the notices to one version take "
        "all its patches (what a notice lists or says it took, else the patch it answers: the "
        "cover letter is the whole, and so is the first patch of a version without one; a "
        "notice to a partial re-roll or a patch sent alone takes their places in the version "
        "they are laid over), partly merged before; the notice, its date and the tree it "
        "names are kept. A commit overrides a notice.",
    ),
    _term(
        "pull request",
        "A [GIT PULL] or [PULL] mail (or a body made by git request-pull): a maintainer's batch "
        "of patches already reviewed. Kept apart on the pull requests page, never in the "
        "backlog or among authored series; merged when a notice says so.",
    ),
    _term(
        "stable backport",
        "A patch sent for a stable tree ([PATCH AUTOSEL 6.6 3/9], [PATCH 6.18 002/108]): merged "
        "work sent again, not counted as a series; the tree robots' mails ('Patch ... has been "
        "added to the 6.1-stable tree', 'patch ... added to usb-testing') are not postings at all.",
    ),
    _term(
        "posted after it was committed",
        "A patch posted for the record once it went in ([COMMITTED] [PATCH], GCC's [committed], "
        "GDB's [pushed], [APPLIED]): merged work nobody is asked to review. A series made only "
        "of such postings is not counted as a series, like a stable backport; one that was "
        "posted for review first stays a series, the committed posting its latest version "
        "and its author's notice 'committed' of the merge (a linked commit overrides it): "
        "not when a version posted for review follows it, and of a part only when it re-sends "
        "part of the series.",
    ),
)

_METHODS = {
    "pointer": "The commit names the posting: a Link: lore URL or a Message-ID: trailer in the "
    "commit message. The strongest evidence; its score is 1.00.",
    "patch-id": "The commit has the same 'git patch-id --stable' as the posted diff: the same "
    "change, whatever the message. Score 0.98.",
    "subject": "The same author and the same subject (or the same subject without its "
    "'subsystem:' prefixes), committed within about a year of the posting, touching the same "
    "files. Score 0.90 (0.85 without prefixes).",
    "diff": "A commit touching the same files after the posting, whose changed lines are "
    "similar enough (white space and context ignored), helped by a similar title and the same "
    "author. The score weighs lines 0.6, title 0.25, same author 0.15; 0.55 is needed.",
}
_MATCHING = (
    *(Term(method_anchor(m), m, _METHODS[m]) for m in RANK),
    _term(
        "merged by notice",
        "A patch counted as merged without a linked commit, because a maintainer's reply "
        "says it was taken ('Applied, thanks', 'committed', ...): the way to see merges into "
        "a repository that is not registered.",
    ),
    _term(
        "score",
        "How strong the evidence of a commit link is, from 0 to 1 (pointer 1.00, patch-id "
        "0.98, subject 0.90 or 0.85, diff 0.55 and up).",
    ),
    _term(
        "ambiguous",
        "Another series' posting fits the same commit (nearly) as well. The link is kept and "
        "shown but does not count as a merge.",
    ),
    _term(
        "history horizon",
        "Commits committed more than two years before the archives begin are read without "
        "their diffs: no posting in the archives can be theirs (matching looks at postings "
        "sent up to a week after a commit). Their files are named but their lines not counted, "
        "and they have no patch-id. Older mail, once read, brings their diffs back. Where the "
        "archives begin: the first message that mail on another day follows within 90 days, "
        "so that messages sharing one wrong date do not count. Such commits are not judged "
        "by the conformance report (written before the archives begin).",
    ),
    Term(
        "commit",
        "commit (became)",
        "The commit a posted patch became, linked by one of the matching methods; its date is "
        "the committer date (when it went in).",
    ),
)

_DURATIONS = {
    "time_to_first_response": (
        "time to first response",
        "From the posting to the first reviewer reply. A series looks at every version: a "
        "first response to v2 counts if v1 had none.",
    ),
    "time_to_first_review": (
        "time to first review",
        "From the posting to the first review (a reply giving Reviewed-by or Acked-by).",
    ),
    "time_to_first_comment": (
        "time to first comment",
        "From the posting to the first substantive comment (a reviewer reply with at least "
        "3 lines written).",
    ),
    "time_to_merge": (
        "time to merge",
        "From the posting of the first version to the last commit linked to any of its "
        "patches (committer date; a partly merged series to its last merged patch), or to the "
        "maintainer's notice for a series merged by notice. Empty for a series with nothing "
        "merged, and for one whose merge is dated before its posting or rests on ambiguous "
        "links alone (anomalies).",
    ),
    "time_to_commit": (
        "time to commit (last review to commit)",
        "From the last reviewer reply before the commit to that commit.",
    ),
    "rework_time": (
        "rework time",
        "From the last reviewer reply on vN (before vN+1) to the posting of vN+1: how long "
        "the author took to re-roll. A series reports the median over its versions.",
    ),
    "cycle_time": (
        "cycle time",
        "From the posting of vN to the posting of vN+1. A series reports the median over its "
        "versions.",
    ),
}
_DURATION_TERMS = (
    *(Term(duration_anchor(m), *_DURATIONS[m]) for m in DURATIONS),
    Term(
        "duration",
        "durations",
        "Measured per series (and per version and patch), in minutes (min), hours (h) or days "
        "(d). A duration whose end never happened is empty (shown –), never zero.",
    ),
    _term(
        "median",
        "The middle value: half the series took less, half took more (nearest rank: always a "
        "value that occurred).",
    ),
    _term("p75", "The 75th percentile: three series in four took at most this long."),
    _term(
        "p90",
        "The 90th percentile: nine series in ten took at most this long. One slow series in a "
        "small period moves it a lot.",
    ),
    _term(
        "n",
        "How many series have the duration (the ones its end event happened for): the number "
        "the percentiles rest on.",
    ),
    Term(
        "period",
        "period (month, quarter, year)",
        "Series are counted in the period of their first posting (UTC). Periods without a "
        "series stay on the time axis as gaps.",
    ),
    _term(
        "partial period",
        "A period the data covers only in part: the one still running at the 'as of' date, or "
        "one cut by a date filter. Its figures rest on fewer series, and on the fast ones (the "
        "slow ones have not finished yet).",
    ),
    _term(
        "log scale",
        "Each step up the axis multiplies the duration (1 h, 6 h, 1 d, 1 wk, ...), so that a "
        "p90 of months and a median of hours are both readable. Durations below the lowest "
        "tick are drawn on it.",
    ),
)

_REVIEW = (
    _term(
        "author",
        "The sender of the cover letter, or of the first patch when there is none (the "
        "in-body From: when someone else sent it).",
    ),
    Term(
        "review-replies",
        "review replies (reviewer replies)",
        "Replies to a series from anyone but its author and bots.",
    ),
    _term("reviews", "Reviewer replies that give Reviewed-by: or Acked-by:."),
    Term(
        "comments",
        "comments (substantive)",
        "Reviewer replies with at least 3 lines written: not quoted, not an attribution, "
        "signature or trailer line.",
    ),
    _term(
        "tag only",
        "A review (Reviewed-by/Acked-by) that came with fewer than 3 lines written: the tag alone.",
    ),
    _term(
        "lines written",
        "Lines a reviewer wrote in replies: quoted text, attributions, signatures and "
        "trailers left out.",
    ),
    _term("reviewers", "Distinct people who sent a reviewer reply."),
    _term("series reviewed", "Series a person sent at least one reviewer reply to."),
    _term("series authored", "Series a person (or organisation) posted."),
    _term(
        "replies received", "Reviewer replies to the series a person (or organisation) authored."
    ),
    _term(
        "given / received",
        "Review replies given divided by review replies received: above 1, more review given "
        "than received; – when nothing was received.",
    ),
    _term(
        "trailers",
        "Tags at the end of a message: Reviewed-by, Acked-by, Tested-by, Signed-off-by, ... "
        "'Trailers given' are the ones a reply gives to the patch it answers.",
    ),
    _term(
        "notice",
        "A maintainer's reply saying the patch was taken: 'applied', 'committed', 'pushed', "
        "'queued', 'merged' or 'picked up' (kind 'picked'), in the past tense (a promise to "
        "apply is not a notice).",
    ),
    _term(
        "bot",
        "Senders matching the bot patterns (kernel test robot, syzbot, patchwork, CI "
        "services such as bluez.test.bot, bugzilla-daemon): their replies count for nothing. A "
        "robot's report sent from a person's address, known by its first line ('My bot found "
        "errors ...', the devicetree robot's), is a bot's reply too, with no notice and no "
        "trailer. A person is a bot when every message they sent is a bot's.",
    ),
)

_SERIES = (
    _term(
        "series",
        "A patch set and all its versions (v1, v2, RESEND, ...), linked by change-id, "
        "changelog links, replies, titles and files.",
    ),
    _term("versions", "How many versions of the series were posted."),
    _term("patches", "Patches of the latest version (0 for a cover letter alone)."),
    Term(
        "patch-postings",
        "patch postings",
        "The patches page lists each patch as posted, in every version: a patch sent in v1, "
        "v2 and v3 is three rows (where a series counts it once, in its latest version).",
    ),
    Term(
        "posted",
        "posted (first posting)",
        "The Date of the earliest message of the series' first version, UTC.",
    ),
    _term("last activity", "The latest posting or reply of the series, any version."),
    _term(
        "lines + / −", "Lines added and removed by the diffs (of the latest version, for a series)."
    ),
    Term("files", "files changed", "Files the diffs touch (of the latest version)."),
    _term("cover letter", "Patch 0 of a series: its introduction, no diff."),
    _term(
        "RFC, RESEND",
        "RFC: posted for comments, not for merging. RESEND: the same version sent again.",
    ),
    Term(
        "partial-reroll",
        "partial re-roll",
        "A new version that re-sends only some patches of the series, or one patch taken out "
        "of it and sent alone: laid over the version in force before it, which stays in force "
        "with those patches replaced (the series is merged when all its patches are).",
    ),
    _term("missing", "Patches a version announces (1/5 ... 5/5) that are not in the archive."),
    Term(
        "follows",
        "follows the previous version",
        "How a version was linked to the one before, with the weight of each piece of "
        "evidence (change-id, changelog link, in reply to, title, patch titles, files; "
        "renumbered: a vN that nothing else links follows the author's one open earlier "
        "version of a lower number within 120 days, with a file and an uncommon title word "
        "naming something, as a test or a function, in common).",
    ),
    _term(
        "anomalies",
        "Data that does not fit, reported rather than silently kept or dropped: "
        "commit_before_posting (a commit dated before its posting: merge durations left empty), "
        "reply_before_posting, no_date, ambiguous_merge.",
    ),
)

_PEOPLE = (
    _term(
        "person",
        "One person with all their addresses, joined by the repositories' .mailmap, a user "
        "file of aliases, and the same full display name of two or more words. An address "
        "joins only its owner's names (the one it sent most under, its spellings, a "
        "renaming): mail a relay sent under another's name (a maintainer sending others' "
        "patches from their own address, a shared account) is that person's when the name "
        "is known from an address of its own, else the relay's.",
    ),
    _term(
        "organisation",
        "From the address's domain with a gitdm domain-map (longest suffix wins, dated "
        "entries for people who changed employer). Free-mail domains give (unknown); other "
        "domains not in the map stand for themselves.",
    ),
    _term(
        "new contributor",
        "The series' first posting is its author's first posting on the list, and its "
        "author is no robot (the kernel test robot posts patches too: by its address, as the "
        "bot patterns say). Everyone else is established.",
    ),
    Term(
        "established",
        "established contributor",
        "An author who had posted on the list before this series.",
    ),
)

_SIZES = (
    Term(
        "bucket",
        "size buckets",
        "Series grouped by size, to compare like with like: by patches, by lines changed, "
        "by versions.",
    ),
    Term(
        "bucket-patches",
        "patches bucket",
        "Patches of the latest version: 0 (a cover letter whose patches the archive "
        "lacks), 1, 2-5, 6-15, 16+.",
    ),
    Term(
        "bucket-lines",
        "lines bucket",
        "Lines added plus removed in the latest version: <10, 10-99, 100-999, 1000+.",
    ),
    Term("bucket-versions", "versions bucket", "Versions posted: 1, 2, 3-4, 5+."),
)

_SUBSYSTEMS = (
    _term(
        "subsystem",
        "A section of the repository's MAINTAINERS file as it stood when the series was "
        "posted: a series belongs to every section whose F:/N: patterns match a file it "
        "touches, a renamed or copied file by its old path and its new one as "
        "get_maintainer.pl takes both (and no X: excludes it), but for the catch-all section "
        "(THE REST, whose F: patterns match every file), which holds only the series no "
        "other section matches. With several repositories registered, the file of the one "
        "most of the series' files are in (the first registered on a tie; for files no "
        "repository holds yet, the first registered repository's with the file); the sections "
        "of any other file carry its repository's name ('ARCH [mini-os]'), and a subsystem's "
        "commits are its repository's. A configured MAINTAINERS file serves every series. "
        "Without a MAINTAINERS file, no subsystem.",
    ),
    Term(
        "maintainers",
        "maintainers and designated reviewers",
        "The M: and R: people of a series' subsystems: its expected reviewers.",
    ),
    Term(
        "unanswered-by-subsystem",
        "unanswered by its subsystem",
        "No maintainer or designated reviewer of the series' subsystems sent a reply to it.",
    ),
    _term("open", "Series in a backlog state (see backlog)."),
)

# Issue 14, part A: the search language, its feeds and the CSV of every table.
_SEARCH = (
    _term(
        "search",
        "The search language of the series explorer and the API (the `search` parameter): "
        "terms joined by AND; '-' before a term negates it; a value with spaces is quoted "
        '("..."). is:STATE or state:STATE (a backlog state, spaces written as -, or open, '
        "unanswered; is:pull lists pull requests instead of series), age:>2w (since first "
        "posted, as of the data's date; h, d, w, m = 30 days, y = 365 days; <, <=, >, >=), "
        "posted:2026-01..2026-03 (days, months or years; either end may be left out), "
        "from:TEXT (author), to:TEXT (To or Cc of a posting), cc:TEXT, reviewed-by:TEXT, "
        "acked-by:TEXT, tested-by:TEXT, "
        "subsystem:TEXT, file:TEXT, list:TEXT (each: contains the text, ignoring case), "
        "has:review (a Reviewed-by or Acked-by given), has:reply (answered by someone other "
        "than the author or a bot), versions:>3 and patches:<5 (=, <, <=, >, >=), "
        "bucket:KIND:VALUE (a size bucket, as bucket:lines:100-999); any other "
        "word or quoted phrase is looked for in every version's title and patch subject, the "
        "author's address and the series key. A term that cannot be applied is an error "
        "naming it, never ignored.",
    ),
    Term(
        "feed",
        "Atom feed",
        "The series a search finds, newest activity first, as an Atom feed (/series.atom "
        "with the same query string as /series): one entry per series, its id the series' "
        "page, updated at its last activity, with its author and a summary of its state, "
        "versions, patches and reviewers. At most 200 entries.",
    ),
    Term(
        "csv",
        "CSV",
        "Every table of a page as CSV (the 'CSV' link beside it): the same rows and "
        "columns, with the page's filters, dates as ISO 8601 UTC and durations in hours; "
        "the whole table, not only the rows the page shows.",
    ),
)

_QUEUES = (
    _term(
        "queue",
        "A person's queue: the open series that name them and whose current version they "
        "have not answered, oldest first (by the current version's date). A series names "
        "them when MAINTAINERS, as it stood when the series was posted, lists them by M: or "
        "R: for a touched file (as get_maintainer.pl would), or when the current version's "
        "messages have one of their addresses in To: or Cc:; or when they answered an "
        "earlier version (back again). Never their own series; bots and a list's own address "
        "(named by its List-Id header) name nobody.",
    ),
    Term(
        "queue-reasons",
        "why it is in the queue",
        "maintainer or reviewer: MAINTAINERS M: or R: of a touched file at posting; asked: "
        "in To:/Cc: of the current version; reviewed earlier: they answered an earlier "
        "version and the current one awaits them again.",
    ),
    _term(
        "back again",
        "Series they answered in an earlier version whose current version they have not "
        "answered yet.",
    ),
    _term(
        "waiting",
        "How long the series has waited: from its current version's posting to the data's "
        "date (the newest message or commit), or to the mail's end when a repository goes on "
        "after it.",
    ),
    Term(
        "waiting-on-whom",
        "waiting on whom",
        "Who an open series waits on: its author when a reviewer spoke last on the current "
        "version and not every patch is reviewed; else the people it names (or who answered "
        "an earlier version) who have not answered the current version (all of them if "
        "everyone has; its maintainers when every patch is reviewed); else nobody named (no "
        "MAINTAINERS entry, nobody in To:/Cc:, nobody who answered an earlier version).",
    ),
    Term(
        "load-awaiting",
        "awaiting",
        "Series waiting on the person (or on the subsystem's maintainers and reviewers) at "
        "the end of the period: posted by then, not answered by them by then, not merged "
        "and not quiet for the abandoned threshold. A period the data (or the date filter) "
        "ends in is counted at that end, not at the period's, which is still to come.",
    ),
    Term(
        "load-answered",
        "answered",
        "Series the person (or a maintainer or reviewer of the subsystem) answered for the "
        "first time in the period.",
    ),
    Term(
        "load-wait",
        "wait",
        "For the series answered in the period: how long each had waited, from the posting "
        "of the version answered (for a subsystem: the first posting) to the first answer.",
    ),
    Term(
        "response-role",
        "role of a response",
        "Who sent the reply, by the first rule that fits: the series' author (never a "
        "response), a bot or CI (a response, never a review), a maintainer (M:) of a touched "
        "file at posting, a listed reviewer (R:) of one, or another person.",
    ),
    Term(
        "first-response-by-role",
        "first response by role",
        "Hours from a series' first posting to the first reply from each role; and which "
        "role replied first (bots included, the author never). Time to first response "
        "itself leaves bots out.",
    ),
    Term(
        "first-responder",
        "first responder",
        "The sender of the first reply to a series from anyone but its author, bots included.",
    ),
)

_ROUNDS = (
    _term(
        "interdiff",
        "For each version after the first, each patch paired with the one it replaces in the "
        "previous version (same patch-id; else a similar title; else the one sharing most of "
        "its changed lines, at least half) and the diff between their diffs, written as git "
        "range-diff writes it: line numbers dropped, so a rebase alone shows nothing. Patches "
        "with no pair were added or dropped; reordered ones moved relative to the others; "
        "renamed ones changed their title. Long interdiffs are cut (the page says so).",
    ),
    _term(
        "changelog notes",
        "What the author wrote about the changes between versions ('Changes since v2:', "
        "'v3: ...', 'Changes in V3', b4's notes), in the cover letter or below a patch's --- "
        "line, shown as written.",
    ),
    _term(
        "answered again",
        "Reviewers (not the author, not a bot) who replied to the previous version and also "
        "replied to this one; the others did not answer the new version (yet).",
    ),
    _term(
        "comment followed by a change",
        "A heuristic: a reviewer's reply to a patch of the previous version quotes changed "
        "lines of the patch and writes below them; the comment was followed by a change when "
        "one of those quoted added (or removed) lines is no longer added (removed) in the paired "
        "patch of this version, or the patch was dropped.",
    ),
    _term(
        "changed after review",
        "A merged patch whose commit differs, in its changed lines, from the version of the "
        "patch that got its Reviewed-by or Acked-by from a reviewer (else the latest version "
        "that carries one). The commit page shows the difference.",
    ),
    _term(
        "prerequisite",
        "A series or commit a series says it needs: Depends-on:, Based-on:, "
        "prerequisite-message-id:, prerequisite-patch-id:, prerequisite-change-id: (resolved to "
        "the series holding that posting, patch-id or change-id) and base-commit: (a commit). "
        "A prerequisite series that is not merged makes the series blocked.",
    ),
    _term("dependent", "A series that names this one as its prerequisite."),
)

# Issue 15, part F: findings with confidence (metrics/findings.py, metrics/bootstrap.py).
_FINDINGS = (
    _term(
        "finding",
        "A question of the Xen Project's 2016 review study (does time to merge grow with size? "
        "do new contributors wait longer? did this period differ from the previous one? does an "
        "organisation or subsystem differ from the others?) tested on the selected series as "
        "two groups: the reference group first, the group of interest second.",
    ),
    _term(
        "series considered",
        "The series whose merge can be seen, as in the merge rate's base: every state but "
        "other tree, and where a repository is registered no series without a diff (a "
        "question, a cover letter alone) unless merged. The period findings on first response "
        "and on the never-answered share consider every series.",
    ),
    _term(
        "stands on",
        "How many series a finding or a group's statistic rests on: the merged series for time "
        "to merge (censoring: an open series has no time to merge), the answered series for "
        "time to first response, every series for a share.",
    ),
    _term(
        "reached share",
        "The share of a group's series considered that reached the end event (merged, or "
        "answered): a group whose slow series are still open has a low share and a flattering "
        "median.",
    ),
    _term(
        "size split",
        "Size findings split the series considered at their median size (patches, changed "
        "lines added plus removed, or files of the latest version): small is at most the "
        "median, large more. When every series has the median size there is no split.",
    ),
    _term(
        "effect size",
        "Ratio of medians: the median of the group of interest divided by that of the "
        "reference group (2.0: it took twice as long). Difference of shares: the share of the "
        "group of interest minus that of the reference group, in points.",
    ),
    _term(
        "confidence interval",
        "95% percentile bootstrap interval of the effect: each group resampled with "
        f"replacement {RESAMPLES:,} times (same size, independently, the generator seeded by the "
        "finding so a page repeats), the effect computed on each, and the 2.5th and 97.5th "
        "percentiles taken. An interval that includes 1 (a ratio) or 0 (a difference) shows "
        "no clear difference.",
    ),
    _term(
        "this period",
        "For the period findings: the filters' since..until (a missing end is the day of the "
        f"newest series selected, a missing start {DEFAULT_DAYS} days before the end); "
        f"without either, the {DEFAULT_DAYS} days to the newest series selected. The previous "
        "period is the same number of days just before it, with every other filter the same.",
    ),
    _term(
        "never-answered share",
        "The share of the series first posted in a period that no one but their author or a "
        "bot has answered, on any version (open or not).",
    ),
    _term(
        "withheld",
        f"A finding is not shown when one of its groups stands on fewer than {MIN_SERIES} "
        "series; the "
        "reason names the group and its count.",
    ),
)

# Issue 15 §3: the conformance report (queries/conformance.py, metrics/conformance.py).
_CONFORMANCE = (
    _term(
        "archive coverage",
        "The period a list's archive covers: from its first message that another follows "
        "within 30 days to its last message that another precedes within 30 days (one message "
        "with a broken date, years away from the rest, does not widen it).",
    ),
    _term(
        "judged commit",
        "A commit of a registered repository whose whole life, from its author date to its "
        "commit date, lies within the coverage of some registered list's archive: only then "
        "can the store say it was not posted or not reviewed. Merge commits (their commits "
        "are judged themselves) and commits by machines (bot addresses) are not judged; "
        "neither are commits written before the archives begin (or before the history "
        "horizon) or committed after they end.",
    ),
    _term(
        "posted commit",
        "A judged commit that a registered list saw: matched to a posted patch, or naming an "
        "archived message in a Link: or Message-ID: trailer, or with the patch-id of an "
        "archived patch, or with the subject (normalised) of an archived message.",
    ),
    _term(
        "off-list commit",
        "A judged commit that no registered list saw: no matched posting, no Link: or "
        "Message-ID: trailer naming an archived message, no archived patch with its patch-id "
        "and no archived message with its subject (normalised).",
    ),
    _term(
        "merged with no review",
        "A judged commit with no Reviewed-by, Acked-by or Reviewed-and-tested-by from anyone "
        "but its author: none in the commit's trailers, none given on the list to the posting "
        "it was made from or to an earlier version of that patch (in a reply to the patch or "
        "to its cover letter; bots never count), none carried by those postings.",
    ),
    _term(
        "self-given review",
        "A Reviewed-by, Acked-by or Reviewed-and-tested-by whose giver is the commit's author "
        "(the same identity by address, or the same full name): in the commit's trailers, or "
        "on the list for the posting it was made from and its earlier versions.",
    ),
    _term(
        "compared with the reviewed version",
        "Matched commits one of whose patch's versions got a review, whose diff was compared "
        "with that version (see changed after review); very large diffs are not compared.",
    ),
)

# Where is my patch (issue 15): the series page's estimate (docs/PREDICTION.md).
_PREDICTION = (
    Term(
        "prediction-model",
        "prediction model",
        "A survival model of time to merge (a logistic hazard per interval of days, fitted on"
        " the project's own series; series still open are censored, not counted as never"
        " merged), with facts known at the moment of the prediction only: size, versions,"
        " review so far, days idle, the author's earlier series, the open queue."
        " `patchlens eval-predict` measures it on a time split against the project's median"
        " and a size-only model (docs/PREDICTION.md). Shown for open series only.",
    ),
    _term(
        "merged within 30 days",
        "The model's probability that the series is merged within 30 days of the data's"
        " newest date (not the wall clock, so the estimate repeats).",
    ),
    _term(
        "merged within 90 days",
        "The model's probability that the series is merged within 90 days of the data's"
        " newest date.",
    ),
    _term(
        "expected time to merge",
        "The median of the predicted days to merge from the data's newest date, with the"
        " interval between the points where the chance of a merge reaches 25% and 75%;"
        " 'over a year' where the model does not reach that chance within 365 days.",
    ),
    _term(
        "weighs most",
        "The three facts of this series that move its estimate most against a series with"
        " average facts (each feature's weight times how far the series is from the"
        " average), and whether each makes the merge sooner or later. Features that measure"
        " one fact (the author's earlier series and their merges; the patches, lines and files"
        " of its size; reviewers' replies and how many reviewers) count as one fact, the sum"
        " of their pushes.",
    ),
)

_APPLYING = (
    _term(
        "git am mbox",
        "A series version as a maintainer applies it (the link beside each version): its "
        "patches 1..N in order, without the cover letter, as an mboxrd file for `git am "
        "--patch-format=mboxrd`. To each patch's own trailers are added, as b4 does, the "
        "person trailers (Reviewed-by, Acked-by, Tested-by, ...) given in replies to that "
        "patch, then those given in replies to the cover letter (they apply to every patch), "
        "in the order sent, each once, only from their giver (the trailer's address or name "
        "is the reply's sender's; bots' replies never count), then a Link: to the patch in "
        "the archive. A partial re-roll takes the patches it does not replace, with their "
        "trailers, from the version it re-rolls; a patch split out and sent alone is its own "
        "patch only.",
    ),
)

SECTIONS: tuple[Section, ...] = (
    Section("states", "States", _STATES),
    Section("matching", "Matching postings to commits", _MATCHING),
    Section("durations", "Durations and percentiles", _DURATION_TERMS),
    Section("review", "Review", _REVIEW),
    Section("series-terms", "Series, versions, patches", _SERIES),
    Section("people", "People and organisations", _PEOPLE),
    Section("sizes", "Size buckets", _SIZES),
    Section("subsystems", "Subsystems", _SUBSYSTEMS),
    Section("search-and-feeds", "Search, feeds and CSV", _SEARCH),
    Section("queues", "Queues and response roles", _QUEUES),
    Section("rounds", "Versions, review rounds and dependencies", _ROUNDS),
    Section("conformance", "Conformance", _CONFORMANCE),
    Section("findings", "Findings", _FINDINGS),
    Section("predictions", "Predictions", _PREDICTION),
    Section("applying", "Applying a series", _APPLYING),
)
TERMS: dict[str, Term] = {t.anchor: t for s in SECTIONS for t in s.terms}
ANCHORS = frozenset(TERMS) | {s.anchor for s in SECTIONS}


def gl(anchor: str) -> str:
    """The link to a term of the glossary; a KeyError for an anchor with no definition."""
    if anchor not in ANCHORS:
        raise KeyError(f"no glossary entry {anchor!r}")
    return f"/glossary#{anchor}"


def gl_state(state: str) -> str:
    """The link for a state badge (the States section for a state it does not know)."""
    a = state_anchor(state)
    return f"/glossary#{a if a in ANCHORS else 'states'}"


def gl_method(method: str) -> str:
    """The link for a matching method label (the Matching section for one it does not know)."""
    a = method_anchor(method)
    return f"/glossary#{a if a in ANCHORS else 'matching'}"


def as_json() -> dict[str, Any]:
    return {
        "sections": [
            {
                "anchor": s.anchor,
                "title": s.title,
                "terms": [{"anchor": t.anchor, "term": t.term, "text": t.text} for t in s.terms],
            }
            for s in SECTIONS
        ]
    }


MD_START = "<!-- glossary: generated from src/patchlens/web/glossary.py; do not edit -->"
MD_END = "<!-- glossary: end -->"


def markdown() -> str:
    """The glossary as the Markdown block of docs/METRICS.md (between MD_START and MD_END)."""
    out = [MD_START, ""]
    for s in SECTIONS:
        out += [f"### {s.title}", ""]
        out += [f"- **{t.term}**: {t.text}" for t in s.terms]
        out.append("")
    out.append(MD_END)
    return "\n".join(out)


def update_metrics_md(text: str) -> str:
    """docs/METRICS.md with its glossary block replaced by `markdown()`."""
    head, sep, rest = text.partition(MD_START)
    if not sep:
        raise ValueError("docs/METRICS.md has no glossary block")
    _old, sep, tail = rest.partition(MD_END)
    if not sep:
        raise ValueError("docs/METRICS.md's glossary block has no end")
    return head + markdown() + tail


if __name__ == "__main__":  # python -m patchlens.web.glossary docs/METRICS.md: rewrite the block
    import sys
    from pathlib import Path

    path = Path(sys.argv[1])
    path.write_text(update_metrics_md(path.read_text()))
