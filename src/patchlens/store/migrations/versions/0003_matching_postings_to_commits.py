"""matching postings to commits

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 20:23:39.386395
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "diff_fingerprints",
        sa.Column("kind", sa.String(length=1), nullable=False),
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("hashes", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "pk", name=op.f("pk_diff_fingerprints")),
    )
    op.create_table(
        "patch_commits",
        sa.Column("message_pk", sa.Integer(), nullable=False),
        sa.Column("commit_pk", sa.Integer(), nullable=False),
        sa.Column("repo_id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("ambiguous", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["commit_pk"], ["commits.id"], name=op.f("fk_patch_commits_commit_pk_commits")
        ),
        sa.ForeignKeyConstraint(
            ["message_pk"], ["messages.id"], name=op.f("fk_patch_commits_message_pk_messages")
        ),
        sa.ForeignKeyConstraint(
            ["repo_id"], ["repos.id"], name=op.f("fk_patch_commits_repo_id_repos")
        ),
        sa.UniqueConstraint("commit_pk", name=op.f("uq_patch_commits_commit_pk")),
    )
    with op.batch_alter_table("patch_commits", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_patch_commits_message_pk"), ["message_pk"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("patch_commits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patch_commits_message_pk"))

    op.drop_table("patch_commits")
    op.drop_table("diff_fingerprints")
