"""Settings: URL derivation, secrets that never show."""

import pytest
from pydantic import ValidationError

from {{ cookiecutter.package_name }}.db.engine import connect_args
from {{ cookiecutter.package_name }}.settings import Settings, SettingsError, get_settings


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


@pytest.mark.parametrize(("name", "value"), [("db_pool_size", 0), ("db_ssl_mode", "sometimes")])
def test_out_of_range_settings_are_rejected(name: str, value: object) -> None:
    with pytest.raises(ValidationError, match=name):
        Settings.model_validate({name: value})


def test_ssl_mode_reaches_the_driver() -> None:
    assert connect_args(Settings(db_ssl_mode="require"), role="primary")["ssl"] == "require"


def test_bad_environment_gives_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://app:topsecret@host/db")
    monkeypatch.setenv("DB_POOL_SIZE", "none")
    get_settings.cache_clear()
    try:
        with pytest.raises(SettingsError) as error:
            get_settings()
    finally:
        get_settings.cache_clear()

    message = str(error.value)
    assert "\n" not in message
    assert "DATABASE_URL: scheme 'mysql' is not a PostgreSQL scheme" in message
    assert "DB_POOL_SIZE" in message
    assert "topsecret" not in message
