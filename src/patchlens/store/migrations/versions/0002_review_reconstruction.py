"""review reconstruction

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 20:04:07.361962
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "series",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("author_name", sa.Text(), nullable=False),
        sa.Column("author_addr", sa.Text(), nullable=False),
        sa.Column("n_versions", sa.Integer(), nullable=False),
        sa.Column("latest_version_key", sa.Text(), nullable=False),
        sa.Column("first_date", sa.Integer(), nullable=False),
        sa.Column("last_date", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_series")),
    )
    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_series_author_addr"), ["author_addr"], unique=False)
        batch_op.create_index(batch_op.f("ix_series_first_date"), ["first_date"], unique=False)

    op.create_table(
        "series_versions",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("series_key", sa.Text(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("version_str", sa.String(length=20), nullable=False),
        sa.Column("rfc", sa.Boolean(), nullable=False),
        sa.Column("resend", sa.Boolean(), nullable=False),
        sa.Column("pull", sa.Boolean(), nullable=False),
        sa.Column("backport", sa.Boolean(), nullable=False),
        sa.Column("partial", sa.Boolean(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("author_name", sa.Text(), nullable=False),
        sa.Column("author_addr", sa.Text(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=True),
        sa.Column("n_patches", sa.Integer(), nullable=False),
        sa.Column("missing", sa.Text(), nullable=False),
        sa.Column("thread_key", sa.Text(), nullable=False),
        sa.Column("date", sa.Integer(), nullable=False),
        sa.Column("cover_pk", sa.Integer(), nullable=True),
        sa.Column("rerolls_key", sa.Text(), nullable=True),
        sa.Column("prev_key", sa.Text(), nullable=True),
        sa.Column("link_score", sa.Float(), nullable=True),
        sa.Column("link_evidence", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_series_versions")),
    )
    with op.batch_alter_table("series_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_series_versions_date"), ["date"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_series_versions_series_key"), ["series_key"], unique=False
        )

    op.create_table(
        "message_analysis",
        sa.Column("message_pk", sa.Integer(), nullable=False),
        sa.Column("is_reply", sa.Boolean(), nullable=False),
        sa.Column("is_posting", sa.Boolean(), nullable=False),
        sa.Column("is_pull", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("version_str", sa.String(length=20), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=True),
        sa.Column("total", sa.Integer(), nullable=True),
        sa.Column("flags", sa.Text(), nullable=False),
        sa.Column("prefixes", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("normalized_title", sa.Text(), nullable=False),
        sa.Column("files", sa.Text(), nullable=False),
        sa.Column("lines_added", sa.Integer(), nullable=False),
        sa.Column("lines_removed", sa.Integer(), nullable=False),
        sa.Column("patch_id", sa.String(length=40), nullable=True),
        sa.Column("change_id", sa.Text(), nullable=True),
        sa.Column("mentioned_ids", sa.Text(), nullable=False),
        sa.Column("author_name", sa.Text(), nullable=True),
        sa.Column("author_addr", sa.Text(), nullable=True),
        sa.Column("lines_written", sa.Integer(), nullable=False),
        sa.Column("lines_quoted", sa.Integer(), nullable=False),
        sa.Column("first_line", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_pk"], ["messages.id"], name=op.f("fk_message_analysis_message_pk_messages")
        ),
        sa.PrimaryKeyConstraint("message_pk", name=op.f("pk_message_analysis")),
    )
    with op.batch_alter_table("message_analysis", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_message_analysis_patch_id"), ["patch_id"], unique=False
        )

    op.create_table(
        "message_notices",
        sa.Column("message_pk", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_pk"], ["messages.id"], name=op.f("fk_message_notices_message_pk_messages")
        ),
        sa.UniqueConstraint("message_pk", "kind", name=op.f("uq_message_notices_message_pk_kind")),
    )
    op.create_table(
        "message_threads",
        sa.Column("message_pk", sa.Integer(), nullable=False),
        sa.Column("thread_key", sa.Text(), nullable=False),
        sa.Column("parent_id", sa.Text(), nullable=True),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("by_subject", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_pk"], ["messages.id"], name=op.f("fk_message_threads_message_pk_messages")
        ),
        sa.PrimaryKeyConstraint("message_pk", name=op.f("pk_message_threads")),
    )
    with op.batch_alter_table("message_threads", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_message_threads_thread_key"), ["thread_key"], unique=False
        )

    op.create_table(
        "message_trailers",
        sa.Column("message_pk", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("given", sa.Boolean(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_pk"], ["messages.id"], name=op.f("fk_message_trailers_message_pk_messages")
        ),
        sa.UniqueConstraint("message_pk", "seq", name=op.f("uq_message_trailers_message_pk_seq")),
    )
    with op.batch_alter_table("message_trailers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_message_trailers_key"), ["key"], unique=False)

    op.create_table(
        "replies",
        sa.Column("message_pk", sa.Integer(), nullable=False),
        sa.Column("version_key", sa.Text(), nullable=False),
        sa.Column("addressed_pk", sa.Integer(), nullable=False),
        sa.Column("addressed_idx", sa.Integer(), nullable=False),
        sa.Column("is_author", sa.Boolean(), nullable=False),
        sa.Column("is_bot", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_pk"], ["messages.id"], name=op.f("fk_replies_message_pk_messages")
        ),
        sa.PrimaryKeyConstraint("message_pk", name=op.f("pk_replies")),
    )
    with op.batch_alter_table("replies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_replies_version_key"), ["version_key"], unique=False)

    op.create_table(
        "version_members",
        sa.Column("message_pk", sa.Integer(), nullable=False),
        sa.Column("version_key", sa.Text(), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_pk"], ["messages.id"], name=op.f("fk_version_members_message_pk_messages")
        ),
        sa.PrimaryKeyConstraint("message_pk", name=op.f("pk_version_members")),
    )
    with op.batch_alter_table("version_members", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_version_members_version_key"), ["version_key"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("version_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_version_members_version_key"))

    op.drop_table("version_members")
    with op.batch_alter_table("replies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_replies_version_key"))

    op.drop_table("replies")
    with op.batch_alter_table("message_trailers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_message_trailers_key"))

    op.drop_table("message_trailers")
    with op.batch_alter_table("message_threads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_message_threads_thread_key"))

    op.drop_table("message_threads")
    op.drop_table("message_notices")
    with op.batch_alter_table("message_analysis", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_message_analysis_patch_id"))

    op.drop_table("message_analysis")
    with op.batch_alter_table("series_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_series_versions_series_key"))
        batch_op.drop_index(batch_op.f("ix_series_versions_date"))

    op.drop_table("series_versions")
    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_series_first_date"))
        batch_op.drop_index(batch_op.f("ix_series_author_addr"))

    op.drop_table("series")
