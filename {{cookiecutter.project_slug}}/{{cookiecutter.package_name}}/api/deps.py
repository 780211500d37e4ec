"""Request-scoped dependencies, exposed as `Annotated` aliases for the routes."""

from collections.abc import AsyncIterator
from typing import Annotated, cast

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

{% if cookiecutter.use_cache %}
from ..cache import UserCache
{% endif %}
{% if cookiecutter.use_replica or cookiecutter.use_cache %}
from ..db.consistency import READ_YOUR_WRITES
{% endif %}
from ..db.session import Database
from ..security import PasswordHasher
from ..services.roles import RoleService
from ..services.users import UserService
{% if cookiecutter.use_replica or cookiecutter.use_cache %}
from .consistency import ReadYourWritesDep
{% endif %}


# Every dependency here is `async def`: FastAPI runs a plain `def` dependency in its
# threadpool, one thread hop each per request (a fifth of a read's time in a profile).
async def get_database(request: Request) -> Database:
    return cast(Database, request.app.state.database)


async def get_password_hasher(request: Request) -> PasswordHasher:
    return cast(PasswordHasher, request.app.state.password_hasher)


DatabaseDep = Annotated[Database, Depends(get_database)]
PasswordHasherDep = Annotated[PasswordHasher, Depends(get_password_hasher)]
{% if cookiecutter.use_cache %}


async def get_user_cache(request: Request) -> UserCache:
    return cast(UserCache, request.app.state.user_cache)


UserCacheDep = Annotated[UserCache, Depends(get_user_cache)]
{% endif %}


{% if cookiecutter.use_replica or cookiecutter.use_cache %}
async def get_session(
    database: DatabaseDep, read_your_writes: ReadYourWritesDep
) -> AsyncIterator[AsyncSession]:
    """A session for reads and writes on the primary; services commit through it.

    Once it closes (before the response is sent), what it committed is published: cache
    entries invalidated, and the position after it kept for `X-Consistency-Token`.
    """
    async with database.sessionmaker(info={READ_YOUR_WRITES: read_your_writes}) as session:
        try:
            yield session
        finally:
            position = await database.publish(session)
            if position is not None:
                read_your_writes.position = position


async def get_read_session(
    database: DatabaseDep, read_your_writes: ReadYourWritesDep
) -> AsyncIterator[AsyncSession]:
    """A session for reads that may be served by a replica that has seen the reader's writes."""
    async with database.read_sessions(info={READ_YOUR_WRITES: read_your_writes}) as session:
        yield session
{% else %}
async def get_session(database: DatabaseDep) -> AsyncIterator[AsyncSession]:
    """A session for reads and writes on the primary; services commit through it."""
    async with database.sessionmaker() as session:
        yield session


async def get_read_session(database: DatabaseDep) -> AsyncIterator[AsyncSession]:
    """A session for reads that may be served by a replica."""
    async with database.read_sessions() as session:
        yield session
{% endif %}


async def get_report_session(database: DatabaseDep) -> AsyncIterator[AsyncSession]:
    """A session for reporting queries (analytics database, else replica, else primary)."""
    async with database.report_sessions() as session:
        yield session


# scope="function": the session closes before the response is sent, not after.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session, scope="function")]
ReportSessionDep = Annotated[AsyncSession, Depends(get_report_session, scope="function")]


async def get_user_service(session: SessionDep, hasher: PasswordHasherDep) -> UserService:
    return UserService(session, hasher)


async def get_user_reader(session: ReadSessionDep, hasher: PasswordHasherDep) -> UserService:
    return UserService(session, hasher)


async def get_user_reports(session: ReportSessionDep, hasher: PasswordHasherDep) -> UserService:
    """User statistics and other reporting queries."""
    return UserService(session, hasher)


async def get_role_service(session: SessionDep) -> RoleService:
    return RoleService(session)


async def get_role_reader(session: ReadSessionDep) -> RoleService:
    return RoleService(session)


UserServiceDep = Annotated[UserService, Depends(get_user_service)]
UserReaderDep = Annotated[UserService, Depends(get_user_reader)]
UserReportsDep = Annotated[UserService, Depends(get_user_reports)]
RoleServiceDep = Annotated[RoleService, Depends(get_role_service)]
RoleReaderDep = Annotated[RoleService, Depends(get_role_reader)]
