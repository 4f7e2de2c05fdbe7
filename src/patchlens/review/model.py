"""The records reconstruction works on: a message as review sees it, and a posted version.

Everything here is plain data, so the grouping and linking functions stay pure and can be
tested without a store.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from patchlens.identity.bots import BotMatcher
from patchlens.mail.headers import decode_header, parse_address
from patchlens.mail.subject import Subject

_NOTES_SEP = re.compile(r"^---[ \t]*$", re.M)
_CHANGE_ID = re.compile(r"^change-id:[ \t]*(\S+)", re.M | re.I)
# b4's own form, YYYYMMDD-slug-<12 hex>: one per series, where Gerrit's `Change-Id: I<hex>` is
# one per patch.
_B4_CHANGE_ID = re.compile(r"^change-id:[ \t]*(\d{8}-[\w.-]+-[0-9a-f]{12})[ \t]*$", re.M | re.I)
_MSGID_IN_TEXT = re.compile(
    r"(?:lore\.kernel\.org/(?:[\w.-]+/)?|patch\.msgid\.link/|msgid\.link/|/r/)"
    r"<?([^\s<>/\"']+@[^\s<>/\"']+)"
)


def commit_message(body: str) -> str:
    """The text before the `---` line: what becomes the commit message."""
    m = _NOTES_SEP.search(body)
    return body[: m.start()] if m else body


def notes(body: str) -> str:
    """What the author wrote after `---` (changelog, diffstat): not part of the commit."""
    m = _NOTES_SEP.search(body)
    return body[m.end() :] if m else ""


def find_change_id(body: str) -> str | None:
    """b4's `change-id:` line, which stays the same across the versions of a series; else
    the first other change-id (Gerrit's `Change-Id:` trailer, stable across the versions of
    one patch). b4's wins wherever it stands: a commit message may carry Gerrit's above it."""
    m = _B4_CHANGE_ID.search(body) or _CHANGE_ID.search(body)
    return m.group(1) if m else None


_BODY_FROM = re.compile(r"\A\s*From:[ \t]*(.+)$", re.M)


def body_author(body: str) -> tuple[str, str] | None:
    """(name, address) of a "From:" first line: git send-email's mark of a patch sent by
    someone other than its author."""
    m = _BODY_FROM.match(body)
    if not m:
        return None
    name, addr = parse_address(m.group(1).strip())
    if "=?" in name:
        name = decode_header(name.encode("utf-8"))
    return (name, addr) if "@" in addr else None


_VERSION_CONTEXT = re.compile(
    r"\b(?:v\d+|version|previous|prev|rfc|resend|changes?\s+(?:since|from|in))\b", re.I
)


# A line that is a link and nothing else ("https://lore.kernel.org/all/<id>/").
_LINK_ALONE = re.compile(r"^\s*<?https?://\S+>?\s*$")


def mentioned_ids(body: str) -> set[str]:
    """Message-IDs of earlier versions the text links to: lore / msgid.link URLs on a line
    that speaks of a version ("v1: https://lore.kernel.org/r/<id>", b4's "Link to v2:"), or
    alone on the line after one ("* v4 patch series at :" then the link: alsa-devel, whose
    v5 was a series of its own). Other links (a dependency, a report) name other work."""
    found = set()
    after_version = False
    for line in body.splitlines():
        versioned = _VERSION_CONTEXT.search(line) is not None
        if "@" in line and (versioned or (after_version and _LINK_ALONE.match(line))):
            found.update(m.rstrip(".,);>") for m in _MSGID_IN_TEXT.findall(line))
        if line.strip():
            after_version = versioned
    return found


# The tree maintainers' robots: the stable trees' ('Patch "x" has been added to the 6.1-stable
# tree', 'FAILED: patch "[PATCH] x" failed to apply to 5.10-stable tree') and Greg
# Kroah-Hartman's for the trees he keeps ('patch "x" added to usb-testing', '... added to
# staging-next', '... added to char-misc-linus'), and Mark Brown's for his ('Applied "x" to
# the spi tree'). They carry the diff of a patch already taken: a notice about it, not a
# posting (each was a series of its own, by the robot's sender, titled 'patch "x" added to
# ...').
_TREE_NOTICE = re.compile(
    r"(?i)^(?:(?:FAILED:\s*)?patch\s+\".*\"\s+(?:has been\s+)?(?:added to|removed from|failed to"
    r" apply to)\s+(?:the\s+)?[\w.+-]+|applied\s+\".*\"\s+to\s+the\s+[\w.+/-]+\s+tree(?:\W|$))"
)
# A bare kernel version as a subject tag ("[PATCH 6.18 002/108]", "[PATCH 5.10.y]"): a patch
# sent for a stable tree, i.e. merged work again, not new work to review.
_STABLE_TREE = re.compile(r"^\d+\.\d+(?:\.\d+)*(?:\.y)?$")


def is_tree_notice(subject_text: str) -> bool:
    """A tree robot's notice about a patch it took or dropped (see `_TREE_NOTICE`)."""
    return bool(_TREE_NOTICE.match(subject_text.strip()))


def is_stable_backport(subject: Subject) -> bool:
    """A patch tagged for a stable tree: AUTOSEL; a bare version such as [PATCH 6.6 3/9], or
    several ([PATCH 5.15.y/5.10.y]); or the word "stable" ([PATCH stable 5.15.y], [PATCH
    6.1-stable], [PATCH for-stable]). A phrase with other words and a version ([PATCH for
    Xen 4.7]) names the release it is meant for, not a backport."""
    return "AUTOSEL" in subject.flags or any(_stable_phrase(p) for p in subject.prefixes)


_PHRASE_WORDS = re.compile(r"[\s/,]+")
# A word that says "for a stable tree": stable, for-stable, stable-8.2, 6.1-stable. Not a
# branch whose name holds the word (mm-stable, drm-misc-next-stable, stable-api) nor
# not-for-stable.
_STABLE_WORD = re.compile(
    r"^(?:for-)?stable(?:-\d+(?:\.\d+)*(?:\.y)?)?$|^\d+(?:\.\d+)*(?:\.y)?-stable$"
)


# Flags of a patch posted after it went in (mail/subject.py's _FLAG_WORDS).
_COMMITTED_FLAGS = frozenset({"COMMITTED", "PUSHED", "APPLIED"})


def is_committed_posting(subject: Subject) -> bool:
    """A patch posted for the record after it was committed ("[COMMITTED] [PATCH]", GCC's
    "[committed]", GDB's "[pushed]"): merged work nobody is asked to review, like a stable
    backport, whatever state the list's replies would suggest."""
    return bool(_COMMITTED_FLAGS.intersection(subject.flags))


def _stable_phrase(phrase: str) -> bool:
    """A prefix phrase made only of stable-tree words and bare kernel versions."""
    words = [w for w in _PHRASE_WORDS.split(phrase.casefold()) if w]
    return bool(words) and all(_STABLE_TREE.match(w) or _STABLE_WORD.match(w) for w in words)


# `git request-pull` output, from its first line to the URL line (older git wrote "git
# repository", newer "Git repository"), each at the start of a line: a quoted copy ("> The
# following changes ...") in a reply is not a pull request.
# The two are looked for one after the other (one regex with `.*?` between them scanned the
# rest of the body from each first line: quadratic in a body that repeats it); the blanks
# before "are available" are those of its own line (a line start in blank lines before it
# is one too), which keeps blank lines from being rescanned from each of them.
_REQUEST_PULL_FIRST = re.compile(
    r"^The following changes since commit [0-9a-f]{7,40}\b", re.M | re.I
)
_REQUEST_PULL_URL = re.compile(
    r"^[^\S\n]*are available in the git repository at:?[ \t\r]*$", re.M | re.I
)


def is_request_pull(body: str) -> bool:
    """Whether a mail body is a pull request (`git request-pull` output), whatever its
    subject says: "[GIT] Networking" carries no PULL keyword but asks for a pull."""
    if "following changes since commit" not in body:
        return False
    first = _REQUEST_PULL_FIRST.search(body)
    return first is not None and _REQUEST_PULL_URL.search(body, first.end()) is not None


# The senders of delivery reports (RFC 5321's postmaster, and the MAILER-DAEMON of sendmail,
# Postfix, Exim and Gmail): a bounce that comes back to the list often carries the returned
# posting as an attachment, diff and all, but nobody posted anything.
_MAIL_SYSTEM = frozenset({"postmaster", "mailer-daemon", "mailer_daemon", "mail-daemon"})


def is_mail_system(addr: str) -> bool:
    """The address is a mail system's own (a bounce's sender), not a person's."""
    local, _, domain = (addr or "").rpartition("@")
    return bool(domain) and local.casefold() in _MAIL_SYSTEM


# The built-in robot patterns (identity/bots.py), by address: the per-message analysis cannot
# read a project's configured patterns (a change to them would not analyse anything again).
_ROBOT = BotMatcher()


def is_posting(
    subject: Subject,
    has_patch: bool,
    has_parent: bool,
    *,
    pull: bool = False,
    sender: str = "",
    note: bool = False,
) -> bool:
    """A patch, cover letter or pull request as sent, as opposed to a reply.

    A `[PATCH]` subject without a diff that answers another message is a reply whose sender
    kept the subject (no "Re:"); a cover letter (0/N) or pull request is a posting wherever
    it sits. `pull` says the body is a pull request (`is_request_pull`), which makes the mail
    a posting even when its subject has no patch keyword ("[GIT] Networking"). A tree
    robot's notice carries a diff but is no posting (by its subject, or by its body: `note`,
    mail/treenote.is_commit_note), nor is a bounce from a mail system (`sender`), whatever
    it carries, nor a robot's report with no patch keyword in its subject (a bisection's
    culprit, a bug tracker's comment: "[Bug 220013] ...").
    """
    if note or subject.is_reply or is_tree_notice(subject.title) or is_mail_system(sender):
        return False
    if not subject.is_patch and not pull and _ROBOT("", sender):
        return False
    if has_patch or pull:
        return True
    if not subject.is_patch:
        return False
    return subject.index == 0 or subject.pull or not has_parent


def place_of(titles: Mapping[int, str], idx: int, title: str, alone: bool) -> int:
    """The place a patch laid over another version takes among its patches (`titles`: place
    -> normalised title, as laid so far), the patch being number `idx` titled `title`, sent
    `alone` (the one patch of its version) or not: sent alone, the one place so titled,
    unless the patch at its number has its title (a patch split out and sent alone comes as
    1, review/versions.py split_out); else its own number (a re-roll "v2 3/5" may retitle
    patch 3, and two patches re-rolled keep their numbers). The one rule of the merge facts
    (metrics/model.py current_version), of notices (metrics/backlog.py laid_places) and of
    interdiffs (queries/rounds.py standing). Pure."""
    if alone and title and titles.get(idx) != title:
        hits = [i for i, t in titles.items() if t == title]
        if len(hits) == 1:
            return hits[0]
    return idx


def lay(titles: dict[int, str], patches: Mapping[int, str]) -> dict[int, int]:
    """The places (`place_of`) of a version's patches laid over another (`patches`: number
    -> normalised title), in number order; `titles` (place -> title, as laid so far) takes
    their titles. The one loop of every reader that lays versions over another. Pure but
    for `titles`."""
    places = {}
    for i, title in sorted(patches.items()):
        places[i] = j = place_of(titles, i, title, len(patches) == 1)
        titles[j] = title
    return places


def grouped_partial(version_str: str, rerolls: str | None) -> bool:
    """Whether grouping (review/series.py) made a version partial, from what its stored row
    keeps: a "v1.1"-style number, or a version it re-rolls. The stored `partial` says more
    (a patch split out of the version before, review/versions.py laid_over), which linking
    decides, not grouping: an update reading a stored version back for grouping and linking
    again takes grouping's flag (stages/review_incremental.py stored_versions). Pure."""
    return "." in version_str or rerolls is not None


def in_force(partial: Sequence[bool]) -> int:
    """Of a series' versions in order (`partial[i]`: version i is a partial re-roll, a few
    patches of the version before sent again), the index of the version in force: the latest
    full one, or the first when all are partial; the partial re-rolls after it are laid over
    it. One rule for the series' title (stages/review.py), its facts (metrics/model.py
    current_version) and the maintainers' queues (queries/queue.py); queries/load.py
    answer_segments applies it as the versions come in, and datasette's queue in SQL
    (web/datasette_meta.py: the latest full seq, else the first). Interdiffs
    (queries/rounds.py _laid_over) walk past a cover letter sent alone to the patches, on
    purpose. Pure."""
    return max((i for i, p in enumerate(partial) if not p), default=0)


@dataclass(slots=True)
class Mail:
    """A message as reconstruction sees it: headers, thread position, and what analysis
    found in its content (no body: that was read once, at analysis)."""

    pk: int
    message_id: str
    subject: Subject
    from_name: str
    from_addr: str
    date: int
    thread: str
    parent: str | None
    has_patch: bool
    is_posting: bool  # a patch, cover letter or pull request as sent, not a reply to one
    files: tuple[str, ...] = ()
    change_id: str | None = None
    mentioned: frozenset[str] = frozenset()
    # The patch's author: the in-body "From:" when there is one, else the sender.
    author_name: str = ""
    author_addr: str = ""
    # The diff's changed lines (mail/fingerprint.py): a frozenset, or packed as stored.
    hashes: Collection[int] = frozenset()
    # A pull request by its subject or by its body (`is_request_pull`; message_analysis.is_pull).
    is_pull: bool = False
    # A robot's report from a person's address, by its first written line
    # (identity/bots.py is_robot_report): a robot's reply, whoever sent it.
    robot_report: bool = False

    def __post_init__(self) -> None:
        if not self.author_addr:
            self.author_name, self.author_addr = self.from_name, self.from_addr


@dataclass(slots=True)
class Version:
    """One posting of a series at one version: a cover letter and/or its patches."""

    key: str  # Message-ID of the cover letter, or of the first patch
    author_name: str
    author_addr: str
    sender_name: str
    sender_addr: str
    version: int
    version_str: str
    rfc: bool
    resend: bool
    pull: bool
    backport: bool  # a stable-tree backport (AUTOSEL): someone else's merged work again
    partial: bool  # a partial re-roll such as v5.1 3/7: replaces one patch of v5
    title: str
    normalized_title: str
    total: int | None
    thread: str
    date: int
    cover: Mail | None
    patches: dict[int, Mail] = field(default_factory=dict)  # index (1-based) -> patch
    # For a partial re-roll (a few patches of an earlier version sent again): that version.
    rerolls: str | None = None
    committed: bool = False  # posted after it was committed (`is_committed_posting`)

    @property
    def anchor(self) -> Mail:
        return self.cover or self.patches[min(self.patches)]

    @property
    def members(self) -> list[Mail]:
        out = [self.cover] if self.cover else []
        return out + [self.patches[i] for i in sorted(self.patches)]

    @property
    def missing(self) -> list[int]:
        if self.partial or not self.total:
            return []
        return [i for i in range(1, self.total + 1) if i not in self.patches]

    def files(self) -> set[str]:
        return {f for p in self.patches.values() for f in p.files}

    def patch_titles(self) -> set[str]:
        return {p.subject.normalized_title for p in self.patches.values()}
