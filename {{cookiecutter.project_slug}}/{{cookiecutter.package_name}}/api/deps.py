{% import "switches.jinja" as switches with context %}
"""Request-scoped dependencies, exposed as `Annotated` aliases for the routes."""

from collections.abc import AsyncIterator
from typing import Annotated, cast

{% if switches.consistency %}
from fastapi import Depends, Request, Response
{% else %}
from fastapi import Depends, Request
{% endif %}
from sqlalchemy.ext.asyncio import AsyncSession

{% if switches.consistency %}
from ..db.consistency import READ_YOUR_WRITES, TOKEN_HEADER, Publisher, format_position
from ..db.session import AFTER_COMMIT, Database
{% else %}
from ..db.session import Database
{% endif %}
from ..repositories.user import UserStatistics
from ..security import PasswordHasher
from ..services.recent import Recent
from ..services.roles import RoleService
from ..services.users import UserService
from . import idempotency
{% if switches.consistency %}
from .consistency import ReadYourWritesDep
{% endif %}


# Every dependency here is `async def`: FastAPI runs a plain `def` dependency in its
# threadpool, one thread hop each per request (a fifth of a read's time in a profile).
# FastAPI solves each dependency of a request anew (its parameters, its own dependencies,
# each time it appears: a few dozen function calls each), so the ones below take the
# app's parts other than the database from the request. The database comes through
# `get_database`, which tests override.
async def get_database(request: Request) -> Database:
    return cast(Database, request.app.state.database)


async def get_password_hasher(request: Request) -> PasswordHasher:
    return hasher_of(request)


def hasher_of(request: Request) -> PasswordHasher:
    return cast(PasswordHasher, request.app.state.password_hasher)


async def get_user_statistics(request: Request) -> Recent[UserStatistics]:
    """The last count of users, kept for STATS_MAX_AGE_SECONDS."""
    return cast(Recent[UserStatistics], request.app.state.user_statistics)


DatabaseDep = Annotated[Database, Depends(get_database)]
RecentStatisticsDep = Annotated[Recent[UserStatistics], Depends(get_user_statistics)]
PasswordHasherDep = Annotated[PasswordHasher, Depends(get_password_hasher)]


async def admit(database: DatabaseDep) -> AsyncIterator[Database]:
    """The database, with the request's turn for it (see `db.admission`): one per request,
    however many of its sessions the route uses."""
    async with database.admission():
        yield database


AdmittedDep = Annotated[Database, Depends(admit, scope="function")]


{% if switches.consistency %}
async def get_session(
    database: AdmittedDep,
    read_your_writes: ReadYourWritesDep,
    request: Request,
    response: Response,
) -> AsyncIterator[AsyncSession]:
    """A session for reads and writes on the primary; services commit through it.

    Each unit of work's commit is published as it returns (`TransactionManager`): cache
    entries invalidated, and the position after it sent as `X-Consistency-Token`. With an
    `Idempotency-Key`, the request's transaction holds the key (`api.idempotency`); a
    replayed answer carries a position past the first answer's commit.
    """
    publisher = cast(Publisher, request.app.state.publisher)

    async def published(session: AsyncSession) -> None:
        position = await publisher.publish(session)
        if position is not None:
            read_your_writes.position = position
            response.headers[TOKEN_HEADER] = format_position(position)

    info = {READ_YOUR_WRITES: read_your_writes, AFTER_COMMIT: published}

    async def replayed(answer: Response) -> None:
        # Past the first answer's commit, whichever worker made it.
        if (position := await publisher.position()) is not None:
            answer.headers[TOKEN_HEADER] = format_position(position)

    async with database.sessionmaker(info=info) as session:
        await idempotency.begin(request, session, on_replay=replayed)
        try:
            yield session
        finally:
            # Commits made without a TransactionManager: their invalidations, at least.
            await published(session)


async def get_read_session(
    database: AdmittedDep, read_your_writes: ReadYourWritesDep
) -> AsyncIterator[AsyncSession]:
    """A session for reads that may be served by a replica that has seen the reader's writes."""
    async with database.read_sessions(info={READ_YOUR_WRITES: read_your_writes}) as session:
        yield session
{% else %}
async def get_session(database: AdmittedDep, request: Request) -> AsyncIterator[AsyncSession]:
    """A session for reads and writes on the primary; services commit through it. With an
    `Idempotency-Key`, the request's transaction holds the key (`api.idempotency`)."""
    async with database.sessionmaker() as session:
        await idempotency.begin(request, session)
        yield session


async def get_read_session(database: AdmittedDep) -> AsyncIterator[AsyncSession]:
    """A session for reads that may be served by a replica."""
    async with database.read_sessions() as session:
        yield session
{% endif %}


async def get_report_session(database: AdmittedDep) -> AsyncIterator[AsyncSession]:
    """A session for reporting queries (analytics database, else replica, else primary)."""
    async with database.report_sessions() as session:
        yield session


# scope="function": the session closes before the response is sent, not after.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session, scope="function")]
ReportSessionDep = Annotated[AsyncSession, Depends(get_report_session, scope="function")]


async def get_user_service(session: SessionDep, request: Request) -> UserService:
    return UserService(session, hasher_of(request))


async def get_user_reader(session: ReadSessionDep, request: Request) -> UserService:
    return UserService(session, hasher_of(request))


async def get_user_reports(session: ReportSessionDep, request: Request) -> UserService:
    """User statistics and other reporting queries."""
    return UserService(session, hasher_of(request))


async def get_role_service(session: SessionDep) -> RoleService:
    return RoleService(session)


async def get_role_reader(session: ReadSessionDep) -> RoleService:
    return RoleService(session)


UserServiceDep = Annotated[UserService, Depends(get_user_service)]
UserReaderDep = Annotated[UserService, Depends(get_user_reader)]
UserReportsDep = Annotated[UserService, Depends(get_user_reports)]
RoleServiceDep = Annotated[RoleService, Depends(get_role_service)]
RoleReaderDep = Annotated[RoleService, Depends(get_role_reader)]
