"""history horizon: commits far older than every archive are read without their diffs

A repository's old history costs most of its reading (git's diffs, patch-ids, fingerprints,
compression) and no stage needs it: no posting in the archives can be such a commit's. A
commit read that way is marked (commits.diff_skipped); the repository records the horizon
last settled (repos.horizon), and an index finds the commits on the wrong side of the
current one, so that mail older than that, arriving later, brings those diffs back
(stages/horizon.py). Stores made before this have every diff read; their next update drops
those before the horizon.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-04 22:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs: a batch operation would copy `commits` into a new table on SQLite,
    # which the foreign keys of its files, trailers and links refuse.
    op.add_column(
        "commits",
        sa.Column("diff_skipped", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column("repos", sa.Column("horizon", sa.Integer(), nullable=True))
    op.create_index(
        op.f("ix_commits_repo_id_diff_skipped_committer_date"),
        "commits",
        ["repo_id", "diff_skipped", "committer_date"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_commits_repo_id_diff_skipped_committer_date"), table_name="commits")
    op.drop_column("repos", "horizon")
    op.drop_column("commits", "diff_skipped")
