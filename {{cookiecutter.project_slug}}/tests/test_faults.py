"""Failures answer fast and clearly: every way the database is unreachable, statements
that run out of time, a server that stops answering, races with a delete.

Each test builds an app of its own on settings made for the fault (`fault_client`).
Servers that misbehave on purpose are local sockets: a closed port, a fake server that
answers the startup message with a given SQLSTATE (or never), and a proxy to the real
server that can be frozen like a SIGSTOPped process.
"""

import asyncio
import os
import socket
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import uuid4

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Response
from sqlalchemy import URL, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from {{ cookiecutter.package_name }}.api.deps import SessionDep
from {{ cookiecutter.package_name }}.db.transaction import transactional
from {{ cookiecutter.package_name }}.settings import Settings, to_async_url
from tests.conftest import DatabaseServer, app_for, settings_for
from tests.factories import user_payload

SECRET = "s3cret-pw"
# A server that asks for passwords, for the wrong-password case (see `password_servers`).
PASSWORD_SERVER = os.environ.get("STREAMING_PRIMARY_URL")
# The body of the message a client sends to ask for TLS before its startup message.
SSL_REQUEST = struct.pack("!i", 80877103)
# Long enough for any request here on a slow machine; hanging past it is the failure.
NO_HANG_SECONDS = 30.0
UNAVAILABLE = {"detail": "database unavailable", "code": "database_unavailable"}
TIMED_OUT = {"detail": "database timeout", "code": "database_timeout"}


@asynccontextmanager
async def fault_client(settings: Settings) -> AsyncIterator[AsyncClient]:
    """A client of a new app on `settings`; server errors come back as 500 responses."""
    async with fault_client_of(app_for(settings)) as client:
        yield client


@asynccontextmanager
async def fault_client_of(app: FastAPI) -> AsyncIterator[AsyncClient]:
    """A client of `app`, started; server errors come back as 500 responses."""
    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        yield client


def free_port() -> int:
    """A local port nothing listens on (connections to it are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def error_response(sqlstate: str, message: str) -> bytes:
    """A PostgreSQL protocol ErrorResponse message."""
    fields = f"SFATAL\0VFATAL\0C{sqlstate}\0M{message}\0\0".encode()
    return b"E" + struct.pack("!i", len(fields) + 4) + fields


@asynccontextmanager
async def fake_server(reply: bytes | None) -> AsyncIterator[int]:
    """A local server that answers each startup message with `reply` and hangs up, or,
    with None, never answers (a server that accepts but is stuck)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        (length,) = struct.unpack("!i", await reader.readexactly(4))
        if (await reader.readexactly(length - 4)) == SSL_REQUEST:
            writer.write(b"N")  # no TLS here; the startup message follows
            (length,) = struct.unpack("!i", await reader.readexactly(4))
            await reader.readexactly(length - 4)
        if reply is None:
            await reader.read()  # until the client gives up
        else:
            writer.write(reply)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


class FreezableProxy:
    """Forwards TCP to the real server until frozen; then bytes are held back, as with a
    SIGSTOPped server whose kernel still accepts them."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.thawed = asyncio.Event()
        self.thawed.set()
        self.writers: list[asyncio.StreamWriter] = []

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            await self.thawed.wait()
            writer.write(data)
            await writer.drain()
        writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        self.writers += [writer, upstream_writer]
        await asyncio.gather(
            self._pipe(reader, upstream_writer),
            self._pipe(upstream_reader, writer),
            return_exceptions=True,
        )

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[int]:
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        try:
            yield server.sockets[0].getsockname()[1]
        finally:
            self.thawed.set()
            for writer in self.writers:
                writer.close()
            server.close()


async def assert_unavailable(client: AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    """Reads and writes answer 503 "database unavailable", leaking no credentials."""
    responses = [
        await asyncio.wait_for(request, NO_HANG_SECONDS)
        for request in (
            client.get("/users"),
            client.post("/users", json=user_payload()),
        )
    ]
    for response in responses:
        assert (response.status_code, response.json()) == (503, UNAVAILABLE)
    assert SECRET not in caplog.text


def on_port(database_url: URL, port: int, **settings: Any) -> Settings:
    url = database_url.set(host="127.0.0.1", port=port, username="app", password=SECRET)
    return settings_for(url).model_copy(update=settings)


async def test_a_refused_connection_is_503(
    database_url: URL, caplog: pytest.LogCaptureFixture
) -> None:
    async with fault_client(on_port(database_url, free_port())) as client:
        await assert_unavailable(client, caplog)


async def test_a_server_that_never_answers_is_503_after_the_connect_timeout(
    database_url: URL, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        fake_server(None) as port,
        fault_client(on_port(database_url, port, db_connect_timeout=0.5)) as client,
    ):
        await assert_unavailable(client, caplog)


@pytest.mark.parametrize(
    ("sqlstate", "message"),
    [
        ("57P03", "the database system is starting up"),
        ("57P03", "the database system is shutting down"),
        ("53300", "sorry, too many clients already"),
        ("28P01", "password authentication failed for user"),
        ("08006", "connection failure"),
    ],
)
async def test_a_server_refusing_the_login_is_503(
    database_url: URL, caplog: pytest.LogCaptureFixture, sqlstate: str, message: str
) -> None:
    async with (
        fake_server(error_response(sqlstate, message)) as port,
        fault_client(on_port(database_url, port)) as client,
    ):
        await assert_unavailable(client, caplog)


@asynccontextmanager
async def role_on(server: DatabaseServer, url: URL) -> AsyncIterator[str]:
    """A login role of its own on `server`, dropped afterwards."""
    role = f"fault_{uuid4().hex[:12]}"
    await server.execute(url, f"CREATE ROLE {role} LOGIN PASSWORD 'right-password'")
    try:
        yield role
    finally:
        await server.execute(url, f"DROP ROLE {role}")


@pytest.fixture
async def login_role(server: DatabaseServer, database_url: URL) -> AsyncIterator[str]:
    """A role of its own on the test server, dropped afterwards."""
    async with role_on(server, database_url) as role:
        yield role


async def test_a_role_over_its_connection_limit_is_503(
    server: DatabaseServer,
    database_url: URL,
    login_role: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await server.execute(database_url, f"ALTER ROLE {login_role} CONNECTION LIMIT 0")
    url = database_url.set(username=login_role, password="right-password")

    async with fault_client(settings_for(url)) as client:
        await assert_unavailable(client, caplog)
    assert "right-password" not in caplog.text


async def asks_for_passwords(url: URL) -> bool:
    """Whether the server rejects a wrong password (it may trust local logins)."""
    probe = create_async_engine(url)
    try:
        async with probe.connect():
            return False
    except DBAPIError as error:
        return getattr(error.orig, "sqlstate", None) == "28P01"
    finally:
        await probe.dispose()


@asynccontextmanager
async def password_servers(
    server: DatabaseServer, database_url: URL
) -> AsyncIterator[list[tuple[DatabaseServer, URL]]]:
    """The test server, then the private primary of .ci/streaming-replica when there is
    one (it asks every role but `postgres` for a password, where a development server
    often trusts local logins)."""
    servers = [(server, database_url)]
    if PASSWORD_SERVER is None:
        yield servers
        return
    primary = DatabaseServer(to_async_url(PASSWORD_SERVER))
    try:
        yield [*servers, (primary, primary.url)]
    finally:
        await primary.close()


async def test_a_wrong_password_is_503(
    server: DatabaseServer, database_url: URL, caplog: pytest.LogCaptureFixture
) -> None:
    async with password_servers(server, database_url) as candidates:
        for candidate, url in candidates:
            async with role_on(candidate, url) as role:
                wrong = url.set(username=role, password=SECRET)
                if not await asks_for_passwords(wrong):
                    continue
                async with fault_client(settings_for(wrong)) as client:
                    await assert_unavailable(client, caplog)
                assert role not in caplog.text
                reason = "invalid password (SQLSTATE 28P01, InvalidPasswordError)"
                assert set(unavailable_reasons(caplog)) == {reason}
                return
    pytest.skip(
        "this server trusts every login: set STREAMING_PRIMARY_URL to one that asks for"
        " passwords (.ci/streaming-replica's does); the fake-server case covers 28P01"
    )


# A user name of its own, to look for in the logs.
STRANGER = f"who_{uuid4().hex[:12]}"


def unavailable_reasons(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What each "database unavailable" line logged said was the reason."""
    prefix = "database unavailable: "
    return [
        record.getMessage().removeprefix(prefix)
        for record in caplog.records
        if record.getMessage().startswith(prefix)
    ]


async def assert_logged_reason(
    settings: Settings, caplog: pytest.LogCaptureFixture, reason: str
) -> None:
    """Requests answer 503, and each logs a reason starting with `reason`, never the
    password or the user name."""
    async with fault_client(settings) as client:
        await assert_unavailable(client, caplog)
    reasons = unavailable_reasons(caplog)
    assert len(reasons) == 2
    for logged in reasons:
        assert logged.startswith(reason), logged
    assert SECRET not in caplog.text
    assert STRANGER not in caplog.text


@pytest.mark.parametrize(
    ("sqlstate", "message", "reason"),
    [
        ("28P01", "password authentication failed for user", "invalid password"),
        ("53300", "sorry, too many clients already", "too many connections"),
        ("3D000", "database does not exist", "database missing"),
        ("57P03", "the database system is starting up", "server starting up or shutting down"),
        ("08006", "connection failure", "connection failure"),
    ],
)
async def test_a_refused_login_logs_its_sqlstate_and_reason(
    database_url: URL, caplog: pytest.LogCaptureFixture, sqlstate: str, message: str, reason: str
) -> None:
    async with fake_server(error_response(sqlstate, f"{message} {STRANGER}")) as port:
        url = database_url.set(host="127.0.0.1", port=port, username=STRANGER, password=SECRET)
        await assert_logged_reason(settings_for(url), caplog, f"{reason} (SQLSTATE {sqlstate}, ")


async def test_a_closed_port_logs_refused(
    database_url: URL, caplog: pytest.LogCaptureFixture
) -> None:
    url = database_url.set(host="127.0.0.1", port=free_port(), username=STRANGER, password=SECRET)
    reason = "refused (ConnectionRefusedError, ECONNREFUSED)"
    await assert_logged_reason(settings_for(url), caplog, reason)


async def test_a_server_that_never_answers_logs_a_timeout(
    database_url: URL, caplog: pytest.LogCaptureFixture
) -> None:
    async with fake_server(None) as port:
        url = database_url.set(host="127.0.0.1", port=port, username=STRANGER, password=SECRET)
        settings = settings_for(url).model_copy(update={"db_connect_timeout": 0.5})
        await assert_logged_reason(settings, caplog, "timeout (TimeoutError)")


async def test_a_missing_database_is_503_and_logged_as_missing(
    database_url: URL, caplog: pytest.LogCaptureFixture
) -> None:
    url = database_url.set(database=f"gone_{uuid4().hex[:12]}", password=SECRET)
    reason = "database missing (SQLSTATE 3D000, InvalidCatalogNameError)"
    await assert_logged_reason(settings_for(url), caplog, reason)


async def test_a_role_over_its_connection_limit_logs_too_many_connections(
    server: DatabaseServer, database_url: URL, caplog: pytest.LogCaptureFixture
) -> None:
    await server.execute(database_url, f"CREATE ROLE {STRANGER} LOGIN CONNECTION LIMIT 0")
    try:
        url = database_url.set(username=STRANGER, password=SECRET)
        reason = "too many connections (SQLSTATE 53300, TooManyConnectionsError)"
        await assert_logged_reason(settings_for(url), caplog, reason)
    finally:
        await server.execute(database_url, f"DROP ROLE {STRANGER}")


async def test_an_exhausted_pool_is_503_after_the_pool_timeout(
    database_url: URL, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(database_url).model_copy(
        update={"db_pool_size": 1, "db_max_overflow": 0, "db_pool_timeout": 0.2}
    )
    app = app_for(settings)
    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=transport, base_url="http://test") as client,
        app.state.database.engines["primary"].connect(),
    ):
        response = await client.get("/users")
        # Readiness has connections of its own: a busy pool is not a dead database.
        ready = await client.get("/health/ready")

    assert (response.status_code, response.json()) == (503, UNAVAILABLE)
    assert ready.status_code == 200


async def test_a_frozen_server_is_503_instead_of_a_hang(
    database_url: URL, caplog: pytest.LogCaptureFixture
) -> None:
    assert database_url.host is not None
    proxy = FreezableProxy(database_url.host, database_url.port or 5432)
    async with proxy.serving() as port:
        url = database_url.set(host="127.0.0.1", port=port)
        settings = settings_for(url).model_copy(update={"db_statement_timeout": 0.5})
        async with fault_client(settings) as client:
            assert (await client.get("/users")).status_code == 200
            proxy.thawed.clear()

            response = await asyncio.wait_for(client.get("/users"), NO_HANG_SECONDS)

    assert (response.status_code, response.json()) == (503, UNAVAILABLE)


@asynccontextmanager
async def users_table_locked(engine: AsyncEngine) -> AsyncIterator[None]:
    """Another transaction holds an exclusive lock on `users` while the block runs."""
    async with engine.connect() as connection, connection.begin():
        await connection.execute(text("LOCK TABLE users IN ACCESS EXCLUSIVE MODE"))
        yield


@pytest.mark.parametrize(
    "timeouts",
    [
        {"db_statement_timeout": 0.5, "db_lock_timeout": 0},
        {"db_statement_timeout": 20, "db_lock_timeout": 0.2},
    ],
    ids=["statement_timeout", "lock_timeout"],
)
async def test_a_statement_waiting_past_its_timeout_is_503(
    database_url: URL, engine: AsyncEngine, timeouts: dict[str, float]
) -> None:
    settings = settings_for(database_url).model_copy(update=timeouts)
    async with fault_client(settings) as client, users_table_locked(engine):
        response = await asyncio.wait_for(client.get("/users"), NO_HANG_SECONDS)

    assert (response.status_code, response.json()) == (503, TIMED_OUT)


async def test_timeouts_and_application_name_reach_the_server(database_url: URL) -> None:
    settings = settings_for(database_url).model_copy(
        update={
            "db_statement_timeout": 12,
            "db_lock_timeout": 3,
            "db_idle_in_transaction_timeout": 45,
        }
    )
    app = app_for(settings)
    async with (
        app.router.lifespan_context(app),
        app.state.database.engines["primary"].connect() as connection,
    ):
        shown = await connection.execute(
            text(
                "SELECT current_setting('statement_timeout'), current_setting('lock_timeout'),"
                " current_setting('idle_in_transaction_session_timeout'),"
                " current_setting('application_name')"
            )
        )
        row = tuple(shown.one())

    assert row == ("12s", "3s", "45s", "{{ cookiecutter.package_name }}:primary")


def raises(error: Exception) -> Any:
    async def endpoint() -> None:
        raise error

    return endpoint


@pytest.mark.parametrize(
    "error", [OSError("disk full"), TimeoutError("other service"), ConnectionRefusedError()]
)
async def test_an_os_error_outside_the_database_is_500(
    settings: Settings, error: Exception
) -> None:
    app = app_for(settings)
    app.add_api_route("/fails", raises(error))
    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        response = await client.get("/fails")

    assert response.status_code == 500


async def test_a_constraint_violation_other_than_unique_is_a_500_without_details(
    client: AsyncClient, app: FastAPI, session: AsyncSession, caplog: pytest.LogCaptureFixture
) -> None:
    await session.execute(
        text("ALTER TABLE users ADD CONSTRAINT ck_users_test CHECK (username <> 'forbidden')")
    )
    payload = user_payload(username="forbidden")

    response: Response = await client.post(app.url_path_for("create_user"), json=payload)

    assert (response.status_code, response.json()) == (
        500,
        {"detail": "internal server error", "code": "internal_error"},
    )
    assert "CheckViolation" in caplog.text or "23514" in caplog.text
    assert payload["email"] not in caplog.text
    assert "$argon2" not in caplog.text


async def test_a_unique_violation_names_the_field(client: AsyncClient, app: FastAPI) -> None:
    first = user_payload()
    assert (await client.post(app.url_path_for("create_user"), json=first)).status_code == 201

    same_email = await client.post(
        app.url_path_for("create_user"), json=user_payload(email=first["email"])
    )
    same_name = await client.post(
        app.url_path_for("create_user"), json=user_payload(username=first["username"])
    )

    assert (same_email.status_code, same_email.json()) == (
        409,
        {"detail": "email already exists", "code": "email_taken"},
    )
    assert (same_name.status_code, same_name.json()) == (
        409,
        {"detail": "username already exists", "code": "username_taken"},
    )


@asynccontextmanager
async def committed_users(engine: AsyncEngine, *names: str) -> AsyncIterator[list[int]]:
    """Users of these names committed for real (other connections see them), their ids in
    order; tables emptied afterwards."""
    async with engine.begin() as connection:
        rows = await connection.execute(
            text(
                "INSERT INTO users (username, email, hashed_password)"
                " SELECT name, name || '@example.com', 'x'"
                " FROM unnest(CAST(:names AS text[])) AS name RETURNING id"
            ),
            {"names": list(names)},
        )
        ids = list(rows.scalars())
    try:
        yield ids
    finally:
        async with engine.begin() as connection:
            await connection.execute(text("TRUNCATE users, roles CASCADE"))


@pytest.fixture
async def committed_user(engine: AsyncEngine) -> AsyncIterator[int]:
    """A user committed for real; tables emptied afterwards."""
    async with committed_users(engine, "racer") as (user_id,):
        yield user_id


async def wait_for_lock_wait(engine: AsyncEngine, request: asyncio.Task[Response]) -> None:
    """Until the request waits on a row lock (or has already finished)."""
    while not request.done():
        async with engine.connect() as connection:
            waiting = await connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
        if waiting:
            return
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("attach", ["post", "role"])
async def test_nothing_attaches_to_a_user_deleted_meanwhile(
    app: FastAPI, engine: AsyncEngine, committed_user: int, attach: str
) -> None:
    async with engine.begin() as connection:
        await connection.execute(text("INSERT INTO roles (name) VALUES ('racing')"))
    if attach == "post":
        method, path, body = "POST", f"/users/{committed_user}/posts", {"title": "t", "body": "b"}
    else:
        method, path, body = "PUT", f"/users/{committed_user}/roles/racing", None
    # No dependency override: the app's own sessions, real commits.
    client = AsyncClient(transport=ASGITransport(app=app), base_url="http://test")

    async with client, engine.connect() as deleter:
        await deleter.begin()
        await deleter.execute(
{% if cookiecutter.use_soft_delete %}
            text("UPDATE users SET is_deleted = true, deleted_at = now() WHERE id = :id"),
{% else %}
            text("DELETE FROM users WHERE id = :id"),
{% endif %}
            {"id": committed_user},
        )
        request = asyncio.create_task(client.request(method, path, json=body))
        await wait_for_lock_wait(engine, request)
        await deleter.commit()
        response = await asyncio.wait_for(request, NO_HANG_SECONDS)

    assert response.status_code == 404
    async with engine.connect() as connection:
        attached = await connection.scalar(
            text(
                "SELECT (SELECT count(*) FROM posts WHERE author_id = :id)"
                " + (SELECT count(*) FROM user_roles WHERE user_id = :id)"
            ),
            {"id": committed_user},
        )
    assert attached == 0


async def test_bulk_max_users_is_a_setting(database_url: URL) -> None:
    settings = settings_for(database_url).model_copy(update={"bulk_max_users": 2})
    async with fault_client(settings) as client:
        response = await client.post("/users/bulk", json=[user_payload() for _ in range(3)])

    assert response.status_code == 422
    assert "at most 2 items" in response.text


async def test_backends_terminated_under_writes_are_never_a_500(server: DatabaseServer) -> None:
    """Connections killed at any moment (a primary restart, an operator's
    pg_terminate_backend): before the commit a write is a 503, after it the write's own
    answer; never a 500, and the work after a commit never fails the request."""
    async with server.migrated_database("killed_{{ cookiecutter.package_name }}") as url:
        settings = settings_for(url).model_copy(update={"db_pool_size": 4})
        admin_engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
        stop = asyncio.Event()

        async def terminate_backends() -> None:
            async with admin_engine.connect() as admin:
                while not stop.is_set():
                    await admin.execute(
                        text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                            " WHERE datname = :database AND pid <> pg_backend_pid()"
                        ),
                        {"database": url.database},
                    )
                    await asyncio.sleep(0.02)

        async with fault_client(settings) as client:
            created = await client.post("/users", json=user_payload())
            assert created.status_code == 201
            user_id = created.json()["id"]
            killer = asyncio.create_task(terminate_backends())
            statuses: list[int] = []
            try:
                for round_ in range(40):
                    answers = await asyncio.gather(
                        client.patch(f"/users/{user_id}", json={"bio": f"round {round_}"}),
                        client.post("/users", json=user_payload()),
                        client.get(f"/users/{user_id}"),
                    )
                    statuses += [answer.status_code for answer in answers]
            finally:
                stop.set()
                await killer
        await admin_engine.dispose()

    assert 500 not in statuses
    assert set(statuses) <= {200, 201, 503}


@pytest.fixture
async def committed_pair(engine: AsyncEngine) -> AsyncIterator[tuple[int, int]]:
    """Users alice and bob, committed for real; tables emptied afterwards."""
    async with committed_users(engine, "alice", "bob") as (alice, bob):
        yield alice, bob


async def test_a_rename_aborted_by_a_deadlock_runs_again(
    app: FastAPI, engine: AsyncEngine, committed_pair: tuple[int, int]
) -> None:
    """Two renames in opposite orders (alice to bob's name while bob is renamed): the
    server aborts one transaction to break the deadlock, and that one is run again."""
    alice, bob = committed_pair
    rename = "UPDATE users SET username = :name WHERE id = :id"
    client = AsyncClient(transport=ASGITransport(app=app), base_url="http://test")

    async with client, engine.connect() as other:
        await other.begin()
        # The other transaction waits long before looking for deadlocks: the app's
        # transaction (1 s, the default) finds the deadlock and is the one aborted.
        await other.execute(text("SET LOCAL deadlock_timeout = '30s'"))
        await other.execute(text(rename), {"name": "bob-old", "id": bob})
        # Waits for the other transaction: "bob" may still come back if it rolls back.
        request = asyncio.create_task(client.patch(f"/users/{alice}", json={"username": "bob"}))
        await wait_for_lock_wait(engine, request)
        # And now the other way round: a deadlock, until the app's transaction gives way.
        await other.execute(text(rename), {"name": "alice-old", "id": alice})
        await other.commit()
        response = await asyncio.wait_for(request, NO_HANG_SECONDS)

    assert response.status_code == 200, response.text
    assert response.json()["username"] == "bob"


DO_CONFLICT = "DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '{}'; END $$"


class ConflictingWork:
    """A unit of work the server aborts every time, as a deadlock or serialization failure."""

    def __init__(self, session: AsyncSession, sqlstate: str) -> None:
        self.session = session
        self.sqlstate = sqlstate
        self.runs = 0

    @transactional
    async def write(self) -> None:
        self.runs += 1
        await self.session.execute(text(DO_CONFLICT.format(self.sqlstate)))


@pytest.mark.parametrize("sqlstate", ["40P01", "40001"])
@pytest.mark.parametrize(("read_before", "runs"), [(False, 2), (True, 1)])
async def test_a_conflict_that_persists_is_a_503_a_client_may_retry(
    settings: Settings, sqlstate: str, read_before: bool, runs: int
) -> None:
    """Run again once, only when the unit began the transaction (what it read before in
    the same transaction would not be read again); then 503 `database_conflict`."""
    seen: list[int] = []

    async def endpoint(session: SessionDep) -> None:
        if read_before:
            await session.execute(text("SELECT 1"))
        work = ConflictingWork(session, sqlstate)
        try:
            await work.write()
        finally:
            seen.append(work.runs)

    app = app_for(settings)
    app.add_api_route("/conflicts", endpoint, methods=["POST"])
    async with fault_client_of(app) as client:
        response = await client.post("/conflicts")

    assert (response.status_code, response.json()) == (
        503,
        {"detail": "database conflict, try again", "code": "database_conflict"},
    )
    assert response.headers["Retry-After"] == "1"
    assert seen == [runs]


async def test_readiness_stays_ok_while_the_server_refuses_new_connections(
    server: DatabaseServer, database_url: URL, login_role: str
) -> None:
    """A server at its connection limit refuses readiness its own new connection, while
    the request pool's warm connection serves: the instance stays in the load balancer."""
    url = database_url.set(username=login_role, password="right-password")
    app = app_for(settings_for(url).model_copy(update={"db_pool_size": 1}))
    async with fault_client_of(app) as client:
        primary = app.state.database.engines["primary"]
        async with primary.connect() as connection:  # a warm connection, back in the pool
            await connection.execute(text("SELECT 1"))
        await server.execute(database_url, f"ALTER ROLE {login_role} CONNECTION LIMIT 1")
        # The check connection is gone (a check that timed out drops it): readiness needs
        # a new one, which the server now refuses.
        await app.state.database.checks["primary"].engine.dispose()

        ready = await client.get("/health/ready")

    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["primary"] == "ok"
