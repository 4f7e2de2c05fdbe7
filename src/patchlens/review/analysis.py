"""What can be said of one message from its own content: computed once per ANALYSIS_VERSION.

Subject fields, the files and lines its diff touches, its patch-id, the b4 change-id and the
Message-IDs it links to (for version linking), and, for replies, how much the sender wrote,
the trailers they gave and any applied/committed notice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from patchlens.identity.bots import is_robot_report
from patchlens.mail.diff import file_stats
from patchlens.mail.fingerprint import fingerprint, pack
from patchlens.mail.patchid import patch_id
from patchlens.mail.replytext import analyze_reply
from patchlens.mail.subject import as_sent, parse_subject
from patchlens.mail.trailers import Trailer, posting_trailers
from patchlens.mail.treenote import is_commit_note
from patchlens.review.dependencies import prerequisites
from patchlens.review.model import (
    body_author,
    commit_message,
    find_change_id,
    is_posting,
    is_request_pull,
    is_tree_notice,
    mentioned_ids,
)

# Bump when anything this module calls changes what it computes (subject, diff stats, patch-id,
# trailers, reply text, notices, fingerprints of postings): `update` then re-analyses every
# message stored by an older version, and the stages after it run again.
# 2: notices name their tree; stable-tree robot notices are not postings.
# 3: b4's series change-id wins over a Gerrit Change-Id above it.
# 4: a posting's prerequisites (Depends-on:, Based-on:, prerequisite-*:, base-commit:).
# 5: a bounce from a mail system (postmaster@, MAILER-DAEMON@) is no posting.
# 6: a posting whose body is only its trailer block keeps its trailers; a notice says which
#    patches it took (message_notices.scope) and reads more wordings.
# 7: a posting's renamed and copied files keep their old paths (old_files), which MAINTAINERS
#    sections are looked up by as well, as get_maintainer.pl does.
# 8: a notice's scope is what it says it took as its object or listed ("applied with these
#    tweaks" says nothing of the whole); relative clauses and wishes before a notice are none.
# 9: a notice that counts the patches it took ("I've committed the two patches") says so.
# 10: patchwork-bot's summary says which patches its tree took ("(no matching commit)" under
#     the others): "This series was applied" to a treewide series is not the whole series.
# 11: "picked up" is a notice ("Picked it up now, thanks!"), of its own kind, "picked".
# 12: a tree robot's notice of any tree is no posting ('patch "x" added to usb-testing'), not
#     only a stable tree's.
# 13: a notice verb followed by thanks stands whatever words come before it ("... and pushed,
#     thanks"; "Pushed with minor changes, thanks"); an object that is someone else's work
#     ("merged his commit") or a quoted notice is none; more words before a verb ("Patch-set",
#     "FYI", "I went ahead and").
# 14: which notices are said by their verb alone ("Pushed, thanks.": message_notices.bare).
# 15: thanks does not let a passive verb with another subject stand ("The dependency got
#     merged, thanks"), and after a preamble it lets stand, the scope is read from the verb
#     on; patchwork-bot's unnumbered items.
# 16: a passive verb with another subject before a tree is none either ("The kernel fix was
#     merged into v6.0-rc3", "A proper fix by Hui Wang has already been committed to ...").
# 17: "[COMMITTED]", "[pushed]", "[APPLIED]" are subject flags (a patch posted after it went
#     in), not list tags or prefixes; "v2.." is version 2; Mark Brown's tree robot notice
#     ('Applied "x" to the spi tree') is no posting; a tree robot's note in reply to a patch
#     is no written review and gives no trailers; nor is the tip tree robots' note of a
#     merged commit ("[tip: x86/urgent] x", tip-bot2, irqchip-bot, thermal-bot) a posting,
#     nor a robot's report with a diff and no patch keyword (a bisection, a bug tracker's).
# 18: a robot's report sent from a person's address ("My bot found errors ...": the first
#     written line, identity/bots.py is_robot_report) gives no notice and no trailer.
# 19: b4's thank-you note's "(no commit info)" under a patch is one its tree did not take,
#     when another patch of the list has its commit; a passive verb with another subject is
#     none with an adverb between ("A change similar ... is already queued for v6.14").
# 20: nor when followed by thanks ("... is already queued, thanks").
# 21: a "[PATCHSET k/m]" or "[PATCHSET]" is a cover letter (stgit's; mail/subject.py).
# 22: only when it carries no diff (mail/subject.py as_sent).
# 23: a link alone on the line after one naming a version is that version's
#    (review/model.py mentioned_ids).
# 24: the commits a reply names as what fixed or replaced the patch (message_fixes,
#    mail/fixedby.py).
ANALYSIS_VERSION = 24


@dataclass(slots=True)
class Analysis:
    row: dict[str, Any]
    trailers: list[tuple[bool, Trailer]]  # (given in a reply?, trailer)
    notices: list[str]
    fingerprint: bytes | None = None  # a posting's changed lines (mail/fingerprint.py)
    notice_tree: str = ""  # where a notice says the patches went ("u-boot/next"), if it says
    notice_scope: str = ""  # which patches it says were taken (mail/replytext.notice_scope)
    bare_kinds: tuple[str, ...] = ()  # notices said by their verb alone ("Pushed, thanks.")
    # The commit hashes a reply names as what fixed or replaced the patch (mail/fixedby.py).
    fixed_by: tuple[str, ...] = ()


def analyze(
    message_pk: int,
    subject_text: str,
    body: str,
    diff: str | None,
    has_patch: bool,
    has_parent: bool,
    sender: str = "",
) -> Analysis:
    """Pure: the message_analysis row, trailers and notices of one message; `sender` is
    the From: address (a mail system's bounce is no posting)."""
    s = as_sent(parse_subject(subject_text), has_patch)
    # A pull request is known by its body too ("[GIT] Networking" + `git request-pull` text),
    # unless its subject numbers it in a series: a cover letter (0/N) that also offers a pull
    # remains the cover of its patches.
    pull = s.pull or (not s.is_reply and s.index is None and is_request_pull(body))
    # A tip-style robot's note of a merged commit carries its diff but is no posting.
    commit_note = is_commit_note(subject_text, body)
    posting = is_posting(s, has_patch, has_parent, pull=pull, sender=sender, note=commit_note)
    stats = file_stats(diff) if diff else []
    trailers: list[tuple[bool, Trailer]] = []
    notices: list[str] = []
    tree = scope = ""
    bare: tuple[str, ...] = ()
    fixed: tuple[str, ...] = ()
    written = quoted = 0
    first_line = None
    author = body_author(body) if posting else None
    if posting:
        # Trailers the author carries in the commit message: not reviews given on the list.
        trailers = [(False, t) for t in posting_trailers(commit_message(body))]
    elif not (commit_note or is_tree_notice(s.title)):
        # A tree robot's note sent in reply to the patch it names (Mark Brown's) carries that
        # patch: no review written on the list, nor trailers its sender gave. What it says
        # is read from the note itself (mail/treenote.py, stages/pulled.py).
        rt = analyze_reply(body)
        written, quoted, first_line = rt.lines_written, rt.lines_quoted, rt.first_written_line
        # A robot's report from a person's address ("My bot found errors ...") gives no
        # trailer and no notice: its "This patch series was applied (using b4) to base:" is
        # where it tested the patches. Replies read it as a robot's (review/replies.py).
        if not is_robot_report(first_line):
            trailers = [(True, t) for t in rt.trailers]
            notices = list(rt.notices)
            tree = rt.notice_tree
            scope = rt.notice_scope
            bare = rt.bare_kinds
            fixed = rt.fixed_by
    row = {
        "message_pk": message_pk,
        "is_reply": s.is_reply,
        "is_posting": posting,
        "is_pull": pull,
        "version": s.version,
        "version_str": s.version_str,
        "idx": s.index,
        "total": s.total,
        "flags": " ".join(s.flags),
        "prefixes": json.dumps(list(s.prefixes)),
        "title": s.title,
        "normalized_title": s.normalized_title,
        "files": json.dumps(sorted({f.path for f in stats})),
        # The paths renames and copies came from (not in `files`): get_maintainer.pl looks
        # MAINTAINERS up by both.
        "old_files": json.dumps(
            sorted({f.old_path for f in stats if f.old_path and f.old_path != f.path})
        ),
        "lines_added": sum(f.added for f in stats),
        "lines_removed": sum(f.removed for f in stats),
        "patch_id": patch_id(diff) if diff else None,
        "change_id": find_change_id(body) if posting else None,
        "mentioned_ids": json.dumps(sorted(mentioned_ids(body))) if posting else "[]",
        "author_name": author[0] if author else None,
        "author_addr": author[1] if author else None,
        "lines_written": written,
        "lines_quoted": quoted,
        "first_line": first_line[:500] if first_line else None,
        "analysis_version": ANALYSIS_VERSION,
        "prerequisites": json.dumps(
            [[p.kind, p.value, p.label] for p in prerequisites(body)] if posting else []
        ),
    }
    fp = pack(fingerprint(diff)) if posting and diff else None
    return Analysis(row, trailers, notices, fp, tree, scope, bare, fixed)
