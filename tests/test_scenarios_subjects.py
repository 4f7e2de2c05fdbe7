"""Issue 13, "Subjects and messages" and "Diffs", end to end on a scenario mailbox.

`tests/fixtures/scenarios/issue13-subjects.mbox` (written for these tests, like the scenario
mailboxes b4 and Patchwork keep beside theirs) is ingested and run through every stage; the
versions, replies and message analyses read back must show each form as one posting of the
right shape.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from patchlens.config import Config
from patchlens.queries.series import versions_detail
from patchlens.stages import ingest
from patchlens.stages.pipeline import run_stages
from patchlens.stages.progress import Reporter
from patchlens.store import schema
from patchlens.store.db import open_store

MBOX = Path(__file__).parent / "fixtures" / "scenarios" / "issue13-subjects.mbox"


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("scenario13")
    engine = open_store(str(tmp / "s.db"))
    ingest.add_list(engine, "netdev", [str(MBOX)])
    quiet = Reporter(quiet=True)
    reports = ingest.run_update(engine, tmp / "cache", quiet, jobs=1)
    assert not [r.error for r in reports if r.error]
    run_stages(engine, Config(), tmp / "cache", quiet)
    with engine.connect() as conn:
        versions = versions_detail(conn, None)
        rows = conn.execute(
            select(schema.messages.c.message_id, schema.message_analysis).join(
                schema.message_analysis,
                schema.message_analysis.c.message_pk == schema.messages.c.id,
            )
        ).all()
    analysis = {r.message_id: r for r in rows}
    assert len(analysis) == 15
    return {v["key"]: v for v in versions}, analysis


def _version_of(versions: dict, message_id: str) -> dict:
    hits = [v for v in versions.values() if message_id in {m["message_id"] for m in v["members"]}]
    assert len(hits) == 1, (message_id, hits)
    return hits[0]


def test_cover_with_version_and_bare_patches_is_one_version(scenario) -> None:
    versions, _ = scenario
    v = versions["cover-v3@example.org"]
    assert (v["version"], v["version_str"], v["total"], v["n_patches"]) == (3, "3", 4, 4)
    assert [m["idx"] for m in v["members"]] == [0, 1, 2, 3, 4]
    assert v["missing"] == []
    for i in range(1, 5):
        assert _version_of(versions, f"patch-{i}-of-4@example.org") is v
    frob = [k for k, x in versions.items() if x["author_addr"] == "alice@example.org"]
    assert frob == ["cover-v3@example.org"], "one version of four patches, not five versions"


def test_replies_without_colon_are_replies(scenario) -> None:
    versions, analysis = scenario
    bob, carol = analysis["bob-re-1@example.com"], analysis["carol-re-2@example.net"]
    # Bob's Outlook reply carries the patch unquoted: a diff, yet a reply, not a posting.
    assert bob.is_reply and not bob.is_posting and bob.title == "net: frob: fix one"
    assert carol.is_reply and not carol.is_posting
    v = versions["cover-v3@example.org"]
    by_id = {r["message_id"]: r for r in v["replies"]}
    assert by_id["bob-re-1@example.com"]["patch_idx"] == 1
    assert by_id["carol-re-2@example.net"]["patch_idx"] == 2
    given = {(r["message_id"], t["key"]) for r in v["replies"] for t in r["trailers"]}
    assert ("bob-re-1@example.com", "Reviewed-by") in given
    assert ("carol-re-2@example.net", "Acked-by") in given


def test_mercurial_of_series(scenario) -> None:
    versions, analysis = scenario
    v = versions["hg-cover@example.org"]
    assert [m["idx"] for m in v["members"]] == [0, 1, 2]
    assert (v["total"], v["n_patches"], v["version"]) == (2, 2, 1)
    assert analysis["hg-cover@example.org"].is_posting
    assert (analysis["hg-2@example.org"].idx, analysis["hg-2@example.org"].total) == (2, 2)


def test_index_group_without_patch_keyword(scenario) -> None:
    versions, analysis = scenario
    v = versions["erin-1@example.com"]
    assert (v["version"], v["total"], [m["idx"] for m in v["members"]]) == (2, 2, [1, 2])
    first = analysis["erin-1@example.com"]
    assert json.loads(first.prefixes) == ["net"] and first.title == "ipv4: frob: plug a leak"


def test_pull_request_known_by_its_body(scenario) -> None:
    versions, analysis = scenario
    pr = analysis["git-networking@example.net"]
    assert pr.is_posting and pr.is_pull and not pr.is_reply
    v = versions["git-networking@example.net"]
    assert v["pull"] and v["title"] == "Networking"
    # The reply that quotes the request-pull text is a reply to it, not a second request.
    linus = analysis["pulled@example.org"]
    assert not linus.is_posting and not linus.is_pull
    assert [r["message_id"] for r in v["replies"]] == ["pulled@example.org"]


def test_version_after_the_title_and_files_of_the_diff(scenario) -> None:
    versions, analysis = scenario
    v = versions["frank-blob@example.org"]
    assert (v["version"], v["version_str"], v["title"]) == (2, "2", "frob: add the blob")
    frank = analysis["frank-blob@example.org"]
    # The binary file, the modified file and the pure rename after its miscounted hunk.
    assert json.loads(frank.files) == ["blob.bin", "frob.c", "zz_new.h"]
    assert (frank.lines_added, frank.lines_removed) == (1, 1)
