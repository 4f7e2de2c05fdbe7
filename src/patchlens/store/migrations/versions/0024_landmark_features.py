"""landmark features: each series' own time-to-merge features at its landmarks, stored with
its metrics, so that the weekly refit reads one row per training series instead of its
facts (stages/prediction.py). Rows written before this have none: the migration owes the
metrics stage every series (pending_work, as stages/changes.py `owe` writes it), so the next
update rewrites every row whatever code built the store (METRICS_VERSION 2 says the same to a
store the older code built), and until then a refit reads those series' facts as before.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-05 09:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (nullable, no default): no copy of the table on SQLite.
    op.add_column("series_metrics", sa.Column("landmark_features", sa.Text(), nullable=True))
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT 1 FROM series_metrics LIMIT 1")).first() is not None:
        bind.execute(sa.text("DELETE FROM pending_work WHERE stage = 'metrics'"))
        bind.execute(sa.text("INSERT INTO pending_work (stage, item) VALUES ('metrics', 'full')"))


def downgrade() -> None:
    with op.batch_alter_table("series_metrics", schema=None) as batch_op:
        batch_op.drop_column("landmark_features")
