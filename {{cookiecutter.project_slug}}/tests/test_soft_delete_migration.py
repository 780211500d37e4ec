"""The soft-delete revision on a database that already holds users."""

import pytest
from pytest_alembic import MigrationContext
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.test_migrations import USERS, query

SOFT_DELETE_REVISION = "0003"


def test_existing_users_stay_live(
    alembic_runner: MigrationContext, alembic_engine: AsyncEngine
) -> None:
    alembic_runner.migrate_up_before(SOFT_DELETE_REVISION)
    alembic_runner.insert_into("users", USERS)

    alembic_runner.migrate_up_to(SOFT_DELETE_REVISION)

    rows = query(alembic_engine, "SELECT username, is_deleted, deleted_at FROM users ORDER BY id")
    assert [tuple(row) for row in rows] == [(user["username"], False, None) for user in USERS]


def test_names_are_unique_among_live_users_case_insensitively(
    alembic_runner: MigrationContext,
) -> None:
    alembic_runner.migrate_up_to(SOFT_DELETE_REVISION)
    alembic_runner.insert_into("users", {**USERS[0], "is_deleted": True})
    alembic_runner.insert_into("users", {**USERS[0], "username": USERS[0]["username"].upper()})

    with pytest.raises(IntegrityError, match="uq_users_username"):
        alembic_runner.insert_into("users", {**USERS[0], "username": USERS[0]["username"].lower()})


def test_downgrade_refuses_while_users_are_soft_deleted(
    alembic_runner: MigrationContext, alembic_engine: AsyncEngine
) -> None:
    alembic_runner.migrate_up_to(SOFT_DELETE_REVISION)
    alembic_runner.insert_into("users", [USERS[0], {**USERS[1], "is_deleted": True}])

    with pytest.raises(SystemExit, match=r"^alembic: soft-deleted users: 1; delete them"):
        alembic_runner.migrate_down_one()

    assert alembic_runner.current == SOFT_DELETE_REVISION
    assert len(query(alembic_engine, "SELECT id FROM users")) == 2
