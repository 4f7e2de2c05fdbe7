"""community tables

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 20:47:45.440702
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "people",
        sa.Column("identity", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("addresses", sa.Text(), nullable=False),
        sa.Column("org", sa.Text(), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("first_date", sa.Integer(), nullable=True),
        sa.Column("last_date", sa.Integer(), nullable=True),
        sa.Column("is_bot", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("identity", name=op.f("pk_people")),
    )
    op.create_table(
        "subsystems",
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=True),
        sa.Column("maintainers", sa.Text(), nullable=False),
        sa.Column("reviewers", sa.Text(), nullable=False),
        sa.Column("lists", sa.Text(), nullable=False),
        sa.Column("files", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("title", name=op.f("pk_subsystems")),
    )
    op.create_table(
        "review_events",
        sa.Column("message_pk", sa.Integer(), nullable=False),
        sa.Column("series_key", sa.Text(), nullable=False),
        sa.Column("who", sa.Text(), nullable=False),
        sa.Column("org", sa.Text(), nullable=False),
        sa.Column("date", sa.Integer(), nullable=False),
        sa.Column("review", sa.Boolean(), nullable=False),
        sa.Column("substantive", sa.Boolean(), nullable=False),
        sa.Column("lines_written", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_pk"], ["messages.id"], name=op.f("fk_review_events_message_pk_messages")
        ),
        sa.PrimaryKeyConstraint("message_pk", name=op.f("pk_review_events")),
    )
    with op.batch_alter_table("review_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_events_date"), ["date"], unique=False)
        batch_op.create_index(batch_op.f("ix_review_events_org"), ["org"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_review_events_series_key"), ["series_key"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_review_events_who"), ["who"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("review_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_events_who"))
        batch_op.drop_index(batch_op.f("ix_review_events_series_key"))
        batch_op.drop_index(batch_op.f("ix_review_events_org"))
        batch_op.drop_index(batch_op.f("ix_review_events_date"))

    op.drop_table("review_events")
    op.drop_table("subsystems")
    op.drop_table("people")
