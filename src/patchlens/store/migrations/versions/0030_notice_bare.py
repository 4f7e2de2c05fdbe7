"""message_notices.bare: whether a notice is said by its verb alone ("Pushed, thanks."), which
makes an author's "pushed" a maintainer pushing their own series (metrics/backlog.py). Rows
written before are NULL until the next update re-analyses them (ANALYSIS_VERSION 14).

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-06 06:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (nullable, no default): no copy of the table on SQLite.
    op.add_column("message_notices", sa.Column("bare", sa.Boolean(), nullable=True))
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
        batch_op.drop_column("bare")
