"""Reconstruction end to end on real threads: ingest, the pipeline of stages, read back (the
`xq` store is tests/helpers/xenqemu.py)."""

from __future__ import annotations

import email.utils
import mailbox
from pathlib import Path

import pytest

from patchlens.queries.series import find_series, versions_detail
from tests.conftest import data_path
from tests.helpers.b4samples import (
    B4_FOLLOWUPS,
    B4_SAMPLES,
)
from tests.helpers.b4samples import msgid as _msgid
from tests.helpers.b4samples import person_trailers as _person_trailers
from tests.helpers.b4samples import ref_trailers as _ref_trailers
from tests.helpers.b4samples import text_body as _text_body
from tests.helpers.xenqemu import all_versions, build

# -- b4's follow-up samples: who gave which trailer to which patch ---------------------------


@pytest.mark.parametrize("sample", sorted(B4_FOLLOWUPS))
def test_b4_followup_trailers_reach_the_right_patch(tmp_path: Path, sample: str) -> None:
    path = data_path(*B4_SAMPLES, f"{sample}.mbox")
    msgs = {_msgid(m): m for m in mailbox.mbox(path)}
    engine = build(tmp_path, path)
    versions = all_versions(engine)
    # What patchlens collected per patch, with b4's default rule that a tag counts when its
    # address or name is the sender's.
    collected: dict[str, set[str]] = {}
    for v in versions:
        for member in v["members"]:
            if member["idx"] == 0:
                continue
            got = set()
            for t in member["trailers"]:
                name, addr = email.utils.parseaddr(str(msgs[t["reply"]]["From"]))
                if (t["email"] or "") == addr.lower() or (t["name"] or "").lower() == name.lower():
                    got.add(f"{t['key']}: {t['name']} <{t['email']}>")
            collected[member["message_id"]] = got
    by_subject = {}
    for mid, m in msgs.items():
        subj = str(m["Subject"])
        if not subj.lower().startswith("re:"):
            by_subject[subj.split("] ", 1)[-1]] = mid
    refs = _ref_trailers(sample, by_subject)
    assert collected, "no patch reconstructed"
    checked = 0
    for pid, expected_all in refs.items():
        expected = expected_all - _person_trailers(_text_body(msgs[pid]))
        assert collected.get(pid) == expected, f"{sample}: <{pid}>"
        checked += 1
    assert checked or not refs


# -- xen-devel and qemu-devel sample threads --------------------------------------------------


def _reply(versions: dict, message_id: str) -> tuple[dict, dict]:
    for v in versions.values():
        for rep in v["replies"]:
            if rep["message_id"] == message_id:
                return v, rep
    raise AssertionError(f"{message_id} is not a reply of any version")


def test_qemu_review_reaches_the_patch_it_reviews(xq) -> None:
    engine, versions = xq
    # Daniel P. Berrangé's Reviewed-by on v2 1/2 of "tests/functional: Fix broken decorators".
    v2 = next(v for v in versions.values() if v["version"] == 2 and "decorator" in v["title"])
    assert v2["total"] == 2 and [m["idx"] for m in v2["members"]] == [0, 1, 2]
    given = [
        (rep["patch_idx"], t["key"], rep["from_addr"])
        for rep in v2["replies"]
        for t in rep["trailers"]
    ]
    assert (1, "Reviewed-by", "berrange@redhat.com") in given
    assert all(idx == 1 for idx, key, who in given if who == "berrange@redhat.com")
    # v1 -> v2 is one series (the v2 cover says what changed since v1).
    with engine.connect() as conn:
        key = find_series(conn, v2["key"])
        chain = versions_detail(conn, [key])
    assert [c["version"] for c in chain] == [1, 2]


def test_xen_acked_and_applied(xq) -> None:
    _engine, versions = xq
    v, rep = next(
        (v, r)
        for v in versions.values()
        for r in v["replies"]
        if "ballooned" in v["title"] and r["from_addr"] == "wl@xen.org"
    )
    assert v["version"] == 2
    assert "applied" in rep["notices"]
    assert [t["key"] for t in rep["trailers"]] == ["Acked-by"]


def test_xen_committed_notices_and_release_ack(xq) -> None:
    _engine, versions = xq
    v = next(v for v in versions.values() if "Ignore domain we were unable" in v["title"])
    kinds = {n for rep in v["replies"] for n in rep["notices"]}
    keys = {(t["key"], rep["from_addr"]) for rep in v["replies"] for t in rep["trailers"]}
    assert "committed" in kinds
    assert ("Release-acked-by", "iwj@xenproject.org") in keys
    assert {k for k, _ in keys} >= {"Reviewed-by", "Release-acked-by"}


def test_xen_three_versions_across_threads(xq) -> None:
    engine, versions = xq
    v3 = next(v for v in versions.values() if v["version"] == 3 and "get_spec_node" in v["title"])
    with engine.connect() as conn:
        chain = versions_detail(conn, [find_series(conn, v3["key"])])
    assert [(c["version"], c["total"]) for c in chain] == [(1, None), (2, 2), (3, 2)]
    # Julien's Reviewed-by on v3 1/2; the one carried in v3 2/2 is not a new review.
    v3 = chain[-1]
    reviews = {
        (rep["patch_idx"], t["key"], rep["from_addr"])
        for rep in v3["replies"]
        for t in rep["trailers"]
    }
    assert (1, "Reviewed-by", "julien@xen.org") in reviews
    assert all(idx != 2 for idx, _k, _w in reviews)


def test_v2_sent_in_reply_to_v1_stays_its_own_version(xq) -> None:
    _engine, versions = xq
    dead = sorted(
        (v for v in versions.values() if "remove dead code" in v["title"]),
        key=lambda v: v["date"],
    )
    assert [(v["version"], v["total"], v["n_patches"]) for v in dead] == [(1, 2, 2), (2, 2, 2)]
    assert dead[1]["prev_key"] == dead[0]["key"]
    assert not any(t for v in dead for rep in v["replies"] for t in rep["trailers"])


def test_a_pull_request_without_its_cover_is_its_senders(xq) -> None:
    """Thomas Huth's "[PULL 05/22]" (its cover letter is not in the sample) carries Beraldo
    Leal's patch: the pull request is Thomas's, not the patch's author's."""
    from sqlalchemy import select

    from patchlens.store import schema

    engine, _versions = xq
    with engine.connect() as conn:
        rows = conn.execute(
            select(schema.pull_requests.c.series_key, schema.pull_requests.c.author_addr)
        ).all()
    by_key = dict(rows)
    key = "20240910123726.182975-6-thuth@redhat.com"
    assert by_key.get(key) == "thuth@redhat.com", rows
