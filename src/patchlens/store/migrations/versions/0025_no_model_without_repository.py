"""no model without a repository: a store whose registered repositories touched no file (or
that has none) keeps no time-to-merge model, since no open series there can be seen merged
(stages/prediction.py). The rows a store built before holds are dropped here, so that it is
the store its sources give whatever code built it; an update that finds nothing new runs no
step that would drop them.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-05 12:05:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.get_bind().execute(
        sa.text("DELETE FROM prediction_model WHERE NOT EXISTS (SELECT 1 FROM commit_files)")
    )


def downgrade() -> None:
    # Nothing to restore: older code fits a model when none is stored.
    pass
