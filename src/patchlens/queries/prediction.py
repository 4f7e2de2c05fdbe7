"""Predictions of time to merge read from the store: the corpus, the evaluation
(`patchlens eval-predict`) and the series page's estimate (docs/PREDICTION.md).

The model is not stored: it is fitted at query time from the stored series and kept per store
and data version (`selection.per_version`), so an update owes it nothing and a prediction is
made as of the store's newest data, not the wall clock (results repeat).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, select

from patchlens.metrics.backlog import OPEN_STATES
from patchlens.metrics.prediction import (
    MIN_EVENTS,
    Corpus,
    evaluate,
    fit_all,
    points,
    predict,
)
from patchlens.queries.evidence import load_series
from patchlens.queries.formats import iso
from patchlens.queries.selection import data_date, per_version
from patchlens.store import schema

MAINTAINERS_SEEN = schema.MAINTAINERS_SEEN


def load_corpus(conn: Connection, end: int | None = None) -> Corpus:
    """The series whose merge can be seen (series under review in a registered repository's
    files, or merged by a maintainer's notice), with their MAINTAINERS facts; `end` the date
    the data end (default: the store's newest message or commit)."""
    sm = schema.series_metrics
    rows = {
        r.series_key: r
        for r in conn.execute(
            select(
                sm.c.series_key,
                sm.c.in_repo,
                sm.c.repo_registered,
                sm.c.merged_by,
                sm.c.subsystems,
                sm.c.expected_roles,
            )
        )
    }
    everyone = {se.key: se for se in load_series(conn) if se.key in rows and se.kind == "series"}
    # MAINTAINERS versions the metrics stage used: the oldest also decided the roles of the
    # series posted before it (stages/metrics.py), which were not known then; a file given in
    # the configuration (dated 0) was.
    st = schema.stage_state
    text = conn.execute(select(st.c.inputs).where(st.c.stage == MAINTAINERS_SEEN)).scalar()
    oldest = min(json.loads(text) if text else [], default=None)

    def known(key: str) -> bool:
        return oldest is not None and oldest <= everyone[key].first_date

    seen = {
        k
        for k, r in rows.items()
        if k in everyone and ((r.repo_registered and r.in_repo) or r.merged_by == "notice")
    }
    return Corpus(
        {k: everyone[k] for k in sorted(seen)},
        {k: json.loads(rows[k].expected_roles or "{}") if known(k) else {} for k in everyone},
        {k: tuple(json.loads(rows[k].subsystems or "[]")) if known(k) else () for k in everyone},
        data_date(conn) if end is None else end,
        everyone,
    )


def evaluation(conn: Connection, split: int | None = None) -> dict[str, Any]:
    """`patchlens eval-predict`: the time split's figures for the model and both baselines."""
    return evaluate(load_corpus(conn), split)


def _kept(conn: Connection) -> tuple[Corpus, Any]:
    """The corpus and the model fitted on every prediction point up to the data's end."""

    def build() -> tuple[Corpus, Any]:
        corpus = load_corpus(conn)
        train = points(corpus, sorted(corpus.series), corpus.end)
        if sum(1 for p in train if p.event) < MIN_EVENTS:
            return corpus, None
        return corpus, fit_all(train)["model"]

    return per_version(conn, "prediction-model", build)


def series_prediction(conn: Connection, key: str, state: str | None) -> dict[str, Any]:
    """The series page's estimate for an open series, as of the data's end; otherwise why
    there is none (`reason`)."""
    if state not in OPEN_STATES:
        return {"reason": f"the series is {state or 'not tracked'}: nothing to predict"}
    corpus, model = _kept(conn)
    if key not in corpus.series:
        return {"reason": "no registered repository could show this series merged"}
    if model is None:
        return {"reason": f"too few merged series to fit a model (fewer than {MIN_EVENTS})"}
    out = predict(corpus, model, key, corpus.end)
    if out is None:
        return {"reason": "the series was posted after the data's end"}
    out["as_of"] = iso(out["as_of"])
    return out
