"""What a database error means: the server is unreachable, a statement ran out of time,
or a row broke a constraint.

Errors are classified where they happen, on SQLAlchemy's public hooks (`watch_errors`
registers them on each engine): a connect that fails below the driver (refused, timed
out, reset) leaves as `DatabaseUnreachableError` (the dialect connects through
`_connect`); an error while a connection is in use passes `handle_error`, which marks
driver errors that leave the connection unusable as disconnects (SQLAlchemy then
invalidates the connection and sets `connection_invalidated`) and turns a bare
`OSError`/`TimeoutError` from the driver into `DatabaseUnreachableError`.
The rest is read from the SQLSTATE the server gave. `unreachable_reason` says why a
database could not be used, for the logs.
"""

import errno
import socket
from functools import cache
from typing import Any, Self

import asyncpg
from sqlalchemy import Index, UniqueConstraint, event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.engine.interfaces import ConnectArgsType, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import ConnectionPoolEntry

from .base import Base

# SQLSTATEs meaning "no usable connection"; class 08 (connection exception) as a whole.
_CONNECTION_CLASS = "08"
# read_only_sql_transaction: on the primary's connections, a write that reached a server
# demoted to a standby since the connection was made (a new one finds the new primary).
READ_ONLY_SERVER = "25006"
_CONNECTION_SQLSTATES = frozenset(
    {
        "28000",  # invalid_authorization_specification (pg_hba.conf rejects us)
        "28P01",  # invalid_password
        "3D000",  # invalid_catalog_name: the database does not exist (any more)
        "53300",  # too_many_connections (also a role's CONNECTION LIMIT)
        "57P01",  # admin_shutdown: the server terminated the connection
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now: starting up or shutting down
    }
)
# asyncpg's own errors after which a connection cannot be used again: it is gone, or its
# protocol state is lost ("cannot switch to state 12" after a reset mid-command).
_DRIVER_DISCONNECTS = (
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.InternalClientError,
    asyncpg.exceptions.PostgresConnectionError,
)
# Why no connection could be had, for the logs, by SQLSTATE (then by class 08) ...
_UNREACHABLE_BY_SQLSTATE = {
    "25006": "server is read-only (a standby)",
    "28000": "login rejected",
    "28P01": "invalid password",
    "3D000": "database missing",
    "53300": "too many connections",
    "57P01": "server shut down",
    "57P02": "server crashed",
    "57P03": "server starting up or shutting down",
}
# ... or by the error under the driver (the first that matches).
_UNREACHABLE_BY_ERROR: tuple[tuple[type[BaseException], str], ...] = (
    (PoolTimeoutError, "no free connection within DB_POOL_TIMEOUT"),
    (asyncpg.exceptions.TargetServerAttributeNotMatched, "no host is target_session_attrs"),
    (ConnectionRefusedError, "refused"),
    (TimeoutError, "timeout"),
    (socket.gaierror, "host name not found"),
    (ConnectionError, "connection lost"),
    (OSError, "network error"),
)
# A statement cancelled by statement_timeout (57014) or lock_timeout (55P03).
_TIMEOUT_SQLSTATES = frozenset({"57014", "55P03"})
UNIQUE_VIOLATION = "23505"
FOREIGN_KEY_VIOLATION = "23503"
# Transactions that got in each other's way: a deadlock (40P01), a serialization failure
# (40001). Running the transaction again can succeed.
_CONFLICT_SQLSTATES = frozenset({"40P01", "40001"})


class DatabaseUnreachableError(Exception):
    """The driver could not reach the server or lost it mid-command (its cause says how)."""

    @classmethod
    def because(cls, error: BaseException) -> Self:
        # The socket error's text names the address, never a user or a password.
        reason = str(error)
        return cls(f"{type(error).__name__}: {reason}" if reason else type(error).__name__)


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE the server (or asyncpg) gave for a SQLAlchemy-wrapped error."""
    if not isinstance(exc, DBAPIError):
        return None
    code = getattr(exc.orig, "sqlstate", None)
    return code if isinstance(code, str) else None


def _unusable(code: str | None, driver_error: BaseException | None) -> bool:
    code = code or ""
    return (
        code.startswith(_CONNECTION_CLASS)
        or code in _CONNECTION_SQLSTATES
        or isinstance(driver_error, _DRIVER_DISCONNECTS)
    )


# Why one host of several could not serve: next host.
_NEXT_HOST = (OSError, TimeoutError, asyncpg.exceptions.TargetServerAttributeNotMatched)


async def _connect(*args: Any, **kwargs: Any) -> Any:
    """asyncpg's connect, to each host of a multi-host URL in turn, each with the whole
    connect timeout (asyncpg's own multi-host connect shares one timeout among them, so a
    host that hangs, a lost machine, would use it up and the next would never be tried).
    A failure below the driver's own errors (refused, timed out, reset), or no host being
    what `target_session_attrs` asks for (in a failover: the old primary gone, the new one
    not promoted yet), leaves as `DatabaseUnreachableError`."""
    hosts, ports = kwargs.get("host"), kwargs.get("port")
    if not isinstance(hosts, list | tuple):
        try:
            return await asyncpg.connect(*args, **kwargs)
        except _NEXT_HOST as error:
            raise DatabaseUnreachableError.because(error) from error
    last: BaseException | None = None
    for index, host in enumerate(hosts):
        port = ports[index] if isinstance(ports, list | tuple) else ports
        try:
            return await asyncpg.connect(*args, **{**kwargs, "host": host, "port": port})
        except _NEXT_HOST as error:
            last = error
    assert last is not None
    raise DatabaseUnreachableError.because(last) from last


def _connect_through_guard(
    dialect: Dialect, record: ConnectionPoolEntry, cargs: ConnectArgsType, cparams: dict[str, Any]
) -> None:
    # The dialect connects through this function, as with `create_async_engine`'s
    # `async_creator` (which is passed on the same way).
    cparams["async_creator_fn"] = _connect


def _classify(context: ExceptionContext) -> BaseException | None:
    error = context.original_exception
    if context.sqlalchemy_exception is None:
        # Not the driver's own error type: a socket or timeout error from under it.
        if isinstance(error, OSError | TimeoutError):
            context.is_disconnect = True
            return DatabaseUnreachableError.because(error)
        return None
    # The dialect raises its own error from asyncpg's, which is the cause.
    if _unusable(sqlstate(context.sqlalchemy_exception), error.__cause__):
        context.is_disconnect = True
    return None


def _classify_writable(context: ExceptionContext) -> BaseException | None:
    if sqlstate(context.sqlalchemy_exception or context.original_exception) == READ_ONLY_SERVER:
        context.is_disconnect = True
        # Only this connection: a server read-only by its configuration (a provider's
        # disk-full guard) would otherwise have every write recycle the whole pool.
        context.invalidate_pool_on_disconnect = False
        return None
    return _classify(context)


def watch_errors(engine: AsyncEngine, *, writable: bool = False) -> None:
    """Classify `engine`'s connect and execution errors as they happen (see the module).
    `writable`: the engine's server must take writes (the primary's), so one that refuses
    them as read-only is no longer the primary, and the connection is discarded (on a
    standby's engine the same error is a write sent to the wrong place: a bug, left loud)."""
    event.listen(engine.sync_engine, "do_connect", _connect_through_guard)
    event.listen(engine.sync_engine, "handle_error", _classify_writable if writable else _classify)


def is_connection_error(exc: BaseException) -> bool:
    """True when the database could not be reached, refused us, or stopped answering."""
    if isinstance(exc, PoolTimeoutError | DatabaseUnreachableError):
        return True
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated or _unusable(sqlstate(exc), None)
    return False


def is_conflict(exc: BaseException) -> bool:
    """True when the server aborted the transaction for a deadlock or a serialization
    failure: nothing was written, and the same work run again can succeed."""
    return sqlstate(exc) in _CONFLICT_SQLSTATES


def _root_cause(exc: BaseException) -> BaseException:
    """The error at the bottom of `exc`'s chain of causes (asyncpg's, or the socket's);
    not a cancellation under a timeout."""
    while isinstance(exc.__cause__, Exception):
        exc = exc.__cause__
    return exc


def unreachable_reason(exc: BaseException) -> str:
    """Why the database could not be used, for a log line: a category, the SQLSTATE when
    the server gave one, and the class of the error at the bottom (with its errno).

    Never the error's message: the server's names the user ("password authentication
    failed for user ..."), a socket's the address.
    """
    root = _root_cause(exc)
    code = sqlstate(exc)
    details = [f"SQLSTATE {code}"] if code else []
    details.append(type(root).__name__)
    if isinstance(root, OSError) and root.errno is not None and root.errno in errno.errorcode:
        details.append(errno.errorcode[root.errno])
    if code in _UNREACHABLE_BY_SQLSTATE:
        category = _UNREACHABLE_BY_SQLSTATE[code]
    elif code and code.startswith(_CONNECTION_CLASS):
        category = "connection failure"
    else:
        # Else a driver error on a connection it dropped (asyncpg's own classes).
        otherwise = "connection lost" if isinstance(exc, DBAPIError) else "unexpected error"
        category = next(
            (name for kind, name in _UNREACHABLE_BY_ERROR if isinstance(root, kind)), otherwise
        )
    return f"{category} ({', '.join(details)})"


def is_statement_timeout(exc: BaseException) -> bool:
    """True when the server cancelled a statement for running or waiting on a lock too long."""
    return sqlstate(exc) in _TIMEOUT_SQLSTATES


@cache
def _unique_fields() -> dict[str, str]:
    """Client-facing field names by unique constraint or index name, read from the models."""
    fields: dict[str, str] = {}
    for table in Base.metadata.tables.values():
        uniques: list[UniqueConstraint | Index] = [
            c for c in table.constraints if isinstance(c, UniqueConstraint)
        ]
        uniques += [index for index in table.indexes if index.unique]
        for unique in uniques:
            if isinstance(unique.name, str):
                fields[unique.name] = ", ".join(column.name for column in unique.columns)
    return fields


def unique_violation_field(exc: BaseException) -> str | None:
    """The field a unique violation is about (`username` for `uq_users_username`), else None.

    A violation of an unnamed or unknown constraint gives "value", never the row's data.
    """
    if sqlstate(exc) != UNIQUE_VIOLATION:
        return None
    return _unique_fields().get(violated_constraint(exc) or "", "value")


def violated_constraint(exc: BaseException) -> str | None:
    """The name of the constraint a statement violated, when the server gave one."""
    if not isinstance(exc, DBAPIError) or exc.orig is None:
        return None
    # asyncpg's own exception (with the constraint name) is the cause of SQLAlchemy's `orig`.
    constraint: str | None = getattr(exc.orig.__cause__, "constraint_name", None)
    return constraint


def is_foreign_key_violation(exc: BaseException, constraint: str | None = None) -> bool:
    """True when a row referred to a parent that does not exist (any more); through the
    foreign key named `constraint`, when given."""
    if sqlstate(exc) != FOREIGN_KEY_VIOLATION:
        return False
    return constraint is None or violated_constraint(exc) == constraint
