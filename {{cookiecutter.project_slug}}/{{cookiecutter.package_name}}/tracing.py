"""OpenTelemetry traces over OTLP: a span per request, SQL statement{% if cookiecutter.use_cache %} and Redis command{% endif %}.

Configured only by the standard variables: OTEL_EXPORTER_OTLP_ENDPOINT (unset: no
tracing at all, nothing is instrumented), OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES,
OTEL_TRACES_SAMPLER, OTEL_EXPORTER_OTLP_HEADERS, ... A tracer provider installed
beforehand (the tests', or `opentelemetry-instrument`'s) is used as it is.
"""

from __future__ import annotations

import os
import sys
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

from fastapi import FastAPI
from opentelemetry import trace
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from structlog.typing import EventDict, WrappedLogger

from .db.session import Database
from .feature import Feature
from .logs import REQUEST_ID_HEADER
from .settings import Settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

ROLE_ATTRIBUTE = "db.client.role"
_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
# The SQLAlchemy instrumentation's tracer: its spans are the statements.
_SQL_SCOPE = "opentelemetry.instrumentation.sqlalchemy"
# The role of the engine whose statement starts next, set just before its span starts.
_statement_role: ContextVar[str | None] = ContextVar("statement_role", default=None)
# Providers that already label SQL spans with the role.
_labelling: weakref.WeakSet[TracerProvider] = weakref.WeakSet()


# The SDK, the exporter and the instrumentations are imported only when tracing is on:
# they were about 7% of the app's import time (a slower start, more memory) for nothing.


def _provider_installed() -> bool:
    # An SDK provider can only exist once something imported the SDK.
    sdk = sys.modules.get("opentelemetry.sdk.trace")
    return sdk is not None and isinstance(trace.get_tracer_provider(), sdk.TracerProvider)


def tracing_enabled() -> bool:
    """Whether spans are recorded: an OTLP endpoint is set, or a provider was installed."""
    if _provider_installed():
        return True
    if not any(os.environ.get(name) for name in _ENDPOINT_VARIABLES):
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # The exporter and the provider's resource read the other OTEL_* variables.
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return True


def instrument_app(app: FastAPI) -> None:
    """A server span per request, carrying the request id."""
    if not tracing_enabled():
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
{% if cookiecutter.use_cache %}
    from opentelemetry.instrumentation.redis import RedisInstrumentor
{% endif %}

    FastAPIInstrumentor.instrument_app(
        app,
        # The id the response echoes, whether the client sent it or it was generated.
        http_capture_headers_server_response=[REQUEST_ID_HEADER],
        exclude_spans=["receive", "send"],
    )
{% if cookiecutter.use_cache %}
    # Patches the Redis client classes once for the whole process.
    redis = RedisInstrumentor()
    if not redis.is_instrumented_by_opentelemetry:
        redis.instrument()
{% endif %}


def instrument_engines(engines: dict[str, AsyncEngine]) -> None:
    """A client span per SQL statement, with the engine's role (primary, replica, ...)."""
    if not tracing_enabled():
        return
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
    from opentelemetry.sdk.trace import TracerProvider

    # The instrumentation has no hook for attributes of its own: the role is noted just
    # before its listener starts the span (listeners run in the order they were added),
    # and a span processor copies it onto the span as the span starts.
    for role, engine in engines.items():
        event.listen(engine.sync_engine, "before_cursor_execute", _role_marker(role))
    # The instrumentor is one per process and instruments only once: the engines of the
    # app that started last are the traced ones (a process serves one app; tests, several).
    instrumentor = SQLAlchemyInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()
    # It declares support for SQLAlchemy < 2.1 only, but works with 2.1.
    instrumentor.instrument(
        engines=[engine.sync_engine for engine in engines.values()], skip_dep_check=True
    )
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider) and provider not in _labelling:
        provider.add_span_processor(_role_labeller())
        _labelling.add(provider)


def _role_marker(role: str) -> Callable[..., None]:
    def mark(*_: object) -> None:
        _statement_role.set(role)

    return mark


def _role_labeller() -> SpanProcessor:
    from opentelemetry.sdk.trace import Span, SpanProcessor

    class RoleLabeller(SpanProcessor):
        """Puts `ROLE_ATTRIBUTE` on the SQL spans as they start."""

        def on_start(self, span: Span, parent_context: object = None) -> None:
            role = _statement_role.get()
            scope = span.instrumentation_scope
            if role is not None and scope is not None and scope.name == _SQL_SCOPE:
                span.set_attribute(ROLE_ATTRIBUTE, role)

    return RoleLabeller()


def add_trace_ids(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """Log processor: the trace and span ids of the current span, when there is one."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict["trace_id"] = format(context.trace_id, "032x")
        event_dict["span_id"] = format(context.span_id, "016x")
    return event_dict


@asynccontextmanager
async def serve(_app: FastAPI, database: Database, _settings: Settings) -> AsyncIterator[None]:
    """While the app serves: a span per statement on its engines."""
    instrument_engines(database.engines)
    yield


FEATURE = Feature("tracing", install=instrument_app, serve=serve, log_processors=[add_trace_ids])
