"""What a database error means: the server is unreachable, a statement ran out of time,
or a row broke a constraint.

asyncpg's errors reach SQLAlchemy in several shapes: connect failures reported by the
server (starting up, too many connections, bad password) as a plain `DBAPIError`, a
refused or timed-out connection or a command timeout as a bare `OSError`/`TimeoutError`.
These functions look at the SQLSTATE and at where an error was raised, not at its class.
"""

from functools import cache
from types import TracebackType

from sqlalchemy import Index, UniqueConstraint
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from .base import Base

# SQLSTATEs meaning "no usable connection"; class 08 (connection exception) as a whole.
_CONNECTION_CLASS = "08"
_CONNECTION_SQLSTATES = frozenset(
    {
        "28000",  # invalid_authorization_specification (pg_hba.conf rejects us)
        "28P01",  # invalid_password
        "53300",  # too_many_connections (also a role's CONNECTION LIMIT)
        "57P01",  # admin_shutdown: the server terminated the connection
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now: starting up or shutting down
    }
)
# A statement cancelled by statement_timeout (57014) or lock_timeout (55P03).
_TIMEOUT_SQLSTATES = frozenset({"57014", "55P03"})
UNIQUE_VIOLATION = "23505"
FOREIGN_KEY_VIOLATION = "23503"


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE the server (or asyncpg) gave for a SQLAlchemy-wrapped error."""
    if not isinstance(exc, DBAPIError):
        return None
    code = getattr(exc.orig, "sqlstate", None)
    return code if isinstance(code, str) else None


def _raised_in_driver(exc: BaseException) -> bool:
    """True when the error was raised while asyncpg was talking to the server."""
    tb: TracebackType | None = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_globals.get("__name__", "").startswith("asyncpg."):
            return True
        tb = tb.tb_next
    return False


def is_connection_error(exc: BaseException) -> bool:
    """True when the database could not be reached, refused us, or stopped answering."""
    if isinstance(exc, PoolTimeoutError):
        return True
    if isinstance(exc, DBAPIError):
        code = sqlstate(exc) or ""
        return (
            exc.connection_invalidated
            or code.startswith(_CONNECTION_CLASS)
            or code in _CONNECTION_SQLSTATES
        )
    # Refused or timed-out connects and command timeouts surface unwrapped; an OSError
    # from anything else (a file, another service) is not the database's.
    return isinstance(exc, OSError) and _raised_in_driver(exc)


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
    assert isinstance(exc, DBAPIError)
    # asyncpg's own exception (with the constraint name) is the cause of SQLAlchemy's `orig`.
    constraint = getattr(exc.orig.__cause__, "constraint_name", None) if exc.orig else None
    return _unique_fields().get(constraint or "", "value")


def is_foreign_key_violation(exc: BaseException) -> bool:
    """True when a row referred to a parent that does not exist (any more)."""
    return sqlstate(exc) == FOREIGN_KEY_VIOLATION
