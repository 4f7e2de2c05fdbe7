"""series_versions.committed: a version posted after it was committed ("[COMMITTED] [PATCH]",
GCC's "[committed]", GDB's "[pushed]"), merged work rather than review work. Rows written
before hold false until the next update rebuilds the reconstruction (DERIVED_VERSION 13,
after ANALYSIS_VERSION 17 reads the flags again).

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-06 08:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NOT NULL with a default: SQLite adds it without copying the table.
    op.add_column(
        "series_versions",
        sa.Column("committed", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    # The stages after ingest are redone (the digest of the last run is forgotten), whatever
    # code wrote the rows (schema.PIPELINE_DIGEST, as this revision names it).
    op.get_bind().execute(sa.text("DELETE FROM stage_state WHERE stage = 'review+match+metrics'"))


def downgrade() -> None:
    with op.batch_alter_table("series_versions", schema=None) as batch_op:
        batch_op.drop_column("committed")
