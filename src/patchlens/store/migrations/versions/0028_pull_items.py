"""what each pull request lists (pull_items: the subjects of its letter's shortlog, the
Message-IDs its patches point back to), and a partial index on the postings' normalised
titles, by which a pull request's subjects find the series they name. The items are written
by the metrics stage: the migration owes it everything, so the next update fills them (and
METRICS_VERSION 5 says the same to a store the older code built).

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-06 03:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pull_items",
        sa.Column("pull_key", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("date", sa.Integer(), nullable=False),
        sa.Column("sender_name", sa.Text(), nullable=False),
        sa.Column("sender_addr", sa.Text(), nullable=False),
        sa.Column("author", sa.Text(), server_default="", nullable=False),
        sa.UniqueConstraint("pull_key", "kind", "value"),
    )
    op.create_index("ix_pull_items_value", "pull_items", ["value"])
    op.create_index(
        "ix_message_analysis_posting_title",
        "message_analysis",
        ["normalized_title"],
        sqlite_where=sa.text("is_posting = 1"),
        postgresql_where=sa.text("is_posting"),
    )
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT 1 FROM series_metrics LIMIT 1")).first() is not None:
        bind.execute(sa.text("DELETE FROM pending_work WHERE stage = 'metrics'"))
        bind.execute(sa.text("INSERT INTO pending_work (stage, item) VALUES ('metrics', 'full')"))


def downgrade() -> None:
    op.drop_index("ix_message_analysis_posting_title", table_name="message_analysis")
    op.drop_index("ix_pull_items_value", table_name="pull_items")
    op.drop_table("pull_items")
