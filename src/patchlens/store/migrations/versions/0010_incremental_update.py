"""incremental update: work owed between steps, lookup keys of messages

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 15:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pending_work",
        sa.Column("stage", sa.String(length=40), nullable=False),
        sa.Column("item", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("stage", "item", name=op.f("pk_pending_work")),
    )
    op.create_table(
        "message_keys",
        sa.Column("kind", sa.String(length=1), nullable=False),
        sa.Column("hash", sa.BigInteger(), nullable=False),
        sa.Column("message_pk", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_pk"], ["messages.id"], name=op.f("fk_message_keys_message_pk_messages")
        ),
        sa.PrimaryKeyConstraint("kind", "hash", "message_pk", name=op.f("pk_message_keys")),
    )
    # A store reconstructed before this revision has no keys: its next update rebuilds.
    op.execute("DELETE FROM stage_state")


def downgrade() -> None:
    op.drop_table("message_keys")
    op.drop_table("pending_work")
