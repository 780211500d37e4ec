"""Soft delete: is_deleted / deleted_at on users; usernames and emails unique among live users.

Existing users stay live (is_deleted false). The downgrade refuses while soft-deleted users
exist: removing the flag would bring them back to life, so delete or restore them first.

Revision ID: 0003
Revises: placed after the project's revisions (db/placement.py); 0002 before placement
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from {{ cookiecutter.package_name }}.db.placement import placed

revision: str = "0003"
# A feature that may be switched on long after the project's own revisions: it runs
# after them (before placement existed it followed 0002, where databases keep it).
down_revision: str | Sequence[str] | None = placed(revision, __file__, was_after="0002")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = sa.text("NOT is_deleted")


def upgrade() -> None:
    # A constant default fills existing rows without rewriting the table (PostgreSQL 11+).
    op.add_column(
        "users",
        sa.Column("is_deleted", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.add_column("users", sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    op.drop_index("uq_users_username", table_name="users")
    op.create_index(
        "uq_users_username",
        "users",
        [sa.text("lower(username)")],
        unique=True,
        postgresql_where=LIVE,
    )
    op.drop_constraint("uq_users_email", "users", type_="unique")
    op.create_index("uq_users_email", "users", ["email"], unique=True, postgresql_where=LIVE)


def downgrade() -> None:
    op.execute(
        """
        DO $$
        DECLARE
            deleted bigint := (SELECT count(*) FROM users WHERE is_deleted);
        BEGIN
            IF deleted > 0 THEN
                RAISE EXCEPTION 'soft-deleted users: %; delete them'
                    ' (DELETE FROM users WHERE is_deleted) or restore them before downgrading',
                    deleted;
            END IF;
        END $$
        """
    )
    op.drop_index("uq_users_email", table_name="users")
    op.create_unique_constraint("uq_users_email", "users", ["email"])
    op.drop_index("uq_users_username", table_name="users")
    op.create_index("uq_users_username", "users", [sa.text("lower(username)")], unique=True)
    op.drop_column("users", "deleted_at")
    op.drop_column("users", "is_deleted")
