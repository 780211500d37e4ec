"""Soft delete: deleted users are flagged, hidden from every query, and can come back."""

from datetime import datetime

from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import Executable, bindparam, event, func, select, text, update
from sqlalchemy import delete as delete_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, selectinload

from {{ cookiecutter.package_name }}.db.base import AppSession
from {{ cookiecutter.package_name }}.db.soft_delete import INCLUDE_DELETED
from {{ cookiecutter.package_name }}.models import Post, Role, User
from {{ cookiecutter.package_name }}.repositories import RoleRepository, UserRepository
from tests.factories import make_post, make_role, make_user, user_payload


async def delete(client: AsyncClient, app: FastAPI, user_id: int) -> None:
    response = await client.delete(app.url_path_for("delete_user", user_id=str(user_id)))
    assert response.status_code == 204


async def test_delete_keeps_the_row_flagged(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    user = await make_user(session)
    await make_post(session, user)

    await delete(client, app, user.id)

    row = (
        await session.execute(
            text("SELECT is_deleted, deleted_at FROM users WHERE id = :id"), {"id": user.id}
        )
    ).one()
    assert row.is_deleted is True
    assert row.deleted_at is not None
    assert await session.scalar(select(func.count()).where(Post.author_id == user.id)) == 1


async def test_deleted_users_are_hidden_from_every_listing(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    role = await make_role(session)
    kept = await make_user(session, username="keptuser")
    gone = await make_user(session, username="goneuser")
    for user in (kept, gone):
        await RoleRepository(session).assign(user_id=user.id, role_id=role.id)
        await make_post(session, user)
    await session.commit()
    kept_id, gone_id, role_name = kept.id, gone.id, role.name

    await delete(client, app, gone_id)

    def ids(response_json: object) -> list[int]:
        assert isinstance(response_json, list)
        return [item["id"] for item in response_json]

    listing = await client.get(app.url_path_for("list_users"))
    found = await client.get(app.url_path_for("search_users"), params={"q": "user"})
    members = await client.get(app.url_path_for("users_with_role", role_name=role_name))
    counts = await client.get(app.url_path_for("user_post_counts"))
    stats = await client.get(app.url_path_for("user_statistics"))
    details = await client.get(app.url_path_for("get_user_details", user_id=str(gone_id)))

    assert ids(listing.json()) == [kept_id]
    assert ids(found.json()) == [kept_id]
    assert ids(members.json()) == [kept_id]
    assert ids(counts.json()) == [kept_id]
    assert stats.json()["total_users"] == 1
    assert details.status_code == 404


async def test_include_deleted_shows_them_on_request(session: AsyncSession) -> None:
    gone = await make_user(session)
    gone.soft_delete()
    await session.commit()

    hidden = await session.scalars(select(User))
    shown = await session.scalars(select(User).execution_options(**{INCLUDE_DELETED: True}))

    assert gone not in hidden.all()
    assert gone in shown.all()
    assert await UserRepository(session).get(gone.id) is None
    assert await UserRepository(session).get_including_deleted(gone.id) is gone


async def test_relationship_loads_skip_deleted_users(session: AsyncSession) -> None:
    role = await make_role(session)
    kept, gone = await make_user(session), await make_user(session)
    for user in (kept, gone):
        await RoleRepository(session).assign(user_id=user.id, role_id=role.id)
    gone.soft_delete()
    await session.commit()

    loaded = await session.scalar(
        select(Role).where(Role.id == role.id).options(selectinload(Role.users))
    )

    assert loaded is not None
    assert [user.id for user in loaded.users] == [kept.id]


async def test_a_deleted_users_name_and_email_can_be_taken_again(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    payload = user_payload()
    first = (await client.post(app.url_path_for("create_user"), json=payload)).json()
    await delete(client, app, first["id"])

    again = await client.post(app.url_path_for("create_user"), json=payload)

    assert again.status_code == 201
    assert again.json()["id"] != first["id"]


async def test_live_users_still_conflict(client: AsyncClient, app: FastAPI) -> None:
    payload = user_payload()
    assert (await client.post(app.url_path_for("create_user"), json=payload)).status_code == 201
    again = await client.post(app.url_path_for("create_user"), json=payload)
    assert again.status_code == 409


async def test_restore_brings_the_user_back(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    user_id = str((await make_user(session)).id)
    await delete(client, app, int(user_id))

    restored = await client.post(app.url_path_for("restore_user", user_id=user_id))

    assert restored.status_code == 200
    assert restored.json()["id"] == int(user_id)
    assert (await client.get(app.url_path_for("get_user", user_id=user_id))).status_code == 200


async def test_restoring_a_live_user_changes_nothing(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    user_id = str((await make_user(session)).id)
    response = await client.post(app.url_path_for("restore_user", user_id=user_id))
    assert response.status_code == 200


async def test_restore_is_409_when_a_live_user_took_the_name(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    payload = user_payload()
    first = (await client.post(app.url_path_for("create_user"), json=payload)).json()
    await delete(client, app, first["id"])
    taker = user_payload(username=payload["username"])
    assert (await client.post(app.url_path_for("create_user"), json=taker)).status_code == 201

    response = await client.post(app.url_path_for("restore_user", user_id=str(first["id"])))

    assert response.status_code == 409
    assert "username" in response.json()["detail"]
    hidden = await client.get(app.url_path_for("get_user", user_id=str(first["id"])))
    assert hidden.status_code == 404


async def test_restore_of_a_missing_user_is_404(client: AsyncClient, app: FastAPI) -> None:
    response = await client.post(app.url_path_for("restore_user", user_id="987654"))
    assert response.status_code == 404


async def test_unique_indexes_cover_live_rows_only(session: AsyncSession) -> None:
    definitions = await session.scalars(
        text(
            "SELECT indexdef FROM pg_indexes"
            " WHERE indexname IN ('uq_users_username', 'uq_users_email')"
        )
    )
    assert [d.endswith("WHERE (NOT is_deleted)") for d in definitions.all()] == [True, True]


async def test_bulk_update_and_delete_leave_deleted_rows_alone(session: AsyncSession) -> None:
    kept, gone = await make_user(session), await make_user(session)
    gone.soft_delete()
    await session.commit()
    ids = [kept.id, gone.id]

    await session.execute(update(User).where(User.id.in_(ids)).values(full_name="renamed"))
    await session.execute(delete_(User).where(User.id.in_(ids)))

    rows = await session.execute(
        text("SELECT id, full_name FROM users WHERE id = ANY(:ids)"), {"ids": ids}
    )
    assert [(row.id, row.full_name) for row in rows] == [(gone.id, gone.full_name)]


async def test_deleted_at_comes_from_the_database_clock(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    user = await make_user(session)
    await delete(client, app, user.id)

    # now() is the transaction's start time in PostgreSQL: the same in both statements.
    stamped = await session.scalar(
        text("SELECT deleted_at = now() FROM users WHERE id = :id"), {"id": user.id}
    )
    assert stamped is True


async def test_soft_delete_timestamp_is_read_back_on_request(session: AsyncSession) -> None:
    user = await make_user(session)
    user.soft_delete()
    await session.commit()

    # Set by the server at flush, so loaded on first access (awaitable in async code).
    assert isinstance(await user.awaitable_attrs.deleted_at, datetime)


async def test_a_deleted_users_posts_and_roles_are_not_found(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    user = await make_user(session)
    post = await make_post(session, user)
    role = await make_role(session)
    await RoleRepository(session).assign(user_id=user.id, role_id=role.id)
    await session.commit()
    user_id, post_id, role_name = str(user.id), str(post.id), role.name

    await delete(client, app, user.id)

    responses = [
        await client.get(app.url_path_for("list_posts", user_id=user_id)),
        await client.get(app.url_path_for("get_post", user_id=user_id, post_id=post_id)),
        await client.delete(app.url_path_for("remove_role", user_id=user_id, role_name=role_name)),
    ]
    assert [(r.status_code, r.json()["code"]) for r in responses] == [(404, "user_not_found")] * 3


async def test_a_statement_run_again_gets_the_same_filtered_statement(
    session: AsyncSession,
) -> None:
    """A statement made once and executed again keeps the cache key SQLAlchemy memoizes on
    it: the filter is added to it once, not to a new copy on each execution (whose key
    was built again every time)."""
    seen: list[Executable] = []

    def after_the_filter(state: ORMExecuteState) -> None:
        seen.append(state.statement)

    statement = select(User.id).where(User.id == bindparam("id"))
    event.listen(AppSession, "do_orm_execute", after_the_filter)
    try:
        for user_id in (1, 2):
            await session.execute(statement, {"id": user_id})
    finally:
        event.remove(AppSession, "do_orm_execute", after_the_filter)

    assert len(seen) == 2
    assert seen[0] is seen[1]
    assert seen[0] is not statement
