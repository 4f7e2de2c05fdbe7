"""matching lookups: keys of postings and commits for incremental matching

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 15:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "match_keys",
        sa.Column("side", sa.String(length=1), nullable=False),
        sa.Column("kind", sa.String(length=1), nullable=False),
        sa.Column("hash", sa.BigInteger(), nullable=False),
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("side", "kind", "hash", "pk", name=op.f("pk_match_keys")),
    )
    op.create_index(op.f("ix_match_keys_pk"), "match_keys", ["pk"], unique=False)
    # Without keys matching cannot find what new input changes: the next update matches
    # everything (and writes them), as it does without the "commits" mark.
    op.execute("DELETE FROM stage_state WHERE stage = 'mark:commits'")


def downgrade() -> None:
    op.drop_index(op.f("ix_match_keys_pk"), table_name="match_keys")
    op.drop_table("match_keys")
