"""Where is my patch (issue 15, acceptance 1): the prediction model, its measured accuracy on
EROFS against both baselines, `patchlens eval-predict`, and the series page's estimate."""

from __future__ import annotations

import json
import math
import re
import sqlite3

import pytest

from patchlens.metrics.model import PatchFacts, ReplyFacts, SeriesFacts, VersionFacts
from patchlens.metrics.prediction import Corpus, evaluate, points, predict
from patchlens.metrics.prediction_eval import auc, brier, calibration, concordance
from patchlens.metrics.prediction_features import FEATURES, features_at
from patchlens.metrics.prediction_model import Sample, fit, quantile, within

DAY = 86400


# --- the pure parts ---------------------------------------------------------------------


def test_concordance_counts_only_pairs_whose_order_is_known():
    # 1 merged at day 5, 2 censored at day 3 (order unknown: not compared), 3 merged at 9.
    days, events = [5, 3, 9], [True, False, True]
    assert concordance(days, events, [1, 100, 2]) == 1.0
    assert concordance(days, events, [2, 100, 1]) == 0.0
    assert concordance(days, events, [1, 1, 1]) == 0.5
    # The censored one, seen open to day 3, says nothing about the one merged at day 5.
    assert concordance([5, 3], [True, False], [10, 1]) != concordance(
        [5, 3], [True, False], [1, 10]
    )
    assert math.isnan(concordance([5, 3], [True, False], [10, 1]))


def test_auc_brier_and_calibration():
    assert auc([True, False, True, False], [0.9, 0.1, 0.8, 0.2]) == 1.0
    assert auc([True, False], [0.5, 0.5]) == 0.5
    assert brier([True, False], [1.0, 0.0]) == 0.0
    assert brier([True, False], [0.0, 1.0]) == 1.0
    rows = calibration([True, False, True, True], [0.05, 0.05, 0.95, 0.95])
    assert [(r["n"], r["observed"]) for r in rows] == [(2, 0.5), (2, 1.0)]


def test_censored_series_are_not_counted_as_never_merged():
    """Half the series merge on day 10; the other half are seen only to day 5 (still open when
    the data end). A model that took them for "never merged" would give 50%; censoring-aware,
    the chance of a merge within 30 days is near 1."""
    samples = [Sample((), 10.0, True)] * 50 + [Sample((), 5.0, False)] * 50
    model = fit(samples, ())
    assert within(model.survival(()), 30) > 0.9
    naive = fit([Sample((), 10.0, True)] * 50 + [Sample((), 400.0, False)] * 50, ())
    assert within(naive.survival(()), 30) < 0.6


def test_the_model_learns_a_feature_and_is_deterministic():
    samples = [Sample((1.0,), 3.0, True) for _ in range(40)] + [
        Sample((0.0,), 100.0, i % 2 == 0) for i in range(40)
    ]
    a, b = fit(samples, ("fast",)), fit(samples, ("fast",))
    assert a == b
    fast, slow = a.survival((1.0,)), a.survival((0.0,))
    assert within(fast, 30) > 0.9 > within(slow, 30)
    assert quantile(fast, 0.5) < 7 < quantile(slow, 0.5)
    assert a.contributions((1.0,))["fast"] > 0 > a.contributions((0.0,))["fast"]


def _series(key: str, author: str, start: int, commit: int | None = None) -> SeriesFacts:
    patch = PatchFacts(1, 1, start, 10, 2, ("a.c",), commit)
    v = VersionFacts(f"{key}-v1", 1, 1, start, False, {1: patch})
    return SeriesFacts(key, key, author, f"{author}@x", [v])


def test_features_use_nothing_after_the_date():
    t0 = 1_600_000_000
    se = _series("s", "ann", t0)
    se.versions[0].replies.append(
        ReplyFacts(9, t0 + 5 * DAY, "bob", 1, False, False, 10, True, "bob@x", "r1")
    )
    earlier = _series("e", "ann", t0 - 100 * DAY, commit=t0 + 2 * DAY)  # merged after T
    corpus = Corpus({"s": se, "e": earlier}, {}, {}, t0 + 30 * DAY)
    before = corpus.features("s", t0 + DAY)
    after = corpus.features("s", t0 + 10 * DAY)
    assert before is not None and after is not None
    assert before["reviewer_replies"] == 0 and after["reviewer_replies"] == 1
    assert before["reviewed_share"] == 0 and after["reviewed_share"] == 1
    # The author's earlier series is merged on day 2: not yet on day 1, by day 10.
    assert before["author_merge_rate"] < after["author_merge_rate"]
    assert corpus.features("s", t0 - 1) is None
    assert set(before) == set(FEATURES)
    assert features_at(se, t0 + DAY, corpus.history) == before


def test_points_stop_when_merged_and_train_sees_only_the_past():
    t0 = 1_600_000_000
    merged = _series("m", "ann", t0, commit=t0 + 10 * DAY)
    corpus = Corpus({"m": merged}, {}, {}, t0 + 100 * DAY)
    pts = points(corpus, ["m"], corpus.end)
    assert [(p.landmark, p.event, round(p.days)) for p in pts] == [(0, True, 10), (7, True, 3)]
    # Trained with the split at day 5, the merge on day 10 is not known: censored at 5.
    early = points(corpus, ["m"], t0 + 5 * DAY, before=t0 + 5 * DAY)
    assert [(p.landmark, p.event, round(p.days)) for p in early] == [(0, False, 5)]


# --- EROFS: acceptance 1 ------------------------------------------------------------------


@pytest.fixture(scope="module")
def erofs_eval(erofs_store):
    from patchlens.queries.prediction import evaluation

    _db, engine, _ = erofs_store
    with engine.connect() as conn:
        return evaluation(conn)


def test_eval_predict_beats_both_baselines_on_erofs(erofs_eval):
    r = erofs_eval
    assert "withheld" not in r
    assert r["train"]["series"] > 400 and r["test"]["series"] > 150
    assert r["test"]["merges"] > 100
    m = r["models"]
    for baseline in ("median", "size only"):
        assert m["model"]["concordance"] > m[baseline]["concordance"] + 0.1, baseline
        assert m["model"]["brier_30d"] < m[baseline]["brier_30d"] - 0.03, baseline
    assert m["median"]["concordance"] == 0.5  # a constant orders nothing
    assert m["model"]["auc_30d"] > 0.76  # the GitHub pull requests anchor
    cal = m["model"]["calibration_30d"]
    assert sum(row["n"] for row in cal) == m["model"]["known_30d"]
    assert all(0 <= row["observed"] <= 1 for row in cal)


def test_eval_is_a_time_split(erofs_store, erofs_eval):
    _db, engine, _ = erofs_store
    from patchlens.queries.prediction import load_corpus

    with engine.connect() as conn:
        corpus = load_corpus(conn)
    split = erofs_eval["split"]
    posted = sorted(r.first_date for k, r in corpus.history.records.items() if k in corpus.series)
    assert posted[0] < split < posted[-1]
    assert abs(sum(1 for d in posted if d < split) / len(posted) - 0.7) < 0.02
    # Another split gives other figures: the split is honoured, not ignored.
    other = evaluate(corpus, posted[len(posted) // 2])
    assert other["train"]["series"] < erofs_eval["train"]["series"]


def test_eval_predict_command(erofs_store):
    from typer.testing import CliRunner

    from patchlens.cli import app

    db, _engine, _ = erofs_store
    res = CliRunner().invoke(app, ["--db", str(db), "-q", "eval-predict", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert set(out["models"]) == {"model", "size only", "median"}
    assert out["models"]["model"]["concordance"] > out["models"]["median"]["concordance"]
    res = CliRunner().invoke(app, ["--db", str(db), "-q", "eval-predict", "--split", "2024-01-01"])
    assert res.exit_code == 0, res.output
    assert "2024-01-01" in res.output and "Calibration" in res.output
    assert "size only" in res.output and "C-index" in res.output


# --- the series page ------------------------------------------------------------------------


def _open_series(db) -> list[str]:
    """EROFS series still waiting at the data's end (recent, not merged, in erofs-utils)."""
    con = sqlite3.connect(str(db))
    end = con.execute("select max(date_utc) from messages").fetchone()[0]
    return [
        k
        for (k,) in con.execute(
            "select series_key from series_metrics where merged = 'none' and in_repo"
            " and last_date > ? order by last_date desc",
            (end - 20 * DAY,),
        )
    ]


def test_series_page_shows_the_estimate_of_an_open_series(erofs_store, client):
    db, _engine, _ = erofs_store
    keys = _open_series(db)
    assert keys, "the EROFS archive ends with series under review"
    shown = 0
    for key in keys[:5]:
        d = client.get(f"/api/series/{key}").json()
        p = d["prediction"]
        if p.get("reason"):
            assert d["metrics"]["state"] not in ("new", "under review", "waiting on author")
            continue
        shown += 1
        assert 0 <= p["merged_within_30d"] <= p["merged_within_90d"] <= 1
        lo, hi = p["interval_days"]
        if lo is not None and hi is not None:
            assert lo <= hi
        assert len(p["facts"]) == 3 and all(f["effect"] in ("sooner", "later") for f in p["facts"])
        assert re.match(r"\d{4}-\d\d-\d\d", p["as_of"])
        html = client.get(f"/series/{key}").text
        assert "Where is this series?" in html
        for anchor in ("merged-within-30-days", "expected-time-to-merge", "weighs-most"):
            assert f"/glossary#{anchor}" in html
        for f in p["facts"]:
            assert f["fact"].replace("'", "&#39;") in html
        # The same again: made as of the data's end, not the clock.
        assert client.get(f"/api/series/{key}").json()["prediction"] == p
    assert shown >= 1


def test_a_merged_series_gets_no_estimate(erofs_store, client):
    db, _engine, _ = erofs_store
    con = sqlite3.connect(str(db))
    key = con.execute("select series_key from series_metrics where merged = 'fully'").fetchone()[0]
    p = client.get(f"/api/series/{key}").json()["prediction"]
    assert p["reason"].startswith("the series is merged")
    assert "No estimate" in client.get(f"/series/{key}").text


def test_predict_of_the_stored_model_says_its_facts_in_words(erofs_store):
    from patchlens.queries.prediction import load_corpus, stored_model

    db, engine, _ = erofs_store
    with engine.connect() as conn:
        corpus = load_corpus(conn)
        model = stored_model(conn).model
    key = next(k for k in _open_series(db) if k in corpus.series)
    p = predict(corpus, model, key, corpus.end)
    assert p is not None
    words = " ".join(f["fact"] for f in p["facts"])
    assert re.search(r"\d", words)  # facts with their numbers, not feature names
    assert not any(f in words for f in FEATURES if "_" in f)


def test_one_fact_measured_by_several_features_is_weighed_once(erofs_store):
    """The author's history, the series' size and its reviewers' replies are each measured
    by correlated features whose weights can push opposite ways: the page listed "the
    author's first series (later)" beside "the author posted 0 earlier series (sooner)".
    Each group is one fact, pushed by the sum of its members."""
    from patchlens.metrics.prediction import weighed_facts
    from patchlens.metrics.prediction_features import FACT_GROUPS
    from patchlens.queries.prediction import load_corpus, stored_model

    _db, engine, _ = erofs_store
    with engine.connect() as conn:
        corpus = load_corpus(conn)
        model = stored_model(conn).model
    members = {f for group in FACT_GROUPS.values() for f in group}
    checked = 0
    for key in sorted(corpus.series)[::5]:
        t = corpus.all[key].first_date + 3 * DAY
        p = predict(corpus, model, key, t)
        if p is None:
            continue
        checked += 1
        said = [f["feature"] for f in p["facts"]]
        assert not members & set(said), said
        assert len({f["fact"] for f in p["facts"]}) == len(said)
        feats = corpus.features(key, t)
        push = model.contributions([feats[n] for n in model.features])
        weighed = weighed_facts(push)
        for group, fs in FACT_GROUPS.items():
            assert weighed[group] == pytest.approx(sum(push[f] for f in fs))
        for f in p["facts"]:
            assert f["effect"] == ("sooner" if weighed[f["feature"]] > 0 else "later")
    assert checked >= 20


def test_the_authors_merge_rate_is_said_as_the_feature_counts_it(erofs_store):
    """The fact said for `author_merge_rate` counts what the feature counts: every earlier
    series of the author and those merged by T, with the smoothed rate itself. It said "the
    author's last 4 series: 0 merged" of an author whose rate was far from 0."""
    from patchlens.metrics.prediction_features import facts_in_words
    from patchlens.queries.prediction import load_corpus

    _db, engine, _ = erofs_store
    with engine.connect() as conn:
        corpus = load_corpus(conn)
    said = 0
    for key in sorted(corpus.series)[::7]:
        se = corpus.all[key]
        t = se.first_date + 7 * DAY
        feats = corpus.features(key, t)
        if feats is None:
            continue
        earlier = corpus.history.earlier(se.author, se.first_date, key)
        text = facts_in_words(
            feats, se, t, corpus.history, corpus.expected.get(key), corpus.subsystems.get(key, ())
        )["author_merge_rate"]
        if not earlier:
            assert text == "the author's first series"
            continue
        merged = sum(1 for r in earlier if r.merged_by(t))
        rate = f"{feats['author_merge_rate']:.0%}"
        assert text.startswith(f"{merged} of the author's {len(earlier)} earlier series"), text
        assert f"({rate}," in text, (text, rate)
        said += 1
    assert said >= 20


# --- the span counters behind the queue and the rates ----------------------------------------


def _scan_open(history, group, t):
    from patchlens.metrics.prediction_features import QUEUE_IDLE_DAYS, _open_at

    return sum(1 for r in history.window(group, t - QUEUE_IDLE_DAYS * DAY * 4, t) if _open_at(r, t))


def _scan_rate(history, group, t, prior):
    from patchlens.metrics.prediction_features import RATE_WINDOW_DAYS, _rate

    rs = history._all if group is None else history.window(group, t - RATE_WINDOW_DAYS * DAY, t)
    return _rate(rs, t, prior)[0]


def _edges(records):
    """Every moment a count can change at, and the second before it."""
    from patchlens.metrics.prediction_features import QUEUE_IDLE_DAYS, RATE_WINDOW_DAYS

    out = set()
    for r in records:
        for d in [r.first_date, r.first_date + QUEUE_IDLE_DAYS * 4 * DAY]:
            out |= {d - 1, d}
        out |= {r.first_date + RATE_WINDOW_DAYS * DAY - 1, r.first_date + RATE_WINDOW_DAYS * DAY}
        for e in r.events:
            out |= {e - 1, e, e + QUEUE_IDLE_DAYS * DAY - 1, e + QUEUE_IDLE_DAYS * DAY}
        for d, _on in r.changes:
            out |= {d - 1, d}
    return sorted(out)


def test_span_counts_equal_reading_the_windows_on_made_up_records():
    from patchlens.metrics.prediction_features import History, SeriesRecord

    t0 = 1_600_000_000
    recs = [
        # merged, unmerged (a revert), merged again; events before and after
        SeriesRecord(
            "a",
            "x",
            t0,
            ("g",),
            (t0, t0 + 5 * DAY, t0 + 400 * DAY),
            ((t0 + 10 * DAY, True), (t0 + 20 * DAY, False), (t0 + 30 * DAY, True)),
        ),
        # never merged, long idle gaps, active past the queue window
        SeriesRecord("b", "y", t0 + DAY, ("g", "h"), (t0 + DAY, t0 + 300 * DAY, t0 + 800 * DAY)),
        # merged on the day it was posted
        SeriesRecord("c", "x", t0 + 2 * DAY, ("h",), (t0 + 2 * DAY,), ((t0 + 2 * DAY, True),)),
        # a reply dated before the posting
        SeriesRecord("d", "z", t0 + 3 * DAY, ("g",), (t0 - DAY, t0 + 3 * DAY)),
    ]
    h = History({r.key: r for r in recs})
    for t in _edges(recs):
        for g in ("g", "h", "none"):
            assert h.open_count(g, t) == _scan_open(h, g, t), (g, t)
            assert h.rate(g, t, 0.3) == _scan_rate(h, g, t, 0.3), (g, t)
        assert h.project_rate(t) == _scan_rate(h, None, t, 0.5), t


def test_span_counts_equal_reading_the_windows_on_erofs(erofs_store):
    from patchlens.queries.prediction import load_corpus

    _db, engine, _ = erofs_store
    with engine.connect() as conn:
        h = load_corpus(conn).history
    recs = list(h.records.values())
    moments = _edges(recs)[::7]
    assert len(moments) > 1_000
    for t in moments:
        for g in h.by_group:
            assert h.open_count(g, t) == _scan_open(h, g, t), (g, t)
            assert h.rate(g, t, 0.4) == _scan_rate(h, g, t, 0.4), (g, t)
        assert h.project_rate(t) == _scan_rate(h, None, t, 0.5), t


def _window_with_older_agrees(corpus, inside, older, lo) -> tuple[int, int]:
    """Features at every moment the window `inside` serves, from it plus its authors' older
    series `older` (`History.with_older`) and from one history of both: equal. (points
    compared, of which in several subsystems)"""
    from patchlens.metrics.prediction_features import LOOKBACK_DAYS, History

    assert inside and older and all(r.first_date <= lo for r in older)
    part = History(inside).with_older(older)
    whole = History({**inside, **{r.key: r for r in older}})
    assert part.by_author == whole.by_author
    compared = several = 0
    for key, se in corpus.all.items():
        for t in (se.first_date, se.first_date + 7 * DAY, se.first_date + 30 * DAY):
            if t >= lo + LOOKBACK_DAYS * DAY and key in inside:
                subs = corpus.subsystems.get(key, ())
                exp = corpus.expected.get(key)
                assert features_at(se, t, part, exp, subs) == features_at(
                    se, t, whole, exp, subs
                ), (key, t)
                compared += 1
                several += len(subs) > 1
    return compared, several


def test_a_window_with_its_authors_older_series_gives_the_whole_historys_features(
    erofs_store, xen_store
):
    """A refit reads the series of its window and, for the authors' records, their older
    series, which it counts in those records alone (`History.with_older`): every feature at
    a moment the window serves is the one the whole history gives. On EROFS (one queue), cut
    a third of the way; on Xen, whose MAINTAINERS put series in several queues at once, with
    copies of its series moved years back as the older ones (its sample spans less than the
    look-back)."""
    from dataclasses import replace

    from patchlens.metrics.prediction_features import LOOKBACK_DAYS
    from patchlens.queries.prediction import load_corpus

    with erofs_store[1].connect() as conn:
        corpus = load_corpus(conn)
    records = corpus.history.records
    lo = sorted(r.first_date for r in records.values())[len(records) // 3]
    inside = {k: r for k, r in records.items() if r.first_date > lo}
    older = [r for r in records.values() if r.first_date <= lo]
    compared, _several = _window_with_older_agrees(corpus, inside, older, lo)
    assert compared > 50

    with xen_store[2].connect() as conn:
        corpus = load_corpus(conn)
    records = corpus.history.records
    back = (LOOKBACK_DAYS + 800) * DAY
    older = [
        replace(
            r,
            key=r.key + "-older",
            first_date=r.first_date - back,
            events=tuple(e - back for e in r.events),
            changes=tuple((d - back, on) for d, on in r.changes),
        )
        for r in records.values()
    ]
    lo = max(r.first_date for r in older)
    compared, several = _window_with_older_agrees(corpus, dict(records), older, lo)
    assert compared > 50 and several > 10
