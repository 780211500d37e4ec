"""Unit of work: commit on success, roll back on error, savepoints when nested."""

import functools
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Concatenate, ParamSpec, Protocol, Self, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, AsyncSessionTransaction

from ..errors import ConflictError

# Key in `session.info` counting the TransactionManagers open on that session.
_DEPTH = "transaction_depth"


def conflict_detail(error: IntegrityError) -> str:
    """A client-safe message naming the violated constraint (never the row's values)."""
    constraint = getattr(error.orig, "constraint_name", None) or getattr(
        getattr(error.orig, "__cause__", None), "constraint_name", None
    )
    if constraint:
        return f"conflicts with an existing record ({constraint})"
    return "conflicts with an existing record"


class TransactionManager:
    """`async with TransactionManager(session):` is one unit of work.

    The outermost manager owns the session's transaction (including one the session
    began on its own for earlier reads): it commits on success and rolls back on any
    exception, which is re-raised. A manager opened inside another uses a savepoint,
    so a failure there undoes only the inner work. An `IntegrityError` leaves as a
    `ConflictError`.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._savepoint: AsyncSessionTransaction | None = None

    async def __aenter__(self) -> Self:
        depth: int = self.session.info.get(_DEPTH, 0)
        if depth:
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
            if isinstance(exc, IntegrityError):
                raise ConflictError(conflict_detail(exc)) from exc
            return
        try:
            await self._commit()
        except IntegrityError as error:
            await self._rollback()
            raise ConflictError(conflict_detail(error)) from error
        except BaseException:
            await self._rollback()
            raise

    async def _commit(self) -> None:
        if self._savepoint is not None:
            await self._savepoint.commit()
        else:
            await self.session.commit()

    async def _rollback(self) -> None:
        if self._savepoint is not None:
            if self._savepoint.is_active:
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
    """Run a method of an object with a `session` as one unit of work."""

    @functools.wraps(method)
    async def wrapper(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        async with TransactionManager(self.session):
            return await method(self, *args, **kwargs)

    return wrapper
