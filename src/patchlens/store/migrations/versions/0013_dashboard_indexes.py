"""dashboard indexes: a commit found by its id alone

The commit page looks a commit up by (a prefix of) its id, in every repository; the unique
constraint on (repo_id, sha) cannot answer that, so without this index every request read
every commit.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 15:35:00.000000
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("commits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_commits_sha"), ["sha"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("commits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_commits_sha"))
