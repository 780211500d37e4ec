"""OpenTelemetry spans: a request's server span, its SQL spans, and its log lines."""

import io
from collections.abc import AsyncIterator, Iterator

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import URL

from {{ cookiecutter.package_name }}.logs import (
    REQUEST_ID_HEADER,
    LogSettings,
    configure_logging,
    read_log_settings,
)
from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.tracing import ROLE_ATTRIBUTE, add_trace_ids
from tests.conftest import free_port, settings_for
from tests.test_logs import APP_LOGGERS, json_lines


@pytest.fixture(scope="session")
def exporter() -> InMemorySpanExporter:
    """Spans kept in memory; the provider is the process's (it can be set only once)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return exporter


@pytest.fixture
async def traced_client(
    exporter: InMemorySpanExporter, database_url: URL
) -> AsyncIterator[AsyncClient]:
    """A client of an app built after the provider was installed, on its own pool."""
    app = create_app(settings_for(database_url))
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client,
    ):
        exporter.clear()
        yield client


def children(spans: tuple[ReadableSpan, ...], parent: ReadableSpan) -> list[ReadableSpan]:
    assert parent.context is not None
    return [s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id]


async def test_a_request_gives_a_server_span_with_database_children(
    traced_client: AsyncClient, exporter: InMemorySpanExporter
) -> None:
    response = await traced_client.get("/users/999999", headers={REQUEST_ID_HEADER: "trace-1"})

    assert response.status_code == 404
    spans = exporter.get_finished_spans()
    [server] = [span for span in spans if span.kind == SpanKind.SERVER]
    assert server.attributes is not None
    assert server.attributes["http.route"] == "/users/{user_id:int}"
    assert server.attributes["http.response.header.x_request_id"] == ("trace-1",)
    queries = [
        span
        for span in children(spans, server)
        if span.kind == SpanKind.CLIENT and span.attributes and "SELECT" in span.name
    ]
    assert queries
    assert all(span.attributes and span.attributes[ROLE_ATTRIBUTE] for span in queries)
    # Work beside the requests (the cache guard's Redis commands) starts traces of its own.
    request_spans = [span for span in spans if span.parent is not None or span is server]
    assert {span.context.trace_id for span in request_spans if span.context} == {
        server.context.trace_id
    }


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    configure_logging(LogSettings(log_format="json"), processors=[add_trace_ids], stream=buffer)
    yield buffer
    configure_logging(read_log_settings(), processors=[add_trace_ids])


@pytest.fixture
async def traced_app_without_database(
    exporter: InMemorySpanExporter, database_url: URL
) -> AsyncIterator[FastAPI]:
    """A traced app whose database refuses connections: each request logs an error."""
    app = create_app(settings_for(database_url.set(port=free_port())))
    async with app.router.lifespan_context(app):
        yield app


async def test_log_lines_of_a_traced_request_carry_its_trace_id(
    traced_app_without_database: FastAPI,
    json_logs: io.StringIO,
    exporter: InMemorySpanExporter,
) -> None:
    exporter.clear()
    transport = ASGITransport(app=traced_app_without_database)
    async with AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/users/1", headers={REQUEST_ID_HEADER: "trace-2"})

    assert response.status_code == 503

    [server] = [span for span in exporter.get_finished_spans() if span.kind == SpanKind.SERVER]
    assert server.context is not None
    lines = [
        line for line in json_lines(json_logs.getvalue()) if line["logger"].startswith(APP_LOGGERS)
    ]
    assert [line["request_id"] for line in lines] == ["trace-2"]
    assert {line["trace_id"] for line in lines} == {format(server.context.trace_id, "032x")}
