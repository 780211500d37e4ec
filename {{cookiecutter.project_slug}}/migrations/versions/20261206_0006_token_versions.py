"""Token versions: a password change ends every access token issued before it.

Existing users start at version 0; tokens issued before this revision carry none and
are refused (there were none: authentication arrives with this revision). The downgrade
drops the column.

Revision ID: 0006
Revises: placed after the project's revisions (db/placement.py)
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from {{ cookiecutter.package_name }}.db.placement import placed

revision: str = "0006"
# Arrives with the authentication feature, after the project's own revisions.
down_revision: str | Sequence[str] | None = placed(revision, __file__)
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A constant default fills existing rows without rewriting the table (PostgreSQL 11+).
    op.add_column(
        "users",
        sa.Column("token_version", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )


def downgrade() -> None:
    op.drop_column("users", "token_version")
