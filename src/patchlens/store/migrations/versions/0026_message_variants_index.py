"""an index on message_variants.message_pk: deleting a message (remove-list) made SQLite's
foreign key check scan every variant, raw mail included, once per message deleted. On the
million-message store (22,575 variants) removing a list of 96,475 messages read 700 GB of
pages in five minutes and was not done; 3,000 deletes on a copy of a 35k-message store with
5,000 variants took 16 s without the index and 0.14 s with it.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06 01:15:00.000000
"""

from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_message_variants_message_pk", "message_variants", ["message_pk"])


def downgrade() -> None:
    op.drop_index("ix_message_variants_message_pk", table_name="message_variants")
