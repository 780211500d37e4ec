"""Unit of work: commit on success, roll back on error, savepoints when nested."""

import functools
import logging
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Concatenate, ParamSpec, Protocol, Self, TypeVar

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, AsyncSessionTransaction

from ..errors import ConflictError, DomainError, NotFoundError
from .errors import is_conflict, is_foreign_key_violation, sqlstate, unique_violation_field
from .session import AFTER_COMMIT, AfterCommit

logger = logging.getLogger(__name__)

# Key in `session.info` counting the TransactionManagers open on that session.
_DEPTH = "transaction_depth"
# Key in `session.info`: awaited, once, as the first unit of work opens inside an outer
# one, before its savepoint (`api.idempotency` claims the request's key there, so work
# that needs no database, such as hashing a password, holds no connection).
BEFORE_FIRST_UNIT = "before_first_unit"
BeforeFirstUnit = Callable[[AsyncSession], Awaitable[None]]


def domain_error(error: IntegrityError) -> DomainError | None:
    """The client-facing meaning of a constraint violation, or None when it is a bug.

    A unique violation names its field (never the row's values); a foreign key that
    points nowhere means the parent vanished. Any other violation (NOT NULL, CHECK) is
    left to surface as a server error.
    """
    field = unique_violation_field(error)
    if field is not None:
        code = f"{field.replace(', ', '_')}_taken" if field != "value" else "already_exists"
        return ConflictError(f"{field} already exists", code=code)
    if is_foreign_key_violation(error):
        return NotFoundError("a record it refers to does not exist", code="reference_not_found")
    return None


class TransactionManager:
    """`async with TransactionManager(session):` is one unit of work.

    The outermost manager owns the session's transaction (including one the session
    began on its own for earlier reads): it commits on success and rolls back on any
    exception, which is re-raised. A manager opened inside another uses a savepoint,
    so a failure there undoes only the inner work and the outer unit can go on. A unique
    violation leaves as a `ConflictError`, a missing parent as a `NotFoundError`. After
    the outermost commit it awaits the session's `AFTER_COMMIT` hook, when it has one
    (the request's: the consistency token and cache invalidation), before returning.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._savepoint: AsyncSessionTransaction | None = None

    async def __aenter__(self) -> Self:
        depth: int = self.session.info.get(_DEPTH, 0)
        if depth:
            before: BeforeFirstUnit | None = self.session.info.pop(BEFORE_FIRST_UNIT, None)
            if before is not None:
                await before(self.session)
            self._savepoint = await self.session.begin_nested()
        self.session.info[_DEPTH] = depth + 1
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.session.info[_DEPTH] -= 1
        if exc is not None:
            await self._rollback()
            self._raise_domain_error(exc)
            return
        try:
            await self._commit()
        except BaseException as error:
            await self._rollback()
            self._raise_domain_error(error)
            raise
        after_commit: AfterCommit | None = self.session.info.get(AFTER_COMMIT)
        if self._savepoint is None and after_commit is not None:
            await after_commit(self.session)

    @staticmethod
    def _raise_domain_error(error: BaseException) -> None:
        if isinstance(error, IntegrityError) and (domain := domain_error(error)) is not None:
            raise domain from error

    async def _commit(self) -> None:
        if self._savepoint is not None:
            await self._savepoint.commit()
        else:
            await self.session.commit()

    async def _rollback(self) -> None:
        if self._savepoint is not None:
            # Also when a failed flush deactivated it: only this leaves the session usable.
            await self._savepoint.rollback()
        else:
            await self.session.rollback()


class HasSession(Protocol):
    @property
    def session(self) -> AsyncSession: ...


S = TypeVar("S", bound=HasSession)
P = ParamSpec("P")
R = TypeVar("R")


def transactional(
    method: Callable[Concatenate[S, P], Awaitable[R]],
) -> Callable[Concatenate[S, P], Awaitable[R]]:
    """Run a method of an object with a `session` as one unit of work.

    A unit the server aborted for a deadlock or a serialization failure (nothing of it was
    written) runs once more when it began the session's transaction itself: everything
    it decided on is then read again. Otherwise, or when the second run conflicts too, the
    error leaves (the API answers 503 `database_conflict`, which a client may retry).
    """

    @functools.wraps(method)
    async def wrapper(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        async def unit() -> R:
            async with TransactionManager(self.session):
                return await method(self, *args, **kwargs)

        # Reads made before the unit, in the same transaction, would not be made again.
        may_retry = not self.session.in_transaction()
        try:
            return await unit()
        except DBAPIError as error:
            if not (may_retry and is_conflict(error)):
                raise
            logger.warning(
                "%s: transaction aborted (SQLSTATE %s), running it again",
                method.__qualname__,
                sqlstate(error),
            )
        return await unit()

    return wrapper
