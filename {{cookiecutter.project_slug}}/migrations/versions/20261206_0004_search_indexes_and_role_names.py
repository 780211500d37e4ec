"""Search served by trigram indexes; role names unique whatever their letter case.

`GET /users/search` matches a substring of the username, email or full name
(`ILIKE '%term%'`), which no B-tree can serve: without these GIN trigram indexes
(`pg_trgm`) every search reads the whole users table. On a large table the indexes are
built with CREATE INDEX CONCURRENTLY (writes go on meanwhile); this commits the revisions
before it, and a build that fails leaves an invalid index, which the next run replaces.

Revision ID: 0004
Revises: placed after the project's revisions (db/placement.py)
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from {{ cookiecutter.package_name }}.db.placement import placed

revision: str = "0004"
# Arrives with a template update, after the project's own revisions.
down_revision: str | Sequence[str] | None = placed(revision, __file__)
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEARCHED_COLUMNS = ("username", "email", "full_name")
# New entries go into the index at once, not into a pending list that each search scans
# (and the planner avoids the index for) until a vacuum merges it: a sign-up costs a
# little more, a search stays an index search however many sign-ups came since.
NO_PENDING_LIST = {"fastupdate": "off"}
# Below this many rows (the planner's estimate) a plain build takes well under a second
# and stays inside the migration's transaction; above it, writes must not wait for it.
CONCURRENT_BUILD_ROWS = 100_000
ESTIMATED_USERS = sa.text("SELECT reltuples FROM pg_class WHERE oid = 'users'::regclass")


def trigram_index(column: str) -> str:
    return f"ix_users_{column}_trgm"


def upgrade() -> None:
    # pg_trgm is a trusted extension (PostgreSQL 13+): the database's owner may create it.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    rows = op.get_bind().scalar(ESTIMATED_USERS)
    if rows is not None and rows >= CONCURRENT_BUILD_ROWS:
        with op.get_context().autocommit_block():
            for column in SEARCHED_COLUMNS:
                _build_concurrently(column)
    else:
        for column in SEARCHED_COLUMNS:
            op.create_index(
                trigram_index(column),
                "users",
                [column],
                postgresql_using="gin",
                postgresql_ops={column: "gin_trgm_ops"},
                postgresql_with=NO_PENDING_LIST,
            )

    # Which of two roles keeps a name is the owner's decision, not a migration's.
    op.execute(
        """
        DO $$
        DECLARE
            clashes text := (
                SELECT string_agg(name, ', ') FROM (
                    SELECT lower(name) AS name FROM roles
                    GROUP BY 1 HAVING count(*) > 1 ORDER BY 1 LIMIT 5
                ) AS clash
            );
        BEGIN
            IF clashes IS NOT NULL THEN
                RAISE EXCEPTION 'role names differ only in letter case, rename or merge all'
                    ' but one of each first: %', clashes;
            END IF;
        END $$
        """
    )
    op.drop_constraint("uq_roles_name", "roles", type_="unique")
    op.create_index("uq_roles_name", "roles", [sa.text("lower(name)")], unique=True)


def _build_concurrently(column: str) -> None:
    name = trigram_index(column)
    bind = op.get_bind()
    valid = bind.scalar(
        sa.text("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(:name)"),
        {"name": name},
    )
    if valid is False:
        # Left by a build that failed or was cancelled: it costs writes and serves nothing.
        op.drop_index(name, table_name="users", postgresql_concurrently=True)
    op.create_index(
        name,
        "users",
        [column],
        postgresql_using="gin",
        postgresql_ops={column: "gin_trgm_ops"},
        postgresql_with=NO_PENDING_LIST,
        postgresql_concurrently=True,
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_index("uq_roles_name", table_name="roles")
    op.create_unique_constraint("uq_roles_name", "roles", ["name"])
    for column in SEARCHED_COLUMNS:
        op.drop_index(trigram_index(column), table_name="users")
    # The extension stays: other objects in the database may use it.
