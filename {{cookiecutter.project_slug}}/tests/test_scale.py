"""What a request costs does not grow with the table: search is served by an index,
statistics are not counted per request, offsets are bounded."""

import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from {{ cookiecutter.package_name }}.repositories import UserRepository
from {{ cookiecutter.package_name }}.schemas.common import MAX_SKIP
from tests.conftest import recorded_statements

# Enough rows that reading them all costs more than any index: the planner's choice then
# shows what a large table gets.
MANY_USERS = 100_000


@contextmanager
def sent_with_parameters(connection: AsyncConnection) -> Iterator[list[tuple[str, Any]]]:
    """The statements (and their parameters) sent on `connection` while the block runs."""
    sent: list[tuple[str, Any]] = []

    def record(*args: Any) -> None:
        sent.append((args[2], args[3]))

    event.listen(connection.sync_connection, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(connection.sync_connection, "before_cursor_execute", record)


def index_names(plan: Any) -> set[str]:
    """Every index a JSON query plan reads."""
    if isinstance(plan, list):
        return set().union(*map(index_names, plan)) if plan else set()
    if not isinstance(plan, dict):
        return set()
    names = {plan["Index Name"]} if "Index Name" in plan else set()
    return names.union(*map(index_names, plan.values()))


@pytest.fixture
async def many_users(session: AsyncSession) -> None:
    """MANY_USERS users inside the test's transaction, with the planner's statistics."""
    # Loaded the way a bulk import should be: new entries into the GIN indexes' pending
    # lists, merged once at the end (entry by entry takes ten times as long); the
    # transaction's end undoes the setting with the rows.
    trigram_indexes = [f"ix_users_{column}_trgm" for column in ("username", "email", "full_name")]
    for index in trigram_indexes:
        await session.execute(text(f"ALTER INDEX {index} SET (fastupdate = on)"))
    await session.execute(
        text(
            "INSERT INTO users (username, email, full_name, hashed_password)"
            " SELECT 'many' || n, 'many' || n || '@example.com', 'Many ' || md5(n::text), 'x'"
            " FROM generate_series(1, :count) AS n"
        ),
        {"count": MANY_USERS},
    )
    for index in trigram_indexes:
        await session.execute(text(f"SELECT gin_clean_pending_list('{index}'::regclass)"))
        await session.execute(text(f"ALTER INDEX {index} SET (fastupdate = off)"))
    await session.execute(text("ANALYZE users"))


async def test_search_is_served_by_trigram_indexes(session: AsyncSession, many_users: None) -> None:
    connection = await session.connection()
    # Nothing matches, one user matches, a term across words: an index finds each.
    for term in ["nomatchxyz", "many99999", "MANY 1234"]:
        with sent_with_parameters(connection) as sent:
            await UserRepository(session).search(term, limit=100)
        ((statement, parameters),) = [(s, p) for s, p in sent if "FROM users" in s]

        explained = await connection.exec_driver_sql(
            f"EXPLAIN (FORMAT JSON) {statement}", parameters
        )
        plan = explained.scalar_one()
        plan = json.loads(plan) if isinstance(plan, str) else plan

        assert {name for name in index_names(plan) if name.endswith("_trgm")}, (term, plan)


@pytest.mark.parametrize("term", ["ab", "a.b", "...", "%_%", "x" * 101, "abc\x00"])
async def test_search_terms_an_index_cannot_serve_are_refused(
    client: AsyncClient, app: FastAPI, term: str
) -> None:
    response = await client.get(app.url_path_for("search_users"), params={"q": term})

    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", "q"]


async def test_statistics_are_counted_once_while_recent(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    # The test's connection, and every engine (reports may go to another database).
    sources = [await session.connection(), *app.state.database.engines.values()]
    with ExitStack() as stack:
        sent = [stack.enter_context(recorded_statements(source)) for source in sources]
        first = await client.get(app.url_path_for("user_statistics"))
        second = await client.get(app.url_path_for("user_statistics"))

    assert first.status_code == second.status_code == 200
    assert second.json() == first.json()
    assert len([s for statements in sent for s in statements if "count(" in s]) == 1
    assert int(second.headers["Age"]) >= 0
    assert second.headers["Cache-Control"].startswith("max-age=")


@pytest.mark.parametrize("route", ["list_users", "search_users", "user_post_counts"])
async def test_skip_is_bounded(client: AsyncClient, app: FastAPI, route: str) -> None:
    params = {"q": "member"} if route == "search_users" else {}

    at_most = await client.get(app.url_path_for(route), params={**params, "skip": MAX_SKIP})
    beyond = await client.get(app.url_path_for(route), params={**params, "skip": MAX_SKIP + 1})

    assert at_most.status_code == 200
    assert beyond.status_code == 422
    assert beyond.json()["detail"][0]["loc"] == ["query", "skip"]
