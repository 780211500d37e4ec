"""Reference: the plain FastAPI + SQLAlchemy ORM app most tutorials arrive at.

SQLAlchemy's default pool, one session per request, `session.get` by primary key.
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Body, Depends, FastAPI, HTTPException, Query, Request, status
from sqlalchemy import DateTime, ForeignKey, func, make_url, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from .hashing import hash_password, hash_passwords
from .schemas import PostIn, PostOut, Stats, UserIn, UserOut


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str]
    email: Mapped[str]
    full_name: Mapped[str | None]
    bio: Mapped[str | None]
    hashed_password: Mapped[str]
    is_active: Mapped[bool] = mapped_column(server_default="true")
    is_verified: Mapped[bool] = mapped_column(server_default="false")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Post(Base):
    __tablename__ = "posts"

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str]
    body: Mapped[str]
    published: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    url = make_url(os.environ["BENCH_DATABASE_URL"]).set(drivername="postgresql+asyncpg")
    engine = create_async_engine(url)
    app.state.sessions = async_sessionmaker(engine, expire_on_commit=False)
    yield
    await engine.dispose()


app = FastAPI(lifespan=lifespan)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


@app.get("/users/stats", response_model=Stats)
async def stats(session: SessionDep) -> Stats:
    month_ago = datetime.now(UTC) - timedelta(days=30)
    row = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(User.is_active),
                func.count().filter(User.created_at > month_ago),
            ).select_from(User)
        )
    ).one()
    return Stats(total_users=row[0], active_users=row[1], new_users_30d=row[2])


@app.get("/users/{user_id}", response_model=UserOut)
async def get_user(user_id: int, session: SessionDep) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "user not found")
    return user


@app.get("/users", response_model=list[UserOut])
async def list_users(
    session: SessionDep,
    skip: Annotated[int, Query(ge=0)] = 0,
    after: Annotated[int | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
) -> list[User]:
    statement = select(User).order_by(User.id).limit(limit)
    statement = statement.where(User.id > after) if after is not None else statement.offset(skip)
    return list((await session.scalars(statement)).all())


@app.post("/users", response_model=UserOut, status_code=status.HTTP_201_CREATED)
async def create_user(data: UserIn, session: SessionDep) -> User:
    user = User(
        **data.model_dump(exclude={"password"}), hashed_password=await hash_password(data.password)
    )
    session.add(user)
    await session.commit()
    return user


@app.post("/users/bulk", response_model=list[UserOut], status_code=status.HTTP_201_CREATED)
async def create_users(
    data: Annotated[list[UserIn], Body(min_length=1, max_length=1000)], session: SessionDep
) -> list[User]:
    hashes = await hash_passwords([item.password for item in data])
    users = [
        User(**item.model_dump(exclude={"password"}), hashed_password=hashed)
        for item, hashed in zip(data, hashes, strict=True)
    ]
    session.add_all(users)
    await session.commit()
    return users


@app.post("/users/{user_id}/posts", response_model=PostOut, status_code=status.HTTP_201_CREATED)
async def create_post(user_id: int, data: PostIn, session: SessionDep) -> Post:
    post = Post(author_id=user_id, **data.model_dump())
    session.add(post)
    try:
        await session.commit()
    except IntegrityError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "user not found") from None
    return post
