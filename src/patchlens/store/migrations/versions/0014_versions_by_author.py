"""versions by author address: an incremental update relinks one person's versions

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 16:10:00.000000
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("series_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_series_versions_author_addr"), ["author_addr"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("series_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_series_versions_author_addr"))
