"""What each step of `update` owes the next: durable work items and high-water marks.

An update costs what is new when each step redoes only what changed upstream. A step learns
that from items its predecessor wrote into `pending_work` in the same transaction as the rows
that caused them, and deletes its own items in the transaction that does the work: an update
interrupted anywhere leaves the items of the unfinished steps in place, and the next update
redoes exactly those (never less, so the store ends as one clean run leaves it).

Items:
  full              redo everything (first run, another configuration, newer code)
  series:<key>      the series' structure, links or replies changed (or it is gone)
  posting:<pk>      the posting's version, series or membership changed (or it is gone)
  message:<pk>      a new message (its sender's identity row must be recounted)
  features          the stored versions' linking features are to be filled (a store made
                    before them: migration 0022, stages/review.py)

New input is found by marks: the largest message and commit primary keys a step has taken in
(rows are only ever added, with growing keys).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, delete, select

from patchlens.store import schema
from patchlens.store.writer import insert_ignore

FULL = "full"
FEATURES = "features"
STRUCTURE, MATCHING, METRICS = "review", "match", "metrics"
STEPS = (STRUCTURE, MATCHING, METRICS)


@dataclass
class Work:
    """A step's pending items, parsed."""

    full: bool = False
    series: set[str] = field(default_factory=set)
    postings: set[int] = field(default_factory=set)
    messages: set[int] = field(default_factory=set)
    features: bool = False

    def items(self) -> list[str]:
        if self.full:
            return [FULL]
        return (
            [f"series:{k}" for k in sorted(self.series)]
            + [f"posting:{pk}" for pk in sorted(self.postings)]
            + [f"message:{pk}" for pk in sorted(self.messages)]
            + ([FEATURES] if self.features else [])
        )

    def __bool__(self) -> bool:
        return self.full or self.features or bool(self.series or self.postings or self.messages)


def pending(conn: Connection, stage: str) -> Work:
    """The items owed to `stage`."""
    w = Work()
    pw = schema.pending_work
    for (item,) in conn.execute(select(pw.c.item).where(pw.c.stage == stage)):
        kind, _, value = item.partition(":")
        if kind == FULL:
            w.full = True
        elif kind == FEATURES:
            w.features = True
        elif kind == "series":
            w.series.add(value)
        elif kind == "posting":
            w.postings.add(int(value))
        elif kind == "message":
            w.messages.add(int(value))
        else:
            raise ValueError(f"unknown pending work item {item!r} for step {stage!r}")
    return w


def owe(conn: Connection, stage: str, work: Work) -> None:
    """Add `work` to what `stage` is owed (in the caller's transaction)."""
    if work.full:
        done(conn, stage)
    insert_ignore(conn, schema.pending_work, [{"stage": stage, "item": it} for it in work.items()])


def done(conn: Connection, stage: str) -> None:
    """`stage` did its work: drop its items (in the transaction that wrote the results)."""
    conn.execute(delete(schema.pending_work).where(schema.pending_work.c.stage == stage))


def state(conn: Connection, row: str) -> str | None:
    """The text `stage_state` keeps under `row` (a mark, the pipeline's digest, ...), None
    when there is none."""
    st = schema.stage_state
    return conn.execute(select(st.c.inputs).where(st.c.stage == row)).scalar()


def set_state(conn: Connection, row: str, text: str, now: int) -> None:
    """Keep `text` under `row` in `stage_state`, in the caller's transaction. A delete and an
    insert: the one upsert that SQLite and PostgreSQL share without dialect code."""
    st = schema.stage_state
    conn.execute(delete(st).where(st.c.stage == row))
    conn.execute(st.insert(), [{"stage": row, "inputs": text, "finished_at": now}])


def clear_state(conn: Connection, *rows: str) -> None:
    """Remove the `stage_state` rows named, in the caller's transaction."""
    st = schema.stage_state
    conn.execute(delete(st).where(st.c.stage.in_(rows)))


def mark(conn: Connection, name: str) -> int | None:
    """The high-water mark `name` (a primary key), None when never set."""
    value = state(conn, f"mark:{name}")
    return None if value is None else int(value)


def set_mark(conn: Connection, name: str, value: int, now: int) -> None:
    """Move the mark `name` (in the transaction that took in everything up to `value`)."""
    set_state(conn, f"mark:{name}", str(value), now)


def clear_mark(conn: Connection, name: str) -> None:
    clear_state(conn, f"mark:{name}")


# Progress of a reconstruction in batches (stages/review.py): messages done, and the newest
# message when it began. Only the same messages, by the same code, resume it.
COLD_DONE, COLD_OF = "cold-review", "cold-review-of"


def owes_full(conn: Connection, stage: str) -> bool:
    """Whether `stage` owes everything (`Work.full`), read without its other items."""
    pw = schema.pending_work
    q = select(pw.c.item).where(pw.c.stage == stage, pw.c.item == FULL).limit(1)
    return conn.execute(q).first() is not None


def owe_everyone_everything(conn: Connection) -> None:
    """Another configuration or newer code: every step redoes all (a reconstruction in
    batches left unfinished starts again)."""
    clear_mark(conn, COLD_DONE)
    clear_mark(conn, COLD_OF)
    for stage in STEPS:
        owe(conn, stage, Work(full=True))
