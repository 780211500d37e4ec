"""Single requests while bulk sign-ups hash passwords: latency under load vs idle.

    python -m scripts.hashing_benchmark [--samples N] [--bulk-requests N]

Creates a scratch database on the server DATABASE_URL names, runs the app in-process
(httpx ASGITransport, one event loop as in one uvicorn worker) with production password
hashing settings, and measures a single POST /users and GET /users?limit=10 first idle, then
while `--bulk-requests` concurrent POST /users/bulk of BULK_MAX_USERS users each keep
running. Prints medians, p99s and the loaded/idle ratios; drops the database.
"""

import argparse
import asyncio
import statistics
import time
from itertools import count

from httpx import ASGITransport, AsyncClient

from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.settings import Settings
from tests.conftest import DatabaseServer

_names = count(1)


def new_user() -> dict[str, str]:
    n = next(_names)
    return {"username": f"hash{n}", "email": f"hash{n}@example.com", "password": "benchmark pw"}


def p99(times: list[float]) -> float:
    return statistics.quantiles(times, n=100)[98] if len(times) > 1 else times[0]


async def sample(client: AsyncClient, samples: int) -> tuple[list[float], list[float]]:
    """Seconds per POST /users and per GET /users (a page of 10), one request at a time."""
    posts: list[float] = []
    gets: list[float] = []
    for _ in range(samples):
        start = time.perf_counter()
        response = await client.post("/users", json=new_user())
        posts.append(time.perf_counter() - start)
        assert response.status_code == 201, response.text
        for _ in range(10):
            start = time.perf_counter()
            response = await client.get("/users", params={"limit": 10})
            gets.append(time.perf_counter() - start)
            assert response.status_code == 200, response.text
    return posts, gets


async def keep_bulk_running(client: AsyncClient, size: int, done: asyncio.Event) -> int:
    """POST /users/bulk of `size` users until `done`; returns how many requests finished."""
    finished = 0
    while not done.is_set():
        response = await client.post("/users/bulk", json=[new_user() for _ in range(size)])
        assert response.status_code == 201, response.text
        finished += 1
    return finished


def line(name: str, idle: list[float], loaded: list[float], measure: str) -> None:
    pick = statistics.median if measure == "median" else p99
    idle_ms, loaded_ms = pick(idle) * 1000, pick(loaded) * 1000
    print(
        f"  {name:<18} {measure:<6} idle {idle_ms:8.1f} ms   loaded {loaded_ms:8.1f} ms"
        f"   ratio {loaded_ms / idle_ms:5.2f}x"
    )


async def run(samples: int, bulk_requests: int) -> None:
    base = Settings()
    server = DatabaseServer(base.primary_url)
    try:
        async with server.migrated_database("bench_{{ cookiecutter.package_name }}") as url:
            settings = Settings(
                database_url=url.render_as_string(hide_password=False), async_database_url=None
            )
            app = create_app(settings)
            transport = ASGITransport(app=app)
            async with (
                app.router.lifespan_context(app),
                AsyncClient(transport=transport, base_url="http://bench", timeout=600) as client,
            ):
                await sample(client, 3)  # warm the pool and the code paths
                idle_posts, idle_gets = await sample(client, samples)

                done = asyncio.Event()
                size = settings.bulk_max_users
                bulks = [
                    asyncio.create_task(keep_bulk_running(client, size, done))
                    for _ in range(bulk_requests)
                ]
                await asyncio.sleep(0.5)  # let the batches start hashing
                loaded_posts, loaded_gets = await sample(client, samples)
                done.set()
                finished = sum(await asyncio.gather(*bulks))
    finally:
        await server.close()

    print(
        f"{samples} x POST /users and {samples * 10} x GET /users, idle and under"
        f" {bulk_requests} concurrent POST /users/bulk of {size} users"
        f" ({finished} bulk requests finished; argon2 t={settings.password_hash_time_cost},"
        f" m={settings.password_hash_memory_cost} KiB, {settings.password_hash_workers} threads)"
    )
    line("POST /users", idle_posts, loaded_posts, "median")
    line("POST /users", idle_posts, loaded_posts, "p99")
    line("GET /users", idle_gets, loaded_gets, "median")
    line("GET /users", idle_gets, loaded_gets, "p99")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--bulk-requests", type=int, default=4)
    arguments = parser.parse_args()
    asyncio.run(run(arguments.samples, arguments.bulk_requests))


if __name__ == "__main__":
    main()
