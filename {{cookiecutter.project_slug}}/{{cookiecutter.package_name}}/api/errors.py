"""Map domain errors and database failures to JSON error responses."""

import logging
import traceback

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from ..db.errors import is_connection_error, is_statement_timeout, sqlstate
from ..db.transaction import domain_error
from ..errors import ConflictError, DomainError, NotFoundError
from ..schemas.common import ErrorResponse

logger = logging.getLogger(__name__)

_STATUS_BY_ERROR: dict[type[DomainError], int] = {
    NotFoundError: status.HTTP_404_NOT_FOUND,
    ConflictError: status.HTTP_409_CONFLICT,
}

DATABASE_UNAVAILABLE = "database unavailable"
DATABASE_TIMEOUT = "database timeout"
INTERNAL_ERROR = "internal server error"

# Documented on every route that touches the database.
DATABASE_ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    status.HTTP_503_SERVICE_UNAVAILABLE: {
        "model": ErrorResponse,
        "description": "Database unavailable, or a statement ran out of time",
    },
}


def error_responses(*codes: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI entries for the given error statuses, all shaped like `ErrorResponse`."""
    return {code: {"model": ErrorResponse} for code in codes}


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return JSONResponse({"detail": exc.detail}, status_code=_STATUS_BY_ERROR[type(exc)])


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # FastAPI echoes each rejected input; that could be a password, so it is left out.
    errors = [{k: v for k, v in error.items() if k != "input"} for error in exc.errors()]
    return JSONResponse(
        {"detail": jsonable_encoder(errors)}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT
    )


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    if is_connection_error(exc):
        # The class name only: driver messages can carry host names and user names.
        logger.error("database unavailable: %s", type(exc).__name__)
        return _error(status.HTTP_503_SERVICE_UNAVAILABLE, DATABASE_UNAVAILABLE)
    if is_statement_timeout(exc):
        logger.error("database timeout: SQLSTATE %s", sqlstate(exc))
        return _error(status.HTTP_503_SERVICE_UNAVAILABLE, DATABASE_TIMEOUT)
    if isinstance(exc, IntegrityError) and (domain := domain_error(exc)) is not None:
        return await _domain_error(request, domain)
    if not isinstance(exc, DBAPIError):
        raise exc
    # The statement and where it failed, but not the message or parameters: they can
    # hold the row's values (a password hash, an email).
    logger.error(
        "database error %s (SQLSTATE %s) in %r\n%s",
        type(exc).__name__,
        sqlstate(exc),
        exc.statement,
        "".join(traceback.format_tb(exc.__traceback__)),
    )
    return _error(status.HTTP_500_INTERNAL_SERVER_ERROR, INTERNAL_ERROR)


async def _driver_os_error(request: Request, exc: Exception) -> JSONResponse:
    if not is_connection_error(exc):
        # Not the database's (a file, another service): the default 500 handling.
        raise exc
    return await _database_error(request, exc)


def _error(status_code: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status_code)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    for error_type in _STATUS_BY_ERROR:
        app.add_exception_handler(error_type, _domain_error)
    app.add_exception_handler(SQLAlchemyError, _database_error)
    app.add_exception_handler(OSError, _driver_os_error)
