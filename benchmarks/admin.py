"""Database and Redis chores of the benchmark, run with a baked project's Python
(which has asyncpg and redis); the driver itself needs neither.

    python admin.py sql URL STATEMENT      prints the first column of the first row, if any
    python admin.py clear-redis URL PREFIX deletes every key that starts with PREFIX
"""

import asyncio
import sys


async def sql(url: str, statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(url, ssl=False)
    try:
        value = await connection.fetchval(statement)
    finally:
        await connection.close()
    if value is not None:
        print(value)


async def clear_redis(url: str, prefix: str) -> None:
    from redis.asyncio import Redis

    redis = Redis.from_url(url)
    try:
        # Plain, or as a hash tag's start (the cache's keys since REDIS_CLUSTER).
        for pattern in (f"{prefix}*", f"{{{prefix}*"):
            keys = [key async for key in redis.scan_iter(match=pattern, count=1000)]
            if keys:
                await redis.delete(*keys)
    finally:
        await redis.aclose()


COMMANDS = {"sql": sql, "clear-redis": clear_redis}

if __name__ == "__main__":
    command, *arguments = sys.argv[1:]
    asyncio.run(COMMANDS[command](*arguments))
