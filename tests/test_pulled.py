"""A series a later pull request lists is merged by it: by its letter's shortlog (the kernel's
`git request-pull`) or by the Message-ID its patches point back to (QEMU's PULL patches). The
linux-iio audit found 29 of 148 open series, and 252 "unknown" ones, listed whole in a later
"[PULL] IIO ..." to Greg; on EROFS, Gao Xiang's "[GIT PULL] erofs ..." letters list the kernel
series the list reviewed."""

from __future__ import annotations

import json
import re
import sqlite3
import unicodedata
from pathlib import Path

from patchlens.config import Config
from patchlens.mail.shortlog import shortlog_subjects, spelling_key, spelling_keys
from patchlens.store.compression import decompress_text
from tests.conftest import data_path
from tests.helpers.xenqemu import build

LETTER = """\
The following changes since commit fe15c26ee26efa11741a7b632e9f23b01aca4cc6:

  Linux 6.3-rc1 (2023-03-05 14:52:03 -0800)

are available in the Git repository at:

  https://git.kernel.org/pub/scm/linux/kernel/git/jic23/iio.git tags/iio-for-6.4a

----------------------------------------------------------------
1st set of IIO new device support, features and cleanups for the 6.4 cycle.

* st,lsm6dsx
  - Add support for ASM330LHB automotive MEMS sensor.

----------------------------------------------------------------
Aidan MacDonald (2):
      iio: adc: axp20x_adc: Minor code cleanups
      iio: adc: axp20x_adc: Replace adc_en2 flag with adc_en2_mask field

Nuno Sá (1):
      iio: adc: ad7192: fix the name

 drivers/iio/adc/axp20x_adc.c | 12 ++++++------
 2 files changed, 6 insertions(+), 6 deletions(-)
"""


def test_the_shortlog_of_a_letter() -> None:
    assert shortlog_subjects(LETTER) == [
        ("Aidan MacDonald", "iio: adc: axp20x_adc: Minor code cleanups"),
        ("Aidan MacDonald", "iio: adc: axp20x_adc: Replace adc_en2 flag with adc_en2_mask field"),
        ("Nuno Sá", "iio: adc: ad7192: fix the name"),
    ]
    assert spelling_key("Nuno Sá") == spelling_key("sa, nuno") == "nuno sa"
    assert spelling_key("Liu Bo") in spelling_keys("Bo Liu via Linux-erofs")
    assert spelling_key("Hongyu Jin") in spelling_keys("金红宇 (Hongyu Jin)")
    assert shortlog_subjects("Applied, thanks.\n\n  indented text (1):\n") == []


def _words(name: str) -> set[str]:
    plain = unicodedata.normalize("NFKD", name.casefold())
    return set(re.findall(r"[a-z0-9]+", plain)) - {"via", "linux", "erofs"}


def _own_shortlog(body: str) -> dict[str, set[str]]:
    """Subject -> the words of its authors' names, read again here with a regex of our own
    from the "Name (N):" blocks."""
    out: dict[str, set[str]] = {}
    for who, block in re.findall(r"(?m)^(\S.*)\(\d+\):\n((?: {6}\S.*\n?)+)", body):
        for line in block.splitlines():
            if line.strip():
                out.setdefault(line.strip().casefold(), set()).update(_words(who))
    return out


def _title(subject: str) -> str:
    return re.sub(r"^(?:re:\s*)?(?:\[[^\]]*\]\s*)+", "", subject.casefold()).strip()


def test_erofs_series_listed_by_a_later_pull_request_are_merged_by_it(erofs_store) -> None:
    """Read again here with a regex of its own: every series one of whose versions a later
    pull request's letter lists whole, each patch under a name sharing a word with its
    author's and posted again in no other series before the pull request, is merged, when
    that version is not laid over another (a partial re-roll, a patch split out and sent
    alone: listed, it takes its places in that version only, metrics/backlog.py); every
    series merged by a pull request has a patch its letter lists, in a version sent before
    it (the notices before it may have taken the others)."""
    db, _engine, _ = erofs_store
    con = sqlite3.connect(str(db))
    letters: dict[str, dict[str, set[str]]] = {}
    for key, body in con.execute(
        "SELECT sv.series_key, m.body FROM series_versions sv "
        "JOIN version_members vm ON vm.version_key = sv.key "
        "JOIN messages m ON m.id = vm.message_pk WHERE sv.pull"
    ):
        text = decompress_text(body) if isinstance(body, bytes) else body
        for subject, names in _own_shortlog(text).items():
            letters.setdefault(key, {}).setdefault(subject, set()).update(names)
    sent = dict(con.execute("SELECT series_key, min(date) FROM series_versions GROUP BY 1"))
    assert sum(1 for s in letters.values() if s) > 50
    versions: dict[str, list[tuple[int, list[tuple[str, set[str]]], bool]]] = {}
    over: set[str] = set()  # versions laid over another
    patches: dict[str, list[tuple[str, set[str]]]] = {}
    dates: dict[str, tuple[str, int]] = {}
    for key, vkey, vdate, subject, sender, author, laid in con.execute(
        "SELECT sv.series_key, sv.key, sv.date, m.subject, m.from_name, a.author_name, "
        "sv.partial AND sv.seq > 1 "
        "FROM series_versions sv JOIN version_members vm ON vm.version_key = sv.key "
        "AND vm.idx > 0 JOIN messages m ON m.id = vm.message_pk "
        "JOIN message_analysis a ON a.message_pk = m.id "
        "JOIN series_metrics sm ON sm.series_key = sv.series_key"
    ):
        patches.setdefault(vkey, []).append((_title(subject), _words(author or sender or "")))
        dates[vkey] = (key, vdate)
        if laid:
            over.add(vkey)
    for vkey, ps in patches.items():
        key, vdate = dates[vkey]
        versions.setdefault(key, []).append((vdate, ps, vkey in over))
    merged = dict(con.execute("SELECT series_key, merged FROM series_metrics"))
    # Each title's postings (date, series, author's words): a title posted again in another
    # series before the pull request is that posting's, not the older one's.
    postings: dict[str, list[tuple[int, str, set[str]]]] = {}
    for vkey, ps in patches.items():
        key, vdate = dates[vkey]
        for t, who in ps:
            postings.setdefault(t, []).append((vdate, key, who))

    def superseded(key: str, vdate: int, t: str, who: set[str], until: int) -> bool:
        return any(vdate < d <= until and other != key and w & who for d, other, w in postings[t])

    whole = {
        key
        for key, vs in versions.items()
        if any(
            vdate <= sent[pull]
            and all(
                listed.get(t, set()) & who and not superseded(key, vdate, t, who, sent[pull])
                for t, who in ps
            )
            for vdate, ps, laid in vs
            if not laid
            for pull, listed in letters.items()
        )
    }
    assert len(whole) > 100
    assert {k for k in whole if merged[k] != "fully"} == set()
    pulled = con.execute(
        "SELECT series_key, json_extract(merge_evidence, '$.message_id') FROM series_metrics "
        "WHERE json_extract(merge_evidence, '$.kind') = 'pull request' AND merged = 'fully'"
    ).fetchall()
    assert len(pulled) > 100
    for key, pull in pulled:
        assert any(
            vdate <= sent[pull] and any(t in letters[pull] for t, _who in ps)
            for vdate, ps, _laid in versions[key]
        ), (key, pull)


def test_a_pull_requests_patches_pointing_back_merge_the_series(tmp_path: Path) -> None:
    """QEMU's PULL patches carry a Message-ID: trailer naming the posting they were applied
    from: Thomas Huth's v2 of "tests/functional: Fix broken decorators" (2 patches) is merged
    by his "[PULL 00/20]", although nobody said "applied" on the list."""
    mbox = data_path("xen-qemu-samples", "qemu-functional-decorators.mbox")
    engine = build(tmp_path, mbox)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT series_key, merged, merge_evidence FROM series_metrics"
        ).all()
        items = conn.exec_driver_sql("SELECT kind, value FROM pull_items ORDER BY value").all()
    # The PULL's patches point back to the v2 patches; its cover lists all 20 subjects.
    assert [tuple(r) for r in items if r.kind == "message"] == [
        ("message", "20250122134315.1448794-2-thuth@redhat.com"),
        ("message", "20250122134315.1448794-3-thuth@redhat.com"),
    ]
    assert sum(1 for r in items if r.kind == "subject") == 20
    (row,) = rows
    assert row.merged == "fully"
    assert '"kind": "pull request"' in row.merge_evidence
    assert "20250130131535.91297-1-thuth@redhat.com" in row.merge_evidence


def test_a_pull_request_arriving_later_merges_the_series_it_lists(tmp_path: Path) -> None:
    """The series is stored unmerged; the next update brings the pull request that lists it:
    it is merged then, with its merge date (what its dependents wait for, the prediction's
    history), and the store equals one built from all the mail at once."""
    from patchlens.stages import ingest
    from patchlens.stages.pipeline import run_stages
    from patchlens.stages.progress import Reporter
    from patchlens.store.db import open_store
    from tests.helpers.storedump import logical_dump

    text = data_path("xen-qemu-samples", "qemu-functional-decorators.mbox").read_text()
    at = text.index("From MAILER-DAEMON", text.index("Subject: Re: [PATCH v2 1/2]"))
    growing = tmp_path / "l.mbox"
    growing.write_text(text[:at])
    quiet = Reporter(quiet=True)

    def update(engine, cache: Path) -> None:
        reports = ingest.run_update(engine, cache, quiet, jobs=1)
        assert not [r.error for r in reports if r.error]
        run_stages(engine, Config(), cache, quiet, jobs=1)

    steps = open_store(str(tmp_path / "steps.db"))
    ingest.add_list(steps, "l", [str(growing)])
    update(steps, tmp_path / "c1")

    def merged() -> tuple:
        with steps.connect() as conn:
            return conn.exec_driver_sql("SELECT merged, merge_changes FROM series_metrics").one()

    assert merged()[0] == "none"
    growing.write_text(text)
    update(steps, tmp_path / "c1")
    state, changes = merged()
    assert state == "fully" and json.loads(changes)[-1][1] == 1
    once = open_store(str(tmp_path / "once.db"))
    ingest.add_list(once, "l", [str(growing)])  # the same file, whole now
    update(once, tmp_path / "c2")
    steps.dispose()
    once.dispose()
    a, b = logical_dump(tmp_path / "steps.db"), logical_dump(tmp_path / "once.db")
    assert a["pull_items"] and [t for t in a if a[t] != b[t]] == []
