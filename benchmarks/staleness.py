"""How long a reader can see a user's old state after a write, on a lagging standby.

Run from a generated project (replica and cache switches on) with its virtualenv:

    STREAMING_PRIMARY_URL=postgresql://postgres@127.0.0.1:55433/postgres \\
    STREAMING_LAGGING_REPLICA_URL=postgresql://postgres@127.0.0.1:55435/postgres \\
    .venv/bin/python /path/to/template/benchmarks/staleness.py --package my_service

Each cycle creates a user, reads it (filling the cache), updates it, then reads it every
20 ms without a token until the new value is seen and stays for one more second (or
`--give-up` seconds pass). It prints the longest time the old value was served after the
update, next to how long the standby took to replay the update (the lag). A second
measurement times `GET /users/{id}/details` with and without a token that the standby
has already replayed (the cost of the token check), interleaved.
"""

import argparse
import asyncio
import importlib
import os
import statistics
import time
from typing import Any
from uuid import uuid4

from httpx import ASGITransport, AsyncClient
from pydantic import SecretStr
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

TOKEN_HEADER = "X-Consistency-Token"
POLL_SECONDS = 0.02


def parse_position(token: str) -> int:
    high, low = token.split("/")
    return (int(high, 16) << 32) | int(low, 16)


async def replay_seconds(standby: Any, token: str, started: float, give_up: float) -> float:
    """Seconds from `started` until the standby replayed `token`'s position."""
    position = parse_position(token)
    query = text("SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')::int8")
    while time.monotonic() - started < give_up:
        async with standby.connect() as connection:
            if (await connection.scalar(query) or 0) >= position:
                return time.monotonic() - started
        await asyncio.sleep(POLL_SECONDS)
    return float("inf")


async def cycle(client: AsyncClient, standby: Any, give_up: float) -> tuple[float, float]:
    created = await client.post(
        "/users",
        json={
            "username": f"s{uuid4().hex[:12]}",
            "email": f"s{uuid4().hex[:12]}@example.com",
            "password": "staleness check",
            "full_name": "Before",
        },
    )
    path = f"/users/{created.json()['id']}"
    if TOKEN_HEADER in created.headers:
        await replay_seconds(standby, created.headers[TOKEN_HEADER], time.monotonic(), give_up)
    else:
        await asyncio.sleep(give_up)
    await client.get(path)
    await client.get(path)

    patched = await client.patch(path, json={"full_name": "After"})
    written = time.monotonic()
    lag_task = (
        asyncio.create_task(
            replay_seconds(standby, patched.headers[TOKEN_HEADER], written, give_up)
        )
        if TOKEN_HEADER in patched.headers
        else None
    )
    last_stale = 0.0
    fresh_since: float | None = None
    while time.monotonic() - written < give_up:
        response = await client.get(path)
        now = time.monotonic() - written
        if response.status_code == 200 and response.json()["full_name"] == "Before":
            last_stale, fresh_since = now, None
        elif fresh_since is None:
            fresh_since = now
        elif now - fresh_since > 1.0:
            break
        await asyncio.sleep(POLL_SECONDS)
    else:
        last_stale = float("inf")
    lag = await lag_task if lag_task is not None else float("nan")
    return last_stale, lag


async def token_cost(client: AsyncClient, rounds: int) -> tuple[float, float]:
    created = await client.post(
        "/users",
        json={
            "username": f"t{uuid4().hex[:12]}",
            "email": f"t{uuid4().hex[:12]}@example.com",
            "password": "staleness check",
        },
    )
    # The oldest possible token: every standby has replayed it, so it costs only the check.
    headers = {TOKEN_HEADER: "0/1"}
    path = f"/users/{created.json()['id']}/details"
    await asyncio.sleep(5)
    plain: list[float] = []
    tokened: list[float] = []
    for _ in range(rounds):
        for target, extra in ((plain, {}), (tokened, headers)):
            started = time.perf_counter()
            await client.get(path, headers=extra)
            target.append(time.perf_counter() - started)
    return statistics.median(plain), statistics.median(tokened)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", required=True, help="the generated project's package")
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--give-up", type=float, default=15.0)
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    main_module = importlib.import_module(f"{args.package}.main")
    settings_module = importlib.import_module(f"{args.package}.settings")
    conftest = importlib.import_module("tests.conftest")

    primary = settings_module.to_async_url(os.environ["STREAMING_PRIMARY_URL"])
    lagging = make_url(os.environ["STREAMING_LAGGING_REPLICA_URL"])
    server = conftest.DatabaseServer(primary)
    async with server.migrated_database("staleness") as url:
        standby_url = settings_module.to_async_url(str(lagging.set(database=url.database)))
        settings = conftest.settings_for(url).model_copy(
            update={"replica_database_url": SecretStr(standby_url.render_as_string(False))}
        )
        standby = create_async_engine(standby_url)
        app = main_module.create_app(settings)
        async with (
            app.router.lifespan_context(app),
            AsyncClient(transport=ASGITransport(app=app), base_url="http://bench") as client,
        ):
            await asyncio.sleep(6)  # the standby replays the new database
            results = [await cycle(client, standby, args.give_up) for _ in range(args.cycles)]
            plain, tokened = await token_cost(client, args.rounds)
        await standby.dispose()
    await server.close()

    stale = [result[0] for result in results]
    lags = [result[1] for result in results]
    print(f"cycles: {args.cycles}")
    print(
        f"old value served after the update, longest: {max(stale):.2f} s"
        f" (median {statistics.median(stale):.2f} s)"
    )
    print(
        f"standby replay of the update (the lag), longest: {max(lags):.2f} s"
        f" (median {statistics.median(lags):.2f} s)"
    )
    print(
        f"GET details without a token: {plain * 1000:.2f} ms, with a replayed token:"
        f" {tokened * 1000:.2f} ms (ratio {tokened / plain:.2f})"
    )


if __name__ == "__main__":
    asyncio.run(main())
