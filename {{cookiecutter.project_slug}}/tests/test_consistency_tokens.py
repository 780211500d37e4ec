"""Every request that committed a write answers with `X-Consistency-Token`, whatever
kind of statement wrote (ORM flush, bulk INSERT, Core INSERT or DELETE); reads do not."""

from fastapi import FastAPI
from httpx import AsyncClient, Response
from sqlalchemy.ext.asyncio import AsyncSession

from {{ cookiecutter.package_name }}.api.idempotency import KEY_HEADER, REPLAYED_HEADER
from {{ cookiecutter.package_name }}.db.consistency import TOKEN_HEADER, parse_position
from tests.factories import make_role, make_user, user_payload


async def test_every_write_answers_with_a_token(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    user = await make_user(session)
    role = await make_role(session)
    roles_path = app.url_path_for("assign_role", user_id=str(user.id), role_name=role.name)

    writes: dict[str, Response] = {
        "create": await client.post(app.url_path_for("create_user"), json=user_payload()),
        "bulk": await client.post(app.url_path_for("create_users"), json=[user_payload()]),
        "assign": await client.put(roles_path),
        "remove": await client.delete(roles_path),
    }

    assert {name: TOKEN_HEADER in r.headers for name, r in writes.items()} == dict.fromkeys(
        writes, True
    )


async def test_reads_answer_without_a_token(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    user = await make_user(session)

    response = await client.get(app.url_path_for("list_posts", user_id=str(user.id)))

    assert response.status_code == 200
    assert TOKEN_HEADER not in response.headers


async def test_a_replayed_write_answers_with_a_token_past_its_commit(
    client: AsyncClient, app: FastAPI
) -> None:
    """The first answer's token is the position after its commit; the replay, made later,
    carries the position then, which is past that commit too."""
    headers = {KEY_HEADER: "token-replay"}
    path = app.url_path_for("create_user")
    payload = user_payload()

    first = await client.post(path, json=payload, headers=headers)
    again = await client.post(path, json=payload, headers=headers)

    assert again.headers[REPLAYED_HEADER] == "true"
    first_position = parse_position(first.headers[TOKEN_HEADER])
    assert parse_position(again.headers[TOKEN_HEADER]) >= first_position
