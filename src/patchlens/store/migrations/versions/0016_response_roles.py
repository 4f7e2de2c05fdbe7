"""first response by role: who MAINTAINERS named for a series, and each role's first response

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 18:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

HOURS = (
    "time_to_first_response_maintainer",
    "time_to_first_response_reviewer",
    "time_to_first_response_other",
    "time_to_first_response_bot",
)


def upgrade() -> None:
    with op.batch_alter_table("series_metrics", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("expected_roles", sa.Text(), server_default="{}", nullable=False)
        )
        batch_op.add_column(sa.Column("first_response_role", sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column("first_responder", sa.Text(), nullable=True))
        for name in HOURS:
            batch_op.add_column(sa.Column(name, sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("series_metrics", schema=None) as batch_op:
        for name in reversed(HOURS):
            batch_op.drop_column(name)
        batch_op.drop_column("first_responder")
        batch_op.drop_column("first_response_role")
        batch_op.drop_column("expected_roles")
