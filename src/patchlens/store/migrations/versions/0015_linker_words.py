"""linker words: per-person title word counts for incremental linking; date-bounded
indexes for a person's recent versions and messages; message keys by message

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 18:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "linker_words",
        sa.Column("identity", sa.Text(), nullable=False),
        sa.Column("word", sa.Text(), nullable=False),
        sa.Column("versions", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("identity", "word", name=op.f("pk_linker_words")),
    )
    op.create_table(
        "linker_people",
        sa.Column("identity", sa.Text(), nullable=False),
        sa.Column("versions", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("identity", name=op.f("pk_linker_people")),
    )
    with op.batch_alter_table("message_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_message_keys_message_pk_kind_hash"),
            ["message_pk", "kind", "hash"],
            unique=False,
        )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_messages_from_addr_date_utc"), ["from_addr", "date_utc"], unique=False
        )
    with op.batch_alter_table("series_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_series_versions_author_addr_date"),
            ["author_addr", "date"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("series_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_series_versions_author_addr_date"))
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_messages_from_addr_date_utc"))
    with op.batch_alter_table("message_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_message_keys_message_pk_kind_hash"))
    op.drop_table("linker_people")
    op.drop_table("linker_words")
