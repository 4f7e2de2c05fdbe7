"""subsystems.repo_id: the repository whose MAINTAINERS file a section comes from, so that a
subsystem's commits (the conformance report filtered by it) are that repository's only; NULL
for a file named in the settings, which serves every repository. Rows written before hold
NULL until the next update rewrites them (METRICS_VERSION 16).

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-06 11:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("subsystems", sa.Column("repo_id", sa.Integer(), nullable=True))
    # The stages after ingest are redone (the digest of the last run is forgotten), whatever
    # code wrote the rows (schema.PIPELINE_DIGEST, as this revision names it).
    op.get_bind().execute(sa.text("DELETE FROM stage_state WHERE stage = 'review+match+metrics'"))


def downgrade() -> None:
    with op.batch_alter_table("subsystems", schema=None) as batch_op:
        batch_op.drop_column("repo_id")
