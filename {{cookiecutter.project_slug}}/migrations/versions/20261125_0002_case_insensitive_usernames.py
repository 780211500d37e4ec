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
    clashes = op.get_bind().scalars(
        sa.text(
            "SELECT lower(username) FROM users GROUP BY lower(username)"
            " HAVING count(*) > 1 ORDER BY 1 LIMIT 5"
        )
    )
    names = clashes.all()
    if names:
        # Which of two users keeps a name is the owner's decision, not a migration's.
        raise RuntimeError(
            "usernames differ only in letter case, rename all but one of each first: "
            + ", ".join(names)
        )
    op.drop_constraint("uq_users_username", "users", type_="unique")
    op.create_index("uq_users_username", "users", [sa.text("lower(username)")], unique=True)


def downgrade() -> None:
    op.drop_index("uq_users_username", table_name="users")
    op.create_unique_constraint("uq_users_username", "users", ["username"])
