"""Settings: URL derivation, secrets that never show."""

import logging
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import URL, event, insert, text

from {{ cookiecutter.package_name }}.db.engine import connect_args, create_engine
from {{ cookiecutter.package_name }}.models import User
from {{ cookiecutter.package_name }}.settings import Settings, SettingsError, get_settings
from tests.conftest import settings_for
from tests.factories import UNUSABLE_HASH


def settings_error() -> str:
    """The one-line error reading the settings from the environment gives."""
    get_settings.cache_clear()
    try:
        with pytest.raises(SettingsError) as error:
            get_settings()
    finally:
        get_settings.cache_clear()
    return str(error.value)


@pytest.mark.parametrize(
    "raw",
    [
        "postgres://app:pw@db.example:5433/shop",
        "postgresql://app:pw@db.example:5433/shop",
        "postgresql+asyncpg://app:pw@db.example:5433/shop",
    ],
)
def test_database_url_becomes_an_asyncpg_url(raw: str) -> None:
    url = Settings(database_url=raw).primary_url

    assert url.drivername == "postgresql+asyncpg"
    assert (url.username, url.password, url.host, url.port, url.database) == (
        "app",
        "pw",
        "db.example",
        5433,
        "shop",
    )


@pytest.mark.parametrize(
    "raw",
    [
        "postgresql://app:pw@h1:5432,h2:5433/shop?target_session_attrs=read-write",
        "postgresql://app:pw@/shop?host=h1:5432&host=h2:5433&target_session_attrs=read-write",
    ],
    ids=["libpq", "sqlalchemy"],
)
def test_several_hosts_are_accepted_in_either_form(raw: str) -> None:
    url = Settings(database_url=raw).primary_url

    assert url.drivername == "postgresql+asyncpg"
    assert (url.username, url.password, url.database) == ("app", "pw", "shop")
    assert url.query["host"] == ("h1:5432", "h2:5433")
    assert url.query["target_session_attrs"] == "read-write"


@pytest.mark.parametrize(
    ("raw", "hosts"),
    [
        # No port, or some without: the driver needs one for each.
        ("postgresql://app@h1,h2/shop", ("h1:5432", "h2:5432")),
        ("postgresql://app@/shop?host=h1&host=h2:5433", ("h1:5432", "h2:5433")),
        # No database name, parameters right after the hosts.
        ("postgresql://app@h1:5432,h2:5433?sslmode=disable", ("h1:5432", "h2:5433")),
    ],
)
def test_hosts_without_ports_get_postgresqls(raw: str, hosts: tuple[str, ...]) -> None:
    url = Settings(database_url=raw).primary_url

    assert url.query["host"] == hosts


def test_a_password_holding_commas_and_slashes_stays_the_password() -> None:
    url = Settings(database_url="postgresql://app:top,secret/x@h1/db").primary_url

    assert (url.password, url.host, url.database) == ("top,secret/x", "h1", "db")


def test_a_primary_with_several_hosts_is_the_read_write_one() -> None:
    listed = Settings(database_url="postgresql://app@h1,h2/shop").primary_url
    single = Settings(database_url="postgresql://app@h1/shop").primary_url

    assert listed.query["target_session_attrs"] == "read-write"
    assert "target_session_attrs" not in single.query


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("postgresql://app:topsecret@h1:5432,h2:port/db", "host 2 of the list is not a host"),
        ("postgresql://app:topsecret@/db?host=h1:99999&host=h2", "host 1 of the list is not"),
        ("postgresql://app:topsecret@[::1]:5432,[::2]/db", "IPv6 addresses cannot be listed"),
    ],
)
def test_a_bad_host_in_a_list_is_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, raw: str, message: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", raw)
    error = settings_error()

    assert message in error
    assert "\n" not in error
    assert "topsecret" not in error


def test_async_database_url_overrides_database_url() -> None:
    settings = Settings(
        database_url="postgresql://a@one/db", async_database_url="postgresql+asyncpg://b@two/db"
    )
    assert settings.primary_url.host == "two"


def test_special_characters_in_the_password_survive() -> None:
    settings = Settings(database_url="postgresql://app:p%40ss%2Fw%3Ad@host/db")
    assert settings.primary_url.password == "p@ss/w:d"


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://env:pw@envhost/envdb")
    monkeypatch.setenv("DB_POOL_SIZE", "7")
    monkeypatch.setenv("DB_PGBOUNCER", "true")

    settings = Settings(_env_file=None)

    assert settings.primary_url.host == "envhost"
    assert settings.db_pool_size == 7
    assert connect_args(settings, role="primary")["statement_cache_size"] == 0


@pytest.mark.parametrize(
    "raw", ["mysql://app:topsecret@host/db", "not a url topsecret", "sqlite:///topsecret.db"]
)
def test_non_postgres_url_is_rejected_without_showing_it(raw: str) -> None:
    with pytest.raises(ValidationError) as error:
        Settings(database_url=raw)

    assert "database_url" in str(error.value)
    assert "topsecret" not in str(error.value)


def test_passwords_do_not_show_in_repr_or_url_strings() -> None:
    settings = Settings(database_url="postgresql://app:topsecret@host/db")

    assert "topsecret" not in repr(settings)
    assert "topsecret" not in str(settings.primary_url)
    assert "topsecret" not in str(settings.model_dump())


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("db_pool_size", 0),
        ("db_ssl_mode", "sometimes"),
        ("max_request_body_bytes", 0),
        ("request_body_timeout_seconds", 0),
    ],
)
def test_out_of_range_settings_are_rejected(name: str, value: object) -> None:
    with pytest.raises(ValidationError, match=name):
        Settings.model_validate({name: value})


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ("https://api.example.com", "https://api.example.com"),
        ("https://api.example.com/", "https://api.example.com"),
        ("http://10.0.0.7:8080/my-service/", "http://10.0.0.7:8080/my-service"),
    ],
)
def test_public_base_url_is_kept_without_its_trailing_slash(raw: str, kept: str) -> None:
    assert Settings(public_base_url=raw).public_base_url == kept


@pytest.mark.parametrize(
    "raw",
    [
        "api.example.com",
        "ftp://api.example.com",
        "https://",
        "https://api.example.com/?x=1",
        "https://api.example.com/#top",
        "https://user:topsecret@api.example.com",
        "https://api.example.com:99999",
        "https://bücher.example",
        "https://api.example.com/a b",
    ],
)
def test_a_public_base_url_that_is_not_a_plain_http_url_is_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    monkeypatch.setenv("PUBLIC_BASE_URL", raw)
    message = settings_error()

    assert message.startswith("invalid settings: PUBLIC_BASE_URL: must be an http(s) URL")
    assert "\n" not in message
    assert "topsecret" not in message


def test_ssl_mode_reaches_the_driver() -> None:
    assert connect_args(Settings(db_ssl_mode="require"), role="primary")["ssl"] == "require"


def test_bad_environment_gives_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://app:topsecret@host/db")
    monkeypatch.setenv("DB_POOL_SIZE", "none")
    message = settings_error()

    assert "\n" not in message
    assert "DATABASE_URL: scheme 'mysql' is not a PostgreSQL scheme" in message
    assert "DB_POOL_SIZE" in message
    assert "topsecret" not in message


@pytest.mark.parametrize(
    "query",
    [
        "sslmode=disable",
        "sslmode=prefer",
        "sslmode=allow&target_session_attrs=read-write",
    ],
)
async def test_libpq_url_parameters_are_understood(database_url: URL, query: str) -> None:
    raw = database_url.render_as_string(hide_password=False) + "?" + query
    settings = Settings(database_url=raw)
    engine = create_engine(settings.primary_url, settings, role="primary")
    try:
        async with engine.connect() as connection:
            assert await connection.scalar(text("SELECT 1")) == 1
    finally:
        await engine.dispose()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("channel_binding=require", "URL parameter 'channel_binding' is not supported"),
        ("sslmode=sometimes", "sslmode must be one of"),
        ("connect_timeout=5", "URL parameter 'connect_timeout' is not supported"),
    ],
)
def test_unsupported_url_parameters_are_rejected_in_one_line(
    monkeypatch: pytest.MonkeyPatch, query: str, message: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql://app:topsecret@host/db?{query}")
    error = settings_error()

    assert message in error
    assert "\n" not in error
    assert "topsecret" not in error


async def connect_parameters(settings: Settings) -> dict[str, Any]:
    """The keyword arguments asyncpg.connect receives for the primary engine."""
    engine = create_engine(settings.primary_url, settings, role="primary")
    seen: dict[str, Any] = {}

    def record(dialect: Any, record: Any, cargs: Any, cparams: dict[str, Any]) -> None:
        seen.update(cparams)

    event.listen(engine.sync_engine, "do_connect", record)
    try:
        async with engine.connect():
            pass
    finally:
        await engine.dispose()
    return seen


async def test_tls_is_not_attempted_unless_asked_for(database_url: URL) -> None:
    plain = settings_for(database_url)
    raw = database_url.render_as_string(hide_password=False)
    from_url = Settings(database_url=raw + "?sslmode=prefer&sslrootcert=/etc/ssl/certs/ca.pem")

    assert (await connect_parameters(plain))["ssl"] == "disable"
    sent = await connect_parameters(from_url)
    assert "ssl" not in sent
    assert sent["dsn"] == "postgresql://?sslmode=prefer&sslrootcert=%2Fetc%2Fssl%2Fcerts%2Fca.pem"


@pytest.mark.usefixtures("sqlalchemy_log_levels")
async def test_echo_logs_show_no_parameter_values(
    database_url: URL, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(database_url).model_copy(update={"db_echo": True})
    engine = create_engine(settings.primary_url, settings, role="primary")
    row = {"username": "echoed", "email": "echoed@example.com", "hashed_password": UNUSABLE_HASH}
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    try:
        async with engine.connect() as connection:
            await connection.execute(insert(User).values(**row))
            await connection.rollback()
    finally:
        await engine.dispose()

    assert "INSERT INTO users" in caplog.text
    for value in row.values():
        assert value not in caplog.text
