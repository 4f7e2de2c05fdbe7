"""Linking's features kept per version (stages/linkfeatures.py): what an update reads of a
person's earlier versions instead of their mails must be exactly what linking would compute
from those mails, and a store made before the table gets it filled by its next update."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete, func, insert, select

from patchlens.config import Config
from patchlens.identity.people import Identities
from patchlens.mail.fingerprint import pack
from patchlens.review.versions import Features, Linker, Seen, linkable
from patchlens.stages import changes, ingest, linkfeatures, review
from patchlens.stages.context import build_context
from patchlens.stages.pipeline import run_stages
from patchlens.stages.progress import Reporter
from patchlens.stages.review import rebuild_structure
from patchlens.stages.review_incremental import Loaded, stored_versions
from patchlens.store import schema
from patchlens.store.db import open_store
from tests.helpers.publicinbox import add_message, init
from tests.test_review_incremental import DAY1, DAY2, _by_message_id


def _versions(conn) -> dict:
    keys = set(conn.execute(select(schema.series_versions.c.key)).scalars())
    return stored_versions(conn, keys, Loaded())


def test_kept_features_are_the_versions_own(erofs_store) -> None:
    """Every stored version's row gives the `Seen` and packed `Features` a linker makes of the
    version read back in full, and a linker fed those rows ends in the same state as one fed
    the versions (EROFS: every version of the archive and the 2024 mbox)."""
    _db, engine, _ = erofs_store
    with engine.connect() as conn:
        versions = _versions(conn)
        kept = linkfeatures.kept(conn, sorted(versions))
        people = Identities(
            [(v.author_name, v.author_addr) for v in versions.values()]
            + [(v.sender_name, v.sender_addr) for v in versions.values()]
        )
    assert len(versions) > 1000
    assert kept.keys() == versions.keys()
    for key, v in versions.items():
        assert kept[key] == (Seen.of(v), Features.of(v).packed()), key
    whole, light = Linker(people), Linker(people)
    for i, v in enumerate(linkable(list(versions.values()))):
        has_next = i % 3 == 0
        whole.remember(v, has_next)
        light.remember_kept(*kept[v.key], whole.identities(v), has_next)
    for part in ("order", "feats", "index", "df", "sizes", "commons", "has_next"):
        assert getattr(light, part) == getattr(whole, part), part


def _store(tmp: Path):
    repo = init(tmp / "inbox.git")
    engine = open_store(str(tmp / "s.db"))
    ingest.add_list(engine, "l", [str(repo)])
    return repo, engine


def _update(engine, repo, tmp: Path, day: list[bytes]):
    for raw in day:
        add_message(repo, raw)
    ingest.run_update(engine, tmp / "cache", Reporter(quiet=True), jobs=1)
    return run_stages(engine, Config(), tmp / "cache", Reporter(quiet=True), jobs=1)


def test_a_store_made_before_the_table_is_filled_by_its_next_update(tmp_path: Path) -> None:
    """Migration 0022 leaves the table empty and owes the reconstruction its rows; the next
    update with new mail fills them, relinks, and ends as a store built at once."""
    repo, engine = _store(tmp_path / "a")
    _update(engine, repo, tmp_path / "a", DAY1)
    pw = schema.pending_work
    with engine.begin() as conn:  # as the migration leaves a store with versions
        assert conn.execute(select(func.count()).select_from(schema.link_features)).scalar() > 0
        conn.execute(delete(schema.link_features))
        conn.execute(insert(pw), [{"stage": "review", "item": "features"}])
    rep = _update(engine, repo, tmp_path / "a", DAY2)
    assert rep.review.incremental
    with engine.connect() as conn:
        assert conn.execute(select(pw.c.item).where(pw.c.item == "features")).all() == []
        assert linkfeatures.missing(conn) == []
    engine.dispose()

    repo_b, engine_b = _store(tmp_path / "b")
    _update(engine_b, repo_b, tmp_path / "b", DAY1 + DAY2)
    engine_b.dispose()
    a, b = _by_message_id(tmp_path / "a" / "s.db"), _by_message_id(tmp_path / "b" / "s.db")
    for table in ("link_features", "series_versions", "series", "version_members", "replies"):
        assert a[table] == b[table], table
    assert len(a["link_features"]) == len(a["series_versions"]) == 3


def test_a_rebuild_in_batches_resumed_after_the_upgrade_ends_with_every_row(
    tmp_path: Path,
) -> None:
    """A rebuild in batches stopped by old code, resumed by new code after migration 0022:
    the batches written before have no rows; they are filled before the rebuild is done."""
    mbox = tmp_path / "l.mbox"
    mbox.write_text(
        "".join(
            f"From x Mon Jan  1 00:00:00 2001\nFrom: Dev {n % 4} <dev{n % 4}@example.org>\n"
            f"Subject: [PATCH] fix thing {n}\nDate: {1 + n // 3:02d} Jan 2019 10:{n:02d}:00 +0000\n"
            f"Message-ID: <m{n}@example.org>\n\nbody\n---\ndiff --git a/f{n} b/f{n}\n"
            f"--- a/f{n}\n+++ b/f{n}\n@@ -1 +1 @@\n-a\n+b{n}\n\n"
            for n in range(60)
        )
    )
    engine = open_store(str(tmp_path / "s.db"))
    ingest.add_list(engine, "l", [str(mbox)])
    quiet = Reporter(quiet=True)
    ingest.run_update(engine, tmp_path / "cache", quiet)
    run_stages(engine, Config(), tmp_path / "cache", quiet)
    with engine.connect() as conn:
        ctx = build_context(conn, Config(), tmp_path / "cache")
    with engine.begin() as conn:
        changes.owe(conn, changes.STRUCTURE, changes.Work(full=True))

    class Stopped(Exception):
        pass

    real, calls = review.rebuild_part, []

    def stopping(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise Stopped
        return real(*args, **kwargs)

    review.rebuild_part = stopping
    try:
        with pytest.raises(Stopped):
            rebuild_structure(engine, quiet, ctx.people, ctx.is_bot, cold_batch=20)
    finally:
        review.rebuild_part = real
    with engine.begin() as conn:  # the old code wrote no rows; then the migration ran
        assert conn.execute(select(func.count()).select_from(schema.series_versions)).scalar()
        conn.execute(delete(schema.link_features))
        conn.execute(insert(schema.pending_work), [{"stage": "review", "item": "features"}])
    rebuild_structure(engine, quiet, ctx.people, ctx.is_bot, cold_batch=20)
    with engine.connect() as conn:
        assert linkfeatures.missing(conn) == []
        assert (
            conn.execute(select(schema.pending_work.c.item)).scalars().all().count("features") == 0
        )
        n = conn.execute(select(func.count()).select_from(schema.series_versions)).scalar()
        assert n == 60


def test_fingerprints_of_older_code_are_redone_before_reconstruction(tmp_path: Path) -> None:
    """A newer FINGERPRINT_VERSION has everything redone: the postings' fingerprints must be
    current when reconstruction reads them (linking's similar diffs, the stored features),
    or the store keeps hashes no build from nothing would have."""
    repo, engine = _store(tmp_path)
    _update(engine, repo, tmp_path, DAY1 + DAY2)
    lf, fp = schema.link_features, schema.diff_fingerprints
    with engine.connect() as conn:
        before = sorted(conn.execute(select(lf)).all())
    assert before
    with engine.begin() as conn:  # as an older FINGERPRINT_VERSION left them
        conn.execute(
            fp.update().where(fp.c.kind == "m").values(hashes=pack(frozenset({1, 2})), fp_version=0)
        )
    run_stages(engine, Config(), tmp_path / "cache", Reporter(quiet=True), jobs=1, force=True)
    with engine.connect() as conn:
        assert sorted(conn.execute(select(lf)).all()) == before
    engine.dispose()
