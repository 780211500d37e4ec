"""Side-by-side timings of the service's database paths, on a scratch database.

    python -m scripts.benchmark [--rounds N] [--batch N]

Creates a database on the server DATABASE_URL names, migrates it, runs the variants of
each comparison interleaved in one process (so a noisy machine affects both alike),
prints mean times and their ratio, and drops the database. Requests go through the app
in-process (httpx ASGITransport): no network, no uvicorn. Password hashing is set to
its cheapest so that the database work is what gets measured.
"""

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from itertools import count

from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.settings import Settings
from tests.conftest import DatabaseServer, settings_for

_names = count(1)


def users(n: int) -> list[dict[str, str]]:
    return [
        {"username": f"bench{i}", "email": f"bench{i}@example.com", "password": "benchmark pw"}
        for i in (next(_names) for _ in range(n))
    ]


async def compare(
    rounds: int, first: Callable[[], Awaitable[object]], second: Callable[[], Awaitable[object]]
) -> tuple[list[float], list[float]]:
    """Seconds per call of each, the two interleaved so that both see the same machine."""
    first_times: list[float] = []
    second_times: list[float] = []
    for _ in range(rounds):
        for action, times in ((first, first_times), (second, second_times)):
            start = time.perf_counter()
            await action()
            times.append(time.perf_counter() - start)
    return first_times, second_times


def report(title: str, a_name: str, a: list[float], b_name: str, b: list[float]) -> None:
    a_mean, b_mean = statistics.mean(a), statistics.mean(b)
    print(f"{title}")
    print(f"  {a_name:<32} {a_mean * 1000:9.2f} ms  (median {statistics.median(a) * 1000:.2f})")
    print(f"  {b_name:<32} {b_mean * 1000:9.2f} ms  (median {statistics.median(b) * 1000:.2f})")
    print(f"  ratio {b_name} / {a_name}: {b_mean / a_mean:.1f}x")


async def measure(app: FastAPI, client: AsyncClient, rounds: int, batch: int) -> None:
    async def bulk() -> None:
        response = await client.post("/users/bulk", json=users(batch))
        assert response.status_code == 201, response.text

    async def one_by_one() -> None:
        for user in users(batch):
            response = await client.post("/users", json=user)
            assert response.status_code == 201, response.text

    bulk_times, single_times = await compare(rounds, bulk, one_by_one)
    report(
        f"creating {batch} users ({rounds} rounds)",
        "POST /users/bulk (one INSERT)",
        bulk_times,
        f"{batch} x POST /users",
        single_times,
    )
{% if cookiecutter.use_cache %}

    user_id = (await client.post("/users", json=users(1)[0])).json()["id"]
    cache = app.state.user_cache
    path = f"/users/{user_id}"

    async def hit() -> None:
        response = await client.get(path)
        assert response.headers["X-Cache"] == "hit"

    async def miss() -> None:
        await cache.redis.delete(cache.key(user_id))
        response = await client.get(path)
        assert response.headers["X-Cache"] == "miss"

    await client.get(path)
    hits, misses = await compare(rounds * 50, hit, miss)
    report(
        f"GET /users/<id> ({rounds * 50} of each; a miss includes its DEL)",
        "cache hit (Redis)",
        hits,
        "cache miss (PostgreSQL + SET)",
        misses,
    )
    await cache.redis.delete(cache.key(user_id))
{% endif %}


async def run(rounds: int, batch: int) -> None:
    server = DatabaseServer(Settings().primary_url)
    try:
        async with server.migrated_database("bench_{{ cookiecutter.package_name }}") as url:
            app = create_app(settings_for(url))
            transport = ASGITransport(app=app)
            async with (
                app.router.lifespan_context(app),
                AsyncClient(transport=transport, base_url="http://bench") as client,
            ):
                await measure(app, client, rounds, batch)
    finally:
        await server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=100)
    arguments = parser.parse_args()
    asyncio.run(run(arguments.rounds, arguments.batch))


if __name__ == "__main__":
    main()
