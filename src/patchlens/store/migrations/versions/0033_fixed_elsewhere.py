"""A series fixed elsewhere: message_fixes holds the commit hashes a reply names as what fixed
or replaced the patch it answers (mail/fixedby.py; filled by the analysis, ANALYSIS_VERSION
24, which redoes every stored message); series_metrics.fixed_at and fixed_by say which reply
named a commit of a registered repository (filled by the metrics, METRICS_VERSION 22).

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-07 02:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "message_fixes",
        sa.Column("message_pk", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_pk"], ["messages.id"], name=op.f("fk_message_fixes_message_pk_messages")
        ),
        sa.UniqueConstraint("message_pk", "hash", name=op.f("uq_message_fixes_message_pk_hash")),
    )
    with op.batch_alter_table("message_fixes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_message_fixes_hash"), ["hash"], unique=False)
    with op.batch_alter_table("series_metrics", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fixed_at", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("fixed_by", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("series_metrics", schema=None) as batch_op:
        batch_op.drop_column("fixed_by")
        batch_op.drop_column("fixed_at")
    with op.batch_alter_table("message_fixes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_message_fixes_hash"))
    op.drop_table("message_fixes")
