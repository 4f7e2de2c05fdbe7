"""sender names: a covering index of a sender's names and dates, so that recounting the
people who sent new mail reads no message rows

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 23:55:00.000000
"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_messages_from_addr_from_name_date_utc"),
            ["from_addr", "from_name", "date_utc"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_messages_from_addr_from_name_date_utc"))
