"""dependencies: the prerequisites a posting names, each series' resolved prerequisites, and
the date until which a series is blocked by them

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 18:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows stored before are redone by the analysis (ANALYSIS_VERSION 4), which fills this.
    with op.batch_alter_table("message_analysis", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("prerequisites", sa.Text(), server_default="[]", nullable=False)
        )
    with op.batch_alter_table("series_metrics", schema=None) as batch_op:
        batch_op.add_column(sa.Column("blocked_until", sa.BigInteger(), nullable=True))
    op.create_table(
        "series_prerequisites",
        sa.Column("series_key", sa.Text(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("prereq_key", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("series_key", "seq", name=op.f("pk_series_prerequisites")),
    )
    with op.batch_alter_table("series_prerequisites", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_series_prerequisites_prereq_key"), ["prereq_key"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_series_prerequisites_kind_value"), ["kind", "value"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("series_prerequisites", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_series_prerequisites_kind_value"))
        batch_op.drop_index(batch_op.f("ix_series_prerequisites_prereq_key"))
    op.drop_table("series_prerequisites")
    with op.batch_alter_table("series_metrics", schema=None) as batch_op:
        batch_op.drop_column("blocked_until")
    with op.batch_alter_table("message_analysis", schema=None) as batch_op:
        batch_op.drop_column("prerequisites")
