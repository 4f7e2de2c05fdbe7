"""What the sender of a reply wrote, which tags they gave, and whether it says "applied".

Review effort is measured by what a reviewer wrote, not by what they quoted: a reply that
quotes 300 lines of patch to add "LGTM" is one written line. A reply body (decoded text, any
diff already cut out by the parser) is read line by line and each line gets one role:

- quoted: `>` at any depth (`> >`, `>>`, ` >`), and everything of an Outlook-style quoted
  original (after `-----Original Message-----`, `----- Ursprüngliche Mail -----`, or a
  `From:`/`发件人:` header block with `Sent:`/`Date:`+`To:`/`发送时间:`);
- attribution: "On <date>, X wrote:" (also wrapped over two or three lines), "X <a@b>
  于2024年1月1日周一 写道：", "Le ... a écrit :", "Am ... schrieb X\\n<a@b>:", 'X writes ("..."):',
  "Quoting X (date):";
- signature: after a `-- ` or `--` line, a last line such as `-- PMM`, and footer junk after a
  line of underscores (Mailman list footers, corporate disclaimers);
- trailer: a person trailer the sender gives (see below), with its continuation lines;
- written: everything else that is not blank.

Trailers are collected the way b4 collects follow-up trailers: anywhere in the unquoted text,
with leading whitespace, a bare name or a bare address, "Name\\n<addr>" continuations, `# note`
and `[note]` extras, and HTML-mail junk (`<a@b<mailto:a@b>>`). Unlike b4 they must name a
person (an address or a capitalised name: "Reviewed-by: is only valid for v2" is prose), they
are never taken from quoted text, a signature, or a patch the sender pasted (after a
`From <sha> Mon Sep 17 00:00:00 2001` line or a scissors line), and a block of tags the sender
shows rather than gives is skipped: one naming several people that is indented ("I would
suggest this ordering:" and the patch's own tags) or carries a Signed-off-by ("How about this
commit message:"), or one indented like the `git log` paragraph above it. A line that is only
"Acked." / "NAK." / "Acked + applied." gives a trailer without a person (name and email None,
meaning whoever sent the reply), unless more quoted text follows: "Ack." between two quoted
review points acknowledges a point. Keys are canonical (`NAKed-by`, `NACKed-by` -> `Nacked-by`,
`Release-Acked-by` -> `Release-acked-by`); values keep the person and drop the extras.

Notices ("applied", "committed", "pushed", "queued", "merged") are read from written sentences
only: the verb must be in the past tense or a perfect ("Applied, thanks.", "I've committed the
two patches", "has been merged into", "All now queued up") and what stands before it in its
clause may only be fillers (thanks, and, now, both patches, I've, has been, Acked +, ...). So
negations ("no patches were applied", "doesn't apply"), modals and future tense ("I'll queue
the patch", "will be applied once ...", "let me apply"), conditionals ("if nobody objects"),
questions, and a tester's "I applied your patch and here is the output" are not notices. A
promise is not an event: the patch may never be applied, so "I'll queue/apply" does not count.
"Queued for backporting"/"for stable" is a stable-tree queue, not the patch being taken.
A notice that names where the patches went ("Applied to the vfs.fixes branch of the vfs/vfs.git
tree", "applied to u-boot/next", "has been merged into torvalds/linux.git", "pushed to the fixes
branch") gives that tree or branch, as written, so a merge known only by notice says where.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from patchlens.mail.fixedby import fixing_commits, may_hold_hash, may_name_fix
from patchlens.mail.trailers import PERSON_KEYS, Trailer, canonical_key, make_trailer

__all__ = ["NOTICE_KINDS", "ReplyText", "analyze_reply", "given_trailers", "is_retraction"]

NOTICE_KINDS = ("applied", "committed", "pushed", "queued", "merged", "picked")


@dataclass(frozen=True, slots=True)
class ReplyText:
    """What one reply contributes to a review: effort, tags given, maintainer notices."""

    lines_written: int
    lines_quoted: int
    trailers: tuple[Trailer, ...]
    notices: tuple[str, ...]
    first_written_line: str | None
    # The tree or branch the first notice naming one says the patches went to, else "".
    notice_tree: str = ""
    # Which patches the first notice says were taken (`notice_scope`): "whole", "some",
    # "first:N", "last:N", "patches:1,2,5", or "" when it does not say.
    notice_scope: str = ""
    # The kinds whose notice is its verb alone, with no object ("Pushed.", "Pushed, thanks",
    # "Both pushed", "Pushed with minor changes"): `_bare`.
    bare_kinds: tuple[str, ...] = ()
    # The commit hashes it names as what fixed or replaced the patch (mail/fixedby.py).
    fixed_by: tuple[str, ...] = ()


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Line roles.
_BLANK, _WRITTEN, _QUOTED, _ATTRIB, _SIG, _TRAILER, _HEADER, _PASTED = range(8)

# Person trailers a reviewer gives, by lower-cased key, with their canonical spelling.
_NACK = "Nacked-by"
_GIVEN_KEYS: dict[str, str] = {
    k: canonical_key(k)
    for k in (
        "reviewed-by",
        "acked-by",
        "tested-by",
        "reported-by",
        "suggested-by",
        "release-acked-by",
        "reported-and-tested-by",
        "co-developed-by",
        "signed-off-by",
    )
}
_GIVEN_KEYS.update(
    dict.fromkeys(("nacked-by", "naked-by", "nak-by", "nack-by", "nak", "nack"), _NACK)
)
assert all(v.lower() in PERSON_KEYS for v in _GIVEN_KEYS.values())

# The value is everything after the colon up to its last non-blank: `(?:.*\S)?` finds it
# from the end, where a lazy `(.*?)\s*$` retried the blanks after each of its characters
# (quadratic in a run of blanks).
_TRAILER_LINE = re.compile(r"^[ \t]*([A-Za-z][A-Za-z-]*[A-Za-z])[ \t]*:[ \t]*+((?:.*\S)?)\s*$")
# An address starts where its word does (the leftmost match always does): without the
# look-behind a long word without "@" was rescanned from each of its characters.
_ADDR = re.compile(
    r"<?(?<![^\s<>@,;:\"'()\[\]])"
    r"([^\s<>@,;:\"'()\[\]]++@[^\s<>@,;:\"'()\[\]]+\.[^\s<>@,;:\"'()\[\]]+)>?"
)
_ANGLE_ADDR = re.compile(r"<([^\s<>@]+@[^\s<>@]+)>")
# Blanks are taken from the first of their run (a match inside the run would have been
# found at its start): otherwise each blank of a long run rescanned the rest of it.
_MAILTO_JUNK = re.compile(r"<mailto:[^<>]*>|(?<!\s)\s*+\[mailto:[^\]]*\]", re.I)
_EXTINFO = re.compile(r"(?<!\s)\s+#.*$")
_ANY_TRAILER = re.compile(r"^[ \t]*[A-Za-z][A-Za-z0-9-]*:[ \t]+\S")
_CONT_ADDR = re.compile(r"^\s*<[^<>\s]+@[^<>\s]+>\s*$")
_CONT_NOTE = re.compile(r"^\s*\[[^\]]+\]\s*$")
_NAME_PARTICLES = _words(
    "van von der den de da di du la le del della dos das bin ibn al el ter ten zu af"
)
_NOT_NAMES = _words(
    "all none me myself yes no n/a na tbd anyone anybody somebody someone nobody everyone"
    " everybody this that it"
)
_BARE_TAG = re.compile(
    r"^\s*(acked|ack|nak|nack|nacked)\s*(?:(?:[+&]|and)\s*"
    r"(applied|committed|pushed|queued|merged))?\s*[.!]*\s*(?:thanks?[.!]*)?\s*$",
    re.I,
)

_QUOTE_HEADER = re.compile(
    r"^\s*-{2,}\s*(?:Original Message|Ursprüngliche (?:Nachricht|Mail)|Message d'origine"
    r"|原始邮件|Forwarded message|Mensaje original|Messaggio originale)\s*-{2,}\s*$",
    re.I,
)
_OUTLOOK_FROM = re.compile(r"^\s*(?:From|发件人|寄件者|De|Von|Da)\s*[:：]")
# The fields that follow an Outlook-style quoted `From:`; the group named is the field.
_OUTLOOK_FIELD = re.compile(
    r"^\s*(?:(?P<sent>(?i:Sent|发送时间|時間|时\s*间|Envoyé|Gesendet|Inviato|Enviado))"
    r"|(?P<to>To|收件人|收件者|À|An|A|Para)|(?P<date>Date|日期|Datum))\s*[:：]"
)
_UNDERSCORES = re.compile(r"^\s*_{10,}\s*$")
# `.*?[-―]{8}` accepts the same lines as `.*[-―]{8,}` (the preceding `.*` takes any extra
# dash) without retrying every split of a long run of dashes.
_SCISSORS = re.compile(r"^\s*(?:-+\s*>8\s*-*|-*\s*8<\s*-+|-{2,}\s*✂\s*-*|.*?[-―]{8}\s*✀.*)\s*$")
_GIT_FROM = re.compile(r"^\s*From [0-9a-f]{40} Mon Sep 17 00:00:00 2001\s*$")
_INBODY_HEADER = re.compile(r"^(?:From|Subject|Date)\s*:\s")

_ATTR_END = re.compile(
    r"""(?ix)
        (?: \b(?: wrote | writes | said | a\ écrit | schrieb | escribió | escreveu | scrisse
                | ha\ scritto | napisał | kirjoitti | skrev | schreef | написал | napsal )
          | 写道 | 寫道 | 寫到 | 写到 ) \s*[:：]\s*$
      | \bwrites\s*\(.*\)\s*:\s*$            # "X writes (date):"
      | ^\s*Quoting\s.*:\s*$                  # "Quoting X (date):"
      | ^\s*\*\s.*\[[^\]]*\d[^\]]*\]\s*:\s*$    # "* X [date]:"
    """
)
_ATTR_OPEN = re.compile(
    r"^\s*(?:On|Le|Am|El|Il|Op|Em|Den|Dne|W dniu|Quoting|在|於|于)(?:\s|$)"
    r"|^\s*\S.*?\b(?:于|於)\s*\d{4}"
)
_ATTR_VERB_INSIDE = re.compile(r"\b(?:wrote|schrieb|a écrit|escribió|scrisse)\b", re.I)

# -- notices -------------------------------------------------------------------------------

_NOTICE_HINT = re.compile(r"(?i)applied|committed|pushed|queued|merged|picked")
# "picked" only as "picked up", its object between the two words or none ("Picked it up
# now, thanks!", Greg Kroah-Hartman's usual notice; "I've picked up the series").
_NOTICE_VERB = re.compile(
    r"(?i)\b(applied|committed|pushed|queued|merged"
    r"|picked(?=\s+(?:(?:it|this|that|them|these|those|both|all|v\d+"
    r"|the\s+(?:patch|patches|series|fix|fixes|rest|set))\s+)?up\b))\b(?![/\w]|\.\w)"
)
# A break that starts with blanks starts at the first of them (the one before it would
# have matched first, and a break ends after its blanks): the look-behinds say so, which
# keeps a long run of blanks from being rescanned from each of its characters.
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?;…])\s+|(?<!\s)\s+-{1,2}\s+|(?:(?<!\s)\s+)?…\s*")
_CLAUSE_SPLIT = re.compile(r"(?:,|(?<!\s))\s+but\s+|[,:;(]\s*", re.I)
# What may stand before the verb in its clause: "Thanks, applied", "And committed",
# "Both patches applied", "I've queued", "This series was applied", "Acked + applied".
_FILLERS = _words(
    """
    and also so now just finally already actually both all whole entire remaining rest
    patch patches series patchset set version one ones fix fixes change changes commit commits
    pr pull request the this these those it they them its first second third two three four
    five six i we i've ive we've weve have has had been is are was were 've 's it's
    ok okay thanks thank thx everyone everybody nice good great catch lgtm sure done
    hi hello hmm yes yep well up + & of fyi full your in went ahead patch-set patch-series
    following
    acked reviewed fixed pulled tested rebased updated amended tweaked adjusted squashed
    hence therefore thus then otherwise fine looks look seems
    """
)
_FILLER_TOKEN = re.compile(r"^(?:\[?patch|v\d+|\d+(?:/\d+)?\]?|\d+-\d+|#\d+|\[\d+/\d+\])$")
# Before a notice that names where the patches went ("Hence applied to the togreg branch",
# "Patch is fine and applied to the fixes-togreg branch"), any words may stand, but none that
# make it a wish, a promise, a condition or a denial ("should be applied to the fixes
# branch", "I'd like this applied to ...").
_NOT_DONE = _words(
    """
    not no never nor n't don't doesn't didn't isn't wasn't won't can't cannot couldn't
    shouldn't wouldn't will 'll i'll we'll would 'd i'd we'd should could can may might must
    shall if once when whenever unless until after before please want wants wanted need needs
    like prefer hope hoping expect suggest suggests ask asking be get gets getting
    request requests requested requesting
    looking forward seeing what which that who whom whose conflicts conflict conflicting
    wrongly mistakenly accidentally erroneously revert reverting reverted
    """
)
_SUBJECT_WORDS = frozenset(("i", "we", "i've", "we've", "ive", "weve", "he", "she", "they"))
# What a notice says it took: a part ("the first 4 patches", "patches 1-3", "1 and 2",
# "all but the last"), or the whole ("the series", "both", "all of them").
_SCOPE_FIRST = re.compile(
    r"(?i)\b(first|last)\s+(\d{1,3}|one|two|three|four|five|six|seven|eight|nine|ten)\b"
)
_SCOPE_NUMBERS = re.compile(
    r"(?i)\bpatch(?:es)?\s+#?(\d{1,3}(?:/\d{1,3})?(?:\s*(?:-|to|and|,|&)\s*(?:patch\s+)?"
    r"\d{1,3}(?:/\d{1,3})?)*)\b|^\s*(?:v\d+\s+)?(\d{1,3}\s*-\s*\d{1,3})\s|\[(\d{1,3})/\d{1,3}\]"
)
# A part: words that leave patches out, said of patches ("all but the last", "except patch
# 3", "skipped this patch", "leaving 2/5"), not of a tag or a tweak ("after dropping the Fixes
# tag", "with a few tweaks").
_SCOPE_SOME = re.compile(
    r"(?i)\b(?:except(?:\s+for)?|all\s+but|apart\s+from|other\s+than|but\s+not|leav(?:e|ing)"
    r"|dropp?(?:ed|ing)|skipp?(?:ed|ing)|without)\s+(?:the\s+|this\s+|that\s+)?"
    r"(?:last|first|final|patch(?:es)?\b|one\b|#?\d|\[\d)"
)
# The whole, as what was taken: before the verb ("Series applied", "Both applied", "Remainder
# of series applied") or as its object ("applied the series", "queued them all").
_WHOLE_WORDS = (
    r"(?:series|patch\s*set|patchset|set|all|both|whole|entire|everything|lot|pile|remainder)"
)
_SCOPE_WHOLE_BEFORE = re.compile(rf"(?i)\b{_WHOLE_WORDS}\b")
_SCOPE_WHOLE_AFTER = re.compile(
    rf"(?i)\s+(?:(?:the|this|these|those|your|whole|entire|full|complete|now|up)\s+)*"
    rf"(?:{_WHOLE_WORDS}|them|these)\b"
)
# A count of what was taken: "I've committed the two patches", "The 3 patches are applied".
_COUNTED = (
    r"(?:the\s+|these\s+|those\s+|all\s+)?"
    r"(\d{1,3}|one|two|three|four|five|six|seven|eight|nine|ten)\s+patch(?:es)?\b"
)
_SCOPE_COUNT_AFTER = re.compile(rf"(?i)\s+{_COUNTED}")
_SCOPE_COUNT_BEFORE = re.compile(rf"(?i)\b{_COUNTED}")
# b4's thank-you list of what was applied: "[2/3] fuse: call ..." then the commit's URL.
_B4_APPLIED = re.compile(r"^\s*\[(\d{1,3})/\d{1,3}\]\s+\S")
# patchwork-bot's "Here is the summary with links:" list: "  - [bpf-next,v2,1/3] bpf: ..."
# (the subject's tags, comma-separated, the number last), then on the next line the commit's
# URL, or "(no matching commit)" for a patch of the series this tree did not take.
_PWBOT_ITEM = re.compile(r"^\s*-\s+\[(?:[^\]]*,)?(\d{1,4})/\d{1,4}\]\s+\S")
# An item without a number ("  - [BlueZ] btdev: ..."): a patch of no series number.
_PWBOT_UNNUMBERED = re.compile(r"^\s*-\s+\[[^\]/]*\]\s+\S")
_PWBOT_NOT_TAKEN = "(no matching commit)"
# b4's thank-you note puts "commit: <sha>" under each patch it found in the tree and "(no
# commit info)" under one it did not (Vinod Koul took the PHY patch of a PHY + PCI series).
_B4_NOT_TAKEN = "(no commit info)"
_COUNT_WORDS = {
    w: i + 1
    for i, w in enumerate(
        ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
    )
}
_DETERMINERS = frozenset(("the", "a", "an", "this", "these", "those", "its", "their"))
_SUBJECTS = frozenset(("i", "i've", "ive", "we", "we've", "weve"))
# "I fixed the commit message as below and applied", "Pulled in the prereqs and then applied".
_COORDINATED = re.compile(
    r"(?i)^(?:(?:i|we)(?:'ve|’ve| have)?\s+)?(?:\w+ed|took|made|put|did|got)\b[^,;:]*?"
    r"\s(?:and|&|\+)\s+(?:then\s+|now\s+|also\s+)?$"
)
_TESTER = re.compile(
    r"""(?ix) \b(?:
        output | results? | rebuil[dt] | reproduc\w* | locally
        | on\ my\ (?:side|machine|box|system|setup|laptop)
        | kasan | crash\w* | no\ longer | the\ issue | the\ problem
        | works | worked | everything | fail(?:s|ed)? | (?<![-/])boot(?:s|ed)?
        | and\ (?:ran|run|tested|booted|checked)
    )\b"""
)
# These four are matched at the verb's end in its sentence (`.match(sentence, pos)`), so
# they carry no `^`; _PUSHED_AWAY_ANY is looked for anywhere after it.
# A verb followed by thanks ("... and pushed, thanks.", "Pushed thanks.", "merged. Thanks!")
# is a notice whatever words stand before it: maintainers say what they changed first ("I've
# changed the code slightly so that ... and pushed, thanks"), as a tree after it says too.
_THANKED = re.compile(r"(?i)[\s,.!;:-]*(?:many\s+)?(?:thanks|thank\s+you|thx)\b")
_QUOTES = frozenset("\"'“‘«„")
# A passive verb says what happened to its subject, which thanks does not make this series:
# "The dependency from Andrew's tree got merged, thanks" (only its own words may then stand
# before it: "This was merged, thanks").
_PASSIVE = frozenset(("was", "were", "got", "gets", "been", "is", "are", "be", "being"))
# An object that is someone else's work: "merged his commit", "merged alternative solution".
_OTHER_OBJECT = re.compile(
    r"(?i)\s+(?:his|her|their|another|other|alternative|an?\s+alternative|the\s+other"
    r"|a\s+different|someone|somebody)\b"
)
# What may follow "picked [it] up" in a notice: nothing, a tree, "now", "thanks", the series;
# not another object ("picked up Krzysztof's series doing the same": someone else's work),
# nor "picked up on" (noticed).
_PICKED_UP = re.compile(
    r"""(?ix) \s+ (?: (?: it|this|that|them|these|those|both|all|v\d+
        | the\ (?:patch|patches|series|fix|fixes|rest|set) ) \s+ )? up \b \s*
        (?: $ | [,.!:;)] | (?: now|for|into|in|to|thanks|thank|with|as|this|these|both
        | all|the\ (?:patch|patches|series|fix|fixes|rest|set)|v\d+ ) \b )"""
)
_PUSHED_OBJECT = re.compile(
    r"""(?ix) \s*(?: $ | [,.!:;)]
        | (?: it|this|that|them|these|those|both|all|out|to|into|in|on|onto|up|now|with|after
            | thanks|thank|thx
            | the\ (?:patch|patches|series|fix|fixes|pile|branch|changes?) | v\d+ )\b
    )"""
)
_PUSHED_AWAY = re.compile(
    r"(?ix) \s*(?:\w+\s+){0,2}(?:down|back|forward|aside|harder|further|through)\b"
)
_PUSHED_AWAY_ANY = re.compile(r"(?i)\b(?:0day|ci|robot|bot|github|gitlab)\b")
_TEST_MERGE = re.compile(r"(?i)\s*with\s+(?:linux-next|next|-next|master|mainline|upstream)")
_BACKPORT = re.compile(r"(?i)\b(?:backport\w*|stable)\b")
# "committed to providing ...": an adjective, not a notice (seen in spam replies).
_COMMITTED_TO_DOING = re.compile(r"(?i)\s*to\s+(?:\w+\s+)?\w+ing\b")
# Where a notice says the patches went: "to the vfs.fixes branch of the vfs/vfs.git tree",
# "to u-boot/next", "into torvalds/linux.git", "to jaegeuk/f2fs.git (dev)", "for -next".
_TREE_AFTER = re.compile(
    r"(?i)^\s*(?:(?:it|them|this|these|that|both|all|now|out|up|the|patch|patches|series|pile"
    r"|one|ones)\s+)*(?:to|into|onto|in|on|for)\s+(?:the\s+|my\s+|our\s+)?(?P<ref>[\w][\w./+@:~-]*|-[\w.-]+)"
    r"(?P<kind>\s+(?:branch|tree|repo|repository|queue))?"
    r"(?:\s+of\s+(?:the\s+)?(?P<repo>[\w][\w./+@:~-]*)(?:\s+(?:tree|repo|repository))?)?"
    r"(?:\s*\((?P<paren>[\w./+@:~-]+)\))?"
)
# Words after "applied to" that are not a tree: "applied to the wrong branch", "to my surprise".
_NOT_TREES = _words(
    "a an the my our your their this that it them me you him her us time order top master's"
    " next-week surprise wrong right previous latest current last first second"
)
_TREE_WORDS = _words(
    "master main dev devel development next for-next fixes testing test staging queue mainline"
    " stable experimental trunk linux-next"
)


def _clean_person_value(value: str) -> str:
    """Drop HTML-mail `<mailto:...>` junk and `# note` extras around a tag's person."""
    value = _MAILTO_JUNK.sub("", value)
    value = _EXTINFO.sub("", value).strip()
    return value


def _name_like(text: str) -> bool:
    """A bare name as people sign tags: capitalised words, a particle or two, no prose."""
    text = text.strip().strip("\"'").strip()
    if not text or len(text) > 64 or text.endswith((":", "?")) or "?" in text:
        return False
    tokens = text.split()
    if len(tokens) > 6:
        return False
    if len(tokens) == 1 and tokens[0].strip(".,").lower() in _NOT_NAMES:
        return False
    for i, tok in enumerate(tokens):
        core = tok.strip("\"'()[],.")
        if not core:
            continue
        if core.lower() in _NAME_PARTICLES and i + 1 < len(tokens):
            continue
        first = next((c for c in core if c.isalpha()), "")
        if not first or first.islower():
            return False
    return True


def _person_trailer(key: str, raw_value: str) -> Trailer | None:
    """A Trailer if `raw_value` names a person (address, or name with/without address)."""
    value = _clean_person_value(raw_value)
    if not value:
        return None
    angle = _ANGLE_ADDR.search(value)
    if angle:
        name_part = value[: angle.start()].strip()
        value = value[: angle.end()]  # drop notes after the address ("for the DT bits")
        if name_part and not _name_like_loose(name_part):
            return None
        t = make_trailer(key, value)
        if t.email is None:
            # parseaddr gives up on "Tester2, Followup <a@b>" and "Name [corp] <a@b>".
            name = name_part.strip().strip('"').strip() or None
            t = Trailer(t.key, value, name, angle.group(1).lower())
        return t
    bare = _ADDR.search(value)
    if bare:
        name_part = value[: bare.start()].strip()
        rest = value[bare.end() :].strip()
        if rest and not (rest.startswith("(") and rest.endswith(")")):
            return None
        if name_part and not _name_like_loose(name_part):
            return None
        return make_trailer(key, value)
    if _name_like(value):
        return make_trailer(key, value)
    return None


def _name_like_loose(text: str) -> bool:
    """The name before an address: anything short that is not a sentence."""
    text = text.strip()
    return len(text) <= 80 and len(text.split()) <= 8 and not text.endswith((":", "?"))


def _parse_trailer(line: str) -> Trailer | None:
    """A person trailer of one of the keys reviewers give, or None."""
    if ":" not in line:
        return None
    m = _TRAILER_LINE.match(line)
    if not m:
        return None
    key = _GIVEN_KEYS.get(m.group(1).lower())
    if key is None:
        return None
    return _person_trailer(key, m.group(2))


def _is_outlook_header(lines: list[str], i: int) -> bool:
    """A `From:` line opening a quoted original: `Sent:` or `Date:`+`To:` follow closely."""
    fields: set[str | None] = set()
    for line in lines[i + 1 : i + 6]:
        if not line.strip():
            break
        m = _OUTLOOK_FIELD.match(line)
        if m:
            fields.add(m.lastgroup)
    return "sent" in fields or {"date", "to"} <= fields


def _classify(lines: list[str]) -> tuple[bytearray, list[tuple[int, Trailer, bool]]]:
    """The role of each line, and the trailers found as (line index, trailer, indented)."""
    n = len(lines)
    roles = bytearray(n)
    found: list[tuple[int, Trailer, bool]] = []
    last = n - 1
    while last >= 0 and not lines[last].strip():
        last -= 1
    in_sig = in_outlook = pasted = False
    seen_text = False
    prev_trailer = -1  # index of the previous line when it was a trailer
    for i, line in enumerate(lines):
        s = line.strip()
        if not s:
            roles[i] = _BLANK
            continue
        if s[0] == ">" or in_outlook:
            roles[i] = _QUOTED
            continue
        if in_sig:
            roles[i] = _SIG
            continue
        # Signature and footers.
        if s == "--" or (i == last and s.startswith("-- ") and len(s) <= 40):
            roles[i] = _SIG
            in_sig = True
            continue
        if _UNDERSCORES.match(s):
            nxt = next((x for x in lines[i + 1 : i + 4] if x.strip()), "")
            if _OUTLOOK_FROM.match(nxt):
                in_outlook = True
                roles[i] = _QUOTED
            else:
                in_sig = True
                roles[i] = _SIG
            continue
        if _QUOTE_HEADER.match(s):
            # Zimbra writes the marker, then `> Von:`... and answers in between: only an
            # unquoted original below the marker is a bottom quote.
            nxt = next((x for x in lines[i + 1 : i + 4] if x.strip()), ">")
            in_outlook = not nxt.lstrip().startswith(">")
            roles[i] = _QUOTED
            continue
        if _OUTLOOK_FROM.match(s) and _is_outlook_header(lines, i):
            in_outlook = True
            roles[i] = _QUOTED
            continue
        if _GIT_FROM.match(s) or _SCISSORS.match(s):
            pasted = not pasted if _SCISSORS.match(s) else True
            roles[i] = _PASTED
            continue
        if pasted:
            roles[i] = _PASTED
            continue
        if not seen_text and _INBODY_HEADER.match(s):
            roles[i] = _HEADER  # in-body From:/Subject:/Date: of a resent message
            continue
        seen_text = True
        # Attribution lines ("On ..., X wrote:"), possibly wrapped over 2-3 lines.
        if s[-1] in ":：" and len(s) < 300:
            if _ATTR_END.search(s) or (_ATTR_OPEN.match(s) and _ATTR_VERB_INSIDE.search(s)):
                roles[i] = _ATTRIB
                for j in (i - 1, i - 2):
                    if j < 0 or roles[j] != _WRITTEN:
                        break
                    if _ATTR_OPEN.match(lines[j]):
                        for k in range(j, i):
                            roles[k] = _ATTRIB
                        break
                continue
            if i and roles[i - 1] == _WRITTEN and len(s) < 120:
                prev = lines[i - 1]
                if _ATTR_OPEN.match(prev) and _ATTR_VERB_INSIDE.search(prev):
                    roles[i - 1] = roles[i] = _ATTRIB
                    continue
        # Trailers and their continuation lines.
        if prev_trailer == i - 1 and found and found[-1][0] <= i - 1:
            idx, t, indented = found[-1]
            if t.email is None and _CONT_ADDR.match(s):
                merged = _person_trailer(t.key, f"{t.value} {s}")
                if merged is not None:
                    found[-1] = (idx, merged, indented)
                    roles[i] = _TRAILER
                    prev_trailer = i
                    continue
            if _CONT_NOTE.match(s):
                roles[i] = _TRAILER
                prev_trailer = i
                continue
        t = _parse_trailer(line)
        if t is not None:
            found.append((i, t, line[:1] in " \t"))
            roles[i] = _TRAILER
            prev_trailer = i
            continue
        roles[i] = _WRITTEN
    return roles, found


def _drop_examples(
    roles: bytearray, lines: list[str], found: list[tuple[int, Trailer, bool]]
) -> list[tuple[int, Trailer, bool]]:
    """Tags the sender shows rather than gives: a pasted commit message or tag list.

    A block is a run of `Key: value` lines. It is an example when it names several people
    and is indented ("I would suggest this ordering:" and the patch's own tags) or carries a
    Signed-off-by ("How about this commit message:" ... "Signed-off-by: <author>"), or when
    it is indented like the paragraph above it (a commit message pasted from `git log`).
    """
    if not found:
        return found
    keep: list[tuple[int, Trailer, bool]] = []
    block: list[tuple[int, Trailer, bool]] = []

    def pasted_indented(i: int) -> bool:
        indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
        if len(indent.expandtabs()) < 4:
            return False
        for j in range(i - 1, max(-1, i - 4), -1):
            if roles[j] == _BLANK:
                continue
            return roles[j] == _WRITTEN and lines[j].startswith(indent)
        return False

    def flush() -> None:
        people = {(t.email or t.name or "").lower() for _i, t, _ind in block}
        example = len(people) >= 2 and (
            all(ind for _i, _t, ind in block)
            or any(t.key == "Signed-off-by" for _i, t, _ind in block)
        )
        if example or pasted_indented(block[0][0]):
            for i, _t, _ind in block:
                roles[i] = _WRITTEN
        else:
            keep.extend(block)
            # Link:/Fixes:/Closes: lines given along with the tags are tags too.
            lo, hi = block[0][0], block[-1][0]
            while lo > 0 and roles[lo - 1] == _WRITTEN and _ANY_TRAILER.match(lines[lo - 1]):
                lo -= 1
                roles[lo] = _TRAILER
            while (
                hi + 1 < len(roles)
                and roles[hi + 1] == _WRITTEN
                and _ANY_TRAILER.match(lines[hi + 1])
            ):
                hi += 1
                roles[hi] = _TRAILER
        block.clear()

    for item in found:
        if block and any(
            roles[k] != _TRAILER and not _ANY_TRAILER.match(lines[k])
            for k in range(block[-1][0] + 1, item[0])
        ):
            flush()
        block.append(item)
    flush()
    return keep


def notice_tree(after: str) -> str:
    """The tree or branch named right after a notice verb, as written, else "". Pure.

    A ref is taken when it looks like one (a path, a dotted or dashed name, a word such as
    "next" or "fixes") or is called a branch, tree or queue: "applied to dev, thanks" names the
    dev branch; "applied to the wrong branch" names none.
    """
    m = _TREE_AFTER.match(after)
    if m is None:
        return ""
    ref = m.group("ref").rstrip(".,:;!)")
    if not ref or ref.lower() in _NOT_TREES:
        return ""
    looks = (
        bool(m.group("kind"))
        or bool(re.search(r"[./:-]", ref))
        or ref.lower() in _TREE_WORDS
        or any(ch.isdigit() for ch in ref)
    )
    if not looks:
        return ""
    repo = (m.group("repo") or "").rstrip(".,:;!)")
    if repo and repo.lower() not in _NOT_TREES:
        return f"{repo} {ref}"
    if m.group("paren"):
        return f"{ref} ({m.group('paren')})"
    return ref


def specific_tree(tree: str) -> bool:
    """Whether a notice's tree names one tree or branch ("togreg", "iio.git togreg",
    "vfs/vfs.git vfs.fixes"), not a generic word or a version ("next", "test", "v2"): an
    author's own notice counts as a merge only with one (metrics/backlog.py). Pure."""
    t = tree.strip().lower()
    return bool(t) and t not in _TREE_WORDS and not re.fullmatch(r"v?\d+(?:\.\d+)*(?:-rc\d+)?", t)


def notice_scope(sentence: str, start: int | None = None, end: int | None = None) -> str:
    """Which patches a notice's sentence says were taken (its verb at `start`:`end`, by
    default the first notice verb). Pure. "some" for a part it does not number ("all but the
    last", "leaving patch 2"), "first:N" / "last:N", "patches:1,2,3" for those named (a range
    written out), "count:N" for a number of patches it does not name ("I've committed the two
    patches"), "whole" for the series ("Series applied", "applied both"), "" when it does not
    say (then the patch it answers tells, metrics/backlog.py)."""
    if start is None or end is None:
        verb = _NOTICE_VERB.search(sentence)
        start, end = (verb.start(), verb.end()) if verb else (len(sentence), len(sentence))
    if _SCOPE_SOME.search(sentence):
        return "some"
    m = _SCOPE_FIRST.search(sentence)
    if m:
        n = m[2].lower()
        count = int(n) if n.isdigit() else _COUNT_WORDS[n]
        return f"{m[1].lower()}:{count}"
    m = _SCOPE_NUMBERS.search(sentence)
    if m:
        numbers: set[int] = set()
        text = m[1] or m[2] or m[3]
        for part in re.split(r"(?i)\s*(?:and|,|&)\s*(?:patch\s+)?", text):
            ends = [int(x.split("/")[0]) for x in re.split(r"(?i)\s*(?:-|to)\s*", part) if x]
            if len(ends) == 2 and 0 < ends[0] <= ends[1] <= ends[0] + 200:
                numbers.update(range(ends[0], ends[1] + 1))
            elif ends:
                numbers.add(ends[0])
        numbers.discard(0)
        if numbers:
            return "patches:" + ",".join(str(n) for n in sorted(numbers))
    clause = re.split(r"[,;:]", sentence[max(0, start - 80) : start])[-1]
    counted = _SCOPE_COUNT_AFTER.match(sentence, end) or _SCOPE_COUNT_BEFORE.search(clause)
    if counted:
        n = counted[1].lower()
        return f"count:{int(n) if n.isdigit() else _COUNT_WORDS[n]}"
    if _SCOPE_WHOLE_BEFORE.search(clause) or _SCOPE_WHOLE_AFTER.match(sentence, end):
        return "whole"
    return ""


def _notice_kinds(roles: bytearray, lines: list[str]) -> list[str]:
    """Notice kinds in the written paragraphs, in order (trailer lines are not read)."""
    return [f[0] for f in _notices(roles, lines)]


# A wrapped line that starts with a notice verb starts a sentence ("... though so\nApplied
# to the togreg branch"): joined to the line before it, the verb had a long clause before it.
_LINE_STARTS_NOTICE = re.compile(r"(?:Applied|Committed|Pushed|Queued|Merged|Picked)\b")


def _notices(roles: bytearray, lines: list[str]) -> list[tuple[str, str, str, bool]]:
    """(kind, tree, scope, bare) of each notice in the written paragraphs, in order, one per
    kind."""
    paragraphs: list[str] = []
    cur: list[str] = []
    for i, role in enumerate(roles):
        if role == _WRITTEN:
            line = lines[i].strip()
            if (
                cur
                and _LINE_STARTS_NOTICE.match(line)
                and not cur[-1].endswith((".", "!", "?"))
                and cur[-1].rsplit(None, 1)[-1].lower() not in _NOT_DONE
            ):
                cur[-1] += "."  # not "I would prefer this to be / Applied to ...": a wish
            cur.append(line)
        elif cur:
            paragraphs.append(" ".join(cur))
            cur = []
    if cur:
        paragraphs.append(" ".join(cur))
    found: list[tuple[str, str, str]] = []
    for para in paragraphs:
        if not _NOTICE_HINT.search(para):
            continue
        sentences = _SENTENCE_SPLIT.split(para)
        for at, sentence in enumerate(sentences):
            if not _NOTICE_HINT.search(sentence):
                continue
            index = None
            # "... and merged. Thanks!": thanks in the sentence after one that ends on its verb.
            after = sentences[at + 1] if at + 1 < len(sentences) else ""
            for m in _NOTICE_VERB.finditer(sentence):
                index = index or _SentenceIndex(sentence)
                thanked = bool(_THANKED.match(sentence, m.end())) or (
                    not sentence[m.end() :].strip(" .!") and bool(_THANKED.match(after))
                )
                kind = _notice_at(sentence, m, index, thanked)
                if kind and all(f[0] != kind for f in found):
                    # What the sentence says it took is read from its start when the words
                    # before the verb say nothing else; after a preamble that thanks lets
                    # stand ("I've fixed the last two tests and pushed, thanks"), from the
                    # verb on.
                    at = m.start() if thanked and not _plain_before(sentence, m.start()) else 0
                    found.append(
                        (
                            kind,
                            notice_tree(sentence[m.end() :]),
                            notice_scope(sentence[at:], m.start() - at, m.end() - at),
                            _bare(sentence, m.start(), m.end()),
                        )
                    )
    return found


# What may follow a notice's verb when it is said alone: nothing, thanks, or how ("with minor
# changes", "after making the suggested changes"); not an object ("pushed the patch",
# "pushed that", "pushed out a fix series", "pushed in the new patch").
_BARE_AFTER = re.compile(r"(?i)\s*(?:now\s*)?(?:$|[,.!;:)~]|(?:thanks|thank|thx|with|after)\b)")


# Adverbs between a passive auxiliary and its verb ("is already queued", "was just applied").
_BETWEEN = frozenset(("already", "just", "now", "also", "since", "recently", "meanwhile"))


def _passive_end(tokens: list[str]) -> bool:
    """Whether `tokens` (the words before a notice verb) end in a passive auxiliary, maybe
    followed by adverbs ("was", "is already")."""
    rest = list(tokens)
    while rest and rest[-1] in _BETWEEN:
        rest.pop()
    return bool(rest) and rest[-1] in _PASSIVE


def _fillers(tokens: list[str], subjects: frozenset[str] = frozenset()) -> bool:
    """Whether every word of `tokens` (lower case) carries nothing (`_FILLERS`, or one of
    `subjects`)."""
    return all(
        t.strip(".!,;") in _FILLERS or t in subjects or _FILLER_TOKEN.match(t) for t in tokens
    )


def _plain_before(sentence: str, start: int) -> bool:
    """Whether only words that carry nothing (`_FILLERS`, "I", "we") stand before `start`."""
    return _fillers(sentence[:start].replace("’", "'").lower().split(), _SUBJECTS)


def _bare(sentence: str, start: int, end: int) -> bool:
    """Whether the notice's verb is said alone: only words that carry nothing before it in
    its sentence (`_plain_before`), and no object after it (`_BARE_AFTER`). A maintainer's
    "Pushed, thanks." to their own series says they pushed it; an author's "I addressed
    your comment and pushed the patch" says they sent it."""
    return _plain_before(sentence, start) and bool(_BARE_AFTER.match(sentence, end))


# The clause before a notice's verb is a few words ("Thanks, applied", "I fixed the commit
# message as below and applied"): a longer one (of at most ten words, so of very long ones)
# is not read, which bounds what each verb of a sentence costs.
_MAX_BEFORE_VERB = 1000
_NON_BLANKS = re.compile(r"\S+")


class _SentenceIndex:
    """What `_notice_at` reads of a sentence around each verb, found once for all of them
    (each verb rescanned the whole sentence before and after it: quadratic in a sentence of
    verbs). Positions are the sentence's."""

    __slots__ = ("_last", "break_ends", "break_starts", "ends_asking", "questions", "text", "words")

    def __init__(self, sentence: str) -> None:
        self.text = sentence
        breaks = list(_CLAUSE_SPLIT.finditer(sentence))
        self.break_starts = [b.start() for b in breaks]
        self.break_ends = [b.end() for b in breaks]
        self.words = [w.start() for w in _NON_BLANKS.finditer(sentence)]
        self.questions = [i for i, c in enumerate(sentence) if c == "?"]
        self.ends_asking = sentence.rstrip().endswith("?")
        self._last: dict[re.Pattern[str], int] = {}

    def last_start(self, pattern: re.Pattern[str]) -> int:
        """The last position where `pattern` matches (-1 if none): it matches somewhere at or
        after `pos` exactly when this is >= pos."""
        last = self._last.get(pattern)
        if last is None:
            last, pos = -1, 0
            while (found := pattern.search(self.text, pos)) is not None:
                last = pos = found.start()
                pos += 1
            self._last[pattern] = last
        return last


def _notice_at(
    sentence: str, m: re.Match[str], index: _SentenceIndex | None = None, thanked: bool = False
) -> str | None:
    """The notice kind when the verb at `m` reports that something was taken, else None.
    `thanked`: the verb is followed by thanks (`_THANKED`), which says it as a tree does."""
    ix = index or _SentenceIndex(sentence)
    verb = m.group(1).lower()
    start, end = m.start(), m.end()
    # The clause the verb is in: from the last clause break before it to the next one. (No
    # break spans the verb, which is a word with a non-word after it: the sentence's breaks
    # are those of the text before it and after it.)
    k = bisect_right(ix.break_ends, start)
    clause_start = ix.break_ends[k - 1] if k else 0
    k = bisect_left(ix.break_starts, end)
    clause_end = ix.break_starts[k] if k < len(ix.break_starts) else None
    k = bisect_left(ix.questions, end)
    if k < len(ix.questions) and (clause_end is None or ix.questions[k] < clause_end):
        return None  # "Does this apply to ...?"
    if clause_end is None and ix.ends_asking:
        return None  # "has it been merged?"
    # More than ten words before the verb in its clause: no notice (tested first, as it is
    # cheap; every test above and below it returns None too).
    words = bisect_left(ix.words, start) - bisect_right(ix.words, clause_start)
    if clause_start < start and not sentence[clause_start].isspace():
        words += 1
    if start - clause_start > _MAX_BEFORE_VERB or (words > 10 and not thanked):
        return None
    if _OTHER_OBJECT.match(sentence, end):
        return None  # "merged his commit", "merged alternative solution"
    if sentence[start - 1 : start] in _QUOTES:
        return None  # 'an "applied, thanks" message': a notice quoted, not given
    local = sentence[clause_start:start]
    tokens = local.replace("’", "'").lower().split()
    if tokens and tokens[-1] in _DETERMINERS:
        return None  # "the merged patch", "this applied version"
    if tokens and tokens[0] in _DETERMINERS and any(t in _SUBJECT_WORDS for t in tokens[1:]):
        return None  # "The fix I applied to the togreg branch covers it": a relative clause
    personal = bool(tokens) and tokens[0] in _SUBJECTS
    # Followed by thanks, whatever was said before stands, unless a wish or denial is next to
    # the verb ("will be pushed, thanks"); otherwise the words before are read as below. A
    # tester's words are read in either case.
    if (
        thanked
        and not any(t.strip(".!,;") in _NOT_DONE for t in tokens[-4:])
        and not _passive_end(tokens)
    ):
        pass
    elif not _fillers(tokens):
        if _COORDINATED.match(local.strip() + " "):
            personal = True
        elif not (
            notice_tree(sentence[end:])
            and not any(t.strip(".!,;") in _NOT_DONE for t in tokens)
            # "The fix I applied to the togreg branch": a relative clause, not a notice.
            and not any(t in _SUBJECT_WORDS for t in tokens[1:])
            # "The kernel fix was merged into v6.0-rc3": what happened to something else,
            # "A change similar to this one is already queued for v6.14" too.
            and not _passive_end(tokens)
        ):
            return None
    if len(tokens) > 10 and not thanked:
        return None
    # _TESTER in what follows the verb (the character after it is no word character, so no
    # match starts right there), and when `personal` in the clause before it joined to it: a
    # match that starts before the join is decided within a few characters past it.
    tester = ix.last_start(_TESTER) > end
    if personal and not tester:
        joined = _TESTER.search(local + sentence[end : end + 64])
        tester = joined is not None and joined.start() <= len(local)
    if tester:
        return None  # "I applied your patch and here is the output"
    if verb == "pushed" and (
        not _PUSHED_OBJECT.match(sentence, end)
        or _PUSHED_AWAY.match(sentence, end)
        or ix.last_start(_PUSHED_AWAY_ANY) > end
    ):
        return None  # "pushed a test to", "pushed it down", "pushed this for 0day ci"
    if verb == "merged" and _TEST_MERGE.match(sentence, end):
        return None  # a test merge with linux-next
    if verb == "queued" and _BACKPORT.search(
        sentence, end, len(sentence) if clause_end is None else clause_end
    ):
        return None  # a stable-tree queue, not the patch being taken
    if verb == "committed" and _COMMITTED_TO_DOING.match(sentence, end):
        return None  # "committed to providing ...": devoted, not committed to a tree
    if verb == "picked" and not _PICKED_UP.match(sentence, end):
        return None  # "picked up Krzysztof's series doing the same thing"
    return verb


def analyze_reply(body: str) -> ReplyText:
    """Written/quoted line counts, trailers given and maintainer notices of a reply body."""
    lines = body.split("\n")
    roles, found = _classify(lines)
    found = _drop_examples(roles, lines, found)
    trailers = [t for _i, t, _ind in found]
    written = quoted = 0
    first: str | None = None
    for i, role in enumerate(roles):
        if role in (_WRITTEN, _PASTED):
            written += 1
            if first is None:
                first = lines[i].strip()
        elif role == _QUOTED:
            quoted += 1
    found_notices = _notices(roles, lines) if written else []
    fixed: tuple[str, ...] = ()
    if written and may_hold_hash(body):
        unquoted = [line for i, line in enumerate(lines) if roles[i] != _QUOTED]
        if may_name_fix("\n".join(unquoted)):
            fixed = fixing_commits(_written_paragraphs(roles, lines), unquoted)
    kinds = [f[0] for f in found_notices]
    # "Acked." / "NAK." / "Acked + applied." on a line of its own: a tag without a person,
    # unless more quoted text follows ("> please add a comment" / "Ack." acknowledges a point).
    last_quoted = max((i for i, r in enumerate(roles) if r == _QUOTED), default=-1)
    for i, role in enumerate(roles):
        if role != _WRITTEN or len(lines[i]) > 40 or i < last_quoted:
            continue
        m = _BARE_TAG.match(lines[i])
        if m:
            key = _NACK if m.group(1).lower().startswith("n") else "Acked-by"
            trailers.append(Trailer(key, "", None, None))
    return ReplyText(
        lines_written=written,
        lines_quoted=quoted,
        trailers=tuple(trailers),
        notices=tuple(kinds),
        notice_tree=next((f[1] for f in found_notices if f[1]), ""),
        notice_scope=_listed_scope(roles, lines) or found_notices[0][2] if found_notices else "",
        bare_kinds=tuple(f[0] for f in found_notices if f[3]),
        first_written_line=first,
        fixed_by=fixed,
    )


def _written_paragraphs(roles: bytearray, lines: list[str]) -> list[list[str]]:
    """The sender's written lines, in paragraphs (a blank, quoted or other line ends one).
    Where anything but blank lines stands between two paragraphs (quoted text, an
    attribution), an empty paragraph stands there too: the second does not follow the
    first (mail/fixedby.py reads a commit on the lines right after a sentence)."""
    out: list[list[str]] = []
    cur: list[str] = []
    apart = False
    for i, role in enumerate(roles):
        if role == _WRITTEN:
            if not cur and apart and out:
                out.append([])
            apart = False
            cur.append(lines[i])
            continue
        if cur:
            out.append(cur)
            cur = []
        if role != _BLANK:
            apart = True
    if cur:
        out.append(cur)
    return out


def _listed_scope(roles: bytearray, lines: list[str]) -> str:
    """The patches a notice lists as b4's thank-you does ("[1/3] iomap: ...", a line each,
    not quoted) or patchwork-bot's summary ("  - [v3,15/32] platform/chrome: ..." over the
    commit's URL), as a scope ("patches:1,2,3"), else "": the list says what was taken better
    than the sentence does, and a reply to patch 1 of a series without a cover letter
    speaks for all it lists.

    patchwork-bot says "This series was applied" when its tree took some of a series (a
    treewide series of 606 patches, three of them for one tree) and lists every patch it
    looked for, with "(no matching commit)" under those the tree did not take: those are
    not in the scope. A list of nothing taken is "some", never the whole. b4's "(no commit
    info)" under a patch is one the tree did not take when another patch of the list has
    its commit (a note with no commit at all, sent before the tree was pushed, lists what
    it took)."""
    listed: set[int] = set()
    b4_items: list[tuple[int, bool]] = []  # (number, without commit info)
    looked = unnumbered = False
    for i, role in enumerate(roles):
        if role not in (_WRITTEN, _PASTED):
            continue
        below = lines[i + 1].strip() if i + 1 < len(lines) else ""
        taken = below != _PWBOT_NOT_TAKEN
        if m := _B4_APPLIED.match(lines[i]):
            b4_items.append((int(m[1]), below == _B4_NOT_TAKEN))
        elif m := _PWBOT_ITEM.match(lines[i]):
            looked = True
            if taken:
                listed.add(int(m[1]))
        elif _PWBOT_UNNUMBERED.match(lines[i]) and taken:
            unnumbered = True  # a patch it cannot number: the patch it answers tells
    some_committed = any(not missing for _n, missing in b4_items)
    listed |= {n for n, missing in b4_items if not (missing and some_committed)}
    listed.discard(0)
    if listed:
        return "patches:" + ",".join(map(str, sorted(listed)))
    return "some" if looked and not unnumbered else ""


def given_trailers(body: str) -> tuple[Trailer, ...]:
    """The person trailers the sender gives in a reply (same rules as `analyze_reply`)."""
    return analyze_reply(body).trailers


# A maintainer taking back their own notice, in reply to it: "Sorry, this was done in error -
# dropped it." (Mark Brown), "My apologies Darrick, this message was triggered by accident. I
# didn't merge it" (a b4 thank-you sent by mistake), "Dropped for now so that ...",
# "Unapplied, ...", "And pulled out again." Read from the reply's first written line.
_TAKEN_BACK = re.compile(
    r"(?i)\b(?:done|sent|applied|triggered|pushed|merged|queued)\s+(?:\w+\s+)?"
    r"(?:in\s+error|by\s+(?:accident|mistake)|accidentally|mistakenly)\b"
    r"|\b(?:I|we)(?:'ve| have)? dropped (?:it|this|them|the series)\b"
    r"|\b(?:I|we) (?:didn'?t|did not|haven'?t|have not) (?:merge|apply|pick|queue)d?\s+"
    r"(?:it|this|them|the series)\b"
)
_UNDONE = re.compile(
    r"(?i)^\s*(?:and\s+)?(?:dropped|unapplied|backed\s+out|pulled\s+out|reverted)\b"
)
# Taken after all, or only a part taken back: "Dropped the Fixes tag and applied", "I didn't
# apply patch 2, the rest is in", "Applied by mistake to the wrong branch, moved it".
_DONE_AFTER = re.compile(r"(?i)\b(?:applied|queued|merged|pushed|picked)\b")
_A_PART = re.compile(
    r"(?i)\bpatch(?:es)?\s+#?\d|\bthe rest\b|\bexcept\b|\bmoved\b|\bwrong branch\b"
)


def is_retraction(first_line: str | None) -> bool:
    """Whether a reply to one's own notice takes it back, whole (see `_TAKEN_BACK`). Pure."""
    if not first_line or _A_PART.search(first_line):
        return False
    if _TAKEN_BACK.search(first_line):
        return True
    undone = _UNDONE.match(first_line)
    return undone is not None and not _DONE_AFTER.search(first_line, undone.end())
