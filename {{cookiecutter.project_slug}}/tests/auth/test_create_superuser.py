"""scripts/create-superuser: makes the first superuser, or promotes a user."""

import asyncio

import httpx

from tests.auth.superuser import run_on_terminal, run_script
from tests.conftest import DatabaseServer, uvicorn


async def test_it_creates_then_promotes(server: DatabaseServer) -> None:
    async with server.migrated_database("superuser_{{ cookiecutter.package_name }}") as url:
        status, output = await run_script(
            url, "Root", "--email", "root@example.com", password="a long password"
        )
        assert (status, "created as a superuser" in output) == (0, True), output
        row = "SELECT is_superuser AND is_active FROM users WHERE username = 'Root'"
        assert await server.scalar(url, row) is True

        await server.execute(
            url,
            "INSERT INTO users (username, email, hashed_password)"
            " VALUES ('plain', 'plain@example.com', 'x')",
        )
        status, output = await run_script(url, "PLAIN")
        assert (status, "is now a superuser" in output) == (0, True), output
        promoted = await server.scalar(
            url, "SELECT is_superuser FROM users WHERE username = 'plain'"
        )
        assert promoted is True


async def test_an_unknown_user_needs_an_email_and_a_valid_password(server: DatabaseServer) -> None:
    async with server.migrated_database("superuser_{{ cookiecutter.package_name }}") as url:
        status, output = await run_script(url, "nobody", password="a long password")
        assert status == 1
        assert output.strip() == "create_superuser: no user 'nobody'; --email creates one"

        status, output = await run_script(
            url, "root", "--email", "root@example.com", password="short"
        )
        assert status == 1
        assert output.startswith("create_superuser: password:"), output
        assert await server.scalar(url, "SELECT count(*) FROM users") == 0


async def test_the_superuser_it_makes_logs_in_and_creates_roles(server: DatabaseServer) -> None:
    async with server.migrated_database("superuser_{{ cookiecutter.package_name }}") as url:
        status, output = await run_script(
            url, "root", "--email", "root@example.com", password="a long password"
        )
        assert status == 0, output
        async with uvicorn(url) as base, httpx.AsyncClient(base_url=base) as http:
            login = await http.post(
                "/auth/token", data={"username": "root", "password": "a long password"}
            )
            assert login.status_code == 200, login.text
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            created = await http.post("/roles", json={"name": "staff"}, headers=headers)
            assert created.status_code == 201, created.text


async def test_the_password_is_asked_for_twice_without_echo(server: DatabaseServer) -> None:
    async with server.migrated_database("superuser_{{ cookiecutter.package_name }}") as url:
        args = ["typed", "--email", "typed@example.com"]
        password = "typed on a terminal"
        status, shown = await asyncio.to_thread(run_on_terminal, url, args, [password] * 2)

        assert (status, "created as a superuser" in shown) == (0, True), shown
        assert "Password: " in shown
        assert "Password (again): " in shown
        assert password not in shown

        status, shown = await asyncio.to_thread(
            run_on_terminal, url, ["other", "--email", "other@example.com"], ["one", "two"]
        )
        assert status == 1
        assert "the passwords differ" in shown
