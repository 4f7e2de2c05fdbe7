"""match keys by posting or commit and side: forgetting one side's keys of a few postings
reads only their rows

The index on `pk` alone left SQLite (which keeps no statistics here) to pick the primary key's
leading `side` column for `DELETE ... WHERE pk IN (...) AND side = 'm'`, a scan of every
posting's keys: 0.37 s of a one-day update on a million-message store.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 05:00:00.000000
"""

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("match_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_match_keys_pk"))
        batch_op.create_index(batch_op.f("ix_match_keys_pk_side"), ["pk", "side"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("match_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_match_keys_pk_side"))
        batch_op.create_index(batch_op.f("ix_match_keys_pk"), ["pk"], unique=False)
