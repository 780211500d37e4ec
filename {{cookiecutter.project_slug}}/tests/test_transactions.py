"""TransactionManager and @transactional on real commits (not the rolled-back test session)."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from {{ cookiecutter.package_name }}.db.transaction import TransactionManager, transactional
from {{ cookiecutter.package_name }}.errors import ConflictError, NotFoundError
from {{ cookiecutter.package_name }}.models import Post, User, UserProfile
from {{ cookiecutter.package_name }}.schemas.user import ProfileCreate, UserCreate
from {{ cookiecutter.package_name }}.security import PasswordHasher
from {{ cookiecutter.package_name }}.services.users import UserService
from tests.factories import UNUSABLE_HASH, user_payload


class DeliberateError(Exception):
    pass


async def add_then_fail(session: AsyncSession, username: str) -> None:
    """A unit of work that writes a user, then fails."""
    async with TransactionManager(session):
        session.add(new_user(username))
        await session.flush()
        raise DeliberateError


@pytest.fixture
async def real_session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session that really commits; the tables are emptied afterwards."""
    async with AsyncSession(engine, expire_on_commit=False) as session:
        yield session
    async with engine.begin() as connection:
        await connection.execute(
            text("TRUNCATE users, roles, permissions RESTART IDENTITY CASCADE")
        )


async def committed_usernames(engine: AsyncEngine) -> list[str]:
    """What another connection sees: only committed rows."""
    async with engine.connect() as connection:
        rows = await connection.execute(select(User.username).order_by(User.username))
        return list(rows.scalars())


def new_user(username: str) -> User:
    return User(username=username, email=f"{username}@example.com", hashed_password=UNUSABLE_HASH)


async def test_commits_on_success(real_session: AsyncSession, engine: AsyncEngine) -> None:
    async with TransactionManager(real_session):
        real_session.add(new_user("kept"))

    assert await committed_usernames(engine) == ["kept"]


async def test_rolls_back_and_reraises_on_error(
    real_session: AsyncSession, engine: AsyncEngine
) -> None:
    with pytest.raises(DeliberateError):
        await add_then_fail(real_session, "lost")

    assert await committed_usernames(engine) == []
    async with TransactionManager(real_session):
        real_session.add(new_user("after"))
    assert await committed_usernames(engine) == ["after"]


async def test_owns_a_transaction_begun_by_earlier_reads(
    real_session: AsyncSession, engine: AsyncEngine
) -> None:
    await real_session.scalar(select(func.count()).select_from(User))
    assert real_session.in_transaction()

    async with TransactionManager(real_session):
        real_session.add(new_user("late"))

    assert await committed_usernames(engine) == ["late"]


async def test_failed_nested_unit_rolls_back_to_its_savepoint_only(
    real_session: AsyncSession, engine: AsyncEngine
) -> None:
    async with TransactionManager(real_session):
        real_session.add(new_user("outer"))
        with pytest.raises(DeliberateError):
            await add_then_fail(real_session, "inner")
        real_session.add(new_user("outer2"))

    assert await committed_usernames(engine) == ["outer", "outer2"]


async def test_outer_unit_goes_on_after_a_conflict_in_a_nested_one(
    real_session: AsyncSession, engine: AsyncEngine
) -> None:
    async with TransactionManager(real_session):
        real_session.add(new_user("taken"))

    async def add_duplicate() -> None:
        async with TransactionManager(real_session):
            duplicate = new_user("taken")
            duplicate.email = "other@example.com"
            real_session.add(duplicate)
            await real_session.flush()

    async with TransactionManager(real_session):
        real_session.add(new_user("outer"))
        with pytest.raises(ConflictError, match="username"):
            await add_duplicate()
        real_session.add(new_user("outer2"))
        await real_session.flush()

    assert await committed_usernames(engine) == ["outer", "outer2", "taken"]


async def test_successful_nested_unit_is_undone_with_the_outer_one(
    real_session: AsyncSession, engine: AsyncEngine
) -> None:
    async def outer_fails_after_inner_succeeds() -> None:
        async with TransactionManager(real_session):
            async with TransactionManager(real_session):
                real_session.add(new_user("inner"))
            # The inner unit released its savepoint; nothing is committed yet.
            assert await committed_usernames(engine) == []
            raise DeliberateError

    with pytest.raises(DeliberateError):
        await outer_fails_after_inner_succeeds()

    assert await committed_usernames(engine) == []


async def test_integrity_error_becomes_conflict(
    real_session: AsyncSession, engine: AsyncEngine
) -> None:
    async with TransactionManager(real_session):
        real_session.add(new_user("taken"))

    duplicate = new_user("taken")
    duplicate.email = "other@example.com"
    with pytest.raises(ConflictError, match=r"^username already exists$") as error:
        async with TransactionManager(real_session):
            real_session.add(duplicate)

    assert "taken" not in error.value.detail
    assert await committed_usernames(engine) == ["taken"]
    assert error.value.code == "username_taken"


async def test_a_vanished_parent_becomes_not_found(session: AsyncSession) -> None:
    with pytest.raises(NotFoundError) as error:
        async with TransactionManager(session):
            session.add(Post(author_id=987654, title="orphan", body="text"))

    assert error.value.code == "reference_not_found"


class Accounts:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @transactional
    async def open(self, *usernames: str, fail: bool = False) -> int:
        for username in usernames:
            self.session.add(new_user(username))
        await self.session.flush()
        if fail:
            raise DeliberateError
        return len(usernames)


async def test_transactional_decorator_commits(
    real_session: AsyncSession, engine: AsyncEngine
) -> None:
    assert await Accounts(real_session).open("a1", "a2") == 2
    assert await committed_usernames(engine) == ["a1", "a2"]


async def test_transactional_decorator_rolls_back(
    real_session: AsyncSession, engine: AsyncEngine
) -> None:
    with pytest.raises(DeliberateError):
        await Accounts(real_session).open("b1", fail=True)
    assert await committed_usernames(engine) == []


async def test_user_and_profile_are_created_together_or_not_at_all(
    real_session: AsyncSession, engine: AsyncEngine, hasher: PasswordHasher
) -> None:
    service = UserService(real_session, hasher)
    # Bypass validation so the database itself rejects the profile (timezone too long).
    bad_profile = ProfileCreate.model_construct(timezone="x" * 60, language="en")

    with pytest.raises(DBAPIError, match="too long"):
        await service.create_user_with_profile(UserCreate(**user_payload()), bad_profile)

    assert await committed_usernames(engine) == []
    async with engine.connect() as connection:
        profiles = await connection.scalar(select(func.count()).select_from(UserProfile))
    assert profiles == 0


@pytest.fixture
async def rejected_at_commit(engine: AsyncEngine) -> AsyncIterator[str]:
    """A deferred trigger that fails the COMMIT (not the INSERT) of one username."""
    username = "commit-fails"
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "CREATE FUNCTION reject_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$"
                f" BEGIN IF NEW.username = '{username}' THEN RAISE unique_violation USING"
                " MESSAGE = 'rejected at commit', CONSTRAINT = 'uq_users_username'; END IF;"
                " RETURN NULL; END $$"
            )
        )
        await connection.execute(
            text(
                "CREATE CONSTRAINT TRIGGER reject_at_commit AFTER INSERT ON users"
                " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION reject_at_commit()"
            )
        )
    try:
        yield username
    finally:
        async with engine.begin() as connection:
            await connection.execute(text("DROP TRIGGER reject_at_commit ON users"))
            await connection.execute(text("DROP FUNCTION reject_at_commit()"))
            await connection.execute(text("TRUNCATE users RESTART IDENTITY CASCADE"))


async def test_a_failed_commit_is_never_a_success_response(
    app: FastAPI, engine: AsyncEngine, rejected_at_commit: str
) -> None:
    payload: dict[str, Any] = user_payload(username=rejected_at_commit)
    # No dependency override: the app's own sessions and real commits.
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client:
        response = await client.post(app.url_path_for("create_user"), json=payload)
        accepted = await client.post(app.url_path_for("create_user"), json=user_payload())

    assert response.status_code == 409
    assert accepted.status_code == 201
    assert await committed_usernames(engine) == [accepted.json()["username"]]
