"""source damage: what an update could not read, per source

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 10:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "source_damage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=True),
        sa.Column("repo_id", sa.Integer(), nullable=True),
        sa.Column("position", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("seen_at", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["repo_id"], ["repos.id"], name=op.f("fk_source_damage_repo_id_repos")
        ),
        sa.ForeignKeyConstraint(
            ["source_id"], ["list_sources.id"], name=op.f("fk_source_damage_source_id_list_sources")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_source_damage")),
    )
    with op.batch_alter_table("source_damage", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_source_damage_repo_id"), ["repo_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_source_damage_source_id"), ["source_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("source_damage", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_source_damage_source_id"))
        batch_op.drop_index(batch_op.f("ix_source_damage_repo_id"))
    op.drop_table("source_damage")
