"""Reference: FastAPI on a raw asyncpg pool; hand-written SQL, no ORM."""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import asyncpg
from fastapi import Body, FastAPI, HTTPException, Query, Request, status

from .hashing import hash_password, hash_passwords
from .schemas import PostIn, PostOut, Stats, UserIn, UserOut

USER_COLUMNS = "id, username, email, full_name, bio, is_active, is_verified, created_at, updated_at"
INSERT_USER = (
    "INSERT INTO users (username, email, full_name, bio, hashed_password)"
    f" VALUES ($1, $2, $3, $4, $5) RETURNING {USER_COLUMNS}"
)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Same size as the ORM reference's pool (5 + 10 overflow), held open.
    async with asyncpg.create_pool(
        os.environ["BENCH_DATABASE_URL"], min_size=5, max_size=15, ssl=False
    ) as pool:
        app.state.pool = pool
        yield


app = FastAPI(lifespan=lifespan)


# Records become dicts: pydantic reads mappings, not asyncpg.Record.
def pool(request: Request) -> asyncpg.Pool:
    return request.app.state.pool


@app.get("/users/stats", response_model=Stats)
async def stats(request: Request) -> Any:
    return dict(
        await pool(request).fetchrow(
            "SELECT count(*) AS total_users, count(*) FILTER (WHERE is_active) AS active_users,"
            " count(*) FILTER (WHERE created_at > now() - interval '30 days') AS new_users_30d"
            " FROM users"
        )
    )


@app.get("/users/{user_id}", response_model=UserOut)
async def get_user(user_id: int, request: Request) -> Any:
    row = await pool(request).fetchrow(f"SELECT {USER_COLUMNS} FROM users WHERE id = $1", user_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "user not found")
    return dict(row)


@app.get("/users", response_model=list[UserOut])
async def list_users(
    request: Request,
    skip: Annotated[int, Query(ge=0)] = 0,
    after: Annotated[int | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
) -> Any:
    if after is not None:
        query = f"SELECT {USER_COLUMNS} FROM users WHERE id > $1 ORDER BY id LIMIT $2"
        return [dict(row) for row in await pool(request).fetch(query, after, limit)]
    query = f"SELECT {USER_COLUMNS} FROM users ORDER BY id OFFSET $1 LIMIT $2"
    return [dict(row) for row in await pool(request).fetch(query, skip, limit)]


@app.post("/users", response_model=UserOut, status_code=status.HTTP_201_CREATED)
async def create_user(data: UserIn, request: Request) -> Any:
    hashed = await hash_password(data.password)
    row = await pool(request).fetchrow(
        INSERT_USER, data.username, data.email, data.full_name, data.bio, hashed
    )
    return dict(row)


@app.post("/users/bulk", response_model=list[UserOut], status_code=status.HTTP_201_CREATED)
async def create_users(
    data: Annotated[list[UserIn], Body(min_length=1, max_length=1000)], request: Request
) -> Any:
    hashes = await hash_passwords([item.password for item in data])
    rows = [
        (item.username, item.email, item.full_name, item.bio, hashed)
        for item, hashed in zip(data, hashes, strict=True)
    ]
    async with pool(request).acquire() as connection, connection.transaction():
        return [dict(row) for row in await connection.fetchmany(INSERT_USER, rows)]


@app.post("/users/{user_id}/posts", response_model=PostOut, status_code=status.HTTP_201_CREATED)
async def create_post(user_id: int, data: PostIn, request: Request) -> Any:
    try:
        row = await pool(request).fetchrow(
            "INSERT INTO posts (author_id, title, body, published) VALUES ($1, $2, $3, $4)"
            " RETURNING id, author_id, title, body, published, created_at",
            user_id,
            data.title,
            data.body,
            data.published,
        )
    except asyncpg.ForeignKeyViolationError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "user not found") from None
    return dict(row)
