"""The core parsers and the reconstruction on small scenario mailboxes written for the tests.

Each `tests/fixtures/scenarios/NN-*.mbox` tells one review story with made-up people at
example.org (the README there says what each one holds and what a maintainer expects of it);
b4 and Patchwork keep such mailboxes beside their tests for the same reason: a parser or a
grouping rule can be checked against a story whose right answer is known, without the real
archives in ../shared/data. Every expected value below was written from the story, not read
back from the output.

Two halves per scenario:
- the pure parsers on the raw messages (`mail.parse`, `mail.subject`, `mail.trailers`,
  `mail.diff`, `mail.replytext`, and the pure helpers of `review.model` and `identity.bots`);
- the reconstruction through the CLI as a user runs it (`patchlens add-list NAME FILE` for each
  mailbox, then one `patchlens update`) into a temporary SQLite store, read back from the
  store's tables: series, versions, members, replies, trailers, threads, notices, metrics, and
  the backlog state as of 2025-06-25 (every scenario happens in June 2025).
"""

from __future__ import annotations

import calendar
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from patchlens.cli import app
from patchlens.identity.bots import BotMatcher
from patchlens.mail.diff import FileStat, file_stats
from patchlens.mail.parse import ParsedMessage, parse_message
from patchlens.mail.patchid import patch_id
from patchlens.mail.replytext import analyze_reply
from patchlens.mail.subject import parse_subject
from patchlens.mail.trailers import parse_trailers
from patchlens.metrics.backlog import decide
from patchlens.metrics.backlog import state as backlog_state
from patchlens.queries.evidence import load_series
from patchlens.queries.selection import stored_facts
from patchlens.review.model import (
    commit_message,
    find_change_id,
    is_request_pull,
    mentioned_ids,
    notes,
)
from patchlens.sources.mbox import iter_mbox
from patchlens.store import schema
from patchlens.store.db import open_store

SCENARIOS = Path(__file__).parent / "fixtures" / "scenarios"
MAILBOXES = sorted(SCENARIOS.glob("[0-9][0-9]-*.mbox"))
AS_OF = calendar.timegm((2025, 6, 25, 0, 0, 0))


def utc(day: int, hour: int, minute: int = 0, second: int = 0) -> int:
    """A time in June 2025, UTC."""
    return calendar.timegm((2025, 6, day, hour, minute, second))


def raw_messages(name: str) -> list[bytes]:
    """The raw messages of a scenario mailbox, split as ingest splits it."""
    with (SCENARIOS / f"{name}.mbox").open("rb") as f:
        return [raw for _start, _end, raw, _date in iter_mbox(f)]


def parsed(name: str) -> dict[str, ParsedMessage]:
    """The parsed messages of a scenario by Message-ID (the first copy of a repeated one)."""
    out: dict[str, ParsedMessage] = {}
    for raw in raw_messages(name):
        p = parse_message(raw)
        out.setdefault(p.message_id, p)
    return out


# --- the store, built once through the CLI ----------------------------------------------------


class Store:
    """Read-back helpers over the scenario store: one question per method, answered from the
    tables the stages write, so a test reads as the scenario's expected outcome."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def rows(self, query: Any) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def pk(self, message_id: str) -> int:
        m = schema.messages
        (row,) = self.rows(select(m.c.id).where(m.c.message_id == message_id))
        return row["id"]

    def series(self, key: str) -> dict[str, Any]:
        (row,) = self.rows(select(schema.series).where(schema.series.c.key == key))
        return row

    def versions(self, series_key: str) -> list[dict[str, Any]]:
        sv = schema.series_versions
        return self.rows(select(sv).where(sv.c.series_key == series_key).order_by(sv.c.seq))

    def members(self, version_key: str) -> dict[int, str]:
        """idx -> Message-ID of a version's postings (0: the cover letter)."""
        vm, m = schema.version_members, schema.messages
        q = (
            select(vm.c.idx, m.c.message_id)
            .join(m, m.c.id == vm.c.message_pk)
            .where(vm.c.version_key == version_key)
        )
        return {r["idx"]: r["message_id"] for r in self.rows(q)}

    def reply(self, message_id: str) -> dict[str, Any]:
        r = schema.replies
        (row,) = self.rows(select(r).where(r.c.message_pk == self.pk(message_id)))
        return row

    def given(self, message_id: str) -> list[tuple[str, str | None, str | None]]:
        """(key, name, email) of the trailers a reply gives, in order."""
        t = schema.message_trailers
        q = (
            select(t.c.key, t.c.name, t.c.email)
            .where(t.c.message_pk == self.pk(message_id), t.c.given)
            .order_by(t.c.seq)
        )
        return [(r["key"], r["name"], r["email"]) for r in self.rows(q)]

    def carried(self, message_id: str) -> list[str]:
        """Keys of the trailers a posting carries in its commit message, in order."""
        t = schema.message_trailers
        q = (
            select(t.c.key)
            .where(t.c.message_pk == self.pk(message_id), ~t.c.given)
            .order_by(t.c.seq)
        )
        return [r["key"] for r in self.rows(q)]

    def thread(self, message_id: str) -> dict[str, Any]:
        t = schema.message_threads
        (row,) = self.rows(select(t).where(t.c.message_pk == self.pk(message_id)))
        return row

    def analysis(self, message_id: str) -> dict[str, Any]:
        a = schema.message_analysis
        (row,) = self.rows(select(a).where(a.c.message_pk == self.pk(message_id)))
        return row

    def metrics(self, series_key: str) -> dict[str, Any]:
        sm = schema.series_metrics
        (row,) = self.rows(select(sm).where(sm.c.series_key == series_key))
        return row

    def state(self, series_key: str, when: int = AS_OF) -> str:
        """The backlog state as of `when`, recomputed from the series as it stood then; as of
        AS_OF (after every event) it must equal what the facts stored in series_metrics give,
        which is what the dashboard and `report` show."""
        with self.engine.connect() as conn:
            (se,) = [s for s in load_series(conn) if s.key == series_key]
        then = backlog_state(se, when, repo_registered=False)
        assert then is not None, "not posted yet"
        if when == AS_OF:
            r = self.metrics(series_key)
            assert decide(stored_facts(r), when) == then
        return then

    def series_of_list(self, name: str) -> set[str]:
        """Keys of the series with a posting seen on the list `name`."""
        sv, vm = schema.series_versions, schema.version_members
        ms, ml = schema.message_sightings, schema.mailing_lists
        q = (
            select(sv.c.series_key)
            .join(vm, vm.c.version_key == sv.c.key)
            .join(ms, ms.c.message_pk == vm.c.message_pk)
            .join(ml, ml.c.id == ms.c.list_id)
            .where(ml.c.name == name)
            .distinct()
        )
        return {r["series_key"] for r in self.rows(q)}

    def count(self, table: Any, *where: Any) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """Every scenario registered as its own list, then one update, as a user would run it."""
    db = tmp_path_factory.mktemp("scenarios") / "scenarios.db"
    runner = CliRunner()
    for mbox in MAILBOXES:
        res = runner.invoke(app, ["--db", str(db), "-q", "add-list", mbox.stem, str(mbox)])
        assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["--db", str(db), "-q", "update"])
    assert res.exit_code == 0, res.output
    engine = open_store(str(db))
    yield Store(engine)
    engine.dispose()


# The series each scenario must come out as, by the Message-ID that anchors the first version.
EXPECTED_SERIES = {
    "01-series-v1-v2": {"20250602090000.1000-0-alice@example.org"},
    "02-no-cover-letter": {"20250602140000.77-1-carol@example.org"},
    "03-resend": {"20250603162000.4242-1-dave@example.com"},
    "04-partial-reroll": {"20250604080000.900-0-erin@example.org"},
    "05-review-trailers": {"20250609100000.31-0-gina@example.org"},
    "06-bot-reply": {"20250611120000.5-1-jack@example.org"},
    "07-applied-notice": {"20250616080000.12-1-kate@example.org"},
    "08-git-pull": {"aFJ8pull-frob-fixes@max.example.org"},
    "09-broken-thread": {"20250610150000.88-1-liam@example.org"},
    "10-odd-subjects": {
        "20250612090000.301-1-olga@example.org",
        "20250612130000.17-1-pete@example.net",
        "20250613070000.1-0-quinn@example.org",
    },
    "11-encoded-headers": {"20250616100000.4711-1-rene@example.org"},
    "12-rename-binary": {"20250617110000.61-1-sam@example.org"},
    "13-duplicate-message-id": {"20250618140000.222-1-tina@example.org"},
    "14-change-id-base-commit": {"20250619-shax-free-v1-1-0d1e2f3a4b5c@example.org"},
}


def test_every_mailbox_is_a_scenario_of_this_file() -> None:
    assert {m.stem for m in MAILBOXES} == set(EXPECTED_SERIES)
    readme = (SCENARIOS / "README.md").read_text(encoding="utf-8")
    assert all(f"`{m.name}`" in readme for m in MAILBOXES), "each mailbox is described"


def test_each_scenario_is_exactly_its_series(store: Store) -> None:
    """No story split in two, merged with another, or lost."""
    got = {name: store.series_of_list(name) for name in EXPECTED_SERIES}
    assert got == EXPECTED_SERIES
    assert store.count(schema.series) == sum(len(v) for v in EXPECTED_SERIES.values())
    assert store.count(schema.quarantine) == 0


# --- 01: a 3-patch series with cover letter, reviewed, re-rolled as v2 with a changelog ----------

ALICE_V1 = "20250602090000.1000-0-alice@example.org"
ALICE_V2 = "20250605090000.2000-0-alice@example.org"
BOB_V1 = "aD6xk1bob@example.net"
BOB_V2 = "aEKb0bob@example.net"


def test_01_parsers() -> None:
    msgs = parsed("01-series-v1-v2")
    cover = msgs[ALICE_V1]
    assert (cover.from_name, cover.from_addr) == ("Alice Archer", "alice@example.org")
    # "Mon, 2 Jun 2025 11:00:00 +0200" is 09:00 UTC, sent from two hours east.
    assert (cover.date_utc, cover.date_offset) == (utc(2, 9), 120)
    assert not cover.has_patch and cover.in_reply_to is None
    s = parse_subject(msgs[ALICE_V2].subject)
    assert (s.is_patch, s.version, s.index, s.total) == (True, 2, 0, 3)
    assert s.title == "frob: tidy the frobnicator"
    # The v2 changelog points at v1: the link version linking reads.
    assert mentioned_ids(msgs[ALICE_V2].body) == {ALICE_V1}

    p2 = msgs["20250605090000.2000-2-alice@example.org"]
    assert p2.has_patch and p2.patch_kind == "format-patch"
    assert p2.diff is not None
    assert file_stats(p2.diff) == [
        FileStat("frob.c", None, 0, 2, False),
        FileStat("frob_sysfs.c", None, 0, 2, False),
    ]
    (sob,) = parse_trailers(commit_message(p2.body))
    assert (sob.key, sob.name, sob.email) == ("Signed-off-by", "Alice Archer", "alice@example.org")

    bob1 = msgs[BOB_V1]
    assert bob1.in_reply_to == "20250602090000.1000-2-alice@example.org"
    assert bob1.refs.split() == [ALICE_V1, "20250602090000.1000-2-alice@example.org"]
    assert analyze_reply(bob1.body).trailers == ()  # asks for changes: no tag
    bob2 = analyze_reply(msgs[BOB_V2].body)
    assert [(t.key, t.email) for t in bob2.trailers] == [("Reviewed-by", "bob@example.net")]
    # The attribution and the quote are not written; the question under the tag is (2 lines).
    assert (bob2.lines_written, bob2.lines_quoted) == (2, 1)
    assert bob2.notices == ()


def test_01_series_of_two_versions(store: Store) -> None:
    se = store.series(ALICE_V1)
    assert (se["n_versions"], se["latest_version_key"]) == (2, ALICE_V2)
    assert (se["author_name"], se["title"]) == ("Alice Archer", "frob: tidy the frobnicator")
    v1, v2 = store.versions(ALICE_V1)
    assert (v1["key"], v1["seq"], v1["version"], v1["prev_key"]) == (ALICE_V1, 1, 1, None)
    assert (v2["key"], v2["seq"], v2["version"], v2["prev_key"]) == (ALICE_V2, 2, 2, ALICE_V1)
    assert json.loads(v2["link_evidence"]).keys() >= {"link-in-changelog", "same-title"}
    for v, stamp in ((v1, "20250602090000.1000"), (v2, "20250605090000.2000")):
        assert (v["total"], v["n_patches"], json.loads(v["missing"])) == (3, 3, [])
        assert store.members(v["key"]) == {i: f"{stamp}-{i}-alice@example.org" for i in range(4)}
        assert v["cover_pk"] == store.pk(f"{stamp}-0-alice@example.org")


def test_01_replies_and_state(store: Store) -> None:
    bob1 = store.reply(BOB_V1)
    assert (bob1["version_key"], bob1["addressed_idx"]) == (ALICE_V1, 2)
    assert not bob1["is_author"] and not bob1["is_bot"]
    alice = store.reply("a1ce-re-bob@example.org")
    assert (alice["version_key"], alice["addressed_idx"], alice["is_author"]) == (ALICE_V1, 2, True)
    bob2 = store.reply(BOB_V2)
    assert (bob2["version_key"], bob2["addressed_idx"]) == (ALICE_V2, 3)
    assert store.given(BOB_V2) == [("Reviewed-by", "Bob Baker", "bob@example.net")]
    m = store.metrics(ALICE_V1)
    assert (m["versions"], m["patches"], m["review_replies"], m["reviewers"], m["reviews"]) == (
        2,
        3,
        2,
        1,
        1,
    )
    # v2's diffs: +6 (1/3), -2 -2 (2/3 over two files), +3 (3/3).
    assert (m["lines_added"], m["lines_removed"], m["files_changed"]) == (9, 4, 2)
    assert m["time_to_first_response"] == pytest.approx(23.25)  # 09:00 -> next day 08:15
    assert m["time_to_first_review"] == pytest.approx(94.5)  # Bob's Reviewed-by on v2
    assert m["rework_time"] == pytest.approx(48.75)  # Bob on v1 -> v2 posted
    assert m["cycle_time"] == pytest.approx(72.0)
    # Bob reviewed 3/3 and asked about 2/3: the ball is with Alice.
    assert store.state(ALICE_V1) == "waiting on author"
    assert store.state(ALICE_V1, utc(3, 12)) == "under review"  # Alice answered Bob on v1


# --- 02: a series without cover letter --------------------------------------------------------

CAROL_1 = "20250602140000.77-1-carol@example.org"


def test_02_parsers() -> None:
    msgs = parsed("02-no-cover-letter")
    s1, s2 = (parse_subject(p.subject) for p in msgs.values())
    assert (s1.index, s1.total, s2.index, s2.total) == (1, 2, 2, 2)
    second = msgs["20250602140000.77-2-carol@example.org"]
    assert second.in_reply_to == CAROL_1
    assert second.diff is not None
    assert file_stats(second.diff) == [FileStat("drivers/gizmo/core.c", None, 3, 1, False)]


def test_02_first_patch_anchors_the_version(store: Store) -> None:
    (v,) = store.versions(CAROL_1)
    assert (v["key"], v["cover_pk"], v["total"], v["n_patches"]) == (CAROL_1, None, 2, 2)
    assert v["title"] == "gizmo: check the return value of gizmo_alloc()"
    assert store.members(CAROL_1) == {1: CAROL_1, 2: "20250602140000.77-2-carol@example.org"}
    assert store.series(CAROL_1)["author_addr"] == "carol@example.org"
    assert store.state(CAROL_1) == "new"


# --- 03: a RESEND ------------------------------------------------------------------------------

DAVE_1 = "20250603162000.4242-1-dave@example.com"
DAVE_RESEND = "20250613162000.5151-1-dave@example.com"


def test_03_parsers() -> None:
    msgs = parsed("03-resend")
    s = parse_subject(msgs[DAVE_RESEND].subject)
    assert (s.resend, s.flags, s.version, s.version_str) == (True, ("RESEND",), 1, "")
    assert s.normalized_title == parse_subject(msgs[DAVE_1].subject).normalized_title
    # "Mon, 3 Jun 2025 09:20:00 -0700" is 16:20 UTC.
    assert (msgs[DAVE_1].date_utc, msgs[DAVE_1].date_offset) == (utc(3, 16, 20), -420)
    first, again = (msgs[k].diff for k in (DAVE_1, DAVE_RESEND))
    assert first is not None and again is not None
    assert patch_id(first) == patch_id(again) is not None  # the same change sent again
    fixes, sob = parse_trailers(commit_message(msgs[DAVE_RESEND].body))
    assert (fixes.key, fixes.value) == ("Fixes", '1234567890ab ("widget: add widget_len()")')
    assert sob.key == "Signed-off-by"


def test_03_resend_is_the_same_version_again(store: Store) -> None:
    first, again = store.versions(DAVE_1)
    assert (first["key"], first["resend"], first["version"]) == (DAVE_1, False, 1)
    assert (again["key"], again["resend"], again["version"], again["seq"]) == (
        DAVE_RESEND,
        True,
        1,
        2,
    )
    assert again["prev_key"] == DAVE_1
    m = store.metrics(DAVE_1)
    assert (m["versions"], m["patches"], m["review_replies"]) == (2, 1, 0)
    assert store.state(DAVE_1) == "new"


# --- 04: a partial re-roll (v3 of patch 2/5 only, in reply to v2) -------------------------------

ERIN_V2 = "20250604080000.900-0-erin@example.org"
ERIN_V2_2 = "20250604080000.900-2-erin@example.org"
ERIN_V3 = "20250606090000.950-1-erin@example.org"


def test_04_parsers() -> None:
    msgs = parsed("04-partial-reroll")
    s = parse_subject(msgs[ERIN_V3].subject)
    assert (s.version, s.index, s.total) == (3, 2, 5)
    assert s.normalized_title == parse_subject(msgs[ERIN_V2_2].subject).normalized_title
    assert msgs[ERIN_V3].in_reply_to == ERIN_V2_2
    assert msgs[ERIN_V3].diff is not None
    assert file_stats(msgs[ERIN_V3].diff) == [
        FileStat("drivers/sprocket/queue.c", None, 3, 1, False)
    ]


def test_04_partial_reroll_lays_over_v2(store: Store) -> None:
    v2, v3 = store.versions(ERIN_V2)
    assert (v2["key"], v2["version"], v2["n_patches"], v2["partial"]) == (ERIN_V2, 2, 5, False)
    assert (v3["key"], v3["version"], v3["n_patches"], v3["total"]) == (ERIN_V3, 3, 1, 5)
    assert (v3["partial"], v3["rerolls_key"], v3["prev_key"]) == (True, ERIN_V2, ERIN_V2)
    assert json.loads(v3["missing"]) == [], "a partial re-roll misses nothing"
    assert store.members(ERIN_V3) == {2: ERIN_V3}
    # The series keeps the name and size of v2 with patch 2 replaced: five patches.
    assert store.series(ERIN_V2)["title"] == "sprocket: cleanups for 6.17"
    m = store.metrics(ERIN_V2)
    assert (m["versions"], m["patches"], m["files_changed"]) == (2, 5, 5)
    # v2 1,3,4,5 (+1-1, -1, +1-1, +5) and v3 2/5 (+3-1).
    assert (m["lines_added"], m["lines_removed"]) == (10, 4)
    assert m["rework_time"] == pytest.approx(19 + 20 / 60, abs=1e-3)  # Frank 13:40 -> v3 09:00


def test_04_reroll_answers_the_reviewer(store: Store) -> None:
    """Frank asked for a change on v2 2/5; Erin's v3 2/5 is her answer, nobody has answered
    it yet: under review ("posted a version nobody has answered yet"), not waiting on her."""
    frank = store.reply("b8f1c2d3-frank@example.net")
    assert (frank["version_key"], frank["addressed_idx"], frank["is_author"]) == (ERIN_V2, 2, False)
    assert store.state(ERIN_V2, utc(6, 8)) == "waiting on author"  # before v3
    assert store.state(ERIN_V2) == "under review"


# --- 05: Reviewed-by/Tested-by for the series on the cover letter, Acked-by for one patch -------

GINA = "20250609100000.31-0-gina@example.org"
HANK = "87h6ab2k.fsf@example.com"
IVAN = "Z2x9-ivan@example.net"


def test_05_parsers() -> None:
    msgs = parsed("05-review-trailers")
    hank = analyze_reply(msgs[HANK].body)
    assert [(t.key, t.name, t.email) for t in hank.trailers] == [
        ("Reviewed-by", "Hank Hill", "hank@example.com"),
        ("Tested-by", "Hank Hill", "hank@example.com"),
    ]
    # "Ran it on ...", "shows what ...", "For the series:"; the "writes:" line attributes.
    assert (hank.lines_written, hank.lines_quoted) == (3, 2)
    ivan = analyze_reply(msgs[IVAN].body)
    assert [(t.key, t.email) for t in ivan.trailers] == [("Acked-by", "ivan@example.net")]
    assert ivan.lines_written == 0
    # The patch's own Suggested-by is carried in its commit message, not given on the list.
    carried = parse_trailers(commit_message(msgs["20250609100000.31-1-gina@example.org"].body))
    assert [t.key for t in carried] == ["Suggested-by", "Signed-off-by"]


def test_05_cover_review_covers_every_patch(store: Store) -> None:
    hank, ivan = store.reply(HANK), store.reply(IVAN)
    assert (hank["version_key"], hank["addressed_idx"]) == (GINA, 0)
    assert (ivan["version_key"], ivan["addressed_idx"]) == (GINA, 1)
    assert store.given(HANK) == [
        ("Reviewed-by", "Hank Hill", "hank@example.com"),
        ("Tested-by", "Hank Hill", "hank@example.com"),
    ]
    assert store.given(IVAN) == [("Acked-by", "Ivan Ives", "ivan@example.net")]
    assert store.carried("20250609100000.31-1-gina@example.org") == [
        "Suggested-by",
        "Signed-off-by",
    ]
    m = store.metrics(GINA)
    assert (m["reviews"], m["reviewers"], m["review_replies"]) == (2, 2, 2)
    assert m["nearly_complete"] and m["merged"] == "none"
    assert m["time_to_first_review"] == pytest.approx(21.0)  # 10:00 -> next day 07:00 UTC
    assert store.state(GINA) == "nearly complete"


# --- 06: a bot's reply is not review ------------------------------------------------------------

JACK = "20250611120000.5-1-jack@example.org"
ROBOT = "202506121114.aB3dE9fG-lkp@intel.com"


def test_06_parsers() -> None:
    msgs = parsed("06-bot-reply")
    robot = msgs[ROBOT]
    assert (robot.from_name, robot.from_addr) == ("kernel test robot", "lkp@intel.com")
    assert BotMatcher()(robot.from_name, robot.from_addr)
    assert not BotMatcher()("Jack Jones", "jack@example.org")
    # The robot's "| Reported-by:" lines are what to add to a later fix, not tags it gives.
    text = analyze_reply(robot.body)
    assert text.trailers == () and text.notices == ()


def test_06_bot_reply_leaves_the_series_new(store: Store) -> None:
    r = store.reply(ROBOT)
    assert (r["version_key"], r["addressed_idx"], r["is_bot"]) == (JACK, 1, True)
    m = store.metrics(JACK)
    assert (m["review_replies"], m["reviewers"], m["has_reviewer_reply"]) == (0, 0, False)
    assert m["time_to_first_response"] is None
    assert store.count(schema.review_events, schema.review_events.c.series_key == JACK) == 0
    assert store.state(JACK) == "new"


# --- 07: a maintainer's "applied" notice naming a tree ------------------------------------------

KATE = "20250616080000.12-1-kate@example.org"
MAX_APPLIED = "87wmx1a9.fsf@max.example.org"


def test_07_parsers() -> None:
    text = analyze_reply(parsed("07-applied-notice")[MAX_APPLIED].body)
    assert text.notices == ("applied",)
    assert text.notice_tree == "docs/docs.git docs-next"
    assert text.trailers == ()


def test_07_merged_by_notice(store: Store) -> None:
    n = schema.message_notices
    rows = store.rows(select(n.c.kind, n.c.tree).where(n.c.message_pk == store.pk(MAX_APPLIED)))
    assert rows == [{"kind": "applied", "tree": "docs/docs.git docs-next"}]
    m = store.metrics(KATE)
    assert (m["merged"], m["merged_by"], m["repo_registered"]) == ("fully", "notice", False)
    evidence = json.loads(m["merge_evidence"])
    assert (evidence["message_id"], evidence["kind"], evidence["tree"]) == (
        MAX_APPLIED,
        "applied",
        "docs/docs.git docs-next",
    )
    assert m["time_to_merge"] == pytest.approx(32.75)  # Mon 08:00 -> Tue 16:45 UTC
    assert store.state(KATE) == "merged"


# --- 08: a pull request -------------------------------------------------------------------------

PULL = "aFJ8pull-frob-fixes@max.example.org"
PR_BOT = "175035360001.1234.5678@pr-tracker-bot.example.org"


def test_08_parsers() -> None:
    msgs = parsed("08-git-pull")
    s = parse_subject(msgs[PULL].subject)
    assert (s.pull, s.flags, s.index, s.title) == (
        True,
        ("GIT PULL",),
        None,
        "frob fixes for 6.16-rc3",
    )
    assert is_request_pull(msgs[PULL].body) and not msgs[PULL].has_patch
    assert not is_request_pull(msgs[PR_BOT].body)  # it quotes the URL only
    bot = analyze_reply(msgs[PR_BOT].body)
    assert (bot.notices, bot.notice_tree) == (("merged",), "torvalds/linux.git")


def test_08_pull_request_is_kept_apart(store: Store) -> None:
    pr = schema.pull_requests
    (row,) = store.rows(select(pr).where(pr.c.series_key == PULL))
    assert (row["title"], row["author_addr"], row["replies"]) == (
        "frob fixes for 6.16-rc3",
        "max@example.org",
        1,
    )
    assert (row["merged_by"], row["merged_date"]) == ("notice", utc(19, 17, 20))
    assert json.loads(row["merge_evidence"])["tree"] == "torvalds/linux.git"
    (v,) = store.versions(PULL)
    assert v["pull"]
    assert store.reply(PR_BOT)["is_bot"]
    # Not a series under review: no metrics, so in no backlog and no merge rate.
    sm = schema.series_metrics
    assert store.count(sm, sm.c.series_key == PULL) == 0


# --- 09: a broken thread: a reply without In-Reply-To, matched by subject -----------------------

LIAM = "20250610150000.88-1-liam@example.org"
NINA = "DM6PR11MB0001.nina@example.net"
LIAM_RE = "20250611093000.liam-re@example.org"


def test_09_parsers() -> None:
    nina = parsed("09-broken-thread")[NINA]
    assert (nina.in_reply_to, nina.refs) == (None, "")
    s = parse_subject(nina.subject)
    assert s.is_reply and s.title == "timer: fix a race in timer_stop()"


def test_09_reply_joined_by_subject(store: Store) -> None:
    t = store.thread(NINA)
    assert (t["thread_key"], t["parent_id"], t["by_subject"]) == (LIAM, LIAM, True)
    assert store.thread(LIAM_RE)["thread_key"] == LIAM  # Liam answered Nina's message
    nina, liam = store.reply(NINA), store.reply(LIAM_RE)
    assert (nina["version_key"], nina["addressed_idx"], nina["is_author"]) == (LIAM, 1, False)
    assert (liam["version_key"], liam["is_author"]) == (LIAM, True)
    m = store.metrics(LIAM)
    assert (m["review_replies"], m["reviews"]) == (1, 0)
    assert m["time_to_first_response"] == pytest.approx(
        15 + 10 / 60, abs=1e-3
    )  # 15:00 -> 06:10 UTC
    assert store.state(LIAM, utc(11, 7)) == "waiting on author"
    assert store.state(LIAM) == "under review"  # the author answered last


# --- 10: odd subjects --------------------------------------------------------------------------

OLGA = "20250612090000.301-1-olga@example.org"
PETE = "20250612130000.17-1-pete@example.net"
QUINN = "20250613070000.1-0-quinn@example.org"


def test_10_parsers() -> None:
    msgs = parsed("10-odd-subjects")
    net = parse_subject(msgs[OLGA].subject)
    assert (net.prefixes, net.version, net.version_str, net.index, net.total) == (
        ("net-next",),
        2,
        "2",
        1,
        3,
    )
    assert net.title == "net: qux: add the qux_stats structure"
    rfc = parse_subject(msgs[PETE].subject)
    assert (rfc.rfc, rfc.flags, rfc.is_patch, rfc.version, rfc.index) == (
        True,
        ("RFC",),
        True,
        1,
        None,
    )
    cover = parse_subject(msgs[QUINN].subject)
    assert (cover.index, cover.total, cover.title) == (0, 10, "bigproj: split the config parser")
    # A bracket inside the title is title text, not a tag.
    first = parse_subject(msgs["20250613070000.1-1-quinn@example.org"].subject)
    assert (first.index, first.total, first.list_tags) == (1, 10, ())
    assert first.title == "bigproj: move the [core] section parser to core.c"


def test_10_odd_subjects_make_the_right_versions(store: Store) -> None:
    (olga,) = store.versions(OLGA)
    assert (olga["version"], olga["total"], olga["n_patches"], olga["cover_pk"]) == (2, 3, 3, None)
    assert json.loads(store.analysis(OLGA)["prefixes"]) == ["net-next"]
    (pete,) = store.versions(PETE)
    assert (pete["rfc"], pete["version"], pete["n_patches"]) == (True, 1, 1)
    (quinn,) = store.versions(QUINN)
    assert (quinn["total"], quinn["n_patches"]) == (10, 2)
    assert json.loads(quinn["missing"]) == [3, 4, 5, 6, 7, 8, 9, 10]
    assert sorted(store.members(QUINN)) == [0, 1, 2]
    assert store.metrics(QUINN)["patches"] == 2


# --- 11: RFC 2047 subject and From, latin-1 body ------------------------------------------------

RENE = "20250616100000.4711-1-rene@example.org"
ZOE = "c0ffee01-zoe@example.net"


def test_11_parsers() -> None:
    msgs = parsed("11-encoded-headers")
    rene = msgs[RENE]
    assert rene.from_name == "René Müller"
    assert rene.subject == "[PATCH] café: fix the crème counter"
    assert "The crème counter wraps" in rene.body and "at zéro." in rene.body
    (sob,) = parse_trailers(commit_message(rene.body))
    assert (sob.name, sob.email) == ("René Müller", "rene@example.org")
    assert parse_subject(rene.subject).title == "café: fix the crème counter"
    zoe = msgs[ZOE]
    assert zoe.from_name == "Zoë Zhang"  # base64 encoded-word
    assert parse_subject(zoe.subject).is_reply
    (rb,) = analyze_reply(zoe.body).trailers  # quoted-printable UTF-8 body
    assert (rb.key, rb.name, rb.email) == ("Reviewed-by", "Zoë Zhang", "zoe@example.net")


def test_11_names_survive_the_store(store: Store) -> None:
    se = store.series(RENE)
    assert (se["author_name"], se["title"]) == ("René Müller", "café: fix the crème counter")
    assert store.given(ZOE) == [("Reviewed-by", "Zoë Zhang", "zoe@example.net")]
    assert store.reply(ZOE)["addressed_idx"] == 1
    assert store.state(RENE) == "nearly complete"


# --- 12: a rename and a binary diff -------------------------------------------------------------

SAM = "20250617110000.61-1-sam@example.org"


def test_12_parsers() -> None:
    sam = parsed("12-rename-binary")[SAM]
    assert sam.has_patch and sam.diff is not None
    stats = file_stats(sam.diff)
    assert stats == [
        FileStat("Makefile", None, 1, 1, False),
        FileStat("assets/brand-logo.svg", "assets/logo.svg", 0, 0, False),
        FileStat("assets/icon.png", None, 0, 0, True),
    ]
    assert stats[2].binary_size == 65  # "literal 65": the PNG's size
    assert patch_id(sam.diff) is not None


def test_12_files_of_a_rename_and_a_binary(store: Store) -> None:
    a = store.analysis(SAM)
    assert json.loads(a["files"]) == ["Makefile", "assets/brand-logo.svg", "assets/icon.png"]
    assert (a["lines_added"], a["lines_removed"]) == (1, 1)
    m = store.metrics(SAM)
    assert (m["files_changed"], m["lines_added"], m["lines_removed"]) == (3, 1, 1)


# --- 13: one Message-ID three times: a copy, and a variant with a list footer -------------------

TINA = "20250618140000.222-1-tina@example.org"


def test_13_parsers() -> None:
    first, relayed, footer = (parse_message(r) for r in raw_messages("13-duplicate-message-id"))
    assert first.message_id == relayed.message_id == footer.message_id == TINA
    # A transport header (Received:) does not change the content; a list footer does.
    assert first.content_hash == relayed.content_hash != footer.content_hash
    assert footer.list_id_header == "<fs-devel.example.org>"


def test_13_one_message_three_sightings_one_variant(store: Store) -> None:
    pk = store.pk(TINA)
    assert store.count(schema.messages, schema.messages.c.message_id == TINA) == 1
    assert store.count(schema.message_sightings, schema.message_sightings.c.message_pk == pk) == 3
    assert store.count(schema.message_variants, schema.message_variants.c.message_pk == pk) == 1
    (v,) = store.versions(TINA)
    assert store.members(TINA) == {1: TINA}
    assert v["n_patches"] == 1


# --- 14: Change-Id, base-commit:, prerequisite-patch-id: ----------------------------------------

UMA_V1 = "20250619-shax-free-v1-1-0d1e2f3a4b5c@example.org"
UMA_V2 = "20250623-shax-free-v2-1-6f7a8b9c0d1e@example.org"


def test_14_parsers() -> None:
    msgs = parsed("14-change-id-base-commit")
    v1, v2 = msgs[UMA_V1], msgs[UMA_V2]
    # Gerrit's Change-Id is a commit trailer; b4's lines after "---" are not.
    assert [t.key for t in parse_trailers(commit_message(v1.body))] == [
        "Change-Id",
        "Signed-off-by",
    ]
    assert "base-commit: 19272b37aa4f83ca52bdf9c16d5d81bdd1354494" in notes(v1.body)
    assert "prerequisite-patch-id: 3a5d9c1e" in notes(v1.body)
    assert "base-commit" not in commit_message(v1.body)
    assert v1.diff is not None and "base-commit" not in v1.diff
    assert file_stats(v1.diff) == [FileStat("crypto/shax.c", None, 1, 0, False)]
    assert mentioned_ids(v2.body) == {UMA_V1}  # b4's "Link to v1:"
    assert parse_subject(v2.subject).title != parse_subject(v1.subject).title


def test_14_change_id_is_b4s() -> None:
    v1 = parsed("14-change-id-base-commit")[UMA_V1]
    assert find_change_id(v1.body) == "20250619-shax-free-7a8b9c0d1e2f"


def test_14_versions_linked_across_a_new_title(store: Store) -> None:
    v1, v2 = store.versions(UMA_V1)
    assert (v1["key"], v2["key"], v2["prev_key"], v2["version"]) == (UMA_V1, UMA_V2, UMA_V1, 2)
    evidence = json.loads(v2["link_evidence"])
    assert {"change-id", "link-in-changelog"} <= evidence.keys()
    assert "same-title" not in evidence
    assert store.series(UMA_V1)["title"] == "crypto: shax: clear the key pointer after freeing it"
    assert store.carried(UMA_V2) == ["Change-Id", "Signed-off-by"]
    assert store.state(UMA_V1) == "new"
