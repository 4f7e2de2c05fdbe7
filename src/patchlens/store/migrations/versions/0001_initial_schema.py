"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-21 19:53:00.082095
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "mailing_lists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mailing_lists")),
        sa.UniqueConstraint("name", name=op.f("uq_mailing_lists_name")),
    )
    op.create_table(
        "repos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("branches", sa.Text(), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("last_update", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_repos")),
        sa.UniqueConstraint("name", name=op.f("uq_repos_name")),
    )
    op.create_table(
        "commits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repo_id", sa.Integer(), nullable=False),
        sa.Column("sha", sa.String(length=64), nullable=False),
        sa.Column("parents", sa.Text(), nullable=False),
        sa.Column("is_merge", sa.Boolean(), nullable=False),
        sa.Column("author_name", sa.Text(), nullable=False),
        sa.Column("author_email", sa.Text(), nullable=False),
        sa.Column("author_date", sa.Integer(), nullable=False),
        sa.Column("author_offset", sa.Integer(), nullable=False),
        sa.Column("committer_name", sa.Text(), nullable=False),
        sa.Column("committer_email", sa.Text(), nullable=False),
        sa.Column("committer_date", sa.Integer(), nullable=False),
        sa.Column("committer_offset", sa.Integer(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("files_changed", sa.Integer(), nullable=False),
        sa.Column("lines_added", sa.Integer(), nullable=False),
        sa.Column("lines_removed", sa.Integer(), nullable=False),
        sa.Column("patch_id", sa.String(length=40), nullable=True),
        sa.Column("diff", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(["repo_id"], ["repos.id"], name=op.f("fk_commits_repo_id_repos")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commits")),
        sa.UniqueConstraint("repo_id", "sha", name=op.f("uq_commits_repo_id_sha")),
    )
    with op.batch_alter_table("commits", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_commits_committer_date"), ["committer_date"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_commits_patch_id"), ["patch_id"], unique=False)

    op.create_table(
        "list_sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("format", sa.String(length=40), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("last_update", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["list_id"], ["mailing_lists.id"], name=op.f("fk_list_sources_list_id_mailing_lists")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_list_sources")),
        sa.UniqueConstraint("list_id", "location", name=op.f("uq_list_sources_list_id_location")),
    )
    op.create_table(
        "commit_branches",
        sa.Column("commit_pk", sa.Integer(), nullable=False),
        sa.Column("branch", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["commit_pk"], ["commits.id"], name=op.f("fk_commit_branches_commit_pk_commits")
        ),
        sa.UniqueConstraint(
            "commit_pk", "branch", name=op.f("uq_commit_branches_commit_pk_branch")
        ),
    )
    op.create_table(
        "commit_files",
        sa.Column("commit_pk", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("old_path", sa.Text(), nullable=True),
        sa.Column("lines_added", sa.Integer(), nullable=False),
        sa.Column("lines_removed", sa.Integer(), nullable=False),
        sa.Column("binary", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["commit_pk"], ["commits.id"], name=op.f("fk_commit_files_commit_pk_commits")
        ),
        sa.UniqueConstraint("commit_pk", "path", name=op.f("uq_commit_files_commit_pk_path")),
    )
    with op.batch_alter_table("commit_files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_commit_files_path"), ["path"], unique=False)

    op.create_table(
        "commit_trailers",
        sa.Column("commit_pk", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["commit_pk"], ["commits.id"], name=op.f("fk_commit_trailers_commit_pk_commits")
        ),
        sa.UniqueConstraint("commit_pk", "seq", name=op.f("uq_commit_trailers_commit_pk_seq")),
    )
    with op.batch_alter_table("commit_trailers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_commit_trailers_key_value"), ["key", "value"], unique=False
        )

    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=False),
        sa.Column("synthetic_id", sa.Boolean(), nullable=False),
        sa.Column("date_utc", sa.Integer(), nullable=True),
        sa.Column("date_offset", sa.Integer(), nullable=True),
        sa.Column("date_source", sa.String(length=10), nullable=False),
        sa.Column("from_name", sa.Text(), nullable=False),
        sa.Column("from_addr", sa.Text(), nullable=False),
        sa.Column("to_addrs", sa.Text(), nullable=False),
        sa.Column("cc_addrs", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("in_reply_to", sa.Text(), nullable=True),
        sa.Column("refs", sa.Text(), nullable=False),
        sa.Column("list_id_header", sa.Text(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("has_patch", sa.Boolean(), nullable=False),
        sa.Column("patch_kind", sa.String(length=20), nullable=True),
        sa.Column("diff", sa.LargeBinary(), nullable=True),
        sa.Column("content_hash", sa.String(length=40), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("raw_size", sa.Integer(), nullable=False),
        sa.Column("first_source_id", sa.Integer(), nullable=False),
        sa.Column("ingested_at", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["first_source_id"],
            ["list_sources.id"],
            name=op.f("fk_messages_first_source_id_list_sources"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint("message_id", name=op.f("uq_messages_message_id")),
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_messages_date_utc"), ["date_utc"], unique=False)
        batch_op.create_index(batch_op.f("ix_messages_from_addr"), ["from_addr"], unique=False)
        batch_op.create_index(batch_op.f("ix_messages_in_reply_to"), ["in_reply_to"], unique=False)

    op.create_table(
        "quarantine",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"], ["list_sources.id"], name=op.f("fk_quarantine_source_id_list_sources")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine")),
        sa.UniqueConstraint("source_id", "position", name=op.f("uq_quarantine_source_id_position")),
    )
    op.create_table(
        "message_sightings",
        sa.Column("message_pk", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Text(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["mailing_lists.id"],
            name=op.f("fk_message_sightings_list_id_mailing_lists"),
        ),
        sa.ForeignKeyConstraint(
            ["message_pk"], ["messages.id"], name=op.f("fk_message_sightings_message_pk_messages")
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["list_sources.id"],
            name=op.f("fk_message_sightings_source_id_list_sources"),
        ),
        sa.UniqueConstraint(
            "source_id", "position", name=op.f("uq_message_sightings_source_id_position")
        ),
    )
    with op.batch_alter_table("message_sightings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_message_sightings_list_id_message_pk"),
            ["list_id", "message_pk"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_message_sightings_message_pk"), ["message_pk"], unique=False
        )

    op.create_table(
        "message_variants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_pk", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=40), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_pk"], ["messages.id"], name=op.f("fk_message_variants_message_pk_messages")
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["list_sources.id"],
            name=op.f("fk_message_variants_source_id_list_sources"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_variants")),
        sa.UniqueConstraint(
            "source_id", "position", name=op.f("uq_message_variants_source_id_position")
        ),
    )


def downgrade() -> None:

    op.drop_table("message_variants")
    with op.batch_alter_table("message_sightings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_message_sightings_message_pk"))
        batch_op.drop_index(batch_op.f("ix_message_sightings_list_id_message_pk"))

    op.drop_table("message_sightings")
    op.drop_table("quarantine")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_messages_in_reply_to"))
        batch_op.drop_index(batch_op.f("ix_messages_from_addr"))
        batch_op.drop_index(batch_op.f("ix_messages_date_utc"))

    op.drop_table("messages")
    with op.batch_alter_table("commit_trailers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_commit_trailers_key_value"))

    op.drop_table("commit_trailers")
    with op.batch_alter_table("commit_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_commit_files_path"))

    op.drop_table("commit_files")
    op.drop_table("commit_branches")
    op.drop_table("list_sources")
    with op.batch_alter_table("commits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_commits_patch_id"))
        batch_op.drop_index(batch_op.f("ix_commits_committer_date"))

    op.drop_table("commits")
    op.drop_table("repos")
    op.drop_table("mailing_lists")
