"""prediction records and model: each series' record for other series' time-to-merge
features (event dates, merge changes) in series_metrics, and the model `update` fits weekly

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 01:45:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("series_metrics", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("event_dates", sa.Text(), nullable=False, server_default="[]")
        )
        batch_op.add_column(
            sa.Column("merge_changes", sa.Text(), nullable=False, server_default="[]")
        )
    op.create_table(
        "prediction_model",
        sa.Column("cut", sa.BigInteger(), nullable=False),
        sa.Column("model", sa.Text(), nullable=True),
        sa.Column("series", sa.Integer(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("merges", sa.Integer(), nullable=False),
        sa.Column("corpus", sa.Integer(), nullable=False),
        sa.Column("train_days", sa.Integer(), nullable=False),
        sa.Column("max_train", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("cut", name=op.f("pk_prediction_model")),
    )


def downgrade() -> None:
    op.drop_table("prediction_model")
    with op.batch_alter_table("series_metrics", schema=None) as batch_op:
        batch_op.drop_column("merge_changes")
        batch_op.drop_column("event_dates")
