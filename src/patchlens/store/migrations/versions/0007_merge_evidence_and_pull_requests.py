"""merge evidence by notice, pull requests apart, series search text

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("message_notices", sa.Column("tree", sa.Text(), nullable=True))
    op.add_column("series_metrics", sa.Column("merged_by", sa.String(length=10), nullable=True))
    op.add_column("series_metrics", sa.Column("merge_evidence", sa.Text(), nullable=True))
    op.add_column(
        "series_metrics",
        sa.Column("repo_registered", sa.Boolean(), server_default=sa.true(), nullable=False),
    )
    op.add_column(
        "series_metrics",
        sa.Column("search_text", sa.Text(), server_default="", nullable=False),
    )
    op.create_table(
        "pull_requests",
        sa.Column("series_key", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("author", sa.Text(), nullable=False),
        sa.Column("author_addr", sa.Text(), nullable=False),
        sa.Column("first_date", sa.Integer(), nullable=False),
        sa.Column("last_date", sa.Integer(), nullable=False),
        sa.Column("versions", sa.Integer(), nullable=False),
        sa.Column("replies", sa.Integer(), nullable=False),
        sa.Column("merged_by", sa.String(length=10), nullable=True),
        sa.Column("merged_date", sa.Integer(), nullable=True),
        sa.Column("merge_evidence", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("series_key", name=op.f("pk_pull_requests")),
    )
    op.create_index(
        op.f("ix_pull_requests_first_date"), "pull_requests", ["first_date"], unique=False
    )
    # The stages after ingest must run again to fill the new columns.
    op.execute("DELETE FROM stage_state")


def downgrade() -> None:
    op.drop_index(op.f("ix_pull_requests_first_date"), table_name="pull_requests")
    op.drop_table("pull_requests")
    op.drop_column("series_metrics", "search_text")
    op.drop_column("series_metrics", "repo_registered")
    op.drop_column("series_metrics", "merge_evidence")
    op.drop_column("series_metrics", "merged_by")
    op.drop_column("message_notices", "tree")
