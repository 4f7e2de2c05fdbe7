"""The store in datasette: its metadata (descriptions, facets, canned queries) and the side
database of series states that datasette's facets need.

A series' state depends on the day it is asked (stale, abandoned), so no table holds it. Two
ways give it to datasette without writing the store:
- the canned queries decide it in SQL from the facts series_metrics stores (`state_case`,
  the rules of metrics/backlog.py `decide` in the same order; tests/test_datasette.py checks
  it against `decide` for every EROFS series, so the two cannot drift);
- `patchlens datasette` also writes a small side database (`series_states`) from the read
  model itself (queries.selection.select_series), which datasette can facet by state,
  organisation, list and subsystem: facets need a table, and the store is opened immutable.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from patchlens.metrics.backlog import DAY, OPEN_STATES, STATES, BacklogRules
from patchlens.metrics.roles import MAINTAINER, REVIEWER
from patchlens.queries.filters import Filters
from patchlens.queries.queue import AGAIN, ASKED
from patchlens.queries.selection import seen_dates, select_series
from patchlens.store import schema
from patchlens.web.datasette_columns import INTERNAL, TABLES

STATES_DB = "patchlens_states"  # the side database's name in datasette (and its file stem)


def _quoted(values: tuple[str, ...]) -> str:
    """Constants of the code (never mail text) as an SQL list."""
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


# The data's date, as queries.selection.data_date gives it: the newest message or commit not
# dated after now (a later date is a wrong clock), or now without any; and the date idleness
# and waits count to, the mail's end when it comes first (queries.selection.review_date).
AS_OF = """as_of AS (
  SELECT t, min(t, coalesce(mail_end, t)) AS idle_to
  FROM (SELECT CASE WHEN newest > 0 THEN newest ELSE now END AS t, mail_end
  FROM (SELECT max(coalesce(mail_end, 0),
                   coalesce((SELECT max(committer_date) FROM commits
                             WHERE committer_date <= now), 0)) AS newest,
               mail_end, now
        FROM (SELECT (SELECT max(date_utc) FROM messages WHERE date_utc <= now) AS mail_end, now
              FROM (SELECT CAST(strftime('%s', 'now') AS INTEGER) AS now))))
)"""


def state_case(
    rules: BacklogRules, sm: str = "sm", when: str = "as_of.t", idle_to: str = "as_of.idle_to"
) -> str:
    """metrics/backlog.py `decide` as an SQL CASE over a series_metrics row `sm` at `when`,
    idle up to `idle_to` (queries/selection.py idle_until)."""
    idle = f"({idle_to} - {sm}.last_date)"
    return f"""CASE
    WHEN {sm}.merged = 'fully' THEN 'merged'
    WHEN {sm}.merged = 'partly' THEN 'partly merged'
    WHEN {sm}.fixed_at IS NOT NULL AND {sm}.fixed_at <= {when} THEN 'fixed elsewhere'
    WHEN {sm}.repo_registered AND NOT {sm}.in_repo THEN 'other tree'
    WHEN {idle} >= {rules.abandoned_days * DAY}
      THEN CASE WHEN {sm}.repo_registered THEN 'abandoned' ELSE 'unknown' END
    WHEN {sm}.blocked_until IS NOT NULL AND {when} < {sm}.blocked_until THEN 'blocked'
    WHEN {idle} >= {rules.stale_days * DAY} THEN 'stale'
    WHEN {sm}.nearly_complete THEN 'nearly complete'
    WHEN NOT {sm}.has_reviewer_reply THEN 'new'
    WHEN {sm}.reviewer_spoke_last THEN 'waiting on author'
    ELSE 'under review'
  END"""


def _state_order(col: str) -> str:
    """STATES' order (docs/METRICS.md) as a sort key."""
    whens = " ".join(f"WHEN '{s}' THEN {i}" for i, s in enumerate(STATES))
    return f"CASE {col} {whens} END"


def states_sql(rules: BacklogRules) -> str:
    """Every series' state today: the base of the backlog queries."""
    return f"""WITH {AS_OF},
states AS (
  SELECT sm.*, {state_case(rules)} AS state, as_of.t AS as_of, as_of.idle_to AS idle_to
  FROM series_metrics sm, as_of
)"""


def backlog_counts_sql(rules: BacklogRules) -> str:
    return f"""{states_sql(rules)}
SELECT state, count(*) AS series,
  CASE WHEN state IN ({_quoted(OPEN_STATES)}) THEN 1 ELSE 0 END AS open
FROM states GROUP BY state ORDER BY {_state_order("state")}"""


def backlog_sql(rules: BacklogRules) -> str:
    return f"""{states_sql(rules)}
SELECT series_key, title, state, author, org,
  date(first_date, 'unixepoch') AS posted,
  round((as_of - first_date) / 86400.0, 1) AS age_days,
  round((idle_to - last_date) / 86400.0, 1) AS idle_days,
  versions, patches, review_replies, reviewers
FROM states WHERE state IN ({_quoted(OPEN_STATES)})
ORDER BY {_state_order("state")}, first_date, series_key"""


# Review given per person, as queries/community.py review_balance sums review_events (bots
# left out, as the community page does): the organisation is the person's latest.
REVIEWERS_SQL = """SELECT e.who AS identity,
  coalesce(p.name, '') AS name, coalesce(p.org, '') AS org,
  count(*) AS review_replies,
  sum(e.review) AS reviews,
  sum(e.review AND NOT e.substantive) AS flag_only,
  sum(e.substantive) AS substantive,
  sum(e.lines_written) AS lines_written,
  count(DISTINCT e.series_key) AS series_reviewed
FROM review_events e LEFT JOIN people p ON p.identity = e.who
WHERE NOT coalesce(p.is_bot, 0)
GROUP BY e.who
ORDER BY review_replies DESC, identity"""


def queue_sql(rules: BacklogRules) -> str:
    """queries/queue.py `queue_rows` for the person `:person` (an identity or one of their
    addresses): the open series that name them (MAINTAINERS at posting, To/Cc of the current
    version) or that they answered in an earlier version, and whose current version they have
    not answered; never their own. Oldest first by the current version's date."""
    return f"""{states_sql(rules)},
-- Their addresses: each address belongs to the first person (in store order) who used it.
owned AS (
  SELECT p.rowid AS r, lower(p.address) AS a FROM people p WHERE p.address <> ''
  UNION ALL
  SELECT p.rowid, lower(j.value) FROM people p, json_each(p.addresses) j WHERE j.value <> ''
),
-- MAINTAINERS entries looked up as people (stages/maintainer_people.py), from [address,
-- name, identity] rows of addresses nobody sent from: per address one identity, as
-- queries/queue.py maintainer_identities picks it (one who wrote first, then by name).
pairs AS (
  SELECT json_extract(j.value, '$[0]') AS a, json_extract(j.value, '$[1]') AS name,
    json_extract(j.value, '$[2]') AS identity
  FROM stage_state s, json_each(s.inputs) j WHERE s.stage = '{schema.MAINTAINER_IDENTITIES}'
),
named AS (
  SELECT a, identity FROM (
    SELECT a, identity, row_number() OVER (
      PARTITION BY a
      ORDER BY EXISTS (SELECT 1 FROM people p WHERE p.identity = pairs.identity) DESC,
        name, identity
    ) AS k FROM pairs WHERE NOT EXISTS (SELECT 1 FROM owned x WHERE x.a = pairs.a)
  ) WHERE k = 1
),
who AS (
  SELECT p.identity, p.is_bot FROM people p
  WHERE p.identity = :person OR lower(p.address) = lower(trim(:person))
     OR EXISTS (SELECT 1 FROM json_each(p.addresses) j WHERE lower(j.value) = lower(trim(:person)))
     OR p.identity IN (SELECT n.identity FROM named n WHERE n.a = lower(trim(:person)))
  ORDER BY p.identity = :person DESC, p.rowid LIMIT 1
),
addrs AS (
  SELECT o.a FROM owned o JOIN people p ON p.rowid = o.r JOIN who ON who.identity = p.identity
  WHERE NOT EXISTS (SELECT 1 FROM owned x WHERE x.a = o.a AND x.r < o.r)
  UNION
  SELECT n.a FROM named n JOIN who ON who.identity = n.identity
),
open AS (SELECT * FROM states WHERE state IN ({_quoted(OPEN_STATES)})),
vers AS (
  SELECT v.series_key, v.seq, v.key, v.version_str, v.date, v.partial
  FROM series_versions v JOIN open o ON o.series_key = v.series_key
),
base AS (
  SELECT series_key, coalesce(max(CASE WHEN NOT partial THEN seq END), min(seq)) AS seq
  FROM vers GROUP BY series_key
),
cur AS (
  SELECT v.* FROM vers v JOIN base b ON b.series_key = v.series_key AND v.seq >= b.seq
),
info AS (
  SELECT b.series_key, b.seq AS base_seq,
    (SELECT v.version_str FROM vers v WHERE v.series_key = b.series_key AND v.seq = b.seq)
      AS version_str,
    (SELECT max(c.date) FROM cur c WHERE c.series_key = b.series_key) AS cur_date,
    -- the partial re-rolls laid over it, in order ("v2 + partial v3"), and whether their
    -- labels tell them apart (queries/queue.py _label)
    (SELECT group_concat(l, ', ') FROM (
       SELECT 'v' || coalesce(nullif(c.version_str, ''), '1') AS l FROM cur c
       WHERE c.series_key = b.series_key AND c.seq > b.seq ORDER BY c.seq)) AS partials,
    (SELECT count(*) FROM cur c WHERE c.series_key = b.series_key AND c.seq > b.seq)
      AS n_partials,
    (SELECT count(DISTINCT coalesce(nullif(c.version_str, ''), '1')) FROM cur c
       WHERE c.series_key = b.series_key AND c.seq > b.seq) AS n_labels,
    (SELECT count(*) FROM cur c, vers w
       WHERE c.series_key = b.series_key AND c.seq > b.seq AND w.series_key = b.series_key
       AND w.seq = b.seq
       AND coalesce(nullif(c.version_str, ''), '1') = coalesce(nullif(w.version_str, ''), '1'))
      AS n_as_base
  FROM base b
),
answers AS (
  SELECT v.series_key, v.seq, e.date FROM replies r
  JOIN review_events e ON e.message_pk = r.message_pk
  JOIN vers v ON v.key = r.version_key
  JOIN who ON who.identity = e.who
),
facts AS (
  SELECT o.*, i.version_str, i.cur_date, i.partials, i.n_partials, i.n_labels, i.n_as_base,
    (SELECT j.value FROM json_each(o.expected_roles) j, who WHERE j.key = who.identity)
      AS role,
    EXISTS (
      SELECT 1 FROM cur c JOIN version_members vm ON vm.version_key = c.key
      JOIN messages m ON m.id = vm.message_pk, addrs, who
      WHERE c.series_key = o.series_key AND NOT who.is_bot AND (
        instr(',' || lower(replace(m.to_addrs, ' ', '')) || ',', ',' || addrs.a || ',') > 0
        OR instr(',' || lower(replace(m.cc_addrs, ' ', '')) || ',', ',' || addrs.a || ',') > 0)
      -- never the list's own address, which the message's List-Id tells (mail/listid.py)
      AND instr(lower(coalesce(m.list_id_header, '')), '<' || replace(addrs.a, '@', '.') || '>') = 0
    ) AS asked,
    EXISTS (
      SELECT 1 FROM answers a WHERE a.series_key = o.series_key
      AND a.seq >= i.base_seq AND a.date >= i.cur_date
    ) AS answered,
    EXISTS (
      SELECT 1 FROM answers a WHERE a.series_key = o.series_key
      AND (a.seq < i.base_seq OR a.date < i.cur_date)
    ) AS earlier
  FROM open o JOIN info i ON i.series_key = o.series_key
)
SELECT series_key, title, author, state,
  'v' || coalesce(nullif(version_str, ''), '1') || CASE
    WHEN n_partials = 0 THEN ''
    WHEN n_labels = n_partials AND n_as_base = 0 THEN ' + partial ' || partials
    WHEN n_partials = 1 THEN ' + a partial re-roll'
    ELSE ' + ' || n_partials || ' partial re-rolls' END AS current_version,
  datetime(cur_date, 'unixepoch') AS current_posted,
  round(max(0, idle_to - cur_date) / 86400.0, 1) AS waiting_days,
  trim(
    CASE WHEN role IN ('{MAINTAINER}', '{REVIEWER}') THEN role ELSE '' END
    || CASE WHEN asked THEN ', {ASKED}' ELSE '' END
    || CASE WHEN earlier THEN ', {AGAIN}' ELSE '' END, ', ') AS reasons
FROM facts, who
WHERE author <> who.identity AND NOT answered
  AND (role IN ('{MAINTAINER}', '{REVIEWER}') OR asked OR earlier)
ORDER BY cur_date, series_key"""


def canned_queries(rules: BacklogRules) -> dict[str, dict[str, Any]]:
    """The canned queries of the store's database in datasette."""
    rule = f"stale after {rules.stale_days} idle days, abandoned after {rules.abandoned_days}"
    return {
        "backlog_states": {
            "title": "Series by state",
            "description": "How many series are in each state as of the data's date (the "
            "newest message or commit), as the dashboard's backlog counts them "
            f"(docs/METRICS.md, 'States'; {rule}). open = 1: a backlog state.",
            "sql": backlog_counts_sql(rules),
        },
        "backlog": {
            "title": "Backlog: open series by state, with age",
            "description": "Every series in a backlog state (blocked, stale, new, under review, "
            "waiting on author, nearly complete), by state then oldest first. age_days: days "
            "since the first posting; idle_days: since the last posting or reply "
            f"({rule}).",
            "sql": backlog_sql(rules),
        },
        "reviewers": {
            "title": "Reviewers: reviews given per person",
            "description": "Per person (bots aside), as the community page counts review "
            "given: the reviewer replies they sent to others' series (review_replies), how "
            "many gave Reviewed-by/Acked-by (reviews), those with only a trailer (flag_only) "
            "or with text of their own (substantive), the lines they wrote (lines_written) "
            "and the series they answered (series_reviewed); org is the person's latest "
            "organisation. Most replies first.",
            "sql": REVIEWERS_SQL,
        },
        "queue": {
            "title": "The queue of a person",
            "description": "The open series waiting on a person (give an identity or one of "
            "their addresses, as in the people table): named for it by MAINTAINERS when posted "
            "(maintainer, reviewer), asked in To:/Cc: of the current version (asked), or "
            "answered in an earlier version (reviewed earlier), whose current version they "
            "have not answered; oldest first. waiting_days: since the current version, up to "
            "the mail's end.",
            "sql": queue_sql(rules),
        },
    }


def _table(name: str) -> dict[str, Any]:
    desc, columns = TABLES[name]
    out: dict[str, Any] = {"description": desc, "columns": dict(columns)}
    if name in INTERNAL:
        out["hidden"] = True
    return out


# Facets shown on a table's page by default.
STORE_FACETS: dict[str, list[Any]] = {
    "series_metrics": ["org", "merged", "merged_by", "new_contributor"],
    "review_events": ["org", "review"],
    "people": ["org", "is_bot"],
    "message_sightings": ["list_id"],
    "patch_commits": ["method"],
}

STATES_TABLE = (
    "Every series with its state as of the data's date, written by `patchlens datasette` "
    "from the dashboard's read model (not part of the store): facet it by state, "
    "organisation, list or subsystem.",
    {
        "series_key": "the series (series.key in the store)",
        "title": "its title",
        "author": "the author's identity",
        "author_name": "the author's name",
        "org": "the author's organisation when posting",
        "state": "its state as of the data's date (docs/METRICS.md, 'States')",
        "open": "1 for a backlog state",
        "lists": "JSON list of the mailing lists it was posted to",
        "subsystems": "JSON list of MAINTAINERS sections it touches",
        "first_date": "first posting (YYYY-MM-DD)",
        "last_date": "last posting or reply (YYYY-MM-DD)",
        "age_days": "days from the first posting to the data's date",
        "idle_days": "days from the last activity to the data's date, or to the mail's end "
        "when it comes first",
        "versions": "versions posted",
        "patches": "patches in the latest version",
        "as_of": "the data's date the states are computed at (YYYY-MM-DD)",
    },
)


def metadata(db_name: str, rules: BacklogRules, states_db: bool = True) -> dict[str, Any]:
    """datasette's metadata for the store opened as `db_name` (a file's stem), and for the
    side database of states when `states_db`."""
    tables = {name: _table(name) for name in TABLES}
    for name, facets in STORE_FACETS.items():
        tables[name]["facets"] = facets
    tables["mailing_lists"]["label_column"] = "name"
    dbs: dict[str, Any] = {
        db_name: {
            "description": "A patchlens store: mailing-list review reconstructed (series, "
            "versions, replies, trailers, links to commits, metrics). Opened read-only. "
            "Dates are seconds since the epoch (UTC), durations hours; see docs/METRICS.md.",
            "tables": tables,
            "queries": canned_queries(rules),
        }
    }
    if states_db:
        desc, cols = STATES_TABLE
        dbs[STATES_DB] = {
            "description": "Series states as of the data's date, for faceting (written by "
            "`patchlens datasette`; the store itself stays read-only).",
            "tables": {
                "series_states": {
                    "description": desc,
                    "columns": dict(cols),
                    "facets": ["state", "org", {"array": "lists"}, {"array": "subsystems"}],
                    "sort": "first_date",
                }
            },
        }
    return {
        "title": "patchlens",
        "description": "Code review on mailing lists, from a patchlens store.",
        "databases": dbs,
    }


def write_states_db(conn: Connection, path: Path, rules: BacklogRules) -> int:
    """Write the side database of series states at `path` (replaced): one row per series as
    the dashboard's read model gives it. Returns the number of rows."""
    as_of, idle_to = seen_dates(conn)
    rows = select_series(conn, Filters(), rules)
    day = "%Y-%m-%d"

    def date(ts: int | None) -> str | None:
        from datetime import UTC, datetime

        return None if ts is None else datetime.fromtimestamp(ts, UTC).strftime(day)

    cols = list(STATES_TABLE[1])
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path)
    try:
        db.execute(
            "CREATE TABLE series_states (series_key TEXT PRIMARY KEY, title TEXT, author TEXT, "
            "author_name TEXT, org TEXT, state TEXT, open INTEGER, lists TEXT, subsystems TEXT, "
            "first_date TEXT, last_date TEXT, age_days REAL, idle_days REAL, versions INTEGER, "
            "patches INTEGER, as_of TEXT)"
        )
        db.executemany(
            f"INSERT INTO series_states VALUES ({', '.join('?' for _ in cols)})",
            [
                (
                    r["series_key"],
                    r["title"],
                    r["author"],
                    r.get("author_name") or "",
                    r["org"],
                    r["state"],
                    int(r["state"] in OPEN_STATES),
                    json.dumps(r.get("lists") or []),
                    json.dumps(r.get("subsystems") or []),
                    date(r["first_date"]),
                    date(r["last_date"]),
                    round((as_of - r["first_date"]) / DAY, 1),
                    round((idle_to - r["last_date"]) / DAY, 1),
                    r["versions"],
                    r["patches"],
                    date(as_of),
                )
                for r in rows
            ],
        )
        for col in ("state", "org"):
            db.execute(f"CREATE INDEX ix_series_states_{col} ON series_states ({col})")
        db.commit()
        return int(db.execute("SELECT count(*) FROM series_states").fetchone()[0])
    finally:
        db.close()


def serve_args(store: Path, states: Path | None, meta: Path, host: str, port: int) -> list[str]:
    """datasette's command line: the store opened `?mode=ro` (datasette opens a database that
    is not immutable read-only, and still sees an update's WAL), the side database of states
    immutable (`-i`). Paths are the user's and this command's own, never mail text."""
    args = ["serve", str(store), "--metadata", str(meta), "--host", host, "--port", str(port)]
    if states is not None:
        args += ["-i", str(states)]
    return args
