"""Logging for the whole process (the app, SQLAlchemy, uvicorn) and the request id.

Every line carries its time, level, logger and the id of the request it belongs to
(`X-Request-ID`, taken from the client when well-formed, else generated, and echoed in
the response). The app's code keeps using `logging.getLogger(__name__)`; structlog only
formats the records.
"""

import logging
import re
import sys
from collections.abc import Sequence
from typing import Literal, TextIO

import structlog
from asgi_correlation_id import CorrelationIdMiddleware, correlation_id
from fastapi import FastAPI
from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from structlog.typing import EventDict, Processor, WrappedLogger

from .settings import SettingsError, describe

REQUEST_ID_HEADER = "X-Request-ID"
# What a proxy or client may send: a UUID, nginx's $request_id, a short token. Anything
# else (spaces, quotes, control characters, 200 characters) is replaced by a new id.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:+/=-]{1,128}")
# uvicorn installs handlers of its own on these; ours replace them.
_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
# Libraries that log routine steps at INFO: Alembic its plugin setup (7 lines at every
# start of anything that imports it), httpx every request it sends. WARNING unless
# LOG_LEVEL=DEBUG.
_CHATTY_LOGGERS = ("alembic.runtime.plugins", "httpx")


class LogSettings(BaseSettings):
    """LOG_LEVEL and LOG_FORMAT, read apart from the rest so logging is set up first."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # The lowest level written, for the app and the libraries alike.
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    # json: one JSON object a line, for a log shipper; console: aligned text for people.
    log_format: Literal["json", "console"] = "console"


def read_log_settings() -> LogSettings:
    try:
        return LogSettings()
    except ValidationError as error:
        raise SettingsError(describe(error)) from None


def is_valid_request_id(value: str) -> bool:
    return _REQUEST_ID.fullmatch(value) is not None


def add_request_id(_logger: WrappedLogger, _method: str, event: EventDict) -> EventDict:
    event["request_id"] = correlation_id.get()
    return event


def _formatter(log_format: str, processors: Sequence[Processor], colors: bool) -> logging.Formatter:
    renderer: Processor
    if log_format == "json":
        renderer = structlog.processors.JSONRenderer()
        # Tracebacks as data, without each frame's local variables (structlog's
        # `dict_tracebacks` shows them: passwords, tokens, rows).
        tracebacks = structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
        processors = [*processors, structlog.processors.ExceptionRenderer(tracebacks)]
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=colors)
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            add_request_id,
            *processors,
        ],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )


class _Handler(logging.StreamHandler[TextIO]):
    """Marks the handler this module installs, so configuring again replaces it."""


def configure_logging(
    settings: LogSettings, processors: Sequence[Processor] = (), stream: TextIO | None = None
) -> None:
    """Send every logger's records to stderr (or `stream`) in one format; `processors` add
    fields to each line."""
    stream = stream or sys.stderr
    handler = _Handler(stream)
    handler.setFormatter(_formatter(settings.log_format, processors, colors=stream.isatty()))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    for name in _CHATTY_LOGGERS:
        level = logging.DEBUG if settings.log_level == "DEBUG" else logging.WARNING
        logging.getLogger(name).setLevel(level)
    for name in _UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True


def add_request_ids(app: FastAPI) -> None:
    """Take or make each request's id and echo it in the response's `X-Request-ID`."""
    app.add_middleware(
        CorrelationIdMiddleware, header_name=REQUEST_ID_HEADER, validator=is_valid_request_id
    )
