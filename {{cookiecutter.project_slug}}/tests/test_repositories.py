"""The generic repository and the user repository's queries."""

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from {{ cookiecutter.package_name }}.models import Role, User
from {{ cookiecutter.package_name }}.repositories import RoleRepository, UserRepository
from {{ cookiecutter.package_name }}.repositories.user import escape_like
from tests.conftest import recorded_statements
from tests.factories import UNUSABLE_HASH, make_post, make_role, make_user


@pytest.fixture
async def statements(session: AsyncSession) -> AsyncIterator[list[str]]:
    """Queries the test's session sends, in order (savepoint bookkeeping left out)."""
    savepoints = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO")
    with recorded_statements(await session.connection(), ignore=savepoints) as sent:
        yield sent


def user_row(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "username": name,
        "email": f"{name}@example.com",
        "hashed_password": UNUSABLE_HASH,
    } | extra


async def test_create_flushes_without_committing(session: AsyncSession) -> None:
    users = UserRepository(session)
    user = await users.create(**user_row("fresh"))

    assert user.id is not None
    assert user.created_at is not None
    assert session.in_transaction()
    assert await users.get(user.id) is user


async def test_get_many_filters_orders_and_paginates(session: AsyncSession) -> None:
    users = UserRepository(session)
    a = await make_user(session, username="aaa", is_active=False)
    b = await make_user(session, username="bbb")
    c = await make_user(session, username="ccc")

    assert list(await users.get_many()) == [a, b, c]
    assert list(await users.get_many(order_by=["-username"])) == [c, b, a]
    assert list(await users.get_many(filters={"is_active": True})) == [b, c]
    assert list(await users.get_many(skip=1, limit=1)) == [b]
    assert await users.count() == 3
    assert await users.count({"is_active": False}) == 1


@pytest.mark.parametrize(
    "misuse",
    [
        lambda users, user: users.get_many(filters={"nope": 1}),
        lambda users, user: users.get_many(order_by=["-nope"]),
        lambda users, user: users.count({"nope": 1}),
        lambda users, user: users.update(user, {"nope": 1}),
    ],
    ids=["filter", "order", "count", "update"],
)
async def test_unknown_columns_are_rejected(
    session: AsyncSession, misuse: Callable[[UserRepository, User], Awaitable[object]]
) -> None:
    user = await make_user(session)
    with pytest.raises(ValueError, match="no column 'nope'"):
        await misuse(UserRepository(session), user)


async def test_update_and_delete(session: AsyncSession) -> None:
    users = UserRepository(session)
    user = await make_user(session)

    await users.update(user, {"full_name": "Changed"})
    assert (await users.get_many(filters={"full_name": "Changed"}))[0] is user

    await users.delete(user)
    session.expunge_all()
    assert await users.get(user.id) is None


async def test_bulk_create_keeps_input_order_in_one_statement(
    session: AsyncSession, statements: list[str]
) -> None:
    names = ["zed", "amy", "kim"]
    created = await UserRepository(session).bulk_create([user_row(n) for n in names])

    assert [user.username for user in created] == names
    assert all(isinstance(user.id, int) for user in created)
    assert sum(s.lstrip().upper().startswith("INSERT") for s in statements) == 1
    assert await UserRepository(session).bulk_create([]) == []


async def test_get_by_email_and_active_users(session: AsyncSession) -> None:
    users = UserRepository(session)
    active = await make_user(session, email="who@example.com")
    await make_user(session, is_active=False)

    assert await users.get_by_email("who@example.com") is active
    assert await users.get_by_email("nobody@example.com") is None
    assert list(await users.list_active()) == [active]


async def test_users_by_role(session: AsyncSession) -> None:
    roles = RoleRepository(session)
    admin = await make_role(session, name="admin")
    first, second, _outsider = [await make_user(session) for _ in range(3)]
    for user in (second, first):
        await roles.assign(user_id=user.id, role_id=admin.id)
    await roles.assign(user_id=first.id, role_id=admin.id)

    assert list(await UserRepository(session).list_by_role("admin")) == [first, second]
    assert list(await UserRepository(session).list_by_role("nobody")) == []
    assert await roles.get_by_name("admin") is admin


def test_escape_like() -> None:
    assert escape_like("50%_off\\") == "50\\%\\_off\\\\"


async def test_search_escapes_the_escape_character(session: AsyncSession) -> None:
    backslash = await make_user(session, username="back\\slash")
    await make_user(session, username="backslash")

    assert list(await UserRepository(session).search("k\\s")) == [backslash]


async def test_details_are_loaded_eagerly(session: AsyncSession) -> None:
    user = await make_user(session)
    role = await make_role(session)
    await RoleRepository(session).assign(user_id=user.id, role_id=role.id)
    post = await make_post(session, user)

    loaded = await UserRepository(session).get_with_details(user.id)

    assert loaded is not None
    # lazy="raise" would raise here if any relationship had not been loaded.
    assert [r.id for r in loaded.roles] == [role.id]
    assert [p.id for p in loaded.posts] == [post.id]
    assert loaded.profile is None
    assert await UserRepository(session).get_with_details(10**6) is None


async def test_unloaded_relationships_raise_instead_of_querying(session: AsyncSession) -> None:
    user = await make_user(session)
    session.expunge(user)
    fresh = await session.get(User, user.id)
    assert fresh is not None
    with pytest.raises(Exception, match="lazy='raise'"):
        _ = fresh.roles


async def test_statistics_in_one_query(session: AsyncSession, statements: list[str]) -> None:
    await make_user(session)
    await make_user(session, is_active=False)
    await make_user(session, created_at=datetime.now(UTC) - timedelta(days=31))
    statements.clear()

    stats = await UserRepository(session).statistics()

    assert (stats.total_users, stats.active_users, stats.new_users_30d) == (3, 2, 2)
    assert len(statements) == 1


async def test_post_counts_in_one_query(session: AsyncSession, statements: list[str]) -> None:
    prolific = await make_user(session)
    quiet = await make_user(session)
    for _ in range(2):
        await make_post(session, prolific)
    statements.clear()

    counts = await UserRepository(session).post_counts()

    assert [(row.id, row.post_count) for row in counts] == [(prolific.id, 2), (quiet.id, 0)]
    assert len(statements) == 1


async def test_role_repository_create(session: AsyncSession) -> None:
    role = await RoleRepository(session).create(name="viewer", description="reads")
    assert isinstance(role, Role)
    assert await RoleRepository(session).count() == 1
