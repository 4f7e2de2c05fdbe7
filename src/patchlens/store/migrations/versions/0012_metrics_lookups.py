"""metrics lookups: repository paths by old path, first authors and new-contributor flags
read from covering indexes, series outside every repository

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 15:05:00.000000
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

INDEXES = (
    ("commit_files", ["old_path"]),
    ("series_versions", ["series_key", "seq", "date", "author_name", "author_addr"]),
    ("series_metrics", ["author", "first_date", "new_contributor", "series_key"]),
    ("series_metrics", ["in_repo"]),
)


def _name(table: str, columns: list[str]) -> str:
    return f"ix_{table}_{'_'.join(columns)}"


def upgrade() -> None:
    for table, columns in INDEXES:
        op.create_index(op.f(_name(table, columns)), table, columns, unique=False)


def downgrade() -> None:
    for table, columns in reversed(INDEXES):
        op.drop_index(op.f(_name(table, columns)), table_name=table)
