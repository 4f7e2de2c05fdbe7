"""link features: what linking compares of each version, stored with it

A day on a million-message store spent about half a second re-reading the member mails of
the people's recent versions to recompute what linking compares of them. Stores made before
this keep working (a version without a row is read in full, as before); their rows are filled
once by the next `update` (the item below, stages/review.py).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04 17:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "link_features",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("normalized_title", sa.Text(), nullable=False),
        sa.Column("message_ids", sa.Text(), nullable=False),
        sa.Column("change_ids", sa.Text(), nullable=False),
        sa.Column("patch_titles", sa.Text(), nullable=False),
        sa.Column("files", sa.Text(), nullable=False),
        sa.Column("hashes", sa.LargeBinary(), nullable=False),
        sa.Column("patches", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_link_features")),
    )
    # A store with versions owes their features to the reconstruction step.
    op.execute(
        "INSERT INTO pending_work (stage, item) SELECT 'review', 'features' "
        "WHERE EXISTS (SELECT 1 FROM series_versions)"
    )


def downgrade() -> None:
    op.execute("DELETE FROM pending_work WHERE item = 'features'")
    op.drop_table("link_features")
