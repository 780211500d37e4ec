"""Map domain errors and an unreachable database to JSON error responses."""

import logging

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from ..errors import ConflictError, DomainError, NotFoundError
from ..schemas.common import ErrorResponse

logger = logging.getLogger(__name__)

_STATUS_BY_ERROR: dict[type[DomainError], int] = {
    NotFoundError: status.HTTP_404_NOT_FOUND,
    ConflictError: status.HTTP_409_CONFLICT,
}

DATABASE_UNAVAILABLE = "database unavailable"

# Documented on every route that touches the database.
DATABASE_ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    status.HTTP_503_SERVICE_UNAVAILABLE: {"model": ErrorResponse, "description": "Database down"},
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


def is_connection_error(exc: BaseException) -> bool:
    """True when the exception means the server could not be reached or dropped us."""
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)
    return isinstance(exc, OSError | TimeoutError | PoolTimeoutError)


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    if not is_connection_error(exc):
        raise exc
    # The class name only: driver messages can carry host names and user names.
    logger.error("database unavailable: %s", type(exc).__name__)
    return JSONResponse(
        {"detail": DATABASE_UNAVAILABLE}, status_code=status.HTTP_503_SERVICE_UNAVAILABLE
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    for error_type in _STATUS_BY_ERROR:
        app.add_exception_handler(error_type, _domain_error)
    for connection_error in (DBAPIError, OSError, TimeoutError, PoolTimeoutError):
        app.add_exception_handler(connection_error, _database_unavailable)
