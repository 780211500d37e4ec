"""What a database error means for the caller: unreachable, timed out, or a conflict."""

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError


def is_connection_error(exc: BaseException) -> bool:
    """True when the server could not be reached or the connection was lost."""
    if isinstance(exc, DBAPIError):
        sqlstate = getattr(exc.orig, "sqlstate", None) or ""
        return (
            exc.connection_invalidated
            or isinstance(exc, OperationalError | InterfaceError)
            or sqlstate.startswith("08")
            or sqlstate in {"57P01", "57P02", "57P03", "53300", "28P01"}
        )
    return isinstance(exc, OSError | TimeoutError | PoolTimeoutError)
