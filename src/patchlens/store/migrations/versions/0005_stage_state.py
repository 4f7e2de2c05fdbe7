"""stage state

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 20:40:00.088779
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "stage_state",
        sa.Column("stage", sa.String(length=40), nullable=False),
        sa.Column("inputs", sa.Text(), nullable=False),
        sa.Column("finished_at", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("stage", name=op.f("pk_stage_state")),
    )


def downgrade() -> None:

    op.drop_table("stage_state")
