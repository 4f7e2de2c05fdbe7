"""which patches a maintainer's notice says were taken (message_notices.scope): "I've applied
the first 4 patches" is a partial merge, "Series applied" a whole one, an "Applied" in reply
to patch 3 of 10 covers patch 3 (metrics/backlog.py). The column is filled when a message is
analysed: ANALYSIS_VERSION 6 re-analyses every message the older code stored.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-06 02:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (nullable, no default): no copy of the table on SQLite.
    # Text: b4's thank-you for a 92-patch series lists every patch ("patches:1,2,...,92").
    op.add_column("message_notices", sa.Column("scope", sa.Text(), nullable=True))
    # Rows analysed before hold no value here: they are analysed again by the next update,
    # whatever code wrote them (a store taken down past this revision and up again keeps
    # its rows' analysis version, which the version constant alone would not catch).
    bind = op.get_bind()
    bind.execute(sa.text("UPDATE message_analysis SET analysis_version = 0"))
    # And the stages after it are redone from them (the digest of the last run is forgotten).
    # (schema.PIPELINE_DIGEST, as this revision names it).
    bind.execute(sa.text("DELETE FROM stage_state WHERE stage = 'review+match+metrics'"))


def downgrade() -> None:
    with op.batch_alter_table("message_notices", schema=None) as batch_op:
        batch_op.drop_column("scope")
