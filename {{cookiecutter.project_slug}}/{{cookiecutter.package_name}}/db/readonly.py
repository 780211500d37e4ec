"""Sessions for reads: each statement on its own, without BEGIN and ROLLBACK.

A request that only reads gains nothing from a transaction around its statements
(PostgreSQL's default isolation, READ COMMITTED, gives each statement its own snapshot
anyway), and the two extra round trips were about a quarter of a read's time. Read
sessions therefore run on their engine in AUTOCOMMIT mode: no round trip is added, the
connection stays the same for the whole session (what `read_position` relies on), and
`DB_STATEMENT_TIMEOUT` still bounds every statement.

Writing through such a session would commit statement by statement, so it refuses to
write: a flush with changes or an ORM INSERT/UPDATE/DELETE raises `ReadOnlySessionError`.
"""

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import ORMExecuteState, Session

from .base import AppSession


class ReadOnlySessionError(RuntimeError):
    """A read session was asked to write: writes belong in a unit of work on `SessionDep`."""


# Key in `session.info`: the role of the server a routed read session's statements went
# to (`db.routing`); a session without it read on the primary.
ROUTE = "read_route"
PRIMARY = "primary"
# An execution option of engines behind PgBouncer in transaction mode (set by `db.engine`).
TRANSACTION_POOLING = "transaction_pooling"


def autocommit(engine: AsyncEngine) -> AsyncEngine:
    """`engine` (same pool) running each statement on its own: no BEGIN, no ROLLBACK.

    Behind PgBouncer in transaction mode, `engine` itself: there a server connection is
    lent for one transaction only, so outside a transaction asyncpg's prepare and execute
    of one statement may reach two server connections ("prepared statement does not
    exist", SQLSTATE 26000), and a session would not keep one connection either.
    """
    if engine.get_execution_options().get(TRANSACTION_POOLING):
        return engine
    return engine.execution_options(isolation_level="AUTOCOMMIT")


class ReadOnlySession(AppSession):
    """A session that reads only; see the module's docstring."""


@event.listens_for(ReadOnlySession, "before_flush")
def _refuse_flush(session: Session, flush_context: Any, instances: Any) -> None:
    raise ReadOnlySessionError("a read session cannot write; use the write session (SessionDep)")


@event.listens_for(ReadOnlySession, "do_orm_execute")
def _refuse_write_statement(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        raise ReadOnlySessionError(
            "a read session cannot write; use the write session (SessionDep)"
        )
