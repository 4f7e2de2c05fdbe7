"""series metrics

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 20:33:39.192662
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "series_metrics",
        sa.Column("series_key", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("author", sa.Text(), nullable=False),
        sa.Column("author_addr", sa.Text(), nullable=False),
        sa.Column("org", sa.Text(), nullable=False),
        sa.Column("new_contributor", sa.Boolean(), nullable=False),
        sa.Column("in_repo", sa.Boolean(), nullable=False),
        sa.Column("subsystems", sa.Text(), nullable=False),
        sa.Column("unanswered_by_subsystem", sa.Boolean(), nullable=True),
        sa.Column("first_date", sa.Integer(), nullable=False),
        sa.Column("last_date", sa.Integer(), nullable=False),
        sa.Column("versions", sa.Integer(), nullable=False),
        sa.Column("patches", sa.Integer(), nullable=False),
        sa.Column("lines_added", sa.Integer(), nullable=False),
        sa.Column("lines_removed", sa.Integer(), nullable=False),
        sa.Column("files_changed", sa.Integer(), nullable=False),
        sa.Column("review_replies", sa.Integer(), nullable=False),
        sa.Column("reviewer_lines", sa.Integer(), nullable=False),
        sa.Column("reviewers", sa.Integer(), nullable=False),
        sa.Column("reviews", sa.Integer(), nullable=False),
        sa.Column("comments_after_first_ack", sa.Integer(), nullable=False),
        sa.Column("merged_patches", sa.Integer(), nullable=False),
        sa.Column("time_to_first_response", sa.Float(), nullable=True),
        sa.Column("time_to_first_review", sa.Float(), nullable=True),
        sa.Column("time_to_first_comment", sa.Float(), nullable=True),
        sa.Column("time_to_merge", sa.Float(), nullable=True),
        sa.Column("time_to_commit", sa.Float(), nullable=True),
        sa.Column("rework_time", sa.Float(), nullable=True),
        sa.Column("cycle_time", sa.Float(), nullable=True),
        sa.Column("anomalies", sa.Text(), nullable=False),
        sa.Column("merged", sa.String(length=10), nullable=False),
        sa.Column("nearly_complete", sa.Boolean(), nullable=False),
        sa.Column("has_reviewer_reply", sa.Boolean(), nullable=False),
        sa.Column("reviewer_spoke_last", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("series_key", name=op.f("pk_series_metrics")),
    )
    with op.batch_alter_table("series_metrics", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_series_metrics_author"), ["author"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_series_metrics_first_date"), ["first_date"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_series_metrics_org"), ["org"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("series_metrics", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_series_metrics_org"))
        batch_op.drop_index(batch_op.f("ix_series_metrics_first_date"))
        batch_op.drop_index(batch_op.f("ix_series_metrics_author"))

    op.drop_table("series_metrics")
