"""A stale patch file of an earlier round, sent along with a new version by the same `git
send-email` run ("[PATCH 2/4]" among "[PATCH v3 i/4]", linux-iio), is no repost of that
version: it stays a posting of its own, as the EROFS labels have such files, and the series
keeps the version it belongs to as its latest (linux-iio: one such file had become the latest
version of its series)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, select

from patchlens.review.versions import one_sending
from patchlens.store import schema
from tests.test_review_incremental import PATCH, _build, mail

RUN = "20221213171536.1880089"


def _posting(other_run: bool) -> list[bytes]:
    """A v3 of two patches, and a stale "[PATCH 2/2]" under its cover: sent by the same
    run, or (`other_run`) by a run of its own a minute later."""
    stale = "20221213171636.1880090-1-a@x" if other_run else f"{RUN}-4-a@x"
    return [
        mail(
            f"{RUN}-1-a@x", "[PATCH v3 0/2] fix things", "v3\n", "Tue, 13 Dec 2022 17:15:31 +0000"
        ),
        mail(
            f"{RUN}-2-a@x",
            "[PATCH v3 1/2] fix a",
            PATCH,
            "Tue, 13 Dec 2022 17:15:32 +0000",
            f"{RUN}-1-a@x",
        ),
        mail(
            f"{RUN}-3-a@x",
            "[PATCH v3 2/2] fix b",
            PATCH,
            "Tue, 13 Dec 2022 17:15:33 +0000",
            f"{RUN}-1-a@x",
        ),
        mail(
            stale,
            "[PATCH 2/2] fix b",
            PATCH,
            "Tue, 13 Dec 2022 17:15:34 +0000",
            f"{RUN}-1-a@x",
        ),
    ]


def _chains(db: Path) -> dict[str, str]:
    engine = create_engine(f"sqlite:///{db}")
    sv = schema.series_versions
    with engine.connect() as conn:
        out = dict(conn.execute(select(sv.c.key, sv.c.series_key)).all())
    engine.dispose()
    return out


def test_one_sending() -> None:
    assert one_sending(f"{RUN}-4-han.xu@nxp.com", f"{RUN}-1-han.xu@nxp.com")
    assert not one_sending(f"{RUN}-4-han.xu@nxp.com", "20221213171537.1880089-1-han.xu@nxp.com")
    old = "1556589704-15305-{}-git-send-email-yangx.jy@cn.fujitsu.com"
    assert one_sending(old.format(1), old.format(3))
    # Other tools' ids say nothing of the run.
    assert not one_sending("cover.1558242368.git.a@b", "cover.1558242368.git.a@b")


def test_a_stale_file_sent_along_is_no_repost(tmp_path: Path) -> None:
    chains = _chains(_build(tmp_path / "a", [_posting(other_run=False)])[0])
    assert chains == {f"{RUN}-1-a@x": f"{RUN}-1-a@x", f"{RUN}-4-a@x": f"{RUN}-4-a@x"}
    # The same file sent by a run of its own is a repost of the work, linked as before.
    chains = _chains(_build(tmp_path / "b", [_posting(other_run=True)])[0])
    assert chains["20221213171636.1880090-1-a@x"] == f"{RUN}-1-a@x"


def test_a_file_sent_twice_by_one_run_is_one_posting_sent_again(tmp_path: Path) -> None:
    """A patch sent twice by one run at the same version (linux-iio: Frank Li's "[PATCH
    1/1]" twice, the second in reply to the first) is the same posting sent again, linked
    as before: not a stale file of another round."""
    run = "20221129164531.2164660"
    twice = [
        mail(
            f"{run}-{i}-a@x",
            "[PATCH 1/1] fix irq flood",
            PATCH,
            f"Tue, 29 Nov 2022 16:45:3{i} +0000",
            irt,
        )
        for i, irt in ((1, None), (2, f"{run}-1-a@x"))
    ]
    chains = _chains(_build(tmp_path, [twice])[0])
    assert chains == {f"{run}-1-a@x": f"{run}-1-a@x", f"{run}-2-a@x": f"{run}-1-a@x"}
