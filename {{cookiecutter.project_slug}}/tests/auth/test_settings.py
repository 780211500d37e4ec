"""AUTH_SECRET_KEY: required to serve, at least 32 characters; refused in one line."""

import pytest
from pydantic import ValidationError

from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.settings import Settings, SettingsError
from tests.test_settings import settings_error


async def test_the_app_refuses_to_start_without_a_secret_key(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    monkeypatch.delenv("AUTH_SECRET_KEY", raising=False)
    app = create_app(settings.model_copy(update={"auth_secret_key": None}))

    with pytest.raises(SettingsError) as error:
        async with app.router.lifespan_context(app):
            pass

    message = str(error.value)
    assert "\\n" not in message
    assert message.startswith("invalid settings: AUTH_SECRET_KEY: required")


def test_a_short_secret_key_is_refused_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH_SECRET_KEY", "too-short")
    message = settings_error()

    expected = "AUTH_SECRET_KEY: must be at least 32 characters (`openssl rand -hex 32`)"
    assert message == f"invalid settings: {expected}"
    assert "too-short" not in message


def test_a_short_previous_key_is_refused_too() -> None:
    with pytest.raises(ValidationError):
        Settings(auth_previous_secret_keys="x" * 40 + ",short")


def test_the_token_lifetime_defaults_to_15_minutes() -> None:
    assert Settings().auth_token_ttl_seconds == 900


def test_migrations_and_scripts_do_not_need_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTH_SECRET_KEY", raising=False)
    assert Settings().auth_secret_key is None
