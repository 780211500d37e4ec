"""Make a superuser, or promote an existing user to one.

    python -m {{ cookiecutter.package_name }}.auth.create_superuser USERNAME [--email EMAIL]

A user named USERNAME (any letter case) is promoted (and made active); otherwise a new
user is created with `--email` and a password read without echo, or taken from
SUPERUSER_PASSWORD when it is set (CI, scripts). Settings come from the environment and
`.env`, like the app's (DATABASE_URL; AUTH_SECRET_KEY is not needed here).
"""

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from ..db.session import Database
from ..db.transaction import TransactionManager
from ..errors import DomainError
from ..schemas.user import UserCreate
from ..security import PasswordHasher
from ..services.users import UserService
from ..settings import SettingsError, get_settings
from .routes import BY_USERNAME

PASSWORD_VARIABLE = "SUPERUSER_PASSWORD"


def read_password() -> str:
    """SUPERUSER_PASSWORD, else typed twice without echo."""
    password = os.environ.get(PASSWORD_VARIABLE)
    if password:
        return password
    password = getpass.getpass("Password: ")
    if getpass.getpass("Password (again): ") != password:
        raise SystemExit("create_superuser: the passwords differ")
    return password


def new_user(username: str, email: str, password: str) -> UserCreate:
    """The new user's fields, checked as `POST /users` checks them."""
    try:
        return UserCreate(username=username, email=email, password=password)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, item['loc']))}: {item['msg']}" for item in error.errors()
        )
        raise SystemExit(f"create_superuser: {problems}") from None


async def create_superuser(username: str, email: str | None) -> str:
    """Promote or create the user; returns what was done, in one line."""
    settings = get_settings()
    database = Database.from_settings(settings)
    hasher = PasswordHasher.from_settings(settings)
    try:
        async with database.sessionmaker() as session:
            async with TransactionManager(session):
                user = await session.scalar(BY_USERNAME, {"username": username})
                if user is not None:
                    user.is_superuser = True
                    user.is_active = True
            if user is not None:
                return f"{user.username} (id {user.id}) is now a superuser"
            if email is None:
                raise SystemExit(f"create_superuser: no user {username!r}; --email creates one")
            # Read before the transaction opens: none stays open while someone types.
            data = new_user(username, email, read_password())
            try:
                async with TransactionManager(session):
                    user = await UserService(session, hasher).create_user(data)
                    user.is_superuser = True
            except DomainError as error:
                raise SystemExit(f"create_superuser: {error.detail}") from None
            return f"{user.username} (id {user.id}) created as a superuser"
    finally:
        hasher.close()
        await database.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m {{ cookiecutter.package_name }}.auth.create_superuser",
        description="Make a superuser, or promote an existing user to one.",
    )
    parser.add_argument("username")
    parser.add_argument("--email", help="for a new user (required when USERNAME is unknown)")
    args = parser.parse_args(argv)
    try:
        print(asyncio.run(create_superuser(args.username, args.email)))
    except SettingsError as error:
        print(f"create_superuser: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
