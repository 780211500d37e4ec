"""The contract over real HTTP: uvicorn serving the app on a database of its own."""

import asyncio
import json
import re
import shlex
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
import pytest

{% if cookiecutter.use_auth %}
from tests.auth.superuser import SUPERUSER, SUPERUSER_PASSWORD, make_superuser
{% endif %}
from tests.conftest import PROJECT_ROOT, DatabaseServer, uvicorn
from tests.factories import user_payload


@asynccontextmanager
async def served(
    server: DatabaseServer, name: str, env: dict[str, str] | None = None
) -> AsyncIterator[str]:
    """uvicorn (scripts/serve) on a new database of its own; yields its base URL."""
    async with (
        server.migrated_database(f"{name}_{{ cookiecutter.package_name }}") as url,
        uvicorn(url, env=env) as base,
    ):
{% if cookiecutter.use_auth %}
        # The README's superuser (its walkthrough logs in as it).
        await make_superuser(url)
{% endif %}
        yield base


@pytest.fixture(scope="module")
async def base_url(server: DatabaseServer) -> AsyncIterator[str]:
    async with served(server, "server") as base:
        yield base


async def test_every_contract_row_over_http(base_url: str) -> None:
    await check_contract(base_url)


# Body limits of the server below.
BODY_LIMIT_ENV = {"MAX_REQUEST_BODY_BYTES": "1000", "REQUEST_BODY_TIMEOUT_SECONDS": "0.5"}
# Long enough for any answer on a slow machine; waiting past it is the failure.
NO_HANG_SECONDS = 10.0


@pytest.fixture(scope="module")
async def limited_base_url(server: DatabaseServer) -> AsyncIterator[str]:
    async with served(server, "bodies", BODY_LIMIT_ENV) as base:
        yield base


async def raw_exchange(base_url: str, request: bytes) -> bytes:
    """Sends `request` as is over a new connection; what the server sends until it closes it."""
    address = urlsplit(base_url)
    assert address.hostname is not None
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), NO_HANG_SECONDS)
    finally:
        writer.close()


def post_head(headers: str) -> bytes:
    head = f"POST /users HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n{headers}"
    return f"{head}\r\n".encode()


@pytest.mark.parametrize(
    ("request_bytes", "status", "code"),
    [
        # A declared length over the limit: refused before any byte of the body is sent.
        (post_head("Content-Length: 5000\r\n"), 413, "content_too_large"),
        # Chunks past the limit, the body never finished.
        (
            post_head("Transfer-Encoding: chunked\r\n") + (b"258\r\n" + b" " * 600 + b"\r\n") * 2,
            413,
            "content_too_large",
        ),
        # Part of the declared body, then nothing.
        (post_head("Content-Length: 100\r\n") + b'{"username": ', 408, "request_timeout"),
    ],
    ids=["declared-too-large", "chunked-too-large", "stalled"],
)
async def test_refused_bodies_are_answered_and_the_connection_closed(
    limited_base_url: str, request_bytes: bytes, status: int, code: str
) -> None:
    started = time.monotonic()
    response = await raw_exchange(limited_base_url, request_bytes)

    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status} ".encode()), response
    assert b"connection: close" in head.lower()
    assert f'"code":"{code}"'.encode() in body
    assert time.monotonic() - started < NO_HANG_SECONDS / 2


async def check_contract(base_url: str) -> int:
    """Every row of the API contract, in order, on a fresh database; returns the number
    of requests made."""
    made = 0
    async with httpx.AsyncClient(base_url=base_url) as http:

        async def call(
            method: str,
            path: str,
            expected: int,
            body: object = None,
            headers: dict[str, str] | None = None,
        ) -> object:
            nonlocal made
            response = await http.request(method, path, json=body, headers=headers)
            made += 1
            assert response.status_code == expected, (method, path, response.text)
            if expected == 201 and path != "/users/bulk":
                located = await http.get(response.headers["location"])
                assert located.json()["id"] == response.json()["id"], (method, path)
            if expected >= 400:
                assert set(response.json()) == {"detail", "code"}, (method, path)
            return response.json() if response.content else None

        health = await call("GET", "/health", 200)
        assert isinstance(health, dict)
        assert health["status"] == "ok"
        assert set(health["checks"].values()) == {"ok"}
        alice = user_payload()
        user = await call("POST", "/users", 201, alice)
        assert isinstance(user, dict)
        uid = user["id"]
{% if cookiecutter.use_auth %}
        # Writes need a token: alice's for her own user, the superuser's for the rest.
        owner = await bearer(http, alice["username"], alice["password"])
        admin = await bearer(http, SUPERUSER, SUPERUSER_PASSWORD)
        await call("PATCH", f"/users/{uid}", 401, {"bio": "x"})
        # The superuser counts among the users.
        others = 1
{% else %}
        owner: dict[str, str] = {}
        admin = owner
        others = 0
{% endif %}
        await call("POST", "/users", 409, alice)
        await call("POST", "/users", 422, user_payload(password="short"))
        bulk = await call("POST", "/users/bulk", 201, [user_payload(), user_payload()])
        assert isinstance(bulk, list)
        assert len(bulk) == 2
        await call("POST", "/users/bulk", 409, [user_payload(), alice])
        await call("POST", "/users/bulk", 422, [])
        await call(
            "POST",
            "/users/with-profile",
            201,
            {"user": user_payload(), "profile": {"location": "Rome"}},
        )
        await call("POST", "/users/with-profile", 409, {"user": alice, "profile": {}})
        await call("POST", "/users/with-profile", 422, {"user": user_payload()})
        listed = await call("GET", "/users?skip=0&limit=2", 200)
        assert isinstance(listed, list)
        assert [u["id"] for u in listed] == sorted(u["id"] for u in listed)
        await call("GET", "/users?limit=101", 422)
        found = await call("GET", f"/users/search?q={alice['username'].upper()}", 200)
        assert isinstance(found, list)
        assert [u["id"] for u in found] == [uid]
        await call("GET", "/users/search?q=", 422)
        assert await call("GET", "/users/stats", 200) == {
            "total_users": 4 + others,
            "active_users": 4 + others,
            "new_users_30d": 4 + others,
        }
        post = await call(
            "POST", f"/users/{uid}/posts", 201, {"title": "Hi", "body": "there"}, owner
        )
        assert isinstance(post, dict)
        await call("POST", "/users/999999/posts", 404, {"title": "Hi", "body": "there"}, admin)
        await call("POST", f"/users/{uid}/posts", 422, {"title": ""}, owner)
        assert await call("GET", f"/users/{uid}/posts?limit=1", 200) == [post]
        await call("GET", "/users/999999/posts", 404)
        await call("GET", f"/users/{uid}/posts?limit=0", 422)
        assert await call("GET", f"/users/{uid}/posts/{post['id']}", 200) == post
        await call("GET", f"/users/{bulk[0]['id']}/posts/{post['id']}", 404)
        counts = await call("GET", "/users/post-counts", 200)
        assert isinstance(counts, list)
        # By id: the superuser, with authentication, comes first.
        assert counts[others] == {
            "id": uid,
            "username": alice["username"],
            "email": alice["email"],
            "post_count": 1,
        }
        await call("GET", f"/users/{uid}", 200)
        await call("GET", "/users/999999", 404)
        role = await call("POST", "/roles", 201, {"name": "admin"}, admin)
        await call("POST", "/roles", 409, {"name": "admin"}, admin)
        assert await call("GET", "/roles", 200) == [role]
        await call("GET", "/roles?after=-1", 422)
        assert await call("GET", "/roles/admin", 200) == role
        await call("GET", "/roles/nobody", 404)
        await call("PUT", f"/users/{uid}/roles/admin", 204, headers=admin)
        await call("PUT", "/users/999999/roles/admin", 404, headers=admin)
        members = await call("GET", "/roles/admin/users", 200)
        assert isinstance(members, list)
        assert [u["id"] for u in members] == [uid]
        await call("GET", "/roles/nobody/users", 404)
        await call("PUT", f"/users/{bulk[0]['id']}/roles/admin", 204, headers=admin)
        await call("DELETE", f"/users/{bulk[0]['id']}/roles/admin", 204, headers=admin)
        await call("DELETE", f"/users/{bulk[0]['id']}/roles/admin", 204, headers=admin)
        await call("DELETE", "/users/999999/roles/admin", 404, headers=admin)
        await call("DELETE", f"/users/{uid}/roles/nobody", 404, headers=admin)
        await call("GET", "/no/such/path", 404)
        await call("DELETE", "/roles", 405)
        details = await call("GET", f"/users/{uid}/details", 200)
        assert isinstance(details, dict)
        assert [r["name"] for r in details["roles"]] == ["admin"]
        assert len(details["posts"]) == 1
        await call("GET", "/users/999999/details", 404)
        patched = await call("PATCH", f"/users/{uid}", 200, {"full_name": "Alice A."}, owner)
        assert isinstance(patched, dict)
        assert patched["full_name"] == "Alice A."
        await call("PATCH", f"/users/{uid}", 409, {"username": bulk[0]["username"]}, owner)
        await call("PATCH", f"/users/{uid}", 422, {"email": "nope"}, owner)
        await call("PATCH", "/users/999999", 404, {"bio": "x"}, admin)
        await call("DELETE", f"/users/{uid}", 204, headers=owner)
        await call("DELETE", f"/users/{uid}", 404, headers=admin)
        await call("GET", f"/users/{uid}", 404)
{% if cookiecutter.use_soft_delete %}
        await call("POST", f"/users/{uid}/restore", 200, headers=admin)
        await call("GET", f"/users/{uid}", 200)
        await call("POST", "/users/999999/restore", 404, headers=admin)
        await call("DELETE", f"/users/{uid}", 204, headers=admin)
        await call("POST", "/users", 201, alice)
        await call("POST", f"/users/{uid}/restore", 409, headers=admin)
{% endif %}
        # Sent twice with one key (through PgBouncer, perhaps to two workers): one post.
        author = bulk[1]["id"]
        key = {**admin, "Idempotency-Key": f"contract-{author}"}
        twice = {"title": "Sent twice", "body": "written once"}
        sent = [await http.post(f"/users/{author}/posts", json=twice, headers=key) for _ in "12"]
        made += 2
        assert [r.status_code for r in sent] == [201, 201], sent[1].text
        assert sent[1].headers["idempotent-replayed"] == "true"
        assert sent[1].json() == sent[0].json()
        listed = await call("GET", f"/users/{author}/posts", 200)
        assert isinstance(listed, list)
        assert len(listed) == 1

        spec = await call("GET", "/openapi.json", 200)
        assert isinstance(spec, dict)
        assert set(spec["paths"]["/users/{user_id}"]["patch"]["responses"]) >= {
            "200",
            "404",
            "409",
            "422",
            "503",
        }
    return made


{% if cookiecutter.use_auth %}
async def bearer(http: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    """Headers with the token `POST /auth/token` gives for these credentials."""
    response = await http.post("/auth/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


{% endif %}
# A curl line of the README, or `NAME=$(curl ... | jq -r .access_token)`, which keeps the
# token it answers for the lines that send "Authorization: Bearer $NAME".
CURL_LINE = re.compile(
    r"^(?:(?P<name>[A-Z_]+)=\$\()?(?P<curl>curl -.*?)(?: \| jq -r \.access_token\))?$",
    re.MULTILINE,
)


@dataclass
class CurlRequest:
    method: str
    url: str
    json: object = None
    form: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


def readme_curls() -> list[tuple[str | None, list[str]]]:
    """The curl lines of the README's quick start, split as a shell splits them, each with
    the name of the variable its token goes to, if any."""
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    quick_start = readme[readme.index("## Quick start") : readme.index("## Running without Docker")]
    return [(m["name"], shlex.split(m["curl"])) for m in CURL_LINE.finditer(quick_start)]


def as_request(words: list[str], base_url: str, tokens: dict[str, str]) -> CurlRequest:
    """The request one curl command line makes, with `$NAME`s from `tokens`."""
    request = CurlRequest(method="", url="")
    rest = iter(words[1:])
    for word in rest:
        if word == "-X":
            request.method = next(rest)
        elif word == "-d":
            data = next(rest)
            if data.startswith(("{", "[")):
                request.json = json.loads(data)
            else:
                field_name, _, value = data.partition("=")
                request.form[field_name] = value
        elif word == "-H":
            name, _, value = next(rest).partition(": ")
            if name == "Authorization":
                for variable, token in tokens.items():
                    value = value.replace(f"${variable}", token)
                request.headers[name] = value
        elif word.startswith("localhost:8000"):
            request.url = base_url + word.removeprefix("localhost:8000")
    has_body = request.json is not None or request.form
    request.method = request.method or ("POST" if has_body else "GET")
    return request


@pytest.fixture(scope="module")
async def fresh_base_url(server: DatabaseServer) -> AsyncIterator[str]:
    async with served(server, "walkthrough") as base:
        yield base


async def test_the_readmes_curl_walkthrough_runs_as_written(fresh_base_url: str) -> None:
    curls = readme_curls()
    assert len(curls) >= 8
    tokens: dict[str, str] = {}
    async with httpx.AsyncClient() as http:
        for keeps, words in curls:
            request = as_request(words, fresh_base_url, tokens)
            response = await http.request(
                request.method,
                request.url,
                json=request.json,
                data=request.form or None,
                headers=request.headers,
            )
            assert response.is_success, (words, response.status_code, response.text)
            if keeps is not None:
                tokens[keeps] = response.json()["access_token"]
