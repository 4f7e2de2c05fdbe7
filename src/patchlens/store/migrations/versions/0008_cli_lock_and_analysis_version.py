"""cli lock and analysis version

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 09:20:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "update_lock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("started_at", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_update_lock")),
    )
    # Rows already stored were written by version 1 of the analysis and fingerprint code.
    with op.batch_alter_table("message_analysis", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("analysis_version", sa.Integer(), server_default="1", nullable=False)
        )
    with op.batch_alter_table("diff_fingerprints", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("fp_version", sa.Integer(), server_default="1", nullable=False)
        )


def downgrade() -> None:

    with op.batch_alter_table("diff_fingerprints", schema=None) as batch_op:
        batch_op.drop_column("fp_version")
    with op.batch_alter_table("message_analysis", schema=None) as batch_op:
        batch_op.drop_column("analysis_version")
    op.drop_table("update_lock")
