"""Usernames unique whatever their letter case: "Alice" and "alice" are one name.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Which of two users keeps a name is the owner's decision, not a migration's.
    op.execute(
        """
        DO $$
        DECLARE
            clashes text := (
                SELECT string_agg(name, ', ') FROM (
                    SELECT lower(username) AS name FROM users
                    GROUP BY 1 HAVING count(*) > 1 ORDER BY 1 LIMIT 5
                ) AS clash
            );
        BEGIN
            IF clashes IS NOT NULL THEN
                RAISE EXCEPTION 'usernames differ only in letter case, rename all but one'
                    ' of each first: %', clashes;
            END IF;
        END $$
        """
    )
    op.drop_constraint("uq_users_username", "users", type_="unique")
    op.create_index("uq_users_username", "users", [sa.text("lower(username)")], unique=True)


def downgrade() -> None:
    op.drop_index("uq_users_username", table_name="users")
    op.create_unique_constraint("uq_users_username", "users", ["username"])
