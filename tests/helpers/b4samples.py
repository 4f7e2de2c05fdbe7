"""b4's follow-up samples (fixtures/b4 of the real data, ../shared/data: b4's own test
mailboxes and the output b4 expects from them), hand-labelled with the trailers each
follow-up gives, and the readers that take b4's expected output apart. Shared by the
reply-text tests and the review pipeline's tests, which check the same samples end to end."""

from __future__ import annotations

import email.message
import mailbox
import re

from tests.conftest import data_path

B4_SAMPLES = ("fixtures", "b4", "src", "tests", "samples")
# The person trailers a reviewer gives (what `given_trailers` returns); b4 also carries
# Link:/Closes: from follow-ups, which are not people.
PERSON_KEYS = {
    "reviewed-by",
    "acked-by",
    "tested-by",
    "nacked-by",
    "reported-by",
    "suggested-by",
    "release-acked-by",
    "reported-and-tested-by",
    "co-developed-by",
    "signed-off-by",
}
B4_OWN_SOB = "Signed-off-by: Test Override <test-override@example.com>"
_TRAILER_LINE = re.compile(r"^([A-Za-z][A-Za-z-]*): (\S.*)$")

# Exactly what each follow-up gives, labelled by hand. b4's defaults then keep only the tags
# whose address or name matches the sender (so "Mismatched Reviewer1 <...example.net>" sent
# from example.com is parsed but not attributed: the -ref-sloppy output shows it added).
B4_FOLLOWUPS: dict[str, dict[str, list[str]]] = {
    "trailers-followup-single": {
        "fwup-message-1@example.com": [
            "Reviewed-by: Followup Reviewer1 <followup-reviewer1@example.com>"
        ],
        "fwup-message-2@example.com": [
            "Tested-by: Followup Reviewer2 <followup-reviewer2@example.com>"
        ],
        "fwup-message-3@example.com": [
            "Reviewed-by: Mismatched Reviewer1 <mismatched-reviewer1@example.net>"
        ],
    },
    "trailers-followup-bare-address": {
        "fwup-message-1@example.com": [
            "Reviewed-by: Followup Reviewer1 (corporate) <followup-reviewer1@example.com>"
        ],
        "fwup-message-2@example.com": [
            "Tested-by: Followup Reviewer2 <followup-reviewer2@example.com>"
        ],
        "fwup-message-3@example.com": [
            "Reviewed-by: Mismatched Reviewer1 <mismatched-reviewer1@example.net>"
        ],
    },
    "trailers-followup-name-parens": {
        "fwup-message-1@example.com": [
            "Reviewed-by: Followup Reviewer1 (corporate) <followup-reviewer1@example.com>"
        ],
        "fwup-message-2@example.com": [
            "Tested-by: Followup Reviewer2 <followup-reviewer2@example.com>"
        ],
        "fwup-message-3@example.com": [
            "Reviewed-by: Mismatched Reviewer1 <mismatched-reviewer1@example.net>"
        ],
        "fwup-message-4@example.com": [
            "Tested-by: Followup Tester1 [corporate] <followup-tester1@example.com>"
        ],
        "fwup-message-5@example.com": [
            "Tested-by: Tester2, Followup <followup-tester2@example.com>"
        ],
    },
    "trailers-followup-custody": {
        "fwup-message-1@example.com": [
            "Reviewed-by: Followup Reviewer1 <followup-reviewer1@example.com>"
        ],
        "fwup-message-2@example.com": [
            "Tested-by: Followup Reviewer2 <followup-reviewer2@example.com>"
        ],
    },
    "trailers-followup-htmljunk": {
        "fwup-message-1@example.com": ["Reviewed-by: HTML Junker <html-junker@example.com>"],
    },
    "trailers-followup-nore": {
        "fwup-message-1@example.com": [
            "Reviewed-by: Followup Reviewer1 <followup-reviewer1@example.com>"
        ],
    },
    "trailers-followup-stripped-lines": {
        "fwup-message-1@example.com": [
            "Reviewed-by: Followup Reviewer1 <followup-reviewer1@example.com>"
        ],
    },
    "trailers-followup-with-diffstat": {
        "fwup-message-1@example.com": [
            "Reviewed-by: Followup Reviewer1 <followup-reviewer1@example.com>"
        ],
    },
    "trailers-followup-non-git-patch": {
        "fwup-message-1@example.com": [
            "Reviewed-by: Followup Reviewer1 <followup-reviewer1@example.com>"
        ],
    },
    "trailers-followup-non-git-patch-with-comments": {
        "fwup-message-1@example.com": [
            "Reviewed-by: Followup Reviewer1 <followup-reviewer1@example.com>"
        ],
    },
    "trailers-followup-with-cover": {
        "fwup-message-1@example.com": [
            "Reviewed-by: Followup Reviewer1 <followup-reviewer1@example.com>"
        ],
        "fwup-message-2@example.com": [
            "Reviewed-by: Coverletter Reviewer1 <followup-reviewer1@example.com>"
        ],
    },
    # fwup-message-1 answers v2 2/2, which v3 2/2 replaced: b4 does not carry its tag over.
    "trailers-followup-partial-reroll": {
        "fwup-message-1@example.com": [
            "Reviewed-by: Followup Reviewer1 <followup-reviewer1@example.com>"
        ],
        "fwup-message-2@example.com": [
            "Reviewed-by: Coverletter Reviewer1 <followup-reviewer1@example.com>"
        ],
    },
    # Miguel quotes the patch's own tags, indented, to suggest an order: he gives none.
    "trailers-followup-already-present": {
        "fwup-message-1@example.com": [],
        "fwup-message-2@example.com": ["Tested-by: Someone Else <someone-else@example.com>"],
    },
    "trailers-thread-with-followups": {
        "fwup1@example.org": ["Reviewed-by: Follow Upper <follow.upper@example.org>"],
    },
    "trailers-thread-with-cover-followup": {
        "fwup1@example.org": ["Tested-by: Follow Upper <follow.upper@example.org>"],
        "cover-fwup1@example.org": ["Reviewed-by: Cover Upper <cover.upper@example.org>"],
    },
}
# The expected b4 output for each sample: `b4 shazam`/`b4 am` defaults, except custody (no
# defaults file: the unordered one keeps b4's order) and already-present (b4 adds nothing).
B4_REFS = {
    "trailers-followup-custody": "trailers-followup-custody-ref-unordered.txt",
    "trailers-followup-already-present": None,
    "trailers-thread-with-followups": "trailers-thread-with-followups.verify",
    "trailers-thread-with-cover-followup": "trailers-thread-with-cover-followup.verify",
}


def text_body(msg: email.message.Message) -> str:
    """The first text/plain part, decoded (b4's samples are plain mail)."""
    for part in msg.walk():
        if part.get_content_type() == "text/plain" and not part.is_multipart():
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8", "replace")
    return ""


def msgid(msg: email.message.Message, header: str = "Message-Id") -> str:
    """A Message-ID header (or In-Reply-To) without its angle brackets."""
    return (msg.get(header) or "").strip().strip("<>")


def person_trailers(body: str) -> set[str]:
    """Person trailer lines of a patch's commit message (above `---` or the diff)."""
    found = set()
    for line in body.split("\n"):
        if line == "---" or line.startswith(("diff ", "--- a/")):
            break
        m = _TRAILER_LINE.match(line)
        if m and m.group(1).lower() in PERSON_KEYS and line != B4_OWN_SOB:
            found.add(line.rstrip())
    return found


def ref_trailers(sample: str, by_subject: dict[str, str]) -> dict[str, set[str]]:
    """Message-ID of each patch -> the person trailers b4 gives it in its expected output."""
    ref = B4_REFS.get(sample, f"{sample}-ref-defaults.txt")
    if ref is None:
        return {}
    path = data_path(*B4_SAMPLES, ref)
    out: dict[str, set[str]] = {}
    if ref.endswith(".verify"):
        # `<author email>\n<subject>\n<body>` blocks, separated by `---` lines.
        for block in path.read_text().split("\n---\n"):
            lines = block.strip("\n").split("\n")
            if len(lines) >= 2:
                out[by_subject[lines[1]]] = person_trailers("\n".join(lines[2:]))
        return out
    for msg in mailbox.mbox(path):
        out[msgid(msg)] = person_trailers(text_body(msg))
    return out
