"""Time to first response by role (docs/METRICS.md): the pure classification, then every
xen-devel and qemu-devel sample thread (xen-qemu-samples/README.md) through `update`, with
each value worked out by hand below from the messages' Date headers (in UTC) and senders, and
from the MAINTAINERS file each store is given:

- the six Xen threads against MAINTAINERS-2026, the Xen file nearest to them (2020-2025). In it
  TOOLSTACK (M: Anthony PERARD) covers `tools/`; LIBS (M: Anthony PERARD, R: Juergen Gross)
  covers `tools/libs/light/`, `tools/libs/ctrl/`; KCONFIG (M: Doug Goldstein) covers
  `xen/tools/kconfig/`; ARM (M: Stefano Stabellini, Julien Grall, Bertrand Marquis, Michal
  Orzel; R: Volodymyr Babchuk) covers `xen/arch/arm/`. XENSTORE covers `tools/xenstored/`, where
  the daemon had moved by 2026, so the `tools/xenstore/` files of 2021 and 2023 fall to
  TOOLSTACK alone (and THE REST is dropped: a specific section names someone).
- the two QEMU threads against three sections of QEMU's MAINTAINERS of late 2024
  (tests/fixtures/maintainers/qemu-MAINTAINERS-excerpt): "Functional testing framework"
  (M: Thomas Huth, R: Philippe Mathieu-Daudé) covers `tests/functional/qemu_test/`; the
  catch-all "All patches CC here" (`F: *`) names nobody by M:/R:.
"""

from __future__ import annotations

import calendar
import json
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from patchlens.config import load_config
from patchlens.metrics.model import ReplyFacts, SeriesFacts, VersionFacts
from patchlens.metrics.roles import (
    AUTHOR,
    BOT,
    MAINTAINER,
    OTHER,
    REVIEWER,
    expected_roles,
    first_responses,
    role_of,
)
from patchlens.stages import ingest
from patchlens.stages.pipeline import run_stages
from patchlens.stages.progress import Reporter
from patchlens.store import schema
from patchlens.store.db import open_store
from tests.conftest import FIXTURES, data_path
from tests.helpers.cli import invoke_cli

H = 3600.0


def utc(text: str) -> int:
    return calendar.timegm(time.strptime(text, "%Y-%m-%d %H:%M:%S"))


def hours(a: str, b: str) -> float:
    return (utc(b) - utc(a)) / H


# --- the pure classification -----------------------------------------------------------------


def _reply(pk: int, date: int, who: str, author: bool = False, bot: bool = False) -> ReplyFacts:
    return ReplyFacts(pk, date, who, 1, author, bot, 5, False, message_id=f"<{pk}@x>")


def _series(*replies: ReplyFacts, later: tuple[ReplyFacts, ...] = ()) -> SeriesFacts:
    v1 = VersionFacts("v1", 1, 1, 1000, False, replies=list(replies))
    v2 = VersionFacts("v2", 2, 2, 50_000, False, replies=list(later))
    return SeriesFacts("s", "t", "a", "a@x", versions=[v1, v2] if later else [v1])


def test_role_rules_in_order() -> None:
    expected = expected_roles(frozenset({"m", "both"}), frozenset({"r", "both"}))
    assert expected == {"m": MAINTAINER, "both": MAINTAINER, "r": REVIEWER}
    assert role_of(_reply(1, 0, "m", author=True), expected) == AUTHOR  # author first
    assert role_of(_reply(1, 0, "m", bot=True), expected) == BOT
    assert role_of(_reply(1, 0, "m"), expected) == MAINTAINER
    assert role_of(_reply(1, 0, "r"), expected) == REVIEWER
    assert role_of(_reply(1, 0, "x"), expected) == OTHER
    assert role_of(_reply(1, 0, "x"), {}) == OTHER


def test_first_responses_skip_the_author_and_keep_bots_apart() -> None:
    expected = {"m": MAINTAINER, "r": REVIEWER}
    s = _series(
        _reply(1, 1000 + 600, "a", author=True),  # the author's follow-up: never a response
        _reply(2, 1000 + 3600, "ci", bot=True),  # a bot first, after an hour
        _reply(3, 1000 + 7200, "x"),
        _reply(4, 1000 + 9000, "x"),
        later=(_reply(5, 50_000 + 36, "r"),),  # a listed reviewer, on v2
    )
    fr = first_responses(s, expected)
    assert (fr.role, fr.who, fr.hours) == (BOT, "ci", 1.0)
    assert fr.by_role == {MAINTAINER: None, REVIEWER: round(49_036 / H, 3), OTHER: 2.0, BOT: 1.0}
    # Only the author answered: no response at all.
    alone = first_responses(_series(_reply(1, 2000, "a", author=True)), expected)
    assert (alone.role, alone.who, alone.hours) == (None, None, None)
    assert set(alone.by_role.values()) == {None}
    # A reply dated before the posting is an anomaly, not a response.
    early = first_responses(_series(_reply(1, 10, "m"), _reply(2, 1000 + 360, "m")), expected)
    assert (early.role, early.hours) == (MAINTAINER, 0.1)


# --- the sample threads through `update` -----------------------------------------------------


def _build(tmp: Path, maintainers: Path, files: list[Path]) -> Engine:
    (tmp / "patchlens.toml").write_text(f'[maintainers]\nfile = "{maintainers}"\n')
    engine = open_store(str(tmp / "s.db"))
    ingest.add_list(engine, "l", [str(f) for f in files])
    quiet = Reporter(quiet=True)
    reports = ingest.run_update(engine, tmp / "cache", quiet, jobs=1)
    assert not [r.error for r in reports if r.error]
    run_stages(engine, load_config(str(tmp / "patchlens.toml")), tmp / "cache", quiet, jobs=1)
    return engine


@pytest.fixture(scope="module")
def xen(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    files = sorted(data_path("xen-qemu-samples").glob("xen-*.mbox"))
    assert len(files) == 6
    tmp = tmp_path_factory.mktemp("roles-xen")
    return _build(tmp, data_path("xen", "MAINTAINERS-2026"), files)


@pytest.fixture(scope="module")
def qemu(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    files = sorted(data_path("xen-qemu-samples").glob("qemu-*.mbox"))
    assert len(files) == 2
    tmp = tmp_path_factory.mktemp("roles-qemu")
    return _build(tmp, FIXTURES / "maintainers" / "qemu-MAINTAINERS-excerpt", files)


def _row(engine: Engine, title_part: str) -> dict:
    sm = schema.series_metrics
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(sm)) if title_part in r.title]
    assert len(rows) == 1, [r["title"] for r in rows]
    r = rows[0]
    r["expected_roles"] = json.loads(r["expected_roles"])
    return r


def _check(r: dict, role: str | None, who: str | None, by_role: dict[str, float | None]) -> None:
    assert (r["first_response_role"], r["first_responder"]) == (role, who)
    for k in (MAINTAINER, REVIEWER, OTHER, BOT):
        got, want = r[f"time_to_first_response_{k}"], by_role.get(k)
        if want is None:
            assert got is None, (r["title"], k, got)
        else:
            assert got == pytest.approx(want, abs=1e-3), (r["title"], k)


ANTHONY = "addr:anthony.perard@citrix.com"  # also sends from anthony.perard@vates.tech


def test_get_spec_node(xen) -> None:
    # v1 2023-07-20 15:08:53 UTC (17:08:53 +0200). Julien Grall, who is not named for
    # tools/xenstore/ in 2026 (TOOLSTACK is Anthony's), replies 22:45:44 UTC: other.
    # Juergen's answers are the author's; Jan Beulich (other) comes later. Anthony never.
    r = _row(xen, "fix get_spec_node")
    assert r["expected_roles"] == {ANTHONY: MAINTAINER}
    _check(
        r,
        OTHER,
        "addr:jgrall@amazon.com",  # Julien's identity: his earliest address in the store
        {OTHER: hours("2023-07-20 15:08:53", "2023-07-20 22:45:44")},
    )


def test_remove_dead_code(xen) -> None:
    # v1 2024-12-20 16:55:00 UTC. Jan Beulich (other) 2024-12-24 08:43:02 UTC; Anthony PERARD
    # (M: LIBS, TOOLSTACK), from his vates.tech address, 2025-01-08 10:15:10 UTC, on v2.
    # Juergen (R: LIBS) never replied; Doug Goldstein (M: KCONFIG) neither.
    r = _row(xen, "remove dead code")
    assert r["expected_roles"] == {
        ANTHONY: MAINTAINER,
        "addr:cardoe@cardoe.com": MAINTAINER,
        "addr:jgross@suse.com": REVIEWER,
    }
    v1 = "2024-12-20 16:55:00"
    _check(
        r,
        OTHER,
        "addr:jbeulich@suse.com",
        {
            OTHER: hours(v1, "2024-12-24 08:43:02"),
            MAINTAINER: hours(v1, "2025-01-08 10:15:10"),
        },
    )


def test_coding_style(xen) -> None:
    # 2021-10-12 14:52:26 UTC. Anthony (M: LIBS) acks at 15:02:52 UTC, first; Juergen (R: LIBS)
    # reviews at 15:06:17 UTC. Ian's "committed" is the author's own.
    r = _row(xen, "Explicitly deprecate #ifdef")
    start = "2021-10-12 14:52:26"
    _check(
        r,
        MAINTAINER,
        ANTHONY,
        {
            MAINTAINER: hours(start, "2021-10-12 15:02:52"),
            REVIEWER: hours(start, "2021-10-12 15:06:17"),
        },
    )


def test_xenstored_for_416(xen) -> None:
    # 2021-10-20 14:45:19 UTC; Ian Jackson (other: the release manager is not named for
    # tools/) at 15:45:19 UTC, exactly an hour; Juergen and Luca Fancellu later, other too.
    r = _row(xen, "Ignore domain we were unable to restore")
    assert r["expected_roles"] == {ANTHONY: MAINTAINER}
    _check(r, OTHER, "addr:iwj@xenproject.org", {OTHER: 1.0})


def test_ballooned_dump(xen) -> None:
    # v1 2020-10-20 08:51:43 UTC, never answered; v2 answered by Wei Liu ("Acked + applied")
    # 2020-12-04 13:35:20 UTC: other (not named in 2026). Juergen, R: of LIBS, is the author.
    r = _row(xen, "fix dumping of ballooned guest")
    _check(
        r,
        OTHER,
        "addr:wl@xen.org",
        {OTHER: hours("2020-10-20 08:51:43", "2020-12-04 13:35:20")},
    )


def test_feat_lpa(xen) -> None:
    # RFC 2022-04-26 16:05:48 UTC (17:05:48 +0100). Julien Grall (M: ARM) 2022-04-27 16:02:56
    # UTC (17:02:56 +0100), first; Luca
    # Fancellu's Tested-by on v2 2022-05-03 13:45:39 UTC: other. Alex's replies are his own.
    r = _row(xen, "FEAT_LPA")
    assert r["expected_roles"]["addr:jgrall@amazon.com"] == MAINTAINER
    assert r["expected_roles"]["addr:volodymyr_babchuk@epam.com"] == REVIEWER
    start = "2022-04-26 16:05:48"
    _check(
        r,
        MAINTAINER,
        "addr:jgrall@amazon.com",
        {
            MAINTAINER: hours(start, "2022-04-27 16:02:56"),
            OTHER: hours(start, "2022-05-03 13:45:39"),
        },
    )


def test_qemu_functional_decorators(qemu) -> None:
    # v1 2025-01-21 06:58:14 UTC by Thomas Huth, the M: of tests/functional/qemu_test/: his
    # own replies never count. The first response is Daniel P. Berrangé's Reviewed-by at
    # 2025-01-22 10:12:55 UTC, classed by his role: neither M: nor R: of the file, so other.
    # Philippe Mathieu-Daudé, the R:, never replied.
    r = _row(qemu, "Fix broken decorators")
    assert r["expected_roles"] == {
        "addr:thuth@redhat.com": MAINTAINER,
        "addr:philmd@linaro.org": REVIEWER,
    }
    _check(
        r,
        OTHER,
        "addr:berrange@redhat.com",
        {OTHER: hours("2025-01-21 06:58:14", "2025-01-22 10:12:55")},
    )


def test_qemu_remove_reviewer(qemu) -> None:
    # 2024-08-19 15:00:35 UTC; Thomas Huth 16:54:23 UTC (18:54:23 +0200), then Philippe. The
    # MAINTAINERS file is covered only by the catch-all, which names nobody: both are other.
    r = _row(qemu, "Remove myself as reviewer")
    assert r["expected_roles"] == {}
    _check(
        r,
        OTHER,
        "addr:thuth@redhat.com",
        {OTHER: hours("2024-08-19 15:00:35", "2024-08-19 16:54:23")},
    )


def test_series_page_and_performance_show_roles(qemu) -> None:
    from fastapi.testclient import TestClient

    from patchlens.store.db import database_url
    from patchlens.web.app import create_app

    url = database_url(str(qemu.url.database))
    client = TestClient(create_app(url, page_cache=False))
    key = "20250121065814.1092720-1-thuth@redhat.com"
    d = client.get(f"/api/series/{key}").json()
    fr = d["first_response"]
    assert fr["role"] == OTHER and fr["who"]["address"] == "berrange@redhat.com"
    assert fr["hours"] == pytest.approx(
        hours("2025-01-21 06:58:14", "2025-01-22 10:12:55"), abs=1e-3
    )
    assert {e["address"]: e["role"] for e in fr["expected"]} == {
        "thuth@redhat.com": MAINTAINER,
        "philmd@linaro.org": REVIEWER,
    }
    assert d["metrics"]["time_to_first_response_other_hours"] == pytest.approx(fr["hours"])
    html = client.get(f"/series/{key}").text
    assert "First response by role" in html
    assert "the first came after 27.2 h from" in html
    assert "berrange@redhat.com</a> (other)" in html
    perf = client.get("/api/performance").json()
    by_role = {r["role"]: r for r in perf["first_response_by_role"]}
    # Both series answered first by someone in no MAINTAINERS role.
    assert by_role[OTHER]["first"] == 2 and by_role[OTHER]["first_share"] == 1.0
    assert by_role[MAINTAINER]["first"] == 0 and by_role[MAINTAINER]["n"] == 0
    assert by_role[OTHER]["n"] == 2
    over = perf["first_response_by_role_over_time"]
    assert sum(p["first_other"] for p in over) == 2
    assert "First response by role" in client.get("/performance").text


def test_metrics_export_carries_the_roles(qemu, tmp_path: Path) -> None:

    out = tmp_path / "m.json"
    db = str(qemu.url.database)
    argv = ["--db", db, "-q", "export", "metrics"]
    invoke_cli(*argv, "--format", "json", "-o", str(out)).check_returncode()
    rows = {r["title"]: r for r in json.loads(out.read_text())}
    r = rows["tests/functional: Fix broken decorators"]
    assert (r["first_response_role"], r["first_responder"]) == (OTHER, "addr:berrange@redhat.com")
    assert r["time_to_first_response_other_hours"] == pytest.approx(
        hours("2025-01-21 06:58:14", "2025-01-22 10:12:55"), abs=1e-3
    )
    assert r["time_to_first_response_maintainer_hours"] is None
    assert json.loads(r["expected_roles"]) == {
        "addr:thuth@redhat.com": MAINTAINER,
        "addr:philmd@linaro.org": REVIEWER,
    }
